"""What the suite sends to the referrals service, and the producer that records what the broker acknowledged.

Each customer is first registered (customers topic), assigned to PS and given a PS stacking
document (commands topic). The measured workload is then, per customer, a sequence of
``AddPSStackingDocumentNote`` commands whose note text carries the command's sequence number and
message id: the service appends each note to the document's ``notes`` list in its state (so the
state shows every effect, once, in order) and publishes one ``PSStackingDocumentNoteAdded`` event
caused by it. The two-topics row adds, per customer, a sequence of ``CustomerRegistered`` events
on the customers topic whose ``team`` carries their sequence number and id; the service keeps the
latest in ``state.facts`` and its id in the aggregate's ``applied`` list, and publishes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from aiokafka import AIOKafkaProducer

from contracts.base import Actor, Message, Role
from contracts.catalogue.customers import CustomerRegistered
from contracts.catalogue.referrals import (
    AddPSStackingDocumentNote,
    AssignCustomerToPS,
    CreatePSStackingDocument,
    PSReferralType,
    StackingDocumentOrigin,
)
from contracts.envelope import Envelope
from contracts.topics import (
    CUSTOMERS_TOPIC,
    READS,
    UPSTREAM,
    commands_topic,
    deadletter_topic,
    events_topic,
)
from kit.identity import development_headers_for
from kit.transport import KafkaCluster

SERVICE = "referrals"
COMMANDS = commands_topic(SERVICE)
EVENTS = events_topic(SERVICE)
DEADLETTER = deadletter_topic(SERVICE)
INPUTS: tuple[str, ...] = READS[SERVICE]
TEAM = "PS Team 1"
OFFICERS = ("EMP1", "EMP2")
PS_TEAMS_JSON = '{"PS Team 1": ["EMP1", "EMP2"]}'
PRODUCER = "chaos"
#: How far the load may fall behind its schedule (a publish blocks while the broker is away)
#: before the rest is left unsent, so the load always ends.
OVERRUN_S = 120.0

MANAGER = Actor(
    officer_id="SM-1", role=Role.SERVICE_MANAGER, first_name="Alex", site="Hobart", team="PS Managers",
    extension="1234",
)  # fmt: skip
OFFICER = Actor(
    officer_id="EMP1", role=Role.PS_SERVICE_OFFICER, first_name="Robin", site="Hobart", team=TEAM,
    extension="2222",
)  # fmt: skip

TOKEN = re.compile(r"chaos seq=(\d+) id=([0-9a-f-]{36})")


def token(seq: int, message_id: uuid.UUID) -> str:
    """What the service stores for one command: its sequence number and message id."""
    return f"chaos seq={seq:05d} id={message_id}"


def parse_token(text: str | None) -> tuple[int, str] | None:
    """``(sequence, message id)`` from a stored note or team, or None for anything else."""
    if not text:
        return None
    found = TOKEN.search(text)
    return (int(found.group(1)), found.group(2)) if found else None


class Kind(StrEnum):
    NOTE = "note"
    """``AddPSStackingDocumentNote`` on the commands topic: one note in state, one event."""
    REGISTRATION = "registration"
    """``CustomerRegistered`` on the customers topic: the latest in ``state.facts``, no event."""


EXPECTED_EVENTS = {Kind.NOTE: 1, Kind.REGISTRATION: 0}


@dataclass(frozen=True)
class Customer:
    csid: str
    referral_id: uuid.UUID
    document_id: uuid.UUID


def customers(count: int) -> list[Customer]:
    return [Customer(f"7{n:08d}", uuid.uuid4(), uuid.uuid4()) for n in range(1, count + 1)]


@dataclass
class Sent:
    """One workload message and what became of its publish."""

    message_id: str
    csid: str
    seq: int
    kind: Kind
    topic: str
    value: bytes = field(repr=False)
    sent_at: float | None = None
    acked_at: float | None = None
    partition: int | None = None
    offset: int | None = None
    """Where the broker put it (from the acknowledgement)."""
    error: str | None = None

    @property
    def acked(self) -> bool:
        return self.acked_at is not None


def _envelope(message: Message, csid: str, message_id: uuid.UUID | None = None) -> Envelope:
    return Envelope.wrap(
        message, csid=csid, producer=PRODUCER, occurred_at=datetime.now(UTC), message_id=message_id
    )


def registration(customer: Customer, seq: int = 0, message_id: uuid.UUID | None = None) -> Envelope:
    mid = message_id or uuid.uuid4()
    return _envelope(
        CustomerRegistered(
            given_name="Jordan",
            family_name="Lee",
            is_international=False,
            is_centrelink_customer=True,
            site="Hobart",
            team=token(seq, mid),
        ),
        customer.csid,
        mid,
    )


def setup_commands(customer: Customer) -> list[Envelope]:
    """Assignment to PS and the stacking document the notes go to (after the registration)."""
    assign = AssignCustomerToPS(
        actor=MANAGER,
        referral_id=customer.referral_id,
        referral_type=PSReferralType.OTHER,
        team=TEAM,
        officer_id=OFFICERS[int(customer.csid) % len(OFFICERS)],
    )
    document = CreatePSStackingDocument(
        actor=OFFICER,
        referral_id=customer.referral_id,
        document_id=customer.document_id,
        origin=StackingDocumentOrigin.CASEMESH,
    )
    return [_envelope(assign, customer.csid), _envelope(document, customer.csid)]


def note(customer: Customer, seq: int) -> Envelope:
    mid = uuid.uuid4()
    return _envelope(
        AddPSStackingDocumentNote(actor=OFFICER, document_id=customer.document_id, text=token(seq, mid)),
        customer.csid,
        mid,
    )


def workload(people: Sequence[Customer], per_customer: int, suffix: str, *, two_topics: bool) -> list[Sent]:
    """The measured messages in sending order: sequence by sequence, customer by customer, so each
    customer's commands are spread over the whole load. With ``two_topics`` each note is followed
    at once by a registration of the same customer on the customers topic."""
    out: list[Sent] = []
    for seq in range(1, per_customer + 1):
        for customer in people:
            env = note(customer, seq)
            out.append(
                Sent(str(env.message_id), customer.csid, seq, Kind.NOTE, COMMANDS + suffix, env.to_bytes())
            )
            if two_topics:
                reg = registration(customer, seq)
                out.append(
                    Sent(
                        str(reg.message_id),
                        customer.csid,
                        seq,
                        Kind.REGISTRATION,
                        CUSTOMERS_TOPIC + suffix,
                        reg.to_bytes(),
                    )
                )
    return out


def signed(value: bytes) -> list[tuple[str, bytes]]:
    """The identity header of an officer's command (issue 16), signed with the development key."""
    return list(development_headers_for(value).items())


class Driver:
    """An idempotent producer (acks=all), as an upstream system publishes: on a secured broker it
    acts as the ``upstream`` principal (it may write the commands and customers topics only)."""

    def __init__(self, kafka: KafkaCluster, suffix: str) -> None:
        self.suffix = suffix
        self.producer = AIOKafkaProducer(
            **kafka.options(UPSTREAM),
            enable_idempotence=True,
            acks="all",
            request_timeout_ms=30_000,
            linger_ms=5,
        )
        self.started = False

    async def start(self) -> None:
        await self.producer.start()
        self.started = True

    async def close(self) -> None:
        if self.started:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.producer.stop(), timeout=30)
            self.started = False

    async def send(self, topic: str, env: Envelope, timeout_s: float = 60.0) -> None:
        """Publishes one setup message and waits for its acknowledgement."""
        await asyncio.wait_for(
            self.producer.send_and_wait(
                topic + self.suffix, env.to_bytes(), key=env.key(), headers=signed(env.to_bytes())
            ),
            timeout_s,
        )

    async def send_paced(
        self, messages: Sequence[Sent], duration_s: float, ack_timeout_s: float = 90.0
    ) -> None:
        """Publishes ``messages`` in order, evenly over ``duration_s``, without waiting for each
        acknowledgement (the producer keeps one partition's records in order); then waits, at most
        ``ack_timeout_s``, for the acknowledgements. A publish that fails or is never acknowledged
        stays unacknowledged: the ledger does not expect its effect."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        give_up = began + duration_s + OVERRUN_S
        interval = duration_s / max(len(messages), 1)
        pending: list[asyncio.Future[object]] = []
        for index, message in enumerate(messages):
            if loop.time() > give_up:
                message.error = "not sent: the load overran its schedule"
                continue
            delay = began + index * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            message.sent_at = time.monotonic()
            try:
                future = await asyncio.wait_for(
                    self.producer.send(
                        message.topic,
                        message.value,
                        key=message.csid.encode(),
                        headers=signed(message.value),
                    ),
                    timeout=45,
                )
            except Exception as exc:
                message.error = f"send: {type(exc).__name__}"
                continue
            future.add_done_callback(_acknowledged(message))
            pending.append(future)
        if pending:
            await asyncio.wait(pending, timeout=ack_timeout_s)
        for message in messages:
            if not message.acked and message.error is None:
                message.error = "no acknowledgement"


def _acknowledged(message: Sent) -> Callable[[asyncio.Future[object]], None]:
    def done(future: asyncio.Future[object]) -> None:
        if future.cancelled():
            message.error = "cancelled"
        elif future.exception() is not None:
            message.error = f"ack: {type(future.exception()).__name__}"
        else:
            metadata = future.result()
            message.partition = getattr(metadata, "partition", None)
            message.offset = getattr(metadata, "offset", None)
            message.acked_at = time.monotonic()

    return done
