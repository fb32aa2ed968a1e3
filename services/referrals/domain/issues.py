"""Seed 001 table 1 steps 2-3: presenting issues (common ones managed at the point of entry,
specialised ones referred to their area, which locks the customer), external referrals, and
errors identified with internal feedback."""

from __future__ import annotations

from datetime import datetime

from contracts.catalogue.referrals import (
    ExternalReferralRecorded,
    IdentifiedErrorRecorded,
    IdentifyPresentingIssue,
    LockCustomer,
    LockTargetInput,
    LockTargetKind,
    OfficerFeedbackSent,
    PresentingIssueIdentified,
    RecordExternalReferral,
    RecordIdentifiedError,
    ReferralsReasonCode,
    SpecialisedIssueReferred,
)
from kit.spec import Refused
from services.referrals.domain import ownership
from services.referrals.domain.base import Output
from services.referrals.domain.intake import (
    ExternalReferral,
    IdentifiedError,
    IntrayItem,
    Issue,
    by,
    open_contact,
    open_intray_item,
    with_contact,
    with_intray_item,
    with_issue,
)
from services.referrals.domain.state import Context, CustomerFile, Decided

# --------------------------------------------------------------------------------------------
# Seed 001 table 1 step 2: presenting issues
# --------------------------------------------------------------------------------------------


def identify_presenting_issue(
    file: CustomerFile, cmd: IdentifyPresentingIssue, now: datetime, ctx: Context
) -> Decided:
    contact = open_contact(file.intake, cmd.contact_id)
    item: IntrayItem | None = None
    if contact.intray_item_id is not None:
        item = open_intray_item(file.intake, contact.intray_item_id)
    if str(cmd.issue_id) in file.intake.issues or file.ownership.lock_for(cmd.issue_id) is not None:
        raise Refused(ReferralsReasonCode.INVALID_STATE, "The issue id was used before.")
    kind = ctx.cma.catalogue.get(cmd.issue_code)
    if kind is None:
        raise Refused(ReferralsReasonCode.UNKNOWN_ISSUE_CODE, "The issue code is not in the catalogue.")
    issue = Issue(
        issue_id=cmd.issue_id,
        contact_id=cmd.contact_id,
        intray_item_id=contact.intray_item_id,
        issue_code=cmd.issue_code,
        issue_class=kind.issue_class,
        specialist_area=kind.specialist_area,
        note=cmd.note,
        identified_at=now,
    )
    intake = with_issue(file.intake, issue)
    intake = with_contact(
        intake, contact.model_copy(update={"issue_ids": [*contact.issue_ids, cmd.issue_id]})
    )
    if item is not None:
        intake = with_intray_item(
            intake, item.model_copy(update={"issue_ids": [*item.issue_ids, cmd.issue_id]})
        )
    events: list[Output] = [
        PresentingIssueIdentified(
            contact_id=cmd.contact_id,
            actor=cmd.actor,
            issue_id=cmd.issue_id,
            issue_code=cmd.issue_code,
            issue_class=kind.issue_class,
            specialist_area=kind.specialist_area,
            intray_item_id=contact.intray_item_id,
        )
    ]
    if kind.specialist_area is None:
        # "Issues must be managed at the point of entry wherever possible": a common issue stays
        # with the officer; one that can't be resolved in real time is locked (table 2 step 8).
        return file.with_intake(intake), events
    # A specialised issue is referred to its specialist area: the customer is locked to that area
    # for the issue, which feeds the ownership rule (table 1 step 5).
    area = kind.specialist_area
    events.append(
        SpecialisedIssueReferred(
            contact_id=cmd.contact_id,
            actor=cmd.actor,
            issue_id=cmd.issue_id,
            issue_code=cmd.issue_code,
            specialist_area=area,
        )
    )
    lock = LockCustomer(
        actor=cmd.actor,
        issue_id=cmd.issue_id,
        lock_to=LockTargetInput(kind=LockTargetKind.SPECIALIST_AREA, area=area),
        reason=f"Specialised issue {cmd.issue_code} referred to {area}",
    )
    own, locked = ownership.lock(file.ownership, lock, now, ctx.ownership.priority)
    return file.with_intake(intake, own), [*events, *locked]


def record_external_referral(
    file: CustomerFile, cmd: RecordExternalReferral, now: datetime, ctx: Context
) -> Decided:
    # "If a customer presents a non-child support related issue, consider if an external referral
    # is appropriate" — an option of the Customer Support/Referral Guide (configurable).
    contact = open_contact(file.intake, cmd.contact_id)
    if cmd.referral_type not in ctx.cma.external_referral_types:
        raise Refused(ReferralsReasonCode.UNKNOWN_REFERRAL_TYPE, "Not an option of the referral guide.")
    referral = ExternalReferral(referral_type=cmd.referral_type, note=cmd.note, **by(cmd.actor, now))
    referred = contact.model_copy(update={"external_referrals": [*contact.external_referrals, referral]})
    recorded = ExternalReferralRecorded(
        contact_id=cmd.contact_id, actor=cmd.actor, referral_type=cmd.referral_type, note=cmd.note
    )
    return file.with_intake(with_contact(file.intake, referred)), [recorded]


# --------------------------------------------------------------------------------------------
# Seed 001 table 1 step 3: error identified
# --------------------------------------------------------------------------------------------


def record_identified_error(
    file: CustomerFile, cmd: RecordIdentifiedError, now: datetime, ctx: Context
) -> Decided:
    contact = open_contact(file.intake, cmd.contact_id)
    if any(e.error_id == cmd.error_id for c in file.intake.contacts.values() for e in c.errors):
        raise Refused(ReferralsReasonCode.INVALID_STATE, "The error id was used before.")
    # "Internal Feedback": feedback goes to the previous Service Officer, so they must be named.
    if cmd.feedback is not None and cmd.made_by_officer_id is None:
        raise Refused(ReferralsReasonCode.FEEDBACK_NEEDS_OFFICER, "Name the officer the feedback is for.")
    error = IdentifiedError(
        error_id=cmd.error_id,
        description=cmd.description,
        made_by_officer_id=cmd.made_by_officer_id,
        feedback_sent=cmd.feedback is not None,
        **by(cmd.actor, now),
    )
    noted = contact.model_copy(update={"errors": [*contact.errors, error]})
    events: list[Output] = [
        IdentifiedErrorRecorded(
            contact_id=cmd.contact_id,
            actor=cmd.actor,
            error_id=cmd.error_id,
            description=cmd.description,
            made_by_officer_id=cmd.made_by_officer_id,
        )
    ]
    if cmd.feedback is not None and cmd.made_by_officer_id is not None:
        events.append(
            OfficerFeedbackSent(
                error_id=cmd.error_id,
                to_officer_id=cmd.made_by_officer_id,
                feedback=cmd.feedback,
                actor=cmd.actor,
            )
        )
    return file.with_intake(with_contact(file.intake, noted)), events
