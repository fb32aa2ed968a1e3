"""The contacts service's pure rules: meetings and minutes, notes, the communications log,
incidents and attachments (issue 7; seeds 004, 000 table 4, 003 table 3)."""

from __future__ import annotations

import datetime as dt
import io
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.base import Actor, Message, Role, StaffReference
from contracts.catalogue.channels import Channel, DeliveryStatus, Purpose, Recipient
from contracts.catalogue.complaints import ComplaintChannel, ComplimentRecorded, ComplimentSubject
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
    InterestedPartyInput,
    InvitationResponse,
    InviteeInput,
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
    MinutesActionInput,
    MinutesRecipientGroup,
    NoteAdded,
    NoteEdited,
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
    SendEmail,
    SmsSuppressed,
    SmsSuppressionReason,
)
from contracts.catalogue.referrals import PSStackingDocumentCreated, StackingDocumentOrigin
from services.contacts import domain, filetypes, spec
from services.contacts.domain import (
    AttachmentRecordStatus,
    AttachmentState,
    AttachmentSummary,
    AttachmentUpload,
    CommunicationState,
    MeetingState,
    NoteState,
    QuarantineCheck,
)
from tests.unit.contacts import contacts_samples as samples

NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
CSID = "123456789"
OTHER_CSID = "987654321"
CASE = "CASE-2025-00017"
OFFICER = Actor(
    officer_id="EMP1", role=Role.CASE_WORKER, first_name="Priya", site="Hobart", team="T1", extension="4471"
)
CSO = Actor(officer_id="EMP2", role=Role.CSO, first_name="Sam", site="Hobart", team="T1", extension="4472")
LEADER = Actor(
    officer_id="EMP3", role=Role.TEAM_LEADER, first_name="Ali", site="Hobart", team="T1", extension="4473"
)
PRIVILEGES = {"CSO": 2, "CASE_WORKER": 3, "TEAM_LEADER": 4}
MEETING_ID = uuid.UUID("5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d")


def privilege_of(actor: Actor) -> int:
    return PRIVILEGES.get(actor.role.value, 1)


def only(events: list[Message], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def refusal(events: list[Message]) -> ContactsReasonCode:
    assert len(events) == 1 and isinstance(events[0], ContactsCommandRejected), events
    return events[0].reason_code


# ------------------------------------------------------------------ meeting requirement


@pytest.mark.parametrize(
    ("case_type", "missing", "conflicting", "required", "reason"),
    [
        ("PROGRAMME_A", False, False, True, MeetingReason.PROGRAMME_AUTHORISATION),
        ("PROGRAMME_B", False, True, True, MeetingReason.CONFLICTING_INFORMATION),
        ("PROGRAMME_B", True, False, True, MeetingReason.MISSING_INFORMATION),
        ("PROGRAMME_B", False, False, False, None),
    ],
)
def test_a_meeting_is_required_for_configured_case_types_or_when_information_is_missing_or_conflicting(
    case_type: str, missing: bool, conflicting: bool, required: bool, reason: MeetingReason | None
) -> None:
    command = AssessMeetingRequirement(
        actor=OFFICER,
        case_id=CASE,
        case_type=case_type,
        missing_information=missing,
        conflicting_information=conflicting,
    )
    state, events = spec.decide_assessment(None, command, NOW, always_required={"PROGRAMME_A"})
    assert events == [
        MeetingRequirementAssessed(
            case_id=CASE, case_type=case_type, meeting_required=required, reason=reason
        )
    ]
    assert state is not None and state.meeting_required is required


# ------------------------------------------------------------------ meetings and minutes


def schedule(starts_at: datetime | None = None, meeting_id: uuid.UUID = MEETING_ID) -> ScheduleMeeting:
    return ScheduleMeeting(
        actor=OFFICER,
        meeting_id=meeting_id,
        case_id=CASE,
        reason=MeetingReason.CONFLICTING_INFORMATION,
        starts_at=starts_at or NOW + timedelta(days=2),
        duration_minutes=45,
        channel=MeetingChannel.IN_PERSON,
        location="Hobart service centre, room 2",
        invitees=(
            InviteeInput(invitee_id="client", name="Jordan", role=InviteeRole.CLIENT),
            InviteeInput(
                invitee_id="rep", name="Alex", role=InviteeRole.REPRESENTATIVE, email="alex@example.org"
            ),
            InviteeInput(invitee_id="staff", name="Kim", role=InviteeRole.STAFF, email="kim@example.org"),
            InviteeInput(invitee_id="nomail", name="Lee", role=InviteeRole.STAFF),
            InviteeInput(invitee_id="busy", name="Robin", role=InviteeRole.OTHER, email="robin@example.org"),
        ),
    )


def decide_meeting(
    state: MeetingState | None,
    command: Any,
    csid: str = CSID,
    attachments: dict[uuid.UUID, AttachmentSummary] | None = None,
) -> tuple[MeetingState | None, list[Message]]:
    return spec.decide_meeting(state, command, NOW, csid=csid, attachments=attachments)


def scheduled() -> MeetingState:
    state, events = decide_meeting(None, schedule())
    assert state is not None and only(events, MeetingScheduled)
    return state


def respond(state: MeetingState, invitee: str, response: InvitationResponse) -> MeetingState:
    command = RespondToMeetingInvitation(
        actor=OFFICER, meeting_id=MEETING_ID, invitee_id=invitee, response=response
    )
    new, _ = decide_meeting(state, command)
    assert new is not None
    return new


ACTION_ID = uuid.UUID("9e0f1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b")


def minutes(**changes: Any) -> RecordMeetingMinutes:
    values: dict[str, Any] = {
        "actor": OFFICER,
        "meeting_id": MEETING_ID,
        "general_details": "Meeting held as scheduled.",
        "notes": "Client brought payslips.",
        "decisions": ("Income to be re-assessed",),
        "attendee_ids": ("client", "staff", "nomail"),
        "actions": (
            MinutesActionInput(
                action_id=ACTION_ID,
                description="Provide payslips",
                owner="client",
                due_date=dt.date(2025, 3, 26),
            ),
        ),
        "cases_discussed": (CASE,),
        "interested_parties": (
            InterestedPartyInput(name="Case reviewer", email="reviewer@example.org"),
            InterestedPartyInput(name="Kim again", email="KIM@example.org"),
        ),
        **changes,
    }
    return RecordMeetingMinutes(**values)


def test_a_meeting_cannot_be_scheduled_in_the_past_or_twice() -> None:
    _, events = decide_meeting(None, schedule(starts_at=NOW - timedelta(minutes=1)))
    assert refusal(events) is ContactsReasonCode.MEETING_IN_PAST
    state = scheduled()
    _, events = decide_meeting(state, schedule())
    assert refusal(events) is ContactsReasonCode.MEETING_ALREADY_SCHEDULED


def test_invitees_accept_or_decline_and_only_invitees_may_answer() -> None:
    state = scheduled()
    accept = RespondToMeetingInvitation(
        actor=OFFICER, meeting_id=MEETING_ID, invitee_id="client", response=InvitationResponse.ACCEPTED
    )
    state2, events = decide_meeting(state, accept)
    assert events == [MeetingInvitationAccepted(meeting_id=MEETING_ID, invitee_id="client")]
    _, again = decide_meeting(state2, accept)
    assert again == []  # the same answer twice changes nothing
    decline = accept.model_copy(update={"invitee_id": "busy", "response": InvitationResponse.DECLINED})
    _, events = decide_meeting(state2, decline)
    assert events == [MeetingInvitationDeclined(meeting_id=MEETING_ID, invitee_id="busy")]
    stranger = accept.model_copy(update={"invitee_id": "nobody"})
    assert refusal(decide_meeting(state2, stranger)[1]) is ContactsReasonCode.NOT_INVITED
    assert refusal(decide_meeting(None, accept)[1]) is ContactsReasonCode.UNKNOWN_MEETING
    assert refusal(decide_meeting(state2, accept, csid=OTHER_CSID)[1]) is ContactsReasonCode.UNKNOWN_MEETING


def test_minutes_name_only_invited_attendees_and_stored_attachments() -> None:
    state = scheduled()
    _, events = decide_meeting(state, minutes(attendee_ids=("client", "gatecrasher")))
    assert refusal(events) is ContactsReasonCode.UNKNOWN_ATTENDEE
    _, events = decide_meeting(state, minutes(attachment_ids=(uuid.uuid4(),)))
    assert refusal(events) is ContactsReasonCode.UNKNOWN_ATTACHMENT
    recorded, events = decide_meeting(state, minutes())
    assert only(events, MeetingMinutesRecorded)[0].attendee_ids == ("client", "staff", "nomail")
    assert recorded is not None and recorded.minutes is not None


def test_minutes_cannot_be_issued_before_they_are_recorded() -> None:
    issue = IssueMeetingMinutes(actor=OFFICER, meeting_id=MEETING_ID)
    assert refusal(decide_meeting(scheduled(), issue)[1]) is ContactsReasonCode.MINUTES_NOT_RECORDED


def test_issuing_minutes_emails_attendees_declined_invitees_and_interested_people_once_each() -> None:
    state = respond(scheduled(), "busy", InvitationResponse.DECLINED)
    state = respond(state, "staff", InvitationResponse.DECLINED)  # declined but came: an attendee
    recorded, _ = decide_meeting(state, minutes())
    assert recorded is not None
    state = recorded
    issued, events = decide_meeting(state, IssueMeetingMinutes(actor=LEADER, meeting_id=MEETING_ID))
    emails = only(events, SendEmail)
    by_name = {e.to_name: e for e in emails}
    # Seed 004 (Verbale): attendees, invitees who declined, other interested people.
    assert set(by_name) == {"Jordan", "Kim", "Robin", "Case reviewer"}
    # The client without an address gets it at the customer's recorded e-mail.
    assert by_name["Jordan"].recipient is Recipient.CUSTOMER and by_name["Jordan"].to_email is None
    assert by_name["Robin"].to_email == "robin@example.org"
    assert all(e.purpose is Purpose.MEETING_MINUTES and e.meeting_id == MEETING_ID for e in emails)
    assert all(e.actor == LEADER and e.subject and e.body for e in emails)
    assert "Income to be re-assessed" in by_name["Kim"].body
    issued_event = only(events, MeetingMinutesIssued)[0]
    assert issued_event.recipients == {
        MinutesRecipientGroup.ATTENDEE: 2,
        MinutesRecipientGroup.DECLINED_INVITEE: 1,
        MinutesRecipientGroup.INTERESTED_PARTY: 1,
    }
    assert issued_event.notification_ids == tuple(e.notification_id for e in emails)
    assert issued_event.unreachable_invitee_ids == ("nomail",)  # a staff member with no address
    assert only(events, MeetingActionTaskCreated) == [
        MeetingActionTaskCreated(
            meeting_id=MEETING_ID,
            action_id=ACTION_ID,
            description="Provide payslips",
            owner="client",
            due_date=dt.date(2025, 3, 26),
        )
    ]
    # Deciding again yields the same notification ids (a redelivered command sends nothing new).
    _, replay = decide_meeting(state, IssueMeetingMinutes(actor=LEADER, meeting_id=MEETING_ID))
    assert [e.notification_id for e in only(replay, SendEmail)] == [e.notification_id for e in emails]
    assert refusal(decide_meeting(issued, IssueMeetingMinutes(actor=LEADER, meeting_id=MEETING_ID))[1]) is (
        ContactsReasonCode.MINUTES_ALREADY_ISSUED
    )
    assert refusal(decide_meeting(issued, minutes())[1]) is ContactsReasonCode.MINUTES_ALREADY_ISSUED


def test_minutes_with_a_quarantined_attachment_wait_for_its_checks_and_then_carry_its_reference() -> None:
    attachment_id = uuid.uuid4()
    summary = AttachmentSummary(
        attachment_id=attachment_id,
        filename="payslip.pdf",
        media_type=filetypes.PDF,
        size_bytes=1200,
        status=AttachmentStatus.QUARANTINED,
    )
    state, _ = decide_meeting(
        scheduled(), minutes(attachment_ids=(attachment_id,)), attachments={attachment_id: summary}
    )
    assert state is not None
    issue = IssueMeetingMinutes(actor=OFFICER, meeting_id=MEETING_ID)
    _, events = decide_meeting(state, issue, attachments={attachment_id: summary})
    assert refusal(events) is ContactsReasonCode.ATTACHMENT_QUARANTINED
    released = summary.model_copy(update={"status": AttachmentStatus.AVAILABLE})
    _, events = decide_meeting(state, issue, attachments={attachment_id: released})
    emails = only(events, SendEmail)
    assert emails and all(e.attachments[0].attachment_id == attachment_id for e in emails)


# ------------------------------------------------------------------ notes


NOTE_ID = uuid.UUID("6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e")


def decide_note(
    state: NoteState | None, command: Any, at: datetime = NOW, csid: str = CSID
) -> tuple[NoteState | None, list[Message]]:
    return spec.decide_note(state, command, at, csid=csid, privilege_of=privilege_of)


def add_note(level: int = 2, author: Actor = OFFICER) -> AddNote:
    return AddNote(
        actor=author, note_id=NOTE_ID, case_id=CASE, sensitivity_level=level, text="Prefers mornings."
    )


def edit(version: int, text: str, author: Actor = OFFICER, level: int | None = None) -> EditNote:
    return EditNote(
        actor=author, note_id=NOTE_ID, based_on_version=version, text=text, sensitivity_level=level
    )


def test_a_note_edited_three_times_keeps_every_version_with_its_author_and_time() -> None:
    state, events = decide_note(None, add_note())
    assert events == [
        NoteAdded(note_id=NOTE_ID, case_id=CASE, version=1, sensitivity_level=2, author=OFFICER)
    ]
    authors = [CSO, LEADER, OFFICER]
    for number, author in enumerate(authors, start=1):
        at = NOW + timedelta(hours=number)
        state, events = decide_note(state, edit(number, f"Text {number + 1}", author=author), at=at)
        assert events == [NoteEdited(note_id=NOTE_ID, version=number + 1, sensitivity_level=2, author=author)]
    assert state is not None
    assert [(v.version, v.text, v.author, v.written_at) for v in state.versions] == [
        (1, "Prefers mornings.", OFFICER, NOW),
        (2, "Text 2", CSO, NOW + timedelta(hours=1)),
        (3, "Text 3", LEADER, NOW + timedelta(hours=2)),
        (4, "Text 4", OFFICER, NOW + timedelta(hours=3)),
    ]


def test_note_events_never_carry_the_text() -> None:
    state, added = decide_note(None, add_note())
    _, edited = decide_note(state, edit(1, "Secret detail"))
    for event in [*added, *edited]:
        assert "text" not in event.model_dump()
        assert "Secret" not in event.model_dump_json()


def test_an_edit_from_an_older_version_is_refused_rather_than_overwriting_history() -> None:
    state, _ = decide_note(None, add_note())
    state, _ = decide_note(state, edit(1, "Second"))
    new, events = decide_note(state, edit(1, "Based on the first"))
    assert refusal(events) is ContactsReasonCode.NOTE_VERSION_CONFLICT
    assert new is state


def test_unknown_or_duplicate_notes_are_refused() -> None:
    assert refusal(decide_note(None, edit(1, "x"))[1]) is ContactsReasonCode.UNKNOWN_NOTE
    state, _ = decide_note(None, add_note())
    assert refusal(decide_note(state, add_note())[1]) is ContactsReasonCode.NOTE_ALREADY_EXISTS
    assert refusal(decide_note(state, edit(1, "x"), csid=OTHER_CSID)[1]) is ContactsReasonCode.UNKNOWN_NOTE


def test_a_note_is_written_and_edited_only_within_the_authors_privilege() -> None:
    assert (
        refusal(decide_note(None, add_note(level=3, author=CSO))[1])
        is ContactsReasonCode.INSUFFICIENT_PRIVILEGE
    )
    state, _ = decide_note(None, add_note(level=3))
    assert (
        refusal(decide_note(state, edit(1, "x", author=CSO))[1]) is ContactsReasonCode.INSUFFICIENT_PRIVILEGE
    )
    assert refusal(decide_note(state, edit(1, "x", level=5))[1]) is ContactsReasonCode.INSUFFICIENT_PRIVILEGE


def test_raising_a_notes_sensitivity_protects_its_earlier_text_too() -> None:
    state, _ = decide_note(None, add_note(level=2))
    state, _ = decide_note(state, edit(1, "Now sensitive", author=LEADER, level=4))
    assert state is not None
    assert [readable for _, readable in domain.readable_versions(state, 3)] == [False, False]
    assert [readable for _, readable in domain.readable_versions(state, 4)] == [True, True]
    state, _ = decide_note(state, edit(2, "Calmer again", author=LEADER, level=2))
    assert state is not None
    # Lowering the level does not expose what was written at level 4.
    assert [readable for _, readable in domain.readable_versions(state, 2)] == [True, False, True]


# ------------------------------------------------------------------ communications log


def log(
    state: CommunicationState | None, message: Any, at: datetime = NOW
) -> tuple[CommunicationState | None, list[Message]]:
    return spec.decide_communication(state, message, at, csid=CSID, source_message_id=uuid.uuid4())


def logged(events: list[Message]) -> CommunicationLogged:
    assert len(events) == 1 and isinstance(events[0], CommunicationLogged), events
    return events[0]


REFERRAL_ID = uuid.UUID("1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b")


@pytest.mark.parametrize(
    ("origin", "record_id"),
    [(StackingDocumentOrigin.CASEMESH, None), (StackingDocumentOrigin.INTERNATIONAL_NOTES, "PLT-0042-77")],
)
def test_a_ps_stacking_document_is_logged_as_phone_out_pers_services_ps_customer_contact(
    origin: StackingDocumentOrigin, record_id: str | None
) -> None:
    document_id = uuid.uuid4()
    event = PSStackingDocumentCreated(
        referral_id=REFERRAL_ID,
        actor=OFFICER,
        document_id=document_id,
        origin=origin,
        origin_record_id=record_id,
    )
    state, events = log(None, event)
    entry = logged(events)
    # Seed 000 table 4 step 1: Type 'Phone Out', Reason 'PERS SERVICES', Category 'PS CUSTOMER
    # CONTACT', Issue 'Blank'; an international customer's record keeps its origin.
    assert (entry.kind, entry.direction, entry.source) == (
        CommunicationKind.PHONE_CALL,
        Direction.OUTGOING,
        CommunicationSource.REFERRALS,
    )
    assert (entry.communication_type, entry.communication_reason, entry.communication_category) == (
        "PHONE_OUT",
        "PERS SERVICES",
        "PS CUSTOMER CONTACT",
    )
    assert entry.communication_issue is None
    assert (entry.origin, entry.origin_record_id) == (origin.value, record_id)
    assert entry.reference_id == document_id
    assert entry.communication_id == domain.communication_id_for(event)
    assert log(state, event)[1] == []  # the same document again is not logged twice


def test_a_compliment_is_logged_as_an_incoming_communication_naming_staff_by_first_name_only() -> None:
    compliment = ComplimentRecorded(
        compliment_id=uuid.uuid4(),
        about=ComplimentSubject.STAFF_MEMBER,
        staff_member=StaffReference(
            first_name="Sam", site="Parramatta", team="Mainstream 12", extension="3310"
        ),
        channel=ComplaintChannel.PHONE,
        details="Sam was patient and clear.",
        actor=CSO,
    )
    state, events = log(None, compliment)
    entry = logged(events)
    assert (entry.kind, entry.direction, entry.source, entry.status) == (
        CommunicationKind.COMPLIMENT,
        Direction.INCOMING,
        CommunicationSource.COMPLAINTS,
        CommunicationStatus.RECORDED,
    )
    assert entry.subject is not None and "Sam (Parramatta, Mainstream 12)" in entry.subject
    assert state is not None and state.body == "Sam was patient and clear."


def dispatched(
    delivery_id: uuid.UUID, notification_id: uuid.UUID, attempt: int = 1
) -> NotificationDispatched:
    return NotificationDispatched(
        notification_id=notification_id,
        delivery_id=delivery_id,
        channel=Channel.LETTER,
        attempt=attempt,
        purpose=Purpose.MSP_LETTER,
        recipient=Recipient.CUSTOMER,
        template_id="msp-letter",
        template_version=3,
    )


def test_one_delivery_is_one_log_entry_whose_status_follows_dispatch_failure_retry_and_delivery() -> None:
    delivery, notification = uuid.uuid4(), uuid.uuid4()
    state, events = log(None, dispatched(delivery, notification))
    first = logged(events)
    assert (first.kind, first.status, first.template_id, first.reference_id) == (
        CommunicationKind.LETTER,
        CommunicationStatus.DISPATCHED,
        "msp-letter",
        notification,
    )
    failed = NotificationDeliveryFailed(
        notification_id=notification,
        delivery_id=delivery,
        channel=Channel.LETTER,
        attempt=1,
        status=DeliveryStatus.FAILED,
    )
    state, events = log(state, failed)
    assert logged(events).status is CommunicationStatus.FAILED
    state, events = log(state, dispatched(delivery, notification, attempt=2))
    assert logged(events).status is CommunicationStatus.DISPATCHED
    assert log(state, failed)[1] == []  # attempt 1's failure is stale once attempt 2 went out
    delivered = NotificationDelivered(
        notification_id=notification, delivery_id=delivery, channel=Channel.LETTER, attempt=2
    )
    state, events = log(state, delivered)
    assert logged(events).communication_id == first.communication_id
    assert log(state, delivered)[1] == []  # a duplicate receipt changes nothing
    assert log(state, failed.model_copy(update={"attempt": 2}))[1] == []  # nor a late failure
    assert state is not None
    assert [h.status for h in state.history] == [
        CommunicationStatus.DISPATCHED,
        CommunicationStatus.FAILED,
        CommunicationStatus.DISPATCHED,
        CommunicationStatus.DELIVERED,
    ]


def test_a_suppressed_sms_is_logged_with_its_reasons() -> None:
    suppressed = SmsSuppressed(
        notification_id=uuid.uuid4(),
        reasons=(SmsSuppressionReason.SHARED_MOBILE_NUMBER,),
        checked_at_send_time=True,
    )
    entry = logged(log(None, suppressed)[1])
    assert (entry.kind, entry.status) == (CommunicationKind.SMS, CommunicationStatus.SUPPRESSED)
    assert entry.subject is not None and "SHARED_MOBILE_NUMBER" in entry.subject


def test_an_officers_communication_is_logged_and_its_body_stays_in_the_store() -> None:
    command = RecordCommunication(
        actor=CSO,
        communication_id=uuid.uuid4(),
        kind=CommunicationKind.PHONE_CALL,
        direction=Direction.INCOMING,
        case_id=CASE,
        subject="Customer called about payment date",
        body="Explained the next payment.",
    )
    state, events = log(None, command)
    entry = logged(events)
    assert (entry.source, entry.case_id, entry.communication_id) == (
        CommunicationSource.OFFICER,
        CASE,
        command.communication_id,
    )
    assert "Explained" not in entry.model_dump_json()
    assert state is not None and state.body == "Explained the next payment."


# ------------------------------------------------------------------ incidents


def test_an_msp_incident_is_recorded_once() -> None:
    raised = MSPIncidentRaised(
        incident_id=uuid.uuid4(), msp_id=uuid.uuid4(), description="Raised voice, threats"
    )
    state, events = spec.decide_incident(None, raised, NOW, csid=CSID)
    assert events == [
        IncidentRecorded(
            incident_id=raised.incident_id, msp_id=raised.msp_id, description="Raised voice, threats"
        )
    ]
    assert spec.decide_incident(state, raised, NOW, csid=CSID)[1] == []


# ------------------------------------------------------------------ attachments

LIMIT = 10_000


def check(
    filename: str, content: bytes, declared: str | None = None, size: int | None = None
) -> domain.UploadVerdict:
    return domain.check_upload(
        filename, declared, len(content) if size is None else size, filetypes.sniff(content), LIMIT
    )


@pytest.mark.parametrize(
    ("filename", "content", "media_type"),
    [
        ("payslip.pdf", samples.pdf(), filetypes.PDF),
        ("photo.PNG", samples.png(), filetypes.PNG),
        ("scan.jpeg", samples.jpeg(), filetypes.JPEG),
        ("scan.jpg", samples.jpeg(), filetypes.JPEG),
        ("anim.gif", samples.gif(), filetypes.GIF),
        ("letter.docx", samples.docx(), filetypes.DOCX),
        ("budget.xlsx", samples.xlsx(), filetypes.XLSX),
        ("old.doc", samples.doc(), filetypes.DOC),
        ("old.xls", samples.xls(), filetypes.XLS),
    ],
)
def test_word_excel_pdf_and_common_images_are_accepted_by_their_content(
    filename: str, content: bytes, media_type: str
) -> None:
    assert check(filename, content) == domain.UploadVerdict(detected_media_type=media_type)


@pytest.mark.parametrize(
    ("filename", "content", "declared", "code"),
    [
        ("photo.pdf", samples.png(), None, ContactsReasonCode.ATTACHMENT_TYPE_MISMATCH),  # renamed extension
        ("letter.xlsx", samples.docx(), None, ContactsReasonCode.ATTACHMENT_TYPE_MISMATCH),
        ("payslip", samples.pdf(), None, ContactsReasonCode.ATTACHMENT_TYPE_MISMATCH),  # no extension
        ("payslip.pdf", samples.pdf(), "image/png", ContactsReasonCode.ATTACHMENT_TYPE_MISMATCH),
        ("notes.txt", samples.text(), None, ContactsReasonCode.ATTACHMENT_TYPE_UNKNOWN),
        ("notes.pdf", samples.text(), "application/pdf", ContactsReasonCode.ATTACHMENT_TYPE_UNKNOWN),
        ("empty.pdf", b"", None, ContactsReasonCode.ATTACHMENT_TYPE_UNKNOWN),
        ("invoice.pdf", samples.exe(), None, ContactsReasonCode.ATTACHMENT_TYPE_NOT_ALLOWED),
        ("bundle.zip", samples.plain_zip(), None, ContactsReasonCode.ATTACHMENT_TYPE_NOT_ALLOWED),
        ("deck.ppt", samples.ppt(), None, ContactsReasonCode.ATTACHMENT_TYPE_NOT_ALLOWED),
    ],
)
def test_a_wrong_unknown_or_mismatching_type_is_refused_with_its_reason_code(
    filename: str, content: bytes, declared: str | None, code: ContactsReasonCode
) -> None:
    verdict = check(filename, content, declared)
    assert verdict.refusal is code and verdict.reason


def test_a_declared_type_that_says_nothing_or_is_an_alias_is_not_a_mismatch() -> None:
    assert check("scan.jpg", samples.jpeg(), "image/jpg").accepted
    assert check("payslip.pdf", samples.pdf(), "application/octet-stream").accepted
    assert check("payslip.pdf", samples.pdf(), "application/pdf; charset=binary").accepted


def test_a_file_over_the_configured_limit_is_refused_whatever_its_type() -> None:
    verdict = check("payslip.pdf", samples.pdf(), size=LIMIT + 1)
    assert verdict.refusal is ContactsReasonCode.ATTACHMENT_TOO_LARGE
    assert check("payslip.pdf", samples.pdf(), size=LIMIT).accepted


UPLOAD_ID = uuid.uuid4()


def upload(verdict: domain.UploadVerdict, **changes: Any) -> AttachmentUpload:
    values: dict[str, Any] = {
        "attachment_id": UPLOAD_ID,
        "case_id": CASE,
        "filename": "payslip.pdf",
        "size_bytes": 120,
        "sha256": "a" * 64,
        "storage_ref": "gridfs:65f0c0a1",
        "required_privilege_level": 3,
        "uploaded_by": OFFICER,
        "verdict": verdict,
        **changes,
    }
    return AttachmentUpload(**values)


def decide_attachment(
    state: AttachmentState | None, message: Any
) -> tuple[AttachmentState | None, list[Message]]:
    return spec.decide_attachment(state, message, NOW, csid=CSID, message_id=uuid.uuid4())


def test_an_accepted_upload_is_quarantined_and_its_event_carries_only_the_reference() -> None:
    state, events = decide_attachment(None, upload(domain.UploadVerdict(detected_media_type=filetypes.PDF)))
    assert len(events) == 1 and isinstance(events[0], AttachmentUploaded)
    assert events[0].status is AttachmentStatus.QUARANTINED
    assert events[0].storage_ref == "gridfs:65f0c0a1" and events[0].media_type == filetypes.PDF
    assert state is not None and state.status is AttachmentRecordStatus.QUARANTINED
    assert domain.may_download(state, 5) is ContactsReasonCode.ATTACHMENT_QUARANTINED


def test_a_refused_upload_is_recorded_for_audit_with_its_reason_code() -> None:
    verdict = check("photo.pdf", samples.png())
    state, events = decide_attachment(
        None, upload(verdict, filename="photo.pdf", sha256=None, storage_ref=None)
    )
    assert len(events) == 1 and isinstance(events[0], AttachmentRefused)
    assert events[0].reason_code is ContactsReasonCode.ATTACHMENT_TYPE_MISMATCH
    assert events[0].detected_media_type == filetypes.PNG
    assert state is not None and state.status is AttachmentRecordStatus.REFUSED
    assert domain.may_download(state, 5) is ContactsReasonCode.UNKNOWN_ATTACHMENT


def test_an_attachment_leaves_quarantine_when_its_checks_pass_and_then_needs_enough_privilege() -> None:
    state, _ = decide_attachment(None, upload(domain.UploadVerdict(detected_media_type=filetypes.PDF)))
    state, events = decide_attachment(state, QuarantineCheck(attachment_id=UPLOAD_ID))
    assert events == [AttachmentReleased(attachment_id=UPLOAD_ID)]
    assert state is not None and state.status is AttachmentRecordStatus.AVAILABLE
    assert decide_attachment(state, QuarantineCheck(attachment_id=UPLOAD_ID))[1] == []
    assert domain.may_download(state, 2) is ContactsReasonCode.INSUFFICIENT_PRIVILEGE
    assert domain.may_download(state, 3) is None


def test_an_attachment_failing_its_quarantine_checks_is_refused() -> None:
    state, _ = decide_attachment(None, upload(domain.UploadVerdict(detected_media_type=filetypes.DOCX)))
    verdict = domain.quarantine_verdict(filetypes.inspect(samples.docx(macros=True), filetypes.DOCX))
    assert verdict is not None
    state, events = decide_attachment(
        state, QuarantineCheck(attachment_id=UPLOAD_ID, refusal=verdict[0], reason=verdict[1])
    )
    assert len(events) == 1 and isinstance(events[0], AttachmentRefused)
    assert events[0].reason_code is ContactsReasonCode.ATTACHMENT_TYPE_NOT_ALLOWED
    assert state is not None and state.status is AttachmentRecordStatus.REFUSED


@pytest.mark.parametrize(
    ("content", "media_type", "flagged"),
    [
        (samples.docx(), filetypes.DOCX, False),
        (samples.docx(macros=True), filetypes.DOCX, True),
        (samples.doc(), filetypes.DOC, False),
        (samples.doc(macros=True), filetypes.DOC, True),
        (samples.pdf(), filetypes.PDF, False),
        (samples.pdf(b" /OpenAction << /S /JavaScript /JS (app.alert(1)) >>"), filetypes.PDF, True),
        (samples.png(), filetypes.PNG, False),
    ],
)
def test_the_quarantine_checks_flag_macros_and_scripts(
    content: bytes, media_type: str, flagged: bool
) -> None:
    assert (domain.quarantine_verdict(filetypes.inspect(content, media_type)) is not None) is flagged


def test_a_malformed_compound_file_is_not_recognised() -> None:
    broken = samples.doc()[:600]
    assert filetypes.sniff(broken) is None
    assert filetypes.extension("archive.tar.GZ") == ".gz"
    assert filetypes.extension(".hidden") == ""


@pytest.mark.parametrize("media_type", [filetypes.DOCX, filetypes.XLSX])
def test_office_open_xml_types_travel_on_kafka_in_a_compact_form_that_fits_an_event(media_type: str) -> None:
    _, events = decide_attachment(None, upload(domain.UploadVerdict(detected_media_type=media_type)))
    assert isinstance(events[0], AttachmentUploaded)
    assert events[0].media_type == filetypes.COMPACT[media_type]
    assert len(events[0].media_type) <= 64


def test_a_zip_that_claims_an_unsupported_compression_method_is_sniffed_as_a_plain_zip_not_a_crash() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "x" * 100)
    crafted = bytearray(buffer.getvalue())
    crafted[8] = 99  # the local header's compression method
    crafted[crafted.find(b"PK\x01\x02") + 10] = 99  # the central directory's
    assert filetypes.sniff(bytes(crafted)) == "application/zip"
