"""The contacts service's HTTP endpoints (served by the kit on the service's own port).

Reads: the communications log, notes (with history), incidents and attachments, per customer
(and case). Writes: only the attachment upload — bytes never travel on Kafka (issue 7). See
``docs/services/contacts.md`` for the endpoints, headers and limits.

Privilege: the caller's privilege level (1-5) comes in the ``X-Casemesh-Privilege`` header, set
by the agency's authenticating gateway in front of the service (which binds to 127.0.0.1 and
trusts it). The uploader is named by ``X-Casemesh-Actor`` (an ``Actor`` as JSON).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message as AsgiMessage

from contracts.base import Actor
from contracts.catalogue.contacts import ContactsReasonCode
from kit.processing import Clock, Handler
from services.contacts import domain, filetypes
from services.contacts.domain import AttachmentState, AttachmentUpload, NoteState
from services.contacts.settings import ContactsSettings
from services.contacts.spec import internal_envelope
from services.contacts.store import ContactsStore

PRIVILEGE_HEADER = "x-casemesh-privilege"
ACTOR_HEADER = "x-casemesh-actor"
CSID_PATTERN = re.compile(r"^[0-9]{6,12}$")
CODE_MAX = 64
DECLARED_MAX = 255
MULTIPART_OVERHEAD = 64 * 1024
"""Bytes of multipart framing allowed on top of the file-size limit before reading stops."""
DRAIN_FACTOR = 4
"""An oversized body is read (and dropped) up to this many times the limit, then cut off."""

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


class BadRequest(Exception):
    def __init__(self, reason_code: str, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason_code = reason_code
        self.reason = reason
        self.status = status


def _error(reason_code: str, reason: str, status: int) -> JSONResponse:
    return JSONResponse({"reason_code": reason_code, "reason": reason}, status_code=status)


def _refusal(code: ContactsReasonCode, reason: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {"reason_code": code.value, "reason": reason, **extra}, status_code=STATUS_OF_REFUSAL.get(code, 400)
    )


def _csid(request: Request) -> str:
    csid = str(request.path_params["csid"])
    if not CSID_PATTERN.match(csid):
        raise BadRequest("INVALID_CSID", "A CSID is 6-12 digits.")
    return csid


def _code_param(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if not 1 <= len(value) <= CODE_MAX:
        raise BadRequest("INVALID_PARAMETER", f"{name} must be 1-{CODE_MAX} characters.")
    return value


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadRequest("INVALID_PARAMETER", f"{name} must be a whole number from {low} to {high}.")
    return int(raw)


def _uuid_param(raw: str | None, name: str) -> UUID | None:
    if raw is None:
        return None
    try:
        return UUID(raw)
    except ValueError:
        raise BadRequest("INVALID_PARAMETER", f"{name} must be a UUID.") from None


def _privilege(request: Request) -> int:
    raw = request.headers.get(PRIVILEGE_HEADER)
    if raw is None:
        raise BadRequest("PRIVILEGE_REQUIRED", "The X-Casemesh-Privilege header (1-5) is required.", 401)
    if not raw.strip().isdigit() or not 1 <= int(raw) <= 5:
        raise BadRequest("INVALID_PRIVILEGE", "X-Casemesh-Privilege must be 1-5.")
    return int(raw)


def _actor(request: Request) -> Actor:
    raw = request.headers.get(ACTOR_HEADER)
    if raw is None:
        raise BadRequest("ACTOR_REQUIRED", "The X-Casemesh-Actor header (an Actor as JSON) is required.", 401)
    try:
        return Actor.model_validate_json(raw)
    except ValidationError:
        raise BadRequest("INVALID_ACTOR", "X-Casemesh-Actor is not a valid Actor.") from None


def _guarded(endpoint: Callable[[Request], Any]) -> Callable[[Request], Any]:
    async def wrapper(request: Request) -> Response:
        try:
            response: Response = await endpoint(request)
            return response
        except BadRequest as exc:
            return _error(exc.reason_code, exc.reason, exc.status)

    return wrapper


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
            Route(f"{prefix}/communications", _guarded(self.communications), methods=["GET"]),
            Route(f"{prefix}/notes", _guarded(self.notes), methods=["GET"]),
            Route(f"{prefix}/notes/{{note_id}}", _guarded(self.note), methods=["GET"]),
            Route(f"{prefix}/incidents", _guarded(self.incidents), methods=["GET"]),
            Route(f"{prefix}/attachments", _guarded(self.upload), methods=["POST"]),
            Route(f"{prefix}/attachments", _guarded(self.attachments), methods=["GET"]),
            Route(f"{prefix}/attachments/{{attachment_id}}", _guarded(self.attachment), methods=["GET"]),
            Route(
                f"{prefix}/attachments/{{attachment_id}}/content", _guarded(self.download), methods=["GET"]
            ),
        ]

    # -- communications log (seed 004: "a list of the communications related to the clients")

    async def communications(self, request: Request) -> Response:
        csid = _csid(request)
        case_id = _code_param(request, "case_id")
        s = self.settings
        limit = _int_param(request, "limit", min(s.list_default_limit, s.list_max_limit), 1, s.list_max_limit)
        offset = _int_param(request, "offset", 0, 0, 1_000_000)
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

    async def notes(self, request: Request) -> Response:
        csid = _csid(request)
        case_id = _code_param(request, "case_id")
        privilege = _privilege(request)
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

    async def note(self, request: Request) -> Response:
        csid = _csid(request)
        note_id = _uuid_param(str(request.path_params["note_id"]), "note_id")
        privilege = _privilege(request)
        assert note_id is not None
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

    async def incidents(self, request: Request) -> Response:
        csid = _csid(request)
        found = await self.store.incidents_of(csid)
        return JSONResponse({"csid": csid, "incidents": [i.model_dump(mode="json") for i in found]})

    # -- attachments (seed 004 Allegati, issue 7)

    async def attachments(self, request: Request) -> Response:
        csid = _csid(request)
        case_id = _code_param(request, "case_id")
        # Metadata is open to every caller; with a privilege header each entry also says
        # whether that caller may download it now.
        privilege = _privilege(request) if PRIVILEGE_HEADER in request.headers else None
        found = await self.store.attachments_of(csid, case_id)
        return JSONResponse(
            {
                "csid": csid,
                "case_id": case_id,
                "attachments": [
                    {
                        **_attachment_json(a),
                        "downloadable": None
                        if privilege is None
                        else domain.may_download(a, privilege) is None,
                    }
                    for a in found
                ],
            }
        )

    async def _stored(self, request: Request) -> AttachmentState | Response:
        csid = _csid(request)
        attachment_id = _uuid_param(str(request.path_params["attachment_id"]), "attachment_id")
        assert attachment_id is not None
        found = await self.store.attachment(attachment_id)
        if found is None or found.csid != csid or found.status is domain.AttachmentRecordStatus.REFUSED:
            return _refusal(ContactsReasonCode.UNKNOWN_ATTACHMENT, "No such attachment.")
        return found

    async def attachment(self, request: Request) -> Response:
        found = await self._stored(request)
        if isinstance(found, Response):
            return found
        return JSONResponse(_attachment_json(found))

    async def download(self, request: Request) -> Response:
        privilege = _privilege(request)
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
            return _error("CONTENT_UNAVAILABLE", "The stored file cannot be read now.", 503)
        return Response(
            content,
            media_type=found.media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{_ascii(found.filename)}"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def upload(self, request: Request) -> Response:
        csid = _csid(request)
        actor = _actor(request)
        case_id = _code_param(request, "case_id")
        meeting_id = _uuid_param(request.query_params.get("meeting_id"), "meeting_id")
        level = _int_param(
            request, "required_privilege_level", self.settings.attachment_default_privilege, 1, 5
        )
        limit = self.settings.attachment_max_bytes
        body, received, cut = await self._read_body(request, limit + MULTIPART_OVERHEAD)
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
            verdict = domain.check_upload(filename, None, received, None, limit)
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
        await self._record(csid, upload, now)
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

    async def _record(self, csid: str, upload: AttachmentUpload, now: datetime) -> None:
        """Decided through the spec like a message, with an envelope of its own (never published)."""
        name, payload = self.settings.service_name, {"attachment_id": str(upload.attachment_id)}
        await self.handle(
            internal_envelope("UploadAttachment", csid, now, name, payload=payload), upload, now
        )
        self.on_change()

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

        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise BadRequest("MULTIPART_REQUIRED", "Upload the file as multipart/form-data, field 'file'.")
        try:
            form = await Request(request.scope, replay).form(max_files=1, max_fields=5)
        except MultiPartException:
            raise BadRequest(
                "INVALID_MULTIPART", "The multipart body cannot be read (one file at most)."
            ) from None
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise BadRequest("FILE_REQUIRED", "The multipart field 'file' is required.")
        return file


def _ascii(name: str) -> str:
    return "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
