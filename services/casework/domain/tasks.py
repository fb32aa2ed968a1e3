"""A customer's case file: facts from the other services open, close and reroute tasks and add
timeline lines; officers claim, release, complete, reassign, pause and annotate tasks; durable
timers warn before a task's SLA runs out and escalate it when it does (issue 17).

Every rule is ``rule(case, message, now, facts)``; its clock is ``facts.at``, the time the
message occurred, so a replay decides the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from contracts.base import Actor, Message, Role
from contracts.catalogue.casework import (
    AddTaskNote,
    Assignee,
    CheckTaskSla,
    ClaimTask,
    CompleteTask,
    CoverCustomerTasks,
    PauseTask,
    ReassignTask,
    ReleaseTask,
    ResumeTask,
    SlaStage,
    TaskCancelled,
    TaskClaimed,
    TaskCompleted,
    TaskKind,
    TaskNoteAdded,
    TaskOpened,
    TaskPaused,
    TaskReassigned,
    TaskReleased,
    TaskResumed,
    TaskSlaBreached,
    TaskSlaWarned,
    TaskStatus,
)
from contracts.catalogue.casework import (
    CaseworkReasonCode as Code,
)
from kit.spec import Output, Refused
from kit.timers import Deferred
from services.casework.domain.state import CaseFile, Facts, HistoryEntry, Note, Task, Who
from services.casework.domain.table import CLOSERS, REROUTES, TASKS, Row, source_service
from services.casework.domain.timeline import summarised, timeline_entry, type_in_words, with_line

Decision = tuple[CaseFile, list[Output]]
SYSTEM = Actor.system("casework")
_TASKS = uuid.UUID("5e0c6a51-2b7d-4c1e-9f3a-6d8e7b9c0a1f")


def task_id_for(source_message_id: uuid.UUID, row: Row) -> uuid.UUID:
    """One task per fact and kind: the same fact delivered twice opens it once."""
    return uuid.uuid5(_TASKS, f"{source_message_id}:{row.kind.value}")


# -- facts from the other services


def on_fact(case: CaseFile, message: Message, now: datetime, facts: Facts) -> Decision:
    """Every fact casework reads: a timeline line, the summary, then the task table."""
    case = case.model_copy(update={"csid": facts.csid})
    case = summarised(with_line(case, timeline_entry(message, facts, source_service(message))), message)
    outputs: list[Output] = []
    row = TASKS.get(type(message))
    if row is not None:
        case = _open(case, row, message, facts, outputs)
    for closer in CLOSERS.get(type(message), ()):
        for task in _open_tasks(case, closer.kind, closer.subject(message)):
            case = _cancel(case, task, facts, outputs)
    reroute = REROUTES.get(type(message))
    if reroute is not None:
        for task in _open_tasks(case, reroute.kind, reroute.subject(message)):
            moved = _reassigned(task, reroute.assignee(message), SYSTEM, reroute.reason, facts, outputs)
            due = reroute.due(message)
            moved = moved.model_copy(update={"due_at": due, "warn_at": _warn_at(moved.opened_at, due, facts)})
            case = case.with_task(_rearmed(moved, facts, outputs))
    return _said(case, outputs, facts), outputs


def _open(case: CaseFile, row: Row, message: Any, facts: Facts, outputs: list[Output]) -> CaseFile:
    task_id = task_id_for(facts.message_id, row)
    if case.task(task_id) is not None:
        return case
    assignee = row.assignee(message)
    due = row.due(message) or facts.at + facts.policy.slas[row.kind]
    task = Task(
        task_id=task_id,
        kind=row.kind,
        title=row.title,
        assignee=assignee,
        subject=row.subject(message),
        source_message_id=facts.message_id,
        source_message_type=facts.message_type,
        source_service=source_service(message),
        opened_at=facts.at,
        due_at=due,
        warn_at=_warn_at(facts.at, due, facts),
        history=(HistoryEntry(at=facts.at, action="opened", detail=type_in_words(facts.message_type)),),
    )
    outputs.append(
        TaskOpened(
            task_id=task_id,
            kind=row.kind,
            title=row.title,
            assignee=assignee,
            due_at=due,
            source_message_id=facts.message_id,
            source_message_type=facts.message_type,
        )
    )
    cover = next((c for c in facts.covers if c.officer_id == assignee.officer_id), None)
    if cover is not None:
        to = assignee.model_copy(update={"officer_id": cover.cover_officer_id})
        task = _reassigned(task, to, SYSTEM, f"Leave cover: {cover.reason}", facts, outputs, cover.cover_id)
        task = task.model_copy(update={"covered_officer_id": cover.officer_id})
    return case.with_task(_rearmed(task, facts, outputs))


def _warn_at(opened_at: datetime, due_at: datetime, facts: Facts) -> datetime:
    return opened_at + (due_at - opened_at) * facts.policy.warning_fraction


def _rearmed(task: Task, facts: Facts, outputs: list[Output]) -> Task:
    """A new arming of the SLA clock: timers of earlier armings are ignored when they fire."""
    arming = task.arming + 1
    if task.warned_at is None:
        warn = CheckTaskSla(task_id=task.task_id, stage=SlaStage.WARNING, arming=arming, actor=SYSTEM)
        outputs.append(Deferred(warn, max(task.warn_at, facts.at), f"{task.task_id}:warn:{arming}"))
    breach = CheckTaskSla(task_id=task.task_id, stage=SlaStage.BREACH, arming=arming, actor=SYSTEM)
    outputs.append(Deferred(breach, max(task.due_at, facts.at), f"{task.task_id}:breach:{arming}"))
    return task.model_copy(update={"arming": arming})


def _open_tasks(case: CaseFile, kind: TaskKind, subject: str) -> list[Task]:
    return [t for t in case.tasks.values() if not t.is_closed and t.kind is kind and t.subject == subject]


def _cancel(case: CaseFile, task: Task, facts: Facts, outputs: list[Output]) -> CaseFile:
    closed = task.with_history(
        HistoryEntry(at=facts.at, action="cancelled", detail=type_in_words(facts.message_type)),
        status=TaskStatus.CANCELLED,
        closed_at=facts.at,
    )
    outputs.append(
        TaskCancelled(
            task_id=task.task_id,
            closed_by_message_type=facts.message_type,
            closed_by_message_id=facts.message_id,
        )
    )
    return case.with_task(closed)


def _reassigned(
    task: Task,
    to: Assignee,
    by: Actor,
    reason: str,
    facts: Facts,
    outputs: list[Output],
    cover_id: uuid.UUID | None = None,
) -> Task:
    outputs.append(
        TaskReassigned(
            task_id=task.task_id, previous=task.assignee, assignee=to, by=by, reason=reason, cover_id=cover_id
        )
    )
    return task.with_history(
        HistoryEntry(at=facts.at, action="reassigned", by=Who.of(by), detail=f"{_to_words(to)}: {reason}"),
        assignee=to,
        status=TaskStatus.OPEN,
        claimed_by=None,
        cover_id=cover_id,
        covered_officer_id=None,
    )


def _to_words(assignee: Assignee) -> str:
    parts = [assignee.officer_id, assignee.team, assignee.role.value if assignee.role else None]
    return "to " + " / ".join(p for p in parts if p)


def _said(case: CaseFile, outputs: Sequence[Output], facts: Facts) -> CaseFile:
    """Casework's own facts join the customer's timeline too."""
    for event in outputs:
        if isinstance(event, Message) and not isinstance(event, CheckTaskSla):
            line = timeline_entry(event, facts, "casework")
            case = with_line(case, line.model_copy(update={"message_type": event.MESSAGE_TYPE}))
    return case


# -- officers' commands
# A refusal names the task the command named (``CaseworkCommandRejected.task_id``).


def _task(case: CaseFile, task_id: uuid.UUID) -> Task:
    task = case.task(task_id)
    if task is None:
        raise Refused(Code.UNKNOWN_TASK, "No such task for this customer.", task_id=task_id)
    if task.is_closed:
        raise Refused(Code.TASK_CLOSED, f"The task is {task.status.value.lower()}.", task_id=task_id)
    return task


def _may_work(task: Task, actor: Actor) -> bool:
    if actor.role is Role.TEAM_LEADER:
        return True
    assignee = task.assignee
    if assignee.officer_id is not None:
        return assignee.officer_id == actor.officer_id
    return assignee.role is None or assignee.role is actor.role


def claim(case: CaseFile, message: ClaimTask, now: datetime, facts: Facts) -> Decision:
    task = _task(case, message.task_id)
    actor = message.actor
    if task.claimed_by is not None:
        if task.claimed_by.officer_id == actor.officer_id:
            return case, []
        raise Refused(Code.CLAIMED_BY_ANOTHER, "Another officer is working this task.", task_id=task.task_id)
    if not _may_work(task, actor):
        raise Refused(
            Code.NOT_ASSIGNABLE, "The task is in another officer's or role's queue.", task_id=task.task_id
        )
    claimed = task.with_history(
        HistoryEntry(at=facts.at, action="claimed", by=Who.of(actor)),
        status=TaskStatus.CLAIMED,
        claimed_by=Who.of(actor),
    )
    outputs: list[Output] = [TaskClaimed(task_id=task.task_id, by=actor)]
    return _said(case.with_task(claimed), outputs, facts), outputs


def _claimed_by(task: Task, actor: Actor) -> None:
    if task.claimed_by is None or task.claimed_by.officer_id != actor.officer_id:
        raise Refused(
            Code.NOT_CLAIMED,
            "Only the officer working a task may do this; claim it first.",
            task_id=task.task_id,
        )


def release(case: CaseFile, message: ReleaseTask, now: datetime, facts: Facts) -> Decision:
    task = _task(case, message.task_id)
    _claimed_by(task, message.actor)
    released = task.with_history(
        HistoryEntry(at=facts.at, action="released", by=Who.of(message.actor), detail=message.reason),
        status=TaskStatus.OPEN,
        claimed_by=None,
    )
    outputs: list[Output] = [TaskReleased(task_id=task.task_id, by=message.actor)]
    return _said(case.with_task(released), outputs, facts), outputs


def complete(case: CaseFile, message: CompleteTask, now: datetime, facts: Facts) -> Decision:
    task = _task(case, message.task_id)
    _claimed_by(task, message.actor)
    done = task.with_history(
        HistoryEntry(at=facts.at, action="completed", by=Who.of(message.actor), detail=message.outcome),
        status=TaskStatus.DONE,
        outcome=message.outcome,
        closed_at=facts.at,
    )
    outputs: list[Output] = [TaskCompleted(task_id=task.task_id, by=message.actor, outcome=message.outcome)]
    return _said(case.with_task(done), outputs, facts), outputs


def reassign(case: CaseFile, message: ReassignTask, now: datetime, facts: Facts) -> Decision:
    task = _task(case, message.task_id)
    if message.actor.role is not Role.TEAM_LEADER:
        raise Refused(Code.TEAM_LEADER_REQUIRED, "Only a Team Leader reassigns a task.", task_id=task.task_id)
    outputs: list[Output] = []
    to = Assignee.model_validate(message.to.model_dump())
    moved = _reassigned(task, to, message.actor, message.reason, facts, outputs)
    return _said(case.with_task(moved), outputs, facts), outputs


def add_note(case: CaseFile, message: AddTaskNote, now: datetime, facts: Facts) -> Decision:
    task = case.task(message.task_id)
    if task is None:
        raise Refused(Code.UNKNOWN_TASK, "No such task for this customer.", task_id=message.task_id)
    if any(n.note_id == message.note_id for n in task.notes):
        raise Refused(
            Code.DUPLICATE_NOTE, "A note with this id is already on the task.", task_id=message.task_id
        )
    note = Note(note_id=message.note_id, at=facts.at, by=Who.of(message.actor), text=message.text)
    noted = task.with_history(
        HistoryEntry(at=facts.at, action="note added", by=Who.of(message.actor)), notes=(*task.notes, note)
    )
    outputs: list[Output] = [TaskNoteAdded(task_id=task.task_id, note_id=message.note_id, by=message.actor)]
    # The timeline says a note was added and by whom; its text stays on the task.
    return _said(case.with_task(noted), outputs, facts), outputs


def _in_queue_of(case: CaseFile, task_id: uuid.UUID, actor: Actor) -> Task:
    """The open task, refused unless ``actor`` may work it (its officer, its role, a Team Leader)."""
    task = _task(case, task_id)
    if not _may_work(task, actor):
        raise Refused(
            Code.NOT_ASSIGNABLE, "The task is in another officer's or role's queue.", task_id=task.task_id
        )
    return task


def pause(case: CaseFile, message: PauseTask, now: datetime, facts: Facts) -> Decision:
    """The customer is awaited: the SLA clock stops, and the armed timers will find it stopped."""
    task = _in_queue_of(case, message.task_id, message.actor)
    if task.is_paused:
        raise Refused(Code.ALREADY_PAUSED, "The task's clock is already stopped.", task_id=task.task_id)
    paused = task.with_history(
        HistoryEntry(at=facts.at, action="paused", by=Who.of(message.actor), detail=message.reason),
        paused_at=facts.at,
        pause_reason=message.reason,
        arming=task.arming + 1,
    )
    outputs: list[Output] = [TaskPaused(task_id=task.task_id, by=message.actor, reason=message.reason)]
    return _said(case.with_task(paused), outputs, facts), outputs


def resume(case: CaseFile, message: ResumeTask, now: datetime, facts: Facts) -> Decision:
    """The clock runs again: the due and warning times move by the time it stood still."""
    task = _in_queue_of(case, message.task_id, message.actor)
    if task.paused_at is None:
        raise Refused(Code.NOT_PAUSED, "The task's clock is running.", task_id=task.task_id)
    stood = max(facts.at - task.paused_at, timedelta(0))
    resumed = task.with_history(
        HistoryEntry(at=facts.at, action="resumed", by=Who.of(message.actor), detail=task.pause_reason),
        paused_at=None,
        pause_reason=None,
        paused_seconds=task.paused_seconds + int(stood.total_seconds()),
        due_at=task.due_at + stood,
        warn_at=task.warn_at + stood,
    )
    outputs: list[Output] = []
    resumed = _rearmed(resumed, facts, outputs)
    outputs.insert(
        0,
        TaskResumed(
            task_id=task.task_id,
            by=message.actor,
            paused_seconds=int(stood.total_seconds()),
            due_at=resumed.due_at,
        ),
    )
    return _said(case.with_task(resumed), outputs, facts), outputs


def check_sla(case: CaseFile, message: CheckTaskSla, now: datetime, facts: Facts) -> Decision:
    """A timer came: a warning, or a breach escalated to the assignee's Team Leader. A timer of an
    earlier arming (the clock was paused or moved since), or for a closed task, changes nothing."""
    task = case.task(message.task_id)
    if task is None or task.is_closed or task.is_paused or message.arming != task.arming:
        return case, []
    outputs: list[Output] = []
    if message.stage is SlaStage.WARNING:
        if task.warned_at is not None:
            return case, []
        task = task.with_history(HistoryEntry(at=facts.at, action="SLA warning"), warned_at=facts.at)
        outputs.append(TaskSlaWarned(task_id=task.task_id, assignee=task.assignee, due_at=task.due_at))
    else:
        if task.breached_at is not None:
            return case, []
        leader = Assignee(team=task.assignee.team, role=Role.TEAM_LEADER)
        task = task.with_history(
            HistoryEntry(at=facts.at, action="SLA breached", detail=f"escalated {_to_words(leader)}"),
            breached_at=facts.at,
            escalated_to=leader,
        )
        outputs.append(
            TaskSlaBreached(
                task_id=task.task_id, assignee=task.assignee, escalated_to=leader, due_at=task.due_at
            )
        )
    return _said(case.with_task(task), outputs, facts), outputs


def cover_tasks(case: CaseFile, message: CoverCustomerTasks, now: datetime, facts: Facts) -> Decision:
    """A leave cover reaches this customer: the officer's open tasks go to the cover officer; when
    it ends, those the cover officer has not claimed go back. Claimed ones stay with whoever works
    them."""
    outputs: list[Output] = []
    for task in case.tasks.values():
        if message.revert and _moved_by(task, message):
            back = task.assignee.model_copy(update={"officer_id": message.officer_id})
            reason = f"Leave cover ended: {message.reason}"
            case = case.with_task(_reassigned(task, back, message.actor, reason, facts, outputs))
        elif not message.revert and not task.is_closed and task.assignee.officer_id == message.officer_id:
            to = task.assignee.model_copy(update={"officer_id": message.cover_officer_id})
            reason = f"Leave cover: {message.reason}"
            moved = _reassigned(task, to, message.actor, reason, facts, outputs, message.cover_id)
            case = case.with_task(moved.model_copy(update={"covered_officer_id": message.officer_id}))
    return _said(case, outputs, facts), outputs


def _moved_by(task: Task, message: CoverCustomerTasks) -> bool:
    return (
        task.cover_id == message.cover_id
        and task.status is TaskStatus.OPEN
        and task.assignee.officer_id == message.cover_officer_id
    )
