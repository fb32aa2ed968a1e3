"""What the CSO's steps on a PS referral share (seed 000 tables 2-6): the checks that the command
fits the customer's current referral, and asking approvals for the Service Manager's decision."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from contracts.base import Actor, Role
from contracts.catalogue.approvals import RequestApproval, SubjectType
from contracts.catalogue.referrals import ReferralsReasonCode
from kit.spec import Refused
from services.referrals.domain.state import AWAITING, Context, CustomerFile, Referral, Stage


def current(
    file: CustomerFile, referral_id: UUID, actor: Actor, *, stages: Sequence[Stage], same_team: bool
) -> Referral:
    """The customer's current referral if the command fits it, else the refusal."""
    referral = file.referral
    if referral is None:
        raise Refused(ReferralsReasonCode.NOT_IN_PS, "The customer is not in PS.")
    if referral.referral_id != referral_id:
        raise Refused(ReferralsReasonCode.UNKNOWN_REFERRAL, "Not the customer's current PS referral.")
    if same_team and actor.team != referral.team:
        raise Refused(ReferralsReasonCode.NOT_ASSIGNED_TEAM, "Only the assigned officer's team may do this.")
    if referral.stage not in stages:
        raise Refused(
            ReferralsReasonCode.INVALID_STATE, f"Not possible while the referral is {referral.stage.value}."
        )
    return referral


def acted(referral: Referral, actor: Actor) -> list[str]:
    """The officers who acted on the CSO's side, ``actor`` included (segregation of duties)."""
    if actor.officer_id in referral.stage_actors or actor.role is Role.SYSTEM:
        return referral.stage_actors
    return [*referral.stage_actors, actor.officer_id]


def ask(
    referral: Referral,
    subject: SubjectType,
    actor: Actor,
    now: datetime,
    ctx: Context,
    summary: str,
) -> tuple[Referral, RequestApproval]:
    """Ask approvals for the Service Manager's decision; the request id is derived, so a re-decided
    message asks with the same id."""
    number = referral.requests_made + 1
    request_id = uuid.uuid5(referral.referral_id, f"approval-{number}")
    earlier = [o for o in referral.stage_actors if o != actor.officer_id][-20:]
    request = RequestApproval(
        actor=actor,
        request_id=request_id,
        subject_type=subject,
        subject_id=str(referral.referral_id),
        chain_id=str(referral.referral_id),
        earlier_stage_officer_ids=tuple(earlier),
        required_role=Role.SERVICE_MANAGER,
        due_at=now + ctx.approval_due,
        summary=summary,
    )
    asked = referral.model_copy(
        update={
            "requests_made": number,
            "pending_request_id": request_id,
            "subjects_requested": list(dict.fromkeys([*referral.subjects_requested, subject])),
            "stage": AWAITING[subject],
        }
    )
    return asked, request


def asked_by(
    file: CustomerFile,
    referral: Referral,
    subject: SubjectType,
    actor: Actor,
    now: datetime,
    ctx: Context,
    summary: str,
) -> tuple[CustomerFile, RequestApproval]:
    """A CSO's step that asks for a decision: the referral waits for it, the CSO has acted on it."""
    asked, request = ask(referral, subject, actor, now, ctx, summary)
    asked = asked.model_copy(update={"stage_actors": acted(referral, actor)})
    return file.with_referral(asked), request
