"""What the casework tests share: the service started on the test's broker and store with its API
port, officers, and the complaints fact that opens a task for one of them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from contracts.base import Actor, Role, StaffReference
from contracts.catalogue.complaints import ComplaintCategory, StaffFeedbackPrepared
from contracts.envelope import Envelope
from contracts.topics import events_topic
from deploy.local.localinfra import free_port
from services.casework.app import create_runtime
from services.casework.settings import CaseworkSettings
from tests.conftest import Infra
from tests.support import Mesh, bearer, wait_for

TEAM = "PS Team 3"
OFFICER = Actor(
    officer_id="OFF-7", role=Role.CSO, first_name="Sam", site="Hobart", team=TEAM, extension="4321"
)
OTHER = Actor(officer_id="OFF-8", role=Role.CSO, first_name="Kim", site="Hobart", team=TEAM, extension="4322")
LEADER = Actor(
    officer_id="TL-1", role=Role.TEAM_LEADER, first_name="Jo", site="Hobart", team=TEAM, extension="4300"
)


def as_officer(actor: Actor, *roles: Role) -> dict[str, str]:
    """The headers of a write by ``actor``: its bearer token (its role, or ``roles``) and its details."""
    return {
        **bearer(actor.officer_id, *(roles or (actor.role,))),
        "X-Casemesh-Actor": actor.model_dump_json(),
    }


@pytest.fixture
async def mesh(infra: Infra) -> AsyncIterator[Mesh]:
    m = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    yield m
    await m.close()


async def start_casework(mesh: Mesh) -> str:
    """Casework running on the mesh; the base URL of its API port."""
    port = free_port()
    await mesh.start(create_runtime(mesh.settings(CaseworkSettings, api_port=port, timer_interval_s=0.2)))
    return f"http://127.0.0.1:{port}"


async def feedback_for(mesh: Mesh, officer: Actor, csid: str, occurred_at: datetime | None = None) -> None:
    """Complaints' fact that a complaint about ``officer`` was upheld: casework opens a feedback task."""
    fact = StaffFeedbackPrepared(
        complaint_id=uuid.uuid4(),
        staff_member=StaffReference(
            officer_id=officer.officer_id,
            first_name=officer.first_name,
            site=officer.site,
            team=officer.team,
            extension=officer.extension,
        ),
        category=ComplaintCategory.UPHELD,
        summary="Missed call-back",
    )
    at = occurred_at or datetime.now(UTC)
    await mesh.send(
        events_topic("complaints"), Envelope.wrap(fact, csid=csid, producer="complaints", occurred_at=at)
    )


async def work_list(client: httpx.AsyncClient, officer: Actor) -> list[dict[str, object]]:
    response = await client.get(
        f"/work-lists/officers/{officer.officer_id}", headers=bearer(officer.officer_id, officer.role)
    )
    assert response.status_code == 200, response.text
    tasks: list[dict[str, object]] = response.json()["tasks"]
    return tasks


async def wait_for_tasks(
    client: httpx.AsyncClient, officer: Actor, count: int, **expected: object
) -> list[dict[str, object]]:
    """The officer's work list once it has ``count`` tasks (each matching ``expected``)."""
    found: list[dict[str, object]] = []

    async def listed() -> bool:
        nonlocal found
        found = await work_list(client, officer)
        return len(found) == count and all(t[k] == v for t in found for k, v in expected.items())

    await wait_for(listed, timeout_s=60)
    return found
