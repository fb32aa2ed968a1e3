"""SLA timers as pure decisions: a warning and a breach armed when a task opens, applied only for
the current arming of a running, open task; a pause moves both; a breach escalates (issue 17)."""

from __future__ import annotations

from datetime import timedelta

from contracts.base import Role
from contracts.catalogue import complaints, notifications, referrals
from contracts.catalogue.casework import (
    Assignee,
    CheckTaskSla,
    SlaStage,
    TaskSlaBreached,
    TaskSlaWarned,
)
from services.casework.domain.table import DEFAULT_SLAS
from services.casework.settings import CaseworkSettings
from tests.unit.casework.helpers import (
    POLICY,
    SAM,
    Run,
    check,
    claim,
    complete,
    fact,
    one,
    pause,
    resume,
    timers,
)

WARNING, BREACH = SlaStage.WARNING, SlaStage.BREACH


def feedback_task(run: Run | None = None) -> Run:
    """Sam's feedback task: ten days' SLA, warned at three quarters of it."""
    run = run or Run()
    run(fact(complaints.StaffFeedbackPrepared))
    return run


def test_opening_a_task_arms_a_warning_at_the_fraction_of_its_sla_and_a_breach_at_its_due_time() -> None:
    run = Run()

    outputs = run(fact(complaints.StaffFeedbackPrepared))

    task = run.task
    sla = DEFAULT_SLAS[task.kind]
    warn, breach = timers(outputs)
    assert warn.due_at == task.warn_at == task.opened_at + sla * POLICY.warning_fraction
    assert breach.due_at == task.due_at == task.opened_at + sla
    assert (warn.timer_id, breach.timer_id) == (f"{task.task_id}:warn:1", f"{task.task_id}:breach:1")
    assert isinstance(warn.message, CheckTaskSla) and isinstance(breach.message, CheckTaskSla)
    assert (warn.message.stage, warn.message.arming) == (WARNING, 1)
    assert (breach.message.stage, breach.message.arming) == (BREACH, 1)
    assert warn.message.task_id == breach.message.task_id == task.task_id
    assert warn.message.actor.role is Role.SYSTEM


def test_the_warning_fraction_comes_from_settings() -> None:
    run = Run(CaseworkSettings(warning_fraction=0.5).policy())

    warn, _ = timers(run(fact(complaints.StaffFeedbackPrepared)))

    assert warn.due_at == run.task.opened_at + timedelta(days=5)


def test_a_timer_of_the_current_arming_warns_the_assignee_once() -> None:
    run = feedback_task()
    task = run.task

    outputs = run(check(task.task_id, WARNING, 1), at=task.warn_at)

    warned = one(outputs, TaskSlaWarned)
    assert (warned.assignee, warned.due_at) == (task.assignee, task.due_at)
    assert run.task.warned_at == task.warn_at
    assert run.task.history[-1].action == "SLA warning"
    before = run.state
    assert run(check(task.task_id, WARNING, 1)) == []
    assert run.state is before


def test_a_breach_escalates_the_task_to_the_team_leader_of_the_assignees_team() -> None:
    run = feedback_task()
    task = run.task

    outputs = run(check(task.task_id, BREACH, 1), at=task.due_at)

    breached = one(outputs, TaskSlaBreached)
    leader = Assignee(team="Mainstream 12", role=Role.TEAM_LEADER)
    assert (breached.assignee, breached.escalated_to, breached.due_at) == (task.assignee, leader, task.due_at)
    assert run.task.breached_at == task.due_at and run.task.escalated_to == leader
    assert run.task.assignee == task.assignee, "the task stays with its assignee; the leader is told"
    assert run(check(task.task_id, BREACH, 1)) == [], "a breach comes once"


def test_a_breach_of_a_task_in_a_role_queue_without_a_team_goes_to_the_team_leaders_queue() -> None:
    run = Run()
    run(fact(notifications.NotificationDeliveryAbandoned))

    breached = one(run(check(run.task.task_id, BREACH, 1)), TaskSlaBreached)

    assert breached.escalated_to == Assignee(role=Role.TEAM_LEADER)


def test_a_timer_of_an_earlier_arming_changes_nothing() -> None:
    run = feedback_task()
    task_id = run.task.task_id
    run(pause(task_id, by=SAM))
    run(resume(task_id, by=SAM))
    before = run.state

    assert run(check(task_id, WARNING, 1)) == []
    assert run(check(task_id, BREACH, 2)) == []
    assert run.state is before


def test_a_timer_for_a_paused_task_changes_nothing() -> None:
    run = feedback_task()
    task_id = run.task.task_id
    run(pause(task_id, by=SAM))
    before = run.state

    assert run(check(task_id, BREACH, run.task.arming)) == []
    assert run.state is before


def test_a_timer_for_a_closed_task_changes_nothing() -> None:
    run = feedback_task()
    task_id = run.task.task_id
    run(claim(task_id, by=SAM))
    run(complete(task_id, by=SAM))
    before = run.state

    assert run(check(task_id, WARNING, 1)) == []
    assert run(check(task_id, BREACH, 1)) == []
    assert run.state is before


def test_a_timer_for_a_cancelled_task_changes_nothing() -> None:
    run = Run()
    run(fact(referrals.IntrayItemOpened))
    run(fact(referrals.IntrayItemClosed))

    assert run(check(run.task.task_id, BREACH, 1)) == []


def test_pausing_stops_the_clock_so_the_armed_timers_find_it_stale() -> None:
    run = feedback_task()
    task_id = run.task.task_id

    outputs = run(pause(task_id, by=SAM))

    assert timers(outputs) == []
    assert run.task.arming == 2


def test_resuming_moves_the_due_and_warning_times_by_the_time_paused_and_rearms_both() -> None:
    run = feedback_task()
    task = run.task
    run(pause(task.task_id, by=SAM), at=task.opened_at + timedelta(days=1))

    outputs = run(resume(task.task_id, by=SAM), at=task.opened_at + timedelta(days=4))

    stood = timedelta(days=3)
    assert run.task.due_at == task.due_at + stood and run.task.warn_at == task.warn_at + stood
    assert run.task.paused_seconds == int(stood.total_seconds())
    warn, breach = timers(outputs)
    assert (warn.due_at, breach.due_at) == (task.warn_at + stood, task.due_at + stood)
    assert run.task.arming == 3
    assert (warn.timer_id, breach.timer_id) == (f"{task.task_id}:warn:3", f"{task.task_id}:breach:3")
    assert (
        one(run(check(task.task_id, WARNING, 3), at=warn.due_at), TaskSlaWarned).due_at == task.due_at + stood
    )


def test_every_arming_has_its_own_timer_ids() -> None:
    run = feedback_task()
    ids = {t.timer_id for t in timers(run.outputs)}
    task_id = run.task.task_id
    for _ in range(3):
        run(pause(task_id, by=SAM))
        ids_now = {t.timer_id for t in timers(run(resume(task_id, by=SAM)))}
        assert not ids & ids_now
        ids |= ids_now

    assert len(ids) == 8


def test_resuming_after_the_warning_rearms_only_the_breach() -> None:
    run = feedback_task()
    task_id = run.task.task_id
    run(check(task_id, WARNING, 1))
    run(pause(task_id, by=SAM))

    outputs = run(resume(task_id, by=SAM))

    (breach,) = timers(outputs)
    assert isinstance(breach.message, CheckTaskSla) and breach.message.stage is BREACH
    assert run(check(task_id, WARNING, run.task.arming)) == [], "a warning comes once"


def test_a_timer_rearmed_after_its_time_passed_fires_at_once() -> None:
    run = feedback_task()
    task = run.task
    run(pause(task.task_id, by=SAM), at=task.due_at - timedelta(minutes=1))

    outputs = run(resume(task.task_id, by=SAM), at=task.due_at + timedelta(days=30))

    assert all(t.due_at >= run.at for t in timers(outputs))
    assert min(t.due_at for t in timers(outputs)) == run.at, "the warning time had passed: due now"
