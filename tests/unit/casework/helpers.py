"""Builders for the casework tests: facts from the other services, officers' commands, and a run
that feeds them through the pure decider with each message's own time as its ``facts.at``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from contracts.base import Actor, Message, Role
from contracts.catalogue.casework import (
    AddTaskNote,
    AssigneeInput,
    CaseworkCommandRejected,
    CheckTaskSla,
    ClaimTask,
    CompleteTask,
    PauseTask,
    ReassignTask,
    ReleaseTask,
    ResumeTask,
    SlaStage,
)
from contracts.export import example_payload
from kit.spec import Output
from kit.timers import Deferred
from services.casework.domain.state import ActiveCover, CaseFile, Facts, LeaveCover, Policy, Task
from services.casework.domain.table import source_service
from services.casework.settings import CaseworkSettings
from services.casework.spec import decide

CSID = "123456789"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
#: The processing clock the decider is given: far from every message's own time, so a rule that
#: read it instead of ``facts.at`` would show.
WALL_CLOCK = datetime(2031, 6, 30, 23, 0, tzinfo=UTC)
POLICY = CaseworkSettings().policy()


def actor(
    officer_id: str, role: Role = Role.CSO, first_name: str = "Priya", team: str = "PS Team 3"
) -> Actor:
    return Actor(
        officer_id=officer_id, role=role, first_name=first_name, site="Hobart", team=team, extension="4471"
    )


PRIYA = actor("EMP10442")
SAM = actor("EMP20931", first_name="Sam", team="Mainstream 12")
ALEX = actor("EMP10777", first_name="Alex")
JO = actor("EMP20001", Role.TEAM_LEADER, first_name="Jo")
MANAGER = actor("EMP30001", Role.SERVICE_MANAGER, first_name="Kim")


def an_id(name: str) -> UUID:
    """A stable id per name, so tests read well and repeat exactly."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"casemesh-test:casework:{name}")


M = TypeVar("M", bound=Message)


def fact(cls: type[M], **overrides: Any) -> M:
    """The contract's example of ``cls``, with ``overrides`` over it (wire values)."""
    return cls.build(**{**example_payload(cls), **overrides})


class Run:
    """Decides messages one after another on one aggregate, a minute apart by their own time."""

    def __init__(self, policy: Policy = POLICY, state: Any = None, csid: str = CSID) -> None:
        self.policy = policy
        self.state: Any = state
        self.csid = csid
        self.at = T0
        self.count = 0
        self.outputs: list[Output] = []

    def __call__(
        self,
        message: Message,
        *,
        at: datetime | None = None,
        message_id: UUID | None = None,
        covers: Sequence[ActiveCover] = (),
        customers: Sequence[str] = (),
        now: datetime = WALL_CLOCK,
    ) -> list[Output]:
        """Decides ``message``; returns its outputs. Without ``at`` it occurs a minute after the last."""
        self.count += 1
        self.at = at if at is not None else self.at + timedelta(minutes=1)
        facts = Facts(
            policy=self.policy,
            at=self.at,
            message_id=message_id or an_id(f"message-{self.count}"),
            message_type=type(message).MESSAGE_TYPE,
            producer=source_service(message),
            csid=self.csid,
            covers=tuple(covers),
            customers=tuple(customers),
        )
        self.state, out = decide(self.state, message, now, facts)
        self.outputs = list(out)
        return self.outputs

    @property
    def case(self) -> CaseFile:
        assert isinstance(self.state, CaseFile)
        return self.state

    @property
    def cover(self) -> LeaveCover:
        assert isinstance(self.state, LeaveCover)
        return self.state

    @property
    def task(self) -> Task:
        """The case file's only task."""
        (task,) = self.case.tasks.values()
        return task

    def task_of(self, task_id: UUID) -> Task:
        task = self.case.task(task_id)
        assert task is not None
        return task


def refusal(outputs: Sequence[Output]) -> CaseworkCommandRejected:
    (event,) = outputs
    assert isinstance(event, CaseworkCommandRejected), event
    return event


def of_type(outputs: Sequence[Output], cls: type[M]) -> list[M]:
    return [o for o in outputs if isinstance(o, cls)]


def one(outputs: Sequence[Output], cls: type[M]) -> M:
    (found,) = of_type(outputs, cls)
    return found


def timers(outputs: Sequence[Output]) -> list[Deferred]:
    return [o for o in outputs if isinstance(o, Deferred)]


def types(outputs: Sequence[Output]) -> list[str]:
    return [type(o.message).__name__ if isinstance(o, Deferred) else type(o).__name__ for o in outputs]


# -- officers' commands


def claim(task_id: UUID, by: Actor = PRIYA) -> ClaimTask:
    return ClaimTask(task_id=task_id, actor=by)


def release(task_id: UUID, by: Actor = PRIYA, reason: str | None = "Needs a specialist") -> ReleaseTask:
    return ReleaseTask(task_id=task_id, reason=reason, actor=by)


def complete(task_id: UUID, by: Actor = PRIYA, outcome: str = "FEEDBACK_GIVEN") -> CompleteTask:
    return CompleteTask(task_id=task_id, outcome=outcome, actor=by)


def reassign(
    task_id: UUID, by: Actor = JO, reason: str = "Balancing load", **to: str | Role | None
) -> ReassignTask:
    return ReassignTask(task_id=task_id, to=AssigneeInput(**to), reason=reason, actor=by)  # type: ignore[arg-type]


def note(
    task_id: UUID, name: str = "note", text: str = "Left a message; calling back Tuesday.", by: Actor = PRIYA
) -> AddTaskNote:
    return AddTaskNote(task_id=task_id, note_id=an_id(name), text=text, actor=by)


def pause(task_id: UUID, by: Actor = PRIYA, reason: str = "Awaiting the customer's reply") -> PauseTask:
    return PauseTask(task_id=task_id, reason=reason, actor=by)


def resume(task_id: UUID, by: Actor = PRIYA) -> ResumeTask:
    return ResumeTask(task_id=task_id, actor=by)


def check(task_id: UUID, stage: SlaStage, arming: int) -> CheckTaskSla:
    return CheckTaskSla(task_id=task_id, stage=stage, arming=arming, actor=Actor.system("casework"))
