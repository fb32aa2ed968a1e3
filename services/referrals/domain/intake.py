"""The Customer Management Approach intake (seed 001 tables 1-3, issue 9): its state, pure.

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

The rules are in :mod:`.intray` (contacts and intray items), :mod:`.issues` (presenting issues,
external referrals, errors), :mod:`.mca` (Minimum Collection Activity) and :mod:`.finalising`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.base import Actor, Code
from contracts.catalogue.referrals import (
    ContactChannel,
    ContactParty,
    DecisionOption,
    DigitalService,
    IssueClass,
    MCAStatus,
    PaymentFrequency,
    PaymentsPosition,
    ReferralsReasonCode,
)
from kit.spec import Refused
from services.referrals.domain.base import Frozen

#: Finalised contacts, finalised issues and closed intray items kept in the customer's document;
#: older ones are dropped (their events remain), so the single-writer document stays small.
KEEP_FINALISED_CONTACTS = 100
KEEP_FINALISED_ISSUES = 200
KEEP_CLOSED_INTRAY_ITEMS = 100

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


class Recorded(Frozen):
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


class MinimumCollectionActivity(Frozen):
    """Seed 001 table 2: what was done in one interaction."""

    income_checks: list[IncomeCheck] = Field(default_factory=list)
    payments_checks: list[PaymentsCheck] = Field(default_factory=list)
    arrangements: list[Arrangement] = Field(default_factory=list)
    promotions: list[Promotion] = Field(default_factory=list)
    outcome: MCAOutcome | None = None

    @property
    def activity_recorded(self) -> bool:
        return bool(self.income_checks or self.payments_checks or self.arrangements or self.promotions)


class Contact(Frozen):
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


class IntrayItem(Frozen):
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


class Issue(Frozen):
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


class Intake(Frozen):
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
# What the rules share
# --------------------------------------------------------------------------------------------


def by(actor: Actor, now: datetime) -> dict[str, Any]:
    """Who recorded something, and when (the fields of :class:`Recorded`)."""
    return {"officer_id": actor.officer_id, "at": now}


def open_contact(intake: Intake, contact_id: UUID) -> Contact:
    """The customer's contact, still open; else the refusal."""
    contact = intake.contacts.get(str(contact_id))
    if contact is None:
        raise Refused(ReferralsReasonCode.UNKNOWN_CONTACT, "No such contact for this customer.")
    if contact.finalised_at is not None:
        raise Refused(ReferralsReasonCode.CONTACT_FINALISED, "The interaction is already finalised.")
    return contact


def open_intray_item(intake: Intake, intray_item_id: UUID) -> IntrayItem:
    """The customer's intray item, still open; else the refusal."""
    item = intake.intray_items.get(str(intray_item_id))
    if item is None:
        raise Refused(ReferralsReasonCode.UNKNOWN_INTRAY_ITEM, "No such intray item for this customer.")
    if item.closed_at is not None:
        raise Refused(ReferralsReasonCode.INTRAY_ITEM_CLOSED, "The intray item is already closed.")
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
