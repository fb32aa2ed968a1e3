"""The endpoints' gate (kit/api.py): a verified bearer token before any route, one JSON error shape,
and parsing that answers 4xx, never 500, for whatever a hostile caller sends."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contracts.base import Role
from kit.api import ApiError, code_query, csid_of, endpoint, int_query, uuid_value, whole_number
from kit.http import api_app
from kit.identity import DEVELOPMENT_KID, Identity, Verifier, development_token, service_token
from kit.settings import ServiceSettings

SETTINGS = ServiceSettings(service_name="referrals")
VERIFIER = Verifier.from_settings(SETTINGS)


async def whoami(request: Request, identity: Identity) -> Response:
    return JSONResponse({"subject": identity.subject, "roles": sorted(identity.roles)})


async def numbers(request: Request, identity: Identity) -> Response:
    csid = csid_of(request)
    return JSONResponse({"csid": csid, "limit": int_query(request, "limit", 50, 1, 200)})


async def broken(request: Request, identity: Identity) -> Response:
    raise RuntimeError("customer 123456789 has a secret")


APP = api_app(
    [
        Route("/whoami", endpoint(whoami)),
        Route("/customers/{csid}/numbers", endpoint(numbers)),
        Route("/broken", endpoint(broken)),
    ],
    VERIFIER,
)


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url="http://api")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def officer_token(**kwargs: Any) -> str:
    return development_token("EMP1", [Role.CASE_WORKER], **kwargs)


def forged_token() -> str:
    """Claims the development key's kid, signed with another key."""
    now = int(time.time())
    claims = {
        "sub": "EMP1",
        "roles": ["SERVICE_MANAGER"],
        "iss": SETTINGS.identity_issuer,
        "aud": SETTINGS.identity_audience,
        "iat": now,
        "exp": now + 600,
    }
    other = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(claims, other, algorithm="ES256", headers={"kid": DEVELOPMENT_KID})


async def test_a_verified_token_gives_the_endpoint_its_officer_and_roles() -> None:
    async with client() as http:
        answer = await http.get("/whoami", headers=bearer(officer_token()))
    assert answer.status_code == 200
    assert answer.json() == {"subject": "EMP1", "roles": ["CASE_WORKER"]}


async def test_a_request_without_a_token_is_401_with_a_bearer_challenge() -> None:
    async with client() as http:
        answer = await http.get("/whoami")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["reason_code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic RU1QMTpwYXNzd29yZA==",
        "Bearer",
        "Bearer not-a-jwt",
        "Bearer ²²².³³³.¹¹¹",
        "Bearer " + "a" * 9000,
        "Bearer e30.e30.",
    ],
)
async def test_a_malformed_authorization_header_is_401(authorization: str) -> None:
    async with client() as http:
        # As bytes on the wire: a hostile client sends whatever it likes.
        answer = await http.get("/whoami", headers={b"Authorization": authorization.encode()})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"


async def test_an_expired_token_is_401() -> None:
    token = officer_token(ttl_s=60, now=time.time() - 3600)
    async with client() as http:
        answer = await http.get("/whoami", headers=bearer(token))
    assert answer.status_code == 401
    assert answer.json() == {"reason_code": "UNAUTHENTICATED", "reason": "the identity token has expired"}


async def test_a_forged_token_is_401() -> None:
    async with client() as http:
        answer = await http.get("/whoami", headers=bearer(forged_token()))
    assert answer.status_code == 401


async def test_a_token_for_another_audience_is_401() -> None:
    async with client() as http:
        answer = await http.get("/whoami", headers=bearer(officer_token(audience="elsewhere")))
    assert answer.status_code == 401


async def test_the_services_own_token_does_not_open_the_endpoints() -> None:
    async with client() as http:
        answer = await http.get("/whoami", headers=bearer(service_token(SETTINGS)))
    assert answer.status_code == 403
    assert answer.json()["reason_code"] == "FORBIDDEN"


async def test_an_unknown_path_is_401_without_a_token_so_nothing_can_be_probed() -> None:
    async with client() as http:
        assert (await http.get("/customers/123456/elsewhere")).status_code == 401
        assert (
            await http.get("/customers/123456/elsewhere", headers=bearer(officer_token()))
        ).status_code == 404


async def test_an_unexpected_error_is_a_500_without_detail() -> None:
    async with client() as http:
        answer = await http.get("/broken", headers=bearer(officer_token()))
    assert answer.status_code == 500
    assert answer.json() == {"reason_code": "INTERNAL_ERROR", "reason": "The request could not be completed."}


@pytest.mark.parametrize(
    "limit", ["²", "¹⁰", "\u0663", "\uff11", "+5", " 5", "5\n", "-1", "", "0", "201", "9" * 5000]
)
async def test_a_number_other_than_ascii_digits_in_range_is_400(limit: str) -> None:
    async with client() as http:
        answer = await http.get(
            "/customers/123456/numbers", params={"limit": limit}, headers=bearer(officer_token())
        )
    assert answer.status_code == 400
    assert answer.json()["reason_code"] == "INVALID_PARAMETER"


@pytest.mark.parametrize(
    "csid",
    ["123456%0A", "%0A123456", "12345", "1234567890123", "\u0661\u0662\u0663\u0664\u0665\u0666", "123456%00"],
)
async def test_a_csid_that_is_not_6_to_12_ascii_digits_whole_is_400(csid: str) -> None:
    async with client() as http:
        answer = await http.get(f"/customers/{csid}/numbers", headers=bearer(officer_token()))
    assert answer.status_code == 400
    assert answer.json()["reason_code"] == "INVALID_CSID"


async def test_a_csid_and_limit_as_digits_are_accepted() -> None:
    async with client() as http:
        answer = await http.get(
            "/customers/123456789/numbers", params={"limit": "20"}, headers=bearer(officer_token())
        )
    assert answer.json() == {"csid": "123456789", "limit": 20}


def test_only_a_canonical_uuid_is_a_uuid() -> None:
    canonical = "0b0e8f0a-3b5c-4d3e-9f1a-2c3d4e5f6a7b"
    assert str(uuid_value(canonical, "id")) == canonical
    for other in (
        canonical + "\n",
        "{" + canonical + "}",
        "urn:uuid:" + canonical,
        canonical.replace("-", ""),
        canonical.replace("0", "\u0660"),
    ):
        with pytest.raises(ApiError) as refused:
            uuid_value(other, "id")
        assert refused.value.status == 400


def test_whole_numbers_refuse_digits_int_would_crash_on() -> None:
    assert whole_number("5", "level", 1, 5) == 5
    for raw in ("²", "5²", "\u0665", "5 ", "05" * 10):
        with pytest.raises(ApiError):
            whole_number(raw, "level", 1, 5)


def test_a_code_with_a_control_character_is_refused() -> None:
    request = Request({"type": "http", "query_string": b"case_id=CASE-1%0A", "headers": []})
    with pytest.raises(ApiError):
        code_query(request, "case_id")
