"""A customer's history behind a verified token (issue 16): any officer, a whole CSID; on the
in-memory twin of the store."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest

from contracts.base import Role
from kit.http import api_app
from kit.identity import Verifier, development_token
from kit.memory import forget, memory_database
from services.referrals.routes import history_routes
from services.referrals.settings import ReferralsSettings
from services.referrals.spec import COLLECTION, SPEC
from services.referrals.store import ReferralsStore


@pytest.fixture
async def history() -> AsyncIterator[httpx.AsyncClient]:
    url = f"memory:{uuid.uuid4().hex}"
    settings = ReferralsSettings(mongodb_url=url)
    database = cast(Any, memory_database(url, settings.mongodb_database))
    app = api_app(
        history_routes(ReferralsStore(SPEC.stores(database)[COLLECTION])), Verifier.from_settings(settings)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://referrals"
    ) as client:
        yield client
    forget(url)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_history_is_401_without_a_token_or_with_an_expired_one(history: httpx.AsyncClient) -> None:
    assert (await history.get("/customers/123456789/history")).status_code == 401
    expired = development_token("EMP1", [Role.CSO], ttl_s=60, now=time.time() - 3600)
    answer = await history.get("/customers/123456789/history", headers=bearer(expired))
    assert answer.status_code == 401
    assert answer.json()["reason_code"] == "UNAUTHENTICATED"


async def test_any_verified_officer_may_ask_for_a_history(history: httpx.AsyncClient) -> None:
    for roles in ([Role.CSO], [Role.SERVICE_MANAGER], []):
        answer = await history.get(
            "/customers/123456789/history", headers=bearer(development_token("EMP1", roles))
        )
        assert answer.status_code == 404
        assert answer.json()["reason_code"] == "UNKNOWN_CUSTOMER"


@pytest.mark.parametrize("csid", ["123456789%0A", "12345", "\uff11\uff12\uff13\uff14\uff15\uff16"])
async def test_a_csid_that_is_not_whole_digits_is_400(history: httpx.AsyncClient, csid: str) -> None:
    answer = await history.get(
        f"/customers/{csid}/history", headers=bearer(development_token("EMP1", [Role.CSO]))
    )
    assert answer.status_code == 400
    assert answer.json()["reason_code"] == "INVALID_CSID"
