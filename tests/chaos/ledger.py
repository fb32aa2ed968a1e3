"""The ledger: what the broker acknowledged, against the state in the store and the events on the topics.

State is read straight from the store, as any reader of the service's data would: the
aggregate collection (``customers``), whose documents are ``{_id: CSID, version, state, …}``. When
the kit keeps commit records beside it (a ``customers_commits`` collection of
``{_id: "<CSID>@<version>", aggregate, version, state, …}``), the newest record of each customer
is read as well, and whichever of the two is newer is the customer's state; a projection older
than its newest record is reported as *projection behind*.

Events and dead letters are read from the beginning of the row's topics. A command's events are
those whose ``causation_id`` is its message id; a refusal names it in ``rejected_message_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from deploy.kafka.acls import OPERATOR
from kit.transport import KafkaCluster
from tests.chaos.workload import (
    DEADLETTER,
    EVENTS,
    EXPECTED_EVENTS,
    INPUTS,
    Customer,
    Kind,
    Sent,
    parse_token,
)

AGGREGATES = "customers"
COMMITS = f"{AGGREGATES}_commits"
NOTE_ADDED = "PSStackingDocumentNoteAdded"
REJECTED = "ReferralsCommandRejected"
Document = dict[str, Any]
EXAMPLES = 5


@dataclass(frozen=True)
class Stored:
    """One customer's aggregate as the ledger reads it."""

    version: int
    notes: tuple[str, ...] | None
    """The notes of the customer's stacking document, in order; None when there is no document."""
    team: str | None
    """``state.facts.team``: the latest registration's token; None before the first."""
    applied: tuple[str, ...] | None
    """The aggregate's ``applied`` message ids, in order, when the document keeps them."""
    source: str = "projection"


def stored_from(doc: Document, customer: Customer, source: str) -> Stored:
    state = doc.get("state") or {}
    documents = state.get("documents") or {}
    document = documents.get(str(customer.document_id))
    facts = state.get("facts") or {}
    applied = doc.get("applied")
    return Stored(
        version=int(doc.get("version") or 0),
        notes=tuple(str(n) for n in document.get("notes", [])) if isinstance(document, dict) else None,
        team=str(facts["team"]) if isinstance(facts, dict) and facts.get("team") else None,
        applied=tuple(str(a) for a in applied) if isinstance(applied, list) else None,
        source=source,
    )


@dataclass
class StoreView:
    customers: dict[str, Stored]
    projection_behind: int = 0
    """Customers whose newest commit record is newer than their projection document."""
    commit_records: bool = False


async def read_store(
    client: AsyncMongoClient[Document], database: str, people: Mapping[str, Customer], *, commits: bool
) -> StoreView:
    """Every customer's state: the projection, and (``commits``) the newest commit record if newer."""
    db = client[database]
    seen: dict[str, Stored] = {}
    async for doc in db[AGGREGATES].find({}):
        csid = str(doc.get("_id"))
        if csid in people:
            seen[csid] = stored_from(doc, people[csid], "projection")
    view = StoreView(seen)
    if not commits or COMMITS not in await db.list_collection_names():
        return view
    view.commit_records = True
    newest: dict[str, Document] = {}
    async for doc in db[COMMITS].find({}):
        aggregate = str(doc.get("aggregate") or str(doc.get("_id", "")).split("@", 1)[0])
        if aggregate in people and int(doc.get("version") or 0) >= int(
            newest.get(aggregate, {}).get("version") or 0
        ):
            newest[aggregate] = doc
    for csid, doc in newest.items():
        record = stored_from(doc, people[csid], "commit record")
        projected = seen.get(csid)
        if projected is None or record.version > projected.version:
            view.projection_behind += 1
            seen[csid] = record
    return view


@dataclass(frozen=True)
class Event:
    message_id: str
    message_type: str
    causation_id: str | None
    rejected_message_id: str | None
    delay_s: float | None = None
    """From the decision (the envelope's ``occurred_at``) to this publish (the record's timestamp)."""


def parse_event(value: bytes | None, timestamp_ms: int | None = None) -> Event | None:
    try:
        body = json.loads(value or b"")
        payload = body.get("payload") or {}
        rejected = payload.get("rejected_message_id") if isinstance(payload, dict) else None
        delay = None
        with contextlib.suppress(KeyError, TypeError, ValueError):
            if timestamp_ms is not None:
                decided = datetime.fromisoformat(str(body["occurred_at"]).replace("Z", "+00:00"))
                delay = timestamp_ms / 1000 - decided.timestamp()
        return Event(
            str(body["message_id"]),
            str(body["message_type"]),
            str(body["causation_id"]) if body.get("causation_id") else None,
            str(rejected) if rejected else None,
            delay,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def publish_delays(events: Iterable[Event], causes: Iterable[str]) -> list[float]:
    """For each event caused by one of ``causes``: the delay of its first publish, in seconds."""
    wanted = set(causes)
    first: dict[str, float] = {}
    for event in events:
        if event.causation_id in wanted and event.delay_s is not None:
            first[event.message_id] = min(event.delay_s, first.get(event.message_id, event.delay_s))
    return sorted(first.values())


def dead_letter_id(value: bytes | None) -> str | None:
    with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
        return str(json.loads(value or b"")["message_id"])
    return None


class Topics:
    """Reads the row's events and dead-letter topics from the beginning, and the group's lag."""

    def __init__(self, kafka: KafkaCluster, suffix: str, group: str) -> None:
        self.kafka = kafka
        self.suffix = suffix
        self.group = group
        self.events: list[Event] = []
        self.event_records = 0
        self.dead_letters: list[str | None] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            EVENTS + self.suffix,
            DEADLETTER + self.suffix,
            # As an operator reads them: the only principal a dead-letter topic lets in.
            **self.kafka.options(OPERATOR),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            request_timeout_ms=10_000,
        )
        await self._consumer.start()
        self._admin = AIOKafkaAdminClient(**self.kafka.options(OPERATOR), request_timeout_ms=10_000)
        await self._admin.start()

    async def close(self) -> None:
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._consumer.stop(), timeout=15)
        if self._admin is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._admin.close(), timeout=15)
        self._consumer = self._admin = None

    async def poll(self, budget_s: float = 5.0) -> None:
        """Reads what has been written so far (bounded by ``budget_s``)."""
        consumer = self._consumer
        assert consumer is not None
        deadline = time.monotonic() + budget_s
        events_topic = EVENTS + self.suffix
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            for tp, records in batch.items():
                for record in records:
                    if tp.topic == events_topic:
                        self.event_records += 1
                        event = parse_event(record.value, record.timestamp)
                        if event is not None:
                            self.events.append(event)
                    else:
                        self.dead_letters.append(dead_letter_id(record.value))
            if not batch and await self._at_end(consumer):
                return

    @staticmethod
    async def _at_end(consumer: AIOKafkaConsumer) -> bool:
        assigned = list(consumer.assignment())
        if not assigned:
            return False
        ends = await consumer.end_offsets(assigned)
        positions = [await consumer.position(tp) for tp in assigned]
        return all(pos >= ends[tp] for tp, pos in zip(assigned, positions, strict=True))

    async def committed(self) -> dict[tuple[str, int], int]:
        """The group's committed offset of each input partition it has committed."""
        admin = self._admin
        assert admin is not None
        done = await admin.list_consumer_group_offsets(self.group)
        return {(tp.topic, tp.partition): int(o.offset) for tp, o in done.items() if o.offset >= 0}

    async def lag(self) -> int:
        """Records on the service's input topics its group has not committed yet."""
        consumer, admin = self._consumer, self._admin
        assert consumer is not None and admin is not None
        described = await admin.describe_topics([topic + self.suffix for topic in INPUTS])
        partitions = [
            TopicPartition(str(topic["topic"]), int(p["partition"]))
            for topic in described
            for p in topic["partitions"]
        ]
        if len({tp.topic for tp in partitions}) != len(INPUTS):
            raise RuntimeError(
                f"the input topics are not all known yet: {sorted({tp.topic for tp in partitions})}"
            )
        ends = await consumer.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(self.group)
        total = 0
        for tp in partitions:
            done = committed.get(tp)
            offset = done.offset if done is not None and done.offset >= 0 else 0
            total += max(0, ends[tp] - offset)
        return total


@dataclass
class Counts:
    sent: int = 0
    acked: int = 0
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    dead_lettered: int = 0
    unpublished: int = 0
    refused: int = 0
    queued: int = 0
    """Acknowledged, absent from state, and not yet committed by the group: still to be processed
    when the row stopped waiting (a stall, not a loss; a row is only conclusive when this is 0)."""
    applied_unacknowledged: int = 0
    """Effects of messages whose publish was never acknowledged (allowed: the broker may have them)."""
    event_records: int = 0
    distinct_events: int = 0
    projection_behind: int = 0
    registrations_checked: str = "-"
    """How registrations were checked: ``applied`` ids, or only the ``latest`` one in ``state.facts``."""
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.reordered == 0

    def example(self, what: str, text: str) -> None:
        shown = self.examples.setdefault(what, [])
        if len(shown) < EXAMPLES:
            shown.append(text)


def out_of_order(seqs: Iterable[int]) -> int:
    """Effects that come after one with a higher sequence number."""
    count, highest = 0, 0
    for seq in seqs:
        if seq < highest:
            count += 1
        highest = max(highest, seq)
    return count


def reconcile(
    sent: Sequence[Sent],
    store: StoreView,
    events: Sequence[Event],
    event_records: int,
    dead_letters: Sequence[str | None],
    committed: Mapping[tuple[str, int], int] | None = None,
) -> Counts:
    """The row's counts; see docs/chaos.md for what each one means. With the group's ``committed``
    offsets, an absent effect whose record the group has not committed yet is *queued*, not lost:
    lost means the group committed past the record and it left no trace."""
    counts = Counts(
        sent=len(sent),
        acked=sum(1 for s in sent if s.acked),
        dead_lettered=len(dead_letters),
        event_records=event_records,
        distinct_events=len({e.message_id for e in events}),
        projection_behind=store.projection_behind,
    )
    ours = {s.message_id: s for s in sent}
    caused, refused = _command_outcomes(events, ours)
    notes, applied, applied_known = _effects_in_state(store, ours, counts)
    if any(s.kind is Kind.REGISTRATION for s in sent):
        counts.registrations_checked = "applied" if applied_known else "latest"
    evidence = _Evidence(
        caused=caused,
        refused=refused,
        lettered={i for i in dead_letters if i is not None},
        notes=notes,
        applied=applied,
        applied_known=applied_known,
        committed=committed,
    )
    lost: set[str] = set()
    for s in sent:
        if _judge_sent(s, evidence, counts):
            lost.add(s.message_id)
    _judge_latest_registrations(sent, store, evidence, lost, counts)
    counts.lost = len(lost)
    return counts


@dataclass(frozen=True)
class _Evidence:
    """What the row left behind, as :func:`reconcile` weighs each sent message against it."""

    caused: Mapping[str, set[str]]
    """The distinct events each sent command caused, by the command's message id."""
    refused: set[str]
    """Sent commands a refusal names."""
    lettered: set[str]
    """Message ids on the dead-letter topic."""
    notes: Counter[str]
    """How many times each sent note is in state."""
    applied: Counter[str]
    """How many times each sent message is among the aggregates' ``applied`` ids."""
    applied_known: bool
    """Whether every stored customer keeps its ``applied`` ids."""
    committed: Mapping[tuple[str, int], int] | None
    """The group's committed offset of each input partition, when known."""

    def queued(self, s: Sent) -> bool:
        """Whether ``s``'s record is at or past its partition's committed offset (not yet processed)."""
        if self.committed is None or s.partition is None or s.offset is None:
            return False
        return s.offset >= self.committed.get((s.topic, s.partition), 0)

    def in_state(self, s: Sent) -> int:
        """How many times ``s``'s effect is in state."""
        return self.notes[s.message_id] if s.kind is Kind.NOTE else self.applied[s.message_id]

    def checkable(self, s: Sent) -> bool:
        """Whether state can say if ``s`` took effect (registrations need the ``applied`` ids)."""
        return s.kind is Kind.NOTE or self.applied_known


def _command_outcomes(events: Sequence[Event], ours: dict[str, Sent]) -> tuple[dict[str, set[str]], set[str]]:
    """The distinct events each of our commands caused, and which of them were refused."""
    caused: dict[str, set[str]] = defaultdict(set)
    refused: set[str] = set()
    for event in events:
        if event.message_type == REJECTED and event.rejected_message_id in ours:
            refused.add(event.rejected_message_id)
        elif event.causation_id in ours:
            caused[event.causation_id].add(event.message_id)
    return caused, refused


def _effects_in_state(
    store: StoreView, ours: dict[str, Sent], counts: Counts
) -> tuple[Counter[str], Counter[str], bool]:
    """Our notes in state, our applied message ids, and whether every customer keeps its applied
    ids; counts the effects that are out of sequence order on the way."""
    notes: Counter[str] = Counter()
    applied: Counter[str] = Counter()
    applied_known = True
    for csid, stored in store.customers.items():
        _count_notes(csid, stored, ours, notes, counts)
        if stored.applied is None:
            applied_known = False
            continue
        _count_applied(csid, stored.applied, ours, applied, counts)
    return notes, applied, applied_known


def _count_notes(
    csid: str, stored: Stored, ours: dict[str, Sent], notes: Counter[str], counts: Counts
) -> None:
    """Adds the customer's notes of our commands to ``notes``; counts their reorderings."""
    seqs = []
    first_seen: set[str] = set()
    for text in stored.notes or ():
        parsed = parse_token(text)
        if parsed is None or parsed[1] not in ours:
            continue
        seq, message_id = parsed
        notes[message_id] += 1
        if message_id not in first_seen:
            first_seen.add(message_id)
            seqs.append(seq)
    reordered = out_of_order(seqs)
    if reordered:
        counts.example("reordered", f"{csid} notes in sequence order {seqs}")
    counts.reordered += reordered


def _count_applied(
    csid: str,
    stored_applied: tuple[str, ...],
    ours: dict[str, Sent],
    applied: Counter[str],
    counts: Counts,
) -> None:
    """Adds the customer's applied ids of our messages to ``applied``; counts registrations
    applied out of sequence order."""
    registered = [
        ours[i] for i in dict.fromkeys(stored_applied) if i in ours and ours[i].kind is Kind.REGISTRATION
    ]
    applied.update(i for i in stored_applied if i in ours)
    order = [r.seq for r in registered]
    if out_of_order(order):
        counts.example("reordered", f"{csid} registrations applied in sequence order {order}")
    counts.reordered += out_of_order(order)


def _judge_sent(s: Sent, evidence: _Evidence, counts: Counts) -> bool:
    """Counts what became of one sent message; True when it is lost (acknowledged, processed by
    the group, and no trace of it in state)."""
    in_state = evidence.in_state(s)
    checkable = evidence.checkable(s)
    if s.message_id in evidence.refused:
        counts.refused += 1
    if checkable and in_state and not s.acked:
        counts.applied_unacknowledged += 1
    missing = (
        checkable and s.acked and not in_state and s.message_id not in evidence.refused | evidence.lettered
    )
    if missing and evidence.queued(s):
        counts.queued += 1
        counts.example("queued", f"{s.csid} {s.kind.value} seq {s.seq} at {s.partition}:{s.offset}")
        return False
    if missing:
        counts.example("lost", f"{s.csid} {s.kind.value} seq {s.seq} ({s.message_id})")
    _judge_events(s, in_state, checkable, evidence, counts)
    return missing


def _judge_events(s: Sent, in_state: int, checkable: bool, evidence: _Evidence, counts: Counts) -> None:
    """Counts a sent message as duplicated (in state or in events) or as unpublished."""
    distinct = len(evidence.caused.get(s.message_id, ()))
    if (checkable and in_state > 1) or distinct > EXPECTED_EVENTS[s.kind]:
        counts.duplicated += 1
        counts.example(
            "duplicated", f"{s.csid} {s.kind.value} seq {s.seq}: {in_state} in state, {distinct} events"
        )
    if in_state and EXPECTED_EVENTS[s.kind] and distinct < EXPECTED_EVENTS[s.kind]:
        counts.unpublished += 1
        counts.example("unpublished", f"{s.csid} {s.kind.value} seq {s.seq} ({s.message_id})")


def _latest_registrations(sent: Sequence[Sent]) -> dict[str, Sent]:
    """Each customer's acknowledged registration with the highest sequence number."""
    latest: dict[str, Sent] = {}
    for s in sent:
        if s.kind is Kind.REGISTRATION and s.acked and s.seq >= latest.get(s.csid, s).seq:
            latest[s.csid] = s
    return latest


def _judge_latest_registrations(
    sent: Sequence[Sent], store: StoreView, evidence: _Evidence, lost: set[str], counts: Counts
) -> None:
    """A registration is a snapshot: the latest acknowledged one must be what state.facts shows.
    Adds to ``lost`` each latest registration that state does not show (nor has yet to process)."""
    for csid, s in _latest_registrations(sent).items():
        stored_customer = store.customers.get(csid)
        shown = parse_token(stored_customer.team if stored_customer else None)
        if (
            (shown is None or shown[0] < s.seq)
            and s.message_id not in lost | evidence.refused | evidence.lettered
            and not evidence.queued(s)
        ):
            lost.add(s.message_id)
            counts.example("lost", f"{csid} latest registration seq {s.seq}; facts show {shown}")
