"""A service is declared, not wired: per aggregate, its state, its key and a table of rules.

A service's ``domain/`` package holds pure rules ``rule(state, message, now, facts)`` returning
``(new_state, outputs)``. Its spec lists, per aggregate, the state type, the collection, how a
message names its aggregate, and which rule decides each message type. The kit does the rest:

- a message type in no table is ``IGNORED``;
- a rule refuses by raising :class:`Refused`; the kit answers with the service's ``…Rejected``
  event and leaves the state as it was;
- load → decide → commit → publish → ack is the kit's (``kit.batch``), a batch at a time.

``facts`` is whatever a service's rules need besides the state and the message: settings, and
facts read from elsewhere before deciding (another aggregate's projection, an index). The
service gives the kit an async ``facts(envelope, message)``; rules stay pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from contracts.base import Actor, Message, Rejection
from contracts.envelope import Envelope
from kit.batch import After, Facts, Target, apply_batch, never, no_facts
from kit.identity import Unverified, unwrap
from kit.processing import BatchHandler, Result
from kit.settings import ServiceSettings
from kit.store import AggregateStore
from kit.timers import Deferred

S = TypeVar("S", bound=BaseModel)
Output = Message | Deferred
Decision = tuple[Any, Sequence[Output]]
Rule = Callable[[Any, Any, datetime, Any], Decision]
"""``rule(state, message, now, facts) -> (new_state, outputs)``; raises ``Refused`` to refuse."""


_UNCHANGED: Any = object()


class Refused(Exception):
    """A business refusal: the kit answers with the service's ``…Rejected`` event.

    ``details`` are the event's own fields (e.g. ``complaint_id``); the refused message's actor
    is filled in as ``attempted_by`` unless given. The state stays as it was, unless the refusal
    itself leaves a mark: then ``state`` is the new state and ``outputs`` follow the event (an
    audited segregation-of-duties breach, a timer armed again).
    """

    def __init__(
        self,
        code: str,
        reason: str,
        *,
        state: Any = _UNCHANGED,
        outputs: Sequence[Output] = (),
        **details: Any,
    ) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.state = state
        self.outputs = tuple(outputs)
        self.details = details


def by_csid(envelope: Envelope, message: Any) -> str:
    """The usual key: the customer's aggregate."""
    return envelope.csid


@dataclass(frozen=True)
class Aggregate(Generic[S]):
    """One kind of aggregate: its state, where it is stored, how it is found, and its rules."""

    collection: str
    state: type[S]
    rules: Mapping[type[Message], Rule]
    key: Callable[[Envelope, Any], str] = by_csid
    accepts: Callable[[Any], bool] = field(default=lambda message: True)
    """A further filter: a message of a listed type that this aggregate leaves alone is IGNORED."""
    initial: Callable[[], S] | None = None
    """The state a rule starts from when the aggregate does not exist yet (else rules get None)."""
    record: Callable[[S, Sequence[Output], datetime], S] | None = None
    """What the state keeps of every decision that says something, refusals included (an audit
    history); applied after the rule."""


@dataclass(frozen=True)
class ServiceSpec:
    """Every aggregate of a service and the event that carries its refusals."""

    service: str
    aggregates: Sequence[Aggregate[Any]]
    rejected: type[Rejection]
    rejected_for: Mapping[type[Message], type[Rejection]] = field(default_factory=dict)
    """The refusal event of particular message types, where it is not ``rejected``."""

    def __post_init__(self) -> None:
        seen: dict[type[Message], str] = {}
        for aggregate in self.aggregates:
            for message_type in aggregate.rules:
                if message_type in seen:
                    raise ValueError(
                        f"{message_type.__name__} is decided by both {seen[message_type]} "
                        f"and {aggregate.collection}"
                    )
                seen[message_type] = aggregate.collection

    @property
    def handled(self) -> frozenset[type[Message]]:
        return frozenset(t for a in self.aggregates for t in a.rules)

    def aggregate_for(self, message: Any) -> Aggregate[Any] | None:
        message = unwrap(message)
        for aggregate in self.aggregates:
            if type(message) in aggregate.rules and aggregate.accepts(message):
                return aggregate
        return None

    def decide(self, state: Any, message: Any, now: datetime, facts: Any = None) -> Decision:
        """The rule for ``message`` applied; a refusal leaves ``state`` as it was."""
        aggregate = self.aggregate_for(message)
        if aggregate is None:
            raise TypeError(f"{self.service} has no rule for {type(message).__name__}")
        current = state if state is not None or aggregate.initial is None else aggregate.initial()
        try:
            if isinstance(message, Unverified):
                verdict = message.verdict
                raise Refused(verdict.code, verdict.reason, **self.concerning(message.message))
            new, outputs = aggregate.rules[type(message)](current, message, now, facts)
        except Refused as refused:
            new = state if refused.state is _UNCHANGED else refused.state
            outputs = [self.refusal(refused, unwrap(message)), *refused.outputs]
        if not outputs and new is current:
            return state, outputs  # nothing changed and nothing said: an absent aggregate stays absent
        if aggregate.record is not None and outputs:
            new = aggregate.record(current if new is None else new, outputs, now)
        return new, outputs

    def concerning(self, message: Any) -> dict[str, Any]:
        """What the refusal event says the refused message concerned (its request, complaint…):
        the event's own fields the message has too."""
        rejected = self.rejected_for.get(type(message), self.rejected)
        own = rejected.model_fields.keys() - Rejection.model_fields.keys()
        return {name: getattr(message, name) for name in own if hasattr(message, name)}

    def refusal(self, refused: Refused, message: Any) -> Rejection:
        actor = getattr(message, "actor", None)
        details = {"attempted_by": actor if isinstance(actor, Actor) else None, **refused.details}
        rejected = self.rejected_for.get(type(message), self.rejected)
        return rejected(reason_code=refused.code, reason=refused.reason, **details)

    def stores(self, database: Any) -> dict[str, AggregateStore[Any]]:
        """One store per aggregate kind, by collection."""
        return {a.collection: AggregateStore(database[a.collection], a.state) for a in self.aggregates}


def handler(
    spec: ServiceSpec,
    stores: Mapping[str, AggregateStore[Any]],
    settings: ServiceSettings,
    facts: Facts = no_facts,
    after: Iterable[After] = (),
    barrier: Callable[[Any], bool] = never,
) -> BatchHandler:
    """The kit's batch handler for a spec: route each message to its aggregate, gather its facts,
    decide and commit (kit/batch.py), then run any read-model ``after`` for each message.

    ``barrier(message)`` says whether a message's facts read other aggregates' projections: what
    the batch decided before it is committed first.
    """
    followers = tuple(_verified_only(follow) for follow in after)

    async def verified_facts(envelope: Envelope, message: Any) -> Any:
        return None if isinstance(message, Unverified) else await facts(envelope, message)

    def verified_barrier(message: Any) -> bool:
        return not isinstance(message, Unverified) and barrier(message)

    def target(envelope: Envelope, message: Any) -> Target | None:
        aggregate = spec.aggregate_for(message)
        if aggregate is None:
            return None
        return Target(stores[aggregate.collection], aggregate.key(envelope, unwrap(message)), spec.decide)

    async def handle(items: Sequence[tuple[Envelope, Any]], now: datetime) -> list[Result]:
        return await apply_batch(
            items,
            now,
            settings,
            targets=target,
            facts=verified_facts,
            barrier=verified_barrier,
            after=followers,
        )

    return handle


def _verified_only(follow: After) -> After:
    """A read model follows what the rules decided; a command refused unverified changed nothing."""

    async def follow_verified(envelope: Envelope, message: Any, outcome: Any) -> None:
        if not isinstance(message, Unverified):
            await follow(envelope, message, outcome)

    return follow_verified
