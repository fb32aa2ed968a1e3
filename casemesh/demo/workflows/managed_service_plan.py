"""An MSP whose SMS is suppressed by the guard while the letter goes out (seed 002 steps 1-4).

The customer system registers a Centrelink customer with a mobile number and a postal address.
The One Main Contact asks for the Managed Service Plan to be approved and the Service Manager
accepts it (an approvals command). An approved decision maker asks for an MSP SMS at once; it
waits for its letter. Before the letter goes out the customer system flags the customer as
talking about self-harm, so when the OMC starts the MSP contact the letter is dispatched and the
waiting SMS meets the guard again at that moment of sending and is suppressed. The demo plays the
downstream channels: the OMC reports the phone call, the mail house reports the letter delivered.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from casemesh.demo.driver import Mesh, Story, StoryResult, officer
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
from contracts.catalogue.customers import (
    CustomerContactDetailsChanged,
    CustomerRegistered,
    PostalAddress,
    RiskFlag,
    RiskFlagRaised,
)
from contracts.catalogue.notifications import (
    ContactCard,
    ContactCardKind,
    SendSms,
    SmsCircumstance,
    StartMSPContact,
)
from contracts.topics import RECEIPTS_TOPIC, dispatch_topic, events_topic

CSID = "300000011"
TEAM = "PS Team Hobart"
APPROVALS_EVENTS = events_topic("approvals")
NOTIFICATIONS_EVENTS = events_topic("notifications")
LETTERS = dispatch_topic("letter")
PHONE_TASKS = dispatch_topic("phone")
SMS = dispatch_topic("sms")


MANAGER = officer("SM-20", Role.SERVICE_MANAGER, "Robin", team="PS Managers", extension="4200")
OMC = officer("OMC-21", Role.ONE_MAIN_CONTACT, "Priya", team=TEAM, extension="4200")
DECISION_MAKER = officer("ADM-22", Role.APPROVED_DECISION_MAKER, "Noor", team=TEAM, extension="4200")
CARD = ContactCard(kind=ContactCardKind.ONE_MAIN_CONTACT, first_name="Priya", phone_number="1300000000")


async def managed_service_plan(mesh: Mesh) -> StoryResult:
    story = Story(mesh, "MSP with a suppressed SMS", CSID)
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
    request_id = uuid.uuid4()
    await story.send(
        RequestApproval(
            actor=OMC,
            request_id=request_id,
            subject_type=SubjectType.MSP,
            subject_id=str(msp_id),
            chain_id=str(msp_id),
            required_role=Role.SERVICE_MANAGER,
            due_at=mesh.clock() + timedelta(days=2),
            summary="Managed Service Plan with service channel restrictions ready for approval",
        ),
        "The One Main Contact asks for the Managed Service Plan to be approved",
        expect=["ApprovalRequested"],
    )
    # Only an approved MSP starts the contact workflow: notifications learns of it from approvals'
    # event, which the step waits for until every service reading it has done so.
    await story.send(
        RecordApprovalDecision(
            actor=MANAGER,
            request_id=request_id,
            decision=Decision.ACCEPT,
            reason="Behaviours described meet the MSP threshold",
        ),
        "The Service Manager approves the Managed Service Plan",
        expect=["ApprovalAccepted"],
        pause=timedelta(minutes=20),
    )
    # Seed 002 step 2: "customers are notified of the MSP decisions as soon as possible"; an
    # approved decision maker sends the SMS, in one of the five circumstances. It complements,
    # never replaces, the letter: the letter is not out yet, so the SMS waits for it.
    await story.send(
        SendSms(
            actor=DECISION_MAKER,
            notification_id=uuid.uuid4(),
            purpose=Purpose.MSP_SMS,
            msp_id=msp_id,
            circumstance=SmsCircumstance.CAPTURE_OMC_PSSO_NUMBER,
            template_id="msp-sms",
            template_version=1,
        ),
        "An approved decision maker asks for an MSP SMS with the OMC's number",
        expect=["SmsRequested"],
        pause=timedelta(minutes=5),
    )
    # Seed 002 step 2: "A MSP SMS should not be sent to customers talking about suicide or
    # self-harm" — the flag arrives after the SMS was asked for, before it is sent.
    await story.send(
        RiskFlagRaised(flag=RiskFlag.SUICIDE_OR_SELF_HARM, flag_id="RF-30011"),
        "The customer system flags the customer as talking about self-harm",
        pause=timedelta(minutes=30),
    )
    # Seed 002 steps 1 and 3: the phone task and the final approved letter with the OMC contact
    # card go out together; the waiting SMS meets the guard again at this moment of sending, and
    # step 4 records its suppression on the MSP.
    await story.send(
        StartMSPContact(
            actor=OMC,
            msp_id=msp_id,
            approval_request_id=request_id,
            letter_template_id="msp-letter",
            letter_template_version=2,
            contact_card=CARD,
            reasons_summary="Repeated threatening calls to the Hobart service centre on 16 and 19 November.",
            duration_days=180,
        ),
        "The One Main Contact starts the MSP contact: phone call, letter and the waiting SMS",
        expect=[
            "MSPContactStarted",
            "PhoneTaskDispatch",
            "LetterDispatch",
            "SmsSuppressed",
            "MSPContactResultRecorded",
        ],
        pause=timedelta(minutes=10),
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
    suppressed = story.last("SmsSuppressed")
    results = {str(r.payload.get("step")): r.payload for r in story.events("MSPContactResultRecorded")}
    letter_result = results.get("LETTER", {})
    reasons = [str(r) for r in suppressed.payload.get("reasons", ())] if suppressed is not None else []
    if suppressed is not None:
        sms_outcome = f"SMS suppressed ({', '.join(reasons)})"
    else:
        sms_outcome = "SMS sent" if story.events("SmsDispatch", topic=SMS) else "SMS not sent"
    status = letter_result.get("delivery_status")
    letter_outcome = f"letter {str(status).lower()}" if status else "letter not confirmed"
    return story.result(
        f"{sms_outcome}, {letter_outcome}",
        suppression_reasons=reasons,
        suppressed_at_send_time=suppressed.payload.get("checked_at_send_time") if suppressed else None,
        sms_dispatched=len(story.events("SmsDispatch", topic=SMS)),
        letter_template=f"{letter.payload.get('template_id')} v{letter.payload.get('template_version')}",
        letter_enclosures=letter.payload.get("enclosures"),
        letter_delivery_status=status,
        phone_outcome=results.get("PHONE", {}).get("phone_outcome"),
        msp_results_recorded=sorted(results),
    )


CHAPTER = Chapter(managed_service_plan)
