"""The Customer Management Approach intake (seed 001 tables 1-3, issue 9), pure.

Vocabulary:

* A **contact** (an interaction) arrives by phone or as correspondence (fax, email, post), from
  the customer or an authorised representative. Correspondence opens an **intray item**.
* A **presenting issue** is one reason for the contact, classified by the configurable catalogue
  as *common* (managed at the point of entry) or *specialised* (referred to its specialist area,
  which locks the customer to that area — :mod:`services.referrals.domain_ownership`).
* **Minimum Collection Activity** (MCA) is recorded per contact: income, payments and debts,
  payment arrangements, self-service promotion, and the outcome.

Rules:

* Seed 001 table 1 step 1: an intray item is closed only when every issue it raised is
  addressed (finalised), and only once at least one issue was identified from it; re-categorising
  it needs a reason and is kept in the item's audit trail.
* Seed 001 table 2 steps 1 and 6 — when an interaction needs an MCA outcome (:func:`mca_required`):
  every phone interaction, and any interaction in which MCA activity was recorded. COMPLETED needs
  the income and the payments and debts checked in that interaction; NOT_REQUIRED says why.
* Seed 001 table 3 steps 1-4: an issue is finalised with the options explained to a customer who
  disagrees; its lock goes, ownership is determined again, and the customer is unlocked when
  no lock remains — while other specialised issues are outstanding the customer stays locked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.base import Actor, Code, Message
from contracts.catalogue.referrals import (
    CloseIntrayItem,
    ContactChannel,
    ContactParty,
    ContactWarmTransferred,
    CustomerContactRecorded,
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
    PaymentArrangementRecorded,
    PaymentFrequency,
    PaymentsAndDebtsCheckRecorded,
    PaymentsPosition,
    PresentingIssueIdentified,
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
    WarmTransferContact,
)
from services.referrals import domain_ownership as ownership
from services.referrals.domain_ownership import Ownership, refuse

#: Finalised contacts, finalised issues and closed intray items kept in the customer's document;
#: older ones are dropped (their events remain), so the single-writer document stays small.
KEEP_FINALISED_CONTACTS = 100
KEEP_FINALISED_ISSUES = 200
KEEP_CLOSED_INTRAY_ITEMS = 100

CORRESPONDENCE = frozenset({ContactChannel.FAX, ContactChannel.EMAIL, ContactChannel.POST})


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


class IssueKind(BaseModel):
    """One entry of the presenting-issue catalogue (seed 001 table 1 step 2)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issue_class: IssueClass
    specialist_area: Code | None = None

    @model_validator(mode="after")
    def _specialised_names_its_area(self) -> IssueKind:
        if (self.issue_class is IssueClass.SPECIALISED) != (self.specialist_area is not None):
            raise ValueError("a SPECIALISED issue names its specialist_area, a COMMON one none")
        return self


@dataclass(frozen=True)
class CMAConfig:
    """The configurable parts: the issue catalogue, the external referral types, the agency's zone."""

    catalogue: Mapping[str, IssueKind] = field(default_factory=dict)
    external_referral_types: frozenset[str] = frozenset()
    #: Seed 001 table 2 step 6: "a start date not in the past" is judged by the agency's calendar.
    timezone: tzinfo = UTC


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


class Recorded(BaseModel):
    """Who recorded something, and when."""

    officer_id: str
    at: datetime


class WarmTransfer(Recorded):
    from_area: str
    to_area: str
    reason: str


class ExternalReferral(Recorded):
    referral_type: str
    note: str | None = None


class IdentifiedError(Recorded):
    error_id: UUID
    description: str
    made_by_officer_id: str | None = None
    feedback_sent: bool = False


class IncomeCheck(Recorded):
    income_reliable: bool
    tax_return_commitment: bool | None = None
    income_updated: bool = False


class PaymentsCheck(Recorded):
    position: PaymentsPosition
    outcome: str


class Arrangement(Recorded):
    arrangement_id: UUID
    amount_cents: int
    frequency: PaymentFrequency
    start_date: dt.date


class Promotion(Recorded):
    services: tuple[DigitalService, ...]


class MCAOutcome(Recorded):
    status: MCAStatus
    summary: str


class MinimumCollectionActivity(BaseModel):
    """Seed 001 table 2: what was done in one interaction."""

    income_checks: list[IncomeCheck] = Field(default_factory=list)
    payments_checks: list[PaymentsCheck] = Field(default_factory=list)
    arrangements: list[Arrangement] = Field(default_factory=list)
    promotions: list[Promotion] = Field(default_factory=list)
    outcome: MCAOutcome | None = None

    @property
    def activity_recorded(self) -> bool:
        return bool(self.income_checks or self.payments_checks or self.arrangements or self.promotions)


class Contact(BaseModel):
    """Seed 001 table 1 step 1: one interaction."""

    contact_id: UUID
    channel: ContactChannel
    party: ContactParty
    received_in_area: str
    current_area: str
    misdirected: bool
    intray_item_id: UUID | None = None
    summary: str | None = None
    opened_by: str
    opened_at: datetime
    transfers: list[WarmTransfer] = Field(default_factory=list)
    issue_ids: list[UUID] = Field(default_factory=list)
    external_referrals: list[ExternalReferral] = Field(default_factory=list)
    errors: list[IdentifiedError] = Field(default_factory=list)
    mca: MinimumCollectionActivity = Field(default_factory=MinimumCollectionActivity)
    finalised_at: datetime | None = None
    finalised_by: str | None = None


class Recategorisation(Recorded):
    from_category: str | None = None
    to_category: str
    reason: str


class IntrayItem(BaseModel):
    """Seed 001 table 1 step 1: the intray item a piece of correspondence opened."""

    intray_item_id: UUID
    contact_id: UUID
    channel: ContactChannel
    category: str | None = None
    opened_at: datetime
    issue_ids: list[UUID] = Field(default_factory=list)
    recategorisations: list[Recategorisation] = Field(default_factory=list)
    closed_at: datetime | None = None
    closed_by: str | None = None


class IssueFinalisation(Recorded):
    customer_agrees: bool
    options_explained: tuple[DecisionOption, ...] = ()
    note: str | None = None


class Issue(BaseModel):
    """A presenting issue (seed 001 table 1 step 2), or an issue known only by its lock
    (a ``LockCustomer`` sent outside the intake: no contact, no code)."""

    issue_id: UUID
    contact_id: UUID | None = None
    intray_item_id: UUID | None = None
    issue_code: str | None = None
    issue_class: IssueClass | None = None
    specialist_area: str | None = None
    note: str | None = None
    identified_at: datetime
    finalisation: IssueFinalisation | None = None

    @property
    def finalised(self) -> bool:
        return self.finalisation is not None


class Intake(BaseModel):
    """The customer's contacts, intray items and issues (keys are the ids as strings)."""

    contacts: dict[str, Contact] = Field(default_factory=dict)
    intray_items: dict[str, IntrayItem] = Field(default_factory=dict)
    issues: dict[str, Issue] = Field(default_factory=dict)

    def open_contacts(self) -> list[Contact]:
        return [c for c in self.contacts.values() if c.finalised_at is None]

    def open_intray_items(self) -> list[IntrayItem]:
        return [i for i in self.intray_items.values() if i.closed_at is None]

    def outstanding_issues(self) -> list[Issue]:
        return [i for i in self.issues.values() if not i.finalised]


def mca_required(contact: Contact) -> bool:
    """Issue 9's rule: when an interaction cannot be finalised without an MCA outcome.

    Seed 001 table 2 step 1: "During every interaction, check income, payments, and any debts",
    completed "in real time or by simple follow-up action" — every phone interaction (customer or
    authorised representative, handled where it landed or warm-transferred) needs an outcome.
    Step 6: "Document the outcome of Minimum Collection" — so does any interaction, correspondence
    included, in which MCA activity was recorded. Correspondence with no MCA activity needs none:
    its MCA is done in the follow-up call, an interaction of its own.
    """
    return contact.channel is ContactChannel.PHONE or contact.mca.activity_recorded


# --------------------------------------------------------------------------------------------
# The decider
# --------------------------------------------------------------------------------------------

Decided = tuple[Intake, Ownership, list[Message]]
Rejected = ReferralsCommandRejected


@dataclass(frozen=True)
class Situation:
    """What one decision starts from: the customer's intake and locks, the time, the configuration."""

    intake: Intake
    own: Ownership
    now: datetime
    config: CMAConfig
    priority: tuple[str, ...]
    customer_known: bool

    def refused(self, code: ReferralsReasonCode, reason: str, cmd: Any) -> Decided:
        return self.intake, self.own, [refuse(code, reason, cmd)]

    def by(self, actor: Actor) -> dict[str, Any]:
        return {"officer_id": actor.officer_id, "at": self.now}

    def open_contact(self, contact_id: UUID, cmd: Any) -> Contact | Rejected:
        contact = self.intake.contacts.get(str(contact_id))
        if contact is None:
            return refuse(ReferralsReasonCode.UNKNOWN_CONTACT, "No such contact for this customer.", cmd)
        if contact.finalised_at is not None:
            return refuse(ReferralsReasonCode.CONTACT_FINALISED, "The interaction is already finalised.", cmd)
        return contact

    def open_intray_item(self, intray_item_id: UUID, cmd: Any) -> IntrayItem | Rejected:
        item = self.intake.intray_items.get(str(intray_item_id))
        if item is None:
            return refuse(
                ReferralsReasonCode.UNKNOWN_INTRAY_ITEM, "No such intray item for this customer.", cmd
            )
        if item.closed_at is not None:
            return refuse(ReferralsReasonCode.INTRAY_ITEM_CLOSED, "The intray item is already closed.", cmd)
        return item


def with_contact(intake: Intake, contact: Contact) -> Intake:
    return intake.model_copy(update={"contacts": {**intake.contacts, str(contact.contact_id): contact}})


def with_intray_item(intake: Intake, item: IntrayItem) -> Intake:
    items = {**intake.intray_items, str(item.intray_item_id): item}
    return intake.model_copy(update={"intray_items": items})


def with_issue(intake: Intake, issue: Issue) -> Intake:
    return intake.model_copy(update={"issues": {**intake.issues, str(issue.issue_id): issue}})


def with_mca(intake: Intake, contact: Contact, **update: Any) -> Intake:
    return with_contact(intake, contact.model_copy(update={"mca": contact.mca.model_copy(update=update)}))


def decide(
    intake: Intake,
    own: Ownership,
    message: Any,
    now: datetime,
    config: CMAConfig,
    priority: tuple[str, ...],
    customer_known: bool,
) -> Decided | None:
    """The intake's decision on ``message``, or None when it is not an intake command."""
    decider = DECIDERS.get(type(message))
    if decider is None:
        return None
    return decider(Situation(intake, own, now, config, priority, customer_known), message)


# --------------------------------------------------------------------------------------------
# Seed 001 table 1 step 1: intake
# --------------------------------------------------------------------------------------------


def _record_contact(s: Situation, cmd: RecordCustomerContact) -> Decided:
    # A contact concerns a customer the customer system told us about (as a lock does).
    if not s.customer_known:
        return s.refused(ReferralsReasonCode.UNKNOWN_CUSTOMER, "The customer is not known.", cmd)
    if str(cmd.contact_id) in s.intake.contacts:
        return s.refused(ReferralsReasonCode.INVALID_STATE, "The contact id was used before.", cmd)
    if cmd.intray_item_id is not None and str(cmd.intray_item_id) in s.intake.intray_items:
        return s.refused(ReferralsReasonCode.INVALID_STATE, "The intray item id was used before.", cmd)
    contact = Contact(
        contact_id=cmd.contact_id,
        channel=cmd.channel,
        party=cmd.party,
        received_in_area=cmd.received_in_area,
        current_area=cmd.received_in_area,
        misdirected=cmd.misdirected,
        intray_item_id=cmd.intray_item_id,
        summary=cmd.summary,
        opened_by=cmd.actor.officer_id,
        opened_at=s.now,
    )
    intake = with_contact(s.intake, contact)
    events: list[Message] = [
        CustomerContactRecorded(
            contact_id=cmd.contact_id,
            actor=cmd.actor,
            channel=cmd.channel,
            party=cmd.party,
            received_in_area=cmd.received_in_area,
            misdirected=cmd.misdirected,
            summary=cmd.summary,
        )
    ]
    if cmd.intray_item_id is not None:
        # "When a customer or representative sends written correspondence via fax, email or post":
        # it is worked from an intray item.
        item = IntrayItem(
            intray_item_id=cmd.intray_item_id,
            contact_id=cmd.contact_id,
            channel=cmd.channel,
            category=cmd.intray_category,
            opened_at=s.now,
        )
        intake = with_intray_item(intake, item)
        events.append(
            IntrayItemOpened(
                contact_id=cmd.contact_id,
                actor=cmd.actor,
                intray_item_id=cmd.intray_item_id,
                channel=cmd.channel,
                category=cmd.intray_category,
            )
        )
    return intake, s.own, events


def _warm_transfer(s: Situation, cmd: WarmTransferContact) -> Decided:
    contact = s.open_contact(cmd.contact_id, cmd)
    if isinstance(contact, Rejected):
        return s.intake, s.own, [contact]
    # A warm transfer hands a caller over in person; correspondence is re-categorised instead.
    if contact.channel is not ContactChannel.PHONE:
        return s.refused(ReferralsReasonCode.INVALID_STATE, "Only a phone contact is warm-transferred.", cmd)
    if cmd.to_area == contact.current_area:
        return s.refused(ReferralsReasonCode.INVALID_STATE, "The contact is already in that area.", cmd)
    # The interaction continues in the receiving area, which completes it (its MCA included).
    transfer = WarmTransfer(
        from_area=contact.current_area, to_area=cmd.to_area, reason=cmd.reason, **s.by(cmd.actor)
    )
    moved = contact.model_copy(
        update={"current_area": cmd.to_area, "transfers": [*contact.transfers, transfer]}
    )
    transferred = ContactWarmTransferred(
        contact_id=cmd.contact_id,
        actor=cmd.actor,
        from_area=contact.current_area,
        to_area=cmd.to_area,
        reason=cmd.reason,
    )
    return with_contact(s.intake, moved), s.own, [transferred]


def _recategorise(s: Situation, cmd: RecategoriseIntrayItem) -> Decided:
    # "Do not re categorise … correspondence received intrays inappropriately": a reason is
    # required (by the command) and every change stays on the item's audit trail.
    item = s.open_intray_item(cmd.intray_item_id, cmd)
    if isinstance(item, Rejected):
        return s.intake, s.own, [item]
    if cmd.category == item.category:
        return s.refused(ReferralsReasonCode.INVALID_STATE, "The intray item already has that category.", cmd)
    change = Recategorisation(
        from_category=item.category, to_category=cmd.category, reason=cmd.reason, **s.by(cmd.actor)
    )
    changed = item.model_copy(
        update={"category": cmd.category, "recategorisations": [*item.recategorisations, change]}
    )
    recategorised = IntrayItemRecategorised(
        intray_item_id=cmd.intray_item_id,
        from_category=item.category,
        to_category=cmd.category,
        reason=cmd.reason,
        actor=cmd.actor,
    )
    return with_intray_item(s.intake, changed), s.own, [recategorised]


def _close_intray_item(s: Situation, cmd: CloseIntrayItem) -> Decided:
    item = s.open_intray_item(cmd.intray_item_id, cmd)
    if isinstance(item, Rejected):
        return s.intake, s.own, [item]
    # "Delete intray after all issues raised have been addressed": closing correspondence no
    # issue was identified from would be an inappropriate deletion.
    if not item.issue_ids:
        return s.refused(
            ReferralsReasonCode.NO_ISSUES_IDENTIFIED,
            "No issue has been identified from this correspondence.",
            cmd,
        )
    # An issue no longer in the document was finalised long ago (only finalised ones are dropped).
    outstanding = [
        issue_id
        for issue_id in item.issue_ids
        if (issue := s.intake.issues.get(str(issue_id))) is not None and not issue.finalised
    ]
    if outstanding:
        return s.refused(
            ReferralsReasonCode.INTRAY_ISSUES_OUTSTANDING,
            f"{len(outstanding)} issue(s) raised by this correspondence are not finalised yet.",
            cmd,
        )
    closed = item.model_copy(update={"closed_at": s.now, "closed_by": cmd.actor.officer_id})
    intake = pruned(with_intray_item(s.intake, closed))
    return intake, s.own, [IntrayItemClosed(intray_item_id=cmd.intray_item_id, actor=cmd.actor)]


# --------------------------------------------------------------------------------------------
# Seed 001 table 1 step 2: presenting issues
# --------------------------------------------------------------------------------------------


def _identify_issue(s: Situation, cmd: IdentifyPresentingIssue) -> Decided:
    contact = s.open_contact(cmd.contact_id, cmd)
    if isinstance(contact, Rejected):
        return s.intake, s.own, [contact]
    item: IntrayItem | None = None
    if contact.intray_item_id is not None:
        found = s.open_intray_item(contact.intray_item_id, cmd)
        if isinstance(found, Rejected):
            return s.intake, s.own, [found]
        item = found
    if str(cmd.issue_id) in s.intake.issues or s.own.lock_for(cmd.issue_id) is not None:
        return s.refused(ReferralsReasonCode.INVALID_STATE, "The issue id was used before.", cmd)
    kind = s.config.catalogue.get(cmd.issue_code)
    if kind is None:
        return s.refused(
            ReferralsReasonCode.UNKNOWN_ISSUE_CODE, "The issue code is not in the catalogue.", cmd
        )
    issue = Issue(
        issue_id=cmd.issue_id,
        contact_id=cmd.contact_id,
        intray_item_id=contact.intray_item_id,
        issue_code=cmd.issue_code,
        issue_class=kind.issue_class,
        specialist_area=kind.specialist_area,
        note=cmd.note,
        identified_at=s.now,
    )
    intake = with_issue(s.intake, issue)
    intake = with_contact(
        intake, contact.model_copy(update={"issue_ids": [*contact.issue_ids, cmd.issue_id]})
    )
    if item is not None:
        intake = with_intray_item(
            intake, item.model_copy(update={"issue_ids": [*item.issue_ids, cmd.issue_id]})
        )
    events: list[Message] = [
        PresentingIssueIdentified(
            contact_id=cmd.contact_id,
            actor=cmd.actor,
            issue_id=cmd.issue_id,
            issue_code=cmd.issue_code,
            issue_class=kind.issue_class,
            specialist_area=kind.specialist_area,
            intray_item_id=contact.intray_item_id,
        )
    ]
    if kind.specialist_area is None:
        # "Issues must be managed at the point of entry wherever possible": a common issue stays
        # with the officer; one that can't be resolved in real time is locked (table 2 step 8).
        return intake, s.own, events
    # A specialised issue is referred to its specialist area: the customer is locked to that area
    # for the issue, which feeds the ownership rule (table 1 step 5).
    area = kind.specialist_area
    events.append(
        SpecialisedIssueReferred(
            contact_id=cmd.contact_id,
            actor=cmd.actor,
            issue_id=cmd.issue_id,
            issue_code=cmd.issue_code,
            specialist_area=area,
        )
    )
    lock = LockCustomer(
        actor=cmd.actor,
        issue_id=cmd.issue_id,
        lock_to=LockTargetInput(kind=LockTargetKind.SPECIALIST_AREA, area=area),
        reason=f"Specialised issue {cmd.issue_code} referred to {area}",
    )
    own, locked = ownership.lock(s.own, lock, s.now, s.priority)
    return intake, own, [*events, *locked]


def _external_referral(s: Situation, cmd: RecordExternalReferral) -> Decided:
    # "If a customer presents a non-child support related issue, consider if an external referral
    # is appropriate" — an option of the Customer Support/Referral Guide (configurable).
    contact = s.open_contact(cmd.contact_id, cmd)
    if isinstance(contact, Rejected):
        return s.intake, s.own, [contact]
    if cmd.referral_type not in s.config.external_referral_types:
        return s.refused(
            ReferralsReasonCode.UNKNOWN_REFERRAL_TYPE, "Not an option of the referral guide.", cmd
        )
    referral = ExternalReferral(referral_type=cmd.referral_type, note=cmd.note, **s.by(cmd.actor))
    referred = contact.model_copy(update={"external_referrals": [*contact.external_referrals, referral]})
    recorded = ExternalReferralRecorded(
        contact_id=cmd.contact_id, actor=cmd.actor, referral_type=cmd.referral_type, note=cmd.note
    )
    return with_contact(s.intake, referred), s.own, [recorded]


# --------------------------------------------------------------------------------------------
# Seed 001 table 1 step 3: error identified
# --------------------------------------------------------------------------------------------


def _identified_error(s: Situation, cmd: RecordIdentifiedError) -> Decided:
    contact = s.open_contact(cmd.contact_id, cmd)
    if isinstance(contact, Rejected):
        return s.intake, s.own, [contact]
    if any(e.error_id == cmd.error_id for c in s.intake.contacts.values() for e in c.errors):
        return s.refused(ReferralsReasonCode.INVALID_STATE, "The error id was used before.", cmd)
    # "Internal Feedback": feedback goes to the previous Service Officer, so they must be named.
    if cmd.feedback is not None and cmd.made_by_officer_id is None:
        return s.refused(
            ReferralsReasonCode.FEEDBACK_NEEDS_OFFICER, "Name the officer the feedback is for.", cmd
        )
    error = IdentifiedError(
        error_id=cmd.error_id,
        description=cmd.description,
        made_by_officer_id=cmd.made_by_officer_id,
        feedback_sent=cmd.feedback is not None,
        **s.by(cmd.actor),
    )
    noted = contact.model_copy(update={"errors": [*contact.errors, error]})
    events: list[Message] = [
        IdentifiedErrorRecorded(
            contact_id=cmd.contact_id,
            actor=cmd.actor,
            error_id=cmd.error_id,
            description=cmd.description,
            made_by_officer_id=cmd.made_by_officer_id,
        )
    ]
    if cmd.feedback is not None and cmd.made_by_officer_id is not None:
        events.append(
            OfficerFeedbackSent(
                error_id=cmd.error_id,
                to_officer_id=cmd.made_by_officer_id,
                feedback=cmd.feedback,
                actor=cmd.actor,
            )
        )
    return with_contact(s.intake, noted), s.own, events


# --------------------------------------------------------------------------------------------
# Seed 001 table 2: Minimum Collection Activity
# --------------------------------------------------------------------------------------------


def _income_check(s: Situation, cmd: RecordIncomeCheck) -> Decided:
    contact = s.open_contact(cmd.contact_id, cmd)
    if isinstance(contact, Rejected):
        return s.intake, s.own, [contact]
    # Step 2: "A reliable income is defined as any ATO issued income … If the income is not
    # reliable … Gain a commitment from the customer to lodge their tax return" — the answer is
    # recorded, whichever it is.
    if not cmd.income_reliable and cmd.tax_return_commitment is None:
        return s.refused(
            ReferralsReasonCode.TAX_RETURN_COMMITMENT_REQUIRED,
            "The income is not ATO-issued: record whether the customer committed to lodge a tax return.",
            cmd,
        )
    check = IncomeCheck(
        income_reliable=cmd.income_reliable,
        tax_return_commitment=cmd.tax_return_commitment,
        income_updated=cmd.income_updated,
        **s.by(cmd.actor),
    )
    recorded = IncomeCheckRecorded(
        contact_id=cmd.contact_id,
        actor=cmd.actor,
        income_reliable=cmd.income_reliable,
        tax_return_commitment=cmd.tax_return_commitment,
        income_updated=cmd.income_updated,
    )
    return with_mca(s.intake, contact, income_checks=[*contact.mca.income_checks, check]), s.own, [recorded]


def _payments_check(s: Situation, cmd: RecordPaymentsAndDebtsCheck) -> Decided:
    # Step 3: a payer with a debt or an overpayment, a payee who is owed — checked, outcome recorded.
    contact = s.open_contact(cmd.contact_id, cmd)
    if isinstance(contact, Rejected):
        return s.intake, s.own, [contact]
    check = PaymentsCheck(position=cmd.position, outcome=cmd.outcome, **s.by(cmd.actor))
    recorded = PaymentsAndDebtsCheckRecorded(
        contact_id=cmd.contact_id, actor=cmd.actor, position=cmd.position, outcome=cmd.outcome
    )
    return (
        with_mca(s.intake, contact, payments_checks=[*contact.mca.payments_checks, check]),
        s.own,
        [recorded],
    )


def arrangement_problems(
    cmd: RecordPaymentArrangement, today: dt.date
) -> list[tuple[ReferralsReasonCode, str]]:
    """Issue 9: a positive amount, a known frequency, a start date not in the past."""
    problems: list[tuple[ReferralsReasonCode, str]] = []
    if cmd.amount_cents <= 0:
        problems.append((ReferralsReasonCode.INVALID_AMOUNT, "the amount must be positive"))
    if cmd.frequency not in FREQUENCIES:
        problems.append(
            (ReferralsReasonCode.UNKNOWN_FREQUENCY, f"the frequency must be one of {', '.join(FREQUENCIES)}")
        )
    if cmd.start_date < today:
        problems.append(
            (ReferralsReasonCode.START_DATE_IN_PAST, f"the start date is before today ({today.isoformat()})")
        )
    return problems


FREQUENCIES = tuple(f.value for f in PaymentFrequency)


def _payment_arrangement(s: Situation, cmd: RecordPaymentArrangement) -> Decided:
    contact = s.open_contact(cmd.contact_id, cmd)
    if isinstance(contact, Rejected):
        return s.intake, s.own, [contact]
    used = (a.arrangement_id for c in s.intake.contacts.values() for a in c.mca.arrangements)
    if cmd.arrangement_id in set(used):
        return s.refused(ReferralsReasonCode.INVALID_STATE, "The arrangement id was used before.", cmd)
    # Step 6: "If a payment arrangement is negotiated, record" amount, frequency and start date.
    # "Today" is the agency's calendar day. Every wrong field is named; the code is the first's.
    problems = arrangement_problems(cmd, s.now.astimezone(s.config.timezone).date())
    if problems:
        reason = "Payment arrangement refused: " + "; ".join(text for _, text in problems) + "."
        return s.refused(problems[0][0], reason, cmd)
    frequency = PaymentFrequency(cmd.frequency)
    arrangement = Arrangement(
        arrangement_id=cmd.arrangement_id,
        amount_cents=cmd.amount_cents,
        frequency=frequency,
        start_date=cmd.start_date,
        **s.by(cmd.actor),
    )
    recorded = PaymentArrangementRecorded(
        contact_id=cmd.contact_id,
        actor=cmd.actor,
        arrangement_id=cmd.arrangement_id,
        amount_cents=cmd.amount_cents,
        frequency=frequency,
        start_date=cmd.start_date,
    )
    return (
        with_mca(s.intake, contact, arrangements=[*contact.mca.arrangements, arrangement]),
        s.own,
        [recorded],
    )


def _self_service(s: Situation, cmd: RecordSelfServicePromotion) -> Decided:
    # Step 1: "Promote digital self service through MyGov, CS Online, Child Support Express Plus
    # app and Infoserv services where applicable."
    contact = s.open_contact(cmd.contact_id, cmd)
    if isinstance(contact, Rejected):
        return s.intake, s.own, [contact]
    services = tuple(dict.fromkeys(cmd.services))
    promotion = Promotion(services=services, **s.by(cmd.actor))
    recorded = SelfServicePromotionRecorded(contact_id=cmd.contact_id, actor=cmd.actor, services=services)
    return with_mca(s.intake, contact, promotions=[*contact.mca.promotions, promotion]), s.own, [recorded]


def _mca_outcome(s: Situation, cmd: RecordMinimumCollectionActivityOutcome) -> Decided:
    contact = s.open_contact(cmd.contact_id, cmd)
    if isinstance(contact, Rejected):
        return s.intake, s.own, [contact]
    # Step 1: "check income, payments, and any debts" — the minimum for COMPLETED; NOT_REQUIRED
    # carries its reason in the summary. A later outcome for the same interaction replaces it.
    mca = contact.mca
    missing = [
        name
        for name, done in (("income", mca.income_checks), ("payments and debts", mca.payments_checks))
        if not done
    ]
    if cmd.status is MCAStatus.COMPLETED and missing:
        return s.refused(
            ReferralsReasonCode.MCA_CHECKS_INCOMPLETE,
            f"Minimum Collection Activity is not complete: check {' and '.join(missing)} first.",
            cmd,
        )
    outcome = MCAOutcome(status=cmd.status, summary=cmd.summary, **s.by(cmd.actor))
    recorded = MinimumCollectionActivityOutcomeRecorded(
        contact_id=cmd.contact_id, actor=cmd.actor, status=cmd.status, summary=cmd.summary
    )
    return with_mca(s.intake, contact, outcome=outcome), s.own, [recorded]


def _finalise_interaction(s: Situation, cmd: FinaliseInteraction) -> Decided:
    contact = s.open_contact(cmd.contact_id, cmd)
    if isinstance(contact, Rejected):
        return s.intake, s.own, [contact]
    # Issue 9's rule (mca_required), documented in docs/services/referrals.md.
    outcome = contact.mca.outcome
    if outcome is None and mca_required(contact):
        return s.refused(
            ReferralsReasonCode.MCA_OUTCOME_REQUIRED,
            "Record the Minimum Collection Activity outcome (COMPLETED, or NOT_REQUIRED and why) first.",
            cmd,
        )
    finalised = contact.model_copy(update={"finalised_at": s.now, "finalised_by": cmd.actor.officer_id})
    done = InteractionFinalised(
        contact_id=cmd.contact_id, actor=cmd.actor, mca_status=outcome.status if outcome else None
    )
    return pruned(with_contact(s.intake, finalised)), s.own, [done]


# --------------------------------------------------------------------------------------------
# Seed 001 table 3: finalise issues and unlock
# --------------------------------------------------------------------------------------------


def _finalise_issue(s: Situation, cmd: FinaliseIssue) -> Decided:
    issue = s.intake.issues.get(str(cmd.issue_id))
    lock = s.own.lock_for(cmd.issue_id)
    if issue is not None and issue.finalised:
        return s.refused(ReferralsReasonCode.ISSUE_ALREADY_FINALISED, "The issue is already finalised.", cmd)
    if issue is None and lock is None:
        return s.refused(
            ReferralsReasonCode.UNKNOWN_ISSUE, "No such outstanding issue for this customer.", cmd
        )
    # Step 1: "If a customer does not agree with the decision, discuss appropriate options
    # relevant to the decision" (review, objection) — at least one is recorded.
    if not cmd.customer_agrees and not cmd.options_explained:
        return s.refused(
            ReferralsReasonCode.OPTIONS_NOT_EXPLAINED,
            "The customer disagrees: record the options explained (review, objection).",
            cmd,
        )
    options = tuple(dict.fromkeys(cmd.options_explained))
    finalisation = IssueFinalisation(
        customer_agrees=cmd.customer_agrees, options_explained=options, note=cmd.note, **s.by(cmd.actor)
    )
    if issue is None:
        # An issue locked by a LockCustomer sent outside the intake is finalised here too.
        assert lock is not None
        issue = Issue(issue_id=cmd.issue_id, identified_at=lock.locked_at)
    intake = pruned(with_issue(s.intake, issue.model_copy(update={"finalisation": finalisation})))
    # Steps 2-3: the issue's lock goes and ownership is determined again among the areas left;
    # step 4: with no lock left the customer is unlocked, else other issues keep them locked.
    own, owned = ownership.finalise_issue(s.own, cmd.issue_id, s.priority)
    events: list[Message] = [
        IssueFinalised(
            issue_id=cmd.issue_id,
            customer_agrees=cmd.customer_agrees,
            options_explained=options,
            note=cmd.note,
            specialised_issues_outstanding=len(own.specialised_outstanding()),
            actor=cmd.actor,
        ),
        *owned,
    ]
    if s.own.locked and not own.locked:
        events.append(CustomerUnlocked(reason="All issues finalised", actor=cmd.actor))
    return intake, own, events


DECIDERS: dict[type, Callable[[Situation, Any], Decided]] = {
    RecordCustomerContact: _record_contact,
    WarmTransferContact: _warm_transfer,
    IdentifyPresentingIssue: _identify_issue,
    RecordExternalReferral: _external_referral,
    RecategoriseIntrayItem: _recategorise,
    CloseIntrayItem: _close_intray_item,
    RecordIdentifiedError: _identified_error,
    RecordIncomeCheck: _income_check,
    RecordPaymentsAndDebtsCheck: _payments_check,
    RecordPaymentArrangement: _payment_arrangement,
    RecordSelfServicePromotion: _self_service,
    RecordMinimumCollectionActivityOutcome: _mca_outcome,
    FinaliseInteraction: _finalise_interaction,
    FinaliseIssue: _finalise_issue,
}
#: The intake's commands (the handler decides these; everything else here is ignored).
COMMANDS: tuple[type, ...] = tuple(DECIDERS)


# --------------------------------------------------------------------------------------------
# Keeping the document small
# --------------------------------------------------------------------------------------------


def pruned(intake: Intake) -> Intake:
    """Drops the oldest finalised contacts, finalised issues and closed intray items beyond the caps.

    Open contacts and intray items and outstanding issues are never dropped; the events remain.
    """
    contacts = _keep(intake.contacts, lambda c: c.finalised_at, KEEP_FINALISED_CONTACTS)
    items = _keep(intake.intray_items, lambda i: i.closed_at, KEEP_CLOSED_INTRAY_ITEMS)
    issues = _keep(
        intake.issues, lambda i: i.finalisation.at if i.finalisation else None, KEEP_FINALISED_ISSUES
    )
    return intake.model_copy(update={"contacts": contacts, "intray_items": items, "issues": issues})


T = TypeVar("T")


def _keep(entries: Mapping[str, T], done_at: Callable[[T], datetime | None], cap: int) -> dict[str, T]:
    done = sorted((at, key) for key, entry in entries.items() if (at := done_at(entry)) is not None)
    dropped = {key for _, key in done[: max(len(done) - cap, 0)]}
    return {key: entry for key, entry in entries.items() if key not in dropped}
