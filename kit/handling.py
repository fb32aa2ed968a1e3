"""Load, decide, save: the one orchestration every handler runs.

``decide(state, message, now) -> (new_state, events)`` is the service's pure decider. This
module wraps the events in envelopes caused by the incoming one, routes each to its topic from
the contracts' registry, and saves state, applied id and outbox in one conditional write.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from contracts.base import Message, Rejection
from contracts.envelope import Envelope
from contracts.topics import TOPICS
from kit.errors import ConcurrencyConflict
from kit.processing import Outcome
from kit.settings import ServiceSettings
from kit.store import AggregateStore, OutboxEntry, TimerEntry
from kit.timers import Deferred

S = TypeVar("S", bound=BaseModel)
Decider = Callable[[S | None, Any, datetime], tuple[S | None, Sequence[Message | Deferred]]]

MAX_CONFLICT_RETRIES = 20


def _topic_by_type() -> dict[str, str]:
    routes: dict[str, str] = {}
    for topic in TOPICS.values():
        for cls in topic.messages:
            if cls.MESSAGE_TYPE in routes and routes[cls.MESSAGE_TYPE] != topic.name:
                raise RuntimeError(f"{cls.MESSAGE_TYPE} is carried by two topics")
            routes[cls.MESSAGE_TYPE] = topic.name
    return routes


ROUTES = _topic_by_type()


def event_id(cause: uuid.UUID, index: int) -> uuid.UUID:
    """Deterministic ids: deciding the same message again yields the same event ids."""
    return uuid.uuid5(cause, f"event-{index}")


Route = Callable[[Message], str]


def default_route(message: Message) -> str:
    """The one topic the contracts' registry carries this message type on."""
    return ROUTES[message.MESSAGE_TYPE]


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
    """Applies ``message`` to one aggregate exactly once, however often it is delivered."""
    for _ in range(MAX_CONFLICT_RETRIES):
        loaded = await store.load(aggregate_id)
        if loaded.has_applied(str(envelope.message_id)):
            return Outcome.DUPLICATE
        state, outputs = decide(loaded.state, message, now)
        events = [o for o in outputs if not isinstance(o, Deferred)]
        deferred = [o for o in outputs if isinstance(o, Deferred)]
        try:
            entries = outbox_entries(envelope, events, now, settings, route)
            timers = timer_entries(envelope, deferred, aggregate_id, settings, route)
            await store.save(loaded, state, str(envelope.message_id), entries, timers)
        except ConcurrencyConflict:
            continue
        if any(isinstance(e, Rejection) for e in events):
            return Outcome.REFUSED
        return Outcome.APPLIED
    raise ConcurrencyConflict(aggregate_id)
