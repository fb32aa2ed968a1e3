"""The referrals service declared: one customer file per customer (CSID), holding their PS
referral (seed 000), their ownership and locks and their CMA intake (seed 001), and its rules.

A customer's messages share one Kafka partition, so they arrive in order. Of approvals' events
only the decisions on what a PS referral asked are this service's (``accepts``). Every decision,
refusals included, is added to the customer's audit history (issue 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from contracts.base import Message
from contracts.catalogue.approvals import ApprovalAccepted, ApprovalRejected
from contracts.catalogue.customers import CustomerRegistered
from contracts.catalogue.referrals import (
    ActionTransferOutOfPS,
    AddPSStackingDocumentNote,
    AssignCustomerToPS,
    CloseIntrayItem,
    CreatePSStackingDocument,
    EscalateOwnershipDispute,
    ExpireTransferMonitoring,
    FinaliseInteraction,
    FinaliseIssue,
    IdentifyPresentingIssue,
    LockCustomer,
    MarkCMPForApproval,
    RecategoriseIntrayItem,
    RecordCMP,
    RecordCustomerContact,
    RecordExternalReferral,
    RecordIdentifiedError,
    RecordIncomeCheck,
    RecordMinimumCollectionActivityOutcome,
    RecordPaymentArrangement,
    RecordPaymentsAndDebtsCheck,
    RecordSelfServicePromotion,
    ReferCustomerForTransferOutOfPS,
    ReferralsCommandRejected,
    ReleaseParentLock,
    ResolveOwnershipDispute,
    TransferCustomerOwnership,
    UnlockCustomer,
    WarmTransferContact,
)
from kit.spec import Aggregate, Refused, ServiceSpec
from services.referrals.domain import (
    assignment,
    cmp,
    decisions,
    finalising,
    intray,
    issues,
    locking,
    mca,
    ownership,
    stacking,
    transfer_out,
)
from services.referrals.domain.base import Output
from services.referrals.domain.intake import CMAConfig
from services.referrals.domain.ownership import (
    Ownership,
    OwnershipConfig,
    determine_owner,
    finalise_issue,
    ps_joined,
    ps_left,
    rank,
)
from services.referrals.domain.state import PS_SUBJECTS, Context, CustomerFile, with_history
from services.referrals.settings import ReferralsSettings

COLLECTION = "customers"

__all__ = [
    "COLLECTION",
    "SPEC",
    "context_of",
    "decide",
    # Ownership decided alone (below), and the ownership rule it rests on.
    "determine_owner",
    "escalate",
    "finalise_issue",
    "lock",
    "ps_joined",
    "ps_left",
    "rank",
    "resolve",
    "transfer",
    "unlock",
]


def ps_business(message: Any) -> bool:
    """Approvals' decisions on other subjects (e.g. notifications' MSP) are someone else's."""
    if isinstance(message, ApprovalAccepted | ApprovalRejected):
        return message.subject_type in PS_SUBJECTS
    return True


CUSTOMER = Aggregate(
    collection=COLLECTION,
    state=CustomerFile,
    initial=CustomerFile,
    # Issue 4: "each customer has a readable audit history": every event, refusals included.
    record=with_history,
    accepts=ps_business,
    rules={
        CustomerRegistered: assignment.customer_registered,
        # Seed 000: Personalised Services.
        AssignCustomerToPS: assignment.assign_customer_to_ps,
        RecordCMP: cmp.record_cmp,
        MarkCMPForApproval: cmp.mark_cmp_for_approval,
        CreatePSStackingDocument: stacking.create_ps_stacking_document,
        AddPSStackingDocumentNote: stacking.add_ps_stacking_document_note,
        ReferCustomerForTransferOutOfPS: transfer_out.refer_customer_for_transfer_out_of_ps,
        ActionTransferOutOfPS: transfer_out.action_transfer_out_of_ps,
        ExpireTransferMonitoring: transfer_out.expire_transfer_monitoring,
        ApprovalAccepted: decisions.approval_decided,
        ApprovalRejected: decisions.approval_decided,
        # Seed 001 tables 1-3: ownership and locking.
        LockCustomer: locking.lock_customer,
        ReleaseParentLock: locking.release_parent_lock,
        TransferCustomerOwnership: locking.transfer_customer_ownership,
        EscalateOwnershipDispute: locking.escalate_ownership_dispute,
        ResolveOwnershipDispute: locking.resolve_ownership_dispute,
        UnlockCustomer: locking.unlock_customer,
        # Seed 001 tables 1-3: the CMA intake (issue 9).
        RecordCustomerContact: intray.record_customer_contact,
        WarmTransferContact: intray.warm_transfer_contact,
        RecategoriseIntrayItem: intray.recategorise_intray_item,
        CloseIntrayItem: intray.close_intray_item,
        IdentifyPresentingIssue: issues.identify_presenting_issue,
        RecordExternalReferral: issues.record_external_referral,
        RecordIdentifiedError: issues.record_identified_error,
        RecordIncomeCheck: mca.record_income_check,
        RecordPaymentsAndDebtsCheck: mca.record_payments_and_debts_check,
        RecordPaymentArrangement: mca.record_payment_arrangement,
        RecordSelfServicePromotion: mca.record_self_service_promotion,
        RecordMinimumCollectionActivityOutcome: mca.record_mca_outcome,
        FinaliseInteraction: finalising.finalise_interaction,
        FinaliseIssue: finalising.finalise_issue,
    },
)


SPEC = ServiceSpec("referrals", [CUSTOMER], ReferralsCommandRejected)


def context_of(settings: ReferralsSettings) -> Context:
    """The facts every rule is given, from the settings (the handler adds what it reads)."""
    return Context(
        ps_teams=settings.ps_teams,
        ownership=OwnershipConfig(priority=settings.ownership_priority, area_teams=settings.teams_of_area()),
        approval_due=timedelta(days=settings.approval_due_days),
        cma=CMAConfig(
            catalogue=settings.presenting_issues,
            external_referral_types=frozenset(settings.external_referral_types),
            timezone=ZoneInfo(settings.agency_timezone),
        ),
    )


def decide(
    state: CustomerFile | None, message: Any, now: datetime, context: Context
) -> tuple[CustomerFile | None, Sequence[Output]]:
    """The new file and the outputs (events, commands, durable timers) for one message; a message
    that is not this service's changes nothing."""
    if SPEC.aggregate_for(message) is None:
        return state, []
    new, outputs = SPEC.decide(state, message, now, context)
    return new, list(outputs)


# Ownership decided alone (seed 001 tables 1-3), a refusal answered with the event the kit sends
# for it: the unit tests check the ownership rule exhaustively on a customer's ``Ownership``.

OwnDecided = tuple[Ownership, list[Message]]


def _answered(own: Ownership, cmd: Any, refused: Refused) -> OwnDecided:
    return own, [SPEC.refusal(refused, cmd)]


def lock(own: Ownership, cmd: LockCustomer, now: datetime, priority: Sequence[str]) -> OwnDecided:
    try:
        return ownership.lock(own, cmd, now, priority)
    except Refused as refused:
        return _answered(own, cmd, refused)


def transfer(own: Ownership, cmd: TransferCustomerOwnership, config: OwnershipConfig) -> OwnDecided:
    try:
        return ownership.transfer(own, cmd, config)
    except Refused as refused:
        return _answered(own, cmd, refused)


def escalate(own: Ownership, cmd: EscalateOwnershipDispute) -> OwnDecided:
    try:
        return ownership.escalate(own, cmd)
    except Refused as refused:
        return _answered(own, cmd, refused)


def resolve(own: Ownership, cmd: ResolveOwnershipDispute) -> OwnDecided:
    try:
        return ownership.resolve(own, cmd)
    except Refused as refused:
        return _answered(own, cmd, refused)


def unlock(own: Ownership, cmd: UnlockCustomer, config: OwnershipConfig) -> OwnDecided:
    try:
        return ownership.unlock(own, cmd, config)
    except Refused as refused:
        return _answered(own, cmd, refused)
