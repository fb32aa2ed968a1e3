"""An aggregate's truth is an append-only chain of commit records; its document is a projection.

Collections per aggregate kind ``X`` (docs/decisions/0005-commit-records.md, 0006-batches.md):

- ``X_commits``: one record per version, ``{_id: "<aggregate>@<version:012d>", aggregate,
  version, state, applied, outbox, timers, …}``. A write is **one insert** of the next version's
  record; a batch's records go in one unordered ``insert_many``. An insert under a unique ``_id``
  is atomic on MongoDB and on FerretDB (SQLite and PostgreSQL), so a second writer of the same
  version always gets a conflict, never a silent overwrite. State, applied ids, the events of
  the commit and the timers still armed change together in that one record.
- ``X``: the projection ``{_id: aggregate, version, state, updated_at}`` that queries use,
  rolled forward after the insert (older ones deleted, new ones inserted: ``project_many``); it
  may briefly lag under a race, never the truth.
- ``X_inflight``: the small collection of work not yet done, written **before** the commit it
  belongs to: one ``outbox`` intent per commit record with events (deleted once they are
  published) and one ``timer`` document per armed timer (deleted once it fired). The relay's
  recovery pass and the timer sweeper read only this collection, never the aggregates.

A load reads the newest commit record. Superseded records are deleted once a newer one exists
and their events are published; deleting a record that is not the newest never changes a load.
A crash between any two steps leaves either no new record (nothing happened; the message is
redelivered) or a new record whose projection the housekeeping sweep completes and whose
publishing its intent tells the recovery pass to do.

Message ids are claimed in the database-wide ``received`` ledger with a digest of the message,
so a redelivery is recognised across aggregates and beyond an aggregate's recent ``applied``
ids, and an id reused for another message is told apart (``id_conflict``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar
from uuid import uuid4

from pydantic import BaseModel
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from kit.errors import ConcurrencyConflict

S = TypeVar("S", bound=BaseModel)
Document = dict[str, Any]

KEEP_APPLIED = 1000
"""How many applied message ids an aggregate keeps beside the ledger (covers a crash's redelivery)."""
RECEIVED_RETENTION = timedelta(days=7)
"""How long a claimed message id is remembered: Kafka's default retention, so any redelivery."""
COMMIT_GRACE = timedelta(seconds=30)
"""How old a record or intent must be before housekeeping or recovery repairs or drops it."""
WRITE_CHUNK = 50
"""Statements per update command (FerretDB 1.24 hangs at 100); projections go forty times as many
to one delete and one insert (no update statement)."""
PUBLISHED_MEMORY = 100_000
SUPERSEDED_SEEN = 3
"""How many versions behind its new one a projection may be and still be rolled forward at once."""


@dataclass(frozen=True)
class OutboxEntry:
    id: str
    topic: str
    key: str
    message_type: str
    value: str

    def to_document(self) -> Document:
        return {
            "id": self.id,
            "topic": self.topic,
            "key": self.key,
            "type": self.message_type,
            "value": self.value,
        }

    @classmethod
    def from_document(cls, doc: Document) -> OutboxEntry:
        return cls(
            id=doc["id"], topic=doc["topic"], key=doc["key"], message_type=doc["type"], value=doc["value"]
        )


NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class TimerEntry(OutboxEntry):
    due_at: datetime = NEVER

    def to_document(self) -> Document:
        return {**super().to_document(), "due_at": self.due_at}

    @classmethod
    def from_document(cls, doc: Document) -> TimerEntry:
        return cls(
            id=doc["id"],
            topic=doc["topic"],
            key=doc["key"],
            message_type=doc["type"],
            value=doc["value"],
            due_at=_aware(doc["due_at"]),
        )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _when(value: Any) -> datetime | None:
    return _aware(value) if isinstance(value, datetime) else None


def written_at(document: Document) -> datetime:
    """When an intent or record was written (the oldest time if it does not say)."""
    return _when(document.get("at")) or NEVER


def record_id(aggregate_id: str, version: int) -> str:
    """A commit record's ``_id``: zero-padded so the newest version sorts last."""
    return f"{aggregate_id}@{version:012d}"


def outbox_intent_id(record: str) -> str:
    return f"outbox:{record}"


def timer_doc_id(timer_id: str) -> str:
    return f"timer:{timer_id}"


@dataclass
class Loaded(Generic[S]):
    id: str
    version: int
    state: S | None
    applied: list[str] = field(default_factory=list)
    outbox: list[OutboxEntry] = field(default_factory=list)
    """The events of this version's own commit."""
    timers: list[TimerEntry] = field(default_factory=list)
    """Timers armed and not yet applied."""
    trimmed_at: datetime | None = None
    """When ``applied`` last forgot ids: a message claimed before then may be among them."""
    recorded: bool = False
    """Whether this version has a commit record (a projection written before commit records has not)."""

    def has_applied(self, message_id: str) -> bool:
        return message_id in self.applied


@dataclass(frozen=True)
class Pending:
    """A commit record's events (or due timers) that may still need publishing."""

    aggregate_id: str
    version: int
    entries: tuple[OutboxEntry, ...]
    updated_at: datetime | None = None
    intents: tuple[str, ...] = ()
    """The ``X_inflight`` documents to delete once the entries are published."""


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a message id in the ledger."""

    first: bool
    """No earlier delivery of this id was seen."""
    conflict: bool = False
    """The id was seen before with another message (type, customer or payload)."""
    claimed_at: datetime | None = None


@dataclass
class Commit(Generic[S]):
    """The next version of one aggregate: the messages applied since ``loaded`` and what they left."""

    loaded: Loaded[S]
    state: S | None
    applied: list[str]
    outbox: list[OutboxEntry]
    timers: list[TimerEntry]
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    """When it is written (the store's clock, not the messages'): for grace periods and takeovers."""
    writer: str = field(default_factory=lambda: uuid4().hex)
    """Tells this commit's record apart from another writer's record of the same version."""

    @property
    def version(self) -> int:
        return self.loaded.version + 1

    @property
    def record(self) -> str:
        return record_id(self.loaded.id, self.version)

    def document(self) -> Document:
        kept = [t for t in self.loaded.timers if t.id not in self.applied] + self.timers
        applied = [*self.loaded.applied, *self.applied]
        trimmed_at = self.loaded.trimmed_at
        if len(applied) > KEEP_APPLIED:
            applied, trimmed_at = applied[-KEEP_APPLIED:], self.at
        return {
            "version": self.version,
            "state": self.state.model_dump(mode="json") if self.state is not None else None,
            "applied": applied,
            "trimmed_at": trimmed_at,
            "outbox": [e.to_document() for e in self.outbox],
            "timers": [t.to_document() for t in kept],
            "updated_at": self.at,
            "writer": self.writer,
        }

    def after(self, document: Document) -> Loaded[S]:
        """What a load returns once this commit is in."""
        return Loaded(
            self.loaded.id,
            self.version,
            self.state,
            list(document["applied"]),
            list(self.outbox),
            [TimerEntry.from_document(t) for t in document["timers"]],
            document["trimmed_at"],
            recorded=True,
        )


def _duplicates(exc: BulkWriteError) -> set[int]:
    """The indexes refused as duplicate keys; raises again on any other write error."""
    errors = exc.details.get("writeErrors", [])
    if any(e.get("code") != 11000 for e in errors):
        raise exc
    return {int(e["index"]) for e in errors}


async def insert_unordered(collection: AsyncCollection[Document], documents: Sequence[Document]) -> set[int]:
    """Inserts every document whose ``_id`` is new, in one command; returns the duplicates' indexes."""
    if not documents:
        return set()
    if len(documents) == 1:
        try:
            await collection.insert_one(documents[0])
        except DuplicateKeyError:
            return {0}
        return set()
    try:
        await collection.insert_many(list(documents), ordered=False)
    except BulkWriteError as exc:
        return _duplicates(exc)
    return set()


class AggregateStore(Generic[S]):
    def __init__(self, collection: AsyncCollection[Document], state_type: type[S]) -> None:
        self.collection = collection
        database = collection.database
        self.commits = database[f"{collection.name}_commits"]
        self.inflight = database[f"{collection.name}_inflight"]
        self.received = database["received"]
        self.state_type = state_type
        self.write_chunk = WRITE_CHUNK
        self._fresh: dict[str, Pending] = {}
        """What this process just committed with events, by record, for its relay (no query)."""
        self._published: OrderedDict[str, None] = OrderedDict()
        """Records whose events this process published."""
        self._superseded: list[str] = []
        """Replaced records whose events are published: to delete in one command."""
        self._superseded_when_published: set[str] = set()

    async def ensure_indexes(self) -> None:
        await self.commits.create_index([("aggregate", ASCENDING)])
        await self.collection.create_index([("record", ASCENDING)])
        await self.inflight.create_index([("kind", ASCENDING), ("due_at", ASCENDING)])
        await self.received.create_index([("at", ASCENDING)])

    # -- the write path

    async def claim_many(self, claims: Sequence[tuple[str, str]]) -> list[Claim]:
        """Records each ``(message_id, digest)``: one insert, and one read for ids seen before."""
        now = datetime.now(UTC)
        first_index: dict[str, int] = {}
        for index, (message_id, _) in enumerate(claims):
            first_index.setdefault(message_id, index)
        unique = list(first_index)
        digests = {m: claims[i][1] for m, i in first_index.items()}
        refused = await insert_unordered(
            self.received, [{"_id": m, "digest": digests[m], "at": now} for m in unique]
        )
        seen_ids = [unique[i] for i in refused]
        earlier: dict[str, Document] = {}
        if seen_ids:
            async for doc in self.received.find({"_id": {"$in": seen_ids}}):
                earlier[str(doc["_id"])] = doc
        results = []
        for index, (message_id, digest) in enumerate(claims):
            if first_index[message_id] == index and message_id not in earlier:
                results.append(Claim(first=True))  # new, or pruned in between (past the retention)
                continue
            doc = earlier.get(message_id, {"digest": digests[message_id], "at": now})
            results.append(
                Claim(first=False, conflict=doc.get("digest") != digest, claimed_at=_when(doc.get("at")))
            )
        return results

    async def claim(self, message_id: str, digest: str) -> Claim:
        return (await self.claim_many([(message_id, digest)]))[0]

    async def load_many(self, aggregate_ids: Iterable[str]) -> dict[str, Loaded[S]]:
        """The newest version of each aggregate: one query, and one more for any never recorded."""
        ids = list(dict.fromkeys(aggregate_ids))
        if not ids:
            return {}
        newest: dict[str, Document] = {}
        async for doc in self.commits.find({"aggregate": {"$in": ids}}):
            current = newest.get(doc["aggregate"])
            if current is None or current["version"] < doc["version"]:
                newest[doc["aggregate"]] = doc
        loaded = {a: self._loaded(a, doc, recorded=True) for a, doc in newest.items()}
        missing = [a for a in ids if a not in loaded]
        if missing:
            async for doc in self.collection.find({"_id": {"$in": missing}}):
                loaded[str(doc["_id"])] = self._loaded(str(doc["_id"]), doc, recorded=False)
        return {a: loaded.get(a) or Loaded(a, 0, None) for a in ids}

    async def load(self, aggregate_id: str) -> Loaded[S]:
        return (await self.load_many([aggregate_id]))[aggregate_id]

    def _loaded(self, aggregate_id: str, doc: Document, *, recorded: bool) -> Loaded[S]:
        state = self.state_type.model_validate(doc["state"]) if doc.get("state") is not None else None
        return Loaded(
            aggregate_id,
            int(doc["version"]),
            state,
            list(doc.get("applied", [])),
            [OutboxEntry.from_document(e) for e in doc.get("outbox", [])] if recorded else [],
            [TimerEntry.from_document(t) for t in doc.get("timers", [])],
            _when(doc.get("trimmed_at")),
            recorded,
        )

    async def commit_many(self, commits: Sequence[Commit[S]]) -> tuple[list[Loaded[S]], list[Commit[S]]]:
        """Writes each commit's record; returns the new versions and the commits another writer beat.

        Intents first (the events' outbox intent, the armed timers), then the records in one
        unordered insert, then the projections in chunks of ``write_chunk`` statements.
        """
        intents: list[Document] = []
        for commit in commits:
            if commit.outbox:
                intents.append(
                    {
                        "_id": outbox_intent_id(commit.record),
                        "kind": "outbox",
                        "aggregate": commit.loaded.id,
                        "record": commit.record,
                        "at": commit.at,
                    }
                )
            intents += [
                {"_id": timer_doc_id(t.id), "kind": "timer", "aggregate": commit.loaded.id, "at": commit.at}
                | t.to_document()
                for t in commit.timers
            ]
        await insert_unordered(self.inflight, intents)
        documents = [c.document() for c in commits]
        beaten = await insert_unordered(
            self.commits,
            [
                {"_id": c.record, "aggregate": c.loaded.id, **d}
                for c, d in zip(commits, documents, strict=True)
            ],
        )
        if beaten:
            beaten -= await self._own_records({i: commits[i] for i in beaten})
        written = [(c, d) for i, (c, d) in enumerate(zip(commits, documents, strict=True)) if i not in beaten]
        await self.project_many([(c.loaded.id, _projection_of(d)) for c, d in written])
        for commit, _ in written:
            self._note_committed(commit)
        return [c.after(d) for c, d in written], [c for i, c in enumerate(commits) if i in beaten]

    async def _own_records(self, refused: dict[int, Commit[S]]) -> set[int]:
        """The refused indexes whose record is this writer's own after all: a write retried after
        it had gone in (by the driver or the server) is refused as a duplicate of itself."""
        ours = {c.record: c.writer for c in refused.values()}
        found: set[str] = set()
        async for doc in self.commits.find({"_id": {"$in": list(ours)}}, {"writer": 1}):
            if doc.get("writer") == ours.get(str(doc["_id"])):
                found.add(str(doc["_id"]))
        return {i for i, c in refused.items() if c.record in found}

    async def save(
        self,
        loaded: Loaded[S],
        state: S | None,
        message_id: str,
        outbox: list[OutboxEntry],
        timers: list[TimerEntry] | None = None,
    ) -> int:
        """Commits one message's decision as the next version; raises ``ConcurrencyConflict``
        when another writer committed that version first."""
        commit = Commit(loaded, state, [message_id], outbox, timers or [])
        written, beaten = await self.commit_many([commit])
        if beaten:
            raise ConcurrencyConflict(loaded.id)
        return written[0].version

    def _note_committed(self, commit: Commit[S]) -> None:
        previous = record_id(commit.loaded.id, commit.loaded.version)
        if commit.loaded.recorded:
            if not commit.loaded.outbox or previous in self._published:
                self._superseded.append(previous)
            elif previous in self._fresh:
                self._superseded_when_published.add(previous)
            # else: another process's events, maybe unpublished: housekeeping deletes it later
        if commit.outbox:
            self._fresh[commit.record] = Pending(
                commit.loaded.id,
                commit.version,
                tuple(commit.outbox),
                commit.at,
                (outbox_intent_id(commit.record),),
            )

    async def project_many(self, documents: Sequence[tuple[str, Document]]) -> None:
        """Rolls each projection forward: two commands whatever the number of aggregates.

        The projections showing one of the few versions before the new one are deleted (by their
        ``record``, in one ``$in``), then the new ones inserted unordered. A projection showing a
        newer version is never deleted, and it refuses the older one's insert as a duplicate. On
        FerretDB every update statement scans the collection, so this costs one scan where
        updating each projection cost one per aggregate. Between the two commands a query may
        briefly miss an aggregate; loads never read projections.
        """
        latest: dict[str, Document] = {}
        for aggregate_id, document in documents:
            if aggregate_id not in latest or latest[aggregate_id]["version"] < document["version"]:
                latest[aggregate_id] = document
        for chunk in _chunks(list(latest.items()), self.write_chunk * 40):
            superseded = [
                record_id(a, v)
                for a, d in chunk
                for v in range(max(0, d["version"] - SUPERSEDED_SEEN), d["version"])
            ]
            await self.collection.delete_many({"record": {"$in": superseded}})
            kept = await insert_unordered(
                self.collection, [{"_id": a, "record": record_id(a, d["version"]), **d} for a, d in chunk]
            )
            await self._roll_forward([chunk[i] for i in sorted(kept)])

    async def _roll_forward(self, documents: Sequence[tuple[str, Document]]) -> None:
        """Projections still there after the delete: newer ones stay; one further behind than
        ``SUPERSEDED_SEEN`` versions (after a race) is rolled forward by a guarded update."""
        statements = [
            {
                "q": {"_id": a, "version": {"$lt": d["version"]}},
                "u": {"$set": {"record": record_id(a, d["version"]), **d}},
            }
            for a, d in documents
        ]
        for chunk in _chunks(statements, self.write_chunk):
            await self.collection.database.command(
                {"update": self.collection.name, "updates": chunk, "ordered": False}
            )

    async def project(self, aggregate_id: str, document: Document) -> None:
        await self.project_many([(aggregate_id, document)])

    # -- what this process committed, for its relay

    def take_fresh(self) -> list[Pending]:
        """The events this process committed since the last call, oldest first."""
        fresh, self._fresh = list(self._fresh.values()), {}
        return fresh

    def return_fresh(self, items: list[Pending]) -> None:
        """Events whose publishing failed, kept for the next try."""
        self._fresh = {record_id(i.aggregate_id, i.version): i for i in items} | self._fresh

    def owes(self, record: str) -> bool:
        """Whether this process committed ``record`` and has not published its events yet."""
        return record in self._fresh

    @property
    def unpublished(self) -> int:
        return sum(len(p.entries) for p in self._fresh.values())

    async def published(self, items: Sequence[Pending]) -> None:
        """The entries of ``items`` are on their topics: their intents go, in one command."""
        intents = [i for item in items for i in item.intents]
        if intents:
            await self.inflight.delete_many({"_id": {"$in": intents}})
        for item in items:
            record = record_id(item.aggregate_id, item.version)
            self._published[record] = None
            if record in self._superseded_when_published:
                self._superseded_when_published.discard(record)
                self._superseded.append(record)
        while len(self._published) > PUBLISHED_MEMORY:
            self._published.popitem(last=False)

    # -- for the recovery pass and the timer sweeper, which never write an aggregate

    async def intents(self, kind: str, query: Document | None = None) -> list[Document]:
        return [d async for d in self.inflight.find({"kind": kind, **(query or {})})]

    async def records(self, ids: Sequence[str]) -> dict[str, Document]:
        if not ids:
            return {}
        return {str(d["_id"]): d async for d in self.commits.find({"_id": {"$in": list(ids)}})}

    async def forget_intents(self, ids: Sequence[str]) -> None:
        if ids:
            await self.inflight.delete_many({"_id": {"$in": list(ids)}})

    # -- housekeeping

    async def delete_superseded(self) -> int:
        """Deletes the replaced records whose events are published (never an aggregate's newest)."""
        if not self._superseded:
            return 0
        batch, self._superseded = self._superseded, []
        result = await self.commits.delete_many({"_id": {"$in": batch}})
        return int(result.deleted_count)

    async def housekeep(self, now: datetime) -> None:
        """Completes what a crash left: projections behind their newest record, superseded records
        nobody deleted (once no intent says their events are unpublished); prunes claimed ids."""
        settled = now - COMMIT_GRACE
        records: dict[str, list[tuple[int, datetime | None]]] = {}
        async for doc in self.commits.find(
            {}, projection={"aggregate": True, "version": True, "updated_at": True}
        ):
            records.setdefault(doc["aggregate"], []).append(
                (int(doc["version"]), _when(doc.get("updated_at")))
            )
        owed = {str(d.get("record")) for d in await self.intents("outbox")}
        stale: list[str] = []
        heads: dict[str, int] = {}
        for aggregate_id, versions in records.items():
            versions.sort()
            head, head_at = versions[-1]
            if head_at is None or head_at <= settled:
                heads[aggregate_id] = head
            stale += [
                record_id(aggregate_id, v)
                for v, at in versions[:-1]
                if (at is None or at <= settled) and record_id(aggregate_id, v) not in owed
            ]
        if heads:
            projected = {
                str(d["_id"]): int(d.get("version", 0))
                async for d in self.collection.find(
                    {"_id": {"$in": list(heads)}}, projection={"version": True}
                )
            }
            behind = [record_id(a, h) for a, h in heads.items() if projected.get(a, 0) < h]
            found = await self.records(behind)
            await self.collection.delete_many({"_id": {"$in": [d["aggregate"] for d in found.values()]}})
            await self.project_many([(d["aggregate"], _projection_of(d)) for d in found.values()])
        if stale:
            await self.commits.delete_many({"_id": {"$in": stale}})
        await self.received.delete_many({"at": {"$lt": now - RECEIVED_RETENTION}})


PROJECTED = ("version", "state", "updated_at")


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _projection_of(record: Document) -> Document:
    """What queries read of an aggregate: its version and state (the rest stays in its record)."""
    return {k: record[k] for k in PROJECTED if k in record}
