"""approvals service: requests, decisions with segregation of duties, due-time escalation (issue 4).

Other services ask for a decision by sending :class:`RequestApproval` to
``casemesh.approvals.commands.v1`` and learn the outcome from ``casemesh.approvals.events.v1``
(:class:`ApprovalAccepted`, :class:`ApprovalRejected`, :class:`ApprovalEscalated`,
:class:`ApprovalWithdrawn`). ``subject_type`` tells each consumer which decisions are theirs:
referrals reads CMP / MONITORING / TRANSFER / MONITORING_EXPIRY, notifications reads MSP and
SMS_AUTHORISATION.

Note the two kinds of "rejected": :class:`ApprovalRejected` is a *decision* (the approver said
no); :class:`DecisionRejected` and :class:`ApprovalRequestRejected` are *refusals* of a command
(a :class:`~contracts.base.Rejection`, e.g. segregation of duties was violated).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from contracts.base import ACTOR_EXAMPLE, Actor, Code, Command, Event, Rejection, Role, ShortText

REQUEST_ID_EXAMPLE = "5f0c7a52-93c4-4d0a-8a8e-2a4c1d7e9b10"
REFERRAL_ID_EXAMPLE = "c1a7d3f0-5b8e-4c62-9f0e-7d2b6a9e1c44"


class SubjectType(StrEnum):
    """What is to be approved."""

    CMP = "CMP"  # Seed 000 table 3: Service Manager accepts the Customer Management Plan
    MONITORING = "MONITORING"  # Seed 000 table 5 step 2: accept monitoring up to 90 days
    TRANSFER = "TRANSFER"  # Seed 000 table 6: accept or reject the transfer out of PS
    # Seed 000 table 5 step 2 + issue 4: monitoring ran out without the transfer being actioned;
    # the case goes onto the Service Manager's work list for a decision.
    MONITORING_EXPIRY = "MONITORING_EXPIRY"
    MSP = "MSP"  # Seed 002: an approved Managed Service Plan starts the contact workflow
    SMS_AUTHORISATION = "SMS_AUTHORISATION"  # Seed 002 step 2: an approved decision maker authorises an SMS


class Decision(StrEnum):
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"


class ApprovalsReasonCode(StrEnum):
    """Why the approvals service refused a command."""

    # Issue 16: the command's actor is not a verified identity (kit/identity.py): no valid token
    # from the identity provider in the x-casemesh-identity header, or one naming someone else.
    UNAUTHENTICATED = "UNAUTHENTICATED"
    ACTOR_MISMATCH = "ACTOR_MISMATCH"
    # Segregation of duties (issue 4): the approver must hold the required role…
    ROLE_NOT_HELD = "ROLE_NOT_HELD"
    # …must not be the requester…
    SELF_APPROVAL = "SELF_APPROVAL"
    # …and must not have acted on an earlier stage of the same chain (seed 000 table 3: the CSO
    # who marked the CMP for approval cannot also accept it as Service Manager).
    ACTED_ON_EARLIER_STAGE = "ACTED_ON_EARLIER_STAGE"
    # A decision on a request already decided, withdrawn, or whose subject is closed changes nothing.
    ALREADY_DECIDED = "ALREADY_DECIDED"
    WITHDRAWN = "WITHDRAWN"
    SUBJECT_CLOSED = "SUBJECT_CLOSED"
    UNKNOWN_REQUEST = "UNKNOWN_REQUEST"
    DUPLICATE_REQUEST = "DUPLICATE_REQUEST"  # an open request already exists for this subject
    # Seed 000 table 5 step 2: monitoring is accepted "up to 90 days" — the days must be given
    # when accepting MONITORING, and only then.
    MONITORING_DAYS_REQUIRED = "MONITORING_DAYS_REQUIRED"
    MONITORING_DAYS_NOT_ALLOWED = "MONITORING_DAYS_NOT_ALLOWED"
    NOT_OVERDUE = "NOT_OVERDUE"  # an escalation timer fired early (clock skew) — nothing changes
    ALREADY_ESCALATED = "ALREADY_ESCALATED"
    NOT_REQUESTER = "NOT_REQUESTER"  # only the requester may withdraw a request


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


class RequestApproval(Command):
    """Ask for a decision. ``actor`` is the officer asking (e.g. the CSO who marked the CMP)."""

    request_id: UUID = Field(
        description="New id for this request, chosen by the sender.", examples=[REQUEST_ID_EXAMPLE]
    )
    subject_type: SubjectType = Field(description="What is to be approved.", examples=["CMP"])
    subject_id: Code = Field(
        description="Id of the thing to approve in the sender's service (for PS: the referral id).",
        examples=[REFERRAL_ID_EXAMPLE],
    )
    chain_id: Code = Field(
        description=(
            "Groups the stages of one process (e.g. a PS referral's CMP, monitoring and transfer). "
            "Anyone who acted on an earlier stage of the chain may not decide a later one."
        ),
        examples=[REFERRAL_ID_EXAMPLE],
    )
    earlier_stage_officer_ids: tuple[Code, ...] = Field(
        default=(),
        max_length=20,
        description="Officers who acted on earlier stages outside the approvals service (also barred).",
        examples=[["EMP10442"]],
    )
    required_role: Role = Field(description="The role the approver must hold.", examples=["SERVICE_MANAGER"])
    due_at: AwareDatetime = Field(
        description="When the request becomes overdue and is escalated to a Team Leader.",
        examples=["2025-03-14T17:00:00+11:00"],
    )
    summary: ShortText = Field(
        description="What the approver is asked to decide, without personal data.",
        examples=["CMP for PS referral ready for Service Manager approval"],
    )


class RecordApprovalDecision(Command):
    """Accept or reject a request, with a reason. ``actor`` is the approver."""

    EXAMPLE: ClassVar[dict[str, Any]] = {
        "actor": {**ACTOR_EXAMPLE, "officer_id": "EMP40001", "role": "SERVICE_MANAGER", "first_name": "Ana"},
        "monitoring_days": None,  # only when accepting MONITORING
    }

    request_id: UUID = Field(description="The request being decided.", examples=[REQUEST_ID_EXAMPLE])
    decision: Decision = Field(description="Accept or reject.", examples=["ACCEPT"])
    reason: ShortText = Field(
        description="Why — shown to the requester.", examples=["Plan addresses the core issue."]
    )
    monitoring_days: int | None = Field(
        default=None,
        ge=1,
        le=90,
        description="Only when accepting MONITORING: days of monitoring, at most 90 (seed 000 t5 s2).",
        examples=[90],
    )


class WithdrawApprovalRequest(Command):
    """The requester (or the requesting service on their behalf) withdraws a pending request."""

    request_id: UUID = Field(description="The request to withdraw.", examples=[REQUEST_ID_EXAMPLE])
    reason: ShortText = Field(description="Why it is withdrawn.", examples=["Referral entered in error."])


class CloseApprovalSubject(Command):
    """The subject no longer exists (e.g. the customer left PS): pending requests on it are withdrawn
    and later decisions on it are refused with SUBJECT_CLOSED."""

    subject_type: SubjectType = Field(description="Type of the closed subject.", examples=["TRANSFER"])
    subject_id: Code = Field(description="Id of the closed subject.", examples=[REFERRAL_ID_EXAMPLE])
    reason: ShortText = Field(description="Why it is closed.", examples=["Customer transferred out of PS."])


class EscalateOverdueApproval(Command):
    """Durable-timer command: the request's due time has passed (actor is ``Actor.system``)."""

    request_id: UUID = Field(description="The overdue request.", examples=[REQUEST_ID_EXAMPLE])
    due_at: AwareDatetime = Field(
        description="The due time the timer was set for (lets a stale timer be told apart).",
        examples=["2025-03-14T17:00:00+11:00"],
    )


COMMANDS: tuple[type[Command], ...] = (
    RequestApproval,
    RecordApprovalDecision,
    WithdrawApprovalRequest,
    CloseApprovalSubject,
    EscalateOverdueApproval,
)

# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


class _ApprovalFact(Event):
    request_id: UUID = Field(description="The approval request.", examples=[REQUEST_ID_EXAMPLE])
    subject_type: SubjectType = Field(description="What the request is about.", examples=["CMP"])
    subject_id: Code = Field(
        description="Id of the subject in its own service.", examples=[REFERRAL_ID_EXAMPLE]
    )
    chain_id: Code = Field(
        description="The chain of stages this request belongs to.", examples=[REFERRAL_ID_EXAMPLE]
    )


class ApprovalRequested(_ApprovalFact):
    """A request is pending; it appears on the work list of ``required_role``."""

    required_role: Role = Field(description="The role the approver must hold.", examples=["SERVICE_MANAGER"])
    requested_by: Actor = Field(description="Who asked.", examples=[ACTOR_EXAMPLE])
    due_at: AwareDatetime = Field(
        description="When it becomes overdue.", examples=["2025-03-14T17:00:00+11:00"]
    )
    summary: ShortText = Field(description="What is to be decided.", examples=["CMP ready for approval"])


class ApprovalAccepted(_ApprovalFact):
    """The approver accepted."""

    decided_by: Actor = Field(description="The approver.", examples=[ACTOR_EXAMPLE])
    reason: ShortText = Field(
        description="The approver's reason.", examples=["Plan addresses the core issue."]
    )
    monitoring_days: int | None = Field(
        default=None, description="For MONITORING: days of monitoring accepted (≤ 90).", examples=[90]
    )


class ApprovalRejected(_ApprovalFact):
    """The approver rejected (a decision — not a refusal of a command)."""

    decided_by: Actor = Field(description="The approver.", examples=[ACTOR_EXAMPLE])
    reason: ShortText = Field(description="The approver's reason.", examples=["Trigger details incomplete."])


class ApprovalWithdrawn(_ApprovalFact):
    """The request was withdrawn, or its subject was closed; it leaves the work lists."""

    reason: ShortText = Field(description="Why.", examples=["Referral entered in error."])
    withdrawn_by: Actor = Field(
        description="Who withdrew it or closed the subject.", examples=[ACTOR_EXAMPLE]
    )


class ApprovalEscalated(_ApprovalFact):
    """The due time passed without a decision; the request is now on the Team Leader's work list."""

    escalated_to_role: Role = Field(
        description="Who must now act (issue 4: a Team Leader).", examples=["TEAM_LEADER"]
    )
    due_at: AwareDatetime = Field(
        description="The due time that passed.", examples=["2025-03-14T17:00:00+11:00"]
    )


class ApprovalSubjectClosed(Event):
    """A subject was closed: later decisions on it are refused with SUBJECT_CLOSED."""

    subject_type: SubjectType = Field(description="Type of the closed subject.", examples=["TRANSFER"])
    subject_id: Code = Field(description="Id of the closed subject.", examples=[REFERRAL_ID_EXAMPLE])
    reason: ShortText = Field(description="Why it was closed.", examples=["Customer transferred out of PS."])


class ApprovalRequestRejected(Rejection):
    """Refusal of RequestApproval, WithdrawApprovalRequest, CloseApprovalSubject, EscalateOverdueApproval."""

    # 2: reason_code gained UNAUTHENTICATED and ACTOR_MISMATCH (issue 16); a version 1 payload is
    # a valid version 2 one.
    SCHEMA_VERSION: ClassVar[int] = 2

    @classmethod
    def upgrade_payload(cls, from_version: int, payload: dict[str, Any]) -> dict[str, Any] | None:
        return payload if from_version == 1 else None

    reason_code: ApprovalsReasonCode = Field(
        description="Why it was refused.", examples=["DUPLICATE_REQUEST"]
    )
    request_id: UUID | None = Field(
        default=None, description="The request concerned.", examples=[REQUEST_ID_EXAMPLE]
    )


class DecisionRejected(Rejection):
    """Refusal of a RecordApprovalDecision — also the audit record of a segregation-of-duties breach."""

    # 2: reason_code gained UNAUTHENTICATED and ACTOR_MISMATCH (issue 16); a version 1 payload is
    # a valid version 2 one.
    SCHEMA_VERSION: ClassVar[int] = 2

    @classmethod
    def upgrade_payload(cls, from_version: int, payload: dict[str, Any]) -> dict[str, Any] | None:
        return payload if from_version == 1 else None

    reason_code: ApprovalsReasonCode = Field(
        description="Why the decision was refused.", examples=["SELF_APPROVAL"]
    )
    request_id: UUID = Field(
        description="The request the refused decision was about.", examples=[REQUEST_ID_EXAMPLE]
    )


EVENTS: tuple[type[Event], ...] = (
    ApprovalRequested,
    ApprovalAccepted,
    ApprovalRejected,
    ApprovalWithdrawn,
    ApprovalEscalated,
    ApprovalSubjectClosed,
    ApprovalRequestRejected,
    DecisionRejected,
)
