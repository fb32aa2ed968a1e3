"""Decisions (issue 4; seed 000 tables 3, 5 and 6): the approver accepts or rejects a pending
request, within segregation of duties; every refused decision is audited.
"""

from __future__ import annotations

from datetime import datetime

from contracts.base import Actor, Message
from contracts.catalogue.approvals import (
    ApprovalAccepted,
    ApprovalRejected,
    ApprovalsReasonCode,
    Decision,
    RecordApprovalDecision,
    SubjectType,
)
from kit.spec import Refused
from services.approvals.domain.requests import ensure_open
from services.approvals.domain.state import (
    AuditEntry,
    CustomerApprovals,
    Decided,
    PendingRequest,
    RequestStatus,
)

#: How many refused decisions the audit trail keeps per customer (the events topic keeps them all).
KEEP_AUDIT = 500


def record_approval_decision(
    book: CustomerApprovals, cmd: RecordApprovalDecision, now: datetime, facts: None
) -> Decided:
    request = book.request(cmd.request_id)
    if request is None:
        raise Refused(
            ApprovalsReasonCode.UNKNOWN_REQUEST,
            "No such approval request for this customer.",
            request_id=cmd.request_id,
        )
    try:
        ensure_open(book, request)
        _ensure_segregated(book, request, cmd.actor)
        _ensure_monitoring_days(request, cmd)
    except Refused as refused:
        # Issue 4: a refused decision is audited — the DecisionRejected on the topic, with
        # attempted_by, and an entry in the customer's audit trail.
        entry = AuditEntry(
            at=now,
            request_id=request.request_id,
            officer_id=cmd.actor.officer_id,
            role=cmd.actor.role,
            reason_code=ApprovalsReasonCode(refused.code),
        )
        audited = book.model_copy(update={"audit": (*book.audit, entry)[-KEEP_AUDIT:]})
        raise Refused(refused.code, refused.reason, state=audited, **refused.details) from refused

    accepted = cmd.decision is Decision.ACCEPT
    decided = request.model_copy(
        update={
            "status": RequestStatus.ACCEPTED if accepted else RequestStatus.REJECTED,
            "decided_by": cmd.actor,
            "decided_at": now,
            "decision_reason": cmd.reason,
            "monitoring_days": cmd.monitoring_days,
        }
    )
    event: Message
    if accepted:
        event = ApprovalAccepted(
            request_id=request.request_id,
            subject_type=request.subject_type,
            subject_id=request.subject_id,
            chain_id=request.chain_id,
            decided_by=cmd.actor,
            reason=cmd.reason,
            monitoring_days=cmd.monitoring_days,
        )
    else:
        event = ApprovalRejected(
            request_id=request.request_id,
            subject_type=request.subject_type,
            subject_id=request.subject_id,
            chain_id=request.chain_id,
            decided_by=cmd.actor,
            reason=cmd.reason,
        )
    return book.with_request(decided), [event]


def _ensure_segregated(book: CustomerApprovals, request: PendingRequest, actor: Actor) -> None:
    """Issue 4, segregation of duties; seed 000 table 3 (the CSO marks, the Service Manager accepts)."""
    concerned = request.request_id
    if actor.role not in request.deciding_roles:
        roles = " or ".join(r.value for r in request.deciding_roles)
        raise Refused(
            ApprovalsReasonCode.ROLE_NOT_HELD, f"Only {roles} may decide this request.", request_id=concerned
        )
    if actor.officer_id == request.requested_by.officer_id:
        raise Refused(
            ApprovalsReasonCode.SELF_APPROVAL,
            "The requester may not decide their own request.",
            request_id=concerned,
        )
    if actor.officer_id in book.earlier_stage_officers(request):
        raise Refused(
            ApprovalsReasonCode.ACTED_ON_EARLIER_STAGE,
            "The approver acted on an earlier stage of the same chain.",
            request_id=concerned,
        )


def _ensure_monitoring_days(request: PendingRequest, cmd: RecordApprovalDecision) -> None:
    """Seed 000 table 5 step 2: "Accept Monitoring up to 90 Days" — the days come with an
    acceptance of MONITORING, and with nothing else (the contract caps them at 90)."""
    wants_days = request.subject_type is SubjectType.MONITORING and cmd.decision is Decision.ACCEPT
    if wants_days and cmd.monitoring_days is None:
        raise Refused(
            ApprovalsReasonCode.MONITORING_DAYS_REQUIRED,
            "Accepting monitoring needs the days (at most 90).",
            request_id=request.request_id,
        )
    if not wants_days and cmd.monitoring_days is not None:
        raise Refused(
            ApprovalsReasonCode.MONITORING_DAYS_NOT_ALLOWED,
            "Monitoring days are given only when accepting monitoring.",
            request_id=request.request_id,
        )
