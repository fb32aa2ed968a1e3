"""One document per aggregate: state, version, applied message ids, outbox and timers.

    {_id, version, state, applied: [ids], outbox: [entries], pending, timers: [entries], next_due}

Every change is one conditional single-document write by the aggregate's **only writer**: the
handler of the partition its messages are keyed to. Nothing else ever writes that document.

Why a single writer: FerretDB 1.24 (SQLite) does not make an update atomic with the filter it
matched. Forty concurrent ``update_one({_id, version: v}, …)`` calls all reported a match and
only six survived (docs/decisions/0003-single-writer-aggregates.md). So the relay and the timer
sweeper never update the aggregate: they *insert* a marker ``{_id: message id}`` into the
``<collection>_sent`` collection when they have published an event or fired a timer (an insert
under a unique ``_id`` is atomic on both stores). The handler drops marked entries from the
outbox and timers at its next save. ``version`` still guards against a second writer where the
store honours it (MongoDB), and ``applied`` makes redelivery harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from kit.errors import ConcurrencyConflict

S = TypeVar("S", bound=BaseModel)
Document = dict[str, Any]

KEEP_APPLIED = 1000
"""How many applied message ids an aggregate remembers; redeliveries come far sooner."""


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


@dataclass
class Loaded(Generic[S]):
    id: str
    version: int
    state: S | None
    applied: list[str] = field(default_factory=list)
    outbox: list[OutboxEntry] = field(default_factory=list)
    timers: list[TimerEntry] = field(default_factory=list)

    def has_applied(self, message_id: str) -> bool:
        return message_id in self.applied


@dataclass(frozen=True)
class Pending:
    """An aggregate's outbox entries or due timers that may still need publishing."""

    aggregate_id: str
    version: int
    entries: tuple[OutboxEntry, ...]
    updated_at: datetime | None = None


class AggregateStore(Generic[S]):
    def __init__(self, collection: AsyncCollection[Document], state_type: type[S]) -> None:
        self.collection = collection
        self.sent = collection.database[f"{collection.name}_sent"]
        self.state_type = state_type
        self.written: dict[str, int] = {}
        """Aggregates this process saved, by version, whose outbox its relay has not yet published."""

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("pending", ASCENDING)])
        await self.collection.create_index([("next_due", ASCENDING)])

    async def load(self, aggregate_id: str) -> Loaded[S]:
        doc = await self.collection.find_one({"_id": aggregate_id})
        if doc is None:
            return Loaded(aggregate_id, 0, None)
        state = self.state_type.model_validate(doc["state"]) if doc.get("state") is not None else None
        return Loaded(
            aggregate_id,
            int(doc["version"]),
            state,
            list(doc.get("applied", [])),
            [OutboxEntry.from_document(e) for e in doc.get("outbox", [])],
            [TimerEntry.from_document(t) for t in doc.get("timers", [])],
        )

    async def save(
        self,
        loaded: Loaded[S],
        state: S | None,
        message_id: str,
        outbox: list[OutboxEntry],
        timers: list[TimerEntry] | None = None,
    ) -> int:
        """Writes state, applied id, outbox and timers in one conditional update; returns the version.

        Entries the relay or sweeper has marked as sent are dropped here, as is the timer whose
        command is being applied. Raises ``ConcurrencyConflict`` when the version moved.
        """
        sent = await self.sent_ids([e.id for e in loaded.outbox] + [t.id for t in loaded.timers])
        kept_outbox = [e for e in loaded.outbox if e.id not in sent] + outbox
        kept_timers = [t for t in loaded.timers if t.id not in sent and t.id != message_id] + (timers or [])
        document = {
            "version": loaded.version + 1,
            "state": state.model_dump(mode="json") if state is not None else None,
            "applied": [*loaded.applied, message_id][-KEEP_APPLIED:],
            "outbox": [e.to_document() for e in kept_outbox],
            "pending": bool(kept_outbox),
            "timers": [t.to_document() for t in kept_timers],
            "next_due": min((t.due_at for t in kept_timers), default=None),
            "updated_at": datetime.now(UTC),
        }
        if loaded.version == 0:
            try:
                await self.collection.insert_one({"_id": loaded.id, **document})
            except DuplicateKeyError:
                raise ConcurrencyConflict(loaded.id) from None
        else:
            result = await self.collection.update_one(
                {"_id": loaded.id, "version": loaded.version}, {"$set": document}
            )
            if result.matched_count != 1:
                raise ConcurrencyConflict(loaded.id)
        if kept_outbox:
            self.written[loaded.id] = loaded.version + 1
        return loaded.version + 1

    # -- for the relay and the sweeper, which never write the aggregate

    async def sent_ids(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        return {str(d["_id"]) async for d in self.sent.find({"_id": {"$in": ids}}, projection={"_id": True})}

    async def mark_sent(self, ids: list[str]) -> None:
        if not ids:
            return
        now = datetime.now(UTC)
        try:
            await self.sent.insert_many([{"_id": i, "at": now} for i in ids], ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise

    async def pending(self, limit: int = 0) -> list[Pending]:
        found: list[Pending] = []
        cursor = self.collection.find(
            {"pending": True}, projection={"outbox": True, "version": True, "updated_at": True}
        ).limit(limit)
        async for doc in cursor:
            entries = tuple(OutboxEntry.from_document(e) for e in doc.get("outbox", []))
            updated = doc.get("updated_at")
            found.append(
                Pending(str(doc["_id"]), int(doc["version"]), entries, _aware(updated) if updated else None)
            )
        return found

    async def due_timers(self, now: datetime, limit: int = 0) -> list[Pending]:
        found: list[Pending] = []
        cursor = self.collection.find(
            {"next_due": {"$lte": now}}, projection={"timers": True, "version": True}
        ).limit(limit)
        async for doc in cursor:
            timers = [TimerEntry.from_document(t) for t in doc.get("timers", [])]
            due = tuple(t for t in timers if t.due_at <= now)
            found.append(Pending(str(doc["_id"]), int(doc["version"]), due))
        return found

    async def backlog(self) -> int:
        """Aggregates whose outbox the handler has not yet emptied (some may already be sent)."""
        return await self.collection.count_documents({"pending": True})
