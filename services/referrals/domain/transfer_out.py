"""Seed 000 tables 5-6: transfer out of PS — the referral, monitoring for up to 90 days and its
durable timer, the transfer actioned (the Service Manager's decisions: :mod:`.decisions`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from contracts.base import Actor, Role
from contracts.catalogue.approvals import SubjectType
from contracts.catalogue.referrals import (
    ActionTransferOutOfPS,
    ExpireTransferMonitoring,
    ReferCustomerForTransferOutOfPS,
    TransferMonitoringExpired,
    TransferOutOfPSActioned,
    TransferOutOfPSReferred,
)
from kit.timers import Deferred
from services.referrals.domain.referral import ask, asked_by, current
from services.referrals.domain.state import Context, CustomerFile, Decided, Referral, Stage

#: A monitoring timer that fires early (clock skew) is armed again this long after the end.
REARM_GRACE = timedelta(seconds=1)
TIMER_ACTOR = Actor.system("referrals-monitoring")


def refer_customer_for_transfer_out_of_ps(
    file: CustomerFile, cmd: ReferCustomerForTransferOutOfPS, now: datetime, ctx: Context
) -> Decided:
    # Seed 000 table 5 step 1: the CSO refers the customer for transfer (the PS plan is active).
    found = current(file, cmd.referral_id, cmd.actor, stages=(Stage.PLAN_ACTIVE,), same_team=True)
    summary = "PS transfer referral: accept monitoring for up to 90 days"
    asked, request = asked_by(file, found, SubjectType.MONITORING, cmd.actor, now, ctx, summary)
    referred = TransferOutOfPSReferred(
        referral_id=found.referral_id,
        actor=cmd.actor,
        reason=cmd.reason,
        approval_request_id=request.request_id,
    )
    return asked, [referred, request]


def action_transfer_out_of_ps(
    file: CustomerFile, cmd: ActionTransferOutOfPS, now: datetime, ctx: Context
) -> Decided:
    # Seed 000 table 5 step 3: the CSO actions the transfer — only while monitoring runs.
    found = current(file, cmd.referral_id, cmd.actor, stages=(Stage.MONITORING,), same_team=True)
    summary = "PS transfer actioned: accept or reject the transfer out of PS"
    asked, request = asked_by(file, found, SubjectType.TRANSFER, cmd.actor, now, ctx, summary)
    actioned = TransferOutOfPSActioned(
        referral_id=found.referral_id, actor=cmd.actor, approval_request_id=request.request_id
    )
    return asked, [actioned, request]


def monitoring_timer(referral: Referral) -> Deferred:
    """The durable timer that ends monitoring (seed 000 table 5 step 2: up to 90 days)."""
    assert referral.monitoring_ends_at is not None
    command = ExpireTransferMonitoring(
        actor=TIMER_ACTOR, referral_id=referral.referral_id, monitoring_ends_at=referral.monitoring_ends_at
    )
    due = referral.monitoring_ends_at + REARM_GRACE * referral.monitoring_rearms
    return Deferred(command, due, f"monitoring:{referral.referral_id}:{referral.monitoring_timers}")


def expire_transfer_monitoring(
    file: CustomerFile, cmd: ExpireTransferMonitoring, now: datetime, ctx: Context
) -> Decided:
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
        return file, []
    if now < cmd.monitoring_ends_at:
        # Fired early (a replica's clock ran ahead): arm it again, change nothing else.
        again = referral.model_copy(
            update={
                "monitoring_timers": referral.monitoring_timers + 1,
                "monitoring_rearms": referral.monitoring_rearms + 1,
            }
        )
        return file.with_referral(again), [monitoring_timer(again)]
    summary = "PS monitoring ended without the transfer being actioned: transfer out of PS?"
    asked, request = ask(referral, SubjectType.MONITORING_EXPIRY, cmd.actor, now, ctx, summary)
    expired = TransferMonitoringExpired(
        referral_id=referral.referral_id,
        actor=cmd.actor,
        monitoring_ends_at=cmd.monitoring_ends_at,
        approval_request_id=request.request_id,
        work_list_role=Role.SERVICE_MANAGER,
    )
    return file.with_referral(asked), [expired, request]
