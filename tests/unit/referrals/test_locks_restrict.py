"""Issue 20, seed fidelity (seed 001): locks restrict who finalises and unlocks, both parents are
locked or neither, and a second specialised issue asks for a word to the customer and a
consultation with the other area — decided purely, through the referrals decider."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from contracts.base import Actor, Message, Role
from contracts.catalogue.customers import CustomerRegistered
from contracts.catalogue.referrals import (
    PERSONALISED_SERVICES_AREA,
    ContactChannel,
    ContactParty,
    CustomerLocked,
    CustomerLockReleased,
    CustomerUnlocked,
    EscalateOwnershipDispute,
    FinaliseIssue,
    IdentifyPresentingIssue,
    IssueClass,
    IssueFinalised,
    LockCustomer,
    LockTargetInput,
    LockTargetKind,
    RecordCustomerContact,
    ReferralsCommandRejected,
    ReferralsReasonCode,
    ReleaseParentLock,
    SpecialisedIssueNoticeRequired,
    SpecialistAreaConsultationRequested,
    UnlockCustomer,
)
from kit.timers import Deferred
from services.referrals.domain import Context, CustomerFile
from services.referrals.domain.intake import CMAConfig, IssueKind
from services.referrals.domain.ownership import LockOtherParent, OwnershipConfig, ReleaseFirstParent
from services.referrals.spec import decide

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
A, B = "123456789", "987654321"
PS = PERSONALISED_SERVICES_AREA
CTX = Context(
    ownership=OwnershipConfig(
        priority=(PS, "OBJECTIONS"),
        area_teams={"COA": frozenset({"COA 2"}), "OBJECTIONS": frozenset({"Objections 1"})},
    ),
    cma=CMAConfig(
        catalogue={
            "INCOME": IssueKind(issue_class=IssueClass.COMMON),
            "CHANGE_OF_ASSESSMENT": IssueKind(issue_class=IssueClass.SPECIALISED, specialist_area="COA"),
            "SECOND_COA": IssueKind(issue_class=IssueClass.SPECIALISED, specialist_area="COA"),
            "PART_6A_OBJECTION": IssueKind(issue_class=IssueClass.SPECIALISED, specialist_area="OBJECTIONS"),
        }
    ),
)

Outputs = Sequence[Message | Deferred]


def actor(officer_id: str, team: str = "Mainstream 12", role: Role = Role.CSO) -> Actor:
    return Actor(
        officer_id=officer_id, role=role, first_name="Alex", site="Hobart", team=team, extension="1234"
    )


CSO = actor("CSO-1")
OTHER_CSO = actor("CSO-2")
COA_OFFICER = actor("COA-1", team="COA 2", role=Role.SPECIALIST_OFFICER)
OBJECTIONS_OFFICER = actor("OBJ-1", team="Objections 1", role=Role.SPECIALIST_OFFICER)
LEADER = actor("TL-1", team="Leaders", role=Role.TEAM_LEADER)


def run(state: CustomerFile | None, *messages: Any, csid: str = A) -> tuple[CustomerFile, Outputs]:
    out: Outputs = []
    for message in messages:
        new, out = decide(state, message, NOW, dataclasses.replace(CTX, csid=csid))
        assert new is not None
        state = new
    assert state is not None
    return state, out


def kinds(events: Outputs) -> list[str]:
    return [type(e).__name__ for e in events]


def refusal(events: Outputs) -> ReferralsReasonCode:
    rejected = [e for e in events if isinstance(e, ReferralsCommandRejected)]
    assert len(rejected) == 1, events
    return rejected[0].reason_code


def first(events: Outputs, kind: type) -> Any:
    found = [e for e in events if isinstance(e, kind)]
    assert found, events
    return found[0]


def wire(message: Message) -> Any:
    """A command the service sent itself, as it reads it back off its commands topic."""
    return type(message).__mro__[1].model_validate(message.model_dump())


def unchanged(before: CustomerFile, after: CustomerFile) -> bool:
    """A refusal changes nothing but the audit history (issue 4)."""
    return before.model_copy(update={"history": []}) == after.model_copy(update={"history": []})


def known(csid: str = A) -> CustomerFile:
    registered = CustomerRegistered(
        given_name="Jordan",
        family_name="Lee",
        is_international=False,
        is_centrelink_customer=True,
        site="Hobart",
        team="Mainstream 12",
    )
    state, _ = run(None, registered, csid=csid)
    return state


def contact(contact_id: uuid.UUID) -> RecordCustomerContact:
    return RecordCustomerContact(
        actor=CSO,
        contact_id=contact_id,
        channel=ContactChannel.PHONE,
        party=ContactParty.CUSTOMER,
        received_in_area="MAINSTREAM",
    )


def issue(contact_id: uuid.UUID, code: str, issue_id: uuid.UUID | None = None) -> IdentifyPresentingIssue:
    return IdentifyPresentingIssue(
        actor=CSO, contact_id=contact_id, issue_id=issue_id or uuid.uuid4(), issue_code=code
    )


def finalise(issue_id: uuid.UUID, by: Actor) -> FinaliseIssue:
    return FinaliseIssue(actor=by, issue_id=issue_id, customer_agrees=True)


def officer_lock(issue_id: uuid.UUID, other_parent: str | None = None) -> LockCustomer:
    return LockCustomer(
        actor=CSO,
        issue_id=issue_id,
        lock_to=LockTargetInput(kind=LockTargetKind.OFFICER, officer_id="CSO-1"),
        reason="Needs both parents' evidence",
        other_parent_csid=other_parent,
    )


def two_areas() -> tuple[CustomerFile, uuid.UUID, uuid.UUID]:
    contact_id, coa, objection = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    state, _ = run(
        known(),
        contact(contact_id),
        issue(contact_id, "CHANGE_OF_ASSESSMENT", coa),
        issue(contact_id, "PART_6A_OBJECTION", objection),
    )
    return state, coa, objection


# -- locks restrict: finalising and unlocking


def test_an_issue_locked_to_an_area_is_finalised_only_by_that_area_and_a_refusal_changes_nothing() -> None:
    before, _, objection = two_areas()
    after, events = run(before, finalise(objection, COA_OFFICER))
    assert refusal(events) is ReferralsReasonCode.NOT_OWNER
    assert unchanged(before, after)

    _, events = run(before, finalise(objection, OBJECTIONS_OFFICER))
    assert first(events, IssueFinalised).issue_id == objection


def test_an_issue_locked_to_an_officer_is_finalised_only_by_that_officer() -> None:
    issue_id = uuid.uuid4()
    before, _ = run(known(), officer_lock(issue_id))
    after, events = run(before, finalise(issue_id, OTHER_CSO))
    assert refusal(events) is ReferralsReasonCode.NOT_OWNER
    assert unchanged(before, after)
    _, events = run(before, finalise(issue_id, CSO))
    assert kinds(events) == ["IssueFinalised", "CustomerUnlocked"]


def test_a_team_leader_finalises_a_locked_issue_only_in_a_recorded_escalation() -> None:
    state, _, objection = two_areas()
    _, events = run(state, finalise(objection, LEADER))
    assert refusal(events) is ReferralsReasonCode.NOT_OWNER

    escalate = EscalateOwnershipDispute(actor=COA_OFFICER, areas=("COA", "OBJECTIONS"), summary="Both claim")
    state, _ = run(state, escalate)
    _, events = run(state, finalise(objection, LEADER))
    assert first(events, IssueFinalised).actor == LEADER


def test_a_customer_locked_to_an_officer_is_unlocked_only_by_that_officer() -> None:
    before, _ = run(known(), officer_lock(uuid.uuid4()))
    after, events = run(before, UnlockCustomer(actor=OTHER_CSO, reason="Done"))
    assert refusal(events) is ReferralsReasonCode.NOT_OWNER
    assert unchanged(before, after)
    _, events = run(before, UnlockCustomer(actor=LEADER, reason="Done"))
    assert refusal(events) is ReferralsReasonCode.NOT_OWNER

    state, events = run(before, UnlockCustomer(actor=CSO, reason="Done"))
    assert kinds(events) == ["CustomerUnlocked"] and not state.ownership.locked


# -- both parents locked, or neither


def test_the_lock_sent_to_the_other_parent_names_the_parent_locked_first() -> None:
    issue_id = uuid.uuid4()
    state, events = run(known(A), officer_lock(issue_id, other_parent=B), csid=A)
    other = first(events, LockOtherParent)
    assert (other.csid, other.first_parent_csid, other.other_parent_csid) == (B, A, None)
    assert state.ownership.lock_for(issue_id) is not None


def test_a_refused_lock_on_the_other_parent_releases_the_first_parents_lock_with_the_reason() -> None:
    issue_id = uuid.uuid4()
    first_parent, events = run(known(A), officer_lock(issue_id, other_parent=B), csid=A)
    to_other = first(events, LockOtherParent)

    # The other parent is already locked for the issue: their lock is refused …
    other_parent, _ = run(known(B), officer_lock(issue_id), csid=B)
    after, events = run(other_parent, wire(to_other), csid=B)
    assert refusal(events) is ReferralsReasonCode.ALREADY_LOCKED
    assert unchanged(other_parent, after)
    release = first(events, ReleaseFirstParent)
    assert (release.csid, release.issue_id, release.other_parent_csid) == (A, issue_id, B)
    assert release.MESSAGE_TYPE == "ReleaseParentLock" and "ALREADY_LOCKED" in release.reason

    # … so the first parent's lock goes, with the refusal as its recorded reason.
    released, events = run(first_parent, wire(release), csid=A)
    assert kinds(events) == ["CustomerLockReleased", "CustomerUnlocked"]
    assert first(events, CustomerLockReleased).reason == release.reason
    assert not released.ownership.locked


def test_an_unknown_other_parent_refuses_the_lock_and_releases_the_first_parent_too() -> None:
    issue_id = uuid.uuid4()
    _, events = run(known(A), officer_lock(issue_id, other_parent=B), csid=A)
    lock = wire(first(events, LockOtherParent))
    _, events = decide(None, lock, NOW, dataclasses.replace(CTX, csid=B))
    assert refusal(events) is ReferralsReasonCode.UNKNOWN_CUSTOMER
    assert first(events, ReleaseFirstParent).csid == A


def test_a_lock_refused_outside_a_both_parents_lock_releases_nothing() -> None:
    issue_id = uuid.uuid4()
    state, _ = run(known(), officer_lock(issue_id))
    _, events = run(state, officer_lock(issue_id))
    assert kinds(events) == ["ReferralsCommandRejected"]


def test_only_a_lock_shared_with_that_parent_is_released() -> None:
    issue_id = uuid.uuid4()
    before, _ = run(known(A), officer_lock(issue_id))
    release = ReleaseParentLock(actor=CSO, issue_id=issue_id, other_parent_csid=B, reason="Refused")
    after, events = run(before, release, csid=A)
    assert refusal(events) is ReferralsReasonCode.NOT_LOCKED
    assert unchanged(before, after)


def test_releasing_one_parents_lock_keeps_their_other_locks() -> None:
    shared, own_issue = uuid.uuid4(), uuid.uuid4()
    state, _ = run(known(A), officer_lock(own_issue), officer_lock(shared, other_parent=B), csid=A)
    release = ReleaseParentLock(actor=CSO, issue_id=shared, other_parent_csid=B, reason="Refused")
    state, events = run(state, release, csid=A)
    assert kinds(events) == ["CustomerLockReleased"]
    assert [lock.issue_id for lock in state.ownership.locks] == [own_issue]


# -- a second specialised issue: tell the customer, consult the other area


def test_a_second_specialised_issue_asks_the_owner_to_tell_the_customer_and_consult_the_other_area() -> None:
    contact_id, objection = uuid.uuid4(), uuid.uuid4()
    state, events = run(known(), contact(contact_id), issue(contact_id, "CHANGE_OF_ASSESSMENT"))
    assert not [e for e in events if isinstance(e, SpecialisedIssueNoticeRequired)]

    # OBJECTIONS outranks COA on the priority list: it takes ownership and consults COA.
    _, events = run(state, issue(contact_id, "PART_6A_OBJECTION", objection))
    notice = first(events, SpecialisedIssueNoticeRequired)
    consult = first(events, SpecialistAreaConsultationRequested)
    assert (notice.issue_id, notice.specialist_area, notice.owner_area) == (
        objection,
        "OBJECTIONS",
        "OBJECTIONS",
    )
    assert (consult.consulted_area, consult.owner_area) == ("COA", "OBJECTIONS")


def test_the_owning_area_keeps_the_customer_and_consults_the_newcomer() -> None:
    contact_id = uuid.uuid4()
    state, _ = run(known(), contact(contact_id), issue(contact_id, "PART_6A_OBJECTION"))
    _, events = run(state, issue(contact_id, "CHANGE_OF_ASSESSMENT"))
    assert first(events, SpecialisedIssueNoticeRequired).owner_area == "OBJECTIONS"
    assert first(events, SpecialistAreaConsultationRequested).consulted_area == "COA"


def test_another_issue_of_an_area_already_involved_asks_for_nothing() -> None:
    contact_id = uuid.uuid4()
    state, _ = run(known(), contact(contact_id), issue(contact_id, "CHANGE_OF_ASSESSMENT"))
    _, events = run(state, issue(contact_id, "SECOND_COA"))
    assert not [
        e
        for e in events
        if isinstance(e, SpecialisedIssueNoticeRequired | SpecialistAreaConsultationRequested)
    ]
    assert first(events, CustomerLocked).lock_to.area == "COA"


def test_a_specialised_issue_locked_directly_asks_for_the_same_notice() -> None:
    contact_id = uuid.uuid4()
    state, _ = run(known(), contact(contact_id), issue(contact_id, "CHANGE_OF_ASSESSMENT"))
    lock = LockCustomer(
        actor=CSO,
        issue_id=uuid.uuid4(),
        lock_to=LockTargetInput(kind=LockTargetKind.SPECIALIST_AREA, area="OBJECTIONS"),
        reason="Objection lodged",
    )
    _, events = run(state, lock)
    assert first(events, SpecialistAreaConsultationRequested).consulted_area == "COA"
    assert not [e for e in events if isinstance(e, CustomerUnlocked)]
