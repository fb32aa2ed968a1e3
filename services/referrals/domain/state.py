"""One customer's file: the aggregate's state (frozen), the facts its rules are given besides it,
and the audit history every decision adds to.

One aggregate per customer (the envelope's CSID): what the customer system said about them,
their current PS referral and its stage, their PS stacking documents, their locks and ownership
(:mod:`.ownership`), their contacts, intray items and presenting issues (the CMA intake,
:mod:`.intake`) and a readable audit history.

The PS referral moves through these stages (seed 000 tables 1-6):

    ASSIGNED ─RecordCMP→ CMP_RECORDED ─MarkCMPForApproval→ CMP_PENDING_APPROVAL
      CMP_PENDING_APPROVAL ─accepted→ PLAN_ACTIVE │ ─rejected→ CMP_RETURNED ─RecordCMP→ CMP_RECORDED
    PLAN_ACTIVE ─ReferCustomerForTransferOutOfPS→ TRANSFER_REFERRED
      TRANSFER_REFERRED ─monitoring accepted→ MONITORING │ ─declined→ PLAN_ACTIVE
    MONITORING ─ActionTransferOutOfPS→ TRANSFER_ACTIONED │ ─timer→ MONITORING_EXPIRED
      TRANSFER_ACTIONED, MONITORING_EXPIRED ─accepted→ (out of PS) │ ─rejected→ PLAN_ACTIVE
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from contracts.base import Actor, Event
from contracts.catalogue.approvals import SubjectType
from contracts.catalogue.referrals import (
    CoreIssue,
    PSReferralType,
    ReferralsCommandRejected,
    StackingDocumentOrigin,
    TriggerDetails,
)
from services.referrals.domain.base import Frozen, Output
from services.referrals.domain.intake import CMAConfig, Intake
from services.referrals.domain.ownership import Ownership, OwnershipConfig

#: Subjects of the approvals this service asks for (``ApprovalAccepted``/``Rejected`` of others are
#: someone else's, e.g. notifications' MSP).
PS_SUBJECTS = frozenset(
    {SubjectType.CMP, SubjectType.MONITORING, SubjectType.TRANSFER, SubjectType.MONITORING_EXPIRY}
)
#: Subjects whose acceptance takes the customer out of PS (seed 000 table 6; issue 4).
LEAVING_PS = frozenset({SubjectType.TRANSFER, SubjectType.MONITORING_EXPIRY})
KEEP_HISTORY = 1000
#: Fields naming what a CMA event is about, for the audit history.
SUBJECTS = ("intray_item_id", "issue_id", "error_id", "arrangement_id")


class Stage(StrEnum):
    ASSIGNED = "ASSIGNED"
    CMP_RECORDED = "CMP_RECORDED"
    CMP_PENDING_APPROVAL = "CMP_PENDING_APPROVAL"
    CMP_RETURNED = "CMP_RETURNED"
    PLAN_ACTIVE = "PLAN_ACTIVE"
    TRANSFER_REFERRED = "TRANSFER_REFERRED"
    MONITORING = "MONITORING"
    MONITORING_EXPIRED = "MONITORING_EXPIRED"
    TRANSFER_ACTIONED = "TRANSFER_ACTIONED"
    TRANSFERRED_OUT = "TRANSFERRED_OUT"


#: The stage each approval request is asked from, by subject.
AWAITING: dict[SubjectType, Stage] = {
    SubjectType.CMP: Stage.CMP_PENDING_APPROVAL,
    SubjectType.MONITORING: Stage.TRANSFER_REFERRED,
    SubjectType.TRANSFER: Stage.TRANSFER_ACTIONED,
    SubjectType.MONITORING_EXPIRY: Stage.MONITORING_EXPIRED,
}


class CustomerFacts(Frozen):
    """What the customer system told us that PS needs (no names: nothing here needs them)."""

    is_international: bool
    site: str
    team: str
    other_parent_csid: str | None = None


class Referral(Frozen):
    """A PS referral: seed 000 tables 1-6."""

    referral_id: UUID
    referral_type: PSReferralType
    associate_of_csid: str | None = None
    team: str
    officer_id: str
    auto_assigned: bool
    assigned_at: datetime
    stage: Stage = Stage.ASSIGNED
    cmp_version: int = 0
    core_issue: CoreIssue | None = None
    trigger: TriggerDetails | None = None
    pending_request_id: UUID | None = None
    requests_made: int = 0
    subjects_requested: list[SubjectType] = Field(default_factory=list)
    stage_actors: list[str] = Field(
        default_factory=list, description="Officers who acted on the CSO's side of the referral."
    )
    monitoring_days: int | None = None
    monitoring_ends_at: datetime | None = None
    monitoring_timers: int = Field(0, description="Monitoring timers armed so far (unique timer ids).")
    monitoring_rearms: int = Field(0, description="Times this period's timer fired early and was re-armed.")
    closed_at: datetime | None = None


class StackingDocument(Frozen):
    """Seed 000 table 4: a PS stacking document (a communication record) and its notes."""

    document_id: UUID
    referral_id: UUID
    origin: StackingDocumentOrigin
    origin_record_id: str | None = None
    notes: list[str] = Field(default_factory=list)
    created_at: datetime


class HistoryEntry(Frozen):
    """One line of the customer's audit history."""

    at: datetime
    event: str
    officer_id: str | None = None
    referral_id: str | None = None
    reason_code: str | None = None
    contact_id: str | None = None
    #: The intray item, issue, error or payment arrangement the event is about.
    subject_id: str | None = None


class CustomerFile(Frozen):
    """Everything the referrals service knows about one customer."""

    facts: CustomerFacts | None = None
    #: The PS Service Officer while the customer is in PS (the store counts caseloads by it).
    ps_officer_id: str | None = None
    referral: Referral | None = None
    past_referrals: list[Referral] = Field(default_factory=list)
    documents: dict[str, StackingDocument] = Field(default_factory=dict)
    ownership: Ownership = Field(default_factory=Ownership)
    intake: Intake = Field(default_factory=Intake)
    history: list[HistoryEntry] = Field(default_factory=list)

    @property
    def in_ps(self) -> bool:
        return self.referral is not None

    @property
    def known(self) -> bool:
        """Whether the customer system told us about the customer (``CustomerRegistered``)."""
        return self.facts is not None

    def with_referral(self, referral: Referral) -> CustomerFile:
        return self.model_copy(update={"referral": referral})

    def with_intake(self, intake: Intake, ownership: Ownership | None = None) -> CustomerFile:
        kept = self.ownership if ownership is None else ownership
        return self.model_copy(update={"intake": intake, "ownership": kept})


@dataclass(frozen=True)
class Context:
    """The facts every rule is given: configuration, plus what was read from other customers'
    aggregates just before deciding (``services.referrals.app.ReferralsFacts``)."""

    ps_teams: Mapping[str, Sequence[str]] = field(default_factory=dict)
    ownership: OwnershipConfig = field(default_factory=OwnershipConfig)
    cma: CMAConfig = field(default_factory=CMAConfig)
    approval_due: timedelta = timedelta(days=5)
    #: Open PS customers per PS Service Officer, as stored now.
    caseloads: Mapping[str, int] = field(default_factory=dict)
    #: For an ASSOCIATE referral: whether the named customer is in PS now.
    associate_in_ps: bool | None = None
    #: The customer's own CSID (the envelope's), for what is addressed back to them: the
    #: compensation of a both-parents lock (seed 001 table 2 step 8).
    csid: str | None = None


Decided = tuple[CustomerFile, list[Output]]


def with_history(file: CustomerFile, outputs: Sequence[Output], now: datetime) -> CustomerFile:
    """Issue 4: "each customer has a readable audit history" — every event, refusals included."""
    entries = []
    for out in outputs:
        if not isinstance(out, Event):
            continue
        actor = getattr(out, "actor", None) or getattr(out, "attempted_by", None)
        referral_id = getattr(out, "referral_id", None)
        contact_id = getattr(out, "contact_id", None)
        subject = next((value for name in SUBJECTS if (value := getattr(out, name, None)) is not None), None)
        entries.append(
            HistoryEntry(
                at=now,
                event=out.MESSAGE_TYPE,
                officer_id=actor.officer_id if isinstance(actor, Actor) else None,
                referral_id=str(referral_id) if referral_id is not None else None,
                reason_code=str(out.reason_code) if isinstance(out, ReferralsCommandRejected) else None,
                contact_id=str(contact_id) if contact_id is not None else None,
                subject_id=str(subject) if subject is not None else None,
            )
        )
    if not entries:
        return file
    return file.model_copy(update={"history": [*file.history, *entries][-KEEP_HISTORY:]})
