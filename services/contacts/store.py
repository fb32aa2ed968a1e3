"""Persistence of the contacts service — the only module that imports pymongo.

The aggregate stores are the kit's, one per aggregate of the spec (``SPEC.stores``); this module
adds the read-model queries behind the HTTP endpoints, the facts read before deciding, and the
attachment file store (GridFS; checked to work on FerretDB 1.24 and MongoDB).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast
from uuid import UUID

from bson import ObjectId
from bson.errors import InvalidId
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from kit.store import AggregateStore
from services.contacts.domain import (
    AttachmentRecordStatus,
    AttachmentState,
    AttachmentSummary,
    CommunicationState,
    IncidentState,
    MeetingState,
    NoteState,
)
from services.contacts.spec import ATTACHMENTS, COMMUNICATIONS, INCIDENTS, MEETINGS, NOTES, SPEC

Document = dict[str, Any]
T = TypeVar("T")
_COMPLETING: set[asyncio.Future[Any]] = set()


async def completing(work: Coroutine[Any, Any, T]) -> T:
    """Runs ``work`` to its end even when the caller is cancelled meanwhile (the caller still is):
    what cleans up after a failed upload must not be cut short by the same cancellation."""
    task = asyncio.ensure_future(work)
    _COMPLETING.add(task)
    task.add_done_callback(_COMPLETING.discard)
    return await asyncio.shield(task)


class FileStore(Protocol):
    """Where attachment bytes live. ``put`` returns a reference the events carry."""

    async def put(self, content: bytes, filename: str, metadata: Document) -> str: ...

    async def get(self, ref: str) -> bytes | None: ...

    async def delete(self, ref: str) -> None: ...


class GridFsFileStore:
    """GridFS (``AsyncGridFSBucket``): chunked files in ``attachments.files`` / ``.chunks``."""

    PREFIX = "gridfs:"

    def __init__(self, db: AsyncDatabase[Document], bucket: str = "attachment_files") -> None:
        self.bucket = AsyncGridFSBucket(db, bucket_name=bucket)

    async def put(self, content: bytes, filename: str, metadata: Document) -> str:
        file_id = ObjectId()
        try:
            await self.bucket.upload_from_stream_with_id(file_id, filename, content, metadata=metadata)
        except BaseException:
            # Chunks written before a failure or a cancellation go with it.
            await completing(self._delete(file_id))
            raise
        return f"{self.PREFIX}{file_id}"

    def _id(self, ref: str) -> ObjectId | None:
        if not ref.startswith(self.PREFIX):
            return None
        try:
            return ObjectId(ref[len(self.PREFIX) :])
        except InvalidId:
            return None

    async def get(self, ref: str) -> bytes | None:
        file_id = self._id(ref)
        if file_id is None:
            return None
        try:
            stream = await self.bucket.open_download_stream(file_id)
        except NoFile:
            return None
        data: bytes = await stream.read()
        return data

    async def delete(self, ref: str) -> None:
        file_id = self._id(ref)
        if file_id is not None:
            await self._delete(file_id)

    async def _delete(self, file_id: ObjectId) -> None:
        # The bucket deletes the chunks even when the file document was never written.
        try:
            await self.bucket.delete(file_id)
        except NoFile:
            return


class MemoryFileStore:
    """The in-memory twin of the file store, for a database that is the in-memory twin (kit/memory.py):
    one document per file in the bucket's ``.files`` collection, bytes included."""

    PREFIX = "memory:"

    def __init__(self, db: Any, bucket: str = "attachment_files") -> None:
        self.collection = db[f"{bucket}.files"]

    async def put(self, content: bytes, filename: str, metadata: Document) -> str:
        ref = f"{self.PREFIX}{ObjectId()}"
        await self.collection.insert_one(
            {"_id": ref, "filename": filename, "metadata": metadata, "content": content}
        )
        return ref

    async def get(self, ref: str) -> bytes | None:
        found = await self.collection.find_one({"_id": ref})
        return None if found is None else bytes(found["content"])

    async def delete(self, ref: str) -> None:
        await self.collection.delete_one({"_id": ref})


@dataclass
class Page:
    entries: list[Document]
    total: int


def _states(docs: Sequence[Document]) -> list[Document]:
    return [d["state"] for d in docs if d.get("state") is not None]


class ContactsStore:
    """The aggregates, the file store and the queries of the read endpoints."""

    def __init__(self, db: AsyncDatabase[Document], files: FileStore | None = None) -> None:
        self.db = db
        self.aggregates: dict[str, AggregateStore[Any]] = SPEC.stores(db)
        """The kit's store of each aggregate, by collection (what the spec's handler writes to)."""
        self.meetings = cast(AggregateStore[MeetingState], self.aggregates[MEETINGS.collection])
        self.notes = cast(AggregateStore[NoteState], self.aggregates[NOTES.collection])
        self.communications = cast(
            AggregateStore[CommunicationState], self.aggregates[COMMUNICATIONS.collection]
        )
        self.incidents = cast(AggregateStore[IncidentState], self.aggregates[INCIDENTS.collection])
        self.attachments = cast(AggregateStore[AttachmentState], self.aggregates[ATTACHMENTS.collection])
        self.files: FileStore = files or (
            GridFsFileStore(db) if isinstance(db, AsyncDatabase) else MemoryFileStore(db)
        )

    async def ensure_read_indexes(self) -> None:
        await self.communications.collection.create_index(
            [("state.csid", ASCENDING), ("state.order_key", DESCENDING)]
        )
        await self.notes.collection.create_index([("state.csid", ASCENDING)])
        await self.meetings.collection.create_index([("state.csid", ASCENDING), ("state.case_id", ASCENDING)])
        await self.incidents.collection.create_index([("state.csid", ASCENDING)])
        await self.attachments.collection.create_index([("state.status", ASCENDING)])

    # -- communications log

    async def meeting_ids_for_case(self, csid: str, case_id: str) -> list[str]:
        cursor = self.meetings.collection.find(
            {"state.csid": csid, "state.case_id": case_id}, projection={"_id": True}
        )
        return [str(d["_id"]) async for d in cursor]

    async def communications_page(self, csid: str, case_id: str | None, limit: int, offset: int) -> Page:
        query: Document = {"state.csid": csid}
        if case_id is not None:
            meetings = await self.meeting_ids_for_case(csid, case_id)
            # An entry belongs to a case when it names it, or when it is an e-mail about one of
            # the case's meetings (notifications' events carry the meeting, not the case).
            query["$or"] = [{"state.case_id": case_id}, {"state.meeting_id": {"$in": meetings}}]
        total = await self.communications.collection.count_documents(query)
        cursor = (
            self.communications.collection.find(query, projection={"state": True})
            .sort("state.order_key", DESCENDING)
            .skip(offset)
            .limit(limit)
        )
        return Page(_states([d async for d in cursor]), total)

    # -- notes

    async def notes_of(self, csid: str, case_id: str | None) -> list[NoteState]:
        query: Document = {"state.csid": csid}
        if case_id is not None:
            query["state.case_id"] = case_id
        cursor = self.notes.collection.find(query, projection={"state": True})
        notes = [NoteState.model_validate(s) for s in _states([d async for d in cursor])]
        notes.sort(key=lambda n: n.versions[0].written_at, reverse=True)
        return notes

    async def note(self, note_id: UUID) -> NoteState | None:
        return (await self.notes.load(str(note_id))).state

    # -- incidents

    async def incidents_of(self, csid: str) -> list[IncidentState]:
        cursor = self.incidents.collection.find({"state.csid": csid}, projection={"state": True})
        found = [IncidentState.model_validate(s) for s in _states([d async for d in cursor])]
        found.sort(key=lambda i: i.recorded_at, reverse=True)
        return found

    # -- attachments

    async def attachment(self, attachment_id: UUID) -> AttachmentState | None:
        return (await self.attachments.load(str(attachment_id))).state

    async def attachment_summaries(self, csid: str, ids: Sequence[UUID]) -> dict[UUID, AttachmentSummary]:
        if not ids:
            return {}
        cursor = self.attachments.collection.find(
            {"_id": {"$in": [str(i) for i in ids]}}, projection={"state": True}
        )
        found: dict[UUID, AttachmentSummary] = {}
        for state_doc in _states([d async for d in cursor]):
            state = AttachmentState.model_validate(state_doc)
            summary = state.summary()
            if state.csid == csid and summary is not None:
                found[state.attachment_id] = summary
        return found

    async def attachments_of(self, csid: str, case_id: str | None) -> list[AttachmentState]:
        query: Document = {"state.csid": csid, "state.status": {"$ne": AttachmentRecordStatus.REFUSED.value}}
        if case_id is not None:
            query["state.case_id"] = case_id
        cursor = self.attachments.collection.find(query, projection={"state": True})
        found = [AttachmentState.model_validate(s) for s in _states([d async for d in cursor])]
        found.sort(key=lambda a: a.uploaded_at, reverse=True)
        return found

    async def quarantined(self, limit: int = 50) -> list[AttachmentState]:
        cursor = self.attachments.collection.find(
            {"state.status": AttachmentRecordStatus.QUARANTINED.value}, projection={"state": True}
        ).limit(limit)
        return [AttachmentState.model_validate(s) for s in _states([d async for d in cursor])]
