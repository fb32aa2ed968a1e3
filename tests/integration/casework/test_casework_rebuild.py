"""``casemesh rebuild casework``: the work lists, the case files and their timelines made again from
the topics casework reads equal the live ones (issue 17), through the real broker and store."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from contracts.catalogue.approvals import ApprovalAccepted, ApprovalRequested
from contracts.catalogue.casework import ClaimTask, CompleteTask, PauseTask, TaskKind
from contracts.export import example_payload
from contracts.topics import commands_topic, events_topic, topic_of
from kit.rebuild import control, generation_of, rebuild
from services.casework.app import create_runtime
from services.casework.settings import CaseworkSettings
from services.casework.spec import SPEC
from tests.conftest import Infra
from tests.integration.casework.support import OFFICER, feedback_for
from tests.integration.kit.test_rebuild import Rebuilds, rebuilds_on
from tests.support import envelope, wait_for

CSID = "400000401"
OTHER_CSID = "400000402"
MORE_CSIDS = ("400000411", "400000412", "400000413", "400000414")
"""Customers whose feedback task is claimed and completed: an officer's command follows the fact
that opened its task, and the replay must keep that order across topics."""
CASEWORK_EVENTS = events_topic("casework")
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def mesh(infra: Infra) -> AsyncIterator[Rebuilds]:
    async with rebuilds_on(infra) as m:
        yield m


async def view(client: AsyncMongoClient[dict[str, Any]], database: str) -> dict[str, Any]:
    """What officers see: every aggregate's state and every work item, bookkeeping left out."""
    found: dict[str, Any] = {}
    for aggregate in SPEC.aggregates:
        docs = client[database][aggregate.collection].find({}, projection={"state": True})
        found[aggregate.collection] = {str(d["_id"]): d["state"] async for d in docs}
    items = client[database]["work_items"].find({}, projection={"version": False})
    found["work_items"] = {d["_id"]: d async for d in items}
    return found


async def test_a_rebuilt_casework_shows_the_same_work_lists_case_files_and_timelines_as_the_live_one(
    mesh: Rebuilds,
) -> None:
    settings = mesh.settings(
        CaseworkSettings, control_database=mesh.control_database, generation_check_interval_s=0.2
    )
    await mesh.start(create_runtime(settings))
    for csid in (CSID, *MORE_CSIDS):
        await feedback_for(mesh, OFFICER, csid, occurred_at=T0)
    requested = ApprovalRequested.build(**example_payload(ApprovalRequested))
    accepted = ApprovalAccepted.build(
        **{**example_payload(ApprovalAccepted), "request_id": str(requested.request_id)}
    )
    for at, fact in ((T0, requested), (T0 + timedelta(hours=2), accepted)):
        await mesh.send(topic_of(fact).name, envelope(fact, OTHER_CSID, occurred_at=at))
    records = await mesh.read(CASEWORK_EVENTS, 6, until=lambda rs: len(_feedback_tasks(rs)) == 5)
    feedback = uuid.UUID(_feedback_tasks(records)[CSID])
    for at, command in (
        (T0 + timedelta(hours=1), ClaimTask(task_id=feedback, actor=OFFICER)),
        (T0 + timedelta(hours=2), PauseTask(task_id=feedback, reason="Awaiting the officer", actor=OFFICER)),
        (T0 + timedelta(hours=3), CompleteTask(task_id=feedback, outcome="FEEDBACK_GIVEN", actor=OFFICER)),
    ):
        await mesh.send(commands_topic("casework"), envelope(command, CSID, occurred_at=at))
    for csid in MORE_CSIDS:
        task_id = uuid.UUID(_feedback_tasks(records)[csid])
        for at, command in (
            (T0 + timedelta(hours=1), ClaimTask(task_id=task_id, actor=OFFICER)),
            (T0 + timedelta(hours=2), CompleteTask(task_id=task_id, outcome="FEEDBACK_GIVEN", actor=OFFICER)),
        ):
            await mesh.send(commands_topic("casework"), envelope(command, csid, occurred_at=at))
    # Six opened, five claimed, one paused, five completed, the approval task cancelled.
    await mesh.read(CASEWORK_EVENTS, 18)

    result = await rebuild(settings, create_runtime, timeout_s=120, poll_s=0.2)

    assert result.switched, result.summary()
    first, second = generation_of(settings, 1), generation_of(settings, 2)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mesh.mongodb_url, tz_aware=True)
    try:
        await wait_for(lambda: _projected(client, second.database, 6))
        live, rebuilt = await view(client, first.database), await view(client, second.database)
    finally:
        await client.close()
    assert sorted(d["status"] for d in live["work_items"].values()) == ["CANCELLED", *["DONE"] * 5]
    timeline = [line["words"] for line in live["case_files"][CSID]["timeline"]]
    assert timeline[-1] == "Task completed"
    assert rebuilt == live
    async with control(settings) as generations:
        assert await generations.live(settings) == second


async def _projected(client: AsyncMongoClient[dict[str, Any]], database: str, count: int) -> bool:
    return await client[database]["work_items"].count_documents({}) >= count


def _feedback_tasks(records: list[Any]) -> dict[str, str]:
    """The feedback task's id by customer, from casework's TaskOpened events."""
    values = [json.loads(r.value) for r in records]
    return {
        v["csid"]: v["payload"]["task_id"]
        for v in values
        if v["message_type"] == "TaskOpened" and v["payload"]["kind"] == TaskKind.STAFF_FEEDBACK.value
    }
