"""The topic registry: which messages travel on which Kafka topic, and who may write it.

Keying: **every message is keyed by its envelope's ``csid``** (the Kafka record key is the CSID
as UTF-8 bytes), so all of one customer's messages land on one partition and stay in order.

Per service (``referrals``, ``approvals``, ``notifications``, ``complaints``, ``contacts``,
``casework``):

* ``casemesh.<svc>.commands.v1`` — requests into the service; anyone may write (``writer="any"``).
* ``casemesh.<svc>.events.v1`` — facts the service publishes, including its ``…Rejected``
  refusals; exactly one writer: the service.
* ``casemesh.<svc>.deadletter.v1`` — malformed input the service could not process, as the
  original bytes with :class:`DeadLetterHeader` headers; written by the service.

Plus the downstream channels' topics (``casemesh.notifications.dispatch.<channel>.v1`` written by
notifications, ``casemesh.notifications.receipts.v1`` written by the channels, and
``casemesh.notifications.channel-errors.v1``, where notifications answers a receipt it could not
read, keyed by the receipt's producer and not enveloped, read by the channels), the upstream
customer system's ``casemesh.customers.events.v1``, and ``casemesh.rejections.v1``: every
service's dead-letter path announces there what it dead-lettered, keyed by the envelope's
``producer`` and not enveloped (:mod:`contracts.catalogue.rejections`). Operators' replays,
reveals and purges of dead letters (``casemesh dlq``) are audited on
``casemesh.operations.audit.v1``, written by the ``operator`` principal only, keyed by the service
whose dead letters were acted on and not enveloped (:mod:`contracts.catalogue.operations`).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, reduce
from typing import Annotated, Any, Literal

from pydantic import Field, create_model

from contracts.base import Message
from contracts.catalogue import COMMANDS, EVENTS, channels, customers, operations, rejections
from contracts.envelope import Envelope
from contracts.errors import UnknownMessageType

SERVICES: tuple[str, ...] = ("referrals", "approvals", "notifications", "complaints", "contacts", "casework")
#: Writers that are not Casemesh services.
UPSTREAM = "upstream"
CHANNELS = "channels"
ANY = "any"
#: The writer of the rejections topic: each service's dead-letter path.
EVERY_SERVICE = "services"
#: The writer of the operations audit topic: the people running the mesh (``casemesh dlq``).
OPERATOR = "operator"

CHANNEL_NAMES: tuple[str, ...] = ("sms", "email", "letter", "phone")


class TopicKind(StrEnum):
    COMMANDS = "commands"
    EVENTS = "events"
    DISPATCH = "dispatch"
    RECEIPTS = "receipts"
    DEADLETTER = "deadletter"
    REJECTIONS = "rejections"


class TopicKey(StrEnum):
    """What a topic's record key is."""

    CSID = "csid"  # the envelope's csid: one customer's messages keep their order
    PRODUCER = "producer"  # the producer named in the dead-lettered envelope (rejections)
    SERVICE = "service"  # the service whose dead letters an operator acted on (operations audit)


class DeadLetterHeader(StrEnum):
    """Kafka headers on a dead-lettered record (issue 3, error lane a). Values are UTF-8 strings."""

    ORIGINAL_TOPIC = "x-original-topic"
    ORIGINAL_PARTITION = "x-original-partition"
    ORIGINAL_OFFSET = "x-original-offset"
    ERROR_CLASS = "x-error-class"  # e.g. SchemaViolation
    REASON_CODE = "x-reason-code"  # e.g. a ContractError.reason_code such as schema_violation
    REASON = "x-reason"  # value-free text (never the payload's content)


@dataclass(frozen=True)
class Topic:
    """One Kafka topic: its name, kind, single writer and the messages it carries."""

    name: str
    kind: TopicKind
    writer: str
    messages: tuple[type[Message], ...]
    description: str
    #: What the record key is.
    key: TopicKey = TopicKey.CSID
    #: Whether a record value is an :class:`~contracts.envelope.Envelope` (else the bare message).
    enveloped: bool = True

    def message_class(self, message_type: str) -> type[Message]:
        """The model for ``message_type`` on this topic; raises :class:`UnknownMessageType` if not carried."""
        for cls in self.messages:
            if message_type == cls.MESSAGE_TYPE:
                return cls
        raise UnknownMessageType(message_type, self.name)

    @property
    def message_types(self) -> tuple[str, ...]:
        return tuple(cls.MESSAGE_TYPE for cls in self.messages)

    def union(self) -> Any:
        """A pydantic type for any envelope on this topic, discriminated on ``message_type``.

        Each member is an :class:`~contracts.envelope.Envelope` whose ``message_type`` is a
        ``Literal`` and whose ``payload`` is the message model — for docs and AsyncAPI; the
        runtime path is :func:`contracts.envelope.decode_payload`.
        """
        return _union(self)


def typed_envelope(cls: type[Message]) -> type[Envelope]:
    """The envelope model of one message type (``message_type`` literal, ``payload`` typed)."""
    return _typed_envelope(cls)


@cache
def _typed_envelope(cls: type[Message]) -> type[Envelope]:
    literal: Any = Literal[cls.MESSAGE_TYPE]  # a runtime-built Literal: opaque to the type checker
    model: type[Envelope] = create_model(
        f"{cls.MESSAGE_TYPE}Envelope",
        __base__=Envelope,
        __doc__=f"Envelope carrying a {cls.MESSAGE_TYPE} (schema version {cls.SCHEMA_VERSION}).",
        message_type=(
            literal,
            Field(description="The message type.", examples=[cls.MESSAGE_TYPE]),
        ),
        payload=(cls, Field(description=f"The {cls.MESSAGE_TYPE} payload.")),
    )
    return model


@cache
def _union(topic: Topic) -> Any:
    if not topic.messages:
        raise ValueError(f"{topic.name} carries raw dead-letter records, not envelopes")
    members: list[Any] = (
        [typed_envelope(cls) for cls in topic.messages] if topic.enveloped else list(topic.messages)
    )
    if len(members) == 1:
        return members[0]
    union = reduce(operator.or_, members)
    if not topic.enveloped:
        return union
    return Annotated[union, Field(discriminator="message_type")]


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------


def _check_service(service: str) -> None:
    if service not in SERVICES:
        raise KeyError(f"unknown service {service!r}; expected one of {SERVICES}")


def commands_topic(service: str) -> str:
    _check_service(service)
    return f"casemesh.{service}.commands.v1"


def events_topic(service: str) -> str:
    _check_service(service)
    return f"casemesh.{service}.events.v1"


def deadletter_topic(service: str) -> str:
    _check_service(service)
    return f"casemesh.{service}.deadletter.v1"


def dispatch_topic(channel: str) -> str:
    key = str(channel).lower()
    if key not in CHANNEL_NAMES:
        raise KeyError(f"unknown channel {channel!r}; expected one of {CHANNEL_NAMES}")
    return f"casemesh.notifications.dispatch.{key}.v1"


RECEIPTS_TOPIC = "casemesh.notifications.receipts.v1"
CUSTOMERS_TOPIC = "casemesh.customers.events.v1"
REJECTIONS_TOPIC = "casemesh.rejections.v1"
OPERATIONS_AUDIT_TOPIC = "casemesh.operations.audit.v1"
CHANNEL_ERRORS_TOPIC = "casemesh.notifications.channel-errors.v1"


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


def _build() -> dict[str, Topic]:
    topics: list[Topic] = []
    for svc in SERVICES:
        topics.append(
            Topic(
                name=commands_topic(svc),
                kind=TopicKind.COMMANDS,
                writer=ANY,
                messages=COMMANDS[svc],
                description=f"Commands into the {svc} service (strict; a refusal answers with …Rejected).",
            )
        )
        topics.append(
            Topic(
                name=events_topic(svc),
                kind=TopicKind.EVENTS,
                writer=svc,
                messages=EVENTS[svc],
                description=f"Facts published by the {svc} service, including its business refusals.",
            )
        )
        topics.append(
            Topic(
                name=deadletter_topic(svc),
                kind=TopicKind.DEADLETTER,
                writer=svc,
                messages=(),
                description=(
                    f"Malformed input the {svc} service could not process: the original record's bytes "
                    "with DeadLetterHeader headers (original topic, partition, offset, error class, reason)."
                ),
            )
        )
    topics.extend(
        Topic(
            name=dispatch_topic(channel.value),
            kind=TopicKind.DISPATCH,
            writer="notifications",
            messages=(channels.DISPATCHES[channel],),
            description=f"Rendered items for the downstream {channel.value} channel.",
        )
        for channel in channels.Channel
    )
    topics.append(
        Topic(
            name=RECEIPTS_TOPIC,
            kind=TopicKind.RECEIPTS,
            writer=CHANNELS,
            messages=channels.RECEIPTS,
            description="Delivery receipts and phone-task outcomes reported by the downstream channels.",
        )
    )
    topics.append(
        Topic(
            name=CHANNEL_ERRORS_TOPIC,
            # Issue 18: the channels' own rejections topic — kept as long as the dead letters are.
            kind=TopicKind.REJECTIONS,
            writer="notifications",
            messages=channels.CHANNEL_ERRORS,
            description=(
                "Receipts notifications could not read and dead-lettered, answered to the channel that "
                "sent them: keyed by the producer named in the receipt's envelope (no key when it could "
                "not be read); the value is a bare ReceiptDeadLettered, not an envelope, and carries no "
                "payload values."
            ),
            key=TopicKey.PRODUCER,
            enveloped=False,
        )
    )
    topics.append(
        Topic(
            name=CUSTOMERS_TOPIC,
            kind=TopicKind.EVENTS,
            writer=UPSTREAM,
            messages=customers.EVENTS,
            description="The agency's customer system: registrations, contact details and risk flags.",
        )
    )
    topics.append(
        Topic(
            name=REJECTIONS_TOPIC,
            kind=TopicKind.REJECTIONS,
            writer=EVERY_SERVICE,
            messages=rejections.MESSAGES,
            description=(
                "What each service dead-lettered, announced to the message's producer: keyed by the "
                "producer named in the envelope (no key when it could not be read); the value is a bare "
                "MessageDeadLettered, not an envelope, and carries no payload data."
            ),
            key=TopicKey.PRODUCER,
            enveloped=False,
        )
    )
    topics.append(
        Topic(
            name=OPERATIONS_AUDIT_TOPIC,
            kind=TopicKind.EVENTS,
            writer=OPERATOR,
            messages=operations.MESSAGES,
            description=(
                "What operators did to dead letters (casemesh dlq): every replay, reveal and purge, "
                "keyed by the service whose dead letters they were; the value is a bare event, not an "
                "envelope, and carries no payload data. Kept like every events topic."
            ),
            key=TopicKey.SERVICE,
            enveloped=False,
        )
    )
    return {t.name: t for t in topics}


#: Every topic by name.
TOPICS: dict[str, Topic] = _build()

#: The one topic each message type travels on.
HOME_TOPIC: dict[str, Topic] = {cls.MESSAGE_TYPE: t for t in TOPICS.values() for cls in t.messages}


def topic_of(message: type[Message] | Message | str) -> Topic:
    """The topic a message type travels on."""
    message_type = message if isinstance(message, str) else message.MESSAGE_TYPE
    try:
        return HOME_TOPIC[message_type]
    except KeyError:
        raise UnknownMessageType(message_type, "the catalogue") from None


#: Topics each service consumes (its consumer group reads these), besides nothing else.
READS: Mapping[str, tuple[str, ...]] = {
    # Assignment needs to know the customer (UNKNOWN_CUSTOMER) and whether they are international
    # (seed 000 table 4); CMP/monitoring/transfer outcomes come from approvals.
    "referrals": (commands_topic("referrals"), events_topic("approvals"), CUSTOMERS_TOPIC),
    # Subjects close when the requesting service says so (CloseApprovalSubject), so approvals
    # reads only its commands.
    "approvals": (commands_topic("approvals"),),
    # An approved MSP (approvals), the guard's mobile-number index and risk flags (customers),
    # and the channels' receipts.
    "notifications": (
        commands_topic("notifications"),
        events_topic("approvals"),
        CUSTOMERS_TOPIC,
        RECEIPTS_TOPIC,
    ),
    "complaints": (commands_topic("complaints"),),
    # The communications log is filled from the other services' events (issue 7).
    "contacts": (
        commands_topic("contacts"),
        events_topic("notifications"),
        events_topic("referrals"),
        events_topic("complaints"),
    ),
    # Issue 17: every "someone must act" fact and every line of a customer's timeline comes from
    # the other services' events; officers' actions and casework's own timers from its commands.
    "casework": (
        commands_topic("casework"),
        events_topic("referrals"),
        events_topic("approvals"),
        events_topic("notifications"),
        events_topic("complaints"),
        events_topic("contacts"),
    ),
}

#: Command topics each service writes to (requests to other services, or its own timers).
SENDS_COMMANDS: Mapping[str, tuple[str, ...]] = {
    "referrals": (commands_topic("approvals"), commands_topic("referrals")),
    "approvals": (commands_topic("approvals"),),
    "notifications": (commands_topic("notifications"),),
    "complaints": (commands_topic("notifications"),),
    "contacts": (commands_topic("notifications"),),
    "casework": (commands_topic("casework"),),
}

#: Messages each service sends on other topics' command channels (for AsyncAPI ``send`` operations).
SENDS_MESSAGES: Mapping[str, tuple[str, ...]] = {
    "referrals": (
        "RequestApproval",
        "WithdrawApprovalRequest",
        "CloseApprovalSubject",
        "ExpireTransferMonitoring",
        "LockCustomer",
        "ReleaseParentLock",
    ),
    "approvals": ("EscalateOverdueApproval",),
    "notifications": ("RetryDelivery", "CheckDeliveryReceipt", "DecideWaitingCommand"),
    "complaints": ("SendLetter",),
    "contacts": ("SendEmail",),
    "casework": ("CheckTaskSla", "StartLeaveCover", "EndLeaveCover", "CoverCustomerTasks"),
}


def topics_written_by(writer: str) -> tuple[Topic, ...]:
    """Topics ``writer`` produces to: its own topics and the command topics it sends to."""
    own = tuple(t for t in TOPICS.values() if t.writer == writer)
    sent = tuple(TOPICS[name] for name in SENDS_COMMANDS.get(writer, ()))
    return own + tuple(t for t in sent if t not in own)


def topics_read_by(service: str) -> tuple[Topic, ...]:
    _check_service(service)
    return tuple(TOPICS[name] for name in READS[service])
