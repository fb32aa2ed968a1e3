"""What a decision turns into: envelopes caused by the incoming message, each routed to its topic
from the contracts' registry, timers as the commands they will send; and a message's digest.

kit/batch.py runs load → decide → commit with them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from contracts.base import Message, Rejection
from contracts.envelope import Envelope
from contracts.topics import topic_of
from kit.settings import ServiceSettings
from kit.store import OutboxEntry, TimerEntry
from kit.timers import Deferred


def event_id(cause: uuid.UUID, index: int) -> uuid.UUID:
    """Deterministic ids: deciding the same message again yields the same event ids."""
    return uuid.uuid5(cause, f"event-{index}")


Route = Callable[[Message], str]


def default_route(message: Message) -> str:
    """The one topic the contracts' registry carries this message type on."""
    return topic_of(message).name


def outbox_entries(
    cause: Envelope,
    events: Sequence[Message],
    now: datetime,
    settings: ServiceSettings,
    route: Route = default_route,
) -> list[OutboxEntry]:
    entries = []
    for index, event in enumerate(events):
        if isinstance(event, Rejection) and event.rejected_message_id is None:
            event = event.model_copy(
                update={"rejected_message_id": cause.message_id, "rejected_message_type": cause.message_type}
            )
        csid = getattr(event, "csid", None) or cause.csid
        envelope = Envelope.wrap(
            event,
            csid=csid,
            producer=settings.service_name,
            occurred_at=now,
            message_id=event_id(cause.message_id, index),
            correlation_id=cause.correlation_id,
            causation_id=cause.message_id,
        )
        entries.append(
            OutboxEntry(
                id=str(envelope.message_id),
                topic=settings.topic(route(event)),
                key=envelope.csid,
                message_type=envelope.message_type,
                value=envelope.to_bytes().decode("utf-8"),
            )
        )
    return entries


def timer_entries(
    cause: Envelope,
    deferred: Sequence[Deferred],
    aggregate_id: str,
    settings: ServiceSettings,
    route: Route = default_route,
) -> list[TimerEntry]:
    entries = []
    for timer in deferred:
        message_id = uuid.uuid5(
            uuid.NAMESPACE_URL, f"casemesh:{settings.service_name}:{aggregate_id}:{timer.timer_id}"
        )
        envelope = Envelope.wrap(
            timer.message,
            csid=cause.csid,
            producer=settings.service_name,
            occurred_at=timer.due_at,
            message_id=message_id,
            correlation_id=cause.correlation_id,
            causation_id=cause.message_id,
        )
        entries.append(
            TimerEntry(
                id=str(message_id),
                due_at=timer.due_at,
                topic=settings.topic(route(timer.message)),
                key=envelope.csid,
                message_type=envelope.message_type,
                value=envelope.to_bytes().decode(),
            )
        )
    return entries


def digest_of(envelope: Envelope) -> str:
    """What makes two deliveries the same message: its type, version, customer and payload."""
    canonical = json.dumps(
        [envelope.message_type, envelope.schema_version, envelope.csid, envelope.payload],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()
