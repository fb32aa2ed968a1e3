"""Leave cover as pure decisions: a Team Leader arranges it, timers start and end it, each
customer's open tasks for the officer move to the cover officer and the unclaimed ones come back
(issue 17)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from contracts.base import Role
from contracts.catalogue import complaints, contacts, referrals
from contracts.catalogue.casework import (
    AGENCY_CSID,
    ArrangeLeaveCover,
    Assignee,
    CaseworkReasonCode,
    CoverCustomerTasks,
    EndLeaveCover,
    LeaveCoverArranged,
    LeaveCoverEnded,
    LeaveCoverStarted,
    StartLeaveCover,
    TaskOpened,
    TaskReassigned,
    TaskStatus,
)
from services.casework.domain.state import ActiveCover, CoverStatus, Who
from services.casework.domain.tasks import SYSTEM
from tests.unit.casework.helpers import (
    ALEX,
    JO,
    PRIYA,
    SAM,
    T0,
    Run,
    an_id,
    claim,
    complete,
    fact,
    of_type,
    one,
    reassign,
    refusal,
    types,
)

Code = CaseworkReasonCode
COVER = an_id("cover")
STARTS, ENDS = T0 + timedelta(days=6), T0 + timedelta(days=13)
#: Sam is on leave; Alex covers.
ON_LEAVE, COVERING = SAM.officer_id, ALEX.officer_id


def arrange(**changes: Any) -> ArrangeLeaveCover:
    fields: dict[str, Any] = {
        "cover_id": COVER,
        "officer_id": ON_LEAVE,
        "cover_officer_id": COVERING,
        "starts_at": STARTS,
        "ends_at": ENDS,
        "reason": "Annual leave",
        "actor": JO,
    }
    return ArrangeLeaveCover(**{**fields, **changes})


def covers() -> Run:
    return Run(csid=AGENCY_CSID)


def arranged() -> Run:
    run = covers()
    run(arrange())
    return run


def cover_tasks(revert: bool) -> CoverCustomerTasks:
    return CoverCustomerTasks(
        csid="123456789",
        cover_id=COVER,
        officer_id=ON_LEAVE,
        cover_officer_id=COVERING,
        reason="Annual leave",
        revert=revert,
        actor=SYSTEM,
    )


# --------------------------------------------------------------------------------------------
# The cover's own record
# --------------------------------------------------------------------------------------------


def test_a_team_leader_arranges_a_leave_cover_with_timers_at_its_start_and_end() -> None:
    run = covers()

    outputs = run(arrange())

    event = one(outputs, LeaveCoverArranged)
    assert (event.officer_id, event.cover_officer_id, event.starts_at, event.ends_at, event.by) == (
        ON_LEAVE,
        COVERING,
        STARTS,
        ENDS,
        JO,
    )
    start, end = outputs[1:]
    assert isinstance(start.message, StartLeaveCover) and start.due_at == STARTS
    assert isinstance(end.message, EndLeaveCover) and end.due_at == ENDS
    assert start.timer_id != end.timer_id
    assert (start.message.cover_id, start.message.officer_id, end.message.cover_id) == (
        COVER,
        ON_LEAVE,
        COVER,
    )
    assert run.cover.status == CoverStatus.ARRANGED and run.cover.arranged_by == Who.of(JO)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"actor": PRIYA}, Code.TEAM_LEADER_REQUIRED),
        ({"ends_at": STARTS}, Code.INVALID_PERIOD),
        ({"ends_at": STARTS - timedelta(days=1)}, Code.INVALID_PERIOD),
        ({"cover_officer_id": ON_LEAVE}, Code.SAME_OFFICER),
    ],
    ids=["not-a-team-leader", "ends-when-it-starts", "ends-before-it-starts", "covers-themselves"],
)
def test_a_leave_cover_is_refused_unless_a_team_leader_arranges_a_real_period_for_another_officer(
    changes: dict[str, Any], code: str
) -> None:
    run = covers()

    rejected = refusal(run(arrange(**changes)))

    assert rejected.reason_code == code and rejected.cover_id == COVER
    assert run.state is None


def test_a_cover_id_is_arranged_once() -> None:
    run = arranged()
    before = run.state

    assert refusal(run(arrange(reason="Again"))).reason_code == Code.DUPLICATE_COVER
    assert run.state is before


@pytest.mark.parametrize("command", [StartLeaveCover, EndLeaveCover], ids=["start", "end"])
def test_a_timer_of_an_unknown_cover_is_refused(command: type[StartLeaveCover | EndLeaveCover]) -> None:
    fields: dict[str, Any] = {"cover_id": COVER, "actor": SYSTEM}
    if command is StartLeaveCover:
        fields["officer_id"] = ON_LEAVE

    assert refusal(covers()(command(**fields))).reason_code == Code.UNKNOWN_COVER


def test_a_starting_cover_sends_one_cover_command_per_customer_with_the_officers_tasks() -> None:
    run = arranged()

    outputs = run(
        StartLeaveCover(cover_id=COVER, officer_id=ON_LEAVE, actor=SYSTEM),
        customers=["111111111", "222222222"],
    )

    assert one(outputs, LeaveCoverStarted).customers == 2
    moves = of_type(outputs, CoverCustomerTasks)
    assert [m.csid for m in moves] == ["111111111", "222222222"]
    assert all(
        (m.cover_id, m.officer_id, m.cover_officer_id, m.reason, m.revert)
        == (COVER, ON_LEAVE, COVERING, "Annual leave", False)
        for m in moves
    )
    assert run.cover.status == CoverStatus.ACTIVE and run.cover.customers == ("111111111", "222222222")
    assert run(StartLeaveCover(cover_id=COVER, officer_id=ON_LEAVE, actor=SYSTEM), customers=["3"]) == [], (
        "a start applies once"
    )


def test_an_ending_cover_sends_each_covered_customer_a_revert() -> None:
    run = arranged()
    run(StartLeaveCover(cover_id=COVER, officer_id=ON_LEAVE, actor=SYSTEM), customers=["111111111"])

    outputs = run(EndLeaveCover(cover_id=COVER, actor=SYSTEM), customers=["111111111", "333333333"])

    assert one(outputs, LeaveCoverEnded).customers == 2
    assert [(m.csid, m.revert) for m in of_type(outputs, CoverCustomerTasks)] == [
        ("111111111", True),
        ("333333333", True),
    ]
    assert run.cover.status == CoverStatus.ENDED
    assert run(EndLeaveCover(cover_id=COVER, actor=SYSTEM), customers=["111111111"]) == [], (
        "an end applies once"
    )


def test_a_cover_that_ends_before_it_started_moves_nothing_back() -> None:
    run = arranged()

    outputs = run(EndLeaveCover(cover_id=COVER, actor=SYSTEM), customers=["111111111"])

    assert types(outputs) == ["LeaveCoverEnded"] and one(outputs, LeaveCoverEnded).customers == 0
    assert run(StartLeaveCover(cover_id=COVER, officer_id=ON_LEAVE, actor=SYSTEM), customers=["1"]) == []


# --------------------------------------------------------------------------------------------
# A customer's tasks
# --------------------------------------------------------------------------------------------


def sams_case() -> Run:
    """Sam's feedback task, his compliment task (which he has claimed), a closed meeting action
    of his, and an intray item in the CSO queue."""
    run = Run()
    run(fact(complaints.StaffFeedbackPrepared))
    run(fact(complaints.ComplimentForwarded))
    compliment = one(run.outputs, TaskOpened).task_id
    run(claim(compliment, by=SAM))
    run(fact(contacts.MeetingActionTaskCreated, owner=ON_LEAVE, due_date="2026-12-20"))
    action = one(run.outputs, TaskOpened).task_id
    run(claim(action, by=SAM))
    run(complete(action, by=SAM))
    run(fact(referrals.IntrayItemOpened))
    return run


def by_kind(run: Run, kind: str) -> Any:
    (task,) = [t for t in run.case.tasks.values() if t.kind.value == kind]
    return task


def test_a_cover_moves_the_officers_open_tasks_to_the_cover_officer() -> None:
    run = sams_case()

    outputs = run(cover_tasks(revert=False))

    moved = of_type(outputs, TaskReassigned)
    assert {m.task_id for m in moved} == {
        by_kind(run, "STAFF_FEEDBACK").task_id,
        by_kind(run, "COMPLIMENT_TO_STAFF").task_id,
    }
    assert all(m.cover_id == COVER and m.by.role is Role.SYSTEM and "Annual leave" in m.reason for m in moved)
    for kind in ("STAFF_FEEDBACK", "COMPLIMENT_TO_STAFF"):
        task = by_kind(run, kind)
        assert task.assignee == Assignee(officer_id=COVERING, team="Mainstream 12")
        assert (task.cover_id, task.covered_officer_id, task.status) == (COVER, ON_LEAVE, TaskStatus.OPEN)
        assert task.claimed_by is None and task.history[-1].action == "reassigned"
    assert by_kind(run, "MEETING_ACTION").assignee.officer_id == ON_LEAVE, "a closed task stays"
    assert by_kind(run, "INTRAY_ITEM").assignee == Assignee(team="PS Team 3", role=Role.CSO)


def test_an_ended_cover_moves_back_the_tasks_it_moved_that_the_cover_officer_has_not_claimed() -> None:
    run = sams_case()
    run(cover_tasks(revert=False))
    run(claim(by_kind(run, "COMPLIMENT_TO_STAFF").task_id, by=ALEX))

    outputs = run(cover_tasks(revert=True))

    (back,) = of_type(outputs, TaskReassigned)
    feedback = by_kind(run, "STAFF_FEEDBACK")
    assert back.task_id == feedback.task_id and back.cover_id is None
    assert feedback.assignee == Assignee(officer_id=ON_LEAVE, team="Mainstream 12")
    assert feedback.cover_id is None and feedback.covered_officer_id is None
    compliment = by_kind(run, "COMPLIMENT_TO_STAFF")
    assert compliment.assignee.officer_id == COVERING and compliment.claimed_by == Who.of(ALEX), (
        "a claimed task stays with whoever works it"
    )


def test_an_ended_cover_leaves_a_task_a_team_leader_gave_the_cover_officer() -> None:
    run = Run()
    run(fact(referrals.IntrayItemOpened))
    task_id = run.task.task_id
    run(reassign(task_id, officer_id=COVERING))

    assert run(cover_tasks(revert=True)) == []
    assert run.task.assignee.officer_id == COVERING


def test_a_new_task_for_an_officer_on_leave_goes_to_the_cover_officer_with_a_history_line() -> None:
    run = Run()
    active = ActiveCover(
        cover_id=COVER, officer_id=ON_LEAVE, cover_officer_id=COVERING, reason="Annual leave"
    )

    outputs = run(fact(complaints.StaffFeedbackPrepared), covers=[active])

    opened, moved = one(outputs, TaskOpened), one(outputs, TaskReassigned)
    assert opened.assignee.officer_id == ON_LEAVE
    assert (moved.previous.officer_id, moved.assignee.officer_id, moved.cover_id) == (
        ON_LEAVE,
        COVERING,
        COVER,
    )
    task = run.task
    assert task.assignee == Assignee(officer_id=COVERING, team="Mainstream 12")
    assert (task.cover_id, task.covered_officer_id) == (COVER, ON_LEAVE)
    entry = task.history[-1]
    assert (
        entry.action == "reassigned"
        and entry.detail is not None
        and "Leave cover: Annual leave" in entry.detail
    )
    assert run.task.arming == 1, "armed once, after the move"

    run(cover_tasks(revert=True))

    assert run.task.assignee.officer_id == ON_LEAVE, "and it goes back when the cover ends"


def test_a_cover_of_another_officer_leaves_a_new_task_where_it_is() -> None:
    run = Run()
    other = ActiveCover(
        cover_id=COVER, officer_id="EMP99999", cover_officer_id=COVERING, reason="Annual leave"
    )

    outputs = run(fact(complaints.StaffFeedbackPrepared), covers=[other])

    assert of_type(outputs, TaskReassigned) == []
    assert run.task.assignee.officer_id == ON_LEAVE
