"""Meetings and minutes — seed 004 (Riunioni, Verbale della riunione): scheduling, invitees'
answers, recording the minutes and issuing them by e-mail.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from contracts.base import Actor, Message
from contracts.catalogue.channels import Purpose, Recipient
from contracts.catalogue.contacts import (
    AttachmentStatus,
    ContactsReasonCode,
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
    MeetingScheduled,
    MinutesAction,
    MinutesRecipientGroup,
    RecordMeetingMinutes,
    RespondToMeetingInvitation,
    ScheduleMeeting,
)
from contracts.catalogue.notifications import EmailAttachmentRef, SendEmail
from kit.spec import Refused
from services.contacts import filetypes
from services.contacts.domain.state import (
    CONTACTS_NAMESPACE,
    LONG_TEXT_MAX,
    AttachmentSummary,
    Events,
    Facts,
    State,
    short,
)


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


Decision = tuple[MeetingState | None, Events]


def _known(state: MeetingState | None, facts: Facts) -> MeetingState:
    # A meeting belongs to one customer: another customer's meeting id is an unknown meeting.
    if state is None or state.csid != facts.csid:
        raise Refused(ContactsReasonCode.UNKNOWN_MEETING, "No such meeting.")
    return state


def schedule_meeting(
    state: MeetingState | None, command: ScheduleMeeting, now: datetime, facts: Facts
) -> Decision:
    if state is not None:
        raise Refused(
            ContactsReasonCode.MEETING_ALREADY_SCHEDULED, "A meeting with this id is already scheduled."
        )
    # Seed 004 (Riunioni): meetings are planned to complete a case's information — ahead of time.
    if command.starts_at <= now:
        raise Refused(ContactsReasonCode.MEETING_IN_PAST, "A meeting cannot start in the past.")
    invitees = tuple(Invitee.model_validate(i.model_dump()) for i in command.invitees)
    new = MeetingState(
        meeting_id=command.meeting_id,
        csid=facts.csid,
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


def respond_to_invitation(
    state: MeetingState | None, command: RespondToMeetingInvitation, now: datetime, facts: Facts
) -> Decision:
    meeting = _known(state, facts)
    if meeting.invitee(command.invitee_id) is None:
        raise Refused(ContactsReasonCode.NOT_INVITED, "That person is not invited to the meeting.")
    if meeting.issued_at is not None:
        raise Refused(
            ContactsReasonCode.MINUTES_ALREADY_ISSUED,
            "The meeting's minutes are issued; responses are closed.",
        )
    if meeting.responses.get(command.invitee_id) == command.response:
        return meeting, []  # the same answer again changes nothing
    new = meeting.model_copy(
        update={"responses": {**meeting.responses, command.invitee_id: command.response}}
    )
    event: Message
    if command.response is InvitationResponse.ACCEPTED:
        event = MeetingInvitationAccepted(meeting_id=meeting.meeting_id, invitee_id=command.invitee_id)
    else:
        # Seed 004 (Verbale): an invitee who declined still receives the minutes.
        event = MeetingInvitationDeclined(meeting_id=meeting.meeting_id, invitee_id=command.invitee_id)
    return new, [event]


def record_minutes(
    state: MeetingState | None, command: RecordMeetingMinutes, now: datetime, facts: Facts
) -> Decision:
    meeting = _known(state, facts)
    if meeting.issued_at is not None:
        raise Refused(
            ContactsReasonCode.MINUTES_ALREADY_ISSUED, "The minutes are issued and can no longer change."
        )
    # Seed 004 (Verbale): "mark the participants" — only invitees can have attended.
    strangers = [a for a in command.attendee_ids if meeting.invitee(a) is None]
    if strangers:
        raise Refused(
            ContactsReasonCode.UNKNOWN_ATTENDEE,
            f"{len(strangers)} attendee(s) were not invited to the meeting.",
        )
    # Seed 004 (Verbale): "attach the files" — files uploaded to this service for this customer.
    missing = [a for a in command.attachment_ids if a not in facts.attachments]
    if missing:
        raise Refused(
            ContactsReasonCode.UNKNOWN_ATTACHMENT,
            f"{len(missing)} attachment(s) are not stored for this customer.",
        )
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
    new = meeting.model_copy(update={"minutes": minutes})
    return new, [
        MeetingMinutesRecorded(
            meeting_id=meeting.meeting_id,
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
    return short(subject), body


def minutes_notification_id(meeting_id: UUID, index: int) -> UUID:
    return uuid.uuid5(CONTACTS_NAMESPACE, f"minutes-email:{meeting_id}:{index}")


def _sendable(minutes: Minutes, attachments: Mapping[UUID, AttachmentSummary]) -> list[EmailAttachmentRef]:
    """The minutes' attachments as e-mail references, once every one is stored and checked."""
    links: list[EmailAttachmentRef] = []
    for attachment_id in minutes.attachment_ids:
        found = attachments.get(attachment_id)
        if found is None:
            raise Refused(ContactsReasonCode.UNKNOWN_ATTACHMENT, "An attachment is no longer stored.")
        # Issue 7: an attachment stays quarantined until its checks pass — it is not sent before.
        if found.status is not AttachmentStatus.AVAILABLE:
            raise Refused(
                ContactsReasonCode.ATTACHMENT_QUARANTINED,
                "An attachment is still quarantined; issue the minutes once its checks pass.",
            )
        links.append(
            EmailAttachmentRef(
                attachment_id=found.attachment_id,
                filename=found.filename,
                media_type=filetypes.event_media_type(found.media_type),
                size_bytes=found.size_bytes,
            )
        )
    return links


def issue_minutes(
    state: MeetingState | None, command: IssueMeetingMinutes, now: datetime, facts: Facts
) -> Decision:
    meeting = _known(state, facts)
    if meeting.minutes is None:
        raise Refused(ContactsReasonCode.MINUTES_NOT_RECORDED, "No minutes are recorded yet.")
    if meeting.issued_at is not None:
        raise Refused(ContactsReasonCode.MINUTES_ALREADY_ISSUED, "The minutes are already issued.")
    minutes = meeting.minutes
    links = _sendable(minutes, facts.attachments)
    recipients, unreachable = minutes_recipients(meeting)
    subject, body = render_minutes(meeting)
    events: Events = []
    ids: list[UUID] = []
    counts: dict[MinutesRecipientGroup, int] = {}
    for index, r in enumerate(recipients):
        notification_id = minutes_notification_id(meeting.meeting_id, index)
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
                meeting_id=meeting.meeting_id,
            )
        )
    # Seed 004 (Verbale): "outline the actions" — each action is published as a task.
    events += [
        MeetingActionTaskCreated(
            meeting_id=meeting.meeting_id,
            action_id=a.action_id,
            description=a.description,
            owner=a.owner,
            due_date=a.due_date,
        )
        for a in minutes.actions
    ]
    events.append(
        MeetingMinutesIssued(
            meeting_id=meeting.meeting_id,
            recipients=counts,
            notification_ids=tuple(ids),
            unreachable_invitee_ids=tuple(unreachable),
        )
    )
    new = meeting.model_copy(
        update={
            "issued_at": now,
            "issued_by": command.actor,
            "notification_ids": tuple(ids),
            "unreachable_invitee_ids": tuple(unreachable),
        }
    )
    return new, events
