"""Persistence of casework besides the kit's aggregates: the work-list projection (one document
per task) and the leave-cover projection, rewritten from the aggregates after each message that
can change them, and the queries the work lists, the timeline and the leave covers' facts read.

A document carries the aggregate version it was written from and is replaced only by an equal or
newer one, so a late or repeated projection never overwrites a newer one. Writes go in chunks
under FerretDB 1.24's limit (an update command of 100 statements or more hangs it).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pymongo import ASCENDING, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from contracts.catalogue.casework import TaskStatus
from kit.store import AggregateStore
from services.casework.domain.state import ActiveCover, CaseFile, CoverStatus, LeaveCover, Task

Document = dict[str, Any]
BULK_LIMIT = 50
OPEN = [TaskStatus.OPEN.value, TaskStatus.CLAIMED.value]


def work_item(csid: str, task: Task) -> Document:
    """The work-list document of one task."""
    a = task.assignee
    escalated = task.escalated_to
    return {
        "_id": str(task.task_id),
        "csid": csid,
        "kind": task.kind.value,
        "title": task.title,
        "status": task.status.value,
        "officer_id": a.officer_id,
        "team": a.team,
        "role": a.role.value if a.role else None,
        "claimed_by": task.claimed_by.officer_id if task.claimed_by else None,
        "opened_at": task.opened_at,
        "due_at": task.due_at,
        "warned": task.warned_at is not None,
        "breached": task.breached_at is not None,
        "escalated_team": escalated.team if escalated else None,
        "escalated_role": escalated.role.value if escalated and escalated.role else None,
        "paused": task.paused_at is not None,
        "pause_reason": task.pause_reason,
        "cover_id": str(task.cover_id) if task.cover_id else None,
        "source_message_type": task.source_message_type,
    }


def aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class CaseworkStore:
    def __init__(
        self,
        case_files: AggregateStore[CaseFile],
        leave_covers: AggregateStore[LeaveCover],
        database: AsyncDatabase[Document],
    ) -> None:
        self.case_files = case_files
        self.leave_covers = leave_covers
        self.work_items: AsyncCollection[Document] = database["work_items"]
        self.covers: AsyncCollection[Document] = database["covers"]

    async def ensure_indexes(self) -> None:
        await self.work_items.create_index([("status", ASCENDING), ("due_at", ASCENDING)])
        await self.covers.create_index([("officer_id", ASCENDING), ("status", ASCENDING)])

    # -- projections

    async def project_case(self, csid: str) -> None:
        loaded = await self.case_files.load(csid)
        case = loaded.state
        if case is None or not case.tasks:
            return
        docs = [work_item(csid, t) for t in case.tasks.values()]
        await self._replace(self.work_items, docs, loaded.version)

    async def project_cover(self, cover_id: str) -> None:
        loaded = await self.leave_covers.load(cover_id)
        cover = loaded.state
        if cover is None:
            return
        doc = {
            "_id": str(cover.cover_id),
            "officer_id": cover.officer_id,
            "cover_officer_id": cover.cover_officer_id,
            "reason": cover.reason,
            "status": cover.status,
            "starts_at": cover.starts_at,
            "ends_at": cover.ends_at,
            "arranged_by": cover.arranged_by.officer_id,
        }
        await self._replace(self.covers, [doc], loaded.version)

    @staticmethod
    async def _replace(collection: AsyncCollection[Document], docs: list[Document], version: int) -> None:
        writes = [
            ReplaceOne(
                {"_id": d["_id"], "version": {"$lte": version}}, {**d, "version": version}, upsert=True
            )
            for d in docs
        ]
        for start in range(0, len(writes), BULK_LIMIT):
            try:
                await collection.bulk_write(writes[start : start + BULK_LIMIT], ordered=False)
            except BulkWriteError as exc:  # a duplicate key: a newer version is already there
                if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                    raise

    # -- reads

    async def work_list(self, query: Document, limit: int) -> list[Document]:
        cursor = (
            self.work_items.find({"status": {"$in": OPEN}, **query})
            .sort([("due_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [doc async for doc in cursor]

    async def task(self, task_id: str) -> Document | None:
        return await self.work_items.find_one({"_id": task_id})

    async def customers_with_tasks_of(self, officer_id: str) -> tuple[str, ...]:
        docs = self.work_items.find({"status": {"$in": OPEN}, "officer_id": officer_id}, {"csid": 1})
        return tuple(sorted({d["csid"] async for d in docs}))

    async def customers_covered_by(self, cover_id: str) -> tuple[str, ...]:
        docs = self.work_items.find({"status": {"$in": OPEN}, "cover_id": cover_id}, {"csid": 1})
        return tuple(sorted({d["csid"] async for d in docs}))

    async def active_covers(self, officer_id: str) -> tuple[ActiveCover, ...]:
        docs = self.covers.find({"officer_id": officer_id, "status": CoverStatus.ACTIVE})
        return tuple(
            [
                ActiveCover(
                    cover_id=UUID(d["_id"]),
                    officer_id=d["officer_id"],
                    cover_officer_id=d["cover_officer_id"],
                    reason=d["reason"],
                )
                async for d in docs
            ]
        )

    async def leave_cover_list(self, limit: int) -> list[Document]:
        cursor = self.covers.find({"status": {"$ne": CoverStatus.ENDED}}).sort([("starts_at", ASCENDING)])
        cursor = cursor.limit(limit)
        return [doc async for doc in cursor]

    async def counts_by_status(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        async for doc in self.work_items.find({}, {"status": 1, "breached": 1}):
            counts[doc["status"]] += 1
            if doc.get("breached") and doc["status"] in OPEN:
                counts["BREACHED"] += 1
        return counts


def _newer(document_id: str, version: int) -> Document:
    return {"_id": document_id, "version": {"$lte": version}}
