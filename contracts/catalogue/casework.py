"""casework service: the tasks other services' facts ask a person to do, their work lists, SLAs,
reassignment and leave cover, and a timeline per customer (issue 17).

Casework reads every other service's events topic and turns each "someone must act" fact into a
task (its table: ``services/casework/domain/table.py``). Officers act on tasks with the commands
here, published to ``casemesh.casework.commands.v1`` (the casework HTTP API does it for them), so
casework stays the single writer of its documents and events.

Leave cover is the agency's business, not a customer's: its commands and events are keyed by
:data:`AGENCY_CSID`, a reserved key no customer holds, so every leave cover shares one partition
and keeps its order.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar, Self
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from contracts.base import (
    ACTOR_EXAMPLE,
    COMMAND_CONFIG,
    CSID,
    Actor,
    Code,
    Command,
    Event,
    EventPart,
    LongText,
    MessageTypeName,
    Name,
    Rejection,
    Role,
    ShortText,
)
from contracts.rules import Rule, present, published

#: The key of the agency's own records (leave cover): six zeros, which no customer's CSID is.
AGENCY_CSID = "000000"

TASK_ID = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
COVER_ID = "8b7c6d5e-4f3a-4b2c-8d9e-8f7a6b5c4d3e"
NOTE_ID = "9c8d7e6f-5a4b-4c3d-9e8f-9a8b7c6d5e4f"
SOURCE_ID = "0d9e8f7a-6b5c-4d4e-8f9a-0b9c8d7e6f5a"
TEAM_LEADER_EXAMPLE = {**ACTOR_EXAMPLE, "officer_id": "EMP20001", "role": "TEAM_LEADER", "first_name": "Jo"}


class CaseworkReasonCode(StrEnum):
    """Why casework refused a command."""

    # Issue 16: the command's actor is not a verified identity (kit/identity.py).
    UNAUTHENTICATED = "UNAUTHENTICATED"
    ACTOR_MISMATCH = "ACTOR_MISMATCH"
    UNKNOWN_TASK = "UNKNOWN_TASK"
    TASK_CLOSED = "TASK_CLOSED"  # done or cancelled: nothing more happens to it
    CLAIMED_BY_ANOTHER = "CLAIMED_BY_ANOTHER"
    NOT_CLAIMED = "NOT_CLAIMED"  # release or complete a task that is not yours
    NOT_ASSIGNABLE = "NOT_ASSIGNABLE"  # the officer is not in the task's queue
    TEAM_LEADER_REQUIRED = "TEAM_LEADER_REQUIRED"  # reassignment and leave cover are a Team Leader's
    ALREADY_PAUSED = "ALREADY_PAUSED"
    NOT_PAUSED = "NOT_PAUSED"
    DUPLICATE_NOTE = "DUPLICATE_NOTE"
    INVALID_PERIOD = "INVALID_PERIOD"  # a leave cover ends before it starts
    SAME_OFFICER = "SAME_OFFICER"  # an officer cannot cover themselves
    DUPLICATE_COVER = "DUPLICATE_COVER"
    UNKNOWN_COVER = "UNKNOWN_COVER"


class TaskKind(StrEnum):
    """What a task asks for; each comes from one row of the task table."""

    APPROVAL_DECISION = "APPROVAL_DECISION"
    OWNERSHIP_DISPUTE = "OWNERSHIP_DISPUTE"
    MEETING_ACTION = "MEETING_ACTION"
    STAFF_FEEDBACK = "STAFF_FEEDBACK"
    COMPLIMENT_TO_STAFF = "COMPLIMENT_TO_STAFF"
    OFFICER_FEEDBACK = "OFFICER_FEEDBACK"
    DELIVERY_ABANDONED = "DELIVERY_ABANDONED"
    MONITORING_REVIEW = "MONITORING_REVIEW"
    MONITORING_EXPIRED = "MONITORING_EXPIRED"
    MSP_REVIEW = "MSP_REVIEW"
    MSP_INCIDENT = "MSP_INCIDENT"
    INTRAY_ITEM = "INTRAY_ITEM"
    SPECIALISED_ISSUE = "SPECIALISED_ISSUE"
    COMPLAINT_INVESTIGATION = "COMPLAINT_INVESTIGATION"


class TaskStatus(StrEnum):
    OPEN = "OPEN"  # in a queue (an officer's, a team's or a role's), nobody working it yet
    CLAIMED = "CLAIMED"  # an officer is working it
    DONE = "DONE"
    CANCELLED = "CANCELLED"  # closed by a later fact (the approval decided, the dispute resolved…)


class SlaStage(StrEnum):
    WARNING = "WARNING"
    BREACH = "BREACH"


_SOMEONE = "assignee-names-someone"
_SOMEONE_TEXT = "An assignee names an officer, a team or a role (at least one of them)."


class Assignee(EventPart):
    """Who a task waits for: an officer, or a queue (a team, a role, or a role within a team)."""

    model_config = ConfigDict(
        json_schema_extra=published(
            Rule(
                _SOMEONE,
                _SOMEONE_TEXT,
                {
                    "description": _SOMEONE_TEXT,
                    "x-casemesh-rule": _SOMEONE,
                    "anyOf": [present("officer_id"), present("team"), present("role")],
                },
            )
        )
    )

    officer_id: Code | None = Field(default=None, description="The officer, if one.", examples=["EMP10442"])
    team: Name | None = Field(default=None, description="The team whose queue.", examples=["PS Team 3"])
    role: Role | None = Field(default=None, description="The role that works the queue.", examples=["CSO"])

    @model_validator(mode="after")
    def _someone(self) -> Self:
        if self.officer_id is None and self.team is None and self.role is None:
            raise ValueError("an assignee names an officer, a team or a role")
        return self


class AssigneeInput(Assignee):
    """:class:`Assignee` as a command accepts it (strict, closed)."""

    model_config = COMMAND_CONFIG


ASSIGNEE_EXAMPLE: dict[str, Any] = {"officer_id": "EMP10442", "team": "PS Team 3", "role": "CSO"}


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


class _TaskCommand(Command):
    task_id: UUID = Field(description="The task.", examples=[TASK_ID])


class ClaimTask(_TaskCommand):
    """An officer takes a task from their queue to work it."""


class ReleaseTask(_TaskCommand):
    """The officer who claimed a task puts it back in its queue."""

    reason: ShortText | None = Field(default=None, description="Why.", examples=["Needs a specialist"])


class CompleteTask(_TaskCommand):
    """The officer who claimed a task records it done, with its outcome."""

    outcome: Code = Field(description="What came of it.", examples=["FEEDBACK_GIVEN"])


class ReassignTask(_TaskCommand):
    """A Team Leader gives a task to another officer, or back to a queue."""

    EXAMPLE: ClassVar[dict[str, Any]] = {"actor": TEAM_LEADER_EXAMPLE}
    to: AssigneeInput = Field(description="The new assignee.", examples=[ASSIGNEE_EXAMPLE])
    reason: ShortText = Field(description="Why (kept on the task's history).", examples=["Balancing load"])


class AddTaskNote(_TaskCommand):
    """A note on a task; its text stays in casework (events say only that a note was added)."""

    note_id: UUID = Field(description="New id for the note.", examples=[NOTE_ID])
    text: LongText = Field(description="The note.", examples=["Left a message; calling back Tuesday."])


class PauseTask(_TaskCommand):
    """The customer is awaited (a letter out for a reply…): the SLA clock stops until resumed."""

    reason: ShortText = Field(description="What is awaited.", examples=["Awaiting the customer's reply"])


class ResumeTask(_TaskCommand):
    """The clock runs again; the due time moves by the time paused."""


class CheckTaskSla(_TaskCommand):
    """Durable-timer command (actor ``Actor.system``): a task's warning or breach time came."""

    stage: SlaStage = Field(description="Which threshold.", examples=["WARNING"])
    arming: int = Field(
        ge=0, description="Which arming of the clock set it (a stale one is ignored).", examples=[1]
    )


class ArrangeLeaveCover(Command):
    """A Team Leader: from ``starts_at`` to ``ends_at``, work for one officer goes to another.

    Keyed by :data:`AGENCY_CSID`. Applied to the officer's open tasks when it starts and to new
    ones while it lasts; reverted when it ends.
    """

    EXAMPLE: ClassVar[dict[str, Any]] = {"actor": TEAM_LEADER_EXAMPLE}
    cover_id: UUID = Field(description="New id for the cover.", examples=[COVER_ID])
    officer_id: Code = Field(description="The officer on leave.", examples=["EMP10442"])
    cover_officer_id: Code = Field(description="Who covers.", examples=["EMP10777"])
    starts_at: AwareDatetime = Field(description="When it starts.", examples=["2026-12-07T00:00:00+11:00"])
    ends_at: AwareDatetime = Field(description="When it ends.", examples=["2026-12-14T00:00:00+11:00"])
    reason: ShortText = Field(description="Why (kept on each task's history).", examples=["Annual leave"])


class StartLeaveCover(Command):
    """Durable-timer command: a leave cover's start came (keyed by :data:`AGENCY_CSID`)."""

    cover_id: UUID = Field(description="The cover.", examples=[COVER_ID])
    officer_id: Code = Field(description="The officer on leave.", examples=["EMP10442"])


class EndLeaveCover(Command):
    """Durable-timer command: a leave cover's end came (keyed by :data:`AGENCY_CSID`)."""

    cover_id: UUID = Field(description="The cover.", examples=[COVER_ID])


class CoverCustomerTasks(Command):
    """Internal: apply (or revert) a leave cover to one customer's tasks; keyed by that ``csid``."""

    csid: CSID = Field(description="The customer whose tasks are covered.", examples=["123456789"])
    cover_id: UUID = Field(description="The cover.", examples=[COVER_ID])
    officer_id: Code = Field(description="The officer on leave.", examples=["EMP10442"])
    cover_officer_id: Code = Field(description="Who covers.", examples=["EMP10777"])
    reason: ShortText = Field(description="The cover's reason.", examples=["Annual leave"])
    revert: bool = Field(description="True when the cover ended: tasks go back.", examples=[False])


COMMANDS: tuple[type[Command], ...] = (
    ClaimTask,
    ReleaseTask,
    CompleteTask,
    ReassignTask,
    AddTaskNote,
    PauseTask,
    ResumeTask,
    CheckTaskSla,
    ArrangeLeaveCover,
    StartLeaveCover,
    EndLeaveCover,
    CoverCustomerTasks,
)


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


class _TaskFact(Event):
    task_id: UUID = Field(description="The task.", examples=[TASK_ID])


class TaskOpened(_TaskFact):
    """A fact asked someone to act: a task is in a queue, due at ``due_at``."""

    kind: TaskKind = Field(description="What it asks for.", examples=["STAFF_FEEDBACK"])
    title: ShortText = Field(description="In plain words, without personal data.", examples=["Give feedback"])
    assignee: Assignee = Field(description="Who it waits for.", examples=[ASSIGNEE_EXAMPLE])
    due_at: AwareDatetime = Field(description="When the SLA breaches.", examples=["2026-12-03T09:00:00Z"])
    source_message_id: UUID = Field(description="The fact that opened it.", examples=[SOURCE_ID])
    source_message_type: MessageTypeName = Field(description="Its type.", examples=["StaffFeedbackPrepared"])


class TaskClaimed(_TaskFact):
    """An officer took the task to work it."""

    by: Actor = Field(description="Who claimed it.", examples=[ACTOR_EXAMPLE])


class TaskReleased(_TaskFact):
    """The officer working the task put it back in its queue."""

    by: Actor = Field(description="Who released it.", examples=[ACTOR_EXAMPLE])


class TaskCompleted(_TaskFact):
    """The task is done, with its outcome."""

    by: Actor = Field(description="Who completed it.", examples=[ACTOR_EXAMPLE])
    outcome: Code = Field(description="What came of it.", examples=["FEEDBACK_GIVEN"])


class TaskCancelled(_TaskFact):
    """A later fact made the task moot (the approval was decided, the dispute resolved…)."""

    closed_by_message_type: MessageTypeName = Field(description="The fact.", examples=["ApprovalAccepted"])
    closed_by_message_id: UUID = Field(description="Its id.", examples=[SOURCE_ID])


class TaskReassigned(_TaskFact):
    """The task waits for someone else now: a Team Leader moved it, a leave cover, or an escalation."""

    previous: Assignee = Field(description="Who it waited for.", examples=[ASSIGNEE_EXAMPLE])
    assignee: Assignee = Field(description="Who it waits for now.", examples=[ASSIGNEE_EXAMPLE])
    by: Actor = Field(description="Who reassigned it (a Team Leader, or casework).", examples=[ACTOR_EXAMPLE])
    reason: ShortText = Field(description="Why.", examples=["Annual leave"])
    cover_id: UUID | None = Field(
        default=None, description="The leave cover, if that was why.", examples=[COVER_ID]
    )


class TaskNoteAdded(_TaskFact):
    """A note was added; its text stays in casework."""

    note_id: UUID = Field(description="The note.", examples=[NOTE_ID])
    by: Actor = Field(description="Who wrote it.", examples=[ACTOR_EXAMPLE])


class TaskPaused(_TaskFact):
    """The customer is awaited: the task's SLA clock stopped."""

    by: Actor = Field(description="Who paused it.", examples=[ACTOR_EXAMPLE])
    reason: ShortText = Field(description="What is awaited.", examples=["Awaiting the customer's reply"])


class TaskResumed(_TaskFact):
    """The task's SLA clock runs again; its due time moved by the time it stood still."""

    by: Actor = Field(description="Who resumed it.", examples=[ACTOR_EXAMPLE])
    paused_seconds: int = Field(ge=0, description="How long the clock stood still.", examples=[86400])
    due_at: AwareDatetime = Field(description="The new due time.", examples=["2026-12-04T09:00:00Z"])


class TaskSlaWarned(_TaskFact):
    """The warning fraction of the task's SLA has passed without it being done."""

    assignee: Assignee = Field(description="Who it waits for.", examples=[ASSIGNEE_EXAMPLE])
    due_at: AwareDatetime = Field(description="When it breaches.", examples=["2026-12-03T09:00:00Z"])


class TaskSlaBreached(_TaskFact):
    """The task is overdue: it is escalated to the assignee's Team Leader."""

    assignee: Assignee = Field(description="Who it waited for.", examples=[ASSIGNEE_EXAMPLE])
    escalated_to: Assignee = Field(
        description="The Team Leader's queue.", examples=[{"team": "PS Team 3", "role": "TEAM_LEADER"}]
    )
    due_at: AwareDatetime = Field(description="When it was due.", examples=["2026-12-03T09:00:00Z"])


class LeaveCoverArranged(Event):
    """A Team Leader arranged leave cover (keyed by AGENCY_CSID)."""

    cover_id: UUID = Field(description="The cover.", examples=[COVER_ID])
    officer_id: Code = Field(description="The officer on leave.", examples=["EMP10442"])
    cover_officer_id: Code = Field(description="Who covers.", examples=["EMP10777"])
    starts_at: AwareDatetime = Field(description="When it starts.", examples=["2026-12-07T00:00:00+11:00"])
    ends_at: AwareDatetime = Field(description="When it ends.", examples=["2026-12-14T00:00:00+11:00"])
    by: Actor = Field(description="The Team Leader.", examples=[TEAM_LEADER_EXAMPLE])


class LeaveCoverStarted(Event):
    """A leave cover started: the officer's open tasks moved to the cover officer."""

    cover_id: UUID = Field(description="The cover.", examples=[COVER_ID])
    customers: int = Field(ge=0, description="Customers whose open tasks it moved.", examples=[3])


class LeaveCoverEnded(Event):
    """A leave cover ended: the tasks the cover officer had not claimed went back."""

    cover_id: UUID = Field(description="The cover.", examples=[COVER_ID])
    customers: int = Field(ge=0, description="Customers whose tasks it moved back.", examples=[3])


class CaseworkCommandRejected(Rejection):
    """A casework command was refused."""

    reason_code: CaseworkReasonCode = Field(
        description="Why the command was refused.", examples=["CLAIMED_BY_ANOTHER"]
    )
    task_id: UUID | None = Field(
        default=None, description="The task, if the command named one.", examples=[TASK_ID]
    )
    cover_id: UUID | None = Field(
        default=None, description="The leave cover, if the command named one.", examples=[COVER_ID]
    )


EVENTS: tuple[type[Event], ...] = (
    TaskOpened,
    TaskClaimed,
    TaskReleased,
    TaskCompleted,
    TaskCancelled,
    TaskReassigned,
    TaskNoteAdded,
    TaskPaused,
    TaskResumed,
    TaskSlaWarned,
    TaskSlaBreached,
    LeaveCoverArranged,
    LeaveCoverStarted,
    LeaveCoverEnded,
    CaseworkCommandRejected,
)
