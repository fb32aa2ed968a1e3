"""A CMA phone contact with its Minimum Collection Activity (seed 001 tables 1-3): referrals only.

The customer system registers the customer, who phones the agency. The CSO identifies a common
issue (income), managed at the point of entry, and a specialised one (a change of assessment),
referred to its specialist area, which locks the customer. During the call the CSO checks the
income and the payments and debts, negotiates a payment arrangement (first entered with a start
date already past, which is refused, then recorded) and promotes self service. The CSO tries to
finalise the interaction before recording the MCA outcome and is refused; records it as
completed; finalises the common issue and the interaction. The specialist area then decides the
change of assessment; the customer disagrees and is told their options, and with no lock left
the customer is unlocked.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

from casemesh.demo.driver import Decision, Mesh, Story, StoryResult, officer
from casemesh.demo.runner import Chapter
from contracts.base import Role
from contracts.catalogue.customers import CustomerRegistered
from contracts.catalogue.referrals import (
    ContactChannel,
    ContactParty,
    DecisionOption,
    DigitalService,
    FinaliseInteraction,
    FinaliseIssue,
    IdentifyPresentingIssue,
    MCAStatus,
    PaymentFrequency,
    PaymentsPosition,
    RecordCustomerContact,
    RecordIncomeCheck,
    RecordMinimumCollectionActivityOutcome,
    RecordPaymentArrangement,
    RecordPaymentsAndDebtsCheck,
    RecordSelfServicePromotion,
)

CSID = "300000031"
#: Seed 001 table 2 step 6: "a start date not in the past" is judged by the agency's calendar day.
#: The chapter states the zone it gives the service, so "today" below is the service's today.
AGENCY_TIMEZONE = "Australia/Sydney"
INCOME = "INCOME"
CHANGE_OF_ASSESSMENT = "CHANGE_OF_ASSESSMENT"


CSO = officer("CSO-41", Role.CSO, "Dana", team="Mainstream 12", extension="4300")
SPECIALIST = officer("COA-42", Role.SPECIALIST_OFFICER, "Lou", team="COA 2", extension="4300")


async def customer_management(mesh: Mesh) -> StoryResult:
    story = Story(mesh, "CMA phone contact with Minimum Collection Activity", CSID)
    await story.send(
        CustomerRegistered(
            given_name="Morgan",
            family_name="Ellis",
            is_international=False,
            is_centrelink_customer=True,
            site="Hobart",
            team="Mainstream 12",
        ),
        "The customer system registers the customer",
    )
    # Seed 001 table 1 step 1: the customer phones and the call lands in the right business area,
    # so it is handled where it landed (a phone contact opens no intray item).
    call = uuid.uuid4()
    await story.send(
        RecordCustomerContact(
            actor=CSO,
            contact_id=call,
            channel=ContactChannel.PHONE,
            party=ContactParty.CUSTOMER,
            received_in_area="MAINSTREAM",
            summary="Income query; wants the assessment changed",
        ),
        "The customer phones and the CSO takes the call",
        expect=["CustomerContactRecorded"],
        pause=timedelta(minutes=5),
    )
    # Seed 001 table 1 step 2: each presenting issue is classified from the catalogue; a common
    # one is managed at the point of entry and stays with the CSO.
    income_issue = uuid.uuid4()
    await story.send(
        IdentifyPresentingIssue(
            actor=CSO,
            contact_id=call,
            issue_id=income_issue,
            issue_code=INCOME,
            note="Asks which income the assessment used",
        ),
        "The CSO identifies the income query, a common issue",
        expect=["PresentingIssueIdentified"],
    )
    # A specialised issue is referred to its specialist area, which locks the customer to that
    # area for the issue (table 2 step 8); the ownership rule (table 1 step 5) then applies.
    coa_issue = uuid.uuid4()
    await story.send(
        IdentifyPresentingIssue(
            actor=CSO,
            contact_id=call,
            issue_id=coa_issue,
            issue_code=CHANGE_OF_ASSESSMENT,
            note="Wants a change of assessment for the costs of the children's schooling",
        ),
        "The CSO refers the change of assessment to the specialist area",
        expect=[
            "PresentingIssueIdentified",
            "SpecialisedIssueReferred",
            "CustomerLocked",
            "CustomerOwnershipAssigned",
        ],
    )
    # Seed 001 table 2 step 1: "During every interaction, check income, payments, and any
    # debts"; step 2: income issued by the tax office (ATO) is reliable.
    await story.send(
        RecordIncomeCheck(actor=CSO, contact_id=call, income_reliable=True),
        "The CSO checks the customer's income: ATO-issued, reliable",
        expect=["IncomeCheckRecorded"],
        pause=timedelta(minutes=3),
    )
    # Step 3: a payer with a debt — the position is checked and the outcome recorded.
    await story.send(
        RecordPaymentsAndDebtsCheck(
            actor=CSO,
            contact_id=call,
            position=PaymentsPosition.PAYER_WITH_DEBT,
            outcome="Debt of $1,240 explained; the customer will pay it off by instalments",
        ),
        "The CSO checks payments and debts: the customer owes a debt",
        expect=["PaymentsAndDebtsCheckRecorded"],
        pause=timedelta(minutes=2),
    )
    # Step 6: a negotiated payment arrangement records amount, frequency and a start date not in
    # the past — "today" is the agency's calendar day at the demo's time. The CSO first keys
    # yesterday's date, which the service refuses (START_DATE_IN_PAST, intended), then re-keys it.
    today = mesh.clock().astimezone(ZoneInfo(AGENCY_TIMEZONE)).date()
    await story.send(
        RecordPaymentArrangement(
            actor=CSO,
            contact_id=call,
            arrangement_id=uuid.uuid4(),
            amount_cents=12_500,
            frequency=PaymentFrequency.FORTNIGHTLY,
            start_date=today - timedelta(days=1),
        ),
        "The CSO keys a fortnightly payment arrangement to start yesterday",
        pause=timedelta(minutes=4),
    )
    await story.send(
        RecordPaymentArrangement(
            actor=CSO,
            contact_id=call,
            arrangement_id=uuid.uuid4(),
            amount_cents=12_500,
            frequency=PaymentFrequency.FORTNIGHTLY,
            start_date=today + timedelta(days=7),
        ),
        "The CSO re-keys the payment arrangement to start in a week",
        expect=["PaymentArrangementRecorded"],
    )
    # Step 1: "Promote digital self service through MyGov, CS Online, Child Support Express Plus
    # app and Infoserv services where applicable."
    await story.send(
        RecordSelfServicePromotion(
            actor=CSO, contact_id=call, services=(DigitalService.EXPRESS_PLUS_APP, DigitalService.MYGOV)
        ),
        "The CSO promotes the Express Plus app and MyGov",
        expect=["SelfServicePromotionRecorded"],
    )
    # Step 6: "Document the outcome of Minimum Collection" — a phone interaction is not finalised
    # without it (issue 9's rule, domain_cma.mca_required); refused MCA_OUTCOME_REQUIRED, intended.
    await story.send(
        FinaliseInteraction(actor=CSO, contact_id=call),
        "The CSO tries to finalise the call before recording the MCA outcome",
    )
    # COMPLETED is accepted only once the income and the payments and debts were checked (step 1).
    await story.send(
        RecordMinimumCollectionActivityOutcome(
            actor=CSO,
            contact_id=call,
            status=MCAStatus.COMPLETED,
            summary="Income reliable; debt explained; fortnightly arrangement recorded",
        ),
        "The CSO records the Minimum Collection Activity as completed",
        expect=["MinimumCollectionActivityOutcomeRecorded"],
    )
    # Seed 001 table 3 steps 1-2: the common issue is resolved in the call and the customer agrees.
    await story.send(
        FinaliseIssue(
            actor=CSO,
            issue_id=income_issue,
            customer_agrees=True,
            note="Explained the ATO income the assessment used",
        ),
        "The CSO finalises the income query",
        expect=["IssueFinalised"],
    )
    await story.send(
        FinaliseInteraction(actor=CSO, contact_id=call),
        "The CSO finalises the call",
        expect=["InteractionFinalised"],
    )
    # Table 3 step 1: "If a customer does not agree with the decision, discuss appropriate options"
    # (review, objection); steps 2-4: the issue's lock goes and, with no lock left, the customer is
    # unlocked.
    await story.send(
        FinaliseIssue(
            actor=SPECIALIST,
            issue_id=coa_issue,
            customer_agrees=False,
            options_explained=(DecisionOption.REVIEW, DecisionOption.OBJECTION),
            note="Change of assessment refused; review and objection explained",
        ),
        "The specialist officer decides the change of assessment and explains the customer's options",
        expect=["IssueFinalised", "CustomerUnlocked"],
        pause=timedelta(days=2),
    )
    refusals = [s.reason_code for s in story.steps if s.decision is Decision.REFUSED]
    finalised = story.events("IssueFinalised")
    interaction = story.last("InteractionFinalised")
    arrangement = story.last("PaymentArrangementRecorded")
    outcome = "interaction finalised" if interaction is not None else "interaction open"
    outcome += f", {len(finalised)} issues finalised"
    outcome += ", customer unlocked" if story.last("CustomerUnlocked") is not None else ", customer locked"
    referred = story.last("SpecialisedIssueReferred")
    return story.result(
        outcome,
        refusals=refusals,
        mca_status=interaction.payload.get("mca_status") if interaction is not None else None,
        arrangement=(
            f"{arrangement.payload.get('amount_cents')} cents {arrangement.payload.get('frequency')} "
            f"from {arrangement.payload.get('start_date')}"
            if arrangement is not None
            else None
        ),
        referred_to=referred.payload.get("specialist_area") if referred is not None else None,
        options_explained=finalised[-1].payload.get("options_explained") if finalised else None,
    )


# Issue 20, locks restrict: the specialist's team speaks for the area the issue is locked to.
CHAPTER = Chapter(
    customer_management,
    settings={
        "referrals": {
            "agency_timezone": AGENCY_TIMEZONE,
            "area_teams": {"CHANGE_OF_ASSESSMENT": [SPECIALIST.team]},
        }
    },
)
