"""The work lists behind verified tokens (issue 16): a role's list needs that role, an officer's
list needs that officer; on the in-memory twin of the store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest

from contracts.base import Role
from kit.http import api_app
from kit.identity import Verifier, development_token
from kit.memory import forget, memory_database
from services.approvals.settings import ApprovalsSettings
from services.approvals.spec import COLLECTION, SPEC
from services.approvals.store import ApprovalsStore
from services.approvals.worklist import work_list_routes

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
async def work_lists() -> AsyncIterator[httpx.AsyncClient]:
    url = f"memory:{uuid.uuid4().hex}"
    settings = ApprovalsSettings(mongodb_url=url)
    database = cast(Any, memory_database(url, settings.mongodb_database))
    store = ApprovalsStore(SPEC.stores(database)[COLLECTION], database)
    await store.work_items.insert_one(
        {
            "_id": "request-1",
            "csid": "123456789",
            "status": "PENDING",
            "roles": ["SERVICE_MANAGER"],
            "required_role": "SERVICE_MANAGER",
            "escalated": False,
            "subject_type": "PS_REFERRAL",
            "subject_id": "referral-1",
            "chain_id": "chain-1",
            "summary": "A referral to PS",
            "requested_by": "CSO-1",
            "barred_officer_ids": ["CSO-1"],
            "requested_at": NOW,
            "due_at": NOW + timedelta(days=2),
        }
    )
    app = api_app(work_list_routes(store, lambda: NOW, 100), Verifier.from_settings(settings))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://approvals"
    ) as client:
        yield client
    forget(url)


def token(officer_id: str, *roles: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {development_token(officer_id, roles)}"}


async def test_a_work_list_is_401_without_a_token(work_lists: httpx.AsyncClient) -> None:
    for path in ("/work-lists/SERVICE_MANAGER", "/work-lists/SERVICE_MANAGER/SM-1"):
        answer = await work_lists.get(path)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"


async def test_a_roles_work_list_needs_that_role_among_the_tokens_roles(
    work_lists: httpx.AsyncClient,
) -> None:
    manager = await work_lists.get("/work-lists/SERVICE_MANAGER", headers=token("SM-1", Role.SERVICE_MANAGER))
    assert [a["request_id"] for a in manager.json()["actions"]] == ["request-1"]

    refused = await work_lists.get("/work-lists/SERVICE_MANAGER", headers=token("CSO-1", Role.CSO))
    assert refused.status_code == 403
    assert refused.json()["reason_code"] == "FORBIDDEN"


async def test_an_officers_work_list_is_theirs_only_and_in_a_role_they_hold(
    work_lists: httpx.AsyncClient,
) -> None:
    headers = token("SM-1", Role.SERVICE_MANAGER)
    own = await work_lists.get("/work-lists/SERVICE_MANAGER/SM-1", headers=headers)
    assert own.status_code == 200
    assert [a["request_id"] for a in own.json()["actions"]] == ["request-1"]

    for path in (
        "/work-lists/SERVICE_MANAGER/SM-2",  # another officer's
        "/work-lists/SERVICE_MANAGER/SM-1%0A",  # not quite theirs
        "/work-lists/TEAM_LEADER/SM-1",  # a role they do not hold
        "/work-lists/SYSTEM/SM-1",  # never an officer's role
    ):
        answer = await work_lists.get(path, headers=headers)
        assert answer.status_code == 403, path
        assert answer.json()["reason_code"] == "FORBIDDEN"


async def test_an_unknown_role_is_404(work_lists: httpx.AsyncClient) -> None:
    answer = await work_lists.get("/work-lists/NOBODY", headers=token("SM-1", Role.SERVICE_MANAGER))
    assert answer.status_code == 404
    assert answer.json()["reason_code"] == "UNKNOWN_ROLE"
