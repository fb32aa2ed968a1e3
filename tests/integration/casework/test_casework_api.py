"""Casework's API through the real broker and store: work lists, a claim published and applied,
who may read and reassign, bodies that do not validate, and the generated OpenAPI document."""

from __future__ import annotations

from typing import Any

import httpx

from contracts.base import Role
from kit.identity import development_token
from tests.integration.casework.support import (
    LEADER,
    OFFICER,
    OTHER,
    TEAM,
    as_officer,
    feedback_for,
    mesh,
    start_casework,
    wait_for_tasks,
)
from tests.support import Mesh, bearer, wait_for

__all__ = ["mesh"]
CSID = "500100201"


async def test_a_claim_sent_through_the_api_shows_on_the_work_list_task_and_timeline_once_casework_applied_it(
    mesh: Mesh,
) -> None:
    base = await start_casework(mesh)
    await feedback_for(mesh, OFFICER, CSID)
    async with httpx.AsyncClient(base_url=base) as client:
        (task,) = await wait_for_tasks(client, OFFICER, 1)
        assert task["csid"] == CSID and task["kind"] == "STAFF_FEEDBACK" and task["status"] == "OPEN"
        assert task["assignee"] == {"officer_id": "OFF-7", "team": TEAM, "role": None}
        assert task["overdue"] is False and task["claimed_by"] is None
        task_id = task["task_id"]

        claim = await client.post(f"/tasks/{task_id}/claim", headers=as_officer(OFFICER))
        assert claim.status_code == 202, claim.text
        assert set(claim.json()) == {"message_id"}

        (claimed,) = await wait_for_tasks(client, OFFICER, 1, status="CLAIMED", claimed_by="OFF-7")
        assert claimed["task_id"] == task_id
        reader = bearer(OTHER.officer_id, OTHER.role)
        detail = (await client.get(f"/tasks/{task_id}", headers=reader)).json()
        assert [h["action"] for h in detail["history"]] == ["opened", "claimed"]
        assert detail["history"][-1]["by"]["officer_id"] == "OFF-7"
        case = (await client.get(f"/cases/{CSID}", headers=reader)).json()
        assert case["timeline"][0]["words"] == "Task claimed"
        assert [t["task_id"] for t in case["open_tasks"]] == [task_id]
        team = (await client.get(f"/work-lists/teams/{TEAM}", headers=reader)).json()
        assert [t["task_id"] for t in team["tasks"]] == [task_id] and team["load"] == {"OFF-7": 1}
        filtered = await client.get(
            f"/work-lists/officers/{OFFICER.officer_id}",
            params={"kind": "MSP_REVIEW"},
            headers=bearer(OFFICER.officer_id, Role.CSO),
        )
        assert filtered.json()["tasks"] == []
        overdue = await client.get(
            f"/work-lists/officers/{OFFICER.officer_id}",
            params={"overdue": "true"},
            headers=bearer(OFFICER.officer_id, Role.CSO),
        )
        assert overdue.json()["tasks"] == []

        document = (await client.get("/openapi.json", headers=reader)).json()
        paths: dict[str, Any] = document["paths"]
        assert set(paths) >= {
            "/work-lists/officers/{officer_id}",
            "/work-lists/teams/{team}",
            "/work-lists/roles/{role}",
            "/cases/{csid}",
            "/tasks/{task_id}",
            *(
                f"/tasks/{{task_id}}/{a}"
                for a in ("claim", "release", "complete", "reassign", "notes", "pause", "resume")
            ),
            "/leave-covers",
            "/officers/{officer_id}/reassign-open-work",
        }
        complete = paths["/tasks/{task_id}/complete"]["post"]["requestBody"]["content"]["application/json"]
        assert complete["schema"] == {"$ref": "#/components/schemas/CompleteBody"}
        schemas = document["components"]["schemas"]
        assert schemas["CompleteBody"]["required"] == ["outcome"]
        assert "to" in schemas["ReassignBody"]["properties"] and "AssigneeInput" in schemas


async def test_the_api_refuses_no_token_another_officers_list_and_a_reassignment_by_a_non_team_leader(
    mesh: Mesh,
) -> None:
    base = await start_casework(mesh)
    await feedback_for(mesh, OFFICER, CSID)
    async with httpx.AsyncClient(base_url=base) as client:
        (task,) = await wait_for_tasks(client, OFFICER, 1)
        task_id = task["task_id"]
        mine = f"/work-lists/officers/{OFFICER.officer_id}"

        assert (await client.get(mine)).status_code == 401
        # The pages' session cookie stands for the bearer token under /ui only.
        session = {"casemesh_session": development_token(OFFICER.officer_id, [Role.CSO])}
        client.cookies.update(session)
        assert (await client.get(mine)).status_code == 401
        assert (await client.get("/ui")).status_code == 303  # a token, but no officer details yet
        client.cookies.clear()
        to_login = await client.get("/ui")
        assert to_login.status_code == 303 and to_login.headers["location"] == "/ui/login"
        assert (await client.get("/ui/login")).status_code == 200
        assert (await client.get(mine, headers={"Authorization": "Bearer not-a-jwt"})).status_code == 401
        assert (await client.get(mine, headers=bearer(OTHER.officer_id, Role.CSO))).status_code == 403
        assert (
            await client.get(mine, headers=bearer(LEADER.officer_id, Role.TEAM_LEADER))
        ).status_code == 200
        queue = "/work-lists/roles/SERVICE_MANAGER"
        assert (await client.get(queue, headers=bearer(OFFICER.officer_id, Role.CSO))).status_code == 403

        reassign = {"to": {"officer_id": OTHER.officer_id}, "reason": "Balancing load"}
        refused = await client.post(f"/tasks/{task_id}/reassign", json=reassign, headers=as_officer(OFFICER))
        assert refused.status_code == 403 and refused.json()["reason_code"] == "TEAM_LEADER_REQUIRED"
        posing = as_officer(LEADER, Role.CSO)  # a Team Leader's details on a token without the role
        assert (
            await client.post(f"/tasks/{task_id}/reassign", json=reassign, headers=posing)
        ).status_code == 403
        assert (await client.post(f"/tasks/{task_id}/claim")).status_code == 401

        secret = "x" * 70
        invalid = await client.post(
            f"/tasks/{task_id}/complete", json={"outcome": secret}, headers=as_officer(OFFICER)
        )
        assert invalid.status_code == 400 and invalid.json()["fields"] == ["outcome"]
        assert secret not in invalid.text
        unknown = await client.post(
            "/tasks/00000000-0000-4000-8000-000000000000/claim", headers=as_officer(OFFICER)
        )
        assert unknown.status_code == 404

        moved = await client.post(f"/tasks/{task_id}/reassign", json=reassign, headers=as_officer(LEADER))
        assert moved.status_code == 202, moved.text
        await wait_for_tasks(client, OTHER, 1)
        assert await wait_for_empty(client, OFFICER)


async def wait_for_empty(client: httpx.AsyncClient, officer: Any) -> bool:
    async def empty() -> bool:
        response = await client.get(
            f"/work-lists/officers/{officer.officer_id}", headers=bearer(officer.officer_id, officer.role)
        )
        return bool(response.json()["tasks"] == [])

    await wait_for(empty)
    return True
