"""Customer ownership and locking (seed 001 tables 1-3): the state and its rules, pure.

Vocabulary:

* A **lock** ties one outstanding issue of the customer to an officer or to a specialist area
  (seed 001 table 2 step 8). A lock to a specialist area is a **specialised issue** of that area.
* **Areas involved** are the specialist areas of the outstanding specialised issues, plus
  Personalised Services while the customer is in PS, in the order they first arrived.
* The **owner** is the one area that coordinates the customer (seed 001 table 1 steps 5-7).

Rules:

* Seed 001 table 1 step 5: with several areas involved, the highest area on the configurable
  priority list owns the customer; if none of them is on the list, the area where the first
  specialised issue arrived owns it. ``determine_owner`` is that rule.
* A newly arriving area takes ownership only if it outranks the current owner on the list; when
  the owning area's last issue goes, ownership is determined again among the areas left. With no
  transfer by agreement, the owner is therefore always ``determine_owner(areas involved)``.
* Seed 001 table 1 step 6: ownership moves between areas by agreement, or by the Team Leader's
  decision when the areas cannot agree. Step 7: "where a customer is managed by PS, PS will
  always co-ordinate" — PS heads the priority list (settings enforce it) and ownership never moves
  away from PS while the customer is in PS.
* Seed 001 table 2 step 8: an issue that needs both parents locks both to the same target; "if …
  one party is already locked to a specialist area, the issue will be managed by that specialist
  area" (applied by the parent who receives the lock request; see docs/services/referrals.md).
* Seed 001 table 3 steps 3-4: the customer is unlocked only when no specialised issue remains
  outstanding.
* Issue 20, locks restrict: a locked issue is finalised, and the customer unlocked, only by the
  officer or an officer of the area they are locked to, or by the Team Leader while an ownership
  dispute is escalated (``may_release``); ownership is transferred only by the owning area.
* Seed 001 table 1 step 6: "customers must not be advised of, or involved in, discussions about
  ownership" — none of these events is ever sent to a customer.

The functions here work on :class:`Ownership` alone and refuse by raising ``kit.spec.Refused``;
:mod:`.locking` holds the rules of the ownership commands on the customer's file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field, PrivateAttr

from contracts.base import Actor, Message, Role
from contracts.catalogue.referrals import (
    PERSONALISED_SERVICES_AREA,
    CustomerLocked,
    CustomerLockReleased,
    CustomerOwnershipAssigned,
    CustomerOwnershipTransferred,
    CustomerUnlocked,
    EscalateOwnershipDispute,
    LockCustomer,
    LockTarget,
    LockTargetInput,
    LockTargetKind,
    OwnershipBasis,
    OwnershipDisputeEscalated,
    OwnershipDisputeResolved,
    ReferralsReasonCode,
    ReleaseParentLock,
    ResolveOwnershipDispute,
    SpecialisedIssueNoticeRequired,
    SpecialistAreaConsultationRequested,
    TransferCustomerOwnership,
    UnlockCustomer,
)
from kit.spec import Refused
from services.referrals.domain.base import Frozen

PS = PERSONALISED_SERVICES_AREA


@dataclass(frozen=True)
class OwnershipConfig:
    """The configurable parts: the priority list (PS first) and which teams speak for which area."""

    priority: tuple[str, ...] = (PS,)
    area_teams: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def area_of_team(self, team: str) -> set[str]:
        return {area for area, teams in self.area_teams.items() if team in teams}


class Lock(Frozen):
    """One outstanding issue's lock."""

    issue_id: UUID
    target: LockTarget
    reason: str
    locked_at: datetime
    seq: int
    #: The other parent locked for the same issue (seed 001 table 2 step 8), if any.
    other_parent_csid: str | None = None

    @property
    def area(self) -> str | None:
        return self.target.area if self.target.kind is LockTargetKind.SPECIALIST_AREA else None


class Ownership(Frozen):
    """A customer's locks and ownership."""

    locks: list[Lock] = Field(default_factory=list)
    ps_since: int | None = Field(default=None, description="Arrival sequence of PS; None = not in PS.")
    owner_area: str | None = None
    basis: OwnershipBasis | None = None
    dispute_areas: list[str] | None = None
    seq: int = 0

    @property
    def locked(self) -> bool:
        return bool(self.locks)

    def areas(self) -> list[str]:
        """Areas involved, in the order they first arrived."""
        arrivals = [(lock.seq, lock.area) for lock in self.locks if lock.area is not None]
        if self.ps_since is not None:
            arrivals.append((self.ps_since, PS))
        seen: list[str] = []
        for _, area in sorted(arrivals):
            if area not in seen:
                seen.append(area)
        return seen

    def specialised_outstanding(self) -> list[Lock]:
        return [lock for lock in self.locks if lock.area is not None]

    def lock_for(self, issue_id: UUID) -> Lock | None:
        return next((lock for lock in self.locks if lock.issue_id == issue_id), None)


# --------------------------------------------------------------------------------------------
# The ownership rule
# --------------------------------------------------------------------------------------------


def rank(area: str, priority: Sequence[str]) -> int:
    """Position on the priority list; every unlisted area ranks after all listed ones, all alike."""
    return priority.index(area) if area in priority else len(priority)


def determine_owner(areas: Sequence[str], priority: Sequence[str]) -> tuple[str, OwnershipBasis] | None:
    """Seed 001 table 1 step 5: the highest-priority area involved, else where the first specialised
    issue arrived (``areas`` in arrival order)."""
    if not areas:
        return None
    listed = [a for a in areas if a in priority]
    if listed:
        return min(listed, key=lambda a: rank(a, priority)), OwnershipBasis.PRIORITY_AREA
    return areas[0], OwnershipBasis.FIRST_SPECIALISED_ISSUE


def settle(
    own: Ownership, priority: Sequence[str], newcomer: str | None = None
) -> tuple[Ownership, list[Message]]:
    """Ownership after the areas involved changed (``newcomer`` = an area that just arrived)."""
    areas = own.areas()
    if not areas:
        return own.model_copy(update={"owner_area": None, "basis": None, "dispute_areas": None}), []
    current = own.owner_area
    if current is not None and current in areas:
        if newcomer is None or newcomer == current or rank(newcomer, priority) >= rank(current, priority):
            return own, []
        decided: tuple[str, OwnershipBasis] | None = (newcomer, OwnershipBasis.PRIORITY_AREA)
    else:
        decided = determine_owner(areas, priority)
    assert decided is not None
    area, basis = decided
    new = own.model_copy(update={"owner_area": area, "basis": basis})
    return new, [CustomerOwnershipAssigned(owner_area=area, basis=basis, previous_owner_area=current)]


def ps_joined(own: Ownership, priority: Sequence[str]) -> tuple[Ownership, list[Message]]:
    """Seed 001 table 1 step 7: the customer is now managed by PS, which always coordinates."""
    if own.ps_since is not None:
        return own, []
    joined = own.model_copy(update={"ps_since": own.seq + 1, "seq": own.seq + 1})
    return settle(joined, priority, PS)


def ps_left(own: Ownership, priority: Sequence[str]) -> tuple[Ownership, list[Message]]:
    """The customer left PS: ownership is determined again among the areas left."""
    if own.ps_since is None:
        return own, []
    return settle(own.model_copy(update={"ps_since": None}), priority)


def holds(lock: Lock, actor: Actor, config: OwnershipConfig) -> bool:
    """Whether ``actor`` is the officer, or an officer of the area, the lock is to."""
    if lock.target.kind is LockTargetKind.OFFICER:
        return lock.target.officer_id == actor.officer_id
    return lock.target.area in config.area_of_team(actor.team)


def may_release(own: Ownership, lock: Lock, actor: Actor, config: OwnershipConfig) -> bool:
    """Issue 20, locks restrict (seed 001): a customer locked to an officer or area is released
    only by them — table 2 step 8: "make sure both customers are locked to the same Service
    Officer"; "If the issue needs to be managed by a specialist area, refer the customer(s)" — or
    by the Team Leader in a recorded escalation (table 1 step 6: "If agreement about customer
    ownership cannot be reached, escalate the issue to the Team Leader")."""
    if holds(lock, actor, config):
        return True
    return actor.role is Role.TEAM_LEADER and own.dispute_areas is not None


def finalise_issue(
    own: Ownership, issue_id: UUID, priority: Sequence[str]
) -> tuple[Ownership, list[Message]]:
    """Seed 001 table 3 steps 1-2: an issue is finalised, so its lock goes (for issue 9's FinaliseIssue).

    The customer stays locked while other issues remain; ``unlock`` does the unlocking (step 4).
    """
    remaining = [lock for lock in own.locks if lock.issue_id != issue_id]
    if len(remaining) == len(own.locks):
        return own, []
    return settle(own.model_copy(update={"locks": remaining}), priority)


# --------------------------------------------------------------------------------------------
# The ownership and locking commands, on the customer's ownership alone
# --------------------------------------------------------------------------------------------


class LockOtherParent(LockCustomer):
    """A ``LockCustomer`` for the *other* parent (seed 001 table 2 step 8).

    Work-around: the kit keys an outgoing message by its ``csid`` attribute, else by the cause's
    CSID, and ``LockCustomer`` has no CSID field. This subclass carries the other parent's CSID as
    a private attribute (never serialised), so the command is keyed and enveloped for them.
    """

    MESSAGE_TYPE: ClassVar[str] = "LockCustomer"
    _csid: str = PrivateAttr(default="")

    @property
    def csid(self) -> str:
        return self._csid

    @classmethod
    def for_customer(
        cls, csid: str, cmd: LockCustomer, target: LockTargetInput, first: str | None
    ) -> LockOtherParent:
        message = cls(
            actor=cmd.actor, issue_id=cmd.issue_id, lock_to=target, reason=cmd.reason, first_parent_csid=first
        )
        message._csid = csid
        return message


class ReleaseFirstParent(ReleaseParentLock):
    """A ``ReleaseParentLock`` keyed by the parent locked first (the same work-around)."""

    MESSAGE_TYPE: ClassVar[str] = "ReleaseParentLock"
    _csid: str = PrivateAttr(default="")

    @property
    def csid(self) -> str:
        return self._csid

    @classmethod
    def for_customer(cls, first: str, other: str, cmd: LockCustomer, code: str) -> ReleaseFirstParent:
        reason = f"The other parent's lock was refused: {code}"
        message = cls(actor=cmd.actor, issue_id=cmd.issue_id, other_parent_csid=other, reason=reason)
        message._csid = first
        return message


Decided = tuple[Ownership, list[Message]]


def lock(
    own: Ownership, cmd: LockCustomer, now: datetime, priority: Sequence[str], csid: str | None = None
) -> Decided:
    """Seed 001 table 2 step 8: lock the customer for an issue that can't be resolved in real time.

    ``csid`` is this customer's: the other parent's lock names it, to be released if refused."""
    if own.lock_for(cmd.issue_id) is not None:
        raise Refused(ReferralsReasonCode.ALREADY_LOCKED, "The issue already has a lock.")
    target = LockTarget.model_validate(cmd.lock_to.model_dump())
    if cmd.other_parent_csid is not None and own.owner_area is not None:
        # "If both parents need to be locked for the same issue and one party is already locked to
        # a specialist area, the issue will be managed by that specialist area."
        target = LockTarget(kind=LockTargetKind.SPECIALIST_AREA, area=own.owner_area)
    seq = own.seq + 1
    other = cmd.other_parent_csid or cmd.first_parent_csid
    entry = Lock(
        issue_id=cmd.issue_id,
        target=target,
        reason=cmd.reason,
        locked_at=now,
        seq=seq,
        other_parent_csid=other,
    )
    locked = own.model_copy(update={"locks": [*own.locks, entry], "seq": seq})
    events: list[Message] = [
        CustomerLocked(
            issue_id=cmd.issue_id,
            lock_to=target,
            reason=cmd.reason,
            other_parent_csid=cmd.other_parent_csid,
            actor=cmd.actor,
        )
    ]
    new, owned = settle(locked, priority, entry.area) if entry.area is not None else (locked, [])
    events.extend(owned)
    events.extend(subsequent_issue(own, new, entry, cmd))
    if cmd.other_parent_csid is not None:
        # "make sure both customers are locked to the same Service Officer" (or area).
        same = LockTargetInput(kind=target.kind, officer_id=target.officer_id, area=target.area)
        events.append(LockOtherParent.for_customer(cmd.other_parent_csid, cmd, same, csid))
    return new, events


def subsequent_issue(before: Ownership, after: Ownership, entry: Lock, cmd: LockCustomer) -> list[Message]:
    """Seed 001 table 1 step 7: "When retaining customer ownership and a second (or subsequent)
    specialised issue arises, tell the customers … consult with the other specialist area to
    determine the best way to manage the customer" (and "where a customer is managed by PS, PS will
    always co-ordinate the liaison"). A specialised issue of an area not yet involved, arriving
    while another area is: the owner tells the customer (a communication task), and the area
    that does not own the customer (the newcomer, or the owner it displaced) is consulted."""
    involved = before.areas()
    area, owner = entry.area, after.owner_area
    if area is None or owner is None or not involved or area in involved:
        return []
    consulted = area if owner != area else before.owner_area
    events: list[Message] = [
        SpecialisedIssueNoticeRequired(
            issue_id=entry.issue_id, specialist_area=area, owner_area=owner, actor=cmd.actor
        )
    ]
    if consulted is not None and consulted != owner:
        events.append(
            SpecialistAreaConsultationRequested(
                issue_id=entry.issue_id, consulted_area=consulted, owner_area=owner, actor=cmd.actor
            )
        )
    return events


def release(own: Ownership, cmd: ReleaseParentLock, priority: Sequence[str]) -> Decided:
    """Seed 001 table 2 step 8: "make sure both customers are locked to the same Service Officer" —
    the other parent's lock for the issue was refused, so this parent's lock for it goes too, with
    the refusal as the recorded reason (the compensation of a both-parents lock)."""
    held = own.lock_for(cmd.issue_id)
    if held is None or held.other_parent_csid != cmd.other_parent_csid:
        raise Refused(ReferralsReasonCode.NOT_LOCKED, "No lock for the issue shared with that parent.")
    remaining = [lock for lock in own.locks if lock.issue_id != cmd.issue_id]
    new, owned = settle(own.model_copy(update={"locks": remaining}), priority)
    released = CustomerLockReleased(
        issue_id=cmd.issue_id, other_parent_csid=cmd.other_parent_csid, reason=cmd.reason, actor=cmd.actor
    )
    return new, [released, *owned]


def _ps_coordinates(own: Ownership) -> bool:
    return own.ps_since is not None and own.owner_area == PS


def transfer(own: Ownership, cmd: TransferCustomerOwnership, config: OwnershipConfig) -> Decided:
    """Seed 001 table 1 step 6: ownership moves to another area by agreement."""
    if own.owner_area is None:
        raise Refused(ReferralsReasonCode.NOT_LOCKED, "No area owns the customer.")
    if own.owner_area not in config.area_of_team(cmd.actor.team):
        raise Refused(ReferralsReasonCode.NOT_OWNER, "Only the owning area may agree a transfer.")
    if _ps_coordinates(own):
        raise Refused(ReferralsReasonCode.INVALID_STATE, "PS always co-ordinates a PS customer.")
    if cmd.to_area not in own.areas():
        raise Refused(ReferralsReasonCode.UNKNOWN_AREA, "The area has no outstanding issue.")
    if cmd.to_area == own.owner_area:
        raise Refused(ReferralsReasonCode.INVALID_STATE, "The area already owns the customer.")
    new = own.model_copy(update={"owner_area": cmd.to_area, "basis": OwnershipBasis.AGREEMENT})
    return new, [
        CustomerOwnershipTransferred(
            from_area=own.owner_area,
            to_area=cmd.to_area,
            basis=OwnershipBasis.AGREEMENT,
            reason=cmd.reason,
            actor=cmd.actor,
        )
    ]


def escalate(own: Ownership, cmd: EscalateOwnershipDispute) -> Decided:
    """Seed 001 table 1 step 6: "If agreement … cannot be reached, escalate the issue to the Team Leader"."""
    if own.owner_area is None:
        raise Refused(ReferralsReasonCode.NOT_LOCKED, "No area owns the customer.")
    if own.dispute_areas is not None:
        raise Refused(ReferralsReasonCode.INVALID_STATE, "A dispute is already escalated.")
    if _ps_coordinates(own):
        raise Refused(ReferralsReasonCode.INVALID_STATE, "PS always co-ordinates a PS customer.")
    involved = own.areas()
    if any(area not in involved for area in cmd.areas) or len(set(cmd.areas)) < 2:
        raise Refused(ReferralsReasonCode.UNKNOWN_AREA, "Name two or more involved areas.")
    new = own.model_copy(update={"dispute_areas": list(dict.fromkeys(cmd.areas))})
    return new, [OwnershipDisputeEscalated(areas=cmd.areas, summary=cmd.summary, actor=cmd.actor)]


def resolve(own: Ownership, cmd: ResolveOwnershipDispute) -> Decided:
    """Seed 001 table 1 step 6: the Team Leader decides which disputing area owns the customer."""
    if cmd.actor.role is not Role.TEAM_LEADER:
        raise Refused(ReferralsReasonCode.ROLE_NOT_PERMITTED, "Only a Team Leader resolves it.")
    if own.dispute_areas is None:
        raise Refused(ReferralsReasonCode.NO_DISPUTE, "No ownership dispute is escalated.")
    if cmd.owner_area not in own.dispute_areas or cmd.owner_area not in own.areas():
        raise Refused(ReferralsReasonCode.UNKNOWN_AREA, "The area is not one in dispute.")
    events: list[Message] = [
        OwnershipDisputeResolved(owner_area=cmd.owner_area, reason=cmd.reason, actor=cmd.actor)
    ]
    update: dict[str, object] = {"dispute_areas": None}
    if cmd.owner_area != own.owner_area:
        assert own.owner_area is not None
        update |= {"owner_area": cmd.owner_area, "basis": OwnershipBasis.TEAM_LEADER_DECISION}
        events.append(
            CustomerOwnershipTransferred(
                from_area=own.owner_area,
                to_area=cmd.owner_area,
                basis=OwnershipBasis.TEAM_LEADER_DECISION,
                reason=cmd.reason,
                actor=cmd.actor,
            )
        )
    return own.model_copy(update=update), events


def unlock(own: Ownership, cmd: UnlockCustomer, config: OwnershipConfig) -> Decided:
    """Seed 001 table 3 steps 3-4: unlock only when no specialised issue remains outstanding.

    The officer-level locks go with the unlock (their issues are finalised within the unlocking
    officer's scope, step 2); specialised issues are finalised one by one (issue 9's FinaliseIssue).
    """
    if not own.locked:
        raise Refused(ReferralsReasonCode.NOT_LOCKED, "The customer is not locked.")
    if own.specialised_outstanding():
        raise Refused(
            ReferralsReasonCode.SPECIALISED_ISSUES_OUTSTANDING, "Specialised issues are outstanding."
        )
    # Issue 20, locks restrict: table 3 step 2 "Finalise all issues within scope" — the unlocking
    # officer's scope is the locks to them; one to another officer is theirs to release.
    if not all(may_release(own, lock, cmd.actor, config) for lock in own.locks):
        raise Refused(ReferralsReasonCode.NOT_OWNER, "The customer is locked to another officer.")
    new, events = settle(own.model_copy(update={"locks": []}), config.priority)
    return new, [CustomerUnlocked(reason=cmd.reason, actor=cmd.actor), *events]
