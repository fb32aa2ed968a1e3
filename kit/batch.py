"""Load, decide, commit for a batch of messages: one claim, one load and one commit per aggregate.

The records of a batch are grouped by aggregate, each aggregate keeping its messages' order. Each
aggregate is loaded once, its messages are decided one after another in memory, and everything
they changed becomes **one** commit record (kit/store.py), all of the batch's records going in
one insert. So a batch costs a handful of store commands whatever its size:

    claim (1, +1 when an id was seen before) → load (1, +1 for aggregates never recorded)
    → intents (1) → records (1) → projections (1 per ``write_chunk`` aggregates)

A message whose facts read other aggregates (``barrier``) starts a new segment: what the batch
decided so far is committed first, so the facts it reads are those a one-at-a-time run would
have read. A rule or facts that raise (neither a refusal nor infrastructure) fail that message
alone; its neighbours are decided as if it had not come. Infrastructure errors leave the batch,
for the caller to retry whole: claims and commits are idempotent, so a retry applies each
message once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from contracts.base import Message, Rejection
from contracts.envelope import Envelope
from kit.errors import ConcurrencyConflict, Malformed, is_infrastructure_error
from kit.handling import Route, default_route, digest_of, outbox_entries, timer_entries
from kit.processing import Outcome, Result, one_message
from kit.settings import ServiceSettings
from kit.store import AggregateStore, Claim, Commit, Loaded, OutboxEntry, TimerEntry
from kit.timers import Deferred

MAX_CONFLICT_RETRIES = 20

Item = tuple[Envelope, Any]
Decide = Callable[[Any, Any, datetime, Any], tuple[Any, Sequence[Message | Deferred]]]
"""``decide(state, message, now, facts) -> (new_state, outputs)``."""


@dataclass(frozen=True)
class Target:
    """Where a message is applied: the aggregate kind's store, the aggregate, and its decider."""

    store: AggregateStore[Any]
    key: str
    decide: Decide


Targets = Callable[[Envelope, Any], Target | None]
Facts = Callable[[Envelope, Any], Awaitable[Any]]
After = Callable[[Envelope, Any, Outcome], Awaitable[None]]


class BatchHandler(Protocol):
    def __call__(self, items: Sequence[Item], now: datetime) -> Awaitable[list[Result]]: ...


async def no_facts(envelope: Envelope, message: Any) -> None:
    return None


def never(message: Any) -> bool:
    return False


@dataclass
class _Group:
    target: Target
    indexes: list[int] = field(default_factory=list)


@dataclass
class Batch:
    """One batch being applied; ``results`` is filled in as messages are decided."""

    items: Sequence[Item]
    now: datetime
    settings: ServiceSettings
    route: Route = default_route
    results: list[Result | None] = field(default_factory=list)
    claims: dict[int, Claim] = field(default_factory=dict)
    facts: dict[int, Any] = field(default_factory=dict)
    loaded: dict[tuple[int, str], Loaded[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.results = [None] * len(self.items)

    async def claim(self, routed: Sequence[tuple[int, Target]]) -> None:
        """Claims every routed message id, one command per ledger; an id reused for another
        message is ``id_conflict``."""
        ledgers: dict[int, list[tuple[int, Target]]] = {}
        for index, target in routed:
            ledgers.setdefault(id(target.store.received), []).append((index, target))
        for members in ledgers.values():
            store = members[0][1].store
            asked = [(str(self.items[i][0].message_id), digest_of(self.items[i][0])) for i, _ in members]
            for (index, _), claim in zip(members, await store.claim_many(asked), strict=True):
                self.claims[index] = claim
                if claim.conflict:
                    self.results[index] = Malformed(
                        "id_conflict",
                        "message_id was seen before with a different message_type, schema_version, "
                        "csid or payload",
                    )

    async def gather(self, segment: Sequence[tuple[int, Target]], facts: Facts) -> None:
        for index, _ in segment:
            envelope, message = self.items[index]
            try:
                self.facts[index] = await facts(envelope, message)
            except Exception as exc:
                if is_infrastructure_error(exc):
                    raise
                self.results[index] = exc

    async def apply(self, segment: Sequence[tuple[int, Target]]) -> None:
        """Decides and commits the segment's messages, again for aggregates another writer beat."""
        groups: dict[tuple[int, str], _Group] = {}
        for index, target in segment:
            if self.results[index] is None:
                groups.setdefault((id(target.store), target.key), _Group(target)).indexes.append(index)
        for _ in range(MAX_CONFLICT_RETRIES):
            if not groups:
                return
            await self._load(groups)
            beaten = await self._commit(groups)
            for key in beaten:
                del self.loaded[key]
            groups = {key: groups[key] for key in beaten}
        raise ConcurrencyConflict(", ".join(g.target.key for g in groups.values()))

    async def _load(self, groups: dict[tuple[int, str], _Group]) -> None:
        by_store: dict[int, list[Target]] = {}
        for key, group in groups.items():
            if key not in self.loaded:
                by_store.setdefault(id(group.target.store), []).append(group.target)
        for targets in by_store.values():
            found = await targets[0].store.load_many(t.key for t in targets)
            for target in targets:
                self.loaded[(id(target.store), target.key)] = found[target.key]

    async def _commit(self, groups: dict[tuple[int, str], _Group]) -> list[tuple[int, str]]:
        """Decides each group and commits them; returns the groups another writer beat."""
        commits: dict[int, list[tuple[tuple[int, str], Commit[Any], dict[int, Outcome]]]] = {}
        for key, group in groups.items():
            decided = self._decide(self.loaded[key], group)
            if decided is None:
                continue
            commit, outcomes = decided
            commits.setdefault(id(group.target.store), []).append((key, commit, outcomes))
        beaten_keys: list[tuple[int, str]] = []
        for members in commits.values():
            store = groups[members[0][0]].target.store
            written, beaten = await store.commit_many([commit for _, commit, _ in members])
            beaten_ids = {id(c) for c in beaten}
            done = iter(written)
            for key, commit, outcomes in members:
                if id(commit) in beaten_ids:
                    beaten_keys.append(key)
                    continue
                self.loaded[key] = next(done)
                for index, outcome in outcomes.items():
                    self.results[index] = outcome
        return beaten_keys

    def _decide(self, loaded: Loaded[Any], group: _Group) -> tuple[Commit[Any], dict[int, Outcome]] | None:
        """The group's messages decided in order from ``loaded``; None when none changes anything."""
        state = loaded.state
        applied: list[str] = []
        outbox: list[OutboxEntry] = []
        timers: list[TimerEntry] = []
        outcomes: dict[int, Outcome] = {}
        for index in group.indexes:
            envelope, message = self.items[index]
            message_id = str(envelope.message_id)
            if loaded.has_applied(message_id) or message_id in applied or self._forgotten(index, loaded):
                self.results[index] = Outcome.DUPLICATE
                continue
            try:
                new_state, outputs = group.target.decide(state, message, self.now, self.facts.get(index))
                events = [o for o in outputs if not isinstance(o, Deferred)]
                deferred = [o for o in outputs if isinstance(o, Deferred)]
                entries = outbox_entries(envelope, events, self.now, self.settings, self.route)
                armed = timer_entries(envelope, deferred, loaded.id, self.settings, self.route)
            except Exception as exc:
                if is_infrastructure_error(exc):
                    raise
                self.results[index] = exc
                continue
            state = new_state
            applied.append(message_id)
            outbox += entries
            timers += armed
            outcomes[index] = (
                Outcome.REFUSED if any(isinstance(e, Rejection) for e in events) else Outcome.APPLIED
            )
        if not applied:
            return None
        return Commit(loaded, state, applied, outbox, timers), outcomes

    def _forgotten(self, index: int, loaded: Loaded[Any]) -> bool:
        """Whether a redelivered message may be among the ids the aggregate has since forgotten (a
        message whose handling crashed is redelivered long before its aggregate forgets an id)."""
        claim = self.claims.get(index)
        if claim is None or claim.first:
            return False
        return (
            claim.claimed_at is not None
            and loaded.trimmed_at is not None
            and claim.claimed_at <= loaded.trimmed_at
        )


async def apply_batch(
    items: Sequence[Item],
    now: datetime,
    settings: ServiceSettings,
    *,
    targets: Targets,
    facts: Facts = no_facts,
    barrier: Callable[[Any], bool] = never,
    after: Sequence[After] = (),
    route: Route = default_route,
) -> list[Result]:
    """Applies each message exactly once, however often it is delivered; one result per item."""
    batch = Batch(items, now, settings, route)
    routed: list[tuple[int, Target]] = []
    for index, (envelope, message) in enumerate(items):
        target = targets(envelope, message)
        if target is None:
            batch.results[index] = Outcome.IGNORED
        else:
            routed.append((index, target))
    await batch.claim(routed)
    segment: list[tuple[int, Target]] = []
    for index, target in routed:
        if batch.results[index] is not None:
            continue
        if segment and barrier(items[index][1]):
            await _run(batch, segment, facts, after)
            segment = []
        segment.append((index, target))
    if segment:
        await _run(batch, segment, facts, after)
    return [Outcome.IGNORED if r is None else r for r in batch.results]


async def _run(
    batch: Batch, segment: Sequence[tuple[int, Target]], facts: Facts, after: Sequence[After]
) -> None:
    await batch.gather(segment, facts)
    await batch.apply(segment)
    for index, _ in segment:
        result = batch.results[index]
        if isinstance(result, Outcome):
            envelope, message = batch.items[index]
            for follow in after:
                await follow(envelope, message, result)


async def apply(
    store: AggregateStore[Any],
    aggregate_id: str,
    envelope: Envelope,
    message: Any,
    decide: Callable[[Any, Any, datetime], tuple[Any, Sequence[Message | Deferred]]],
    now: datetime,
    settings: ServiceSettings,
    route: Route = default_route,
) -> Outcome:
    """One message applied to one aggregate; raises what failed it (``Malformed`` for a reused id)."""
    target = Target(store, aggregate_id, lambda state, msg, at, facts: decide(state, msg, at))

    async def handle(items: Sequence[Item], now: datetime) -> list[Result]:
        return await apply_batch(items, now, settings, targets=lambda e, m: target, route=route)

    return await one_message(handle)(envelope, message, now)
