"""Client contact: meetings and minutes, notes with history, the communications log, MSP
incidents and attachments (issue 7; seed 004 — Cúram client-contact management; the
communication records of seeds 000 and 003).

Every decider is pure: ``decide(state, message, now, ...) -> (new_state, events)``. What a
decider needs from the incoming envelope (the customer's CSID, the message id) or from the
configuration comes as keyword arguments, bound by the handler. A business refusal is a returned
:class:`ContactsCommandRejected` (or, for an upload, :class:`AttachmentRefused`), never an
exception.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Actor, Message
from contracts.catalogue.channels import Channel, Purpose, Recipient
from contracts.catalogue.complaints import ComplimentRecorded, ComplimentSubject
from contracts.catalogue.contacts import (
    AddNote,
    AssessMeetingRequirement,
    AttachmentRefused,
    AttachmentReleased,
    AttachmentStatus,
    AttachmentUploaded,
    CommunicationKind,
    CommunicationLogged,
    CommunicationSource,
    CommunicationStatus,
    ContactsCommandRejected,
    ContactsReasonCode,
    Direction,
    EditNote,
    IncidentRecorded,
    InterestedParty,
    InvitationResponse,
    Invitee,
    InviteeRole,
    IssueMeetingMinutes,
    MeetingActionTaskCreated,
    MeetingChannel,
    MeetingInvitationAccepted,
    MeetingInvitationDeclined,
    MeetingMinutesIssued,
    MeetingMinutesRecorded,
    MeetingReason,
    MeetingRequirementAssessed,
    MeetingScheduled,
    MinutesAction,
    MinutesRecipientGroup,
    NoteAdded,
    NoteEdited,
    RecordCommunication,
    RecordMeetingMinutes,
    RespondToMeetingInvitation,
    ScheduleMeeting,
)
from contracts.catalogue.notifications import (
    EmailAttachmentRef,
    MSPIncidentRaised,
    NotificationDelivered,
    NotificationDeliveryFailed,
    NotificationDispatched,
    SendEmail,
    SmsSuppressed,
)
from contracts.catalogue.referrals import PSStackingDocumentCreated
from services.contacts import filetypes

Events = list[Message]

#: Namespace of the ids this service derives (log entries, e-mail notifications, checks), so
#: deciding the same message again yields the same ids.
CONTACTS_NAMESPACE = UUID("0c0a7f3e-6d0b-4c49-9a52-6f1f0b8e7c11")

LONG_TEXT_MAX = 10_000
SHORT_TEXT_MAX = 500


class State(BaseModel):
    """Base of the stored states: plain, tolerant of fields added later."""

    model_config = ConfigDict(extra="ignore")


def _reject(code: ContactsReasonCode, reason: str, actor: Actor | None = None) -> ContactsCommandRejected:
    return ContactsCommandRejected(reason_code=code, reason=reason, attempted_by=actor)


def _short(text: str) -> str:
    return text if len(text) <= SHORT_TEXT_MAX else text[: SHORT_TEXT_MAX - 1] + "…"


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _order_key(at: datetime, tie: UUID) -> str:
    """A fixed-width, sortable key (ISO strings drop zero microseconds, which breaks sorting)."""
    return f"{at:%Y-%m-%dT%H:%M:%S.%f}|{tie}"


# ============================================================================================
# Meeting requirement — seed 004 (Riunioni)
# ============================================================================================


class AssessmentState(State):
    case_id: str
    case_type: str
    meeting_required: bool
    reason: MeetingReason | None = None
    assessed_at: datetime
    assessed_by: Actor


def decide_assessment(
    state: AssessmentState | None,
    command: AssessMeetingRequirement,
    now: datetime,
    *,
    always_required: Collection[str],
) -> tuple[AssessmentState | None, Events]:
    # Seed 004 (Riunioni): "For some programmes a meeting with the client may always be required
    # before the programme is authorised. For other programmes a meeting is required only if
    # there are problems, for example missing or conflicting information in the case."
    reason: MeetingReason | None
    if command.case_type in always_required:
        reason = MeetingReason.PROGRAMME_AUTHORISATION
    elif command.conflicting_information:
        reason = MeetingReason.CONFLICTING_INFORMATION
    elif command.missing_information:
        reason = MeetingReason.MISSING_INFORMATION
    else:
        reason = None
    new = AssessmentState(
        case_id=command.case_id,
        case_type=command.case_type,
        meeting_required=reason is not None,
        reason=reason,
        assessed_at=now,
        assessed_by=command.actor,
    )
    return new, [
        MeetingRequirementAssessed(
            case_id=command.case_id,
            case_type=command.case_type,
            meeting_required=reason is not None,
            reason=reason,
        )
    ]


# ============================================================================================
# Meetings and minutes — seed 004 (Riunioni, Verbale della riunione)
# ============================================================================================


class AttachmentSummary(State):
    """What minutes and e-mails need to know about an attachment (never its bytes)."""

    attachment_id: UUID
    filename: str
    media_type: str
    size_bytes: int
    status: AttachmentStatus


class Minutes(State):
    general_details: str
    notes: str | None = None
    decisions: tuple[str, ...] = ()
    attendee_ids: tuple[str, ...] = ()
    actions: tuple[MinutesAction, ...] = ()
    attachment_ids: tuple[UUID, ...] = ()
    cases_discussed: tuple[str, ...] = ()
    interested_parties: tuple[InterestedParty, ...] = ()
    recorded_by: Actor
    recorded_at: datetime


class MeetingState(State):
    meeting_id: UUID
    csid: str
    case_id: str
    reason: MeetingReason
    starts_at: datetime
    duration_minutes: int
    channel: MeetingChannel
    location: str | None = None
    invitees: tuple[Invitee, ...]
    responses: dict[str, InvitationResponse] = Field(default_factory=dict)
    scheduled_by: Actor
    scheduled_at: datetime
    minutes: Minutes | None = None
    issued_at: datetime | None = None
    issued_by: Actor | None = None
    notification_ids: tuple[UUID, ...] = ()
    unreachable_invitee_ids: tuple[str, ...] = ()

    def invitee(self, invitee_id: str) -> Invitee | None:
        return next((i for i in self.invitees if i.invitee_id == invitee_id), None)


MeetingCommand = ScheduleMeeting | RespondToMeetingInvitation | RecordMeetingMinutes | IssueMeetingMinutes


def decide_meeting(
    state: MeetingState | None,
    command: MeetingCommand,
    now: datetime,
    *,
    csid: str,
    attachments: Mapping[UUID, AttachmentSummary] | None = None,
) -> tuple[MeetingState | None, Events]:
    """``attachments``: the customer's attachments the command's minutes refer to (looked up by the
    handler; bytes never come here)."""
    if isinstance(command, ScheduleMeeting):
        return _schedule(state, command, now, csid)
    # A meeting belongs to one customer: another customer's meeting id is an unknown meeting.
    if state is None or state.csid != csid:
        return state, [_reject(ContactsReasonCode.UNKNOWN_MEETING, "No such meeting.", command.actor)]
    if isinstance(command, RespondToMeetingInvitation):
        return _respond(state, command)
    if isinstance(command, RecordMeetingMinutes):
        return _record_minutes(state, command, now, attachments or {})
    return _issue_minutes(state, command, now, attachments or {})


def _schedule(
    state: MeetingState | None, command: ScheduleMeeting, now: datetime, csid: str
) -> tuple[MeetingState | None, Events]:
    if state is not None:
        return state, [
            _reject(
                ContactsReasonCode.MEETING_ALREADY_SCHEDULED,
                "A meeting with this id is already scheduled.",
                command.actor,
            )
        ]
    # Seed 004 (Riunioni): meetings are planned to complete a case's information — ahead of time.
    if command.starts_at <= now:
        return state, [
            _reject(ContactsReasonCode.MEETING_IN_PAST, "A meeting cannot start in the past.", command.actor)
        ]
    invitees = tuple(Invitee.model_validate(i.model_dump()) for i in command.invitees)
    new = MeetingState(
        meeting_id=command.meeting_id,
        csid=csid,
        case_id=command.case_id,
        reason=command.reason,
        starts_at=command.starts_at,
        duration_minutes=command.duration_minutes,
        channel=command.channel,
        location=command.location,
        invitees=invitees,
        scheduled_by=command.actor,
        scheduled_at=now,
    )
    return new, [
        MeetingScheduled(
            meeting_id=command.meeting_id,
            case_id=command.case_id,
            reason=command.reason,
            starts_at=command.starts_at,
            duration_minutes=command.duration_minutes,
            channel=command.channel,
            location=command.location,
            invitees=invitees,
            actor=command.actor,
        )
    ]


def _respond(state: MeetingState, command: RespondToMeetingInvitation) -> tuple[MeetingState, Events]:
    if state.invitee(command.invitee_id) is None:
        return state, [
            _reject(
                ContactsReasonCode.NOT_INVITED, "That person is not invited to the meeting.", command.actor
            )
        ]
    if state.issued_at is not None:
        return state, [
            _reject(
                ContactsReasonCode.MINUTES_ALREADY_ISSUED,
                "The meeting's minutes are issued; responses are closed.",
                command.actor,
            )
        ]
    if state.responses.get(command.invitee_id) == command.response:
        return state, []  # the same answer again changes nothing
    new = state.model_copy(update={"responses": {**state.responses, command.invitee_id: command.response}})
    event: Message
    if command.response is InvitationResponse.ACCEPTED:
        event = MeetingInvitationAccepted(meeting_id=state.meeting_id, invitee_id=command.invitee_id)
    else:
        # Seed 004 (Verbale): an invitee who declined still receives the minutes.
        event = MeetingInvitationDeclined(meeting_id=state.meeting_id, invitee_id=command.invitee_id)
    return new, [event]


def _record_minutes(
    state: MeetingState,
    command: RecordMeetingMinutes,
    now: datetime,
    attachments: Mapping[UUID, AttachmentSummary],
) -> tuple[MeetingState, Events]:
    if state.issued_at is not None:
        return state, [
            _reject(
                ContactsReasonCode.MINUTES_ALREADY_ISSUED,
                "The minutes are issued and can no longer change.",
                command.actor,
            )
        ]
    # Seed 004 (Verbale): "mark the participants" — only invitees can have attended.
    strangers = [a for a in command.attendee_ids if state.invitee(a) is None]
    if strangers:
        return state, [
            _reject(
                ContactsReasonCode.UNKNOWN_ATTENDEE,
                f"{len(strangers)} attendee(s) were not invited to the meeting.",
                command.actor,
            )
        ]
    # Seed 004 (Verbale): "attach the files" — files uploaded to this service for this customer.
    missing = [a for a in command.attachment_ids if a not in attachments]
    if missing:
        return state, [
            _reject(
                ContactsReasonCode.UNKNOWN_ATTACHMENT,
                f"{len(missing)} attachment(s) are not stored for this customer.",
                command.actor,
            )
        ]
    minutes = Minutes(
        general_details=command.general_details,
        notes=command.notes,
        decisions=command.decisions,
        attendee_ids=tuple(dict.fromkeys(command.attendee_ids)),
        actions=tuple(MinutesAction.model_validate(a.model_dump()) for a in command.actions),
        attachment_ids=tuple(dict.fromkeys(command.attachment_ids)),
        cases_discussed=command.cases_discussed,
        interested_parties=tuple(
            InterestedParty.model_validate(p.model_dump()) for p in command.interested_parties
        ),
        recorded_by=command.actor,
        recorded_at=now,
    )
    # Recorded minutes may be recorded again (corrected) until they are issued.
    new = state.model_copy(update={"minutes": minutes})
    return new, [
        MeetingMinutesRecorded(
            meeting_id=state.meeting_id,
            decisions=minutes.decisions,
            attendee_ids=minutes.attendee_ids,
            actions=minutes.actions,
            attachment_ids=minutes.attachment_ids,
            cases_discussed=minutes.cases_discussed,
            actor=command.actor,
        )
    ]


class MinutesRecipient(BaseModel):
    group: MinutesRecipientGroup
    recipient: Recipient
    name: str
    email: str | None


def minutes_recipients(state: MeetingState) -> tuple[list[MinutesRecipient], list[str]]:
    """Seed 004 (Verbale): "issued by email to the meeting's attendees, the invitees who declined
    the invitation and other interested people". Each address gets one e-mail (first group wins).

    Returns the recipients and the ids of invitees who cannot be e-mailed (no address, and not
    the customer or their representative, whose address notifications looks up).
    """
    assert state.minutes is not None
    minutes = state.minutes
    attendees = [i for i in state.invitees if i.invitee_id in minutes.attendee_ids]
    declined = [
        i
        for i in state.invitees
        if state.responses.get(i.invitee_id) is InvitationResponse.DECLINED
        and i.invitee_id not in minutes.attendee_ids
    ]
    found: list[MinutesRecipient] = []
    unreachable: list[str] = []
    seen: set[str] = set()

    def add(group: MinutesRecipientGroup, recipient: Recipient, name: str, email: str | None) -> None:
        key = email.lower() if email else f"recorded:{recipient.value}"
        if key in seen:
            return
        seen.add(key)
        found.append(MinutesRecipient(group=group, recipient=recipient, name=name, email=email))

    for group, invitees in (
        (MinutesRecipientGroup.ATTENDEE, attendees),
        (MinutesRecipientGroup.DECLINED_INVITEE, declined),
    ):
        for invitee in invitees:
            recipient = {
                InviteeRole.CLIENT: Recipient.CUSTOMER,
                InviteeRole.REPRESENTATIVE: Recipient.AUTHORISED_REPRESENTATIVE,
            }.get(invitee.role, Recipient.OTHER)
            if invitee.email is None and recipient is Recipient.OTHER:
                unreachable.append(invitee.invitee_id)
                continue
            add(group, recipient, invitee.name, invitee.email)
    for party in minutes.interested_parties:
        add(MinutesRecipientGroup.INTERESTED_PARTY, Recipient.OTHER, party.name, party.email)
    return found, unreachable


def render_minutes(state: MeetingState) -> tuple[str, str]:
    """Subject and body of the minutes e-mail (free-form; notifications sends it as is)."""
    assert state.minutes is not None
    m = state.minutes
    subject = f"Minutes of the meeting of {state.starts_at:%d %B %Y} (case {state.case_id})"
    lines = [subject, "", m.general_details]
    if m.notes:
        lines += ["", "Notes:", m.notes]
    if m.decisions:
        lines += ["", "Decisions:", *(f"- {d}" for d in m.decisions)]
    attendees = [i.name for i in state.invitees if i.invitee_id in m.attendee_ids]
    if attendees:
        lines += ["", "Attendees: " + ", ".join(attendees)]
    if m.actions:
        lines += [
            "",
            "Actions:",
            *(f"- {a.description} — {a.owner}, due {a.due_date:%d %B %Y}" for a in m.actions),
        ]
    if m.cases_discussed:
        lines += ["", "Cases discussed: " + ", ".join(m.cases_discussed)]
    body = "\n".join(lines)
    if len(body) > LONG_TEXT_MAX:
        body = body[: LONG_TEXT_MAX - 1] + "…"
    return _short(subject), body


def minutes_notification_id(meeting_id: UUID, index: int) -> UUID:
    return uuid.uuid5(CONTACTS_NAMESPACE, f"minutes-email:{meeting_id}:{index}")


def _issue_minutes(
    state: MeetingState,
    command: IssueMeetingMinutes,
    now: datetime,
    attachments: Mapping[UUID, AttachmentSummary],
) -> tuple[MeetingState, Events]:
    if state.minutes is None:
        return state, [
            _reject(ContactsReasonCode.MINUTES_NOT_RECORDED, "No minutes are recorded yet.", command.actor)
        ]
    if state.issued_at is not None:
        return state, [
            _reject(
                ContactsReasonCode.MINUTES_ALREADY_ISSUED, "The minutes are already issued.", command.actor
            )
        ]
    minutes = state.minutes
    links: list[EmailAttachmentRef] = []
    for attachment_id in minutes.attachment_ids:
        found = attachments.get(attachment_id)
        if found is None:
            return state, [
                _reject(
                    ContactsReasonCode.UNKNOWN_ATTACHMENT, "An attachment is no longer stored.", command.actor
                )
            ]
        # Issue 7: an attachment stays quarantined until its checks pass — it is not sent before.
        if found.status is not AttachmentStatus.AVAILABLE:
            return state, [
                _reject(
                    ContactsReasonCode.ATTACHMENT_QUARANTINED,
                    "An attachment is still quarantined; issue the minutes once its checks pass.",
                    command.actor,
                )
            ]
        links.append(
            EmailAttachmentRef(
                attachment_id=found.attachment_id,
                filename=found.filename,
                media_type=filetypes.event_media_type(found.media_type),
                size_bytes=found.size_bytes,
            )
        )
    recipients, unreachable = minutes_recipients(state)
    subject, body = render_minutes(state)
    events: Events = []
    ids: list[UUID] = []
    counts: dict[MinutesRecipientGroup, int] = {}
    for index, r in enumerate(recipients):
        notification_id = minutes_notification_id(state.meeting_id, index)
        ids.append(notification_id)
        counts[r.group] = counts.get(r.group, 0) + 1
        events.append(
            SendEmail(
                actor=command.actor,
                notification_id=notification_id,
                purpose=Purpose.MEETING_MINUTES,
                recipient=r.recipient,
                to_email=r.email,
                to_name=r.name,
                subject=subject,
                body=body,
                attachments=tuple(links),
                meeting_id=state.meeting_id,
            )
        )
    # Seed 004 (Verbale): "outline the actions" — each action is published as a task.
    events += [
        MeetingActionTaskCreated(
            meeting_id=state.meeting_id,
            action_id=a.action_id,
            description=a.description,
            owner=a.owner,
            due_date=a.due_date,
        )
        for a in minutes.actions
    ]
    events.append(
        MeetingMinutesIssued(
            meeting_id=state.meeting_id,
            recipients=counts,
            notification_ids=tuple(ids),
            unreachable_invitee_ids=tuple(unreachable),
        )
    )
    new = state.model_copy(
        update={
            "issued_at": now,
            "issued_by": command.actor,
            "notification_ids": tuple(ids),
            "unreachable_invitee_ids": tuple(unreachable),
        }
    )
    return new, events


# ============================================================================================
# Notes — seed 004 (Note)
# ============================================================================================


class NoteVersion(State):
    version: int
    text: str
    sensitivity_level: int
    author: Actor
    written_at: datetime


class NoteState(State):
    note_id: UUID
    csid: str
    case_id: str | None = None
    versions: tuple[NoteVersion, ...]

    @property
    def current(self) -> NoteVersion:
        return self.versions[-1]


def readable_versions(note: NoteState, privilege: int) -> list[tuple[NoteVersion, bool]]:
    """Each version and whether a reader of ``privilege`` may see its text.

    Seed 004 (Note) / issue 7: a sensitivity level restricts who may read a note. A version is
    readable when the privilege reaches both its own level and the note's current level, so
    raising a note's level also protects its earlier text, and lowering it does not expose
    text written at a higher level.
    """
    current = note.current.sensitivity_level
    return [(v, privilege >= max(v.sensitivity_level, current)) for v in note.versions]


NoteCommand = AddNote | EditNote


def decide_note(
    state: NoteState | None,
    command: NoteCommand,
    now: datetime,
    *,
    csid: str,
    privilege_of: Callable[[Actor], int],
) -> tuple[NoteState | None, Events]:
    """``privilege_of``: the configured privilege level of a command's actor (by role)."""
    privilege = privilege_of(command.actor)
    if isinstance(command, AddNote):
        if state is not None:
            return state, [
                _reject(ContactsReasonCode.NOTE_ALREADY_EXISTS, "A note with this id exists.", command.actor)
            ]
        # Nobody writes a note they could not read back.
        if command.sensitivity_level > privilege:
            return state, [
                _reject(
                    ContactsReasonCode.INSUFFICIENT_PRIVILEGE,
                    "The sensitivity level is above the author's privilege.",
                    command.actor,
                )
            ]
        version = NoteVersion(
            version=1,
            text=command.text,
            sensitivity_level=command.sensitivity_level,
            author=command.actor,
            written_at=now,
        )
        new = NoteState(note_id=command.note_id, csid=csid, case_id=command.case_id, versions=(version,))
        # The text stays in this service's store: Kafka consumers are not privilege-checked.
        return new, [
            NoteAdded(
                note_id=command.note_id,
                case_id=command.case_id,
                version=1,
                sensitivity_level=command.sensitivity_level,
                author=command.actor,
            )
        ]
    if state is None or state.csid != csid:
        return state, [_reject(ContactsReasonCode.UNKNOWN_NOTE, "No such note.", command.actor)]
    level = command.sensitivity_level or state.current.sensitivity_level
    if privilege < state.current.sensitivity_level or level > privilege:
        return state, [
            _reject(
                ContactsReasonCode.INSUFFICIENT_PRIVILEGE,
                "The editor's privilege is below the note's sensitivity level.",
                command.actor,
            )
        ]
    # Seed 004 (Note): "a history of the notes is kept" — an edit starts from the latest version
    # and adds a new one; nothing is overwritten.
    if command.based_on_version != state.current.version:
        return state, [
            _reject(
                ContactsReasonCode.NOTE_VERSION_CONFLICT,
                f"The edit starts from version {command.based_on_version}; "
                f"the latest is {state.current.version}.",
                command.actor,
            )
        ]
    version = NoteVersion(
        version=state.current.version + 1,
        text=command.text,
        sensitivity_level=level,
        author=command.actor,
        written_at=now,
    )
    new = state.model_copy(update={"versions": (*state.versions, version)})
    return new, [
        NoteEdited(
            note_id=state.note_id, version=version.version, sensitivity_level=level, author=command.actor
        )
    ]


# ============================================================================================
# The communications log — seed 004 (Comunicazioni), seed 000 table 4, seed 003 table 3
# ============================================================================================


class StatusChange(State):
    status: CommunicationStatus
    at: datetime
    source_message_id: UUID | None = None
    attempt: int | None = None


class CommunicationState(State):
    communication_id: UUID
    csid: str
    case_id: str | None = None
    kind: CommunicationKind
    direction: Direction
    source: CommunicationSource
    status: CommunicationStatus
    subject: str | None = None
    body: str | None = None
    template_id: str | None = None
    template_version: int | None = None
    reference_id: UUID | None = None
    source_message_id: UUID | None = None
    channel: str | None = None
    attempt: int | None = None
    meeting_id: UUID | None = None
    msp_id: UUID | None = None
    complaint_id: UUID | None = None
    communication_type: str | None = None
    communication_reason: str | None = None
    communication_category: str | None = None
    communication_issue: str | None = None
    origin: str | None = None
    origin_record_id: str | None = None
    recorded_by: Actor | None = None
    logged_at: datetime
    updated_at: datetime
    order_key: str
    history: tuple[StatusChange, ...] = ()


LogSource = (
    RecordCommunication
    | NotificationDispatched
    | NotificationDelivered
    | NotificationDeliveryFailed
    | SmsSuppressed
    | PSStackingDocumentCreated
    | ComplimentRecorded
)

LOG_SOURCES: tuple[type[Message], ...] = (
    RecordCommunication,
    NotificationDispatched,
    NotificationDelivered,
    NotificationDeliveryFailed,
    SmsSuppressed,
    PSStackingDocumentCreated,
    ComplimentRecorded,
)

CHANNEL_KIND: dict[Channel, CommunicationKind] = {
    Channel.SMS: CommunicationKind.SMS,
    Channel.EMAIL: CommunicationKind.EMAIL,
    Channel.LETTER: CommunicationKind.LETTER,
    Channel.PHONE: CommunicationKind.PHONE_CALL,
}

PURPOSE_SUBJECT: dict[Purpose, str] = {
    Purpose.MSP_PHONE_CALL: "MSP phone call",
    Purpose.MSP_SMS: "MSP SMS",
    Purpose.MSP_LETTER: "MSP letter",
    Purpose.COMPLAINT_RESPONSE: "Complaint response",
    Purpose.MEETING_MINUTES: "Meeting minutes",
    Purpose.GENERAL: "General",
}

# Seed 000 table 4 step 1: "Create a record in the Communication window with the following
# details: Type 'Phone Out', Reason 'PERS SERVICES', Category 'PS CUSTOMER CONTACT', Issue 'Blank'".
PS_STACKING_TYPE = "PHONE_OUT"
PS_STACKING_REASON = "PERS SERVICES"
PS_STACKING_CATEGORY = "PS CUSTOMER CONTACT"


def communication_id_for(message: Message) -> UUID:
    """The log entry a message concerns. Notifications' events of one delivery update one entry
    (dispatched → delivered or failed); a retry reuses it, a fallback is a new delivery."""
    if isinstance(message, RecordCommunication):
        return message.communication_id
    if isinstance(message, NotificationDispatched | NotificationDelivered | NotificationDeliveryFailed):
        return uuid.uuid5(CONTACTS_NAMESPACE, f"delivery:{message.delivery_id}")
    if isinstance(message, SmsSuppressed):
        return uuid.uuid5(CONTACTS_NAMESPACE, f"suppressed-sms:{message.notification_id}")
    if isinstance(message, PSStackingDocumentCreated):
        return uuid.uuid5(CONTACTS_NAMESPACE, f"ps-stacking-document:{message.document_id}")
    if isinstance(message, ComplimentRecorded):
        return uuid.uuid5(CONTACTS_NAMESPACE, f"compliment:{message.compliment_id}")
    raise TypeError(f"{message.MESSAGE_TYPE} is not logged")


def logged_event(state: CommunicationState) -> CommunicationLogged:
    """The entry as published: metadata only (an officer's free-form body stays in the store)."""
    return CommunicationLogged(
        communication_id=state.communication_id,
        kind=state.kind,
        direction=state.direction,
        source=state.source,
        status=state.status,
        case_id=state.case_id,
        subject=state.subject,
        template_id=state.template_id,
        template_version=state.template_version,
        source_message_id=state.source_message_id,
        reference_id=state.reference_id,
        communication_type=state.communication_type,
        communication_reason=state.communication_reason,
        communication_category=state.communication_category,
        communication_issue=state.communication_issue,
        origin=state.origin,
        origin_record_id=state.origin_record_id,
    )


def decide_communication(
    state: CommunicationState | None,
    message: LogSource,
    now: datetime,
    *,
    csid: str,
    source_message_id: UUID,
) -> tuple[CommunicationState | None, Events]:
    """Seed 004 (Comunicazioni): phone calls, e-mails and letters, incoming and outgoing,
    free-form or from a template, listed per customer and case.

    Each entry is published as ``CommunicationLogged`` when it is first logged and again each
    time its status changes (consumers keep the latest by ``communication_id``).
    """
    if isinstance(message, NotificationDelivered | NotificationDeliveryFailed):
        return _delivery_outcome(state, message, now, csid, source_message_id)
    if isinstance(message, NotificationDispatched):
        return _dispatched(state, message, now, csid, source_message_id)
    if state is not None:
        # An entry is logged once; the same source fact again (or a reused id) changes nothing.
        return state, []
    communication_id = communication_id_for(message)
    base: dict[str, Any] = {
        "communication_id": communication_id,
        "csid": csid,
        "source_message_id": source_message_id,
        "logged_at": now,
        "updated_at": now,
        "order_key": _order_key(now, communication_id),
    }
    new: CommunicationState
    if isinstance(message, RecordCommunication):
        new = CommunicationState(
            **base,
            case_id=message.case_id,
            kind=message.kind,
            direction=message.direction,
            source=CommunicationSource.OFFICER,
            status=CommunicationStatus.RECORDED,
            subject=message.subject,
            body=message.body,
            template_id=message.template_id,
            template_version=message.template_version,
            recorded_by=message.actor,
        )
    elif isinstance(message, SmsSuppressed):
        # Issue 5: nothing is dropped silently — a suppressed SMS is logged with its reasons.
        reasons = ", ".join(r.value for r in message.reasons)
        new = CommunicationState(
            **base,
            kind=CommunicationKind.SMS,
            direction=Direction.OUTGOING,
            source=CommunicationSource.NOTIFICATIONS,
            status=CommunicationStatus.SUPPRESSED,
            subject=_short(f"SMS not sent: {reasons}"),
            reference_id=message.notification_id,
            msp_id=message.msp_id,
        )
    elif isinstance(message, PSStackingDocumentCreated):
        # Seed 000 table 4 step 1: the stacking document is a communication record Phone Out /
        # PERS SERVICES / PS CUSTOMER CONTACT / Issue blank. "For international customers this
        # process is required to be completed in [the international system] under the Notes
        # section … this will copy across": the origin and its record id are kept.
        new = CommunicationState(
            **base,
            kind=CommunicationKind.PHONE_CALL,
            direction=Direction.OUTGOING,
            source=CommunicationSource.REFERRALS,
            status=CommunicationStatus.RECORDED,
            subject="Personalised Services stacking document",
            body=message.notes,
            reference_id=message.document_id,
            communication_type=PS_STACKING_TYPE,
            communication_reason=PS_STACKING_REASON,
            communication_category=PS_STACKING_CATEGORY,
            communication_issue=None,
            origin=message.origin.value,
            origin_record_id=message.origin_record_id,
            recorded_by=message.actor,
        )
    else:
        # Seed 003 table 3 step 1: "Record the compliment in the Communication window". Staff are
        # referred to by first name, site and team only (seed 003 table 1 step 2).
        about = {
            ComplimentSubject.STAFF_MEMBER: "a staff member",
            ComplimentSubject.TEAM: "a team",
            ComplimentSubject.SERVICE: "the service",
        }[message.about]
        if message.staff_member is not None:
            s = message.staff_member
            about = f"{s.first_name} ({s.site}, {s.team})"
        elif message.team is not None:
            about = f"team {message.team}"
        new = CommunicationState(
            **base,
            kind=CommunicationKind.COMPLIMENT,
            direction=Direction.INCOMING,
            source=CommunicationSource.COMPLAINTS,
            status=CommunicationStatus.RECORDED,
            subject=_short(f"Compliment about {about} ({message.channel.value.lower().replace('_', ' ')})"),
            body=message.details,
            reference_id=message.compliment_id,
            channel=message.channel.value,
            recorded_by=message.actor,
        )
    new = new.model_copy(
        update={"history": (StatusChange(status=new.status, at=now, source_message_id=source_message_id),)}
    )
    return new, [logged_event(new)]


def _with_status(
    state: CommunicationState,
    status: CommunicationStatus,
    now: datetime,
    source_message_id: UUID,
    attempt: int | None,
    **changes: object,
) -> CommunicationState:
    change = StatusChange(status=status, at=now, source_message_id=source_message_id, attempt=attempt)
    return state.model_copy(
        update={
            "status": status,
            "updated_at": now,
            "source_message_id": source_message_id,
            "attempt": attempt if attempt is not None else state.attempt,
            "history": (*state.history, change),
            **changes,
        }
    )


def _new_delivery_entry(
    message: NotificationDispatched | NotificationDelivered | NotificationDeliveryFailed,
    status: CommunicationStatus,
    now: datetime,
    csid: str,
    source_message_id: UUID,
) -> CommunicationState:
    communication_id = communication_id_for(message)
    return CommunicationState(
        communication_id=communication_id,
        csid=csid,
        kind=CHANNEL_KIND[message.channel],
        direction=Direction.OUTGOING,
        source=CommunicationSource.NOTIFICATIONS,
        status=status,
        reference_id=message.notification_id,
        source_message_id=source_message_id,
        channel=message.channel.value,
        attempt=message.attempt,
        logged_at=now,
        updated_at=now,
        order_key=_order_key(now, communication_id),
        history=(
            StatusChange(status=status, at=now, source_message_id=source_message_id, attempt=message.attempt),
        ),
    )


def _dispatched(
    state: CommunicationState | None,
    message: NotificationDispatched,
    now: datetime,
    csid: str,
    source_message_id: UUID,
) -> tuple[CommunicationState | None, Events]:
    details = {
        "subject": PURPOSE_SUBJECT.get(message.purpose, message.purpose.value),
        "template_id": message.template_id,
        "template_version": message.template_version,
        "meeting_id": message.meeting_id,
        "msp_id": message.msp_id,
        "complaint_id": message.complaint_id,
    }
    if state is None:
        new = _new_delivery_entry(message, CommunicationStatus.DISPATCHED, now, csid, source_message_id)
        new = new.model_copy(update=details)
        return new, [logged_event(new)]
    # A retry reuses the delivery with a higher attempt; an older or repeated attempt is stale.
    if state.attempt is not None and message.attempt <= state.attempt:
        if state.subject is None:  # the outcome came first: fill in what the dispatch tells
            new = state.model_copy(update=details)
            return new, [logged_event(new)]
        return state, []
    new = _with_status(
        state, CommunicationStatus.DISPATCHED, now, source_message_id, message.attempt, **details
    )
    return new, [logged_event(new)]


def _delivery_outcome(
    state: CommunicationState | None,
    message: NotificationDelivered | NotificationDeliveryFailed,
    now: datetime,
    csid: str,
    source_message_id: UUID,
) -> tuple[CommunicationState | None, Events]:
    status = (
        CommunicationStatus.DELIVERED
        if isinstance(message, NotificationDelivered)
        else CommunicationStatus.FAILED
    )
    if state is None:
        new = _new_delivery_entry(message, status, now, csid, source_message_id)
        return new, [logged_event(new)]
    # Issue 5: a duplicate or late receipt changes nothing — a delivered item stays delivered,
    # and an outcome for an earlier attempt than the latest dispatch is stale.
    if state.status is CommunicationStatus.DELIVERED or state.status is status:
        return state, []
    if state.attempt is not None and message.attempt < state.attempt:
        return state, []
    new = _with_status(state, status, now, source_message_id, message.attempt)
    return new, [logged_event(new)]


# ============================================================================================
# Incidents — seed 002 step 1 via notifications' MSPIncidentRaised (issue 7)
# ============================================================================================


class IncidentState(State):
    incident_id: UUID
    msp_id: UUID
    csid: str
    description: str | None = None
    delivery_id: UUID | None = None
    officer_id: str | None = None
    recorded_at: datetime


def decide_incident(
    state: IncidentState | None, message: MSPIncidentRaised, now: datetime, *, csid: str
) -> tuple[IncidentState | None, Events]:
    # Seed 002 step 1: "If the customer displays aggression … record a new incident and link it
    # to the MSP" — notifications raises it, the contacts service records it.
    if state is not None:
        return state, []
    new = IncidentState(
        incident_id=message.incident_id,
        msp_id=message.msp_id,
        csid=csid,
        description=message.description,
        delivery_id=message.delivery_id,
        officer_id=message.officer_id,
        recorded_at=now,
    )
    return new, [
        IncidentRecorded(
            incident_id=message.incident_id, msp_id=message.msp_id, description=message.description
        )
    ]


# ============================================================================================
# Attachments — seed 004 (Allegati), issue 7
# ============================================================================================


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
    max_bytes: int,
) -> UploadVerdict:
    """Issue 7: refuse a file that is too large, or whose content is unknown, not allowed, or
    does not match its extension or declared type. ``detected_media_type`` is
    :func:`filetypes.sniff` of the content."""
    # Seed 004 (Allegati): "the agency may want to set a limit through an environment variable".
    if size_bytes > max_bytes:
        return UploadVerdict(
            detected_media_type=detected_media_type,
            refusal=ContactsReasonCode.ATTACHMENT_TOO_LARGE,
            reason=f"The file is larger than the limit of {max_bytes} bytes.",
        )
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


class AttachmentUpload(BaseModel):
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


class QuarantineCheck(BaseModel):
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
        reason=_short(state.refusal_reason or state.refusal.value),
        uploaded_by=state.uploaded_by,
    )


def decide_attachment(
    state: AttachmentState | None,
    message: AttachmentUpload | QuarantineCheck,
    now: datetime,
    *,
    csid: str,
    message_id: UUID,
) -> tuple[AttachmentState | None, Events]:
    if isinstance(message, AttachmentUpload):
        if state is not None:
            return state, []  # each upload gets a new id; the same upload again changes nothing
        verdict = message.verdict
        new = AttachmentState(
            attachment_id=message.attachment_id,
            csid=csid,
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
            upload_message_id=message_id,
            refusal=verdict.refusal,
            refusal_reason=verdict.reason,
        )
        if not verdict.accepted:
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


def quarantine_verdict(findings: filetypes.ContentFindings) -> tuple[ContactsReasonCode, str] | None:
    """Issue 7: the checks an attachment passes before it leaves quarantine."""
    if findings.macros:
        return ContactsReasonCode.ATTACHMENT_TYPE_NOT_ALLOWED, "Documents with macros are not allowed."
    if findings.active_content:
        return (
            ContactsReasonCode.ATTACHMENT_TYPE_NOT_ALLOWED,
            "PDFs with scripts or launch actions are not allowed.",
        )
    if findings.archive_too_expanded:
        return ContactsReasonCode.ATTACHMENT_TOO_LARGE, "The document expands far beyond its size."
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
