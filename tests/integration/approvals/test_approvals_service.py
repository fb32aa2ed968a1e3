"""The approvals service through the real broker and store: requests, refusals, timers, work lists."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from contracts.base import Actor, Message, Role
from contracts.catalogue.approvals import Decision, RecordApprovalDecision, RequestApproval, SubjectType
from contracts.envelope import Envelope
from contracts.topics import commands_topic, events_topic
from deploy.local.localinfra import free_port
from services.approvals.app import create_runtime
from services.approvals.settings import ApprovalsSettings
from tests.conftest import Infra
from tests.support import Mesh, bearer, envelope, payloads, types, wait_for

CSID = "400100200"
REFERRAL = "c1a7d3f0-5b8e-4c62-9f0e-7d2b6a9e1c44"
EVENTS = events_topic("approvals")
COMMANDS = commands_topic("approvals")


def actor(officer_id: str, role: Role) -> Actor:
    return Actor(
        officer_id=officer_id, role=role, first_name="Alex", site="Hobart", team="PS Team 1", extension="1234"
    )


CSO = actor("CSO-1", Role.CSO)
MANAGER = actor("SM-1", Role.SERVICE_MANAGER)
LEADER = actor("TL-1", Role.TEAM_LEADER)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def mesh(infra: Infra) -> AsyncIterator[Mesh]:
    m = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    yield m
    await m.close()


def request(due_at: datetime, subject_type: SubjectType = SubjectType.CMP) -> RequestApproval:
    return RequestApproval(
        actor=CSO,
        request_id=uuid.uuid4(),
        subject_type=subject_type,
        subject_id=REFERRAL,
        chain_id=REFERRAL,
        required_role=Role.SERVICE_MANAGER,
        due_at=due_at,
        summary="CMP ready for Service Manager approval",
    )


def decision(request_id: uuid.UUID, by: Actor) -> RecordApprovalDecision:
    return RecordApprovalDecision(
        actor=by, request_id=request_id, decision=Decision.ACCEPT, reason="Plan is sound"
    )


async def send(mesh: Mesh, message: Message) -> Envelope:
    env = envelope(message, CSID)
    await mesh.send(COMMANDS, env)
    return env


async def get(client: httpx.AsyncClient, path: str) -> Any:
    """A work list, asked for with the token of the officer whose list it is (or of a holder of its role)."""
    _, _, role, *officer = path.split("/")
    response = await client.get(path, headers=bearer(officer[0] if officer else "READER-1", Role(role)))
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_request_is_listed_for_the_manager_a_self_approval_is_refused_and_acceptance_clears_it(
    mesh: Mesh,
) -> None:
    port = free_port()
    settings = mesh.settings(ApprovalsSettings, api_port=port)
    await mesh.start(create_runtime(settings))
    cmd = request(datetime.now(UTC) + timedelta(days=5))
    rid = str(cmd.request_id)

    await send(mesh, cmd)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

        async def listed() -> bool:
            return len((await get(client, "/work-lists/SERVICE_MANAGER"))["actions"]) == 1

        await wait_for(listed)
        manager_list = await get(client, "/work-lists/SERVICE_MANAGER")
        item = manager_list["actions"][0]
        assert (item["request_id"], item["csid"], item["subject_type"]) == (rid, CSID, "CMP")
        assert item["requested_by"] == "CSO-1" and item["overdue"] is False and item["escalated"] is False
        # The CSO who marked it is barred from deciding it, and sees it as awaiting a decision.
        cso_view = await get(client, "/work-lists/SERVICE_MANAGER/CSO-1")
        assert cso_view["actions"] == [] and [a["request_id"] for a in cso_view["awaiting_decision"]] == [rid]
        assert [
            a["request_id"] for a in (await get(client, "/work-lists/SERVICE_MANAGER/SM-1"))["actions"]
        ] == [rid]
        assert (await get(client, "/work-lists/TEAM_LEADER"))["actions"] == []
        manager = bearer("SM-1", Role.SERVICE_MANAGER)
        assert (await client.get("/work-lists/NOBODY", headers=manager)).status_code == 404
        # Issue 16: no token, another officer's list, a role not held.
        assert (await client.get("/work-lists/SERVICE_MANAGER")).status_code == 401
        assert (await client.get("/work-lists/SERVICE_MANAGER/CSO-1", headers=manager)).status_code == 403
        assert (await client.get("/work-lists/TEAM_LEADER", headers=manager)).status_code == 403

        # Segregation of duties through the broker: the requester, acting as Service Manager.
        self_approval = await send(mesh, decision(cmd.request_id, actor("CSO-1", Role.SERVICE_MANAGER)))
        await send(mesh, decision(cmd.request_id, MANAGER))
        records = await mesh.read(EVENTS, 3)
        assert types(records) == ["ApprovalRequested", "DecisionRejected", "ApprovalAccepted"]
        refusal = payloads(records, "DecisionRejected")[0]
        assert refusal["reason_code"] == "SELF_APPROVAL"
        assert refusal["rejected_message_id"] == str(self_approval.message_id)
        assert refusal["rejected_message_type"] == "RecordApprovalDecision"
        assert refusal["attempted_by"]["officer_id"] == "CSO-1"
        accepted = payloads(records, "ApprovalAccepted")[0]
        assert accepted["decided_by"]["officer_id"] == "SM-1" and accepted["request_id"] == rid
        assert all(r.key == CSID.encode() for r in records)

        async def cleared() -> bool:
            return (await get(client, "/work-lists/SERVICE_MANAGER"))["actions"] == []

        await wait_for(cleared)
        assert (await get(client, "/work-lists/SERVICE_MANAGER/CSO-1"))["awaiting_decision"] == []


async def test_an_overdue_request_is_escalated_once_by_its_durable_timer_across_a_restart(mesh: Mesh) -> None:
    clock = Clock()
    port = free_port()
    settings = mesh.settings(ApprovalsSettings, api_port=port, timer_interval_s=0.2)
    first = await mesh.start(create_runtime(settings, clock))
    cmd = request(clock.now + timedelta(days=2))
    await send(mesh, cmd)
    assert types(await mesh.read(EVENTS, 1)) == ["ApprovalRequested"]
    await first.stop()

    await mesh.start(create_runtime(settings, clock))
    clock.now += timedelta(days=3)
    records = await mesh.read(EVENTS, 2, settle_s=1.5)
    assert types(records) == ["ApprovalRequested", "ApprovalEscalated"]
    escalated = payloads(records, "ApprovalEscalated")[0]
    assert escalated["escalated_to_role"] == "TEAM_LEADER" and escalated["request_id"] == str(cmd.request_id)
    timer_record = records[1]
    assert json.loads(timer_record.value)["causation_id"] is not None

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

        async def on_team_leaders_list() -> bool:
            return len((await get(client, "/work-lists/TEAM_LEADER"))["actions"]) == 1

        await wait_for(on_team_leaders_list)
        item = (await get(client, "/work-lists/TEAM_LEADER"))["actions"][0]
        assert item["escalated"] is True and item["overdue"] is True

    await send(mesh, decision(cmd.request_id, LEADER))
    records = await mesh.read(EVENTS, 3)
    assert types(records)[-1] == "ApprovalAccepted"
    assert payloads(records, "ApprovalAccepted")[0]["decided_by"]["role"] == "TEAM_LEADER"
