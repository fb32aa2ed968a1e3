"""Load, decide, save: the one orchestration every handler runs.

``decide(state, message, now) -> (new_state, events)`` is the service's pure decider. This
module wraps the events in envelopes caused by the incoming one, routes each to its topic from
the contracts' registry, and saves state, applied id and outbox in one conditional write.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from contracts.base import Message, Rejection
from contracts.envelope import Envelope
from contracts.topics import topic_of
from kit.errors import ConcurrencyConflict, Malformed
from kit.processing import Outcome
from kit.settings import ServiceSettings
from kit.store import AggregateStore, OutboxEntry, TimerEntry
from kit.timers import Deferred

S = TypeVar("S", bound=BaseModel)
Decider = Callable[[S | None, Any, datetime], tuple[S | None, Sequence[Message | Deferred]]]

MAX_CONFLICT_RETRIES = 20


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


async def apply(
    store: AggregateStore[S],
    aggregate_id: str,
    envelope: Envelope,
    message: Any,
    decide: Decider[S],
    now: datetime,
    settings: ServiceSettings,
    route: Route = default_route,
) -> Outcome:
    """Applies ``message`` to one aggregate exactly once, however often it is delivered.

    The message id is claimed first. An id seen before with another message is refused as
    ``id_conflict`` (dead-lettered). An id seen before with the same message is a redelivery: it
    is applied only if no commit took it, which the aggregate's recent ``applied`` ids tell (a
    message whose handling crashed is redelivered long before its aggregate forgets an id).
    """
    message_id = str(envelope.message_id)
    claim = await store.claim(message_id, digest_of(envelope))
    if claim.conflict:
        raise Malformed(
            "id_conflict",
            "message_id was seen before with a different message_type, schema_version, csid or payload",
        )
    for _ in range(MAX_CONFLICT_RETRIES):
        loaded = await store.load(aggregate_id)
        if loaded.has_applied(message_id):
            return Outcome.DUPLICATE
        if not claim.first and _forgotten(claim.claimed_at, loaded.trimmed_at):
            return Outcome.DUPLICATE
        state, outputs = decide(loaded.state, message, now)
        events = [o for o in outputs if not isinstance(o, Deferred)]
        deferred = [o for o in outputs if isinstance(o, Deferred)]
        try:
            entries = outbox_entries(envelope, events, now, settings, route)
            timers = timer_entries(envelope, deferred, aggregate_id, settings, route)
            await store.save(loaded, state, message_id, entries, timers, now)
        except ConcurrencyConflict:
            continue
        if any(isinstance(e, Rejection) for e in events):
            return Outcome.REFUSED
        return Outcome.APPLIED
    raise ConcurrencyConflict(aggregate_id)


def _forgotten(claimed_at: datetime | None, trimmed_at: datetime | None) -> bool:
    """Whether the aggregate may have dropped this id from ``applied`` since it was claimed."""
    return claimed_at is not None and trimmed_at is not None and claimed_at <= trimmed_at
