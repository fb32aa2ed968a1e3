"""Client contact (seed 004 — Cúram client-contact management): meetings and minutes, notes with
their history, attachments. The contacts service, through topics only — except an attachment's
bytes, which by design never travel on Kafka: an officer's screen uploads them over contacts' HTTP
API, and the story reads the service's verdict off its events topic like everything else.

* **A meeting whose minutes are issued.** The case worker finds the case needs a meeting,
  schedules it, one invitee declines; after the meeting the minutes are recorded and issued: one
  e-mail per recipient goes to notifications, which dispatches each, and each dispatch comes back
  into the customer's communications log.
* **A note edited twice.** Each edit adds a version; an edit made from a stale copy is refused.
* **An attachment refused for its type.** An executable is refused from its content.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx

from casemesh.demo.driver import Mesh, Step, Story, StoryResult, officer
from casemesh.demo.runner import Chapter
from contracts.base import Role
from contracts.catalogue.contacts import (
    AddNote,
    AssessMeetingRequirement,
    EditNote,
    InterestedPartyInput,
    InvitationResponse,
    InviteeInput,
    InviteeRole,
    IssueMeetingMinutes,
    MeetingChannel,
    MeetingReason,
    MinutesActionInput,
    RecordMeetingMinutes,
    RespondToMeetingInvitation,
    ScheduleMeeting,
)
from contracts.catalogue.customers import CustomerContactDetailsChanged, CustomerRegistered
from contracts.topics import events_topic
from kit.identity import development_token

MEETING_CSID = "300000021"
NOTE_CSID = "300000022"
ATTACHMENT_CSID = "300000023"

CONTACTS_EVENTS = events_topic("contacts")
NOTIFICATIONS_EVENTS = events_topic("notifications")
SITE = "Hobart"
TEAM = "Client Contact 2"
#: A case type the agency configures as always needing a meeting before authorisation.
CASE_TYPE = "CHANGE_OF_ASSESSMENT"


CASE_WORKER = officer("CW-21", Role.CASE_WORKER, "Priya", team=TEAM, extension="4471", site=SITE)
TEAM_LEADER = officer("TL-22", Role.TEAM_LEADER, "Ali", team=TEAM, extension="4473", site=SITE)


# ------------------------------------------------------------------------------------ meetings


async def meeting_minutes(mesh: Mesh) -> StoryResult:
    story = Story(mesh, "Meeting whose minutes are issued", MEETING_CSID)
    case_id = "CASE-2026-00021"
    await story.send(
        CustomerRegistered(
            given_name="Sam",
            family_name="Nguyen",
            is_international=False,
            is_centrelink_customer=True,
            site=SITE,
            team="Mainstream 7",
        ),
        "The customer system registers the customer",
    )
    await story.send(
        CustomerContactDetailsChanged(email="sam.nguyen@example.org"),
        "The customer system records the customer's e-mail address",
    )
    # Seed 004 (Riunioni): for some programmes a meeting with the client is always required before
    # the programme is authorised (the case types in the chapter's settings); for others only when
    # the case has missing or conflicting information.
    assessed = await story.send(
        AssessMeetingRequirement(
            actor=CASE_WORKER,
            case_id=case_id,
            case_type=CASE_TYPE,
            missing_information=False,
            conflicting_information=False,
        ),
        "The case worker checks whether the case needs a meeting",
        expect=["MeetingRequirementAssessed"],
    )
    assessment = assessed.effect("MeetingRequirementAssessed")
    if not assessment.get("meeting_required"):
        return story.result("no meeting needed", case_type=assessment.get("case_type"))

    meeting_id = uuid.uuid4()
    # Seed 004 (Riunioni): meetings are planned ahead to complete the case's information.
    await story.send(
        ScheduleMeeting(
            actor=CASE_WORKER,
            meeting_id=meeting_id,
            case_id=case_id,
            reason=MeetingReason(str(assessment["reason"])),
            starts_at=mesh.clock() + timedelta(days=1, hours=1),
            duration_minutes=45,
            channel=MeetingChannel.IN_PERSON,
            location="Hobart service centre, room 2",
            invitees=(
                # The client has no address here: the minutes go to the one the customer system keeps.
                InviteeInput(invitee_id="client", name="Sam", role=InviteeRole.CLIENT),
                InviteeInput(invitee_id="kim", name="Kim", role=InviteeRole.STAFF, email="kim@example.org"),
                InviteeInput(
                    invitee_id="robin", name="Robin", role=InviteeRole.OTHER, email="robin@example.org"
                ),
            ),
        ),
        "The case worker schedules a meeting with the client for tomorrow",
        expect=["MeetingScheduled"],
    )
    await story.send(
        RespondToMeetingInvitation(
            actor=CASE_WORKER, meeting_id=meeting_id, invitee_id="robin", response=InvitationResponse.DECLINED
        ),
        "The case worker records that Robin declines the invitation",
        expect=["MeetingInvitationDeclined"],
    )
    # Seed 004 (Verbale della riunione): general details, notes, decisions, attendees, actions,
    # attachments and the cases discussed.
    await story.send(
        RecordMeetingMinutes(
            actor=CASE_WORKER,
            meeting_id=meeting_id,
            general_details="Meeting held as scheduled; the client's income was discussed.",
            notes="The client brought two of the three payslips asked for.",
            decisions=("Income to be re-assessed from the payslips",),
            attendee_ids=("client", "kim"),
            actions=(
                MinutesActionInput(
                    action_id=uuid.uuid4(),
                    description="Provide the missing payslip",
                    owner="client",
                    due_date=(mesh.clock() + timedelta(days=16)).date(),
                ),
            ),
            cases_discussed=(case_id,),
            interested_parties=(InterestedPartyInput(name="Case reviewer", email="reviewer@example.org"),),
        ),
        "The case worker records the minutes after the meeting",
        expect=["MeetingMinutesRecorded"],
        pause=timedelta(days=1, hours=2),
    )
    # Seed 004 (Verbale della riunione): the minutes are e-mailed to the attendees, the invitees
    # who declined and other interested people; each action becomes a task. Notifications
    # dispatches each e-mail, and each dispatch lands in the communications log.
    issued = await story.send(
        IssueMeetingMinutes(actor=CASE_WORKER, meeting_id=meeting_id),
        "The case worker issues the minutes by e-mail",
        expect=[
            "SendEmail",
            "MeetingActionTaskCreated",
            "MeetingMinutesIssued",
            "NotificationDispatched",
            "EmailDispatch",
            "CommunicationLogged",
        ],
    )
    minutes = story.last("MeetingMinutesIssued")
    if minutes is None:
        return story.result(f"minutes not issued ({issued.decision.value})", reason_code=issued.reason_code)
    emails = len(minutes.payload.get("notification_ids", ()))
    await story.settle(
        issued,
        {
            "SendEmail": emails,
            "NotificationDispatched": emails,
            "EmailDispatch": emails,
            "CommunicationLogged": emails,
        },
    )
    flow = {t: issued.distinct(t) for t in ("NotificationDispatched", "EmailDispatch", "CommunicationLogged")}
    logged = [s.payload for s in flow["CommunicationLogged"]]
    return story.result(
        f"minutes issued: {len(flow['NotificationDispatched'])} of {emails} e-mails dispatched",
        meeting_reason=assessment.get("reason"),
        recipients=minutes.payload.get("recipients"),
        unreachable_invitees=list(minutes.payload.get("unreachable_invitee_ids", ())),
        emails_dispatched=len(flow["NotificationDispatched"]),
        # The client invitee had no address: their e-mail went to the one the customer system keeps.
        emailed=sorted(str(s.payload.get("to_email")) for s in flow["EmailDispatch"]),
        tasks_created=len(issued.distinct("MeetingActionTaskCreated")),
        communications_logged=dict(
            sorted(Counter(f"{p.get('kind')} {p.get('status')}" for p in logged).items())
        ),
    )


# ------------------------------------------------------------------------------------- notes


async def note_history(mesh: Mesh) -> StoryResult:
    story = Story(mesh, "Note edited twice", NOTE_CSID)
    note_id = uuid.uuid4()
    texts = (
        "Client prefers phone calls before 10am.",
        "Client prefers phone calls before 10am; works afternoons from Monday to Thursday.",
        "Client prefers phone calls before 10am; a support person joins calls about the other parent.",
    )
    # Seed 004 (Note): notes on a case, with a sensitivity level; the author's role gives their
    # privilege, and nobody writes a note above it.
    added = await story.send(
        AddNote(
            actor=CASE_WORKER, note_id=note_id, case_id="CASE-2026-00022", sensitivity_level=2, text=texts[0]
        ),
        "The case worker adds a note to the case",
        expect=["NoteAdded"],
    )
    first = int(added.effect("NoteAdded")["version"])
    # Seed 004 (Note): "a history of the notes is kept" — an edit starts from the latest version
    # and adds one; earlier versions keep their author, time and text.
    corrected = await story.send(
        EditNote(actor=CASE_WORKER, note_id=note_id, based_on_version=first, text=texts[1]),
        "The case worker adds the client's working days to the note",
        expect=["NoteEdited"],
        pause=timedelta(hours=2),
    )
    second = int(corrected.effect("NoteEdited")["version"])
    await story.send(
        EditNote(
            actor=TEAM_LEADER, note_id=note_id, based_on_version=second, text=texts[2], sensitivity_level=3
        ),
        "The team leader adds a sensitive detail and raises the note's sensitivity",
        expect=["NoteEdited"],
        pause=timedelta(hours=3),
    )
    # An edit made from a copy opened before the last edit is refused: history is never overwritten.
    await story.send(
        EditNote(
            actor=CASE_WORKER, note_id=note_id, based_on_version=second, text=texts[1] + " Call Tuesdays."
        ),
        "The case worker saves an edit from the copy they opened before the team leader's",
        pause=timedelta(minutes=10),
    )
    added_event = story.last("NoteAdded")
    edits = list(
        {s.message_id: s for s in reversed(story.events("NoteEdited", topic=CONTACTS_EVENTS))}.values()
    )[::-1]
    latest = edits[-1].payload if edits else added_event.payload if added_event else {}
    published = b"".join(s.value for s in story.events(topic=CONTACTS_EVENTS))
    return story.result(
        f"note at version {latest.get('version')} after {len(edits)} edits",
        version=latest.get("version"),
        sensitivity_level=latest.get("sensitivity_level"),
        authors=[_author(s.payload) for s in ([added_event] if added_event else []) + edits],
        # The text stays in the contacts store: Kafka consumers are not privilege-checked.
        text_on_events_topic=any(t.encode() in published for t in texts),
    )


def _author(payload: Mapping[str, Any]) -> str | None:
    author = payload.get("author")
    return str(author.get("officer_id")) if isinstance(author, dict) else None


# ------------------------------------------------------------------------------- attachments

EXECUTABLE = b"MZ\x90\x00\x03" + b"\x00" * 59 + b"This program cannot be run in DOS mode.\r\n$"


async def refused_attachment(mesh: Mesh) -> StoryResult:
    story = Story(mesh, "Attachment refused for its type", ATTACHMENT_CSID)
    # Seed 004 (Allegati): Word, Excel, PDF (and common images) are supported; issue 7: the type
    # is checked from the content (magic bytes), and an executable is never allowed.
    step, status = await _upload(
        story,
        "An officer uploads 'minutes.exe' (an executable)",
        filename="minutes.exe",
        content=EXECUTABLE,
        declared_media_type="application/x-msdownload",
        case_id="CASE-2026-00023",
    )
    refused = story.last("AttachmentRefused")
    stored = story.events("AttachmentUploaded", topic=CONTACTS_EVENTS)
    return story.result(
        f"upload {step.decision.value}" + (f": {step.reason_code}" if step.reason_code else ""),
        filename=refused.payload.get("filename") if refused else None,
        detected_media_type=refused.payload.get("detected_media_type") if refused else None,
        http_status=status,
        stored=bool(stored),
    )


async def _upload(
    story: Story,
    title: str,
    *,
    filename: str,
    content: bytes,
    declared_media_type: str,
    case_id: str,
    pause: timedelta = timedelta(minutes=1),
) -> tuple[Step, int]:
    """Uploads a file as an officer's screen does (bytes never travel on Kafka), then waits for
    the service's verdict on its events topic; recorded as a step like a message sent. Returns
    the step and the HTTP status the screen got."""
    story.mesh.clock.advance(pause)
    path = f"/customers/{story.csid}/attachments"
    refusals = len(story.events("AttachmentRefused", topic=CONTACTS_EVENTS))
    uploads = len(story.events("AttachmentUploaded", topic=CONTACTS_EVENTS))
    # The officer's screen sends their token (here signed with the development key) and their
    # staff details, which must agree with it.
    token = development_token(CASE_WORKER.officer_id, [CASE_WORKER.role])
    headers = {"Authorization": f"Bearer {token}", "X-Casemesh-Actor": CASE_WORKER.model_dump_json()}
    async with httpx.AsyncClient(base_url=story.mesh.host.api_url("contacts"), timeout=10.0) as client:
        answer = await client.post(
            path,
            params={"case_id": case_id},
            files={"file": (filename, content, declared_media_type)},
            headers=headers,
        )
    # The API answers at once; the verdict also goes out through the outbox as an event.
    verdict = "AttachmentUploaded" if answer.is_success else "AttachmentRefused"
    try:
        seen = await story.wait_for(
            verdict, topic=CONTACTS_EVENTS, nth=(uploads if answer.is_success else refusals) + 1
        )
    except TimeoutError:
        seen = None
    step = story.record(
        title, topic=f"http:contacts{path}", message_type="upload", value=content, answer=seen
    )
    return step, answer.status_code


MEETING_CHAPTER = Chapter(
    meeting_minutes, settings={"contacts": {"meeting_required_case_types": [CASE_TYPE]}}
)
NOTE_CHAPTER = Chapter(note_history)
ATTACHMENT_CHAPTER = Chapter(refused_attachment)
