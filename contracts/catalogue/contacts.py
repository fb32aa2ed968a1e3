"""contacts service: meetings and minutes, notes with history, attachments, the communications
log, MSP incidents (issue 7; seed 004 — Cúram client-contact management).

* Issuing minutes sends :class:`~contracts.catalogue.notifications.SendEmail` commands to
  notifications, one per recipient (attendees, invitees who declined, other interested people).
* Attachment bytes never travel on Kafka: files are uploaded over HTTP and only their reference
  is published.
* Note text is not published either: a note's sensitivity restricts who may read it, and Kafka
  consumers are not privilege-checked. Events carry the note's metadata and version only.
* The communications log (``CommunicationLogged``) is filled from notifications' dispatch,
  delivery and suppression events, referrals' PS stacking documents, complaints' compliments,
  and officers' own entries (:class:`RecordCommunication`).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from contracts.base import (
    ACTOR_EXAMPLE,
    COMMAND_CONFIG,
    Actor,
    Code,
    Command,
    EmailAddress,
    Event,
    EventPart,
    LongText,
    Name,
    Rejection,
    ShortText,
)
from contracts.rules import published, unique_by

MEETING_ID = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"
NOTE_ID = "6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e"
ATTACHMENT_ID = "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
COMMUNICATION_ID = "8d9e0f1a-2b3c-4d4e-9f5a-6b7c8d9e0f1a"
ACTION_ID = "9e0f1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b"
MSP_ID = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"


class ContactsReasonCode(StrEnum):
    """Why the contacts service refused a command or an upload."""

    # Issue 16: the command's actor is not a verified identity (kit/identity.py): no valid token
    # from the identity provider in the x-casemesh-identity header, or one naming someone else.
    UNAUTHENTICATED = "UNAUTHENTICATED"
    ACTOR_MISMATCH = "ACTOR_MISMATCH"
    UNKNOWN_MEETING = "UNKNOWN_MEETING"
    MEETING_ALREADY_SCHEDULED = "MEETING_ALREADY_SCHEDULED"
    MEETING_IN_PAST = "MEETING_IN_PAST"
    NOT_INVITED = "NOT_INVITED"
    UNKNOWN_ATTENDEE = "UNKNOWN_ATTENDEE"  # minutes name an attendee who was not invited
    MINUTES_NOT_RECORDED = "MINUTES_NOT_RECORDED"
    MINUTES_ALREADY_ISSUED = "MINUTES_ALREADY_ISSUED"
    UNKNOWN_NOTE = "UNKNOWN_NOTE"
    NOTE_ALREADY_EXISTS = "NOTE_ALREADY_EXISTS"
    NOTE_VERSION_CONFLICT = (
        "NOTE_VERSION_CONFLICT"  # edit based on an older version — history is never overwritten
    )
    INSUFFICIENT_PRIVILEGE = "INSUFFICIENT_PRIVILEGE"
    UNKNOWN_ATTACHMENT = "UNKNOWN_ATTACHMENT"
    ATTACHMENT_QUARANTINED = "ATTACHMENT_QUARANTINED"  # not downloadable until its checks pass
    # Issue 7: the type is checked from the content (magic bytes), not only the extension.
    ATTACHMENT_TYPE_NOT_ALLOWED = "ATTACHMENT_TYPE_NOT_ALLOWED"  # recognised, but not Word/Excel/PDF/image
    ATTACHMENT_TYPE_UNKNOWN = "ATTACHMENT_TYPE_UNKNOWN"  # content not recognised
    # Issue 16: the quarantine could not read the file in full (damaged, encrypted, or headers
    # that disagree with the content), so it cannot say it is safe.
    ATTACHMENT_UNREADABLE = "ATTACHMENT_UNREADABLE"
    ATTACHMENT_TYPE_MISMATCH = "ATTACHMENT_TYPE_MISMATCH"  # extension or declared type ≠ content
    # Seed 004: "the agency may want to set a limit through an environment variable".
    ATTACHMENT_TOO_LARGE = "ATTACHMENT_TOO_LARGE"
    UNKNOWN_CASE = "UNKNOWN_CASE"


class MeetingChannel(StrEnum):
    IN_PERSON = "IN_PERSON"
    PHONE = "PHONE"
    VIDEO = "VIDEO"


class MeetingReason(StrEnum):
    """Seed 004 (Riunioni): some programmes always need a meeting before authorisation; others
    only when the case has missing or conflicting information."""

    PROGRAMME_AUTHORISATION = "PROGRAMME_AUTHORISATION"
    MISSING_INFORMATION = "MISSING_INFORMATION"
    CONFLICTING_INFORMATION = "CONFLICTING_INFORMATION"
    OTHER = "OTHER"


class InviteeRole(StrEnum):
    CLIENT = "CLIENT"
    REPRESENTATIVE = "REPRESENTATIVE"
    STAFF = "STAFF"
    OTHER = "OTHER"


class InvitationResponse(StrEnum):
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"


class MinutesRecipientGroup(StrEnum):
    """Seed 004 (Verbale): minutes go to attendees, invitees who declined, and other interested people."""

    ATTENDEE = "ATTENDEE"
    DECLINED_INVITEE = "DECLINED_INVITEE"
    INTERESTED_PARTY = "INTERESTED_PARTY"


class CommunicationKind(StrEnum):
    """Seed 004 (Comunicazioni): phone calls, emails and letters (plus SMS sent by notifications)."""

    PHONE_CALL = "PHONE_CALL"
    EMAIL = "EMAIL"
    LETTER = "LETTER"
    SMS = "SMS"
    COMPLIMENT = "COMPLIMENT"  # seed 003 table 3 step 1: compliments are recorded as communications


class Direction(StrEnum):
    INCOMING = "INCOMING"
    OUTGOING = "OUTGOING"


class CommunicationSource(StrEnum):
    """Where a log entry came from."""

    OFFICER = "OFFICER"  # RecordCommunication
    NOTIFICATIONS = "NOTIFICATIONS"  # dispatches, deliveries, suppressions
    REFERRALS = "REFERRALS"  # PS stacking documents (seed 000 table 4)
    COMPLAINTS = "COMPLAINTS"  # compliments (seed 003 table 3)


class CommunicationStatus(StrEnum):
    RECORDED = "RECORDED"
    DISPATCHED = "DISPATCHED"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    SUPPRESSED = "SUPPRESSED"


class AttachmentStatus(StrEnum):
    QUARANTINED = "QUARANTINED"
    AVAILABLE = "AVAILABLE"


class Invitee(EventPart):
    """Someone invited to a meeting."""

    invitee_id: Code = Field(description="Id of the invitee within the meeting.", examples=["inv-1"])
    name: Name = Field(description="Name to address them by.", examples=["Jordan"])
    role: InviteeRole = Field(description="Client, representative, staff or other.", examples=["CLIENT"])
    email: EmailAddress | None = Field(
        default=None, description="Where minutes are sent.", examples=["jordan@example.org"]
    )


class InviteeInput(Invitee):
    """:class:`Invitee` as a command accepts it (strict, closed)."""

    model_config = COMMAND_CONFIG


class MinutesAction(EventPart):
    """An action from the minutes: an owner and a due date; published as a task."""

    action_id: UUID = Field(description="New id for the action.", examples=[ACTION_ID])
    description: ShortText = Field(description="What is to be done.", examples=["Provide payslips"])
    owner: Name = Field(description="Who owns it (officer id or invitee id).", examples=["inv-1"])
    due_date: dt.date = Field(description="When it is due.", examples=["2025-03-26"])


class MinutesActionInput(MinutesAction):
    """:class:`MinutesAction` as a command accepts it (strict, closed)."""

    model_config = COMMAND_CONFIG


class InterestedParty(EventPart):
    """Someone else who receives the minutes."""

    name: Name = Field(description="Name.", examples=["Case reviewer"])
    email: EmailAddress = Field(description="Address.", examples=["reviewer@example.org"])


class InterestedPartyInput(InterestedParty):
    """:class:`InterestedParty` as a command accepts it (strict, closed)."""

    model_config = COMMAND_CONFIG


INVITEE_EXAMPLE = {"invitee_id": "inv-1", "name": "Jordan", "role": "CLIENT", "email": "jordan@example.org"}
ACTION_EXAMPLE = {
    "action_id": ACTION_ID,
    "description": "Provide payslips",
    "owner": "inv-1",
    "due_date": "2025-03-26",
}

# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


class AssessMeetingRequirement(Command):
    """Seed 004 (Riunioni): is a meeting needed for this case? (configurable rule per case type)."""

    case_id: Code = Field(description="The case.", examples=["CASE-2025-00017"])
    case_type: Code = Field(
        description="The case (programme) type the rule is configured for.", examples=["PROGRAMME_A"]
    )
    missing_information: bool = Field(description="The case has missing information.", examples=[False])
    conflicting_information: bool = Field(
        description="The case has conflicting information.", examples=[True]
    )


class ScheduleMeeting(Command):
    """Seed 004 (Riunioni): schedule a meeting with clients for a case.

    Rule (``x-casemesh-rules``, not expressible in JSON Schema): invitee ids are unique within
    the meeting.
    """

    model_config = ConfigDict(
        json_schema_extra=published(
            unique_by(
                "invitees",
                "invitee_id",
                rule_id="invitee-ids-are-unique",
                description="Each invitee of a meeting has its own invitee_id.",
            )
        )
    )

    meeting_id: UUID = Field(description="New id for the meeting.", examples=[MEETING_ID])
    case_id: Code = Field(description="The case.", examples=["CASE-2025-00017"])
    reason: MeetingReason = Field(description="Why it is needed.", examples=["CONFLICTING_INFORMATION"])
    starts_at: AwareDatetime = Field(description="Start time.", examples=["2025-03-12T10:00:00+11:00"])
    duration_minutes: int = Field(ge=5, le=480, description="Length.", examples=[45])
    channel: MeetingChannel = Field(description="In person, phone or video.", examples=["IN_PERSON"])
    location: ShortText | None = Field(
        default=None,
        description="Place (IN_PERSON) or dial-in/link (PHONE, VIDEO).",
        examples=["Hobart service centre, room 2"],
    )
    invitees: tuple[InviteeInput, ...] = Field(
        min_length=1, max_length=30, description="Who is invited.", examples=[[INVITEE_EXAMPLE]]
    )

    @model_validator(mode="after")
    def _invitee_ids_are_unique(self) -> ScheduleMeeting:
        ids = [i.invitee_id for i in self.invitees]
        if len(ids) != len(set(ids)):
            raise ValueError("invitee ids must be unique within a meeting")
        return self


class RespondToMeetingInvitation(Command):
    """An invitee accepts or declines."""

    meeting_id: UUID = Field(description="The meeting.", examples=[MEETING_ID])
    invitee_id: Code = Field(description="The invitee.", examples=["inv-1"])
    response: InvitationResponse = Field(description="Accept or decline.", examples=["ACCEPTED"])


class RecordMeetingMinutes(Command):
    """Seed 004 (Verbale): details, notes, decisions, attendees, actions, attachments, cases discussed."""

    meeting_id: UUID = Field(description="The meeting.", examples=[MEETING_ID])
    general_details: LongText = Field(description="General details.", examples=["Meeting held as scheduled."])
    notes: LongText | None = Field(
        default=None, description="Meeting notes.", examples=["Client brought payslips."]
    )
    decisions: tuple[ShortText, ...] = Field(
        default=(), max_length=50, description="Decisions made.", examples=[["Income to be re-assessed"]]
    )
    attendee_ids: tuple[Code, ...] = Field(
        default=(), max_length=30, description="Invitee ids who attended.", examples=[["inv-1"]]
    )
    actions: tuple[MinutesActionInput, ...] = Field(
        default=(),
        max_length=50,
        description="Actions, each with owner and due date.",
        examples=[[ACTION_EXAMPLE]],
    )
    attachment_ids: tuple[UUID, ...] = Field(
        default=(), max_length=20, description="Attachments (uploaded over HTTP).", examples=[[ATTACHMENT_ID]]
    )
    cases_discussed: tuple[Code, ...] = Field(
        default=(), max_length=20, description="Cases discussed.", examples=[["CASE-2025-00017"]]
    )
    interested_parties: tuple[InterestedPartyInput, ...] = Field(
        default=(),
        max_length=20,
        description="Other people who receive the minutes.",
        examples=[[{"name": "Case reviewer", "email": "reviewer@example.org"}]],
    )


class IssueMeetingMinutes(Command):
    """Seed 004 (Verbale): e-mail the minutes to attendees, declined invitees and interested people."""

    meeting_id: UUID = Field(description="The meeting.", examples=[MEETING_ID])


class AddNote(Command):
    """Seed 004 (Note): a note on a case or customer, with a sensitivity level."""

    note_id: UUID = Field(description="New id for the note.", examples=[NOTE_ID])
    case_id: Code | None = Field(
        default=None,
        description="The case; None = a note on the customer (the envelope's csid).",
        examples=["CASE-2025-00017"],
    )
    sensitivity_level: int = Field(
        ge=1,
        le=5,
        description="1 (anyone on the case) … 5 (most restricted); readers need privilege ≥ this.",
        examples=[2],
    )
    text: LongText = Field(description="The note.", examples=["Client prefers morning calls."])


class EditNote(Command):
    """Seed 004 (Note): a new version; earlier versions are kept with their author and time."""

    note_id: UUID = Field(description="The note.", examples=[NOTE_ID])
    based_on_version: int = Field(
        ge=1, description="The version the edit starts from (optimistic check).", examples=[1]
    )
    text: LongText = Field(
        description="The new text.", examples=["Client prefers morning calls before 10am."]
    )
    sensitivity_level: int | None = Field(
        default=None, ge=1, le=5, description="New level, if changed.", examples=[2]
    )


class RecordCommunication(Command):
    """Seed 004 (Comunicazioni): an officer logs a phone call, email or letter, in or out."""

    communication_id: UUID = Field(description="New id for the entry.", examples=[COMMUNICATION_ID])
    kind: CommunicationKind = Field(description="What kind.", examples=["PHONE_CALL"])
    direction: Direction = Field(description="Incoming or outgoing.", examples=["INCOMING"])
    case_id: Code | None = Field(default=None, description="The case, if any.", examples=["CASE-2025-00017"])
    subject: ShortText = Field(description="Short subject.", examples=["Customer called about payment date"])
    body: LongText | None = Field(
        default=None, description="Free-form content.", examples=["Explained next payment."]
    )
    template_id: Code | None = Field(
        default=None, description="Template, if template-based.", examples=["general-letter"]
    )
    template_version: int | None = Field(default=None, ge=1, description="Template version.", examples=[1])


COMMANDS: tuple[type[Command], ...] = (
    AssessMeetingRequirement,
    ScheduleMeeting,
    RespondToMeetingInvitation,
    RecordMeetingMinutes,
    IssueMeetingMinutes,
    AddNote,
    EditNote,
    RecordCommunication,
)

# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


class MeetingRequirementAssessed(Event):
    """Seed 004: the configured rule for the case type decided whether a meeting is needed."""

    case_id: Code = Field(description="The case.", examples=["CASE-2025-00017"])
    case_type: Code = Field(description="The case type.", examples=["PROGRAMME_A"])
    meeting_required: bool = Field(description="Whether a meeting is needed.", examples=[True])
    reason: MeetingReason | None = Field(
        default=None, description="Why, when required.", examples=["CONFLICTING_INFORMATION"]
    )


class MeetingScheduled(Event):
    """A meeting was scheduled."""

    meeting_id: UUID = Field(description="The meeting.", examples=[MEETING_ID])
    case_id: Code = Field(description="The case.", examples=["CASE-2025-00017"])
    reason: MeetingReason = Field(description="Why.", examples=["CONFLICTING_INFORMATION"])
    starts_at: AwareDatetime = Field(description="Start.", examples=["2025-03-12T10:00:00+11:00"])
    duration_minutes: int = Field(description="Length.", examples=[45])
    channel: MeetingChannel = Field(description="Channel.", examples=["IN_PERSON"])
    location: ShortText | None = Field(
        default=None, description="Place or link.", examples=["Hobart, room 2"]
    )
    invitees: tuple[Invitee, ...] = Field(
        max_length=30, description="Invitees.", examples=[[INVITEE_EXAMPLE]]
    )
    actor: Actor = Field(description="Who scheduled it.", examples=[ACTOR_EXAMPLE])


class MeetingInvitationAccepted(Event):
    """An invitee accepted."""

    meeting_id: UUID = Field(description="The meeting.", examples=[MEETING_ID])
    invitee_id: Code = Field(description="The invitee.", examples=["inv-1"])


class MeetingInvitationDeclined(Event):
    """An invitee declined (they still receive the minutes — seed 004)."""

    meeting_id: UUID = Field(description="The meeting.", examples=[MEETING_ID])
    invitee_id: Code = Field(description="The invitee.", examples=["inv-1"])


class MeetingMinutesRecorded(Event):
    """Seed 004 (Verbale)."""

    meeting_id: UUID = Field(description="The meeting.", examples=[MEETING_ID])
    decisions: tuple[ShortText, ...] = Field(
        default=(), max_length=50, description="Decisions.", examples=[["Re-assess income"]]
    )
    attendee_ids: tuple[Code, ...] = Field(
        default=(), max_length=30, description="Who attended.", examples=[["inv-1"]]
    )
    actions: tuple[MinutesAction, ...] = Field(
        default=(), max_length=50, description="Actions.", examples=[[ACTION_EXAMPLE]]
    )
    attachment_ids: tuple[UUID, ...] = Field(
        default=(), max_length=20, description="Attachments.", examples=[[ATTACHMENT_ID]]
    )
    cases_discussed: tuple[Code, ...] = Field(
        default=(), max_length=20, description="Cases.", examples=[["CASE-2025-00017"]]
    )
    actor: Actor = Field(description="Who recorded them.", examples=[ACTOR_EXAMPLE])


class MeetingMinutesIssued(Event):
    """Seed 004 (Verbale): e-mails requested from notifications, one per recipient."""

    meeting_id: UUID = Field(description="The meeting.", examples=[MEETING_ID])
    recipients: dict[MinutesRecipientGroup, int] = Field(
        max_length=3,
        description="How many e-mails were requested per recipient group.",
        examples=[{"ATTENDEE": 2, "DECLINED_INVITEE": 1, "INTERESTED_PARTY": 1}],
    )
    notification_ids: tuple[UUID, ...] = Field(
        max_length=100, description="The SendEmail notification ids.", examples=[[COMMUNICATION_ID]]
    )
    unreachable_invitee_ids: tuple[Code, ...] = Field(
        default=(),
        max_length=30,
        description=(
            "Invitees who should receive the minutes but have no e-mail address (neither the customer "
            "nor their representative, whose address notifications looks up)."
        ),
        examples=[["inv-3"]],
    )


class MeetingActionTaskCreated(Event):
    """Seed 004 (Verbale): each action in issued minutes is published as a task."""

    meeting_id: UUID = Field(description="The meeting.", examples=[MEETING_ID])
    action_id: UUID = Field(description="The action.", examples=[ACTION_ID])
    description: ShortText = Field(description="What is to be done.", examples=["Provide payslips"])
    owner: Name = Field(description="Who owns it.", examples=["inv-1"])
    due_date: dt.date = Field(description="When it is due.", examples=["2025-03-26"])


class NoteAdded(Event):
    """Seed 004 (Note): version 1 of a note. The text stays in the contacts store."""

    note_id: UUID = Field(description="The note.", examples=[NOTE_ID])
    case_id: Code | None = Field(
        default=None, description="The case, or None for a customer note.", examples=["CASE-2025-00017"]
    )
    version: int = Field(ge=1, description="Always 1.", examples=[1])
    sensitivity_level: int = Field(ge=1, le=5, description="Sensitivity.", examples=[2])
    author: Actor = Field(description="Author.", examples=[ACTOR_EXAMPLE])


class NoteEdited(Event):
    """Seed 004 (Note): a new version; the earlier ones are kept (history never overwritten)."""

    note_id: UUID = Field(description="The note.", examples=[NOTE_ID])
    version: int = Field(ge=2, description="The new version number.", examples=[2])
    sensitivity_level: int = Field(ge=1, le=5, description="Sensitivity after the edit.", examples=[2])
    author: Actor = Field(description="Author of this version.", examples=[ACTOR_EXAMPLE])


class AttachmentUploaded(Event):
    """Issue 7: a file arrived over HTTP and is stored, quarantined until its checks pass."""

    attachment_id: UUID = Field(description="The attachment.", examples=[ATTACHMENT_ID])
    case_id: Code | None = Field(default=None, description="The case.", examples=["CASE-2025-00017"])
    meeting_id: UUID | None = Field(
        default=None, description="The meeting, if for minutes.", examples=[MEETING_ID]
    )
    filename: Name = Field(description="Original file name.", examples=["payslip.pdf"])
    media_type: Code = Field(
        description="Type detected from the content (magic bytes).", examples=["application/pdf"]
    )
    size_bytes: int = Field(ge=0, description="Size.", examples=[48213])
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", max_length=64, description="Content hash.", examples=["0" * 64]
    )
    storage_ref: Code = Field(
        description="Where the bytes are stored (store-specific id).", examples=["gridfs:65f0c0a1"]
    )
    status: AttachmentStatus = Field(description="QUARANTINED at upload.", examples=["QUARANTINED"])
    required_privilege_level: int = Field(
        ge=1, le=5, description="Privilege needed to download.", examples=[2]
    )
    uploaded_by: Actor = Field(description="Uploader.", examples=[ACTOR_EXAMPLE])


class AttachmentReleased(Event):
    """Checks passed: the attachment leaves quarantine and may be downloaded by privileged users."""

    attachment_id: UUID = Field(description="The attachment.", examples=[ATTACHMENT_ID])


class AttachmentRefused(Event):
    """An upload was refused (type wrong, unknown or mismatching, or too large) — audit record."""

    # 2: reason_code gained UNAUTHENTICATED and ACTOR_MISMATCH (issue 16); a version 1 payload is
    # a valid version 2 one.
    SCHEMA_VERSION: ClassVar[int] = 2

    @classmethod
    def upgrade_payload(cls, from_version: int, payload: dict[str, Any]) -> dict[str, Any] | None:
        return payload if from_version == 1 else None

    filename: Name = Field(description="File name as uploaded.", examples=["payslip.pdf.exe"])
    declared_media_type: Code | None = Field(
        default=None, description="Type the client declared.", examples=["application/pdf"]
    )
    detected_media_type: Code | None = Field(
        default=None, description="Type found in the content.", examples=[None]
    )
    size_bytes: int = Field(
        ge=0, description="Size received (may be partial when too large).", examples=[48213]
    )
    reason_code: ContactsReasonCode = Field(description="Why.", examples=["ATTACHMENT_TYPE_MISMATCH"])
    reason: ShortText = Field(description="Human explanation.", examples=["Content is not a PDF."])
    uploaded_by: Actor = Field(description="Uploader.", examples=[ACTOR_EXAMPLE])


class CommunicationLogged(Event):
    """Seed 004 (Comunicazioni): one entry of the communications log, per customer and case."""

    communication_id: UUID = Field(description="The entry.", examples=[COMMUNICATION_ID])
    kind: CommunicationKind = Field(description="What kind.", examples=["LETTER"])
    direction: Direction = Field(description="Incoming or outgoing.", examples=["OUTGOING"])
    source: CommunicationSource = Field(description="Where it came from.", examples=["NOTIFICATIONS"])
    status: CommunicationStatus = Field(description="Its state.", examples=["DISPATCHED"])
    case_id: Code | None = Field(default=None, description="The case, if any.", examples=["CASE-2025-00017"])
    subject: ShortText | None = Field(default=None, description="Short subject.", examples=["MSP letter"])
    template_id: Code | None = Field(default=None, description="Template, if any.", examples=["msp-letter"])
    template_version: int | None = Field(default=None, description="Template version.", examples=[2])
    source_message_id: UUID | None = Field(
        default=None, description="The event it was recorded from.", examples=[ATTACHMENT_ID]
    )
    reference_id: UUID | None = Field(
        default=None,
        description="Id in the source (notification, stacking document or compliment id).",
        examples=[MEETING_ID],
    )
    # Seed 000 table 4 step 1: a PS stacking document is a communication record with a Type,
    # Reason, Category and Issue; an international customer's one originates in the
    # international system's notes. (Optional fields added for the communications log.)
    communication_type: Code | None = Field(
        default=None,
        description="Record type as the seed names it (e.g. 'Phone Out').",
        examples=["PHONE_OUT"],
    )
    communication_reason: Code | None = Field(
        default=None, description="Record reason (seed 000 table 4).", examples=["PERS SERVICES"]
    )
    communication_category: Code | None = Field(
        default=None, description="Record category (seed 000 table 4).", examples=["PS CUSTOMER CONTACT"]
    )
    communication_issue: Code | None = Field(
        default=None, description="Record issue; None = 'Blank' (seed 000 table 4).", examples=[None]
    )
    origin: Code | None = Field(
        default=None,
        description="Where the source record was created (e.g. INTERNATIONAL_NOTES).",
        examples=["INTERNATIONAL_NOTES"],
    )
    origin_record_id: Code | None = Field(
        default=None, description="Id of the record in the originating system.", examples=["PLT-0042-77"]
    )


class IncidentRecorded(Event):
    """Issue 7: an incident linked to a Managed Service Plan (aggression during contact)."""

    incident_id: UUID = Field(description="The incident.", examples=["2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d"])
    msp_id: UUID = Field(description="The linked MSP.", examples=[MSP_ID])
    description: ShortText | None = Field(
        default=None, description="What happened.", examples=["Raised voice, threats"]
    )


class ContactsCommandRejected(Rejection):
    """A contacts command was refused."""

    # 2: reason_code gained UNAUTHENTICATED and ACTOR_MISMATCH (issue 16); a version 1 payload is
    # a valid version 2 one.
    SCHEMA_VERSION: ClassVar[int] = 2

    @classmethod
    def upgrade_payload(cls, from_version: int, payload: dict[str, Any]) -> dict[str, Any] | None:
        return payload if from_version == 1 else None

    reason_code: ContactsReasonCode = Field(
        description="Why it was refused.", examples=["NOTE_VERSION_CONFLICT"]
    )


EVENTS: tuple[type[Event], ...] = (
    MeetingRequirementAssessed,
    MeetingScheduled,
    MeetingInvitationAccepted,
    MeetingInvitationDeclined,
    MeetingMinutesRecorded,
    MeetingMinutesIssued,
    MeetingActionTaskCreated,
    NoteAdded,
    NoteEdited,
    AttachmentUploaded,
    AttachmentReleased,
    AttachmentRefused,
    CommunicationLogged,
    IncidentRecorded,
    ContactsCommandRejected,
)
