"""The casework service declared (issue 17): a case file per customer, decided by every fact the
other services publish and by officers' commands on its tasks; and the agency's leave covers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.base import Message
from contracts.catalogue import EVENTS
from contracts.catalogue.casework import (
    AddTaskNote,
    ArrangeLeaveCover,
    CaseworkCommandRejected,
    CheckTaskSla,
    ClaimTask,
    CompleteTask,
    CoverCustomerTasks,
    EndLeaveCover,
    PauseTask,
    ReassignTask,
    ReleaseTask,
    ResumeTask,
    StartLeaveCover,
)
from kit.spec import Aggregate, Decision, Rule, ServiceSpec
from services.casework.domain import covers, tasks
from services.casework.domain.state import CaseFile, Facts, LeaveCover

#: Every fact casework reads: each adds to its customer's timeline; the task table's open tasks.
FACTS: tuple[type[Message], ...] = tuple(
    cls for service, events in EVENTS.items() if service != "casework" for cls in events
)

_COMMANDS: dict[type[Message], Rule] = {
    ClaimTask: tasks.claim,
    ReleaseTask: tasks.release,
    CompleteTask: tasks.complete,
    ReassignTask: tasks.reassign,
    AddTaskNote: tasks.add_note,
    PauseTask: tasks.pause,
    ResumeTask: tasks.resume,
    CheckTaskSla: tasks.check_sla,
    CoverCustomerTasks: tasks.cover_tasks,
}

CASE_FILES = Aggregate(
    collection="case_files",
    state=CaseFile,
    initial=CaseFile,
    rules={**dict.fromkeys(FACTS, tasks.on_fact), **_COMMANDS},
)

LEAVE_COVERS = Aggregate(
    collection="leave_covers",
    state=LeaveCover,
    key=lambda envelope, message: str(message.cover_id),
    rules={ArrangeLeaveCover: covers.arrange, StartLeaveCover: covers.start, EndLeaveCover: covers.end},
)

SPEC = ServiceSpec("casework", [CASE_FILES, LEAVE_COVERS], CaseworkCommandRejected)

#: Messages whose decision may change a task (the work-list projection follows them).
TASK_MESSAGES: frozenset[type[Message]] = frozenset(_COMMANDS)


def decide(state: Any, message: Message, now: datetime, facts: Facts) -> Decision:
    """The new state and the outputs for one message; a refusal leaves the state as it was."""
    return SPEC.decide(state, message, now, facts)
