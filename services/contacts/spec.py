"""The contacts service declared: six kinds of aggregate, each with its key and its rules (issue 7;
seed 004 — Cúram client-contact management — and the communication records of seeds 000 and 003).

Each aggregate is found from the message alone, so one customer's messages about different
meetings, notes or log entries never contend for one document. The upload endpoint and the
quarantine job decide through the same spec, with internal messages and envelopes of their own
(:func:`internal_envelope`), so their events also leave through the outbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from contracts.base import Actor, Message
from contracts.catalogue.complaints import ComplimentRecorded
from contracts.catalogue.contacts import (
    AddNote,
    AssessMeetingRequirement,
    ContactsCommandRejected,
    EditNote,
    IssueMeetingMinutes,
    RecordCommunication,
    RecordMeetingMinutes,
    RespondToMeetingInvitation,
    ScheduleMeeting,
)
from contracts.catalogue.notifications import (
    MSPIncidentRaised,
    NotificationDelivered,
    NotificationDeliveryFailed,
    NotificationDispatched,
    SmsSuppressed,
)
from contracts.catalogue.referrals import PSStackingDocumentCreated
from contracts.envelope import Envelope
from kit.spec import Aggregate, ServiceSpec
from services.contacts.domain import assessments, attachments, communications, incidents, meetings, notes
from services.contacts.domain.assessments import AssessmentState
from services.contacts.domain.attachments import AttachmentState, AttachmentUpload, QuarantineCheck
from services.contacts.domain.communications import CommunicationState, communication_id_for
from services.contacts.domain.incidents import IncidentState
from services.contacts.domain.meetings import MeetingState
from services.contacts.domain.notes import NoteState
from services.contacts.domain.state import AttachmentSummary, Events, Facts

# Seed 004 (Riunioni): one assessment per customer and case (the latest answer stands).
ASSESSMENTS = Aggregate(
    collection="meeting_assessments",
    state=AssessmentState,
    key=lambda envelope, message: f"{envelope.csid}:{message.case_id}",
    rules={AssessMeetingRequirement: assessments.assess_meeting_requirement},
)

MEETINGS = Aggregate(
    collection="meetings",
    state=MeetingState,
    key=lambda envelope, message: str(message.meeting_id),
    rules={
        ScheduleMeeting: meetings.schedule_meeting,
        RespondToMeetingInvitation: meetings.respond_to_invitation,
        RecordMeetingMinutes: meetings.record_minutes,
        IssueMeetingMinutes: meetings.issue_minutes,
    },
)

NOTES = Aggregate(
    collection="notes",
    state=NoteState,
    key=lambda envelope, message: str(message.note_id),
    rules={AddNote: notes.add_note, EditNote: notes.edit_note},
)

# One entry per source fact; other events on the topics contacts reads are ignored.
COMMUNICATIONS = Aggregate(
    collection="communications",
    state=CommunicationState,
    key=lambda envelope, message: str(communication_id_for(message)),
    rules={
        RecordCommunication: communications.record_communication,
        NotificationDispatched: communications.log_dispatch,
        NotificationDelivered: communications.log_delivered,
        NotificationDeliveryFailed: communications.log_delivery_failed,
        SmsSuppressed: communications.log_suppressed_sms,
        PSStackingDocumentCreated: communications.log_stacking_document,
        ComplimentRecorded: communications.log_compliment,
    },
)

INCIDENTS = Aggregate(
    collection="incidents",
    state=IncidentState,
    key=lambda envelope, message: str(message.incident_id),
    rules={MSPIncidentRaised: incidents.record_incident},
)

# Internal messages only: uploads arrive over HTTP (bytes never travel on Kafka, issue 7) and
# quarantine checks come from the service's own job.
ATTACHMENTS = Aggregate(
    collection="attachments",
    state=AttachmentState,
    key=lambda envelope, message: str(message.attachment_id),
    rules={AttachmentUpload: attachments.record_upload, QuarantineCheck: attachments.check_quarantined},
)

SPEC = ServiceSpec(
    "contacts",
    [ASSESSMENTS, MEETINGS, NOTES, COMMUNICATIONS, INCIDENTS, ATTACHMENTS],
    ContactsCommandRejected,
)

MEETING_COMMANDS = tuple(MEETINGS.rules)


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


# -- the rules through the spec, as the unit tests call them (a refusal is the rejected event)


def _decided(state: Any, message: Message, now: datetime, facts: Facts) -> tuple[Any, Events]:
    new_state, outputs = SPEC.decide(state, message, now, facts)
    return new_state, cast(Events, list(outputs))  # contacts defers nothing: events only


def decide_assessment(
    state: AssessmentState | None,
    command: AssessMeetingRequirement,
    now: datetime,
    *,
    always_required: Collection[str],
) -> tuple[AssessmentState | None, Events]:
    return _decided(
        state, command, now, Facts(csid="", meeting_required_case_types=frozenset(always_required))
    )


def decide_meeting(
    state: MeetingState | None,
    command: Message,
    now: datetime,
    *,
    csid: str,
    attachments: Mapping[UUID, AttachmentSummary] | None = None,
) -> tuple[MeetingState | None, Events]:
    """``attachments``: the customer's attachments the command's minutes refer to."""
    return _decided(state, command, now, Facts(csid=csid, attachments=attachments or {}))


def decide_note(
    state: NoteState | None,
    command: Message,
    now: datetime,
    *,
    csid: str,
    privilege_of: Callable[[Actor], int],
) -> tuple[NoteState | None, Events]:
    """``privilege_of``: the configured privilege level of a command's actor (by role)."""
    return _decided(state, command, now, Facts(csid=csid, privilege_of=privilege_of))


def decide_communication(
    state: CommunicationState | None,
    message: Message,
    now: datetime,
    *,
    csid: str,
    source_message_id: UUID | None,
) -> tuple[CommunicationState | None, Events]:
    return _decided(state, message, now, Facts(csid=csid, message_id=source_message_id))


def decide_incident(
    state: IncidentState | None, message: MSPIncidentRaised, now: datetime, *, csid: str
) -> tuple[IncidentState | None, Events]:
    return _decided(state, message, now, Facts(csid=csid))


def decide_attachment(
    state: AttachmentState | None,
    message: AttachmentUpload | QuarantineCheck,
    now: datetime,
    *,
    csid: str,
    message_id: UUID,
) -> tuple[AttachmentState | None, Events]:
    return _decided(state, message, now, Facts(csid=csid, message_id=message_id))
