"""The Service Manager's decisions on what a PS referral asked (seed 000 tables 3, 5 and 6;
issue 4), as approvals reports them: ``ApprovalAccepted`` and ``ApprovalRejected`` of the PS
subjects only (the spec's ``accepts`` leaves every other subject alone).

A decision on anything but the request the referral waits for (stale, or another referral's)
changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from contracts.base import Actor
from contracts.catalogue.approvals import (
    ApprovalAccepted,
    ApprovalRejected,
    CloseApprovalSubject,
    SubjectType,
)
from contracts.catalogue.referrals import (
    CMPAccepted,
    CMPReturnedToRecording,
    CustomerTransferredOutOfPS,
    TransferMonitoringDeclined,
    TransferMonitoringStarted,
    TransferOutOfPSDeclined,
)
from services.referrals.domain import ownership
from services.referrals.domain.state import AWAITING, Context, CustomerFile, Decided, Referral, Stage
from services.referrals.domain.transfer_out import monitoring_timer

#: Seed 000 table 5 step 2: "Accept Monitoring up to 90 Days".
MAX_MONITORING_DAYS = 90
SERVICE_ACTOR = Actor.system("referrals")

Answer = ApprovalAccepted | ApprovalRejected
"""The Service Manager's answer to a request, as approvals reports it."""


def approval_decided(file: CustomerFile, event: Answer, now: datetime, ctx: Context) -> Decided:
    referral = file.referral
    # A decision on anything but the request the referral waits for (stale, or another referral's)
    # changes nothing.
    if (
        referral is None
        or referral.pending_request_id != event.request_id
        or referral.stage is not AWAITING[event.subject_type]
    ):
        return file, []
    base = {
        "referral_id": referral.referral_id,
        "actor": event.decided_by,
        "approval_request_id": event.request_id,
    }
    settled = referral.model_copy(update={"pending_request_id": None})
    subject = event.subject_type
    if subject is SubjectType.CMP:
        return _cmp_decided(file, settled, event, base)
    if subject is SubjectType.MONITORING:
        return _monitoring_decided(file, settled, event, base, now)
    # TRANSFER (seed 000 table 6) or MONITORING_EXPIRY (issue 4, interpreted alike).
    if isinstance(event, ApprovalRejected):
        # Seed 000 table 6: rejected — the customer stays active in PS.
        active = settled.model_copy(update={"stage": Stage.PLAN_ACTIVE})
        return file.with_referral(active), [TransferOutOfPSDeclined(**base, decision_reason=event.reason)]
    return _leave_ps(file, settled, base, now, ctx)


def _cmp_decided(file: CustomerFile, settled: Referral, event: Answer, base: dict[str, Any]) -> Decided:
    if isinstance(event, ApprovalAccepted):
        # Seed 000 table 3 step 2: accepted — the PS plan is active.
        active = settled.model_copy(update={"stage": Stage.PLAN_ACTIVE})
        return file.with_referral(active), [CMPAccepted(**base, cmp_version=settled.cmp_version)]
    # Issue 4: rejected — back to recording.
    returned = settled.model_copy(update={"stage": Stage.CMP_RETURNED})
    return file.with_referral(returned), [CMPReturnedToRecording(**base, decision_reason=event.reason)]


def _monitoring_decided(
    file: CustomerFile, settled: Referral, event: Answer, base: dict[str, Any], now: datetime
) -> Decided:
    if isinstance(event, ApprovalAccepted):
        # Seed 000 table 5 step 2: monitoring for up to 90 days; the customer stays in PS.
        days = min(event.monitoring_days or MAX_MONITORING_DAYS, MAX_MONITORING_DAYS)
        ends = now + timedelta(days=days)
        monitored = settled.model_copy(
            update={
                "stage": Stage.MONITORING,
                "monitoring_days": days,
                "monitoring_ends_at": ends,
                "monitoring_timers": settled.monitoring_timers + 1,
                "monitoring_rearms": 0,
            }
        )
        started = TransferMonitoringStarted(**base, monitoring_days=days, monitoring_ends_at=ends)
        return file.with_referral(monitored), [started, monitoring_timer(monitored)]
    active = settled.model_copy(update={"stage": Stage.PLAN_ACTIVE})
    return file.with_referral(active), [TransferMonitoringDeclined(**base, decision_reason=event.reason)]


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
