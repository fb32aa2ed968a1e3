"""Load, decide, save: each message type → its aggregate and decider, through ``kit.handling.apply``.

Besides Kafka, two writers go through the same path with a message id of their own, so their
events also leave through the outbox: the upload endpoint (HTTP is synchronous) and the
quarantine check (a background job). Both build an internal envelope that is never published.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from contracts.base import Actor, Message
from contracts.catalogue.contacts import (
    AddNote,
    AssessMeetingRequirement,
    EditNote,
    IssueMeetingMinutes,
    RecordMeetingMinutes,
    RespondToMeetingInvitation,
    ScheduleMeeting,
)
from contracts.catalogue.notifications import MSPIncidentRaised
from contracts.envelope import Envelope
from kit.handling import apply
from kit.processing import Outcome
from services.contacts import domain, filetypes
from services.contacts.domain import (
    AttachmentState,
    AttachmentSummary,
    AttachmentUpload,
    QuarantineCheck,
)
from services.contacts.settings import ContactsSettings
from services.contacts.store import ContactsStore

MEETING_COMMANDS = (ScheduleMeeting, RespondToMeetingInvitation, RecordMeetingMinutes, IssueMeetingMinutes)


def internal_envelope(
    message_type: str,
    csid: str,
    now: datetime,
    producer: str,
    *,
    message_id: UUID | None = None,
    correlation_id: UUID | None = None,
    payload: dict[str, Any] | None = None,
) -> Envelope:
    """The envelope of a write that did not arrive on Kafka (an upload, a quarantine check)."""
    mid = message_id or uuid.uuid4()
    return Envelope(
        message_id=mid,
        message_type=message_type,
        schema_version=1,
        occurred_at=now,
        producer=producer,
        correlation_id=correlation_id or mid,
        csid=csid,
        payload=payload or {},
    )


class ContactsHandlers:
    def __init__(self, store: ContactsStore, settings: ContactsSettings) -> None:
        self.store = store
        self.settings = settings

    def privilege_of(self, actor: Actor) -> int:
        return self.settings.role_privileges.get(actor.role.value, self.settings.default_role_privilege)

    async def __call__(self, envelope: Envelope, message: Any, now: datetime) -> Outcome:
        store, settings, csid = self.store, self.settings, envelope.csid
        if isinstance(message, AssessMeetingRequirement):
            always = frozenset(settings.meeting_required_case_types)

            def assess(state: Any, msg: Any, at: datetime) -> Any:
                return domain.decide_assessment(state, msg, at, always_required=always)

            return await apply(
                store.assessments, f"{csid}:{message.case_id}", envelope, message, assess, now, settings
            )
        if isinstance(message, MEETING_COMMANDS):
            attachments = await self._minutes_attachments(csid, message)

            def meet(state: Any, msg: Any, at: datetime) -> Any:
                return domain.decide_meeting(state, msg, at, csid=csid, attachments=attachments)

            return await apply(
                store.meetings, str(message.meeting_id), envelope, message, meet, now, settings
            )
        if isinstance(message, AddNote | EditNote):

            def note(state: Any, msg: Any, at: datetime) -> Any:
                return domain.decide_note(state, msg, at, csid=csid, privilege_of=self.privilege_of)

            return await apply(store.notes, str(message.note_id), envelope, message, note, now, settings)
        if isinstance(message, domain.LOG_SOURCES):
            source_message_id = envelope.message_id

            def log(state: Any, msg: Any, at: datetime) -> Any:
                return domain.decide_communication(
                    state, msg, at, csid=csid, source_message_id=source_message_id
                )

            entry = str(domain.communication_id_for(message))
            return await apply(store.communications, entry, envelope, message, log, now, settings)
        if isinstance(message, MSPIncidentRaised):

            def incident(state: Any, msg: Any, at: datetime) -> Any:
                return domain.decide_incident(state, msg, at, csid=csid)

            return await apply(
                store.incidents, str(message.incident_id), envelope, message, incident, now, settings
            )
        return Outcome.IGNORED

    async def _minutes_attachments(self, csid: str, message: Message) -> dict[UUID, AttachmentSummary]:
        """The customer's attachments a minutes command refers to (read before deciding)."""
        ids: Sequence[UUID] = ()
        if isinstance(message, RecordMeetingMinutes):
            ids = message.attachment_ids
        elif isinstance(message, IssueMeetingMinutes):
            meeting = (await self.store.meetings.load(str(message.meeting_id))).state
            if meeting is not None and meeting.minutes is not None:
                ids = meeting.minutes.attachment_ids
        return await self.store.attachment_summaries(csid, ids)

    # -- writes that do not arrive on Kafka

    async def record_upload(self, csid: str, upload: AttachmentUpload, now: datetime) -> Outcome:
        envelope = internal_envelope(
            "UploadAttachment",
            csid,
            now,
            self.settings.service_name,
            payload={"attachment_id": str(upload.attachment_id)},
        )
        message_id = envelope.message_id

        def decide(state: Any, msg: Any, at: datetime) -> Any:
            return domain.decide_attachment(state, msg, at, csid=csid, message_id=message_id)

        return await apply(
            self.store.attachments, str(upload.attachment_id), envelope, upload, decide, now, self.settings
        )

    async def check_quarantined(self, attachment: AttachmentState, now: datetime) -> Outcome:
        """Issue 7: run the checks on a quarantined attachment; release it or refuse it.

        The check of one attachment has one message id, so replicas checking the same one at
        once apply it once. A stored copy that cannot be read (or reads back different) stays
        quarantined and is checked again later.
        """
        if attachment.storage_ref is None or attachment.media_type is None:
            return Outcome.IGNORED
        content = await self.store.files.get(attachment.storage_ref)
        if content is None or domain.sha256_hex(content) != attachment.sha256:
            return Outcome.IGNORED
        verdict = domain.quarantine_verdict(filetypes.inspect(content, attachment.media_type))
        check = QuarantineCheck(
            attachment_id=attachment.attachment_id,
            refusal=verdict[0] if verdict else None,
            reason=verdict[1] if verdict else None,
        )
        envelope = internal_envelope(
            "CheckQuarantinedAttachment",
            attachment.csid,
            now,
            self.settings.service_name,
            message_id=uuid.uuid5(domain.CONTACTS_NAMESPACE, f"quarantine-check:{attachment.attachment_id}"),
            correlation_id=attachment.upload_message_id,
            payload={"attachment_id": str(attachment.attachment_id)},
        )
        message_id = envelope.message_id

        def decide(state: Any, msg: Any, at: datetime) -> Any:
            return domain.decide_attachment(state, msg, at, csid=attachment.csid, message_id=message_id)

        outcome = await apply(
            self.store.attachments, str(attachment.attachment_id), envelope, check, decide, now, self.settings
        )
        if verdict is not None and outcome is Outcome.APPLIED:
            # A refused file is not kept: only its audit record (AttachmentRefused) remains.
            await self.store.files.delete(attachment.storage_ref)
        return outcome
