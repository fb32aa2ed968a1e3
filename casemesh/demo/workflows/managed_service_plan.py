"""The MSP record (issue 20 items 1, 2 and 10; seed 002 steps 1-4 and its task cards): proposed,
approved in two stages, in force from its contact, with the MSP SMS ahead of the letter, the
letter, and each result recorded on it.

The customer system registers a Centrelink customer with a phone number, a mobile and a postal
address. The One Main Contact proposes the Managed Service Plan on the notifications service
(``ProposeMSP``): the behaviours that led to it, its duration and review date, and the service
channels it restricts — so it needs two approvals (task card "Approving a Managed Service Plan
(MSP) with Service Channel Restrictions"). The OMC asks the approvals service twice, in the MSP's
chain: the Team Leader accepts the first stage and the Service Manager, another officer, the
second. The OMC then starts the MSP's contact: the MSP becomes active, the phone task and the
final approved letter with the OMC contact card go out. With the letter requested, an approved
decision maker sends the MSP SMS, which goes at once, while the letter is still with the mail
house (issue 20 item 2: ahead of the letter, never instead of it). The demo plays the downstream
channels: the OMC reports the call, the SMS gateway and the mail house their receipts. The OMC
records in the MSP notes that the customer confirmed the letter by phone, and the chapter ends by
reading the MSP record through the notifications service's API, as the OMC's screen does.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx

from casemesh.demo.driver import Mesh, Seen, Story, StoryResult, officer
from casemesh.demo.runner import Chapter
from contracts.base import Role
from contracts.catalogue.approvals import Decision, RecordApprovalDecision, RequestApproval, SubjectType
from contracts.catalogue.channels import (
    Channel,
    DeliveryReceipted,
    DeliveryStatus,
    PhoneOutcome,
    PhoneTaskOutcomeReported,
    Purpose,
    Recipient,
)
from contracts.catalogue.customers import CustomerContactDetailsChanged, CustomerRegistered, PostalAddress
from contracts.catalogue.msp import AddMSPNote, ChannelAccess, ChannelRestriction, ProposeMSP, ServiceChannel
from contracts.catalogue.notifications import (
    ContactCard,
    ContactCardKind,
    SendSms,
    SmsCircumstance,
    StartMSPContact,
)
from contracts.topics import RECEIPTS_TOPIC, dispatch_topic
from kit.identity import development_token

CSID = "300000011"
TEAM = "PS Team Hobart"
LETTERS = dispatch_topic("letter")
PHONE_TASKS = dispatch_topic("phone")
SMS = dispatch_topic("sms")

TEAM_LEADER = officer("TL-20", Role.TEAM_LEADER, "Morgan", team=TEAM, extension="4200")
MANAGER = officer("SM-20", Role.SERVICE_MANAGER, "Robin", team="PS Managers", extension="4200")
OMC = officer("OMC-21", Role.ONE_MAIN_CONTACT, "Priya", team=TEAM, extension="4200")
DECISION_MAKER = officer("ADM-22", Role.APPROVED_DECISION_MAKER, "Noor", team=TEAM, extension="4200")
CARD = ContactCard(
    kind=ContactCardKind.ONE_MAIN_CONTACT,
    first_name="Priya",
    phone_number="1300000000",
    urgent_voicemail="1300000001",
)
REASONS = (
    "Repeated threatening calls to the Hobart service centre on 16 and 19 November, and shouting at "
    "staff at the counter on 20 November."
)
#: Seed 002 step 1: "how the customer can access services for the duration of the MSP".
RESTRICTIONS = (
    ChannelRestriction(
        channel=ServiceChannel.PHONE,
        access=ChannelAccess.RESTRICTED,
        conditions="Only through the One Main Contact, on the direct number on the contact card.",
    ),
    ChannelRestriction(channel=ServiceChannel.FACE_TO_FACE, access=ChannelAccess.NOT_ALLOWED),
)
#: The current approved msp-sms: version 2 says the letter is on its way (issue 20 item 2).
SMS_TEMPLATE = ("msp-sms", 2)
LETTER_TEMPLATE = ("msp-letter", 2)


async def managed_service_plan(mesh: Mesh) -> StoryResult:
    story = Story(mesh, "MSP record with its SMS ahead of the letter", CSID)
    # Seed 002 step 2: "Centrelink customers only" — the customer passes that rule.
    await story.send(
        CustomerRegistered(
            given_name="Casey",
            family_name="Nguyen",
            is_international=False,
            is_centrelink_customer=True,
            site="Hobart",
            team="Mainstream 7",
        ),
        "The customer system registers the customer",
    )
    # Seed 002 steps 1-3: a phone number to call, a mobile for the SMS and a postal address for
    # the letter, which is mandatory ("Customers must be advised of their MSP in writing").
    await story.send(
        CustomerContactDetailsChanged(
            mobile_number="0412000011",
            phone_number="0362000011",
            postal_address=PostalAddress(
                lines=("8 Example Rd",), locality="Moonah", state="TAS", postcode="7009"
            ),
        ),
        "The customer system records the customer's phone, mobile and postal address",
    )
    msp_id = uuid.uuid4()
    # Seed 002 step 1: the reasons describe the behaviours considered, and the MSP says how the
    # customer can access services; restricting a channel needs two approval stages.
    await story.send(
        ProposeMSP(
            actor=OMC,
            msp_id=msp_id,
            reasons_summary=REASONS,
            duration_days=180,
            review_after_days=150,
            channel_restrictions=RESTRICTIONS,
            contact_card=CARD,
        ),
        "The One Main Contact proposes the MSP: phone only through the OMC, no face-to-face service",
        expect=["MSPProposed"],
    )
    # Task card "Approving a Managed Service Plan (MSP) with Service Channel Restrictions": two
    # stages in the MSP's chain, each decided by a different officer. The MSP record learns of
    # each acceptance from approvals' event, which each step waits for.
    stages = ((TEAM_LEADER, "MSPApprovalStageAccepted"), (MANAGER, "MSPApproved"))
    request_id = uuid.uuid4()
    for number, (approver, answer) in enumerate(stages, 1):
        request_id = uuid.uuid4()
        await story.send(
            RequestApproval(
                actor=OMC,
                request_id=request_id,
                subject_type=SubjectType.MSP,
                subject_id=str(msp_id),
                chain_id=str(msp_id),
                required_role=approver.role,
                due_at=mesh.clock() + timedelta(days=2),
                summary="Managed Service Plan with service channel restrictions ready for approval",
            ),
            f"The One Main Contact asks the {_words(approver.role)} to approve stage {number} of 2",
            expect=["ApprovalRequested"],
            pause=timedelta(minutes=10),
        )
        await story.send(
            RecordApprovalDecision(
                actor=approver,
                request_id=request_id,
                decision=Decision.ACCEPT,
                reason="The behaviours described meet the MSP threshold",
            ),
            f"The {_words(approver.role)} accepts stage {number} of 2",
            expect=["ApprovalAccepted", answer],
            pause=timedelta(minutes=20),
        )
    # Seed 002 steps 1 and 3: the contact starts with the request that completed the approval;
    # the MSP is in force from now, the phone task and the final approved letter with the OMC
    # contact card go out.
    started = await story.send(
        StartMSPContact(
            actor=OMC,
            msp_id=msp_id,
            approval_request_id=request_id,
            letter_template_id=LETTER_TEMPLATE[0],
            letter_template_version=LETTER_TEMPLATE[1],
            contact_card=CARD,
            reasons_summary=REASONS,
            duration_days=180,
        ),
        "The One Main Contact starts the MSP contact: the MSP is active, phone call and letter go out",
        expect=["MSPContactStarted", "MSPActivated", "PhoneTaskDispatch", "LetterDispatch"],
        pause=timedelta(minutes=10),
    )
    # Seed 002 step 2: "prompt message delivery with limited text is warranted ahead of sending
    # more detailed information in an MSP letter"; "Sending an SMS will complement, not replace
    # the corresponding letter." The letter is requested, so the SMS goes now.
    sms = await story.send(
        SendSms(
            actor=DECISION_MAKER,
            notification_id=uuid.uuid4(),
            purpose=Purpose.MSP_SMS,
            msp_id=msp_id,
            circumstance=SmsCircumstance.CAPTURE_OMC_PSSO_NUMBER,
            template_id=SMS_TEMPLATE[0],
            template_version=SMS_TEMPLATE[1],
        ),
        "An approved decision maker sends the MSP SMS with the OMC's number, ahead of the letter",
        expect=["SmsRequested", "SmsDispatch"],
        pause=timedelta(minutes=5),
    )
    # The demo plays the channels, reading their dispatch topics. Seed 002 step 1: the OMC phones
    # the customer, explains the MSP and advises a letter will follow; step 4: the result is
    # recorded on the MSP.
    call = await story.wait_for("PhoneTaskDispatch", topic=PHONE_TASKS)
    await story.send(
        PhoneTaskOutcomeReported(
            delivery_id=uuid.UUID(str(call.payload["delivery_id"])),
            attempt=int(call.payload["attempt"]),
            outcome=PhoneOutcome.REACHED,
            spoke_with=Recipient.CUSTOMER,
            notes="Explained the MSP, its duration and the OMC's number; advised a letter will follow.",
            officer_id=OMC.officer_id,
        ),
        "The One Main Contact phones the customer and reports the call",
        topic=RECEIPTS_TOPIC,
        expect=["MSPContactResultRecorded"],
        pause=timedelta(hours=1),
    )
    text = await story.wait_for("SmsDispatch", topic=SMS)
    await story.send(
        DeliveryReceipted(
            delivery_id=uuid.UUID(str(text.payload["delivery_id"])),
            attempt=int(text.payload["attempt"]),
            channel=Channel.SMS,
            status=DeliveryStatus.DELIVERED,
            provider_reference="SMS-30011",
        ),
        "The SMS gateway reports the MSP SMS delivered",
        topic=RECEIPTS_TOPIC,
        expect=["NotificationDelivered", "MSPContactResultRecorded"],
        pause=timedelta(minutes=5),
    )
    # Seed 002 step 3: the letter is posted; the mail house's receipt confirms it, and step 4
    # records the letter's result on the MSP.
    letter = await story.wait_for("LetterDispatch", topic=LETTERS)
    await story.send(
        DeliveryReceipted(
            delivery_id=uuid.UUID(str(letter.payload["delivery_id"])),
            attempt=int(letter.payload["attempt"]),
            channel=Channel.LETTER,
            status=DeliveryStatus.DELIVERED,
            provider_reference="MAIL-30011",
        ),
        "The mail house reports the MSP letter delivered",
        topic=RECEIPTS_TOPIC,
        expect=["NotificationDelivered", "MSPContactResultRecorded"],
        pause=timedelta(days=2),
    )
    # Seed 002 step 3: "Record this in the MSP notes" — the note's text stays in the MSP record.
    await story.send(
        AddMSPNote(
            actor=OMC,
            msp_id=msp_id,
            note_id=uuid.uuid4(),
            text="Customer phoned the OMC and confirmed receiving the MSP letter and the SMS.",
        ),
        "The One Main Contact notes that the customer confirmed receiving the letter",
        expect=["MSPNoteAdded"],
        pause=timedelta(hours=3),
    )
    record = await _msp_record(mesh, msp_id)
    return _told(story, record, started.distinct("LetterDispatch") or [letter], sms.distinct("SmsDispatch"))


def _told(story: Story, record: dict[str, Any], letters: list[Seen], texts: list[Seen]) -> StoryResult:
    """The chapter's result, from the MSP record as the OMC reads it and the dispatches seen."""
    results = {str(r.get("step")): r for r in record.get("results", [])}
    attached = record.get("letter") or {}
    letter_at = _occurred_at(letters[0]) if letters else None
    sms_at = _occurred_at(texts[0]) if texts else None
    delivered_at = results.get("LETTER", {}).get("at")
    ahead = (
        sms_at is not None
        and delivered_at is not None
        and datetime.fromisoformat(sms_at) < datetime.fromisoformat(str(delivered_at))
    )
    outcomes = ", ".join(
        f"{step if step == 'SMS' else step.lower()} {str(r.get('outcome')).lower()}"
        for step, r in results.items()
    )
    status = str(record.get("status", "unread")).lower()
    sms_words = "SMS dispatched ahead of the letter" if ahead else "SMS not dispatched ahead of the letter"
    return story.result(
        f"MSP {status}: {sms_words}; {outcomes or 'no contact results'}",
        status=record.get("status"),
        approval_stages=len(record.get("approvals", [])),
        attached_letter=(
            f"{attached.get('template_id')} v{attached.get('template_version')}" if attached else None
        ),
        letter_enclosures=letters[0].payload.get("enclosures") if letters else None,
        sms_template=(
            f"{texts[0].payload.get('template_id')} v{texts[0].payload.get('template_version')}"
            if texts
            else None
        ),
        letter_dispatched_at=letter_at,
        sms_dispatched_at=sms_at,
        letter_delivered_at=delivered_at,
        sms_ahead_of_letter=ahead,
        contact_results={step: r.get("outcome") for step, r in results.items()},
        notes=len(record.get("notes", [])),
        history=len(record.get("history", [])),
        review_at=record.get("review_at"),
        expires_at=record.get("expires_at"),
    )


async def _msp_record(mesh: Mesh, msp_id: uuid.UUID) -> dict[str, Any]:
    """The MSP record as the OMC's screen reads it from the notifications service's API (with a
    token signed by the development key), once it holds the note and the three contact results."""
    token = development_token(OMC.officer_id, [OMC.role])
    async with httpx.AsyncClient(
        base_url=mesh.host.api_url("notifications"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=10.0,
    ) as screen:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + mesh.timeout_s
        while True:
            answer = await screen.get(f"/customers/{CSID}/msps/{msp_id}")
            record: dict[str, Any] = answer.json() if answer.is_success else {"status": answer.status_code}
            complete = len(record.get("results", [])) >= 3 and record.get("notes")
            if complete or loop.time() >= deadline:
                return record
            await asyncio.sleep(0.05)


def _occurred_at(seen: Seen) -> str | None:
    """When the service published the record (its envelope's ``occurred_at``)."""
    try:
        return str(json.loads(seen.value)["occurred_at"])
    except (ValueError, KeyError, TypeError):
        return None


def _words(role: Role | None) -> str:
    return str(role).replace("_", " ").title() if role is not None else "?"


CHAPTER = Chapter(managed_service_plan)
