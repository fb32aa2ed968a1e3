"""The approvals service's rules: requests, decisions with segregation of duties, escalation.

One aggregate per customer (the envelope's CSID, which is also the Kafka key, so one customer's
approval traffic is processed in order): every request made about that customer, the subjects
closed, and an audit trail of refused decisions. Pure: no I/O, no clock reads.

Seed 000 tables 3, 5 and 6 are the Service Manager's approvals of a PS referral's CMP, monitoring
and transfer; issue 4 adds segregation of duties, due times that escalate to a Team Leader, and
the rule that a decision on something already decided, withdrawn or closed changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from contracts.base import Actor, Message, Role
from contracts.catalogue.approvals import (
    ApprovalAccepted,
    ApprovalEscalated,
    ApprovalRejected,
    ApprovalRequested,
    ApprovalRequestRejected,
    ApprovalsReasonCode,
    ApprovalSubjectClosed,
    ApprovalWithdrawn,
    CloseApprovalSubject,
    Decision,
    DecisionRejected,
    EscalateOverdueApproval,
    RecordApprovalDecision,
    RequestApproval,
    SubjectType,
    WithdrawApprovalRequest,
)
from kit.timers import Deferred

Output = Message | Deferred

#: Issue 4: "Due times: durable timers … escalate overdue requests to a Team Leader."
ESCALATION_ROLE = Role.TEAM_LEADER
#: When an escalation timer fires before the due time (clock skew between replicas), it is armed
#: again this long after the due time.
REARM_GRACE = timedelta(seconds=1)
#: How many refused decisions the audit trail keeps per customer (the events topic keeps them all).
KEEP_AUDIT = 500


class RequestStatus(StrEnum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"


class PendingRequest(BaseModel):
    """One approval request and what became of it."""

    request_id: UUID
    subject_type: SubjectType
    subject_id: str
    chain_id: str
    required_role: Role
    requested_by: Actor
    earlier_stage_officer_ids: list[str] = Field(default_factory=list)
    due_at: datetime
    summary: str
    requested_at: datetime
    sequence: int = Field(description="Order of arrival within the customer's requests.")
    status: RequestStatus = RequestStatus.PENDING
    escalated_at: datetime | None = None
    decided_by: Actor | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    monitoring_days: int | None = None
    withdrawn_reason: str | None = None
    timer_rearms: int = 0

    @property
    def escalated(self) -> bool:
        return self.escalated_at is not None

    @property
    def deciding_roles(self) -> tuple[Role, ...]:
        """Who may decide: the required role, and a Team Leader once the request is escalated.

        Interpretation (issue 4): escalation puts the overdue request on the Team Leader's work
        list; the role originally asked may still decide it late.
        """
        if self.escalated and self.required_role is not ESCALATION_ROLE:
            return (self.required_role, ESCALATION_ROLE)
        return (self.required_role,)


class AuditEntry(BaseModel):
    """A refused decision: who tried, on what, and why it was refused (issue 4: "audited")."""

    at: datetime
    request_id: UUID
    officer_id: str
    role: Role
    reason_code: ApprovalsReasonCode


class CustomerApprovals(BaseModel):
    """Everything approvals knows about one customer."""

    requests: dict[str, PendingRequest] = Field(default_factory=dict)
    closed_subjects: list[str] = Field(default_factory=list)
    audit: list[AuditEntry] = Field(default_factory=list)

    def request(self, request_id: UUID) -> PendingRequest | None:
        return self.requests.get(str(request_id))

    def is_closed(self, subject_type: SubjectType, subject_id: str) -> bool:
        return subject_key(subject_type, subject_id) in self.closed_subjects

    def earlier_stage_officers(self, request: PendingRequest) -> set[str]:
        """Officers who acted on an earlier stage of the request's chain.

        Interpretation (issue 4, seed 000 table 3): the *requesters* of earlier requests in the
        chain and every officer the requesting service named as having acted outside approvals.
        Earlier *approvers* are not barred: the same Service Manager accepts a referral's CMP,
        its monitoring and its transfer in seed 000 tables 3, 5 and 6.
        """
        barred = set(request.earlier_stage_officer_ids)
        for other in self.requests.values():
            if other.chain_id == request.chain_id and other.sequence < request.sequence:
                barred.add(other.requested_by.officer_id)
                barred.update(other.earlier_stage_officer_ids)
        barred.discard(request.requested_by.officer_id)
        return barred

    def may_decide(self, request: PendingRequest, officer_id: str, role: Role) -> bool:
        """True when ``officer_id`` acting as ``role`` passes every segregation-of-duties check."""
        return (
            role in request.deciding_roles
            and officer_id != request.requested_by.officer_id
            and officer_id not in self.earlier_stage_officers(request)
        )


def subject_key(subject_type: SubjectType, subject_id: str) -> str:
    return f"{subject_type.value}:{subject_id}"


def escalation_timer(request: PendingRequest) -> Deferred:
    """Seed-free rule of issue 4: a durable timer at the due time escalates an undecided request."""
    command = EscalateOverdueApproval(
        actor=Actor.system("approvals-due-time"), request_id=request.request_id, due_at=request.due_at
    )
    due = request.due_at if request.timer_rearms == 0 else request.due_at + REARM_GRACE * request.timer_rearms
    return Deferred(command, due, f"escalate:{request.request_id}:{request.timer_rearms}")


# --------------------------------------------------------------------------------------------
# The decider
# --------------------------------------------------------------------------------------------


def decide(
    state: CustomerApprovals | None, message: Any, now: datetime
) -> tuple[CustomerApprovals | None, Sequence[Output]]:
    book = state or CustomerApprovals()
    if isinstance(message, RequestApproval):
        return _request(book, message, now)
    if isinstance(message, RecordApprovalDecision):
        return _decide(book, message, now)
    if isinstance(message, WithdrawApprovalRequest):
        return _withdraw(book, message)
    if isinstance(message, CloseApprovalSubject):
        return _close(book, message)
    if isinstance(message, EscalateOverdueApproval):
        return _escalate(book, message, now)
    return state, []


def _refuse_request(
    book: CustomerApprovals, code: ApprovalsReasonCode, reason: str, actor: Actor, request_id: UUID | None
) -> tuple[CustomerApprovals, list[Output]]:
    return book, [
        ApprovalRequestRejected(reason_code=code, reason=reason, attempted_by=actor, request_id=request_id)
    ]


def _request(
    book: CustomerApprovals, cmd: RequestApproval, now: datetime
) -> tuple[CustomerApprovals, list[Output]]:
    if book.request(cmd.request_id) is not None:
        return _refuse_request(
            book,
            ApprovalsReasonCode.DUPLICATE_REQUEST,
            "A request with this id already exists.",
            cmd.actor,
            cmd.request_id,
        )
    # Issue 4: a closed subject takes no more decisions, so it takes no more requests either.
    if book.is_closed(cmd.subject_type, cmd.subject_id):
        return _refuse_request(
            book, ApprovalsReasonCode.SUBJECT_CLOSED, "The subject is closed.", cmd.actor, cmd.request_id
        )
    # One open request per subject: a second would put the same decision on a work list twice.
    for other in book.requests.values():
        if (
            other.status is RequestStatus.PENDING
            and other.subject_type is cmd.subject_type
            and other.subject_id == cmd.subject_id
        ):
            return _refuse_request(
                book,
                ApprovalsReasonCode.DUPLICATE_REQUEST,
                "An open request already exists for this subject.",
                cmd.actor,
                cmd.request_id,
            )
    request = PendingRequest(
        request_id=cmd.request_id,
        subject_type=cmd.subject_type,
        subject_id=cmd.subject_id,
        chain_id=cmd.chain_id,
        required_role=cmd.required_role,
        requested_by=cmd.actor,
        earlier_stage_officer_ids=list(cmd.earlier_stage_officer_ids),
        due_at=cmd.due_at,
        summary=cmd.summary,
        requested_at=now,
        sequence=len(book.requests) + 1,
    )
    new = book.model_copy(update={"requests": {**book.requests, str(cmd.request_id): request}})
    requested = ApprovalRequested(
        request_id=cmd.request_id,
        subject_type=cmd.subject_type,
        subject_id=cmd.subject_id,
        chain_id=cmd.chain_id,
        required_role=cmd.required_role,
        requested_by=cmd.actor,
        due_at=cmd.due_at,
        summary=cmd.summary,
    )
    return new, [requested, escalation_timer(request)]


def _not_open(book: CustomerApprovals, request: PendingRequest) -> tuple[ApprovalsReasonCode, str] | None:
    """Issue 4: a decision on a request already decided or withdrawn, or whose subject is closed,
    changes nothing and is refused with a reason."""
    if request.status in (RequestStatus.ACCEPTED, RequestStatus.REJECTED):
        return ApprovalsReasonCode.ALREADY_DECIDED, "The request has already been decided."
    if book.is_closed(request.subject_type, request.subject_id):
        return ApprovalsReasonCode.SUBJECT_CLOSED, "The subject of the request is closed."
    if request.status is RequestStatus.WITHDRAWN:
        return ApprovalsReasonCode.WITHDRAWN, "The request has been withdrawn."
    return None


def _segregation_breach(
    book: CustomerApprovals, request: PendingRequest, actor: Actor
) -> tuple[ApprovalsReasonCode, str] | None:
    """Issue 4, segregation of duties; seed 000 table 3 (the CSO marks, the Service Manager accepts)."""
    if actor.role not in request.deciding_roles:
        roles = " or ".join(r.value for r in request.deciding_roles)
        return ApprovalsReasonCode.ROLE_NOT_HELD, f"Only {roles} may decide this request."
    if actor.officer_id == request.requested_by.officer_id:
        return ApprovalsReasonCode.SELF_APPROVAL, "The requester may not decide their own request."
    if actor.officer_id in book.earlier_stage_officers(request):
        return (
            ApprovalsReasonCode.ACTED_ON_EARLIER_STAGE,
            "The approver acted on an earlier stage of the same chain.",
        )
    return None


def _decide(
    book: CustomerApprovals, cmd: RecordApprovalDecision, now: datetime
) -> tuple[CustomerApprovals, list[Output]]:
    request = book.request(cmd.request_id)
    if request is None:
        return book, [
            DecisionRejected(
                reason_code=ApprovalsReasonCode.UNKNOWN_REQUEST,
                reason="No such approval request for this customer.",
                attempted_by=cmd.actor,
                request_id=cmd.request_id,
            )
        ]
    refusal = _not_open(book, request) or _segregation_breach(book, request, cmd.actor)
    if refusal is None:
        refusal = _monitoring_days_problem(request, cmd)
    if refusal is not None:
        code, reason = refusal
        entry = AuditEntry(
            at=now,
            request_id=request.request_id,
            officer_id=cmd.actor.officer_id,
            role=cmd.actor.role,
            reason_code=code,
        )
        audited = book.model_copy(update={"audit": [*book.audit, entry][-KEEP_AUDIT:]})
        return audited, [
            DecisionRejected(
                reason_code=code, reason=reason, attempted_by=cmd.actor, request_id=request.request_id
            )
        ]

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
    new = _with(book, decided)
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
    return new, [event]


def _monitoring_days_problem(
    request: PendingRequest, cmd: RecordApprovalDecision
) -> tuple[ApprovalsReasonCode, str] | None:
    """Seed 000 table 5 step 2: "Accept Monitoring up to 90 Days" — the days come with an
    acceptance of MONITORING, and with nothing else (the contract caps them at 90)."""
    wants_days = request.subject_type is SubjectType.MONITORING and cmd.decision is Decision.ACCEPT
    if wants_days and cmd.monitoring_days is None:
        return (
            ApprovalsReasonCode.MONITORING_DAYS_REQUIRED,
            "Accepting monitoring needs the days (at most 90).",
        )
    if not wants_days and cmd.monitoring_days is not None:
        return (
            ApprovalsReasonCode.MONITORING_DAYS_NOT_ALLOWED,
            "Monitoring days are given only when accepting monitoring.",
        )
    return None


def _withdraw(
    book: CustomerApprovals, cmd: WithdrawApprovalRequest
) -> tuple[CustomerApprovals, list[Output]]:
    request = book.request(cmd.request_id)
    if request is None:
        return _refuse_request(
            book, ApprovalsReasonCode.UNKNOWN_REQUEST, "No such approval request.", cmd.actor, cmd.request_id
        )
    refusal = _not_open(book, request)
    if refusal is not None:
        return _refuse_request(book, *refusal, cmd.actor, cmd.request_id)
    # Only the requester withdraws; a requesting service may do it on their behalf as a system actor.
    if cmd.actor.officer_id != request.requested_by.officer_id and cmd.actor.role is not Role.SYSTEM:
        return _refuse_request(
            book,
            ApprovalsReasonCode.NOT_REQUESTER,
            "Only the requester may withdraw a request.",
            cmd.actor,
            cmd.request_id,
        )
    withdrawn = request.model_copy(update={"status": RequestStatus.WITHDRAWN, "withdrawn_reason": cmd.reason})
    return _with(book, withdrawn), [_withdrawn_event(request, cmd.reason, cmd.actor)]


def _close(book: CustomerApprovals, cmd: CloseApprovalSubject) -> tuple[CustomerApprovals, list[Output]]:
    if book.is_closed(cmd.subject_type, cmd.subject_id):
        return _refuse_request(
            book, ApprovalsReasonCode.SUBJECT_CLOSED, "The subject is already closed.", cmd.actor, None
        )
    events: list[Output] = []
    new = book.model_copy(
        update={"closed_subjects": [*book.closed_subjects, subject_key(cmd.subject_type, cmd.subject_id)]}
    )
    # Pending requests on a closed subject are withdrawn: they leave the work lists.
    for request in book.requests.values():
        if (
            request.status is RequestStatus.PENDING
            and request.subject_type is cmd.subject_type
            and request.subject_id == cmd.subject_id
        ):
            new = _with(
                new,
                request.model_copy(
                    update={"status": RequestStatus.WITHDRAWN, "withdrawn_reason": cmd.reason}
                ),
            )
            events.append(_withdrawn_event(request, cmd.reason, cmd.actor))
    events.append(
        ApprovalSubjectClosed(subject_type=cmd.subject_type, subject_id=cmd.subject_id, reason=cmd.reason)
    )
    return new, events


def _escalate(
    book: CustomerApprovals, cmd: EscalateOverdueApproval, now: datetime
) -> tuple[CustomerApprovals, list[Output]]:
    request = book.request(cmd.request_id)
    if request is None:
        return _refuse_request(
            book, ApprovalsReasonCode.UNKNOWN_REQUEST, "No such approval request.", cmd.actor, cmd.request_id
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
        return _refuse_request(
            book, ApprovalsReasonCode.ALREADY_ESCALATED, "Already escalated.", cmd.actor, cmd.request_id
        )
    if now < request.due_at:
        # Fired early (a replica's clock ran ahead): refuse, and arm the timer again.
        rearmed = request.model_copy(update={"timer_rearms": request.timer_rearms + 1})
        new, events = _refuse_request(
            _with(book, rearmed),
            ApprovalsReasonCode.NOT_OVERDUE,
            "The request is not overdue yet.",
            cmd.actor,
            cmd.request_id,
        )
        return new, [*events, escalation_timer(rearmed)]
    escalated = request.model_copy(update={"escalated_at": now})
    return _with(book, escalated), [
        ApprovalEscalated(
            request_id=request.request_id,
            subject_type=request.subject_type,
            subject_id=request.subject_id,
            chain_id=request.chain_id,
            escalated_to_role=ESCALATION_ROLE,
            due_at=request.due_at,
        )
    ]


def _with(book: CustomerApprovals, request: PendingRequest) -> CustomerApprovals:
    return book.model_copy(update={"requests": {**book.requests, str(request.request_id): request}})


def _withdrawn_event(request: PendingRequest, reason: str, actor: Actor) -> ApprovalWithdrawn:
    return ApprovalWithdrawn(
        request_id=request.request_id,
        subject_type=request.subject_type,
        subject_id=request.subject_id,
        chain_id=request.chain_id,
        reason=reason,
        withdrawn_by=actor,
    )
