"""The referrals service's rules for Personalised Services (seed 000), pure.

One aggregate per customer (the envelope's CSID): what the customer system said about them,
their current PS referral and its stage, their PS stacking documents, their locks and ownership
(:mod:`services.referrals.domain_ownership`), their contacts, intray items and presenting issues
(the CMA intake, :mod:`services.referrals.domain_cma`) and a readable audit history.
:func:`decide` returns the state unchanged for messages it does not know.

The PS referral moves through these stages (seed 000 tables 1-6):

    ASSIGNED ─RecordCMP→ CMP_RECORDED ─MarkCMPForApproval→ CMP_PENDING_APPROVAL
      CMP_PENDING_APPROVAL ─accepted→ PLAN_ACTIVE │ ─rejected→ CMP_RETURNED ─RecordCMP→ CMP_RECORDED
    PLAN_ACTIVE ─ReferCustomerForTransferOutOfPS→ TRANSFER_REFERRED
      TRANSFER_REFERRED ─monitoring accepted→ MONITORING │ ─declined→ PLAN_ACTIVE
    MONITORING ─ActionTransferOutOfPS→ TRANSFER_ACTIONED │ ─timer→ MONITORING_EXPIRED
      TRANSFER_ACTIONED, MONITORING_EXPIRED ─accepted→ (out of PS) │ ─rejected→ PLAN_ACTIVE
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from contracts.base import Actor, Event, Message, Role
from contracts.catalogue.approvals import (
    ApprovalAccepted,
    ApprovalRejected,
    CloseApprovalSubject,
    RequestApproval,
    SubjectType,
)
from contracts.catalogue.customers import CustomerRegistered
from contracts.catalogue.referrals import (
    ActionTransferOutOfPS,
    AddPSStackingDocumentNote,
    AssignCustomerToPS,
    CMPAccepted,
    CMPMarkedForApproval,
    CMPRecorded,
    CMPReturnedToRecording,
    CoreIssue,
    CreatePSStackingDocument,
    CustomerAssignedToPS,
    CustomerTransferredOutOfPS,
    EscalateOwnershipDispute,
    ExpireTransferMonitoring,
    LockCustomer,
    MarkCMPForApproval,
    PSReferralType,
    PSStackingDocumentCreated,
    PSStackingDocumentNoteAdded,
    RecordCMP,
    ReferCustomerForTransferOutOfPS,
    ReferralsCommandRejected,
    ReferralsReasonCode,
    ResolveOwnershipDispute,
    StackingDocumentOrigin,
    TransferCustomerOwnership,
    TransferMonitoringDeclined,
    TransferMonitoringExpired,
    TransferMonitoringStarted,
    TransferOutOfPSActioned,
    TransferOutOfPSDeclined,
    TransferOutOfPSReferred,
    TriggerDetails,
    UnlockCustomer,
)
from kit.timers import Deferred
from services.referrals import domain_cma as cma
from services.referrals import domain_ownership as ownership
from services.referrals.domain_cma import CMAConfig, Intake
from services.referrals.domain_ownership import Ownership, OwnershipConfig

Output = Message | Deferred

#: Subjects of the approvals this service asks for (``ApprovalAccepted``/``Rejected`` of others are
#: someone else's, e.g. notifications' MSP).
PS_SUBJECTS = frozenset(
    {SubjectType.CMP, SubjectType.MONITORING, SubjectType.TRANSFER, SubjectType.MONITORING_EXPIRY}
)
#: Seed 000 table 5 step 2: "Accept Monitoring up to 90 Days".
MAX_MONITORING_DAYS = 90
#: A monitoring timer that fires early (clock skew) is armed again this long after the end.
REARM_GRACE = timedelta(seconds=1)
TIMER_ACTOR = Actor.system("referrals-monitoring")
SERVICE_ACTOR = Actor.system("referrals")
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


class CustomerFacts(BaseModel):
    """What the customer system told us that PS needs (no names: nothing here needs them)."""

    is_international: bool
    site: str
    team: str
    other_parent_csid: str | None = None


class Referral(BaseModel):
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


class StackingDocument(BaseModel):
    """Seed 000 table 4: a PS stacking document (a communication record) and its notes."""

    document_id: UUID
    referral_id: UUID
    origin: StackingDocumentOrigin
    origin_record_id: str | None = None
    notes: list[str] = Field(default_factory=list)
    created_at: datetime


class HistoryEntry(BaseModel):
    """One line of the customer's audit history."""

    at: datetime
    event: str
    officer_id: str | None = None
    referral_id: str | None = None
    reason_code: str | None = None
    contact_id: str | None = None
    #: The intray item, issue, error or payment arrangement the event is about.
    subject_id: str | None = None


class CustomerFile(BaseModel):
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


@dataclass(frozen=True)
class Context:
    """Configuration, plus what the handler read from other customers' aggregates just before."""

    ps_teams: Mapping[str, Sequence[str]] = field(default_factory=dict)
    ownership: OwnershipConfig = field(default_factory=OwnershipConfig)
    cma: CMAConfig = field(default_factory=CMAConfig)
    approval_due: timedelta = timedelta(days=5)
    #: Open PS customers per PS Service Officer, as stored now.
    caseloads: Mapping[str, int] = field(default_factory=dict)
    #: For an ASSOCIATE referral: whether the named customer is in PS now.
    associate_in_ps: bool | None = None


Decided = tuple[CustomerFile, list[Output]]


def _refuse(file: CustomerFile, code: ReferralsReasonCode, reason: str, actor: Actor) -> Decided:
    return file, [ReferralsCommandRejected(reason_code=code, reason=reason, attempted_by=actor)]


# --------------------------------------------------------------------------------------------
# The decider
# --------------------------------------------------------------------------------------------


def decide(
    state: CustomerFile | None, message: Any, now: datetime, context: Context
) -> tuple[CustomerFile | None, Sequence[Output]]:
    file = state or CustomerFile()
    decided = _dispatch(file, message, now, context)
    if decided is None:
        return state, []
    new, outputs = decided
    return _with_history(new, outputs, now), outputs


def _dispatch(file: CustomerFile, message: Any, now: datetime, ctx: Context) -> Decided | None:
    if isinstance(message, CustomerRegistered):
        return _registered(file, message), []
    if isinstance(message, AssignCustomerToPS):
        return _assign(file, message, now, ctx)
    if isinstance(message, RecordCMP):
        return _record_cmp(file, message)
    if isinstance(message, MarkCMPForApproval):
        return _mark_cmp(file, message, now, ctx)
    if isinstance(message, CreatePSStackingDocument):
        return _create_document(file, message, now)
    if isinstance(message, AddPSStackingDocumentNote):
        return _add_note(file, message)
    if isinstance(message, ReferCustomerForTransferOutOfPS):
        return _refer_transfer(file, message, now, ctx)
    if isinstance(message, ActionTransferOutOfPS):
        return _action_transfer(file, message, now, ctx)
    if isinstance(message, ExpireTransferMonitoring):
        return _expire_monitoring(file, message, now, ctx)
    if isinstance(message, ApprovalAccepted | ApprovalRejected):
        if message.subject_type not in PS_SUBJECTS:
            return None
        return _approval_decided(file, message, now, ctx)
    # Seed 001 tables 1-3: the CMA intake (rules in :mod:`domain_cma`); it may lock and unlock.
    known = file.facts is not None
    by_intake = cma.decide(file.intake, file.ownership, message, now, ctx.cma, ctx.ownership.priority, known)
    if by_intake is not None:
        intake, own, events = by_intake
        return file.model_copy(update={"intake": intake, "ownership": own}), [*events]
    return _ownership(file, message, now, ctx)


def _ownership(file: CustomerFile, message: Any, now: datetime, ctx: Context) -> Decided | None:
    """Seed 001 tables 1-3: locking and ownership (rules in :mod:`domain_ownership`)."""
    priority = ctx.ownership.priority
    own = file.ownership
    if isinstance(message, LockCustomer):
        if file.facts is None:
            return _refuse(
                file, ReferralsReasonCode.UNKNOWN_CUSTOMER, "The customer is not known.", message.actor
            )
        own, events = ownership.lock(own, message, now, priority)
    elif isinstance(message, TransferCustomerOwnership):
        own, events = ownership.transfer(own, message, ctx.ownership)
    elif isinstance(message, EscalateOwnershipDispute):
        own, events = ownership.escalate(own, message)
    elif isinstance(message, ResolveOwnershipDispute):
        own, events = ownership.resolve(own, message)
    elif isinstance(message, UnlockCustomer):
        own, events = ownership.unlock(own, message, priority)
    else:
        return None
    return file.model_copy(update={"ownership": own}), list(events)


def _with_history(file: CustomerFile, outputs: Sequence[Output], now: datetime) -> CustomerFile:
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


# --------------------------------------------------------------------------------------------
# Customers (upstream)
# --------------------------------------------------------------------------------------------


def _registered(file: CustomerFile, event: CustomerRegistered) -> CustomerFile:
    # Seed 000 table 4 step 1 needs to know whether the customer is international.
    facts = CustomerFacts(
        is_international=event.is_international,
        site=event.site,
        team=event.team,
        other_parent_csid=event.other_parent_csid,
    )
    return file.model_copy(update={"facts": facts})


# --------------------------------------------------------------------------------------------
# Seed 000 table 1: assign a customer to PS
# --------------------------------------------------------------------------------------------


def choose_officer(officers: Sequence[str], caseloads: Mapping[str, int]) -> str | None:
    """Issue 4: the officer of the team with the fewest open PS customers, ties broken by officer id."""
    if not officers:
        return None
    return min(officers, key=lambda o: (caseloads.get(o, 0), o))


def _assign(file: CustomerFile, cmd: AssignCustomerToPS, now: datetime, ctx: Context) -> Decided:
    actor = cmd.actor
    # Seed 000 table 1 step 1: Management > Personalised Services > Service Manager Allocation.
    if actor.role is not Role.SERVICE_MANAGER:
        return _refuse(file, ReferralsReasonCode.ROLE_NOT_PERMITTED, "Only a Service Manager assigns.", actor)
    # Seed 000 table 1 step 1: locate the customer by CSID.
    if file.facts is None:
        return _refuse(file, ReferralsReasonCode.UNKNOWN_CUSTOMER, "The customer is not known.", actor)
    if file.referral is not None:
        return _refuse(file, ReferralsReasonCode.ALREADY_IN_PS, "The customer is already in PS.", actor)
    if any(r.referral_id == cmd.referral_id for r in file.past_referrals):
        return _refuse(file, ReferralsReasonCode.INVALID_STATE, "The referral id was used before.", actor)
    # Seed 000 table 1 step 3: "Associate - for associates of an existing personalised services customer".
    if cmd.referral_type is PSReferralType.ASSOCIATE and not ctx.associate_in_ps:
        return _refuse(
            file, ReferralsReasonCode.ASSOCIATE_NOT_IN_PS, "The named customer is not in PS.", actor
        )
    officers = list(ctx.ps_teams.get(cmd.team, ()))
    # Seed 000 table 1 step 4: the PS Service Officer comes from the Stream/Team CSO Workload list.
    if cmd.officer_id is not None:
        if cmd.officer_id not in officers:
            return _refuse(
                file, ReferralsReasonCode.OFFICER_NOT_IN_TEAM, "The officer is not in the PS team.", actor
            )
        officer = cmd.officer_id
    else:
        chosen = choose_officer(officers, ctx.caseloads)
        if chosen is None:
            return _refuse(
                file, ReferralsReasonCode.NO_OFFICER_AVAILABLE, "The PS team has no officers.", actor
            )
        officer = chosen
    referral = Referral(
        referral_id=cmd.referral_id,
        referral_type=cmd.referral_type,
        associate_of_csid=cmd.associate_of_csid,
        team=cmd.team,
        officer_id=officer,
        auto_assigned=cmd.officer_id is None,
        assigned_at=now,
    )
    assigned = CustomerAssignedToPS(
        referral_id=cmd.referral_id,
        actor=actor,
        referral_type=cmd.referral_type,
        associate_of_csid=cmd.associate_of_csid,
        team=cmd.team,
        officer_id=officer,
        auto_assigned=referral.auto_assigned,
        officer_open_ps_customers=ctx.caseloads.get(officer, 0) + 1,
    )
    # Seed 001 table 1 step 7: PS now coordinates the customer.
    own, owned = ownership.ps_joined(file.ownership, ctx.ownership.priority)
    new = file.model_copy(update={"referral": referral, "ps_officer_id": officer, "ownership": own})
    return new, [assigned, *owned]


# --------------------------------------------------------------------------------------------
# Shared checks of the CSO's steps
# --------------------------------------------------------------------------------------------


def _current(
    file: CustomerFile, referral_id: UUID, actor: Actor, *, stages: Sequence[Stage], same_team: bool
) -> Referral | ReferralsCommandRejected:
    """The customer's current referral if the command fits it, else the refusal."""

    def no(code: ReferralsReasonCode, reason: str) -> ReferralsCommandRejected:
        return ReferralsCommandRejected(reason_code=code, reason=reason, attempted_by=actor)

    referral = file.referral
    if referral is None:
        return no(ReferralsReasonCode.NOT_IN_PS, "The customer is not in PS.")
    if referral.referral_id != referral_id:
        return no(ReferralsReasonCode.UNKNOWN_REFERRAL, "Not the customer's current PS referral.")
    if same_team and actor.team != referral.team:
        return no(ReferralsReasonCode.NOT_ASSIGNED_TEAM, "Only the assigned officer's team may do this.")
    if referral.stage not in stages:
        return no(
            ReferralsReasonCode.INVALID_STATE, f"Not possible while the referral is {referral.stage.value}."
        )
    return referral


def _acted(referral: Referral, actor: Actor) -> list[str]:
    if actor.officer_id in referral.stage_actors or actor.role is Role.SYSTEM:
        return referral.stage_actors
    return [*referral.stage_actors, actor.officer_id]


def _ask(
    referral: Referral,
    subject: SubjectType,
    actor: Actor,
    now: datetime,
    ctx: Context,
    summary: str,
) -> tuple[Referral, RequestApproval]:
    """Ask approvals for the Service Manager's decision; the request id is derived, so a re-decided
    message asks with the same id."""
    number = referral.requests_made + 1
    request_id = uuid.uuid5(referral.referral_id, f"approval-{number}")
    earlier = [o for o in referral.stage_actors if o != actor.officer_id][-20:]
    request = RequestApproval(
        actor=actor,
        request_id=request_id,
        subject_type=subject,
        subject_id=str(referral.referral_id),
        chain_id=str(referral.referral_id),
        earlier_stage_officer_ids=tuple(earlier),
        required_role=Role.SERVICE_MANAGER,
        due_at=now + ctx.approval_due,
        summary=summary,
    )
    asked = referral.model_copy(
        update={
            "requests_made": number,
            "pending_request_id": request_id,
            "subjects_requested": list(dict.fromkeys([*referral.subjects_requested, subject])),
            "stage": AWAITING[subject],
        }
    )
    return asked, request


# --------------------------------------------------------------------------------------------
# Seed 000 tables 2-3: the CMP and its approval
# --------------------------------------------------------------------------------------------


def _record_cmp(file: CustomerFile, cmd: RecordCMP) -> Decided:
    # Seed 000 table 2 / issue 4: "Only after assignment, only by the assigned officer's team."
    if file.referral is None:
        return _refuse(
            file, ReferralsReasonCode.NOT_ASSIGNED, "The customer is not assigned to PS.", cmd.actor
        )
    found = _current(
        file,
        cmd.referral_id,
        cmd.actor,
        stages=(Stage.ASSIGNED, Stage.CMP_RECORDED, Stage.CMP_RETURNED),
        same_team=True,
    )
    if isinstance(found, ReferralsCommandRejected):
        return file, [found]
    version = found.cmp_version + 1
    core = CoreIssue.model_validate(cmd.core_issue.model_dump())
    trigger = TriggerDetails.model_validate(cmd.trigger.model_dump())
    referral = found.model_copy(
        update={
            "cmp_version": version,
            "core_issue": core,
            "trigger": trigger,
            "stage": Stage.CMP_RECORDED,
            "stage_actors": _acted(found, cmd.actor),
        }
    )
    recorded = CMPRecorded(
        referral_id=found.referral_id, actor=cmd.actor, cmp_version=version, core_issue=core, trigger=trigger
    )
    return file.model_copy(update={"referral": referral}), [recorded]


def _mark_cmp(file: CustomerFile, cmd: MarkCMPForApproval, now: datetime, ctx: Context) -> Decided:
    # Seed 000 table 3 step 1: the CSO ticks CMP Approval on the CSO Actions List.
    found = _current(file, cmd.referral_id, cmd.actor, stages=(Stage.CMP_RECORDED,), same_team=True)
    if isinstance(found, ReferralsCommandRejected):
        return file, [found]
    summary = f"CMP version {found.cmp_version} of a PS referral, for Service Manager approval"
    referral, request = _ask(found, SubjectType.CMP, cmd.actor, now, ctx, summary)
    referral = referral.model_copy(update={"stage_actors": _acted(found, cmd.actor)})
    marked = CMPMarkedForApproval(
        referral_id=found.referral_id,
        actor=cmd.actor,
        cmp_version=found.cmp_version,
        approval_request_id=request.request_id,
    )
    return file.model_copy(update={"referral": referral}), [marked, request]


# --------------------------------------------------------------------------------------------
# Seed 000 table 4: the PS stacking document
# --------------------------------------------------------------------------------------------


def _create_document(file: CustomerFile, cmd: CreatePSStackingDocument, now: datetime) -> Decided:
    found = _current(file, cmd.referral_id, cmd.actor, stages=tuple(Stage), same_team=False)
    if isinstance(found, ReferralsCommandRejected):
        return file, [found]
    if str(cmd.document_id) in file.documents:
        return _refuse(file, ReferralsReasonCode.INVALID_STATE, "The document already exists.", cmd.actor)
    # Seed 000 table 4 step 1: "For international customers this process is required to be
    # completed in [the international system] under the Notes section … this will copy across" —
    # an international customer's document comes from there, a domestic one from Casemesh.
    international = file.facts is not None and file.facts.is_international
    expected = (
        StackingDocumentOrigin.INTERNATIONAL_NOTES if international else StackingDocumentOrigin.CASEMESH
    )
    if cmd.origin is not expected:
        return _refuse(
            file,
            ReferralsReasonCode.ORIGIN_MISMATCH,
            f"This customer's stacking document must originate in {expected.value}.",
            cmd.actor,
        )
    document = StackingDocument(
        document_id=cmd.document_id,
        referral_id=found.referral_id,
        origin=cmd.origin,
        origin_record_id=cmd.origin_record_id,
        notes=[cmd.notes] if cmd.notes else [],
        created_at=now,
    )
    # Type 'Phone Out', Reason 'PERS SERVICES', Category 'PS CUSTOMER CONTACT', Issue blank:
    # the event's fixed fields; the origin is kept on the record.
    created = PSStackingDocumentCreated(
        referral_id=found.referral_id,
        actor=cmd.actor,
        document_id=cmd.document_id,
        origin=cmd.origin,
        origin_record_id=cmd.origin_record_id,
        notes=cmd.notes,
    )
    documents = {**file.documents, str(cmd.document_id): document}
    return file.model_copy(update={"documents": documents}), [created]


def _add_note(file: CustomerFile, cmd: AddPSStackingDocumentNote) -> Decided:
    # Seed 000 table 4 step 2: add notes to the stacking document.
    document = file.documents.get(str(cmd.document_id))
    if document is None:
        return _refuse(file, ReferralsReasonCode.UNKNOWN_DOCUMENT, "No such stacking document.", cmd.actor)
    noted = document.model_copy(update={"notes": [*document.notes, cmd.text]})
    added = PSStackingDocumentNoteAdded(
        referral_id=document.referral_id, actor=cmd.actor, document_id=cmd.document_id, text=cmd.text
    )
    return file.model_copy(update={"documents": {**file.documents, str(cmd.document_id): noted}}), [added]


# --------------------------------------------------------------------------------------------
# Seed 000 tables 5-6: transfer out of PS
# --------------------------------------------------------------------------------------------


def _refer_transfer(
    file: CustomerFile, cmd: ReferCustomerForTransferOutOfPS, now: datetime, ctx: Context
) -> Decided:
    # Seed 000 table 5 step 1: the CSO refers the customer for transfer (the PS plan is active).
    found = _current(file, cmd.referral_id, cmd.actor, stages=(Stage.PLAN_ACTIVE,), same_team=True)
    if isinstance(found, ReferralsCommandRejected):
        return file, [found]
    summary = "PS transfer referral: accept monitoring for up to 90 days"
    referral, request = _ask(found, SubjectType.MONITORING, cmd.actor, now, ctx, summary)
    referral = referral.model_copy(update={"stage_actors": _acted(found, cmd.actor)})
    referred = TransferOutOfPSReferred(
        referral_id=found.referral_id,
        actor=cmd.actor,
        reason=cmd.reason,
        approval_request_id=request.request_id,
    )
    return file.model_copy(update={"referral": referral}), [referred, request]


def _action_transfer(file: CustomerFile, cmd: ActionTransferOutOfPS, now: datetime, ctx: Context) -> Decided:
    # Seed 000 table 5 step 3: the CSO actions the transfer — only while monitoring runs.
    found = _current(file, cmd.referral_id, cmd.actor, stages=(Stage.MONITORING,), same_team=True)
    if isinstance(found, ReferralsCommandRejected):
        return file, [found]
    summary = "PS transfer actioned: accept or reject the transfer out of PS"
    referral, request = _ask(found, SubjectType.TRANSFER, cmd.actor, now, ctx, summary)
    referral = referral.model_copy(update={"stage_actors": _acted(found, cmd.actor)})
    actioned = TransferOutOfPSActioned(
        referral_id=found.referral_id, actor=cmd.actor, approval_request_id=request.request_id
    )
    return file.model_copy(update={"referral": referral}), [actioned, request]


def monitoring_timer(referral: Referral) -> Deferred:
    """The durable timer that ends monitoring (seed 000 table 5 step 2: up to 90 days)."""
    assert referral.monitoring_ends_at is not None
    command = ExpireTransferMonitoring(
        actor=TIMER_ACTOR, referral_id=referral.referral_id, monitoring_ends_at=referral.monitoring_ends_at
    )
    due = referral.monitoring_ends_at + REARM_GRACE * referral.monitoring_rearms
    return Deferred(command, due, f"monitoring:{referral.referral_id}:{referral.monitoring_timers}")


def _expire_monitoring(
    file: CustomerFile, cmd: ExpireTransferMonitoring, now: datetime, ctx: Context
) -> Decided | None:
    """Issue 4: 90 days pass without the transfer being actioned.

    Outcome (interpreted; see docs/services/referrals.md): monitoring ends, the customer stays
    active in PS, and a MONITORING_EXPIRY approval puts the case on the Service Manager's work
    list — accepting it transfers the customer out, rejecting it keeps them active in PS.
    A timer whose reason has passed (transfer actioned, another monitoring period) changes nothing.
    """
    referral = file.referral
    if (
        referral is None
        or referral.referral_id != cmd.referral_id
        or referral.stage is not Stage.MONITORING
        or referral.monitoring_ends_at != cmd.monitoring_ends_at
    ):
        return None
    if now < cmd.monitoring_ends_at:
        # Fired early (a replica's clock ran ahead): arm it again, change nothing else.
        again = referral.model_copy(
            update={
                "monitoring_timers": referral.monitoring_timers + 1,
                "monitoring_rearms": referral.monitoring_rearms + 1,
            }
        )
        return file.model_copy(update={"referral": again}), [monitoring_timer(again)]
    summary = "PS monitoring ended without the transfer being actioned: transfer out of PS?"
    asked, request = _ask(referral, SubjectType.MONITORING_EXPIRY, cmd.actor, now, ctx, summary)
    expired = TransferMonitoringExpired(
        referral_id=referral.referral_id,
        actor=cmd.actor,
        monitoring_ends_at=cmd.monitoring_ends_at,
        approval_request_id=request.request_id,
        work_list_role=Role.SERVICE_MANAGER,
    )
    return file.model_copy(update={"referral": asked}), [expired, request]


# --------------------------------------------------------------------------------------------
# Decisions from approvals
# --------------------------------------------------------------------------------------------


def _approval_decided(
    file: CustomerFile, event: ApprovalAccepted | ApprovalRejected, now: datetime, ctx: Context
) -> Decided | None:
    referral = file.referral
    # A decision on anything but the request the referral waits for (stale, or another referral's)
    # changes nothing.
    if (
        referral is None
        or referral.pending_request_id != event.request_id
        or referral.stage is not AWAITING[event.subject_type]
    ):
        return None
    accepted = isinstance(event, ApprovalAccepted)
    base = {
        "referral_id": referral.referral_id,
        "actor": event.decided_by,
        "approval_request_id": event.request_id,
    }
    settled = referral.model_copy(update={"pending_request_id": None})
    subject = event.subject_type
    if subject is SubjectType.CMP:
        if accepted:
            # Seed 000 table 3 step 2: accepted — the PS plan is active.
            active = settled.model_copy(update={"stage": Stage.PLAN_ACTIVE})
            return _replace(file, active), [CMPAccepted(**base, cmp_version=referral.cmp_version)]
        # Issue 4: rejected — back to recording.
        returned = settled.model_copy(update={"stage": Stage.CMP_RETURNED})
        return _replace(file, returned), [CMPReturnedToRecording(**base, decision_reason=event.reason)]
    if subject is SubjectType.MONITORING:
        if accepted:
            assert isinstance(event, ApprovalAccepted)
            # Seed 000 table 5 step 2: monitoring for up to 90 days; the customer stays in PS.
            days = min(event.monitoring_days or MAX_MONITORING_DAYS, MAX_MONITORING_DAYS)
            ends = now + timedelta(days=days)
            monitored = settled.model_copy(
                update={
                    "stage": Stage.MONITORING,
                    "monitoring_days": days,
                    "monitoring_ends_at": ends,
                    "monitoring_timers": referral.monitoring_timers + 1,
                    "monitoring_rearms": 0,
                }
            )
            started = TransferMonitoringStarted(**base, monitoring_days=days, monitoring_ends_at=ends)
            return _replace(file, monitored), [started, monitoring_timer(monitored)]
        active = settled.model_copy(update={"stage": Stage.PLAN_ACTIVE})
        return _replace(file, active), [TransferMonitoringDeclined(**base, decision_reason=event.reason)]
    # TRANSFER (seed 000 table 6) or MONITORING_EXPIRY (issue 4, interpreted alike).
    if not accepted:
        # Seed 000 table 6: rejected — the customer stays active in PS.
        active = settled.model_copy(update={"stage": Stage.PLAN_ACTIVE})
        return _replace(file, active), [TransferOutOfPSDeclined(**base, decision_reason=event.reason)]
    return _leave_ps(file, settled, base, now, ctx)


def _leave_ps(
    file: CustomerFile, referral: Referral, base: dict[str, Any], now: datetime, ctx: Context
) -> Decided:
    """Seed 000 table 6: accepted — the customer leaves PS and the officer's caseload drops."""
    caseload = max(ctx.caseloads.get(referral.officer_id, 1) - 1, 0)
    closed = referral.model_copy(update={"stage": Stage.TRANSFERRED_OUT, "closed_at": now})
    transferred = CustomerTransferredOutOfPS(
        **base, officer_id=referral.officer_id, officer_open_ps_customers=caseload
    )
    # The referral is over: no later decision on any of its approvals may change anything.
    closes = [
        CloseApprovalSubject(
            actor=SERVICE_ACTOR,
            subject_type=subject,
            subject_id=str(referral.referral_id),
            reason="The customer was transferred out of PS.",
        )
        for subject in referral.subjects_requested
    ]
    own, owned = ownership.ps_left(file.ownership, ctx.ownership.priority)
    new = file.model_copy(
        update={
            "referral": None,
            "ps_officer_id": None,
            "past_referrals": [*file.past_referrals, closed],
            "ownership": own,
        }
    )
    return new, [transferred, *owned, *closes]


def _replace(file: CustomerFile, referral: Referral) -> CustomerFile:
    return file.model_copy(update={"referral": referral})
