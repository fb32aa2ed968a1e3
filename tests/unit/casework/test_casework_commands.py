"""Officers' commands on a task, as pure decisions: claim, release, complete, reassign, note,
pause and resume, each happy path and each refusal (issue 17)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

import pytest

from contracts.base import Message, Role
from contracts.catalogue import complaints, notifications, referrals
from contracts.catalogue.casework import (
    Assignee,
    CaseworkReasonCode,
    TaskClaimed,
    TaskCompleted,
    TaskNoteAdded,
    TaskPaused,
    TaskReassigned,
    TaskReleased,
    TaskResumed,
    TaskStatus,
)
from services.casework.domain.state import Who
from tests.unit.casework.helpers import (
    ALEX,
    JO,
    MANAGER,
    PRIYA,
    SAM,
    Run,
    an_id,
    claim,
    complete,
    fact,
    note,
    one,
    pause,
    reassign,
    refusal,
    release,
    resume,
    types,
)

Code = CaseworkReasonCode


def cso_queue_task() -> tuple[Run, UUID]:
    """A task in the CSO queue (a notification that could not be delivered)."""
    run = Run()
    run(fact(notifications.NotificationDeliveryAbandoned))
    return run, run.task.task_id


def sams_task() -> tuple[Run, UUID]:
    """A task for Sam himself (feedback from a complaint)."""
    run = Run()
    run(fact(complaints.StaffFeedbackPrepared))
    return run, run.task.task_id


# --------------------------------------------------------------------------------------------
# Claim
# --------------------------------------------------------------------------------------------


def test_an_officer_in_the_tasks_queue_claims_it() -> None:
    run, task_id = cso_queue_task()

    outputs = run(claim(task_id, by=PRIYA))

    assert one(outputs, TaskClaimed).by == PRIYA
    assert run.task.status is TaskStatus.CLAIMED and run.task.claimed_by == Who.of(PRIYA)
    assert run.task.history[-1].action == "claimed"


def test_the_officer_a_task_names_claims_it() -> None:
    run, task_id = sams_task()

    assert types(run(claim(task_id, by=SAM))) == ["TaskClaimed"]


def test_claiming_a_task_one_already_works_changes_nothing() -> None:
    run, task_id = cso_queue_task()
    run(claim(task_id))
    before = run.state

    assert run(claim(task_id)) == []
    assert run.state is before


def test_a_task_another_officer_works_cannot_be_claimed() -> None:
    run, task_id = cso_queue_task()
    run(claim(task_id, by=PRIYA))

    assert refusal(run(claim(task_id, by=ALEX))).reason_code == Code.CLAIMED_BY_ANOTHER


def test_an_officer_of_another_role_cannot_claim_a_role_queue_task() -> None:
    run, task_id = cso_queue_task()

    assert refusal(run(claim(task_id, by=MANAGER))).reason_code == Code.NOT_ASSIGNABLE


def test_an_officer_cannot_claim_a_task_that_names_another_officer() -> None:
    run, task_id = sams_task()

    assert refusal(run(claim(task_id, by=PRIYA))).reason_code == Code.NOT_ASSIGNABLE


def test_a_team_leader_may_claim_any_task() -> None:
    run, task_id = sams_task()

    assert types(run(claim(task_id, by=JO))) == ["TaskClaimed"]


def test_a_task_no_one_opened_cannot_be_claimed() -> None:
    run, _ = cso_queue_task()

    assert refusal(run(claim(an_id("nothing")))).reason_code == Code.UNKNOWN_TASK


def test_a_closed_task_cannot_be_claimed() -> None:
    run = Run()
    run(fact(referrals.IntrayItemOpened))
    run(fact(referrals.IntrayItemClosed))

    assert refusal(run(claim(run.task.task_id))).reason_code == Code.TASK_CLOSED


# --------------------------------------------------------------------------------------------
# Release and complete
# --------------------------------------------------------------------------------------------


def test_the_officer_working_a_task_releases_it_back_to_its_queue() -> None:
    run, task_id = cso_queue_task()
    run(claim(task_id))

    outputs = run(release(task_id, reason="Needs a specialist"))

    assert one(outputs, TaskReleased).by == PRIYA
    assert run.task.status is TaskStatus.OPEN and run.task.claimed_by is None
    assert run.task.assignee == Assignee(role=Role.CSO)
    assert (run.task.history[-1].action, run.task.history[-1].detail) == ("released", "Needs a specialist")


@pytest.mark.parametrize("command", [release, complete], ids=["release", "complete"])
def test_only_the_officer_working_a_task_releases_or_completes_it(command: Callable[..., Message]) -> None:
    run, task_id = cso_queue_task()
    assert refusal(run(command(task_id, by=PRIYA))).reason_code == Code.NOT_CLAIMED
    run(claim(task_id, by=PRIYA))

    assert refusal(run(command(task_id, by=ALEX))).reason_code == Code.NOT_CLAIMED
    assert refusal(run(command(task_id, by=JO))).reason_code == Code.NOT_CLAIMED


def test_the_officer_working_a_task_completes_it_with_its_outcome() -> None:
    run, task_id = sams_task()
    run(claim(task_id, by=SAM))

    outputs = run(complete(task_id, by=SAM, outcome="FEEDBACK_GIVEN"))

    event = one(outputs, TaskCompleted)
    assert (event.by, event.outcome) == (SAM, "FEEDBACK_GIVEN")
    assert run.task.status is TaskStatus.DONE and run.task.outcome == "FEEDBACK_GIVEN"
    assert run.task.closed_at == run.at


@pytest.mark.parametrize(
    "command",
    [claim, release, complete, pause, resume, lambda task_id: reassign(task_id, officer_id="EMP1")],
    ids=["claim", "release", "complete", "pause", "resume", "reassign"],
)
def test_a_completed_task_refuses_every_further_change(command: Callable[[UUID], Message]) -> None:
    run, task_id = cso_queue_task()
    run(claim(task_id))
    run(complete(task_id))
    before = run.state

    assert refusal(run(command(task_id))).reason_code == Code.TASK_CLOSED
    assert run.state is before


# --------------------------------------------------------------------------------------------
# Reassign
# --------------------------------------------------------------------------------------------


def test_a_team_leader_reassigns_a_task_to_an_officer_and_it_waits_unclaimed_there() -> None:
    run, task_id = cso_queue_task()
    run(claim(task_id, by=PRIYA))

    outputs = run(reassign(task_id, by=JO, reason="Balancing load", officer_id="EMP10777", team="PS Team 3"))

    moved = one(outputs, TaskReassigned)
    assert moved.previous == Assignee(role=Role.CSO)
    assert moved.assignee == Assignee(officer_id="EMP10777", team="PS Team 3") == run.task.assignee
    assert (moved.by, moved.reason, moved.cover_id) == (JO, "Balancing load", None)
    assert run.task.status is TaskStatus.OPEN and run.task.claimed_by is None
    entry = run.task.history[-1]
    assert entry.action == "reassigned" and entry.by == Who.of(JO)
    assert entry.detail is not None and "Balancing load" in entry.detail
    assert types(run(claim(task_id, by=ALEX))) == ["TaskClaimed"], "the new assignee may claim it"


def test_a_team_leader_reassigns_a_task_back_to_a_queue() -> None:
    run, task_id = sams_task()

    run(reassign(task_id, team="Mainstream 12", role=Role.CSO))

    assert run.task.assignee == Assignee(team="Mainstream 12", role=Role.CSO)


def test_only_a_team_leader_reassigns_a_task() -> None:
    run, task_id = cso_queue_task()
    before = run.state

    assert (
        refusal(run(reassign(task_id, by=PRIYA, officer_id="EMP10777"))).reason_code
        == Code.TEAM_LEADER_REQUIRED
    )
    assert run.state is before


def test_reassigning_a_task_no_one_opened_is_refused() -> None:
    run, _ = cso_queue_task()

    assert refusal(run(reassign(an_id("nothing"), officer_id="EMP1"))).reason_code == Code.UNKNOWN_TASK


# --------------------------------------------------------------------------------------------
# Notes
# --------------------------------------------------------------------------------------------


def test_a_note_is_kept_on_the_task_and_its_event_says_only_that_it_was_added() -> None:
    run, task_id = cso_queue_task()

    outputs = run(note(task_id, "call", text="Left a message; calling back Tuesday."))

    event = one(outputs, TaskNoteAdded)
    assert (event.note_id, event.by) == (an_id("call"), PRIYA)
    assert "calling back" not in event.model_dump_json()
    (kept,) = run.task.notes
    assert (kept.text, kept.by, kept.at) == ("Left a message; calling back Tuesday.", Who.of(PRIYA), run.at)
    assert run.task.history[-1].action == "note added"


def test_a_note_with_an_id_already_on_the_task_is_refused() -> None:
    run, task_id = cso_queue_task()
    run(note(task_id, "call"))
    before = run.state

    assert refusal(run(note(task_id, "call", text="Again"))).reason_code == Code.DUPLICATE_NOTE
    assert run.state is before


def test_a_note_on_a_task_no_one_opened_is_refused() -> None:
    run, _ = cso_queue_task()

    assert refusal(run(note(an_id("nothing")))).reason_code == Code.UNKNOWN_TASK


def test_a_closed_task_still_takes_notes() -> None:
    run, task_id = cso_queue_task()
    run(claim(task_id))
    run(complete(task_id))

    assert types(run(note(task_id, "afterwards"))) == ["TaskNoteAdded"]


# --------------------------------------------------------------------------------------------
# Pause and resume
# --------------------------------------------------------------------------------------------


def test_pausing_a_task_stops_its_clock_with_the_reason() -> None:
    run, task_id = cso_queue_task()

    outputs = run(pause(task_id, reason="Awaiting the customer's reply"))

    event = one(outputs, TaskPaused)
    assert (event.by, event.reason) == (PRIYA, "Awaiting the customer's reply")
    assert run.task.paused_at == run.at and run.task.pause_reason == "Awaiting the customer's reply"
    assert run.task.is_paused


def test_a_paused_task_cannot_be_paused_again() -> None:
    run, task_id = cso_queue_task()
    run(pause(task_id))
    before = run.state

    assert refusal(run(pause(task_id))).reason_code == Code.ALREADY_PAUSED
    assert run.state is before


def test_an_officer_outside_the_tasks_queue_cannot_pause_it() -> None:
    run, task_id = sams_task()

    assert refusal(run(pause(task_id, by=PRIYA))).reason_code == Code.NOT_ASSIGNABLE


def test_a_running_task_cannot_be_resumed() -> None:
    run, task_id = cso_queue_task()
    before = run.state

    assert refusal(run(resume(task_id))).reason_code == Code.NOT_PAUSED
    assert run.state is before


def test_resuming_a_task_says_how_long_it_was_paused_and_its_new_due_time() -> None:
    run, task_id = cso_queue_task()
    due = run.task.due_at
    run(pause(task_id))

    outputs = run(resume(task_id))

    event = one(outputs, TaskResumed)
    assert (event.by, event.paused_seconds, event.due_at) == (PRIYA, 60, due + timedelta(minutes=1))
    assert not run.task.is_paused and run.task.pause_reason is None
    assert run.task.paused_seconds == 60


# --------------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------------


def test_a_refusal_names_the_task_and_who_attempted_it_and_leaves_the_state_unchanged() -> None:
    run, task_id = sams_task()
    before = run.state

    rejected = refusal(run(claim(task_id, by=PRIYA)))

    assert rejected.task_id == task_id and rejected.attempted_by == PRIYA
    assert rejected.reason
    assert run.state is before
