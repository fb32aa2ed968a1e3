"""Seed 000 tables 2-3: the PS Service Officer records the Case Management Plan (CMP), and the CSO
marks it for the Service Manager's approval (the decision itself: :mod:`.decisions`)."""

from __future__ import annotations

from datetime import datetime

from contracts.catalogue.approvals import SubjectType
from contracts.catalogue.referrals import (
    CMPMarkedForApproval,
    CMPRecorded,
    CoreIssue,
    MarkCMPForApproval,
    RecordCMP,
    ReferralsReasonCode,
    TriggerDetails,
)
from kit.spec import Refused
from services.referrals.domain.referral import acted, asked_by, current
from services.referrals.domain.state import Context, CustomerFile, Decided, Stage


def record_cmp(file: CustomerFile, cmd: RecordCMP, now: datetime, ctx: Context) -> Decided:
    # Seed 000 table 2 / issue 4: "Only after assignment, only by the assigned officer's team."
    if file.referral is None:
        raise Refused(ReferralsReasonCode.NOT_ASSIGNED, "The customer is not assigned to PS.")
    found = current(
        file,
        cmd.referral_id,
        cmd.actor,
        stages=(Stage.ASSIGNED, Stage.CMP_RECORDED, Stage.CMP_RETURNED),
        same_team=True,
    )
    version = found.cmp_version + 1
    core = CoreIssue.model_validate(cmd.core_issue.model_dump())
    trigger = TriggerDetails.model_validate(cmd.trigger.model_dump())
    referral = found.model_copy(
        update={
            "cmp_version": version,
            "core_issue": core,
            "trigger": trigger,
            "stage": Stage.CMP_RECORDED,
            "stage_actors": acted(found, cmd.actor),
        }
    )
    recorded = CMPRecorded(
        referral_id=found.referral_id, actor=cmd.actor, cmp_version=version, core_issue=core, trigger=trigger
    )
    return file.with_referral(referral), [recorded]


def mark_cmp_for_approval(
    file: CustomerFile, cmd: MarkCMPForApproval, now: datetime, ctx: Context
) -> Decided:
    # Seed 000 table 3 step 1: the CSO ticks CMP Approval on the CSO Actions List.
    found = current(file, cmd.referral_id, cmd.actor, stages=(Stage.CMP_RECORDED,), same_team=True)
    summary = f"CMP version {found.cmp_version} of a PS referral, for Service Manager approval"
    asked, request = asked_by(file, found, SubjectType.CMP, cmd.actor, now, ctx, summary)
    marked = CMPMarkedForApproval(
        referral_id=found.referral_id,
        actor=cmd.actor,
        cmp_version=found.cmp_version,
        approval_request_id=request.request_id,
    )
    return asked, [marked, request]
