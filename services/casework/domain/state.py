"""Casework's state: one case file per customer (tasks, timeline, case summary) and one record per
leave cover; and the facts its rules are given besides the state.

Every time in the state comes from the messages (their ``occurred_at``), never from the clock
that processes them, so replaying the topics into an empty database rebuilds the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from contracts.base import Actor, Role
from contracts.catalogue.casework import Assignee, TaskKind, TaskStatus

#: A case file keeps this many timeline lines, newest last (older ones stay on the topics).
TIMELINE_LIMIT = 500


class _State(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Who(_State):
    """Who acted, as staff are referenced (seed 003 table 1 step 2: first name, site, team)."""

    officer_id: str
    first_name: str
    role: str
    team: str

    @classmethod
    def of(cls, actor: Actor) -> Who:
        return cls(
            officer_id=actor.officer_id, first_name=actor.first_name, role=actor.role.value, team=actor.team
        )

    @property
    def words(self) -> str:
        if self.role == Role.SYSTEM.value:
            return "Casemesh"
        return f"{self.first_name} ({self.role.replace('_', ' ').lower()}, {self.team})"


class HistoryEntry(_State):
    """One line of a task's history: what happened, who did it and why."""

    at: datetime
    action: str
    by: Who | None = None
    detail: str | None = None


class Note(_State):
    note_id: UUID
    at: datetime
    by: Who
    text: str


class Task(_State):
    task_id: UUID
    kind: TaskKind
    title: str
    assignee: Assignee
    status: TaskStatus = TaskStatus.OPEN
    claimed_by: Who | None = None
    subject: str
    source_message_id: UUID
    source_message_type: str
    source_service: str
    opened_at: datetime
    due_at: datetime
    warn_at: datetime
    arming: int = 0
    paused_at: datetime | None = None
    pause_reason: str | None = None
    paused_seconds: int = 0
    warned_at: datetime | None = None
    breached_at: datetime | None = None
    escalated_to: Assignee | None = None
    cover_id: UUID | None = None
    """The leave cover that moved it, while it sits with the cover officer."""
    covered_officer_id: str | None = None
    outcome: str | None = None
    closed_at: datetime | None = None
    notes: tuple[Note, ...] = ()
    history: tuple[HistoryEntry, ...] = ()

    @property
    def is_closed(self) -> bool:
        return self.status in (TaskStatus.DONE, TaskStatus.CANCELLED)

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    def with_history(self, entry: HistoryEntry, **changes: object) -> Self:
        return self.model_copy(update={**changes, "history": (*self.history, entry)})


class TimelineEntry(_State):
    """One fact about the customer, in plain words."""

    at: datetime
    service: str
    message_type: str
    message_id: UUID
    words: str
    who: str | None = None
    outcome: str | None = None


class Lock(_State):
    kind: str
    officer_id: str | None = None
    area: str | None = None
    reason: str


class CaseFile(_State):
    """One customer's tasks, timeline and what the other services last said of them."""

    csid: str = ""
    tasks: dict[str, Task] = {}
    timeline: tuple[TimelineEntry, ...] = ()
    owner_area: str | None = None
    lock: Lock | None = None
    in_ps: bool = False
    open_issues: dict[str, str] = {}
    """Open presenting issues: issue id → issue code (and specialist area)."""
    complaints: dict[str, str] = {}
    """Complaint id → its status in words (open at level 1, escalated, finalised as …)."""
    msp: dict[str, str] = {}
    """MSP id → its status in words."""

    def task(self, task_id: UUID) -> Task | None:
        return self.tasks.get(str(task_id))

    def with_task(self, task: Task) -> Self:
        return self.model_copy(update={"tasks": {**self.tasks, str(task.task_id): task}})


class CoverStatus:
    ARRANGED = "ARRANGED"
    ACTIVE = "ACTIVE"
    ENDED = "ENDED"


class LeaveCover(_State):
    cover_id: UUID
    officer_id: str
    cover_officer_id: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    arranged_by: Who
    status: str = CoverStatus.ARRANGED
    customers: tuple[str, ...] = ()
    """The customers whose tasks it moved when it started."""


@dataclass(frozen=True)
class ActiveCover:
    cover_id: UUID
    officer_id: str
    cover_officer_id: str
    reason: str


@dataclass(frozen=True)
class Policy:
    """What the deployment configures: the SLA per kind and when the warning comes."""

    slas: dict[TaskKind, timedelta]
    warning_fraction: float


@dataclass(frozen=True)
class Facts:
    """Besides the state: the message's envelope, the policy, and what was read before deciding."""

    policy: Policy
    at: datetime
    """When the message occurred (its envelope's ``occurred_at``): the rules' only clock."""
    message_id: UUID
    message_type: str
    producer: str
    csid: str
    covers: tuple[ActiveCover, ...] = ()
    """Active leave covers of the officer a new task would go to."""
    customers: tuple[str, ...] = field(default_factory=tuple)
    """For a leave cover starting or ending: the customers whose tasks it moves."""
