"""Attachments — seed 004 (Allegati), issue 7: the upload checks, quarantine, and who may download.

The upload endpoint and the quarantine job decide through the spec like any message, with the
internal messages :class:`AttachmentUpload` and :class:`QuarantineCheck` (never published).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from contracts.base import Actor, Message
from contracts.catalogue.contacts import (
    AttachmentRefused,
    AttachmentReleased,
    AttachmentStatus,
    AttachmentUploaded,
    ContactsReasonCode,
)
from services.contacts import filetypes, quarantine
from services.contacts.domain.state import AttachmentSummary, Events, Facts, State, short


class AttachmentRecordStatus(StrEnum):
    QUARANTINED = "QUARANTINED"
    AVAILABLE = "AVAILABLE"
    REFUSED = "REFUSED"


class UploadVerdict(BaseModel):
    """The upload checks' answer: accepted with its detected type, or refused with a reason."""

    model_config = ConfigDict(frozen=True)

    detected_media_type: str | None
    refusal: ContactsReasonCode | None = None
    reason: str | None = None

    @property
    def accepted(self) -> bool:
        return self.refusal is None


def check_upload(
    filename: str,
    declared_media_type: str | None,
    size_bytes: int,
    detected_media_type: str | None,
    max_bytes: int | None,
) -> UploadVerdict:
    """Issue 7: refuse a file that is larger than the agency's limit ``max_bytes`` (``None`` or 0:
    no limit), or whose content is unknown, not allowed, or does not match its extension or
    declared type. ``detected_media_type`` is :func:`filetypes.sniff` of the content."""
    # Seed 004 (Allegati): "Il sistema non limita la dimensione del file dell'allegato, tuttavia
    # l'agenzia potrebbe voler impostare un limite mediante una variabile di ambiente" — the system
    # does not limit an attachment's size; the agency may want to set a limit. No limit unless set.
    if max_bytes and size_bytes > max_bytes:
        return _too_large(detected_media_type, max_bytes)
    if detected_media_type is None:
        return UploadVerdict(
            detected_media_type=None,
            refusal=ContactsReasonCode.ATTACHMENT_TYPE_UNKNOWN,
            reason="The content is not a recognised file type.",
        )
    allowed_extensions = filetypes.ALLOWED.get(detected_media_type)
    if allowed_extensions is None:
        return UploadVerdict(
            detected_media_type=detected_media_type,
            refusal=ContactsReasonCode.ATTACHMENT_TYPE_NOT_ALLOWED,
            reason=f"Content of type {detected_media_type} is not allowed (Word, Excel, PDF and images are).",
        )
    if filetypes.extension(filename) not in allowed_extensions:
        return UploadVerdict(
            detected_media_type=detected_media_type,
            refusal=ContactsReasonCode.ATTACHMENT_TYPE_MISMATCH,
            reason=f"The file name's extension does not match its content ({detected_media_type}).",
        )
    declared = (declared_media_type or "").split(";", 1)[0].strip().lower()
    declared = filetypes.DECLARED_ALIASES.get(declared, declared)
    if declared not in filetypes.UNINFORMATIVE_DECLARED and declared != detected_media_type:
        return UploadVerdict(
            detected_media_type=detected_media_type,
            refusal=ContactsReasonCode.ATTACHMENT_TYPE_MISMATCH,
            reason=f"The declared type does not match the content ({detected_media_type}).",
        )
    return UploadVerdict(detected_media_type=detected_media_type)


def check_cut_body(received_bytes: int, max_bytes: int | None, body_max_bytes: int) -> UploadVerdict:
    """An upload whose body was cut off, beyond what the endpoint reads: too large, with the limit
    it went beyond — the agency's ``max_bytes`` when that is what stopped the reading (the body
    is beyond it plus the multipart framing), else (``None``) the transport's ``body_max_bytes``."""
    if max_bytes and received_bytes > max_bytes:
        return _too_large(None, max_bytes)
    return UploadVerdict(
        detected_media_type=None,
        refusal=ContactsReasonCode.ATTACHMENT_TOO_LARGE,
        reason=f"The upload is larger than the upload endpoint's body limit of {body_max_bytes} bytes.",
    )


def _too_large(detected_media_type: str | None, max_bytes: int) -> UploadVerdict:
    return UploadVerdict(
        detected_media_type=detected_media_type,
        refusal=ContactsReasonCode.ATTACHMENT_TOO_LARGE,
        reason=f"The file is larger than the agency's limit of {max_bytes} bytes.",
    )


class AttachmentUpload(Message):
    """What the upload endpoint decides on (internal; the bytes are already in the file store
    when accepted, or were never stored when refused)."""

    model_config = ConfigDict(frozen=True)

    attachment_id: UUID
    case_id: str | None = None
    meeting_id: UUID | None = None
    filename: str
    declared_media_type: str | None = None
    size_bytes: int
    sha256: str | None = None
    storage_ref: str | None = None
    required_privilege_level: int
    uploaded_by: Actor
    verdict: UploadVerdict


class QuarantineCheck(Message):
    """The quarantine checks' result for a stored attachment (internal)."""

    model_config = ConfigDict(frozen=True)

    attachment_id: UUID
    refusal: ContactsReasonCode | None = None
    reason: str | None = None


class AttachmentState(State):
    attachment_id: UUID
    csid: str
    case_id: str | None = None
    meeting_id: UUID | None = None
    filename: str
    declared_media_type: str | None = None
    media_type: str | None = None
    size_bytes: int
    sha256: str | None = None
    storage_ref: str | None = None
    status: AttachmentRecordStatus
    required_privilege_level: int
    uploaded_by: Actor
    uploaded_at: datetime
    upload_message_id: UUID | None = None
    released_at: datetime | None = None
    refusal: ContactsReasonCode | None = None
    refusal_reason: str | None = None

    def summary(self) -> AttachmentSummary | None:
        if self.status is AttachmentRecordStatus.REFUSED or self.media_type is None:
            return None
        return AttachmentSummary(
            attachment_id=self.attachment_id,
            filename=self.filename,
            media_type=self.media_type,
            size_bytes=self.size_bytes,
            status=AttachmentStatus(self.status.value),
        )


Decision = tuple[AttachmentState | None, Events]


def _event_type(media_type: str | None) -> str | None:
    return filetypes.event_media_type(media_type) if media_type else None


def _refused(state: AttachmentState) -> AttachmentRefused:
    assert state.refusal is not None
    return AttachmentRefused(
        filename=state.filename,
        declared_media_type=_event_type(state.declared_media_type),
        detected_media_type=_event_type(state.media_type),
        size_bytes=state.size_bytes,
        reason_code=state.refusal,
        reason=short(state.refusal_reason or state.refusal.value),
        uploaded_by=state.uploaded_by,
    )


def record_upload(
    state: AttachmentState | None, message: AttachmentUpload, now: datetime, facts: Facts
) -> Decision:
    if state is not None:
        return state, []  # each upload gets a new id; the same upload again changes nothing
    verdict = message.verdict
    new = AttachmentState(
        attachment_id=message.attachment_id,
        csid=facts.csid,
        case_id=message.case_id,
        meeting_id=message.meeting_id,
        filename=message.filename,
        declared_media_type=message.declared_media_type,
        media_type=verdict.detected_media_type,
        size_bytes=message.size_bytes,
        sha256=message.sha256,
        storage_ref=message.storage_ref,
        # Issue 7: "An attachment stays quarantined until its checks pass".
        status=AttachmentRecordStatus.QUARANTINED if verdict.accepted else AttachmentRecordStatus.REFUSED,
        required_privilege_level=message.required_privilege_level,
        uploaded_by=message.uploaded_by,
        uploaded_at=now,
        upload_message_id=facts.message_id,
        refusal=verdict.refusal,
        refusal_reason=verdict.reason,
    )
    if not verdict.accepted:
        # The refused upload is kept for audit (AttachmentRefused); its bytes never were.
        return new, [_refused(new)]
    assert new.media_type is not None and new.sha256 is not None and new.storage_ref is not None
    return new, [
        AttachmentUploaded(
            attachment_id=new.attachment_id,
            case_id=new.case_id,
            meeting_id=new.meeting_id,
            filename=new.filename,
            media_type=filetypes.event_media_type(new.media_type),
            size_bytes=new.size_bytes,
            sha256=new.sha256,
            storage_ref=new.storage_ref,
            status=AttachmentStatus.QUARANTINED,
            required_privilege_level=new.required_privilege_level,
            uploaded_by=new.uploaded_by,
        )
    ]


def check_quarantined(
    state: AttachmentState | None, message: QuarantineCheck, now: datetime, facts: Facts
) -> Decision:
    if state is None or state.status is not AttachmentRecordStatus.QUARANTINED:
        return state, []  # only a quarantined attachment is checked; a repeat changes nothing
    if message.refusal is not None:
        new = state.model_copy(
            update={
                "status": AttachmentRecordStatus.REFUSED,
                "refusal": message.refusal,
                "refusal_reason": message.reason,
            }
        )
        return new, [_refused(new)]
    new = state.model_copy(update={"status": AttachmentRecordStatus.AVAILABLE, "released_at": now})
    return new, [AttachmentReleased(attachment_id=state.attachment_id)]


def quarantine_verdict(findings: quarantine.ContentFindings) -> tuple[ContactsReasonCode, str] | None:
    """Issue 7: the checks an attachment passes before it leaves quarantine. Issue 16: a file
    that could not be read in full is refused, never released unchecked."""
    found = f" (found: {', '.join(findings.found)})" if findings.found else ""
    if findings.macros:
        return (
            ContactsReasonCode.ATTACHMENT_TYPE_NOT_ALLOWED,
            f"Documents with macros or ActiveX controls are not allowed{found}.",
        )
    if findings.active_content:
        return (
            ContactsReasonCode.ATTACHMENT_TYPE_NOT_ALLOWED,
            f"PDFs with scripts, actions that run or fetch files, or embedded files are not allowed{found}.",
        )
    if findings.archive_too_expanded:
        return ContactsReasonCode.ATTACHMENT_TOO_LARGE, "The document expands far beyond its size."
    if findings.archive_too_many_entries:
        return ContactsReasonCode.ATTACHMENT_TOO_LARGE, "The document holds too many files."
    if findings.unreadable:
        # Issue 16: what cannot be read in full cannot be shown to be safe.
        return (
            ContactsReasonCode.ATTACHMENT_UNREADABLE,
            "The file could not be read in full to be checked (damaged, encrypted or falsified).",
        )
    return None


def may_download(state: AttachmentState, privilege: int) -> ContactsReasonCode | None:
    """Seed 004 (Allegati): "other users of the system with the appropriate security privileges
    can access it"; issue 7: not before it leaves quarantine. None = allowed."""
    if state.status is AttachmentRecordStatus.REFUSED:
        return ContactsReasonCode.UNKNOWN_ATTACHMENT
    if privilege < state.required_privilege_level:
        return ContactsReasonCode.INSUFFICIENT_PRIVILEGE
    if state.status is AttachmentRecordStatus.QUARANTINED:
        return ContactsReasonCode.ATTACHMENT_QUARANTINED
    return None
