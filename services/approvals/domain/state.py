"""One customer's approvals: the aggregate's state (frozen), and what its rules return or raise.

One aggregate per customer (the envelope's CSID, which is also the Kafka key, so one customer's
approval traffic is processed in order): every request made about that customer, the subjects
closed, and an audit trail of refused decisions.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Actor, Message, Role
from contracts.catalogue.approvals import ApprovalsReasonCode, SubjectType
from kit.timers import Deferred

#: Issue 4: "Due times: durable timers … escalate overdue requests to a Team Leader."
ESCALATION_ROLE = Role.TEAM_LEADER


class RequestStatus(StrEnum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"


class _State(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class PendingRequest(_State):
    """One approval request and what became of it."""

    request_id: UUID
    subject_type: SubjectType
    subject_id: str
    chain_id: str
    required_role: Role
    requested_by: Actor
    earlier_stage_officer_ids: tuple[str, ...] = ()
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


class AuditEntry(_State):
    """A refused decision: who tried, on what, and why it was refused (issue 4: "audited")."""

    at: datetime
    request_id: UUID
    officer_id: str
    role: Role
    reason_code: ApprovalsReasonCode


class CustomerApprovals(_State):
    """The aggregate: everything approvals knows about one customer."""

    requests: dict[str, PendingRequest] = Field(default_factory=dict)
    closed_subjects: tuple[str, ...] = ()
    audit: tuple[AuditEntry, ...] = ()

    def request(self, request_id: UUID) -> PendingRequest | None:
        return self.requests.get(str(request_id))

    def is_closed(self, subject_type: SubjectType, subject_id: str) -> bool:
        return subject_key(subject_type, subject_id) in self.closed_subjects

    def pending_on(self, subject_type: SubjectType, subject_id: str) -> list[PendingRequest]:
        """The requests about this subject still awaiting a decision."""
        return [
            r
            for r in self.requests.values()
            if r.status is RequestStatus.PENDING
            and r.subject_type is subject_type
            and r.subject_id == subject_id
        ]

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

    def with_request(self, request: PendingRequest) -> CustomerApprovals:
        """This state with ``request`` added, or replacing the one with its id."""
        return self.model_copy(update={"requests": {**self.requests, str(request.request_id): request}})


def subject_key(subject_type: SubjectType, subject_id: str) -> str:
    return f"{subject_type.value}:{subject_id}"


Output = Message | Deferred
Decided = tuple[CustomerApprovals, list[Output]]
"""What a rule returns: the new state and its outputs (events, commands and durable timers)."""
