"""The casework service through the real broker and the real store (issue 17).

One casework runs for the whole module, on fresh topics and its own database, with a clock the
tests move: the other services' facts are published on their events topics and officers'
commands on casework's commands topic, as upstream systems would; the tests read what casework
published on its events topic and what it projected into its work list.

Each test works on customers (CSIDs) of its own, so the tests share the service without seeing
each other's tasks; moving the clock fires every task's timers, so each test looks only at the
events of its own tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from contracts.base import Actor, Message, Role
from contracts.catalogue import approvals, contacts, referrals
from contracts.catalogue.casework import (
    AGENCY_CSID,
    AddTaskNote,
    ArrangeLeaveCover,
    Assignee,
    ClaimTask,
    CompleteTask,
    PauseTask,
    ResumeTask,
)
from contracts.envelope import Envelope
from contracts.export import example_payload
from contracts.topics import commands_topic, deadletter_topic, events_topic, topic_of
from services.casework.app import create_runtime
from services.casework.domain.table import TASKS, Row
from services.casework.domain.tasks import task_id_for
from services.casework.settings import CaseworkSettings
from tests.conftest import Infra
from tests.support import Mesh, envelope, wait_for

EVENTS = events_topic("casework")
COMMANDS = commands_topic("casework")
DEAD_LETTERS = deadletter_topic("casework")

#: The intray's SLA here: one hour, so the warning comes at 45 minutes (the default 0.75).
INTRAY_SLA = timedelta(hours=1)

SAM = Actor(
    officer_id="EMP40001", role=Role.CSO, first_name="Sam", site="Hobart", team="Blue", extension="4321"
)
ALEX = SAM.model_copy(update={"officer_id": "EMP40002", "first_name": "Alex"})
LEADER = SAM.model_copy(update={"officer_id": "EMP40003", "first_name": "Jo", "role": Role.TEAM_LEADER})

Payload = dict[str, Any]


class Clock:
    """The runtime's clock, which the tests move: the timer sweeper fires what is due by it."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> datetime:
        self.now += by
        return self.now


class Casework:
    """The running casework, what it published (each message once) and its database."""

    def __init__(
        self, mesh: Mesh, settings: CaseworkSettings, clock: Clock, database: AsyncDatabase[Any]
    ) -> None:
        self.mesh = mesh
        self.settings = settings
        self.clock = clock
        self.database = database
        self.published: dict[str, Payload] = {}
        """Casework's events by message id (publishing is at least once: a copy is one event)."""
        self.dead_letters: list[Payload] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start_reading(self) -> None:
        self._consumer = AIOKafkaConsumer(
            self.mesh.topic(EVENTS),
            self.mesh.topic(DEAD_LETTERS),
            **self.mesh.options(),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await self._consumer.start()
        self._reader = asyncio.create_task(self._read(self._consumer))

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    body = json.loads(record.value)
                    if record.topic == self.mesh.topic(DEAD_LETTERS):
                        self.dead_letters.append(body)
                    else:
                        self.published.setdefault(body["message_id"], body)

    async def stop_reading(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._consumer is not None:
            await self._consumer.stop()

    # -- input

    async def fact(self, message: Message, csid: str, at: datetime | None = None) -> Envelope:
        """Another service's event, on its own events topic, occurring now by the clock."""
        sent = envelope(message, csid, occurred_at=at or self.clock.now)
        await self.mesh.send(topic_of(message).name, sent)
        return sent

    async def command(self, message: Message, csid: str) -> Envelope:
        """An officer's command (signed with their development token), issued now by the clock."""
        sent = envelope(message, csid, occurred_at=self.clock.now)
        await self.mesh.send(COMMANDS, sent)
        return sent

    # -- output

    def events(self, message_type: str, **fields: Any) -> list[Payload]:
        """The payloads of casework's events of one type whose fields are as given."""
        return [
            body["payload"]
            for body in self.published.values()
            if body["message_type"] == message_type
            and all(body["payload"].get(name) == value for name, value in fields.items())
        ]

    def of_task(self, task_id: uuid.UUID) -> list[str]:
        """The types of casework's events about one task, in the order they came."""
        return [
            b["message_type"] for b in self.published.values() if b["payload"].get("task_id") == str(task_id)
        ]

    async def event(self, message_type: str, timeout_s: float = 20.0, **fields: Any) -> Payload:
        """The one event of this type with these fields, once it came."""

        async def came() -> bool:
            return bool(self.events(message_type, **fields))

        try:
            await wait_for(came, timeout_s)
        except AssertionError:
            raise AssertionError(
                f"no {message_type} with {fields}; dead letters: {self.dead_letters}"
            ) from None
        [found] = self.events(message_type, **fields)
        return found

    async def work_item(
        self, task_id: uuid.UUID, until: Callable[[Payload], bool] = lambda d: True
    ) -> Payload:
        """The task's work-list document, once it exists (and ``until`` holds)."""
        found: Payload = {}

        async def projected() -> bool:
            doc = await self.database["work_items"].find_one({"_id": str(task_id)})
            if doc is not None and until(doc):
                found.update(doc)
                return True
            return False

        await wait_for(projected, 20.0)
        return found

    async def timers_fired(self, csid: str) -> None:
        """Waits until every timer of the customer due by the clock has been sent."""

        async def fired() -> bool:
            due = {"kind": "timer", "aggregate": csid, "due_at": {"$lte": self.clock.now}}
            return await self.database["case_files_inflight"].count_documents(due) == 0

        await wait_for(fired, 20.0)


@pytest.fixture(scope="module")
async def casework(infra: Infra) -> AsyncIterator[Casework]:
    mesh = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    clock = Clock()
    settings: CaseworkSettings = mesh.settings(
        CaseworkSettings, timer_interval_s=0.2, slas={"INTRAY_ITEM": "PT1H"}
    )
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url, tz_aware=True)
    service = Casework(mesh, settings, clock, mongo[settings.mongodb_database])
    try:
        await mesh.start(create_runtime(settings, clock=clock))
        await service.start_reading()
        yield service
    finally:
        await service.stop_reading()
        await mesh.close()
        with contextlib.suppress(Exception):
            await mongo.drop_database(settings.mongodb_database)
        await mongo.close()


def a_customer() -> str:
    """A fresh CSID (nine digits starting 3: never the agency's key)."""
    return f"3{uuid.uuid4().int % 10**8:08d}"


def example(cls: type[Message], **overrides: Any) -> Any:
    """The message built from its published example, with fields changed."""
    return cls.build(**{**example_payload(cls), **overrides})


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def an_intray_item() -> referrals.IntrayItemOpened:
    """An intray item: a task in the CSO queue of the actor's team (PS Team 3), due in one hour."""
    opened: referrals.IntrayItemOpened = example(referrals.IntrayItemOpened, intray_item_id=str(uuid.uuid4()))
    return opened


# ------------------------------------------------------------------------------------ the task table


@pytest.mark.parametrize(("fact", "row"), list(TASKS.items()), ids=[cls.__name__ for cls in TASKS])
async def test_every_fact_of_the_task_table_opens_its_task_with_its_assignee_and_due_time_in_the_work_list(
    casework: Casework, fact: type[Message], row: Row
) -> None:
    csid = a_customer()
    message = example(fact)
    sent = await casework.fact(message, csid)
    task_id = task_id_for(sent.message_id, row)

    opened = await casework.event("TaskOpened", task_id=str(task_id))
    due = row.due(message) or sent.occurred_at + casework.settings.policy().slas[row.kind]
    assert opened["kind"] == row.kind.value
    assert Assignee.model_validate(opened["assignee"]) == row.assignee(message)
    assert at(opened["due_at"]) == due
    assert (opened["source_message_id"], opened["source_message_type"]) == (
        str(sent.message_id),
        fact.MESSAGE_TYPE,
    )
    item = await casework.work_item(task_id)
    assert (item["csid"], item["kind"], item["status"]) == (csid, row.kind.value, "OPEN")
    assert item["due_at"] == due


async def test_a_decision_on_an_approval_request_cancels_its_approval_task(casework: Casework) -> None:
    csid, request_id = a_customer(), str(uuid.uuid4())
    requested = await casework.fact(example(approvals.ApprovalRequested, request_id=request_id), csid)
    task_id = task_id_for(requested.message_id, TASKS[approvals.ApprovalRequested])
    await casework.event("TaskOpened", task_id=str(task_id))

    accepted = await casework.fact(example(approvals.ApprovalAccepted, request_id=request_id), csid)

    cancelled = await casework.event("TaskCancelled", task_id=str(task_id))
    assert (cancelled["closed_by_message_type"], cancelled["closed_by_message_id"]) == (
        "ApprovalAccepted",
        str(accepted.message_id),
    )
    item = await casework.work_item(task_id, until=lambda d: d["status"] == "CANCELLED")
    assert item["status"] == "CANCELLED"


# ------------------------------------------------------------------------------- officers' commands


async def test_an_officer_claims_and_completes_a_task_and_another_officer_may_not_complete_it(
    casework: Casework,
) -> None:
    csid = a_customer()
    sent = await casework.fact(an_intray_item(), csid)
    task_id = task_id_for(sent.message_id, TASKS[referrals.IntrayItemOpened])
    await casework.event("TaskOpened", task_id=str(task_id))

    await casework.command(ClaimTask(actor=SAM, task_id=task_id), csid)
    claimed = await casework.event("TaskClaimed", task_id=str(task_id))
    assert claimed["by"]["officer_id"] == SAM.officer_id
    by_alex = await casework.command(CompleteTask(actor=ALEX, task_id=task_id, outcome="REPLIED"), csid)
    rejected = await casework.event("CaseworkCommandRejected", rejected_message_id=str(by_alex.message_id))
    assert (rejected["reason_code"], rejected["task_id"]) == ("NOT_CLAIMED", str(task_id))
    await casework.command(CompleteTask(actor=SAM, task_id=task_id, outcome="REPLIED"), csid)

    completed = await casework.event("TaskCompleted", task_id=str(task_id))
    assert (completed["by"]["officer_id"], completed["outcome"]) == (SAM.officer_id, "REPLIED")
    item = await casework.work_item(task_id, until=lambda d: d["status"] == "DONE")
    assert item["claimed_by"] == SAM.officer_id


# -------------------------------------------------------------------------------------------- SLAs


async def test_a_task_is_warned_at_three_quarters_of_its_sla_and_escalated_to_the_team_leader_when_overdue(
    casework: Casework,
) -> None:
    csid, opened_at = a_customer(), casework.clock.now
    sent = await casework.fact(an_intray_item(), csid)
    task_id = task_id_for(sent.message_id, TASKS[referrals.IntrayItemOpened])
    opened = await casework.event("TaskOpened", task_id=str(task_id))
    assert at(opened["due_at"]) == opened_at + INTRAY_SLA

    casework.clock.advance(timedelta(minutes=44))
    await casework.timers_fired(csid)
    await asyncio.sleep(0.5)
    assert casework.of_task(task_id) == ["TaskOpened"]
    casework.clock.advance(timedelta(minutes=2))
    warned = await casework.event("TaskSlaWarned", task_id=str(task_id))
    assert at(warned["due_at"]) == opened_at + INTRAY_SLA
    casework.clock.advance(timedelta(minutes=15))

    breached = await casework.event("TaskSlaBreached", task_id=str(task_id))
    leader = Assignee(team="PS Team 3", role=Role.TEAM_LEADER)
    assert Assignee.model_validate(breached["escalated_to"]) == leader
    assert casework.of_task(task_id) == ["TaskOpened", "TaskSlaWarned", "TaskSlaBreached"]
    item = await casework.work_item(task_id, until=lambda d: d["breached"])
    escalated = (item["warned"], item["escalated_team"], item["escalated_role"])
    assert escalated == (True, "PS Team 3", "TEAM_LEADER")


async def test_a_paused_task_is_neither_warned_nor_breached_and_resuming_moves_its_due_time_by_the_pause(
    casework: Casework,
) -> None:
    csid, opened_at = a_customer(), casework.clock.now
    sent = await casework.fact(an_intray_item(), csid)
    task_id = task_id_for(sent.message_id, TASKS[referrals.IntrayItemOpened])
    await casework.event("TaskOpened", task_id=str(task_id))
    casework.clock.advance(timedelta(minutes=10))
    await casework.command(PauseTask(actor=SAM, task_id=task_id, reason="Awaiting a reply"), csid)
    await casework.event("TaskPaused", task_id=str(task_id))

    # Past the warning and the due time while paused: the armed timers fire and change nothing.
    casework.clock.advance(timedelta(hours=2))
    await casework.timers_fired(csid)
    await casework.command(ResumeTask(actor=SAM, task_id=task_id), csid)
    resumed = await casework.event("TaskResumed", task_id=str(task_id))
    await asyncio.sleep(0.5)
    assert casework.of_task(task_id) == ["TaskOpened", "TaskPaused", "TaskResumed"]

    paused_for = timedelta(hours=2)
    due = opened_at + INTRAY_SLA + paused_for
    assert (resumed["paused_seconds"], at(resumed["due_at"])) == (paused_for.total_seconds(), due)
    casework.clock.advance(due - INTRAY_SLA / 4 - casework.clock.now + timedelta(minutes=1))
    warned = await casework.event("TaskSlaWarned", task_id=str(task_id))
    assert at(warned["due_at"]) == due
    casework.clock.advance(INTRAY_SLA / 4)
    breached = await casework.event("TaskSlaBreached", task_id=str(task_id))
    assert at(breached["due_at"]) == due


# ------------------------------------------------------------------------------------- leave cover


async def test_leave_cover_moves_an_officers_open_and_new_tasks_to_the_cover_and_back_unless_claimed(
    casework: Casework,
) -> None:
    on_leave, covering = "EMP40010", "EMP40011"
    cover_actor = SAM.model_copy(update={"officer_id": covering})
    before, during = a_customer(), a_customer()
    row = TASKS[contacts.MeetingActionTaskCreated]

    def action(owner: str) -> Any:
        return example(contacts.MeetingActionTaskCreated, owner=owner, action_id=str(uuid.uuid4()))

    first = task_id_for((await casework.fact(action(on_leave), before)).message_id, row)
    await casework.work_item(first)
    cover_id = uuid.uuid4()
    arrange = ArrangeLeaveCover(
        actor=LEADER,
        cover_id=cover_id,
        officer_id=on_leave,
        cover_officer_id=covering,
        starts_at=casework.clock.now,
        ends_at=casework.clock.now + timedelta(days=7),
        reason="Annual leave",
    )
    await casework.command(arrange, AGENCY_CSID)

    started = await casework.event("LeaveCoverStarted", cover_id=str(cover_id))
    assert started["customers"] == 1
    moved = await casework.event("TaskReassigned", task_id=str(first))
    assert (moved["previous"]["officer_id"], moved["assignee"]["officer_id"]) == (on_leave, covering)
    assert moved["cover_id"] == str(cover_id)

    # While the cover is active, a new task for the officer on leave goes to the cover officer.
    await wait_for(lambda: _cover_is(casework, cover_id, "ACTIVE"))
    second = task_id_for((await casework.fact(action(on_leave), during)).message_id, row)
    opened = await casework.event("TaskOpened", task_id=str(second))
    assert opened["assignee"]["officer_id"] == on_leave
    rerouted = await casework.event("TaskReassigned", task_id=str(second))
    assert (rerouted["assignee"]["officer_id"], rerouted["cover_id"]) == (covering, str(cover_id))
    await casework.work_item(second, until=lambda d: d["officer_id"] == covering)
    await casework.command(ClaimTask(actor=cover_actor, task_id=second), during)
    await casework.event("TaskClaimed", task_id=str(second))
    await casework.work_item(second, until=lambda d: d["status"] == "CLAIMED")

    # When it ends, what the cover officer has not claimed goes back; the claimed task stays.
    casework.clock.advance(timedelta(days=7))
    ended = await casework.event("LeaveCoverEnded", cover_id=str(cover_id))
    assert ended["customers"] == 2
    back = await casework.event("TaskReassigned", task_id=str(first), previous=moved["assignee"])
    assert (back["assignee"]["officer_id"], back["cover_id"]) == (on_leave, None)
    # The cover's moves were sent together: a note on the customer's task comes after its move.
    note = AddTaskNote(actor=cover_actor, task_id=second, note_id=uuid.uuid4(), text="Called the customer.")
    await casework.command(note, during)
    await casework.event("TaskNoteAdded", task_id=str(second))
    assert casework.of_task(second).count("TaskReassigned") == 1
    kept = await casework.work_item(second)
    assert (kept["officer_id"], kept["claimed_by"]) == (covering, covering)


async def _cover_is(casework: Casework, cover_id: uuid.UUID, status: str) -> bool:
    doc = await casework.database["covers"].find_one({"_id": str(cover_id)})
    return doc is not None and doc["status"] == status
