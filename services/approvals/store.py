"""Persistence of the approvals service: the customers' aggregates and the work-list projection.

``approvals`` holds one aggregate per customer (see :mod:`services.approvals.domain`; its store
is the kit's, from ``services.approvals.spec.SPEC``).
``work_items`` is a projection, one document per request, rewritten from the aggregate's state
after every handled message (also after a duplicate delivery, so a crash between the aggregate's
save and the projection's write heals on redelivery). Rewriting from state is idempotent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from contracts.base import Role
from contracts.envelope import Envelope
from kit.processing import Outcome
from kit.store import AggregateStore
from services.approvals.domain import CustomerApprovals, PendingRequest, RequestStatus

Document = dict[str, Any]

BULK_LIMIT = 50
"""Statements per bulk write: an update command with 100 or more hangs FerretDB 1.24."""


def work_item(csid: str, book: CustomerApprovals, request: PendingRequest) -> Document:
    """The work-list document of one request."""
    return {
        "_id": str(request.request_id),
        "csid": csid,
        "status": request.status.value,
        "roles": [r.value for r in request.deciding_roles],
        "required_role": request.required_role.value,
        "escalated": request.escalated,
        "subject_type": request.subject_type.value,
        "subject_id": request.subject_id,
        "chain_id": request.chain_id,
        "summary": request.summary,
        "requested_by": request.requested_by.officer_id,
        "barred_officer_ids": sorted(
            {request.requested_by.officer_id, *book.earlier_stage_officers(request)}
        ),
        "requested_at": request.requested_at,
        "due_at": request.due_at,
    }


class ApprovalsStore:
    """The work-list projection over the customers' aggregates (built by the spec's stores)."""

    def __init__(
        self, aggregates: AggregateStore[CustomerApprovals], database: AsyncDatabase[Document]
    ) -> None:
        self.aggregates = aggregates
        self.work_items: AsyncCollection[Document] = database["work_items"]

    async def ensure_indexes(self) -> None:
        await self.work_items.create_index([("status", ASCENDING), ("due_at", ASCENDING)])

    async def project(self, envelope: Envelope, message: object, outcome: Outcome) -> None:
        """Rewrites the work items of the envelope's customer's requests from the stored aggregate
        (the kit runs it after every handled message, whatever its outcome).

        Each item carries the aggregate version it was written from and is replaced only by an
        equal or newer one. Writes go in batches under FerretDB's limit of 100 statements.
        """
        csid = envelope.csid
        loaded = await self.aggregates.load(csid)
        book = loaded.state
        if book is None or not book.requests:
            return
        writes = [
            ReplaceOne(
                {"_id": str(r.request_id), "version": {"$lte": loaded.version}},
                {**work_item(csid, book, r), "version": loaded.version},
                upsert=True,
            )
            for r in book.requests.values()
        ]
        for start in range(0, len(writes), BULK_LIMIT):
            try:
                await self.work_items.bulk_write(writes[start : start + BULK_LIMIT], ordered=False)
            except BulkWriteError as exc:  # a duplicate key: a newer version is already there
                if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                    raise

    async def pending_for(self, role: Role, limit: int) -> list[Document]:
        """Pending requests a holder of ``role`` may decide, oldest due first."""
        cursor = (
            self.work_items.find({"status": RequestStatus.PENDING.value, "roles": role.value})
            .sort([("due_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [doc async for doc in cursor]

    async def requested_by(self, officer_id: str, limit: int) -> list[Document]:
        """Pending requests ``officer_id`` raised (awaiting someone else's decision)."""
        cursor = (
            self.work_items.find({"status": RequestStatus.PENDING.value, "requested_by": officer_id})
            .sort([("due_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [doc async for doc in cursor]


def is_overdue(doc: Document, now: datetime) -> bool:
    due: datetime = doc["due_at"]
    if due.tzinfo is None:  # a store that hands back naive UTC
        due = due.replace(tzinfo=UTC)
    return due <= now
