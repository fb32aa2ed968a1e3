"""Seed 000 table 1: a customer is assigned to PS (and what the customer system told us first).

The facts: the PS teams and their officers (settings), each officer's open PS caseload and, for
an associate referral, whether the named customer is in PS — read just before deciding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from contracts.base import Role
from contracts.catalogue.customers import CustomerRegistered
from contracts.catalogue.referrals import (
    AssignCustomerToPS,
    CustomerAssignedToPS,
    PSReferralType,
    ReferralsReasonCode,
)
from kit.spec import Refused
from services.referrals.domain import ownership
from services.referrals.domain.state import Context, CustomerFacts, CustomerFile, Decided, Referral


def customer_registered(
    file: CustomerFile, event: CustomerRegistered, now: datetime, ctx: Context
) -> Decided:
    # Seed 000 table 4 step 1 needs to know whether the customer is international.
    facts = CustomerFacts(
        is_international=event.is_international,
        site=event.site,
        team=event.team,
        other_parent_csid=event.other_parent_csid,
    )
    return file.model_copy(update={"facts": facts}), []


def choose_officer(officers: Sequence[str], caseloads: Mapping[str, int]) -> str | None:
    """Issue 4: the officer of the team with the fewest open PS customers, ties broken by officer id."""
    if not officers:
        return None
    return min(officers, key=lambda o: (caseloads.get(o, 0), o))


def assign_customer_to_ps(
    file: CustomerFile, cmd: AssignCustomerToPS, now: datetime, ctx: Context
) -> Decided:
    _ensure_assignable(file, cmd, ctx)
    officer = _officer(cmd, ctx)
    referral = Referral(
        referral_id=cmd.referral_id,
        referral_type=cmd.referral_type,
        associate_of_csid=cmd.associate_of_csid,
        team=cmd.team,
        officer_id=officer,
        auto_assigned=cmd.officer_id is None,
        assigned_at=now,
    )
    assigned = CustomerAssignedToPS(
        referral_id=cmd.referral_id,
        actor=cmd.actor,
        referral_type=cmd.referral_type,
        associate_of_csid=cmd.associate_of_csid,
        team=cmd.team,
        officer_id=officer,
        auto_assigned=referral.auto_assigned,
        officer_open_ps_customers=ctx.caseloads.get(officer, 0) + 1,
    )
    # Seed 001 table 1 step 7: PS now coordinates the customer.
    own, owned = ownership.ps_joined(file.ownership, ctx.ownership.priority)
    new = file.model_copy(update={"referral": referral, "ps_officer_id": officer, "ownership": own})
    return new, [assigned, *owned]


def _ensure_assignable(file: CustomerFile, cmd: AssignCustomerToPS, ctx: Context) -> None:
    # Seed 000 table 1 step 1: Management > Personalised Services > Service Manager Allocation.
    if cmd.actor.role is not Role.SERVICE_MANAGER:
        raise Refused(ReferralsReasonCode.ROLE_NOT_PERMITTED, "Only a Service Manager assigns.")
    # Seed 000 table 1 step 1: locate the customer by CSID.
    if not file.known:
        raise Refused(ReferralsReasonCode.UNKNOWN_CUSTOMER, "The customer is not known.")
    if file.referral is not None:
        raise Refused(ReferralsReasonCode.ALREADY_IN_PS, "The customer is already in PS.")
    if any(r.referral_id == cmd.referral_id for r in file.past_referrals):
        raise Refused(ReferralsReasonCode.INVALID_STATE, "The referral id was used before.")
    # Seed 000 table 1 step 3: "Associate - for associates of an existing personalised services customer".
    if cmd.referral_type is PSReferralType.ASSOCIATE and not ctx.associate_in_ps:
        raise Refused(ReferralsReasonCode.ASSOCIATE_NOT_IN_PS, "The named customer is not in PS.")


def _officer(cmd: AssignCustomerToPS, ctx: Context) -> str:
    """Seed 000 table 1 step 4: the PS Service Officer comes from the Stream/Team CSO Workload list."""
    officers = list(ctx.ps_teams.get(cmd.team, ()))
    if cmd.officer_id is not None:
        if cmd.officer_id not in officers:
            raise Refused(ReferralsReasonCode.OFFICER_NOT_IN_TEAM, "The officer is not in the PS team.")
        return cmd.officer_id
    chosen = choose_officer(officers, ctx.caseloads)
    if chosen is None:
        raise Refused(ReferralsReasonCode.NO_OFFICER_AVAILABLE, "The PS team has no officers.")
    return chosen
