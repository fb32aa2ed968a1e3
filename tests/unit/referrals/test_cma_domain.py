"""The Customer Management Approach intake (seed 001 tables 1-3, issue 9), decided purely."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from contracts.base import Actor, Message, Role
from contracts.catalogue.customers import CustomerRegistered
from contracts.catalogue.referrals import (
    PERSONALISED_SERVICES_AREA,
    AssignCustomerToPS,
    CloseIntrayItem,
    ContactChannel,
    ContactParty,
    ContactWarmTransferred,
    CustomerContactRecorded,
    CustomerLocked,
    CustomerOwnershipAssigned,
    CustomerUnlocked,
    DecisionOption,
    DigitalService,
    ExternalReferralRecorded,
    FinaliseInteraction,
    FinaliseIssue,
    IdentifiedErrorRecorded,
    IdentifyPresentingIssue,
    IncomeCheckRecorded,
    InteractionFinalised,
    IntrayItemClosed,
    IntrayItemOpened,
    IntrayItemRecategorised,
    IssueClass,
    IssueFinalised,
    LockCustomer,
    LockTargetInput,
    LockTargetKind,
    MCAStatus,
    MinimumCollectionActivityOutcomeRecorded,
    OfficerFeedbackSent,
    OwnershipBasis,
    PaymentArrangementRecorded,
    PaymentsPosition,
    PresentingIssueIdentified,
    PSReferralType,
    RecategoriseIntrayItem,
    RecordCustomerContact,
    RecordExternalReferral,
    RecordIdentifiedError,
    RecordIncomeCheck,
    RecordMinimumCollectionActivityOutcome,
    RecordPaymentArrangement,
    RecordPaymentsAndDebtsCheck,
    RecordSelfServicePromotion,
    ReferralsCommandRejected,
    ReferralsReasonCode,
    SelfServicePromotionRecorded,
    SpecialisedIssueReferred,
    UnlockCustomer,
    WarmTransferContact,
)
from kit.timers import Deferred
from services.referrals.domain import Context, CustomerFile
from services.referrals.domain import intake as domain_cma
from services.referrals.domain.intake import (
    CMAConfig,
    Contact,
    Intake,
    IssueKind,
    Promotion,
    mca_required,
    pruned,
)
from services.referrals.domain.ownership import OwnershipConfig
from services.referrals.settings import DEFAULT_PRESENTING_ISSUES, ReferralsSettings
from services.referrals.spec import SPEC, context_of, decide

SYDNEY = ZoneInfo("Australia/Sydney")
#: 10:00 in Sydney on 2 March 2026 (AEDT, UTC+11).
NOW = datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)
CATALOGUE = {
    "INCOME": IssueKind(issue_class=IssueClass.COMMON),
    "PAYMENTS": IssueKind(issue_class=IssueClass.COMMON),
    "CHANGE_OF_ASSESSMENT": IssueKind(issue_class=IssueClass.SPECIALISED, specialist_area="COA"),
    "PART_6A_OBJECTION": IssueKind(issue_class=IssueClass.SPECIALISED, specialist_area="OBJECTIONS"),
}
CTX = Context(
    ps_teams={"PS Team 1": ("EMP1",)},
    ownership=OwnershipConfig(
        priority=(PERSONALISED_SERVICES_AREA, "OBJECTIONS"),
        area_teams={"COA": frozenset({"COA 2"}), "OBJECTIONS": frozenset({"Objections 1"})},
    ),
    cma=CMAConfig(
        catalogue=CATALOGUE,
        external_referral_types=frozenset({"FINANCIAL_COUNSELLING", "LEGAL_ASSISTANCE"}),
        timezone=SYDNEY,
    ),
)


def actor(officer_id: str, team: str = "Mainstream 12", role: Role = Role.CSO) -> Actor:
    return Actor(
        officer_id=officer_id, role=role, first_name="Alex", site="Hobart", team=team, extension="1234"
    )


CSO = actor("CSO-1")
RECEIVER = actor("CSO-5", team="New Customers 3")
SPECIALIST = actor("COA-1", team="COA 2")
OBJECTIONS_OFFICER = actor("OBJ-1", team="Objections 1")

Outputs = Sequence[Message | Deferred]


def run(state: CustomerFile | None, *messages: Any, now: datetime = NOW) -> tuple[CustomerFile, Outputs]:
    out: Outputs = []
    for message in messages:
        new, out = decide(state, message, now, CTX)
        assert new is not None
        state = new
    assert state is not None
    return state, out


def kinds(events: Outputs) -> list[str]:
    return [type(e).__name__ for e in events]


def refusal(events: Outputs) -> ReferralsReasonCode:
    assert len(events) == 1 and isinstance(events[0], ReferralsCommandRejected), events
    return events[0].reason_code


def first(events: Outputs, kind: type) -> Any:
    found = [e for e in events if isinstance(e, kind)]
    assert found, events
    return found[0]


def known() -> CustomerFile:
    registered = CustomerRegistered(
        given_name="Jordan",
        family_name="Lee",
        is_international=False,
        is_centrelink_customer=True,
        site="Hobart",
        team="Mainstream 12",
    )
    state, _ = run(None, registered)
    return state


def phone(contact_id: uuid.UUID | None = None, **fields: Any) -> RecordCustomerContact:
    values: dict[str, Any] = {
        "actor": CSO,
        "contact_id": contact_id or uuid.uuid4(),
        "channel": ContactChannel.PHONE,
        "party": ContactParty.CUSTOMER,
        "received_in_area": "MAINSTREAM",
        **fields,
    }
    return RecordCustomerContact(**values)


def letter(
    contact_id: uuid.UUID, intray_item_id: uuid.UUID, category: str | None = "COA"
) -> RecordCustomerContact:
    return RecordCustomerContact(
        actor=CSO,
        contact_id=contact_id,
        channel=ContactChannel.POST,
        party=ContactParty.AUTHORISED_REPRESENTATIVE,
        received_in_area="MAINSTREAM",
        intray_item_id=intray_item_id,
        intray_category=category,
    )


def issue(contact_id: uuid.UUID, code: str, issue_id: uuid.UUID | None = None) -> IdentifyPresentingIssue:
    return IdentifyPresentingIssue(
        actor=CSO, contact_id=contact_id, issue_id=issue_id or uuid.uuid4(), issue_code=code
    )


def finalise(
    issue_id: uuid.UUID, by: Actor = CSO, agrees: bool = True, *options: DecisionOption
) -> FinaliseIssue:
    return FinaliseIssue(actor=by, issue_id=issue_id, customer_agrees=agrees, options_explained=options)


def income(contact_id: uuid.UUID, reliable: bool = True, commitment: bool | None = None) -> RecordIncomeCheck:
    return RecordIncomeCheck(
        actor=CSO, contact_id=contact_id, income_reliable=reliable, tax_return_commitment=commitment
    )


def payments(contact_id: uuid.UUID) -> RecordPaymentsAndDebtsCheck:
    return RecordPaymentsAndDebtsCheck(
        actor=CSO, contact_id=contact_id, position=PaymentsPosition.PAYER_WITH_DEBT, outcome="Debt explained"
    )


def outcome(
    contact_id: uuid.UUID, status: MCAStatus = MCAStatus.COMPLETED
) -> RecordMinimumCollectionActivityOutcome:
    return RecordMinimumCollectionActivityOutcome(
        actor=CSO, contact_id=contact_id, status=status, summary="Private collection case: no MCA applies"
    )


def arrangement(
    contact_id: uuid.UUID, amount: int = 12_500, frequency: str = "FORTNIGHTLY", start: date = TODAY
) -> RecordPaymentArrangement:
    return RecordPaymentArrangement(
        actor=CSO,
        contact_id=contact_id,
        arrangement_id=uuid.uuid4(),
        amount_cents=amount,
        frequency=frequency,
        start_date=start,
    )


# --------------------------------------------------------------------------------------------
# Intake (table 1 step 1)
# --------------------------------------------------------------------------------------------


def test_a_contact_from_a_customer_the_customer_system_never_registered_is_refused() -> None:
    _, events = run(None, phone())
    assert refusal(events) is ReferralsReasonCode.UNKNOWN_CUSTOMER


def test_a_phone_contact_is_recorded_with_its_channel_party_and_area() -> None:
    contact_id = uuid.uuid4()
    state, events = run(known(), phone(contact_id, party=ContactParty.AUTHORISED_REPRESENTATIVE))
    recorded = first(events, CustomerContactRecorded)
    assert kinds(events) == ["CustomerContactRecorded"]
    assert (recorded.channel, recorded.party, recorded.received_in_area) == (
        ContactChannel.PHONE,
        ContactParty.AUTHORISED_REPRESENTATIVE,
        "MAINSTREAM",
    )
    assert [c.contact_id for c in state.intake.open_contacts()] == [contact_id]


def test_correspondence_opens_an_intray_item_under_the_category_it_arrived_with() -> None:
    contact_id, item_id = uuid.uuid4(), uuid.uuid4()
    state, events = run(known(), letter(contact_id, item_id))
    assert kinds(events) == ["CustomerContactRecorded", "IntrayItemOpened"]
    opened = first(events, IntrayItemOpened)
    assert (opened.intray_item_id, opened.channel, opened.category) == (item_id, ContactChannel.POST, "COA")
    assert [i.intray_item_id for i in state.intake.open_intray_items()] == [item_id]


def test_a_contact_id_or_intray_item_id_used_before_is_refused() -> None:
    contact_id, item_id = uuid.uuid4(), uuid.uuid4()
    state, _ = run(known(), letter(contact_id, item_id))
    _, again = run(state, phone(contact_id))
    _, same_item = run(state, letter(uuid.uuid4(), item_id))
    assert refusal(again) is ReferralsReasonCode.INVALID_STATE
    assert refusal(same_item) is ReferralsReasonCode.INVALID_STATE


def test_a_misdirected_call_warm_transferred_is_recorded_and_continues_in_the_receiving_area() -> None:
    contact_id = uuid.uuid4()
    transfer = WarmTransferContact(
        actor=CSO, contact_id=contact_id, to_area="NEW_CUSTOMERS", reason="Registration query"
    )
    state, events = run(known(), phone(contact_id, misdirected=True), transfer)
    transferred = first(events, ContactWarmTransferred)
    assert (transferred.from_area, transferred.to_area, transferred.reason) == (
        "MAINSTREAM",
        "NEW_CUSTOMERS",
        "Registration query",
    )
    contact = state.intake.contacts[str(contact_id)]
    assert contact.current_area == "NEW_CUSTOMERS" and contact.received_in_area == "MAINSTREAM"
    # The receiving area carries on with the same interaction.
    _, recorded = run(
        state,
        IdentifyPresentingIssue(
            actor=RECEIVER, contact_id=contact_id, issue_id=uuid.uuid4(), issue_code="INCOME"
        ),
    )
    assert kinds(recorded) == ["PresentingIssueIdentified"]


def test_correspondence_is_not_warm_transferred_nor_a_call_to_the_area_it_is_in() -> None:
    letter_id, call_id = uuid.uuid4(), uuid.uuid4()
    state, _ = run(known(), letter(letter_id, uuid.uuid4()), phone(call_id))
    _, of_letter = run(
        state, WarmTransferContact(actor=CSO, contact_id=letter_id, to_area="COA", reason="COA")
    )
    _, same_area = run(
        state, WarmTransferContact(actor=CSO, contact_id=call_id, to_area="MAINSTREAM", reason="x")
    )
    assert refusal(of_letter) is ReferralsReasonCode.INVALID_STATE
    assert refusal(same_area) is ReferralsReasonCode.INVALID_STATE


def test_recategorising_an_intray_item_needs_a_reason_and_is_kept_on_its_audit_trail() -> None:
    item_id = uuid.uuid4()
    state, _ = run(known(), letter(uuid.uuid4(), item_id, category="COA"))
    change = RecategoriseIntrayItem(
        actor=CSO, intray_item_id=item_id, category="OBJECTION", reason="Objection"
    )
    state, events = run(state, change)
    recategorised = first(events, IntrayItemRecategorised)
    assert (recategorised.from_category, recategorised.to_category, recategorised.reason) == (
        "COA",
        "OBJECTION",
        "Objection",
    )
    trail = state.intake.intray_items[str(item_id)].recategorisations
    assert [(t.from_category, t.to_category, t.officer_id, t.at) for t in trail] == [
        ("COA", "OBJECTION", "CSO-1", NOW)
    ]
    _, same = run(state, change)
    assert refusal(same) is ReferralsReasonCode.INVALID_STATE
    with pytest.raises(ValidationError):
        RecategoriseIntrayItem(actor=CSO, intray_item_id=item_id, category="COA", reason="")


def test_an_intray_item_is_closed_only_once_every_issue_it_raised_is_finalised() -> None:
    contact_id, item_id, coa, income_issue = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    close = CloseIntrayItem(actor=CSO, intray_item_id=item_id)
    state, _ = run(known(), letter(contact_id, item_id))
    _, unread = run(state, close)
    assert refusal(unread) is ReferralsReasonCode.NO_ISSUES_IDENTIFIED

    state, _ = run(
        state, issue(contact_id, "CHANGE_OF_ASSESSMENT", coa), issue(contact_id, "INCOME", income_issue)
    )
    state, events = run(state, finalise(income_issue), close)
    assert refusal(events) is ReferralsReasonCode.INTRAY_ISSUES_OUTSTANDING
    assert "1 issue" in events[0].reason  # type: ignore[union-attr]

    state, events = run(state, finalise(coa, SPECIALIST), close)
    assert kinds(events) == ["IntrayItemClosed"] and first(events, IntrayItemClosed).intray_item_id == item_id
    assert state.intake.open_intray_items() == []
    for after in (close, RecategoriseIntrayItem(actor=CSO, intray_item_id=item_id, category="X", reason="y")):
        assert refusal(run(state, after)[1]) is ReferralsReasonCode.INTRAY_ITEM_CLOSED
    assert refusal(run(state, issue(contact_id, "INCOME"))[1]) is ReferralsReasonCode.INTRAY_ITEM_CLOSED
    unknown = CloseIntrayItem(actor=CSO, intray_item_id=uuid.uuid4())
    assert refusal(run(state, unknown)[1]) is ReferralsReasonCode.UNKNOWN_INTRAY_ITEM


# --------------------------------------------------------------------------------------------
# Presenting issues (table 1 step 2)
# --------------------------------------------------------------------------------------------


def test_a_common_issue_is_managed_at_the_point_of_entry_without_locking_the_customer() -> None:
    contact_id = uuid.uuid4()
    state, events = run(known(), phone(contact_id), issue(contact_id, "INCOME"))
    assert kinds(events) == ["PresentingIssueIdentified"]
    identified = first(events, PresentingIssueIdentified)
    assert (identified.issue_class, identified.specialist_area) == (IssueClass.COMMON, None)
    assert not state.ownership.locked


def test_a_specialised_issue_is_referred_to_its_area_which_locks_and_owns_the_customer() -> None:
    contact_id, issue_id = uuid.uuid4(), uuid.uuid4()
    state, events = run(known(), phone(contact_id), issue(contact_id, "CHANGE_OF_ASSESSMENT", issue_id))
    assert kinds(events) == [
        "PresentingIssueIdentified",
        "SpecialisedIssueReferred",
        "CustomerLocked",
        "CustomerOwnershipAssigned",
    ]
    assert first(events, SpecialisedIssueReferred).specialist_area == "COA"
    locked = first(events, CustomerLocked)
    assert (locked.issue_id, locked.lock_to.kind, locked.lock_to.area) == (
        issue_id,
        LockTargetKind.SPECIALIST_AREA,
        "COA",
    )
    owned = first(events, CustomerOwnershipAssigned)
    assert (owned.owner_area, owned.basis) == ("COA", OwnershipBasis.FIRST_SPECIALISED_ISSUE)
    assert [i.issue_id for i in state.intake.outstanding_issues()] == [issue_id]


def test_a_second_specialised_area_higher_on_the_priority_list_takes_ownership() -> None:
    contact_id = uuid.uuid4()
    state, events = run(
        known(),
        phone(contact_id),
        issue(contact_id, "CHANGE_OF_ASSESSMENT"),
        issue(contact_id, "PART_6A_OBJECTION"),
    )
    owned = first(events, CustomerOwnershipAssigned)
    assert (owned.owner_area, owned.previous_owner_area) == ("OBJECTIONS", "COA")
    assert state.ownership.areas() == ["COA", "OBJECTIONS"]


def test_a_specialised_issue_of_a_ps_customer_leaves_ps_coordinating() -> None:
    assign = AssignCustomerToPS(
        actor=actor("SM-1", "PS Managers", Role.SERVICE_MANAGER),
        referral_id=uuid.uuid4(),
        referral_type=PSReferralType.OTHER,
        team="PS Team 1",
        officer_id="EMP1",
    )
    contact_id = uuid.uuid4()
    state, events = run(known(), assign, phone(contact_id), issue(contact_id, "CHANGE_OF_ASSESSMENT"))
    assert "CustomerOwnershipAssigned" not in kinds(events)
    assert state.ownership.owner_area == PERSONALISED_SERVICES_AREA and state.ownership.locked


def test_an_issue_outside_the_catalogue_or_with_a_used_id_is_refused() -> None:
    contact_id, issue_id = uuid.uuid4(), uuid.uuid4()
    state, _ = run(known(), phone(contact_id), issue(contact_id, "INCOME", issue_id))
    assert refusal(run(state, issue(contact_id, "HOUSING"))[1]) is ReferralsReasonCode.UNKNOWN_ISSUE_CODE
    assert (
        refusal(run(state, issue(contact_id, "PAYMENTS", issue_id))[1]) is ReferralsReasonCode.INVALID_STATE
    )
    assert refusal(run(state, issue(uuid.uuid4(), "INCOME"))[1]) is ReferralsReasonCode.UNKNOWN_CONTACT


def test_a_non_child_support_issue_gets_an_external_referral_of_a_known_type() -> None:
    contact_id = uuid.uuid4()
    referral = RecordExternalReferral(
        actor=CSO, contact_id=contact_id, referral_type="FINANCIAL_COUNSELLING", note="Hotline given"
    )
    state, events = run(known(), phone(contact_id), referral)
    recorded = first(events, ExternalReferralRecorded)
    assert (recorded.referral_type, recorded.note) == ("FINANCIAL_COUNSELLING", "Hotline given")
    assert [r.referral_type for r in state.intake.contacts[str(contact_id)].external_referrals] == [
        "FINANCIAL_COUNSELLING"
    ]
    unknown = RecordExternalReferral(actor=CSO, contact_id=contact_id, referral_type="ASTROLOGY")
    assert refusal(run(state, unknown)[1]) is ReferralsReasonCode.UNKNOWN_REFERRAL_TYPE


# --------------------------------------------------------------------------------------------
# Error identified (table 1 step 3)
# --------------------------------------------------------------------------------------------


def test_an_identified_error_is_recorded_and_feedback_goes_to_the_officer_who_made_it() -> None:
    contact_id, error_id = uuid.uuid4(), uuid.uuid4()
    error = RecordIdentifiedError(
        actor=CSO,
        contact_id=contact_id,
        error_id=error_id,
        description="Income not updated after ATO notice",
        made_by_officer_id="EMP20931",
        feedback="Please check ATO notices at each contact.",
    )
    state, events = run(known(), phone(contact_id), error)
    assert kinds(events) == ["IdentifiedErrorRecorded", "OfficerFeedbackSent"]
    assert first(events, IdentifiedErrorRecorded).made_by_officer_id == "EMP20931"
    feedback = first(events, OfficerFeedbackSent)
    assert (feedback.error_id, feedback.to_officer_id, feedback.actor) == (error_id, "EMP20931", CSO)
    assert refusal(run(state, error)[1]) is ReferralsReasonCode.INVALID_STATE


def test_an_error_without_feedback_is_only_recorded_and_feedback_needs_its_officer() -> None:
    contact_id = uuid.uuid4()
    state, _ = run(known(), phone(contact_id))
    quiet = RecordIdentifiedError(
        actor=CSO,
        contact_id=contact_id,
        error_id=uuid.uuid4(),
        description="Wrong letter",
        made_by_officer_id="E1",
    )
    assert kinds(run(state, quiet)[1]) == ["IdentifiedErrorRecorded"]
    nobody = RecordIdentifiedError(
        actor=CSO, contact_id=contact_id, error_id=uuid.uuid4(), description="Wrong letter", feedback="Check"
    )
    assert refusal(run(state, nobody)[1]) is ReferralsReasonCode.FEEDBACK_NEEDS_OFFICER


# --------------------------------------------------------------------------------------------
# Minimum Collection Activity (table 2)
# --------------------------------------------------------------------------------------------


def test_an_unreliable_income_needs_the_customers_answer_on_lodging_a_tax_return() -> None:
    contact_id = uuid.uuid4()
    state, _ = run(known(), phone(contact_id))
    assert refusal(run(state, income(contact_id, reliable=False))[1]) is (
        ReferralsReasonCode.TAX_RETURN_COMMITMENT_REQUIRED
    )
    _, events = run(state, income(contact_id, reliable=False, commitment=True))
    recorded = first(events, IncomeCheckRecorded)
    assert (recorded.income_reliable, recorded.tax_return_commitment) == (False, True)
    assert kinds(run(state, income(contact_id, reliable=True))[1]) == ["IncomeCheckRecorded"]


def test_payments_and_debts_and_self_service_promotion_are_recorded_for_the_interaction() -> None:
    contact_id = uuid.uuid4()
    promote = RecordSelfServicePromotion(
        actor=CSO, contact_id=contact_id, services=(DigitalService.MYGOV, DigitalService.MYGOV)
    )
    state, events = run(known(), phone(contact_id), payments(contact_id), promote)
    assert first(events, SelfServicePromotionRecorded).services == (DigitalService.MYGOV,)
    mca = state.intake.contacts[str(contact_id)].mca
    assert [p.position for p in mca.payments_checks] == [PaymentsPosition.PAYER_WITH_DEBT]
    assert mca.activity_recorded


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"amount": 0}, ReferralsReasonCode.INVALID_AMOUNT),
        ({"amount": -500}, ReferralsReasonCode.INVALID_AMOUNT),
        ({"frequency": "DAILY"}, ReferralsReasonCode.UNKNOWN_FREQUENCY),
        ({"frequency": "fortnightly"}, ReferralsReasonCode.UNKNOWN_FREQUENCY),
        ({"start": TODAY - timedelta(days=1)}, ReferralsReasonCode.START_DATE_IN_PAST),
    ],
)
def test_a_payment_arrangement_is_refused_for_each_invalid_field(
    fields: dict[str, Any], code: ReferralsReasonCode
) -> None:
    contact_id = uuid.uuid4()
    state, _ = run(known(), phone(contact_id))
    _, events = run(state, arrangement(contact_id, **fields))
    assert refusal(events) is code
    assert state.intake.contacts[str(contact_id)].mca.arrangements == []


def test_a_payment_arrangement_with_every_field_wrong_names_them_all() -> None:
    contact_id = uuid.uuid4()
    state, _ = run(known(), phone(contact_id))
    _, events = run(state, arrangement(contact_id, amount=0, frequency="DAILY", start=date(2020, 1, 1)))
    assert refusal(events) is ReferralsReasonCode.INVALID_AMOUNT
    reason = events[0].reason  # type: ignore[union-attr]
    assert "amount" in reason and "frequency" in reason and "start date" in reason


def test_a_payment_arrangement_may_start_today_on_the_agencys_calendar() -> None:
    contact_id = uuid.uuid4()
    state, _ = run(known(), phone(contact_id))
    _, events = run(state, arrangement(contact_id, start=TODAY))
    recorded = first(events, PaymentArrangementRecorded)
    assert (recorded.amount_cents, recorded.frequency.value, recorded.start_date) == (
        12_500,
        "FORTNIGHTLY",
        TODAY,
    )
    # At 10:00 in Sydney it is still the 1st in UTC; the 1st is nevertheless past for the agency.
    assert refusal(run(state, arrangement(contact_id, start=NOW.date()))[1]) is (
        ReferralsReasonCode.START_DATE_IN_PAST
    )


def test_mca_is_completed_only_once_income_and_payments_and_debts_were_checked() -> None:
    contact_id = uuid.uuid4()
    state, _ = run(known(), phone(contact_id), income(contact_id))
    _, events = run(state, outcome(contact_id))
    assert refusal(events) is ReferralsReasonCode.MCA_CHECKS_INCOMPLETE
    assert "payments and debts" in events[0].reason  # type: ignore[union-attr]
    _, events = run(state, payments(contact_id), outcome(contact_id))
    assert first(events, MinimumCollectionActivityOutcomeRecorded).status is MCAStatus.COMPLETED


def test_a_call_cannot_be_finalised_without_its_mca_outcome() -> None:
    contact_id = uuid.uuid4()
    state, _ = run(known(), phone(contact_id))
    _, events = run(state, FinaliseInteraction(actor=CSO, contact_id=contact_id))
    assert refusal(events) is ReferralsReasonCode.MCA_OUTCOME_REQUIRED
    state, events = run(
        state,
        outcome(contact_id, MCAStatus.NOT_REQUIRED),
        FinaliseInteraction(actor=CSO, contact_id=contact_id),
    )
    assert first(events, InteractionFinalised).mca_status is MCAStatus.NOT_REQUIRED
    assert state.intake.open_contacts() == []


def test_a_warm_transferred_call_still_needs_its_mca_outcome_from_the_receiving_area() -> None:
    contact_id = uuid.uuid4()
    transfer = WarmTransferContact(actor=CSO, contact_id=contact_id, to_area="NEW_CUSTOMERS", reason="New")
    state, _ = run(known(), phone(contact_id, misdirected=True), transfer)
    _, events = run(state, FinaliseInteraction(actor=RECEIVER, contact_id=contact_id))
    assert refusal(events) is ReferralsReasonCode.MCA_OUTCOME_REQUIRED


def test_correspondence_needs_an_mca_outcome_only_when_mca_activity_was_recorded() -> None:
    quiet, busy = uuid.uuid4(), uuid.uuid4()
    state, _ = run(known(), letter(quiet, uuid.uuid4()), letter(busy, uuid.uuid4()), income(busy))
    _, events = run(state, FinaliseInteraction(actor=CSO, contact_id=quiet))
    assert first(events, InteractionFinalised).mca_status is None
    _, events = run(state, FinaliseInteraction(actor=CSO, contact_id=busy))
    assert refusal(events) is ReferralsReasonCode.MCA_OUTCOME_REQUIRED


def test_the_mca_rule_by_channel_and_activity() -> None:
    def contact(channel: ContactChannel, activity: bool) -> Contact:
        state, _ = run(known(), phone(uuid.uuid4()))
        base = next(iter(state.intake.contacts.values())).model_copy(update={"channel": channel})
        promoted = (
            [Promotion(services=(DigitalService.MYGOV,), officer_id="CSO-1", at=NOW)] if activity else []
        )
        return base.model_copy(update={"mca": base.mca.model_copy(update={"promotions": promoted})})

    assert [mca_required(contact(ch, False)) for ch in ContactChannel] == [True, False, False, False]
    assert all(mca_required(contact(ch, True)) for ch in ContactChannel)


def test_a_finalised_interaction_takes_nothing_more() -> None:
    contact_id = uuid.uuid4()
    state, _ = run(
        known(),
        phone(contact_id),
        outcome(contact_id, MCAStatus.NOT_REQUIRED),
        FinaliseInteraction(actor=CSO, contact_id=contact_id),
    )
    for late in (
        issue(contact_id, "INCOME"),
        income(contact_id),
        arrangement(contact_id),
        FinaliseInteraction(actor=CSO, contact_id=contact_id),
    ):
        assert refusal(run(state, late)[1]) is ReferralsReasonCode.CONTACT_FINALISED


# --------------------------------------------------------------------------------------------
# Finalise issues and unlock (table 3)
# --------------------------------------------------------------------------------------------


def test_a_customer_who_disagrees_is_told_their_options_before_the_issue_is_finalised() -> None:
    contact_id, issue_id = uuid.uuid4(), uuid.uuid4()
    state, _ = run(known(), phone(contact_id), issue(contact_id, "INCOME", issue_id))
    assert refusal(run(state, finalise(issue_id, CSO, False))[1]) is ReferralsReasonCode.OPTIONS_NOT_EXPLAINED
    state, events = run(
        state, finalise(issue_id, CSO, False, DecisionOption.REVIEW, DecisionOption.OBJECTION)
    )
    finalised = first(events, IssueFinalised)
    assert (finalised.customer_agrees, finalised.options_explained) == (
        False,
        (DecisionOption.REVIEW, DecisionOption.OBJECTION),
    )
    recorded = state.intake.issues[str(issue_id)].finalisation
    assert recorded is not None and recorded.options_explained == (
        DecisionOption.REVIEW,
        DecisionOption.OBJECTION,
    )
    assert refusal(run(state, finalise(issue_id))[1]) is ReferralsReasonCode.ISSUE_ALREADY_FINALISED
    assert refusal(run(state, finalise(uuid.uuid4()))[1]) is ReferralsReasonCode.UNKNOWN_ISSUE


def test_the_customer_stays_locked_while_another_specialised_issue_is_outstanding() -> None:
    contact_id, coa, objection = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    state, _ = run(
        known(),
        phone(contact_id),
        issue(contact_id, "CHANGE_OF_ASSESSMENT", coa),
        issue(contact_id, "PART_6A_OBJECTION", objection),
    )
    state, events = run(state, finalise(objection, OBJECTIONS_OFFICER))
    assert first(events, IssueFinalised).specialised_issues_outstanding == 1
    assert first(events, CustomerOwnershipAssigned).owner_area == "COA"
    assert "CustomerUnlocked" not in kinds(events) and state.ownership.locked
    unlock = UnlockCustomer(actor=SPECIALIST, reason="Done")
    assert refusal(run(state, unlock)[1]) is ReferralsReasonCode.SPECIALISED_ISSUES_OUTSTANDING

    state, events = run(state, finalise(coa, SPECIALIST))
    assert first(events, IssueFinalised).specialised_issues_outstanding == 0
    unlocked = first(events, CustomerUnlocked)
    assert unlocked.actor == SPECIALIST and not state.ownership.locked
    assert state.ownership.owner_area is None


def test_an_issue_locked_outside_the_intake_is_finalised_too() -> None:
    issue_id = uuid.uuid4()
    lock = LockCustomer(
        actor=CSO,
        issue_id=issue_id,
        lock_to=LockTargetInput(kind=LockTargetKind.SPECIALIST_AREA, area="OBJECTIONS"),
        reason="Objection lodged",
    )
    state, events = run(known(), lock, finalise(issue_id, OBJECTIONS_OFFICER))
    assert kinds(events) == ["IssueFinalised", "CustomerUnlocked"]
    assert not state.ownership.locked
    assert refusal(run(state, finalise(issue_id))[1]) is ReferralsReasonCode.ISSUE_ALREADY_FINALISED


# --------------------------------------------------------------------------------------------
# Audit, document size, configuration
# --------------------------------------------------------------------------------------------


def test_intake_events_land_in_the_audit_history_with_their_contact_and_subject() -> None:
    contact_id, issue_id = uuid.uuid4(), uuid.uuid4()
    state, _ = run(
        known(), phone(contact_id), issue(contact_id, "INCOME", issue_id), income(contact_id, False)
    )
    assert [(h.event, h.officer_id, h.contact_id, h.subject_id, h.reason_code) for h in state.history] == [
        ("CustomerContactRecorded", "CSO-1", str(contact_id), None, None),
        ("PresentingIssueIdentified", "CSO-1", str(contact_id), str(issue_id), None),
        ("ReferralsCommandRejected", "CSO-1", None, None, "TAX_RETURN_COMMITMENT_REQUIRED"),
    ]


def test_only_the_oldest_finalised_contacts_beyond_the_cap_are_dropped_from_the_document() -> None:
    state, _ = run(known(), phone(uuid.uuid4()))
    template = next(iter(state.intake.contacts.values()))
    contacts = {}
    for n in range(domain_cma.KEEP_FINALISED_CONTACTS + 5):
        contact_id = uuid.uuid4()
        contacts[str(contact_id)] = template.model_copy(
            update={"contact_id": contact_id, "finalised_at": NOW + timedelta(minutes=n)}
        )
    open_id = uuid.uuid4()
    contacts[str(open_id)] = template.model_copy(update={"contact_id": open_id})
    kept = pruned(Intake(contacts=contacts)).contacts
    assert len(kept) == domain_cma.KEEP_FINALISED_CONTACTS + 1 and str(open_id) in kept
    oldest = min(c.finalised_at for c in kept.values() if c.finalised_at is not None)
    assert oldest == NOW + timedelta(minutes=5)


def test_every_intake_command_is_handled() -> None:
    intake_commands = {
        RecordCustomerContact, WarmTransferContact, IdentifyPresentingIssue, RecordExternalReferral,
        RecategoriseIntrayItem, CloseIntrayItem, RecordIdentifiedError, RecordIncomeCheck,
        RecordPaymentsAndDebtsCheck, RecordPaymentArrangement, RecordSelfServicePromotion,
        RecordMinimumCollectionActivityOutcome, FinaliseInteraction, FinaliseIssue,
    }  # fmt: skip
    assert intake_commands <= SPEC.handled


def test_the_catalogue_setting_needs_an_area_for_every_specialised_issue_and_none_for_common_ones() -> None:
    with pytest.raises(ValidationError):
        IssueKind(issue_class=IssueClass.SPECIALISED)
    with pytest.raises(ValidationError):
        IssueKind(issue_class=IssueClass.COMMON, specialist_area="COA")
    kinds_by_code = {code: kind.issue_class for code, kind in DEFAULT_PRESENTING_ISSUES.items()}
    assert kinds_by_code["CHANGE_OF_ASSESSMENT"] is IssueClass.SPECIALISED
    assert kinds_by_code["INCOME"] is IssueClass.COMMON


def test_the_intake_is_configured_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CASEMESH_REFERRALS_PRESENTING_ISSUES",
        '{"DEBT": {"issue_class": "SPECIALISED", "specialist_area": "DEBT_RECOVERY"}}',
    )
    monkeypatch.setenv("CASEMESH_REFERRALS_EXTERNAL_REFERRAL_TYPES", '["LEGAL_ASSISTANCE"]')
    monkeypatch.setenv("CASEMESH_REFERRALS_AGENCY_TIMEZONE", "Australia/Perth")
    config = context_of(ReferralsSettings()).cma
    assert dict(config.catalogue) == {
        "DEBT": IssueKind(issue_class=IssueClass.SPECIALISED, specialist_area="DEBT_RECOVERY")
    }
    assert config.external_referral_types == frozenset({"LEGAL_ASSISTANCE"})
    assert config.timezone == ZoneInfo("Australia/Perth")
    monkeypatch.setenv("CASEMESH_REFERRALS_AGENCY_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValidationError):
        ReferralsSettings()
