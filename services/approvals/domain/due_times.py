"""Due times (issue 4): every request arms a durable timer at its due time; when it fires on a
request still pending, the request is escalated to a Team Leader.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from contracts.base import Actor
from contracts.catalogue.approvals import (
    ApprovalEscalated,
    ApprovalsReasonCode,
    EscalateOverdueApproval,
)
from kit.spec import Refused
from kit.timers import Deferred
from services.approvals.domain.state import (
    ESCALATION_ROLE,
    CustomerApprovals,
    Decided,
    PendingRequest,
    RequestStatus,
)

#: When an escalation timer fires before the due time (clock skew between replicas), it is armed
#: again this long after the due time.
REARM_GRACE = timedelta(seconds=1)


def escalation_timer(request: PendingRequest) -> Deferred:
    """Seed-free rule of issue 4: a durable timer at the due time escalates an undecided request."""
    command = EscalateOverdueApproval(
        actor=Actor.system("approvals-due-time"), request_id=request.request_id, due_at=request.due_at
    )
    due = request.due_at if request.timer_rearms == 0 else request.due_at + REARM_GRACE * request.timer_rearms
    return Deferred(command, due, f"escalate:{request.request_id}:{request.timer_rearms}")


def escalate_overdue_approval(
    book: CustomerApprovals, cmd: EscalateOverdueApproval, now: datetime, facts: None
) -> Decided:
    request = book.request(cmd.request_id)
    if request is None:
        raise Refused(
            ApprovalsReasonCode.UNKNOWN_REQUEST, "No such approval request.", request_id=cmd.request_id
        )
    # A timer cannot be cancelled: once its reason has passed (decided, withdrawn, closed) or it is
    # not the request's due time, it changes nothing and says nothing.
    if (
        request.status is not RequestStatus.PENDING
        or book.is_closed(request.subject_type, request.subject_id)
        or cmd.due_at != request.due_at
    ):
        return book, []
    if request.escalated:
        raise Refused(ApprovalsReasonCode.ALREADY_ESCALATED, "Already escalated.", request_id=cmd.request_id)
    if now < request.due_at:
        # Fired early (a replica's clock ran ahead): refuse, and arm the timer again.
        rearmed = request.model_copy(update={"timer_rearms": request.timer_rearms + 1})
        raise Refused(
            ApprovalsReasonCode.NOT_OVERDUE,
            "The request is not overdue yet.",
            state=book.with_request(rearmed),
            outputs=[escalation_timer(rearmed)],
            request_id=cmd.request_id,
        )
    escalated = request.model_copy(update={"escalated_at": now})
    return book.with_request(escalated), [
        ApprovalEscalated(
            request_id=request.request_id,
            subject_type=request.subject_type,
            subject_id=request.subject_id,
            chain_id=request.chain_id,
            escalated_to_role=ESCALATION_ROLE,
            due_at=request.due_at,
        )
    ]
