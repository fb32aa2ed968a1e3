"""The contacts service through the real broker, the real store and its own HTTP port (issue 7).

One service start serves the whole module; each test works on its own customer (CSID), so the
checks read as separate stories without paying for a start each.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from contracts.base import Actor, Role, StaffReference
from contracts.catalogue.channels import Channel, Purpose, Recipient
from contracts.catalogue.complaints import ComplaintChannel, ComplimentRecorded, ComplimentSubject
from contracts.catalogue.contacts import (
    AddNote,
    AssessMeetingRequirement,
    CommunicationKind,
    Direction,
    EditNote,
    InterestedPartyInput,
    InvitationResponse,
    InviteeInput,
    InviteeRole,
    IssueMeetingMinutes,
    MeetingChannel,
    MeetingReason,
    MinutesActionInput,
    RecordCommunication,
    RecordMeetingMinutes,
    RespondToMeetingInvitation,
    ScheduleMeeting,
)
from contracts.catalogue.notifications import (
    MSPIncidentRaised,
    NotificationDelivered,
    NotificationDispatched,
    SmsRequested,
    SmsSuppressed,
    SmsSuppressionReason,
)
from contracts.catalogue.referrals import PSStackingDocumentCreated, StackingDocumentOrigin
from contracts.envelope import Envelope
from contracts.topics import commands_topic, events_topic
from deploy.local.localinfra import free_port
from kit.runtime import ServiceRuntime
from services.contacts.app import create_runtime
from services.contacts.settings import ContactsSettings
from tests.conftest import Infra
from tests.support import Mesh, Record, bearer, envelope, payloads, types
from tests.unit.contacts import contacts_samples as samples

CASE_WORKER = Actor(
    officer_id="EMP1", role=Role.CASE_WORKER, first_name="Priya", site="Hobart", team="T1", extension="4471"
)
CSO = Actor(officer_id="EMP2", role=Role.CSO, first_name="Sam", site="Hobart", team="T1", extension="4472")
LEADER = Actor(
    officer_id="EMP3", role=Role.TEAM_LEADER, first_name="Ali", site="Hobart", team="T1", extension="4473"
)
CASE = "CASE-2025-00017"
MAX_BYTES = 4096
CONTACTS_EVENTS = events_topic("contacts")


@dataclass
class Contacts:
    mesh: Mesh
    runtime: ServiceRuntime
    http: httpx.AsyncClient

    async def command(self, message: Any, csid: str) -> Envelope:
        sent = envelope(message, csid)
        await self.mesh.send(commands_topic("contacts"), sent)
        return sent

    async def records(self, topic: str, csid: str, count: int, timeout_s: float = 30.0) -> list[Record]:
        """This customer's distinct records on ``topic``, once at least ``count`` came."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            everything = await self.mesh.read(topic, count, timeout_s=5.0, settle_s=0.5)
            # At least once: a redelivered event (same message id) is one event.
            unique = {json.loads(r.value)["message_id"]: r for r in everything if r.key == csid.encode()}
            mine = list(unique.values())
            if len(mine) >= count:
                return mine
            assert loop.time() < deadline, f"only {types(mine)} arrived on {topic}: {payloads(mine)}"
            await asyncio.sleep(0.3)


@pytest.fixture(scope="module")
async def contacts(infra: Infra) -> AsyncIterator[Contacts]:
    mesh = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    port, health_port = free_port(), free_port()
    settings = mesh.settings(
        ContactsSettings,
        api_port=port,
        http_port=health_port,
        attachment_max_bytes=MAX_BYTES,
        quarantine_interval_s=0.2,
        meeting_required_case_types=["PROGRAMME_A"],
    )
    runtime = await mesh.start(create_runtime(settings))
    # The endpoints answer officers with a verified token: by default the case worker EMP1 (privilege 3).
    officer = bearer(CASE_WORKER.officer_id, CASE_WORKER.role)
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10.0, headers=officer)
    try:
        yield Contacts(mesh, runtime, client)
    finally:
        await client.aclose()
        await mesh.close()
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url)
        with contextlib.suppress(Exception):
            await mongo.drop_database(settings.mongodb_database)
        await mongo.close()


def reader(privilege: int) -> dict[str, str]:
    """An officer whose token claims ``privilege`` (casemesh_privilege)."""
    return bearer("READER-1", Role.CSO, privilege=privilege)


ANONYMOUS = {"Authorization": ""}


# ------------------------------------------------------------------ the communications log


async def test_the_communications_log_is_filled_from_other_services_events_and_listed_per_customer_and_case(
    contacts: Contacts,
) -> None:
    csid = "100000001"
    mesh = contacts.mesh
    stacking = envelope(
        PSStackingDocumentCreated(
            referral_id=uuid.uuid4(),
            actor=CASE_WORKER,
            document_id=uuid.uuid4(),
            origin=StackingDocumentOrigin.INTERNATIONAL_NOTES,
            origin_record_id="PLT-0042-77",
        ),
        csid,
    )
    await mesh.send(events_topic("referrals"), stacking)
    await mesh.send(events_topic("referrals"), stacking)  # redelivered: logged once
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
    await mesh.send(events_topic("complaints"), envelope(compliment, csid))
    notification, delivery = uuid.uuid4(), uuid.uuid4()
    for event in (
        SmsRequested(notification_id=uuid.uuid4(), purpose=Purpose.MSP_SMS, actor=LEADER),  # not logged
        NotificationDispatched(
            notification_id=notification,
            delivery_id=delivery,
            channel=Channel.LETTER,
            attempt=1,
            purpose=Purpose.MSP_LETTER,
            recipient=Recipient.CUSTOMER,
            template_id="msp-letter",
            template_version=3,
        ),
        NotificationDelivered(
            notification_id=notification, delivery_id=delivery, channel=Channel.LETTER, attempt=1
        ),
        SmsSuppressed(
            notification_id=uuid.uuid4(),
            reasons=(SmsSuppressionReason.SHARED_MOBILE_NUMBER,),
            checked_at_send_time=True,
        ),
        MSPIncidentRaised(incident_id=uuid.uuid4(), msp_id=uuid.uuid4(), description="Raised voice, threats"),
    ):
        await mesh.send(events_topic("notifications"), envelope(event, csid))
    await contacts.command(
        RecordCommunication(
            actor=CSO,
            communication_id=uuid.uuid4(),
            kind=CommunicationKind.PHONE_CALL,
            direction=Direction.INCOMING,
            case_id=CASE,
            subject="Customer called about payment date",
            body="Explained the next payment.",
        ),
        csid,
    )

    records = await contacts.records(CONTACTS_EVENTS, csid, 7)

    assert sorted(types(records)) == ["CommunicationLogged"] * 6 + ["IncidentRecorded"]
    logged = payloads(records, "CommunicationLogged")
    stacking_entry = next(p for p in logged if p["source"] == "REFERRALS")
    # Seed 000 table 4 step 1: Phone Out / PERS SERVICES / PS CUSTOMER CONTACT / Issue blank,
    # with the international origin kept.
    assert (stacking_entry["kind"], stacking_entry["direction"]) == ("PHONE_CALL", "OUTGOING")
    assert stacking_entry["communication_type"] == "PHONE_OUT"
    assert stacking_entry["communication_reason"] == "PERS SERVICES"
    assert stacking_entry["communication_category"] == "PS CUSTOMER CONTACT"
    assert stacking_entry["communication_issue"] is None
    assert (stacking_entry["origin"], stacking_entry["origin_record_id"]) == (
        "INTERNATIONAL_NOTES",
        "PLT-0042-77",
    )
    letter = [p for p in logged if p["kind"] == "LETTER"]
    assert [p["status"] for p in letter] == ["DISPATCHED", "DELIVERED"]
    assert len({p["communication_id"] for p in letter}) == 1
    assert b"Explained the next payment" not in b"".join(r.value for r in records)

    listing = await contacts.http.get(f"/customers/{csid}/communications")
    assert listing.status_code == 200
    body = listing.json()
    assert body["total"] == 5  # stacking document, compliment, letter, suppressed SMS, phone call
    by_source = {(e["source"], e["kind"]): e for e in body["entries"]}
    assert by_source[("NOTIFICATIONS", "LETTER")]["status"] == "DELIVERED"
    assert by_source[("NOTIFICATIONS", "SMS")]["status"] == "SUPPRESSED"
    assert by_source[("COMPLAINTS", "COMPLIMENT")]["direction"] == "INCOMING"
    assert by_source[("OFFICER", "PHONE_CALL")]["body"] == "Explained the next payment."
    logged_at = [datetime.fromisoformat(e["logged_at"]) for e in body["entries"]]
    assert logged_at == sorted(logged_at, reverse=True)  # newest first

    per_case = (await contacts.http.get(f"/customers/{csid}/communications", params={"case_id": CASE})).json()
    assert [e["subject"] for e in per_case["entries"]] == ["Customer called about payment date"]
    page = (await contacts.http.get(f"/customers/{csid}/communications", params={"limit": 2})).json()
    assert (len(page["entries"]), page["next_offset"]) == (2, 2)
    assert (
        await contacts.http.get(f"/customers/{csid}/communications", params={"limit": 9999})
    ).status_code == 400
    assert (await contacts.http.get("/customers/12ab/communications")).status_code == 400
    assert (await contacts.http.get("/customers/100000999/communications")).json()["entries"] == []

    incidents = (await contacts.http.get(f"/customers/{csid}/incidents")).json()["incidents"]
    assert [i["description"] for i in incidents] == ["Raised voice, threats"]


# ------------------------------------------------------------------ notes


async def test_a_note_edited_three_times_keeps_its_full_history_readable_only_with_enough_privilege(
    contacts: Contacts,
) -> None:
    csid = "100000002"
    note_id = uuid.uuid4()
    await contacts.command(
        AddNote(actor=CASE_WORKER, note_id=note_id, case_id=CASE, sensitivity_level=3, text="Version one"),
        csid,
    )
    editors = [CASE_WORKER, LEADER, CASE_WORKER]
    for version, editor in enumerate(editors, start=1):
        await contacts.command(
            EditNote(actor=editor, note_id=note_id, based_on_version=version, text=f"Version {version + 1}"),
            csid,
        )
    stale = await contacts.command(
        EditNote(actor=LEADER, note_id=note_id, based_on_version=2, text="From an old copy"), csid
    )
    await contacts.command(
        EditNote(actor=CSO, note_id=note_id, based_on_version=4, text="Not allowed to"), csid
    )

    records = await contacts.records(CONTACTS_EVENTS, csid, 6)

    assert (
        types(records)
        == ["NoteAdded", "NoteEdited", "NoteEdited", "NoteEdited"] + ["ContactsCommandRejected"] * 2
    )
    assert [p["version"] for p in payloads(records, "NoteEdited")] == [2, 3, 4]
    rejections = payloads(records, "ContactsCommandRejected")
    assert [r["reason_code"] for r in rejections] == ["NOTE_VERSION_CONFLICT", "INSUFFICIENT_PRIVILEGE"]
    assert rejections[0]["rejected_message_id"] == str(stale.message_id)
    assert b"Version" not in b"".join(r.value for r in records), "note text never travels on Kafka"

    url = f"/customers/{csid}/notes/{note_id}"
    history = await contacts.http.get(url, headers=reader(3))
    assert history.status_code == 200
    note = history.json()
    assert (note["version"], note["text"]) == (4, "Version 4")
    assert [(h["version"], h["text"], h["author"]["officer_id"]) for h in note["history"]] == [
        (1, "Version one", "EMP1"),
        (2, "Version 2", "EMP1"),
        (3, "Version 3", "EMP3"),
        (4, "Version 4", "EMP1"),
    ]
    written = [datetime.fromisoformat(h["written_at"]) for h in note["history"]]
    assert written == sorted(written)

    low = await contacts.http.get(url, headers=reader(2))
    assert (low.status_code, low.json()["reason_code"]) == (403, "INSUFFICIENT_PRIVILEGE")
    assert (await contacts.http.get(url, headers=ANONYMOUS)).status_code == 401
    listing = await contacts.http.get(f"/customers/{csid}/notes", headers=reader(2))
    assert (listing.json()["notes"], listing.json()["withheld"]) == ([], 1)
    listing = await contacts.http.get(f"/customers/{csid}/notes", params={"case_id": CASE}, headers=reader(5))
    assert [n["text"] for n in listing.json()["notes"]] == ["Version 4"]
    other = await contacts.http.get(f"/customers/100000999/notes/{note_id}", headers=reader(5))
    assert other.status_code == 404


# ------------------------------------------------------------------ meetings and minutes


async def test_issuing_minutes_requests_an_email_for_every_recipient_group_and_publishes_actions_as_tasks(
    contacts: Contacts,
) -> None:
    csid = "100000003"
    meeting_id = uuid.uuid4()
    action_id = uuid.uuid4()
    await contacts.command(
        AssessMeetingRequirement(
            actor=CASE_WORKER,
            case_id=CASE,
            case_type="PROGRAMME_A",
            missing_information=False,
            conflicting_information=False,
        ),
        csid,
    )
    await contacts.command(
        ScheduleMeeting(
            actor=CASE_WORKER,
            meeting_id=meeting_id,
            case_id=CASE,
            reason=MeetingReason.PROGRAMME_AUTHORISATION,
            starts_at=datetime.now(UTC) + timedelta(days=1),
            duration_minutes=45,
            channel=MeetingChannel.IN_PERSON,
            location="Hobart service centre, room 2",
            invitees=(
                InviteeInput(invitee_id="client", name="Jordan", role=InviteeRole.CLIENT),
                InviteeInput(invitee_id="staff", name="Kim", role=InviteeRole.STAFF, email="kim@example.org"),
                InviteeInput(
                    invitee_id="busy", name="Robin", role=InviteeRole.OTHER, email="robin@example.org"
                ),
            ),
        ),
        csid,
    )
    for invitee, response in (("client", InvitationResponse.ACCEPTED), ("busy", InvitationResponse.DECLINED)):
        await contacts.command(
            RespondToMeetingInvitation(
                actor=CASE_WORKER, meeting_id=meeting_id, invitee_id=invitee, response=response
            ),
            csid,
        )
    await contacts.command(IssueMeetingMinutes(actor=CASE_WORKER, meeting_id=meeting_id), csid)  # too early
    await contacts.command(
        RecordMeetingMinutes(
            actor=CASE_WORKER,
            meeting_id=meeting_id,
            general_details="Meeting held as scheduled.",
            decisions=("Income to be re-assessed",),
            attendee_ids=("client", "staff"),
            actions=(
                MinutesActionInput(
                    action_id=action_id,
                    description="Provide payslips",
                    owner="client",
                    due_date=dt.date.today() + timedelta(days=14),
                ),
            ),
            cases_discussed=(CASE,),
            interested_parties=(InterestedPartyInput(name="Case reviewer", email="reviewer@example.org"),),
        ),
        csid,
    )
    await contacts.command(IssueMeetingMinutes(actor=CASE_WORKER, meeting_id=meeting_id), csid)

    records = await contacts.records(CONTACTS_EVENTS, csid, 8)
    emails = payloads(await contacts.records(commands_topic("notifications"), csid, 4), "SendEmail")

    assert types(records).count("MeetingRequirementAssessed") == 1
    assert [t for t in types(records) if t != "MeetingRequirementAssessed"] == [
        "MeetingScheduled",
        "MeetingInvitationAccepted",
        "MeetingInvitationDeclined",
        "ContactsCommandRejected",
        "MeetingMinutesRecorded",
        "MeetingActionTaskCreated",
        "MeetingMinutesIssued",
    ]
    assessed = payloads(records, "MeetingRequirementAssessed")[0]
    assert (assessed["meeting_required"], assessed["reason"]) == (True, "PROGRAMME_AUTHORISATION")
    assert payloads(records, "ContactsCommandRejected")[0]["reason_code"] == "MINUTES_NOT_RECORDED"
    task = payloads(records, "MeetingActionTaskCreated")[0]
    assert (task["action_id"], task["owner"]) == (str(action_id), "client")
    issued = payloads(records, "MeetingMinutesIssued")[0]
    assert issued["recipients"] == {"ATTENDEE": 2, "DECLINED_INVITEE": 1, "INTERESTED_PARTY": 1}
    # Seed 004 (Verbale): attendees, the invitee who declined, and other interested people.
    assert sorted((e["to_name"], e["recipient"], e["to_email"]) for e in emails) == [
        ("Case reviewer", "OTHER", "reviewer@example.org"),
        ("Jordan", "CUSTOMER", None),
        ("Kim", "OTHER", "kim@example.org"),
        ("Robin", "OTHER", "robin@example.org"),
    ]
    assert {e["notification_id"] for e in emails} == set(issued["notification_ids"])
    assert all(e["purpose"] == "MEETING_MINUTES" and e["meeting_id"] == str(meeting_id) for e in emails)
    assert all("Income to be re-assessed" in e["body"] for e in emails)

    # Notifications' dispatch of one of those e-mails lands in the case's communications log.
    await contacts.mesh.send(
        events_topic("notifications"),
        envelope(
            NotificationDispatched(
                notification_id=uuid.UUID(emails[0]["notification_id"]),
                delivery_id=uuid.uuid4(),
                channel=Channel.EMAIL,
                attempt=1,
                purpose=Purpose.MEETING_MINUTES,
                recipient=Recipient.OTHER,
                meeting_id=meeting_id,
            ),
            csid,
        ),
    )
    await contacts.records(CONTACTS_EVENTS, csid, 9)
    per_case = (await contacts.http.get(f"/customers/{csid}/communications", params={"case_id": CASE})).json()
    assert [(e["kind"], e["subject"]) for e in per_case["entries"]] == [("EMAIL", "Meeting minutes")]


# ------------------------------------------------------------------ attachments


def actor_header(actor: Actor = CASE_WORKER) -> dict[str, str]:
    return {"X-Casemesh-Actor": actor.model_dump_json()}


async def upload(
    contacts: Contacts,
    csid: str,
    filename: str,
    content: bytes,
    content_type: str = "application/octet-stream",
    **params: Any,
) -> httpx.Response:
    return await contacts.http.post(
        f"/customers/{csid}/attachments",
        params={"case_id": CASE, **params},
        files={"file": (filename, content, content_type)},
        headers=actor_header(),
    )


async def wait_for_status(contacts: Contacts, csid: str, attachment_id: str, status: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while True:
        found = await contacts.http.get(f"/customers/{csid}/attachments/{attachment_id}")
        if found.status_code == 200 and found.json()["status"] == status:
            return
        if status == "REFUSED" and found.status_code == 404:
            return
        assert loop.time() < deadline, f"attachment never became {status}"
        await asyncio.sleep(0.1)


async def test_attachments_are_type_checked_from_content_size_limited_quarantined_and_privilege_guarded(
    contacts: Contacts,
) -> None:
    csid = "100000004"
    pdf = samples.pdf()
    accepted = await upload(contacts, csid, "payslip.pdf", pdf, "application/pdf", required_privilege_level=3)
    assert accepted.status_code == 201, accepted.text
    attachment = accepted.json()
    assert (attachment["status"], attachment["media_type"]) == ("QUARANTINED", "application/pdf")
    assert attachment["storage_ref"].startswith("gridfs:")

    refused = {
        "renamed extension": await upload(contacts, csid, "photo.pdf", samples.png()),
        "unknown type": await upload(contacts, csid, "notes.pdf", samples.text(), "application/pdf"),
        "not allowed": await upload(contacts, csid, "invoice.pdf", samples.exe()),
        "oversized": await upload(contacts, csid, "big.pdf", samples.pdf(b" " * (MAX_BYTES * 2))),
        "far too big": await upload(contacts, csid, "huge.pdf", samples.pdf(b" " * (MAX_BYTES * 25))),
    }
    assert {name: (r.status_code, r.json()["reason_code"]) for name, r in refused.items()} == {
        "renamed extension": (415, "ATTACHMENT_TYPE_MISMATCH"),
        "unknown type": (415, "ATTACHMENT_TYPE_UNKNOWN"),
        "not allowed": (415, "ATTACHMENT_TYPE_NOT_ALLOWED"),
        "oversized": (413, "ATTACHMENT_TOO_LARGE"),
        "far too big": (413, "ATTACHMENT_TOO_LARGE"),
    }
    macro = await upload(contacts, csid, "letter.docx", samples.docx(macros=True))
    assert macro.status_code == 201
    no_actor = await contacts.http.post(
        f"/customers/{csid}/attachments", files={"file": ("payslip.pdf", pdf, "application/pdf")}
    )
    assert (no_actor.status_code, no_actor.json()["reason_code"]) == (400, "ACTOR_REQUIRED")

    await wait_for_status(contacts, csid, attachment["attachment_id"], "AVAILABLE")
    await wait_for_status(contacts, csid, macro.json()["attachment_id"], "REFUSED")
    content_url = f"/customers/{csid}/attachments/{attachment['attachment_id']}/content"
    low = await contacts.http.get(content_url, headers=reader(2))
    assert (low.status_code, low.json()["reason_code"]) == (403, "INSUFFICIENT_PRIVILEGE")
    download = await contacts.http.get(content_url, headers=reader(3))
    assert download.status_code == 200
    assert download.content == pdf
    assert download.headers["content-type"] == "application/pdf"
    macro_url = f"/customers/{csid}/attachments/{macro.json()['attachment_id']}/content"
    gone = await contacts.http.get(macro_url, headers=reader(5))
    assert (gone.status_code, gone.json()["reason_code"]) == (404, "UNKNOWN_ATTACHMENT")

    records = await contacts.records(CONTACTS_EVENTS, csid, 9)
    assert sorted(types(records)) == sorted(
        ["AttachmentUploaded"] * 2 + ["AttachmentReleased"] + ["AttachmentRefused"] * 6
    )
    uploaded = payloads(records, "AttachmentUploaded")
    assert {u["storage_ref"] for u in uploaded} >= {attachment["storage_ref"]}
    assert all(len(r.value) < 4096 for r in records), "bytes never travel on Kafka"
    codes = sorted(p["reason_code"] for p in payloads(records, "AttachmentRefused"))
    assert codes == sorted(
        [
            "ATTACHMENT_TYPE_MISMATCH",
            "ATTACHMENT_TYPE_UNKNOWN",
            "ATTACHMENT_TYPE_NOT_ALLOWED",
            "ATTACHMENT_TOO_LARGE",
            "ATTACHMENT_TOO_LARGE",
            "ATTACHMENT_TYPE_NOT_ALLOWED",  # the macro document, refused by the quarantine checks
        ]
    )
    listing = await contacts.http.get(f"/customers/{csid}/attachments", headers=reader(2))
    assert [(a["filename"], a["downloadable"]) for a in listing.json()["attachments"]] == [
        ("payslip.pdf", False)
    ]
    listing = await contacts.http.get(f"/customers/{csid}/attachments", params={"case_id": CASE})
    assert [(a["status"], a["downloadable"]) for a in listing.json()["attachments"]] == [("AVAILABLE", True)]
    assert json.loads(refused["renamed extension"].text)["detected_media_type"] == "image/png"


async def test_an_upload_refused_for_its_token_actor_csid_or_level_leaves_no_file_in_gridfs(
    contacts: Contacts,
) -> None:
    csid = "100000005"
    assert contacts.runtime.mongo is not None
    database = contacts.runtime.mongo[contacts.runtime.settings.mongodb_database]
    probe = {"filename": "refused-probe.pdf"}

    async def post(path_csid: str, headers: dict[str, str], **params: str) -> tuple[int, str]:
        answer = await contacts.http.post(
            f"/customers/{path_csid}/attachments",
            params=params,
            files={"file": ("refused-probe.pdf", samples.pdf(), "application/pdf")},
            headers=headers,
        )
        return answer.status_code, answer.json()["reason_code"]

    another_officer = CASE_WORKER.model_copy(update={"officer_id": "EMP9"})
    answers = {
        "no token": await post(csid, {**ANONYMOUS, **actor_header()}),
        "actor of another officer": await post(csid, actor_header(another_officer)),
        "CSID with a trailing newline": await post(f"{csid}%0A", actor_header()),
        "superscript privilege level": await post(csid, actor_header(), required_privilege_level="²"),
    }
    assert answers == {
        "no token": (401, "UNAUTHENTICATED"),
        "actor of another officer": (403, "ACTOR_MISMATCH"),
        "CSID with a trailing newline": (400, "INVALID_CSID"),
        "superscript privilege level": (400, "INVALID_PARAMETER"),
    }
    assert await database["attachment_files.files"].count_documents(probe) == 0


async def test_the_endpoints_are_served_only_on_the_api_port_and_health_only_on_the_open_port(
    contacts: Contacts,
) -> None:
    health = f"http://127.0.0.1:{contacts.runtime.settings.http_port}"
    async with httpx.AsyncClient(base_url=health, timeout=5.0) as open_port:
        assert (await open_port.get("/health/ready")).status_code == 200
        assert (await open_port.get("/customers/100000006/communications")).status_code == 404
    assert (await contacts.http.get("/customers/100000006/communications")).status_code == 200
    assert (await contacts.http.get("/health/ready", headers=ANONYMOUS)).status_code == 401
