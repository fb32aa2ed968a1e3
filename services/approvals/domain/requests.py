"""Requests (issue 4; seed 000 tables 3, 5 and 6): asking for a decision, withdrawing the
request, and closing its subject.
"""

from __future__ import annotations

from datetime import datetime

from contracts.base import Actor, Role
from contracts.catalogue.approvals import (
    ApprovalRequested,
    ApprovalsReasonCode,
    ApprovalSubjectClosed,
    ApprovalWithdrawn,
    CloseApprovalSubject,
    RequestApproval,
    WithdrawApprovalRequest,
)
from kit.spec import Refused
from services.approvals.domain.due_times import escalation_timer
from services.approvals.domain.state import (
    CustomerApprovals,
    Decided,
    Output,
    PendingRequest,
    RequestStatus,
    subject_key,
)


def request_approval(book: CustomerApprovals, cmd: RequestApproval, now: datetime, facts: None) -> Decided:
    if book.request(cmd.request_id) is not None:
        raise Refused(
            ApprovalsReasonCode.DUPLICATE_REQUEST,
            "A request with this id already exists.",
            request_id=cmd.request_id,
        )
    # Issue 4: a closed subject takes no more decisions, so it takes no more requests either.
    if book.is_closed(cmd.subject_type, cmd.subject_id):
        raise Refused(ApprovalsReasonCode.SUBJECT_CLOSED, "The subject is closed.", request_id=cmd.request_id)
    # One open request per subject: a second would put the same decision on a work list twice.
    if book.pending_on(cmd.subject_type, cmd.subject_id):
        raise Refused(
            ApprovalsReasonCode.DUPLICATE_REQUEST,
            "An open request already exists for this subject.",
            request_id=cmd.request_id,
        )
    request = PendingRequest(
        request_id=cmd.request_id,
        subject_type=cmd.subject_type,
        subject_id=cmd.subject_id,
        chain_id=cmd.chain_id,
        required_role=cmd.required_role,
        requested_by=cmd.actor,
        earlier_stage_officer_ids=tuple(cmd.earlier_stage_officer_ids),
        due_at=cmd.due_at,
        summary=cmd.summary,
        requested_at=now,
        sequence=len(book.requests) + 1,
    )
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
    return book.with_request(request), [requested, escalation_timer(request)]


def ensure_open(book: CustomerApprovals, request: PendingRequest) -> None:
    """Issue 4: a decision on a request already decided or withdrawn, or whose subject is closed,
    changes nothing and is refused with a reason (checked in this order)."""
    concerned = request.request_id
    if request.status in (RequestStatus.ACCEPTED, RequestStatus.REJECTED):
        raise Refused(
            ApprovalsReasonCode.ALREADY_DECIDED, "The request has already been decided.", request_id=concerned
        )
    if book.is_closed(request.subject_type, request.subject_id):
        raise Refused(
            ApprovalsReasonCode.SUBJECT_CLOSED, "The subject of the request is closed.", request_id=concerned
        )
    if request.status is RequestStatus.WITHDRAWN:
        raise Refused(ApprovalsReasonCode.WITHDRAWN, "The request has been withdrawn.", request_id=concerned)


def withdraw_approval_request(
    book: CustomerApprovals, cmd: WithdrawApprovalRequest, now: datetime, facts: None
) -> Decided:
    request = book.request(cmd.request_id)
    if request is None:
        raise Refused(
            ApprovalsReasonCode.UNKNOWN_REQUEST, "No such approval request.", request_id=cmd.request_id
        )
    ensure_open(book, request)
    # Only the requester withdraws; a requesting service may do it on their behalf as a system actor.
    if cmd.actor.officer_id != request.requested_by.officer_id and cmd.actor.role is not Role.SYSTEM:
        raise Refused(
            ApprovalsReasonCode.NOT_REQUESTER,
            "Only the requester may withdraw a request.",
            request_id=cmd.request_id,
        )
    withdrawn = request.model_copy(update={"status": RequestStatus.WITHDRAWN, "withdrawn_reason": cmd.reason})
    return book.with_request(withdrawn), [withdrawn_event(request, cmd.reason, cmd.actor)]


def close_approval_subject(
    book: CustomerApprovals, cmd: CloseApprovalSubject, now: datetime, facts: None
) -> Decided:
    if book.is_closed(cmd.subject_type, cmd.subject_id):
        raise Refused(ApprovalsReasonCode.SUBJECT_CLOSED, "The subject is already closed.")
    closed = subject_key(cmd.subject_type, cmd.subject_id)
    new = book.model_copy(update={"closed_subjects": (*book.closed_subjects, closed)})
    events: list[Output] = []
    # Pending requests on a closed subject are withdrawn: they leave the work lists.
    for request in book.pending_on(cmd.subject_type, cmd.subject_id):
        withdrawn = request.model_copy(
            update={"status": RequestStatus.WITHDRAWN, "withdrawn_reason": cmd.reason}
        )
        new = new.with_request(withdrawn)
        events.append(withdrawn_event(request, cmd.reason, cmd.actor))
    events.append(
        ApprovalSubjectClosed(subject_type=cmd.subject_type, subject_id=cmd.subject_id, reason=cmd.reason)
    )
    return new, events


def withdrawn_event(request: PendingRequest, reason: str, actor: Actor) -> ApprovalWithdrawn:
    return ApprovalWithdrawn(
        request_id=request.request_id,
        subject_type=request.subject_type,
        subject_id=request.subject_id,
        chain_id=request.chain_id,
        reason=reason,
        withdrawn_by=actor,
    )
