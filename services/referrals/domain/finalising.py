"""Seed 001 tables 1-3: an interaction is finalised (with its MCA outcome where one is required),
and an issue is finalised — its lock goes, and the customer is unlocked when no lock remains
(seed 001 table 3)."""

from __future__ import annotations

from datetime import datetime

from contracts.catalogue.referrals import (
    CustomerUnlocked,
    FinaliseInteraction,
    FinaliseIssue,
    InteractionFinalised,
    IssueFinalised,
    ReferralsReasonCode,
)
from kit.spec import Refused
from services.referrals.domain import ownership
from services.referrals.domain.base import Output
from services.referrals.domain.intake import (
    Issue,
    IssueFinalisation,
    by,
    mca_required,
    open_contact,
    pruned,
    with_contact,
    with_issue,
)
from services.referrals.domain.state import Context, CustomerFile, Decided


def finalise_interaction(
    file: CustomerFile, cmd: FinaliseInteraction, now: datetime, ctx: Context
) -> Decided:
    contact = open_contact(file.intake, cmd.contact_id)
    # Issue 9's rule (mca_required), documented in docs/services/referrals.md.
    outcome = contact.mca.outcome
    if outcome is None and mca_required(contact):
        raise Refused(
            ReferralsReasonCode.MCA_OUTCOME_REQUIRED,
            "Record the Minimum Collection Activity outcome (COMPLETED, or NOT_REQUIRED and why) first.",
        )
    finalised = contact.model_copy(update={"finalised_at": now, "finalised_by": cmd.actor.officer_id})
    done = InteractionFinalised(
        contact_id=cmd.contact_id, actor=cmd.actor, mca_status=outcome.status if outcome else None
    )
    return file.with_intake(pruned(with_contact(file.intake, finalised))), [done]


# --------------------------------------------------------------------------------------------
# Seed 001 table 3: finalise issues and unlock
# --------------------------------------------------------------------------------------------


def finalise_issue(file: CustomerFile, cmd: FinaliseIssue, now: datetime, ctx: Context) -> Decided:
    issue = file.intake.issues.get(str(cmd.issue_id))
    lock = file.ownership.lock_for(cmd.issue_id)
    if issue is not None and issue.finalised:
        raise Refused(ReferralsReasonCode.ISSUE_ALREADY_FINALISED, "The issue is already finalised.")
    if issue is None and lock is None:
        raise Refused(ReferralsReasonCode.UNKNOWN_ISSUE, "No such outstanding issue for this customer.")
    # Issue 20, locks restrict (seed 001 table 2 step 8): "If the issue needs to be managed by a
    # specialist area, refer the customer(s)" — a locked issue is finalised by the officer or area
    # it is locked to, or by the Team Leader in a recorded escalation (table 1 step 6).
    if lock is not None and not ownership.may_release(file.ownership, lock, cmd.actor, ctx.ownership):
        raise Refused(ReferralsReasonCode.NOT_OWNER, "The issue is locked to another officer or area.")
    # Step 1: "If a customer does not agree with the decision, discuss appropriate options
    # relevant to the decision" (review, objection) — at least one is recorded.
    if not cmd.customer_agrees and not cmd.options_explained:
        raise Refused(
            ReferralsReasonCode.OPTIONS_NOT_EXPLAINED,
            "The customer disagrees: record the options explained (review, objection).",
        )
    options = tuple(dict.fromkeys(cmd.options_explained))
    finalisation = IssueFinalisation(
        customer_agrees=cmd.customer_agrees, options_explained=options, note=cmd.note, **by(cmd.actor, now)
    )
    if issue is None:
        # An issue locked by a LockCustomer sent outside the intake is finalised here too.
        assert lock is not None
        issue = Issue(issue_id=cmd.issue_id, identified_at=lock.locked_at)
    intake = pruned(with_issue(file.intake, issue.model_copy(update={"finalisation": finalisation})))
    # Steps 2-3: the issue's lock goes and ownership is determined again among the areas left;
    # step 4: with no lock left the customer is unlocked, else other issues keep them locked.
    own, owned = ownership.finalise_issue(file.ownership, cmd.issue_id, ctx.ownership.priority)
    events: list[Output] = [
        IssueFinalised(
            issue_id=cmd.issue_id,
            customer_agrees=cmd.customer_agrees,
            options_explained=options,
            note=cmd.note,
            specialised_issues_outstanding=len(own.specialised_outstanding()),
            actor=cmd.actor,
        ),
        *owned,
    ]
    if file.ownership.locked and not own.locked:
        events.append(CustomerUnlocked(reason="All issues finalised", actor=cmd.actor))
    return file.with_intake(intake, own), events
