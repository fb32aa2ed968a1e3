"""Customer ownership and locking (seed 001 tables 1-3), decided purely — the priority rule exhaustively."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from contracts.base import Actor, Message, Role, StaffReference
from contracts.catalogue.referrals import (
    PERSONALISED_SERVICES_AREA,
    CustomerLocked,
    CustomerOwnershipAssigned,
    CustomerOwnershipTransferred,
    CustomerUnlocked,
    EscalateOwnershipDispute,
    LockCustomer,
    LockTargetInput,
    LockTargetKind,
    OwnershipBasis,
    OwnershipDisputeEscalated,
    OwnershipDisputeResolved,
    ReferralsCommandRejected,
    ReferralsReasonCode,
    ResolveOwnershipDispute,
    TransferCustomerOwnership,
    UnlockCustomer,
)
from services.referrals import spec as o
from services.referrals.domain.ownership import LockOtherParent, Ownership, OwnershipConfig
from services.referrals.settings import ReferralsSettings

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PS = PERSONALISED_SERVICES_AREA
LISTABLE = ("OBJECTIONS", "CHANGE_OF_ASSESSMENT", "DEBT")
UNLISTED = ("NEW_CUSTOMERS", "MAINSTREAM")
AREAS = (PS, *LISTABLE[:2], *UNLISTED)


def priority_lists() -> list[tuple[str, ...]]:
    """Every priority list with PS first over the listable areas (16 lists)."""
    return [
        (PS, *rest) for size in range(len(LISTABLE) + 1) for rest in itertools.permutations(LISTABLE, size)
    ]


def arrival_orders(areas: Sequence[str]) -> list[tuple[str, ...]]:
    """Every order in which any non-empty subset of ``areas`` can arrive (325 for five areas)."""
    return [p for size in range(1, len(areas) + 1) for p in itertools.permutations(areas, size)]


def expected_owner(arrived: Sequence[str], priority: Sequence[str]) -> tuple[str, OwnershipBasis] | None:
    """Seed 001 table 1 step 5, written independently of the code under test."""
    for area in priority:
        if area in arrived:
            return area, OwnershipBasis.PRIORITY_AREA
    return (arrived[0], OwnershipBasis.FIRST_SPECIALISED_ISSUE) if arrived else None


def actor(officer_id: str = "CSO-1", role: Role = Role.CSO, team: str = "Objections 1") -> Actor:
    return Actor(
        officer_id=officer_id, role=role, first_name="Alex", site="Hobart", team=team, extension="1234"
    )


CSO = actor()
LEADER = actor("TL-1", Role.TEAM_LEADER, "Leaders")
ONLY_PS = OwnershipConfig(priority=(PS,))


def area_lock(area: str, issue_id: uuid.UUID | None = None, other_parent: str | None = None) -> LockCustomer:
    return LockCustomer(
        actor=CSO,
        issue_id=issue_id or uuid.uuid4(),
        lock_to=LockTargetInput(kind=LockTargetKind.SPECIALIST_AREA, area=area),
        reason="Needs the specialist area",
        other_parent_csid=other_parent,
    )


def officer_lock(other_parent: str | None = None, issue_id: uuid.UUID | None = None) -> LockCustomer:
    return LockCustomer(
        actor=CSO,
        issue_id=issue_id or uuid.uuid4(),
        lock_to=LockTargetInput(kind=LockTargetKind.OFFICER, officer_id="CSO-1"),
        reason="Awaiting evidence",
        other_parent_csid=other_parent,
    )


def arrive(own: Ownership, area: str, priority: Sequence[str]) -> tuple[Ownership, list[Message]]:
    if area == PS:
        return o.ps_joined(own, priority)
    return o.lock(own, area_lock(area), NOW, priority)


def leave(own: Ownership, area: str, priority: Sequence[str]) -> tuple[Ownership, list[Message]]:
    if area == PS:
        return o.ps_left(own, priority)
    new, events = own, []
    for lock in [lk for lk in own.locks if lk.area == area]:
        new, more = o.finalise_issue(new, lock.issue_id, priority)
        events.extend(more)
    return new, events


def assigned(events: Sequence[Message]) -> list[CustomerOwnershipAssigned]:
    return [e for e in events if isinstance(e, CustomerOwnershipAssigned)]


def refusal(events: Sequence[Message]) -> ReferralsReasonCode:
    assert len(events) == 1 and isinstance(events[0], ReferralsCommandRejected), events
    return events[0].reason_code


# -- the priority rule, exhaustively


def test_the_highest_priority_area_else_the_first_specialised_issues_area_owns_in_every_arrival_order() -> (
    None
):
    checked = 0
    for priority in priority_lists():
        for order in arrival_orders(AREAS):
            own = Ownership()
            for step, area in enumerate(order):
                before = own.owner_area
                own, events = arrive(own, area, priority)
                expected = expected_owner(order[: step + 1], priority)
                assert (own.owner_area, own.basis) == expected, (priority, order, step)
                changes = assigned(events)
                if before == own.owner_area:
                    assert changes == []
                else:
                    assert [(c.owner_area, c.previous_owner_area) for c in changes] == [
                        (own.owner_area, before)
                    ]
                if PS in order[: step + 1]:
                    assert own.owner_area == PS, "PS always co-ordinates"
                checked += 1
    assert checked == 16 * sum(len(p) for p in arrival_orders(AREAS))


@pytest.mark.parametrize("priority", priority_lists(), ids="-".join)
def test_when_areas_leave_ownership_is_determined_again_among_those_left(priority: tuple[str, ...]) -> None:
    for order in itertools.permutations(AREAS):
        for leaving in (order, tuple(reversed(order)), order[1:] + order[:1]):
            own = Ownership()
            for area in order:
                own, _ = arrive(own, area, priority)
            remaining = list(order)
            for area in leaving:
                own, _ = leave(own, area, priority)
                remaining.remove(area)
                assert (own.owner_area, own.basis) == (expected_owner(remaining, priority) or (None, None))
            assert own.areas() == [] and own.owner_area is None


def test_determine_owner_ranks_unlisted_areas_after_listed_ones_and_alike() -> None:
    assert o.rank("DEBT", (PS, "DEBT")) == 1 and o.rank("MAINSTREAM", (PS, "DEBT")) == 2
    assert o.determine_owner([], (PS,)) is None
    assert o.determine_owner(["MAINSTREAM", "NEW_CUSTOMERS"], (PS,)) == (
        "MAINSTREAM",
        OwnershipBasis.FIRST_SPECIALISED_ISSUE,
    )
    assert o.determine_owner(["MAINSTREAM", "DEBT", PS], (PS, "DEBT")) == (PS, OwnershipBasis.PRIORITY_AREA)


def test_a_second_issue_of_the_owning_area_changes_nothing_about_ownership() -> None:
    own, _ = arrive(Ownership(), "DEBT", (PS,))
    own, events = o.lock(own, area_lock("DEBT"), NOW, (PS,))
    assert [type(e) for e in events] == [CustomerLocked]
    own, events = leave(own, "MAINSTREAM", (PS,))
    assert events == [] and own.owner_area == "DEBT"


def test_the_priority_list_must_start_with_personalised_services() -> None:
    with pytest.raises(ValidationError):
        ReferralsSettings(ownership_priority=("OBJECTIONS", PS))
    with pytest.raises(ValidationError):
        ReferralsSettings(ownership_priority=(PS, "DEBT", "DEBT"))
    assert ReferralsSettings(ownership_priority=(PS, "DEBT")).ownership_priority == (PS, "DEBT")


# -- moving ownership: agreement and the Team Leader

CONFIG = OwnershipConfig(
    priority=(PS, "OBJECTIONS"),
    area_teams={
        "OBJECTIONS": frozenset({"Objections 1"}),
        "DEBT": frozenset({"Debt 2"}),
        PS: frozenset({"PS 1"}),
    },
)


def transfer(to_area: str, by: Actor = CSO) -> TransferCustomerOwnership:
    agreed = StaffReference(first_name="Sam", site="Parramatta", team="Debt 2", extension="3310")
    return TransferCustomerOwnership(actor=by, to_area=to_area, agreed_with=agreed, reason="Better outcome")


def owned_by_objections_with_debt() -> Ownership:
    own, _ = arrive(Ownership(), "DEBT", CONFIG.priority)
    own, _ = arrive(own, "OBJECTIONS", CONFIG.priority)
    assert own.owner_area == "OBJECTIONS"
    return own


def test_ownership_moves_by_agreement_of_the_owning_area() -> None:
    own, events = o.transfer(owned_by_objections_with_debt(), transfer("DEBT"), CONFIG)
    moved = events[0]
    assert isinstance(moved, CustomerOwnershipTransferred)
    assert (moved.from_area, moved.to_area, moved.basis) == ("OBJECTIONS", "DEBT", OwnershipBasis.AGREEMENT)
    assert (own.owner_area, own.basis) == ("DEBT", OwnershipBasis.AGREEMENT)


def test_an_agreed_owner_keeps_ownership_unless_a_higher_priority_area_arrives() -> None:
    own, _ = o.transfer(owned_by_objections_with_debt(), transfer("DEBT"), CONFIG)
    own, events = arrive(own, "MAINSTREAM", CONFIG.priority)
    assert assigned(events) == [] and own.owner_area == "DEBT"
    own, events = arrive(own, PS, CONFIG.priority)
    assert [(c.owner_area, c.previous_owner_area) for c in assigned(events)] == [(PS, "DEBT")]


def test_when_the_agreed_owner_has_no_issues_left_ownership_is_determined_again() -> None:
    own, _ = o.transfer(owned_by_objections_with_debt(), transfer("DEBT"), CONFIG)
    own, events = leave(own, "DEBT", CONFIG.priority)
    assert (own.owner_area, own.basis) == ("OBJECTIONS", OwnershipBasis.PRIORITY_AREA)
    assert [(c.owner_area, c.previous_owner_area) for c in assigned(events)] == [("OBJECTIONS", "DEBT")]


def test_only_the_owning_area_may_agree_a_transfer() -> None:
    _, events = o.transfer(owned_by_objections_with_debt(), transfer("DEBT", by=actor(team="Debt 2")), CONFIG)
    assert refusal(events) is ReferralsReasonCode.NOT_OWNER


def test_ownership_moves_only_to_an_area_with_an_outstanding_issue() -> None:
    _, events = o.transfer(owned_by_objections_with_debt(), transfer("MAINSTREAM"), CONFIG)
    assert refusal(events) is ReferralsReasonCode.UNKNOWN_AREA
    _, events = o.transfer(owned_by_objections_with_debt(), transfer("OBJECTIONS"), CONFIG)
    assert refusal(events) is ReferralsReasonCode.INVALID_STATE


def test_nothing_to_transfer_when_no_area_owns_the_customer() -> None:
    _, events = o.transfer(Ownership(), transfer("DEBT"), CONFIG)
    assert refusal(events) is ReferralsReasonCode.NOT_LOCKED


def test_ps_always_coordinates_so_ownership_never_moves_away_from_a_ps_customer() -> None:
    own, _ = arrive(Ownership(), "DEBT", CONFIG.priority)
    own, _ = arrive(own, PS, CONFIG.priority)
    _, events = o.transfer(own, transfer("DEBT", by=actor(team="PS 1")), CONFIG)
    assert refusal(events) is ReferralsReasonCode.INVALID_STATE
    _, events = o.escalate(
        own, EscalateOwnershipDispute(actor=CSO, areas=(PS, "DEBT"), summary="Both claim it")
    )
    assert refusal(events) is ReferralsReasonCode.INVALID_STATE


def dispute(areas: tuple[str, ...] = ("OBJECTIONS", "DEBT")) -> EscalateOwnershipDispute:
    return EscalateOwnershipDispute(actor=CSO, areas=areas, summary="Both areas claim ownership")


def test_a_dispute_goes_to_the_team_leader_who_decides_the_owner() -> None:
    own, events = o.escalate(owned_by_objections_with_debt(), dispute())
    assert isinstance(events[0], OwnershipDisputeEscalated) and own.dispute_areas == ["OBJECTIONS", "DEBT"]
    _, events = o.escalate(own, dispute())
    assert refusal(events) is ReferralsReasonCode.INVALID_STATE

    _, events = o.resolve(own, ResolveOwnershipDispute(actor=CSO, owner_area="DEBT", reason="x"))
    assert refusal(events) is ReferralsReasonCode.ROLE_NOT_PERMITTED
    _, events = o.resolve(own, ResolveOwnershipDispute(actor=LEADER, owner_area="MAINSTREAM", reason="x"))
    assert refusal(events) is ReferralsReasonCode.UNKNOWN_AREA

    own, events = o.resolve(
        own, ResolveOwnershipDispute(actor=LEADER, owner_area="DEBT", reason="Earliest due")
    )
    assert [type(e) for e in events] == [OwnershipDisputeResolved, CustomerOwnershipTransferred]
    moved = events[1]
    assert (
        isinstance(moved, CustomerOwnershipTransferred) and moved.basis is OwnershipBasis.TEAM_LEADER_DECISION
    )
    assert (own.owner_area, own.basis, own.dispute_areas) == (
        "DEBT",
        OwnershipBasis.TEAM_LEADER_DECISION,
        None,
    )
    _, events = o.resolve(own, ResolveOwnershipDispute(actor=LEADER, owner_area="DEBT", reason="x"))
    assert refusal(events) is ReferralsReasonCode.NO_DISPUTE


def test_a_team_leader_confirming_the_current_owner_moves_nothing() -> None:
    own, _ = o.escalate(owned_by_objections_with_debt(), dispute())
    own, events = o.resolve(
        own, ResolveOwnershipDispute(actor=LEADER, owner_area="OBJECTIONS", reason="Stays")
    )
    assert [type(e) for e in events] == [OwnershipDisputeResolved] and own.owner_area == "OBJECTIONS"


def test_a_dispute_names_involved_areas_and_needs_an_owner() -> None:
    _, events = o.escalate(owned_by_objections_with_debt(), dispute(("OBJECTIONS", "MAINSTREAM")))
    assert refusal(events) is ReferralsReasonCode.UNKNOWN_AREA
    _, events = o.escalate(Ownership(), dispute())
    assert refusal(events) is ReferralsReasonCode.NOT_LOCKED


# -- locking and unlocking


def test_an_issue_is_locked_once() -> None:
    issue = uuid.uuid4()
    own, _ = o.lock(Ownership(), officer_lock(issue_id=issue), NOW, (PS,))
    _, events = o.lock(own, officer_lock(issue_id=issue), NOW, (PS,))
    assert refusal(events) is ReferralsReasonCode.ALREADY_LOCKED


def test_an_issue_needing_both_parents_locks_the_other_parent_to_the_same_officer() -> None:
    own, events = o.lock(Ownership(), officer_lock(other_parent="987654321"), NOW, (PS,))
    assert [type(e) for e in events] == [CustomerLocked, LockOtherParent]
    other = events[1]
    assert (
        isinstance(other, LockOtherParent)
        and other.csid == "987654321"
        and other.MESSAGE_TYPE == "LockCustomer"
    )
    assert other.lock_to.kind is LockTargetKind.OFFICER and other.lock_to.officer_id == "CSO-1"
    assert other.other_parent_csid is None and "csid" not in other.model_dump()
    assert own.locked and own.owner_area is None


def test_a_parent_already_locked_to_a_specialist_area_brings_the_shared_issue_to_that_area() -> None:
    own, _ = arrive(Ownership(), "OBJECTIONS", (PS,))
    own, events = o.lock(own, officer_lock(other_parent="987654321"), NOW, (PS,))
    locked = events[0]
    other = events[-1]
    assert isinstance(locked, CustomerLocked) and isinstance(other, LockOtherParent)
    assert (locked.lock_to.kind, locked.lock_to.area) == (LockTargetKind.SPECIALIST_AREA, "OBJECTIONS")
    assert (other.lock_to.kind, other.lock_to.area) == (LockTargetKind.SPECIALIST_AREA, "OBJECTIONS")


def test_a_customer_is_unlocked_only_when_no_specialised_issue_remains_outstanding() -> None:
    _, events = o.unlock(Ownership(), UnlockCustomer(actor=CSO, reason="Done"), ONLY_PS)
    assert refusal(events) is ReferralsReasonCode.NOT_LOCKED

    specialised = uuid.uuid4()
    own, _ = o.lock(Ownership(), officer_lock(), NOW, (PS,))
    own, _ = o.lock(own, area_lock("DEBT", specialised), NOW, (PS,))
    _, events = o.unlock(own, UnlockCustomer(actor=CSO, reason="Done"), ONLY_PS)
    assert refusal(events) is ReferralsReasonCode.SPECIALISED_ISSUES_OUTSTANDING

    own, events = o.finalise_issue(own, specialised, (PS,))
    assert own.locked and own.owner_area is None
    own, events = o.unlock(own, UnlockCustomer(actor=CSO, reason="All issues finalised"), ONLY_PS)
    assert isinstance(events[0], CustomerUnlocked) and not own.locked


def test_finalising_an_unknown_issue_changes_nothing() -> None:
    own, _ = o.lock(Ownership(), officer_lock(), NOW, (PS,))
    after, events = o.finalise_issue(own, uuid.uuid4(), (PS,))
    assert events == [] and after == own
