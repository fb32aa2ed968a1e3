"""An aggregate's truth is an append-only chain of commit records; its document is a projection.

Three collections per aggregate kind ``X`` (docs/decisions/0005-commit-records.md):

- ``X_commits``: one record per version, ``{_id: "<aggregate>@<version:012d>", aggregate,
  version, state, applied, outbox, timers, …}``. A write is **one insert** of the next version's
  record. An insert under a unique ``_id`` is atomic on MongoDB and on FerretDB (SQLite and
  PostgreSQL), so a second writer of the same version always gets a conflict, never a silent
  overwrite. State, applied ids, outgoing events and timers change together in that one record.
- ``X``: the projection ``{_id: aggregate, version, state, …}`` that read models and queries use.
  It is rolled forward after the insert, guarded by ``version < new``; on FerretDB that guard is
  not atomic, so the projection may briefly lag or regress under a race, never the truth.
- ``X_sent``: markers ``{_id: entry id}`` for published events and fired timers.

A load reads the newest commit record (one query). Superseded records are deleted once a newer
one exists; deleting a record that is not the newest never changes a load. A crash between any
two steps leaves either no new record (nothing happened; the message is redelivered) or a new
record whose projection and publishing the next load, the relay or the housekeeping sweep
completes.

Message ids are claimed in the database-wide ``received`` ledger with a digest of the message,
so a redelivery is recognised across aggregates and beyond an aggregate's recent ``applied``
ids, and an id reused for another message is told apart (``id_conflict``).
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from kit.errors import ConcurrencyConflict

S = TypeVar("S", bound=BaseModel)
Document = dict[str, Any]

KEEP_APPLIED = 1000
"""How many applied message ids an aggregate keeps beside the ledger (covers a crash's redelivery)."""
SENT_RETENTION = timedelta(hours=1)
"""How long a sent marker outlives the publish it records; superseded records go within seconds."""
RECEIVED_RETENTION = timedelta(days=7)
"""How long a claimed message id is remembered: Kafka's default retention, so any redelivery."""
KNOWN_SENT_LIMIT = 100_000
COMMIT_GRACE = timedelta(seconds=30)
"""How old a commit record must be before housekeeping repairs its projection or deletes it."""


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


def record_id(aggregate_id: str, version: int) -> str:
    """A commit record's ``_id``: zero-padded so the newest version sorts last."""
    return f"{aggregate_id}@{version:012d}"


def _records_of(aggregate_id: str) -> Document:
    return {"_id": {"$gte": f"{aggregate_id}@", "$lt": f"{aggregate_id}@:"}, "aggregate": aggregate_id}


@dataclass
class Loaded(Generic[S]):
    id: str
    version: int
    state: S | None
    applied: list[str] = field(default_factory=list)
    outbox: list[OutboxEntry] = field(default_factory=list)
    timers: list[TimerEntry] = field(default_factory=list)
    trimmed_at: datetime | None = None
    """When ``applied`` last forgot ids: a message claimed before then may be among them."""
    recorded: bool = False
    """Whether this version has a commit record (a projection written before commit records has not)."""

    def has_applied(self, message_id: str) -> bool:
        return message_id in self.applied


@dataclass(frozen=True)
class Pending:
    """An aggregate's outbox entries or due timers that may still need publishing."""

    aggregate_id: str
    version: int
    entries: tuple[OutboxEntry, ...]
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a message id in the ledger."""

    first: bool
    """No earlier delivery of this id was seen."""
    conflict: bool = False
    """The id was seen before with another message (type, customer or payload)."""
    claimed_at: datetime | None = None


class AggregateStore(Generic[S]):
    def __init__(self, collection: AsyncCollection[Document], state_type: type[S]) -> None:
        self.collection = collection
        database = collection.database
        self.commits = database[f"{collection.name}_commits"]
        self.sent = database[f"{collection.name}_sent"]
        self.received = database["received"]
        self.state_type = state_type
        self._written: dict[str, int] = {}
        """Aggregates this process committed, by version, whose outbox it has not yet published."""
        self._fresh: dict[str, Pending] = {}
        """What this process just committed with events, for its relay to publish without a query."""
        self._superseded: list[str] = []
        """Commit records this process replaced, to delete in batches."""
        self._known_sent: OrderedDict[str, None] = OrderedDict()

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("pending", ASCENDING)])
        await self.collection.create_index([("next_due", ASCENDING)])
        await self.commits.create_index([("pending", ASCENDING)])
        await self.commits.create_index([("next_due", ASCENDING)])
        await self.sent.create_index([("at", ASCENDING)])
        await self.received.create_index([("at", ASCENDING)])

    # -- the write path

    async def claim(self, message_id: str, digest: str) -> Claim:
        """Records that ``message_id`` arrived with ``digest``; tells a redelivery and a reuse apart."""
        try:
            await self.received.insert_one({"_id": message_id, "digest": digest, "at": datetime.now(UTC)})
            return Claim(first=True)
        except DuplicateKeyError:
            pass
        earlier = await self.received.find_one({"_id": message_id})
        if earlier is None:  # pruned in between: the earlier delivery is older than the retention
            return Claim(first=True)
        at = earlier.get("at")
        return Claim(
            first=False,
            conflict=earlier.get("digest") != digest,
            claimed_at=_aware(at) if isinstance(at, datetime) else None,
        )

    async def load(self, aggregate_id: str) -> Loaded[S]:
        cursor = self.commits.find(_records_of(aggregate_id)).sort("_id", -1).limit(1)
        found = await cursor.to_list(1)
        if found:
            return self._loaded(aggregate_id, found[0], recorded=True)
        projected = await self.collection.find_one({"_id": aggregate_id})
        if projected is None:
            return Loaded(aggregate_id, 0, None)
        return self._loaded(aggregate_id, projected, recorded=False)

    def _loaded(self, aggregate_id: str, doc: Document, *, recorded: bool) -> Loaded[S]:
        state = self.state_type.model_validate(doc["state"]) if doc.get("state") is not None else None
        trimmed = doc.get("trimmed_at")
        return Loaded(
            aggregate_id,
            int(doc["version"]),
            state,
            list(doc.get("applied", [])),
            [OutboxEntry.from_document(e) for e in doc.get("outbox", [])],
            [TimerEntry.from_document(t) for t in doc.get("timers", [])],
            _aware(trimmed) if isinstance(trimmed, datetime) else None,
            recorded,
        )

    async def save(
        self,
        loaded: Loaded[S],
        state: S | None,
        message_id: str,
        outbox: list[OutboxEntry],
        timers: list[TimerEntry] | None = None,
        now: datetime | None = None,
    ) -> int:
        """Commits the next version: one insert; returns the version.

        Entries already published and timers already fired are dropped here, as is the timer whose
        command is being applied. Raises ``ConcurrencyConflict`` when another writer committed
        this version first.
        """
        at = now or datetime.now(UTC)
        sent = await self._sent_among(loaded, at)
        kept_outbox = [e for e in loaded.outbox if e.id not in sent] + outbox
        kept_timers = [t for t in loaded.timers if t.id not in sent and t.id != message_id] + (timers or [])
        applied = [*loaded.applied, message_id]
        trimmed_at = loaded.trimmed_at
        if len(applied) > KEEP_APPLIED:
            applied, trimmed_at = applied[-KEEP_APPLIED:], datetime.now(UTC)
        version = loaded.version + 1
        document: Document = {
            "version": version,
            "state": state.model_dump(mode="json") if state is not None else None,
            "applied": applied,
            "trimmed_at": trimmed_at,
            "outbox": [e.to_document() for e in kept_outbox],
            "pending": bool(kept_outbox),
            "timers": [t.to_document() for t in kept_timers],
            "next_due": min((t.due_at for t in kept_timers), default=None),
            "updated_at": datetime.now(UTC),
        }
        try:
            await self.commits.insert_one(
                {"_id": record_id(loaded.id, version), "aggregate": loaded.id, **document}
            )
        except DuplicateKeyError:
            raise ConcurrencyConflict(loaded.id) from None
        await self.project(loaded.id, document)
        if loaded.recorded:
            self._superseded.append(record_id(loaded.id, loaded.version))
        if kept_outbox:
            self._written[loaded.id] = version
            self._fresh[loaded.id] = Pending(loaded.id, version, tuple(kept_outbox), document["updated_at"])
        else:
            self._fresh.pop(loaded.id, None)
        return version

    # -- what this process committed, for its relay

    def take_fresh(self) -> list[Pending]:
        """The outboxes this process committed since the last call (newest version per aggregate)."""
        fresh, self._fresh = list(self._fresh.values()), {}
        return fresh

    def return_fresh(self, items: list[Pending]) -> None:
        """Outboxes whose publishing failed, kept for the next try unless a newer commit replaced them."""
        for item in items:
            self._fresh.setdefault(item.aggregate_id, item)

    def wrote(self, aggregate_id: str, version: int) -> bool:
        """Whether this process committed ``version`` (or later) of the aggregate, still unpublished."""
        return self._written.get(aggregate_id, -1) >= version

    def published(self, aggregate_id: str, version: int) -> None:
        """The outbox of ``version`` is published: this process owes nothing for it any more."""
        if self._written.get(aggregate_id, version + 1) <= version:
            del self._written[aggregate_id]

    async def project(self, aggregate_id: str, document: Document) -> None:
        """Rolls the projection forward to ``document`` unless it already shows a newer version."""
        # DuplicateKeyError: the projection already holds this version or a newer one.
        with contextlib.suppress(DuplicateKeyError):
            await self.collection.update_one(
                {"_id": aggregate_id, "version": {"$lt": document["version"]}},
                {"$set": document},
                upsert=True,
            )

    async def _sent_among(self, loaded: Loaded[S], now: datetime) -> set[str]:
        """Which of the loaded outbox entries and due timers were published; asks the store only
        about those this process did not publish itself (a timer not yet due cannot have fired)."""
        candidates = [e.id for e in loaded.outbox] + [t.id for t in loaded.timers if t.due_at <= now]
        known = {i for i in candidates if i in self._known_sent}
        unknown = [i for i in candidates if i not in known]
        return known | (await self.sent_ids(unknown))

    # -- for the relay and the sweeper, which never write an aggregate

    async def sent_ids(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        return {str(d["_id"]) async for d in self.sent.find({"_id": {"$in": ids}}, projection={"_id": True})}

    def known_sent(self, entry_id: str) -> bool:
        return entry_id in self._known_sent

    async def mark_sent(self, ids: list[str]) -> None:
        if not ids:
            return
        now = datetime.now(UTC)
        try:
            await self.sent.insert_many([{"_id": i, "at": now} for i in ids], ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise
        for i in ids:
            self._known_sent[i] = None
        while len(self._known_sent) > KNOWN_SENT_LIMIT:
            self._known_sent.popitem(last=False)

    async def pending(self, limit: int = 0) -> list[Pending]:
        """The newest commit record with an outbox, per aggregate."""
        cursor = self.commits.find(
            {"pending": True},
            projection={"aggregate": True, "outbox": True, "version": True, "updated_at": True},
        ).limit(limit)
        newest: dict[str, Document] = {}
        async for doc in cursor:
            current = newest.get(doc["aggregate"])
            if current is None or current["version"] < doc["version"]:
                newest[doc["aggregate"]] = doc
        found = []
        for aggregate_id, doc in newest.items():
            entries = tuple(OutboxEntry.from_document(e) for e in doc.get("outbox", []))
            updated = doc.get("updated_at")
            found.append(
                Pending(aggregate_id, int(doc["version"]), entries, _aware(updated) if updated else None)
            )
        return found

    async def due_timers(self, now: datetime, limit: int = 0) -> list[Pending]:
        """Due timers of the newest commit record that has any, per aggregate."""
        cursor = self.commits.find(
            {"next_due": {"$lte": now}}, projection={"aggregate": True, "timers": True, "version": True}
        ).limit(limit)
        newest: dict[str, Document] = {}
        async for doc in cursor:
            current = newest.get(doc["aggregate"])
            if current is None or current["version"] < doc["version"]:
                newest[doc["aggregate"]] = doc
        found = []
        for aggregate_id, doc in newest.items():
            timers = [TimerEntry.from_document(t) for t in doc.get("timers", [])]
            due = tuple(t for t in timers if t.due_at <= now)
            found.append(Pending(aggregate_id, int(doc["version"]), due))
        return found

    # -- housekeeping

    async def delete_superseded(self) -> int:
        """Deletes the commit records this process replaced (never an aggregate's newest)."""
        if not self._superseded:
            return 0
        batch, self._superseded = self._superseded, []
        result = await self.commits.delete_many({"_id": {"$in": batch}})
        return int(result.deleted_count)

    async def housekeep(self, now: datetime) -> None:
        """Completes what a crash left: projections behind their newest record, superseded records
        nobody deleted; and prunes sent markers and claimed ids past their retention."""
        settled = now - COMMIT_GRACE
        records: dict[str, list[tuple[int, datetime | None]]] = {}
        async for doc in self.commits.find(
            {}, projection={"aggregate": True, "version": True, "updated_at": True}
        ):
            updated = doc.get("updated_at")
            records.setdefault(doc["aggregate"], []).append(
                (int(doc["version"]), _aware(updated) if isinstance(updated, datetime) else None)
            )
        stale: list[str] = []
        heads: dict[str, int] = {}
        for aggregate_id, versions in records.items():
            versions.sort()
            head, head_at = versions[-1]
            if head_at is None or head_at <= settled:
                heads[aggregate_id] = head
            stale += [record_id(aggregate_id, v) for v, at in versions[:-1] if at is None or at <= settled]
        if heads:
            projected = {
                str(d["_id"]): int(d.get("version", 0))
                async for d in self.collection.find(
                    {"_id": {"$in": list(heads)}}, projection={"version": True}
                )
            }
            for aggregate_id, head in heads.items():
                if projected.get(aggregate_id, 0) < head:
                    record = await self.commits.find_one({"_id": record_id(aggregate_id, head)})
                    if record is not None:
                        await self.project(aggregate_id, _projection_of(record))
        if stale:
            await self.commits.delete_many({"_id": {"$in": stale}})
        await self.sent.delete_many({"at": {"$lt": now - SENT_RETENTION}})
        await self.received.delete_many({"at": {"$lt": now - RECEIVED_RETENTION}})

    async def backlog(self) -> int:
        """Outbox entries committed but not yet published, over every aggregate."""
        unpublished = 0
        for item in await self.pending():
            ids = [e.id for e in item.entries if not self.known_sent(e.id)]
            unpublished += len(ids) - len(await self.sent_ids(ids))
        return unpublished


def _projection_of(record: Document) -> Document:
    return {k: v for k, v in record.items() if k not in ("_id", "aggregate")}
