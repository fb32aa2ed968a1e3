"""The contacts service's HTTP endpoints (served by the kit on the service's own port).

Reads: the communications log, notes (with history), incidents and attachments, per customer
(and case). Writes: only the attachment upload — bytes never travel on Kafka (issue 7). See
``docs/services/contacts.md`` for the endpoints, headers and limits.

Every endpoint is behind a verified bearer token (kit/api.py, on the service's ``api_port``). The
caller's privilege (1-5) for sensitive notes and attachments is the token's ``casemesh_privilege``
claim, else the highest configured privilege of its roles. The uploader's staff details come in
``X-Casemesh-Actor`` (an ``Actor`` as JSON), which must be the token's officer in one of its roles.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message as AsgiMessage

from contracts.catalogue.contacts import ContactsReasonCode
from kit.api import (
    ApiError,
    actor_of,
    code_query,
    csid_of,
    endpoint,
    error,
    int_query,
    uuid_query,
    uuid_value,
)
from kit.identity import Identity
from kit.processing import Clock, Handler, Outcome
from services.contacts import domain, filetypes
from services.contacts.domain import AttachmentState, AttachmentUpload, NoteState
from services.contacts.settings import UPLOAD_BODY_MAX_BYTES, ContactsSettings
from services.contacts.spec import internal_envelope
from services.contacts.store import ContactsStore, completing

DECLARED_MAX = 255
MULTIPART_OVERHEAD = 64 * 1024
"""Bytes of multipart framing allowed on top of the agency's file-size limit before reading stops."""
DRAIN_FACTOR = 4
"""An oversized body is read (and dropped) up to this many times the limit, then cut off."""


def body_cap(max_bytes: int | None) -> int:
    """The most body bytes an upload reads: the agency's limit plus the multipart framing when the
    agency set one (seed 004: "l'agenzia potrebbe voler impostare un limite" — the agency may set a
    limit), never more than the transport's UPLOAD_BODY_MAX_BYTES; without one, the transport's."""
    if not max_bytes:
        return UPLOAD_BODY_MAX_BYTES
    return min(max_bytes + MULTIPART_OVERHEAD, UPLOAD_BODY_MAX_BYTES)


STATUS_OF_REFUSAL: dict[ContactsReasonCode, int] = {
    ContactsReasonCode.ATTACHMENT_TOO_LARGE: 413,
    ContactsReasonCode.ATTACHMENT_TYPE_UNKNOWN: 415,
    ContactsReasonCode.ATTACHMENT_TYPE_NOT_ALLOWED: 415,
    ContactsReasonCode.ATTACHMENT_TYPE_MISMATCH: 415,
    ContactsReasonCode.INSUFFICIENT_PRIVILEGE: 403,
    ContactsReasonCode.ATTACHMENT_QUARANTINED: 409,
    ContactsReasonCode.UNKNOWN_ATTACHMENT: 404,
    ContactsReasonCode.UNKNOWN_NOTE: 404,
}


def _refusal(code: ContactsReasonCode, reason: str, **extra: Any) -> JSONResponse:
    return error(code.value, reason, STATUS_OF_REFUSAL.get(code, 400), **extra)


def _entry_json(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k not in ("order_key", "csid")}


def _note_summary(note: NoteState) -> dict[str, Any]:
    current = note.current
    return {
        "note_id": str(note.note_id),
        "case_id": note.case_id,
        "version": current.version,
        "sensitivity_level": current.sensitivity_level,
        "text": current.text,
        "author": current.author.model_dump(mode="json"),
        "written_at": current.written_at.isoformat(),
        "created_at": note.versions[0].written_at.isoformat(),
    }


def _attachment_json(a: AttachmentState) -> dict[str, Any]:
    return {
        "attachment_id": str(a.attachment_id),
        "case_id": a.case_id,
        "meeting_id": str(a.meeting_id) if a.meeting_id else None,
        "filename": a.filename,
        "media_type": a.media_type,
        "size_bytes": a.size_bytes,
        "sha256": a.sha256,
        "status": a.status.value,
        "required_privilege_level": a.required_privilege_level,
        "uploaded_by": a.uploaded_by.model_dump(mode="json"),
        "uploaded_at": a.uploaded_at.isoformat(),
    }


_FILENAME_IN_HEADERS = re.compile(rb'filename="([^"\r\n]{1,255})"')


def _safe_filename(name: str | None) -> str:
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable())
    if not name:
        return "unnamed"
    return name if len(name) <= 100 else name[:45] + "…" + name[-54:]


class ContactsApi:
    def __init__(
        self,
        store: ContactsStore,
        handle: Handler,
        settings: ContactsSettings,
        clock: Clock,
        on_change: Callable[[], None],
    ) -> None:
        self.store = store
        self.handle = handle
        self.settings = settings
        self.clock = clock
        self.on_change = on_change

    def routes(self) -> list[BaseRoute]:
        prefix = "/customers/{csid}"
        return [
            Route(f"{prefix}/communications", endpoint(self.communications), methods=["GET"]),
            Route(f"{prefix}/notes", endpoint(self.notes), methods=["GET"]),
            Route(f"{prefix}/notes/{{note_id}}", endpoint(self.note), methods=["GET"]),
            Route(f"{prefix}/incidents", endpoint(self.incidents), methods=["GET"]),
            Route(f"{prefix}/attachments", endpoint(self.upload), methods=["POST"]),
            Route(f"{prefix}/attachments", endpoint(self.attachments), methods=["GET"]),
            Route(f"{prefix}/attachments/{{attachment_id}}", endpoint(self.attachment), methods=["GET"]),
            Route(
                f"{prefix}/attachments/{{attachment_id}}/content", endpoint(self.download), methods=["GET"]
            ),
        ]

    def privilege(self, identity: Identity) -> int:
        """Issue 16: the token's ``casemesh_privilege`` claim, else the highest privilege configured
        for one of its roles (``role_privileges``), else the default."""
        if identity.privilege is not None:
            return identity.privilege
        s = self.settings
        levels = [s.role_privileges.get(role.value, s.default_role_privilege) for role in identity.roles]
        return max(levels, default=s.default_role_privilege)

    # -- communications log (seed 004: "a list of the communications related to the clients")

    async def communications(self, request: Request, identity: Identity) -> Response:
        csid = csid_of(request)
        case_id = code_query(request, "case_id")
        s = self.settings
        limit = int_query(request, "limit", min(s.list_default_limit, s.list_max_limit), 1, s.list_max_limit)
        offset = int_query(request, "offset", 0, 0, 1_000_000)
        page = await self.store.communications_page(csid, case_id, limit, offset)
        next_offset = offset + len(page.entries) if offset + len(page.entries) < page.total else None
        return JSONResponse(
            {
                "csid": csid,
                "case_id": case_id,
                "total": page.total,
                "offset": offset,
                "limit": limit,
                "next_offset": next_offset,
                "entries": [_entry_json(e) for e in page.entries],
            }
        )

    # -- notes (seed 004: notes with their history; a sensitivity level restricts readers)

    async def notes(self, request: Request, identity: Identity) -> Response:
        csid = csid_of(request)
        case_id = code_query(request, "case_id")
        privilege = self.privilege(identity)
        notes = await self.store.notes_of(csid, case_id)
        readable = [n for n in notes if privilege >= n.current.sensitivity_level]
        return JSONResponse(
            {
                "csid": csid,
                "case_id": case_id,
                "notes": [_note_summary(n) for n in readable],
                "withheld": len(notes) - len(readable),
            }
        )

    async def note(self, request: Request, identity: Identity) -> Response:
        csid = csid_of(request)
        note_id = uuid_value(str(request.path_params["note_id"]), "note_id")
        privilege = self.privilege(identity)
        note = await self.store.note(note_id)
        if note is None or note.csid != csid:
            return _refusal(ContactsReasonCode.UNKNOWN_NOTE, "No such note.")
        if privilege < note.current.sensitivity_level:
            return _refusal(
                ContactsReasonCode.INSUFFICIENT_PRIVILEGE, "The note's sensitivity is above your privilege."
            )
        history = []
        for version, readable in domain.readable_versions(note, privilege):
            item: dict[str, Any] = {
                "version": version.version,
                "sensitivity_level": version.sensitivity_level,
                "author": version.author.model_dump(mode="json"),
                "written_at": version.written_at.isoformat(),
            }
            if readable:
                item["text"] = version.text
            else:
                item["withheld"] = True
            history.append(item)
        return JSONResponse({**_note_summary(note), "history": history})

    # -- incidents

    async def incidents(self, request: Request, identity: Identity) -> Response:
        csid = csid_of(request)
        found = await self.store.incidents_of(csid)
        return JSONResponse({"csid": csid, "incidents": [i.model_dump(mode="json") for i in found]})

    # -- attachments (seed 004 Allegati, issue 7)

    async def attachments(self, request: Request, identity: Identity) -> Response:
        csid = csid_of(request)
        case_id = code_query(request, "case_id")
        # Metadata is listed to every officer; each entry says whether this one may download it now.
        privilege = self.privilege(identity)
        found = await self.store.attachments_of(csid, case_id)
        return JSONResponse(
            {
                "csid": csid,
                "case_id": case_id,
                "attachments": [
                    {
                        **_attachment_json(a),
                        "downloadable": domain.may_download(a, privilege) is None,
                    }
                    for a in found
                ],
            }
        )

    async def _stored(self, request: Request) -> AttachmentState | Response:
        csid = csid_of(request)
        attachment_id = uuid_value(str(request.path_params["attachment_id"]), "attachment_id")
        found = await self.store.attachment(attachment_id)
        if found is None or found.csid != csid or found.status is domain.AttachmentRecordStatus.REFUSED:
            return _refusal(ContactsReasonCode.UNKNOWN_ATTACHMENT, "No such attachment.")
        return found

    async def attachment(self, request: Request, identity: Identity) -> Response:
        found = await self._stored(request)
        if isinstance(found, Response):
            return found
        return JSONResponse(_attachment_json(found))

    async def download(self, request: Request, identity: Identity) -> Response:
        privilege = self.privilege(identity)
        found = await self._stored(request)
        if isinstance(found, Response):
            return found
        refusal = domain.may_download(found, privilege)
        if refusal is not None:
            reasons = {
                ContactsReasonCode.INSUFFICIENT_PRIVILEGE: "Your privilege is below the attachment's level.",
                ContactsReasonCode.ATTACHMENT_QUARANTINED: "The attachment is quarantined until checked.",
            }
            return _refusal(refusal, reasons.get(refusal, "Not available."))
        assert found.storage_ref is not None
        content = await self.store.files.get(found.storage_ref)
        if content is None:
            return error("CONTENT_UNAVAILABLE", "The stored file cannot be read now.", 503)
        return Response(
            content,
            media_type=found.media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{_ascii(found.filename)}"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def upload(self, request: Request, identity: Identity) -> Response:
        # Everything cheap is checked before the body is read, and the body before a byte is stored.
        csid = csid_of(request)
        actor = actor_of(request, identity)
        case_id = code_query(request, "case_id")
        meeting_id = uuid_query(request, "meeting_id")
        level = int_query(
            request, "required_privilege_level", self.settings.attachment_default_privilege, 1, 5
        )
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise ApiError("MULTIPART_REQUIRED", "Upload the file as multipart/form-data, field 'file'.")
        limit = self.settings.attachment_max_bytes or None  # 0: no agency limit
        cap = body_cap(limit)
        body, received, cut = await self._read_body(request, cap)
        attachment_id = uuid.uuid4()
        now = self.clock()

        def refused(
            filename: str, declared: str | None, size: int, verdict: domain.UploadVerdict
        ) -> AttachmentUpload:
            return AttachmentUpload(
                attachment_id=attachment_id,
                case_id=case_id,
                meeting_id=meeting_id,
                filename=filename,
                declared_media_type=declared,
                size_bytes=size,
                required_privilege_level=level,
                uploaded_by=actor,
                verdict=verdict,
            )

        if cut:
            # Too large to buffer: refused from what arrived (the event says the size received).
            match = _FILENAME_IN_HEADERS.search(body[:4096])
            filename = _safe_filename(match.group(1).decode("utf-8", "replace") if match else None)
            # The limit that stopped the reading: the agency's, unless the transport's is lower.
            agency = None if cap == UPLOAD_BODY_MAX_BYTES else limit
            verdict = domain.check_cut_body(received, agency, UPLOAD_BODY_MAX_BYTES)
            return await self._refuse(csid, refused(filename, None, received, verdict), now)

        file = await self._file_part(request, body)
        content = await file.read()
        await file.close()
        filename = _safe_filename(file.filename)
        declared = file.content_type
        if declared is not None and len(declared) > DECLARED_MAX:
            declared = declared[:DECLARED_MAX]
        verdict = domain.check_upload(filename, declared, len(content), filetypes.sniff(content), limit)
        if not verdict.accepted:
            return await self._refuse(csid, refused(filename, declared, len(content), verdict), now)

        assert verdict.detected_media_type is not None
        sha256 = domain.sha256_hex(content)
        ref = await self.store.files.put(
            content, filename, {"attachment_id": str(attachment_id), "csid": csid, "sha256": sha256}
        )
        try:
            upload = AttachmentUpload(
                attachment_id=attachment_id,
                case_id=case_id,
                meeting_id=meeting_id,
                filename=filename,
                declared_media_type=declared,
                size_bytes=len(content),
                sha256=sha256,
                storage_ref=ref,
                required_privilege_level=level,
                uploaded_by=actor,
                verdict=verdict,
            )
            if await self._record(csid, upload, now) is not Outcome.APPLIED:
                raise ApiError("UPLOAD_NOT_RECORDED", "The upload could not be recorded.", 500)
        except BaseException:
            # Issue 16: a failed upload (a store error, a cancelled request) leaves no file behind.
            await completing(self.store.files.delete(ref))
            raise
        return JSONResponse(
            {
                "attachment_id": str(attachment_id),
                "status": domain.AttachmentRecordStatus.QUARANTINED.value,
                "filename": filename,
                "media_type": verdict.detected_media_type,
                "size_bytes": len(content),
                "sha256": sha256,
                "storage_ref": ref,
                "required_privilege_level": level,
            },
            status_code=201,
        )

    async def _record(self, csid: str, upload: AttachmentUpload, now: datetime) -> Outcome:
        """Decided through the spec like a message, with an envelope of its own (never published)."""
        name, payload = self.settings.service_name, {"attachment_id": str(upload.attachment_id)}
        outcome = await self.handle(
            internal_envelope("UploadAttachment", csid, now, name, payload=payload), upload, now
        )
        self.on_change()
        return outcome

    async def _refuse(self, csid: str, upload: AttachmentUpload, now: datetime) -> Response:
        """The refusal is recorded (AttachmentRefused, through the outbox) and answered with its code."""
        await self._record(csid, upload, now)
        verdict = upload.verdict
        assert verdict.refusal is not None
        return _refusal(
            verdict.refusal,
            verdict.reason or verdict.refusal.value,
            attachment_id=str(upload.attachment_id),
            detected_media_type=verdict.detected_media_type,
        )

    @staticmethod
    async def _read_body(request: Request, cap: int) -> tuple[bytes, int, bool]:
        """Reads at most ``cap`` bytes; beyond that keeps counting (and dropping) up to a bound."""
        chunks: list[bytes] = []
        received = 0
        cut = False
        async for chunk in request.stream():
            received += len(chunk)
            if received <= cap:
                chunks.append(chunk)
                continue
            if not cut:
                cut = True
                chunks.append(chunk[: max(0, cap - (received - len(chunk)))])
            if received > DRAIN_FACTOR * cap:
                break
        return b"".join(chunks), received, cut

    @staticmethod
    async def _file_part(request: Request, body: bytes) -> UploadFile:
        sent = False

        async def replay() -> AsgiMessage:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            form = await Request(request.scope, replay).form(max_files=1, max_fields=5)
        except MultiPartException:
            raise ApiError(
                "INVALID_MULTIPART", "The multipart body cannot be read (one file at most)."
            ) from None
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise ApiError("FILE_REQUIRED", "The multipart field 'file' is required.")
        return file


def _ascii(name: str) -> str:
    return "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
