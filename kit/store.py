"""One document per aggregate: state, version, applied message ids and the outbox.

Every change is one conditional single-document write, so it is atomic on MongoDB and on
FerretDB alike without transactions:

    {_id, version, state, applied: [message ids], outbox: [entries], pending: bool, updated_at}

``version`` is the optimistic-concurrency guard; ``applied`` makes redelivery harmless;
``outbox`` holds events not yet published and ``pending`` says there are some, so the relay
finds them with an indexed query. The relay removes published entries with ``$pullAll`` and never
touches ``version``, so it cannot collide with a handler's save.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

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


@dataclass(frozen=True)
class TimerEntry:
    id: str
    due_at: datetime
    topic: str
    key: str
    message_type: str
    value: str

    def to_document(self) -> Document:
        return {
            "id": self.id,
            "due_at": self.due_at,
            "topic": self.topic,
            "key": self.key,
            "type": self.message_type,
            "value": self.value,
        }


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass
class Loaded(Generic[S]):
    id: str
    version: int
    state: S | None
    applied: list[str] = field(default_factory=list)
    next_due: datetime | None = None

    def has_applied(self, message_id: str) -> bool:
        return message_id in self.applied


@dataclass(frozen=True)
class PendingOutbox:
    aggregate_id: str
    collection: str
    version: int
    entries: tuple[OutboxEntry, ...]


def open_database(client: AsyncMongoClient[Document], name: str) -> AsyncDatabase[Document]:
    return client[name]


class AggregateStore(Generic[S]):
    def __init__(self, collection: AsyncCollection[Document], state_type: type[S]) -> None:
        self.collection = collection
        self.state_type = state_type

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("pending", ASCENDING)])
        await self.collection.create_index([("next_due", ASCENDING)])

    async def load(self, aggregate_id: str) -> Loaded[S]:
        doc = await self.collection.find_one(
            {"_id": aggregate_id}, projection={"outbox": False, "timers": False}
        )
        if doc is None:
            return Loaded(aggregate_id, 0, None, [])
        state = self.state_type.model_validate(doc["state"]) if doc.get("state") is not None else None
        return Loaded(
            aggregate_id, int(doc["version"]), state, list(doc.get("applied", [])), doc.get("next_due")
        )

    async def save(
        self,
        loaded: Loaded[S],
        state: S | None,
        message_id: str,
        outbox: list[OutboxEntry],
        timers: list[TimerEntry] | None = None,
    ) -> int:
        """Writes the new state, the applied id, the outbox and new timers in one conditional update.

        Raises ``ConcurrencyConflict`` when someone else saved since ``loaded`` was read.
        Returns the new version.
        """
        now = datetime.now(UTC)
        applied = [*loaded.applied, message_id][-KEEP_APPLIED:]
        state_doc = state.model_dump(mode="json") if state is not None else None
        entries = [e.to_document() for e in outbox]
        new_timers = [t.to_document() for t in timers or []]
        dues = [t.due_at for t in timers or []] + ([loaded.next_due] if loaded.next_due else [])
        next_due = min(dues) if dues else None
        if loaded.version == 0:
            try:
                await self.collection.insert_one(
                    {
                        "_id": loaded.id,
                        "version": 1,
                        "state": state_doc,
                        "applied": applied,
                        "outbox": entries,
                        "pending": bool(entries),
                        "timers": new_timers,
                        "next_due": next_due,
                        "updated_at": now,
                    }
                )
            except DuplicateKeyError:
                raise ConcurrencyConflict(loaded.id) from None
            return 1
        update: Document = {
            "$set": {
                "version": loaded.version + 1,
                "state": state_doc,
                "applied": applied,
                "updated_at": now,
                **({"pending": True} if entries else {}),
                **({"next_due": next_due} if new_timers else {}),
            }
        }
        push: Document = {}
        if entries:
            push["outbox"] = {"$each": entries}
        if new_timers:
            push["timers"] = {"$each": new_timers}
        if push:
            update["$push"] = push
        result = await self.collection.update_one({"_id": loaded.id, "version": loaded.version}, update)
        if result.matched_count != 1:
            raise ConcurrencyConflict(loaded.id)
        return loaded.version + 1

    async def pending(self, limit: int = 100) -> list[PendingOutbox]:
        found: list[PendingOutbox] = []
        cursor = self.collection.find({"pending": True}, projection={"outbox": True, "version": True}).limit(
            limit
        )
        async for doc in cursor:
            entries = tuple(OutboxEntry.from_document(e) for e in doc.get("outbox", []))
            found.append(PendingOutbox(str(doc["_id"]), self.collection.name, int(doc["version"]), entries))
        return found

    async def published(self, pending: PendingOutbox) -> None:
        """Removes published entries; clears ``pending`` only if nothing was saved meanwhile."""
        # FerretDB 1.24 silently ignores $pull with a condition on sub-document fields;
        # $pullAll with the exact entries works on both stores.
        pull = {"$pullAll": {"outbox": [e.to_document() for e in pending.entries]}}
        result = await self.collection.update_one(
            {"_id": pending.aggregate_id, "version": pending.version}, {**pull, "$set": {"pending": False}}
        )
        if result.matched_count == 0:
            await self.collection.update_one({"_id": pending.aggregate_id}, pull)

    async def due_timers(self, now: datetime, limit: int = 100) -> list[tuple[str, list[Document]]]:
        found = []
        cursor = self.collection.find({"next_due": {"$lte": now}}, projection={"timers": True}).limit(limit)
        async for doc in cursor:
            due = [t for t in doc.get("timers", []) if _aware(t["due_at"]) <= now]
            found.append((str(doc["_id"]), due))
        return found

    async def timers_fired(self, aggregate_id: str, fired: list[Document]) -> None:
        """Removes fired timers (exact entries) and recomputes ``next_due`` from what is left."""
        if fired:
            await self.collection.update_one({"_id": aggregate_id}, {"$pullAll": {"timers": fired}})
        doc = await self.collection.find_one(
            {"_id": aggregate_id}, projection={"timers": True, "version": True}
        )
        if doc is None:
            return
        remaining = [_aware(t["due_at"]) for t in doc.get("timers", [])]
        await self.collection.update_one(
            {"_id": aggregate_id, "version": doc["version"]},
            {"$set": {"next_due": min(remaining) if remaining else None}},
        )

    async def backlog(self) -> int:
        return await self.collection.count_documents({"pending": True})
