"""The approvals service declared: one aggregate per customer (CSID) and its rules (issue 4;
seed 000 tables 3, 5 and 6).

A customer's messages share one Kafka partition, so they arrive in order. A refused decision is
answered with ``DecisionRejected`` (also the audit record of a segregation-of-duties breach);
every other refused command with ``ApprovalRequestRejected``.
"""

from __future__ import annotations

from datetime import datetime

from contracts.catalogue.approvals import (
    ApprovalRequestRejected,
    CloseApprovalSubject,
    DecisionRejected,
    EscalateOverdueApproval,
    RecordApprovalDecision,
    RequestApproval,
    WithdrawApprovalRequest,
)
from kit.spec import Aggregate, ServiceSpec
from services.approvals.domain import decisions, due_times, requests
from services.approvals.domain.state import CustomerApprovals, Output

COLLECTION = "approvals"


CUSTOMER = Aggregate(
    collection=COLLECTION,
    state=CustomerApprovals,
    initial=CustomerApprovals,
    rules={
        RequestApproval: requests.request_approval,
        WithdrawApprovalRequest: requests.withdraw_approval_request,
        CloseApprovalSubject: requests.close_approval_subject,
        RecordApprovalDecision: decisions.record_approval_decision,
        EscalateOverdueApproval: due_times.escalate_overdue_approval,
    },
)

SPEC = ServiceSpec(
    "approvals",
    [CUSTOMER],
    ApprovalRequestRejected,
    rejected_for={RecordApprovalDecision: DecisionRejected},
)


def decide(
    state: CustomerApprovals | None, message: object, now: datetime
) -> tuple[CustomerApprovals | None, list[Output]]:
    """The new state and the outputs (events, durable timers) for one command.

    A customer's record exists from their first command, refused or not, as approvals always
    stored it.
    """
    new_state, outputs = SPEC.decide(state or CustomerApprovals(), message, now)
    return new_state, list(outputs)
