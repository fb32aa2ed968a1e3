"""Seed 000 tables 2-3: the PS Service Officer records the Customer Management Plan (CMP) — its
Core Issue (a description, the internal referral type, the stacking document's date) and its
Trigger (segment and reason) — and the CSO marks it for the Service Manager's approval (the
decision itself: :mod:`.decisions`)."""

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
    core = CoreIssue.model_validate(cmd.core_issue.model_dump())
    # Seed 000 table 2 step 2: "Select the Core Issue - Record internal referral type": the type
    # the Service Manager chose at assignment (table 1 step 3: "Other - for all personalised
    # services referrals, or Associate - for associates of an existing personalised services
    # customer"), so an ASSOCIATE CMP on an OTHER referral (or the reverse) is refused.
    if core.internal_referral_type is not found.referral_type:
        raise Refused(
            ReferralsReasonCode.REFERRAL_TYPE_MISMATCH,
            f"The referral is a {found.referral_type.value} referral.",
        )
    # Seed 000 table 2 step 2: "Record the date of the Personalised Services stacking document" —
    # a date that names one of the referral's stacking documents (table 4), on the agency calendar.
    dated = core.stacking_document_date
    if dated is not None and not any(
        doc.referral_id == found.referral_id and doc.created_at.astimezone(ctx.cma.timezone).date() == dated
        for doc in file.documents.values()
    ):
        raise Refused(
            ReferralsReasonCode.UNKNOWN_DOCUMENT, f"The referral has no stacking document dated {dated}."
        )
    version = found.cmp_version + 1
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
