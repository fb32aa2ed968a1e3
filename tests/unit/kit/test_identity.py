"""Issue 16: the identity a command or a request proves, and what the kit refuses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from pydantic import ValidationError

from contracts.base import Actor, Role
from contracts.catalogue.approvals import Decision, RecordApprovalDecision
from contracts.envelope import IDENTITY_HEADER
from kit.identity import (
    DEVELOPMENT_KID,
    ServiceTokens,
    Unauthenticated,
    Unverified,
    Verdict,
    Verifier,
    development_headers_for,
    development_jwks,
    development_token,
    service_token,
)
from kit.settings import ServiceSettings
from services.approvals.spec import SPEC as APPROVALS

MANAGER = Actor(
    officer_id="SM-1", role=Role.SERVICE_MANAGER, first_name="Ana", site="Hobart", team="PS 1", extension="12"
)


def settings(service: str = "approvals", **values: Any) -> ServiceSettings:
    return ServiceSettings(service_name=service, **values)


def verifier(service: str = "approvals") -> Verifier:
    return Verifier.from_settings(settings(service))


def approve(by: Actor) -> RecordApprovalDecision:
    return RecordApprovalDecision(actor=by, request_id=uuid.uuid4(), decision=Decision.ACCEPT, reason="ok")


def headers(token: str) -> dict[str, bytes | None]:
    return {IDENTITY_HEADER: token.encode()}


def test_a_development_token_proves_its_officer_roles_and_privilege() -> None:
    identity = verifier().verify(development_token("SM-1", [Role.SERVICE_MANAGER], privilege=4))
    assert (identity.subject, identity.roles, identity.privilege) == ("SM-1", {Role.SERVICE_MANAGER}, 4)


def test_a_command_whose_actor_matches_its_token_passes() -> None:
    token = development_token("SM-1", [Role.SERVICE_MANAGER, Role.TEAM_LEADER])
    assert verifier().check(headers(token), approve(MANAGER)) is None


@pytest.mark.parametrize(
    ("token_of", "reason"),
    [
        (("OFF-9", [Role.SERVICE_MANAGER]), "actor.officer_id is not the token's subject"),
        (("SM-1", [Role.CSO]), "actor.role is not among the token's roles"),
    ],
)
def test_a_command_whose_actor_disagrees_with_its_token_is_an_actor_mismatch(
    token_of: tuple[str, list[Role]], reason: str
) -> None:
    token = development_token(*token_of)
    assert verifier().check(headers(token), approve(MANAGER)) == Verdict("ACTOR_MISMATCH", reason)


def _unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": "SM-1",
        "roles": ["SERVICE_MANAGER"],
        "iss": "casemesh-development",
        "aud": "casemesh",
        "iat": now,
        "exp": now + 600,
        **overrides,
    }


def _hs256_with_public_key() -> str:
    # Algorithm confusion: the provider's public key used as an HMAC secret.
    public = json.dumps(development_jwks()["keys"][0]).encode()

    def part(value: dict[str, Any]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    signing_input = part({"alg": "HS256", "kid": DEVELOPMENT_KID}) + b"." + part(_claims())
    mac = base64.urlsafe_b64encode(hmac.new(public, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    return (signing_input + b"." + mac).decode()


def _tampered() -> str:
    header, _, signature = development_token("OFF-9", [Role.CSO]).split(".")
    body = base64.urlsafe_b64encode(json.dumps(_claims()).encode()).rstrip(b"=").decode()
    return f"{header}.{body}.{signature}"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "no identity token"),
        ("not a token", "the identity token is not a JWT"),
        ("x" * 9000, "the identity token is longer than 8192 characters"),
        (_unsigned(_claims()), "the identity token's key is not among the provider's keys"),
        (_hs256_with_public_key(), "the identity token does not verify"),
        (_tampered(), "the identity token does not verify"),
        (development_token("SM-1", [Role.SERVICE_MANAGER], ttl_s=-120), "the identity token has expired"),
        (
            development_token("SM-1", [Role.SERVICE_MANAGER], audience="payroll"),
            "the identity token's audience is wrong",
        ),
        (
            development_token("SM-1", [Role.SERVICE_MANAGER], issuer="someone"),
            "the identity token's issuer is wrong",
        ),
    ],
)
def test_a_command_without_a_valid_token_is_unauthenticated(token: str, reason: str) -> None:
    assert verifier().check(headers(token), approve(MANAGER)) == Verdict("UNAUTHENTICATED", reason)


def test_a_token_header_that_is_not_ascii_is_unauthenticated() -> None:
    verdict = verifier().check({IDENTITY_HEADER: "é".encode()}, approve(MANAGER))
    assert verdict is not None and verdict.code == "UNAUTHENTICATED"


def test_no_provider_can_grant_the_system_role_to_an_officer() -> None:
    token = development_token("SM-1", [Role.SERVICE_MANAGER])
    forged_system = jwt.encode(_claims(roles=["SYSTEM"]), "k" * 32, algorithm="HS256")
    system = Actor.system("approvals-due-time")
    assert verifier().check(headers(token), approve(system)) == Verdict(
        "ACTOR_MISMATCH", "the SYSTEM role belongs to the services' own commands"
    )
    verdict = verifier().check(headers(forged_system), approve(system))
    assert verdict is not None and verdict.code == "UNAUTHENTICATED"


def test_a_service_signs_its_own_timers_and_a_service_of_the_mesh_may_act_for_an_officer() -> None:
    system = Actor.system("approvals-due-time")
    own = ServiceTokens(settings("approvals")).token()
    assert verifier("approvals").check(headers(own), approve(system)) is None
    # Referrals asks approvals for a decision on behalf of the CSO whose command it verified.
    referrals = service_token(settings("referrals"))
    assert verifier("approvals").check(headers(referrals), approve(MANAGER)) is None


def test_a_service_token_signed_with_another_secret_or_for_an_unknown_service_is_refused() -> None:
    system = Actor.system("approvals-due-time")
    outsider = service_token(settings("approvals", identity_service_secret="s" * 40))
    unknown = service_token(settings("payroll"))
    assert verifier().check(headers(outsider), approve(system)) == Verdict(
        "UNAUTHENTICATED", "the service token does not verify"
    )
    assert verifier().check(headers(unknown), approve(system)) == Verdict(
        "UNAUTHENTICATED", "the service token names no service of the mesh"
    )


def test_claims_outside_their_range_are_refused() -> None:
    with pytest.raises(Unauthenticated, match="casemesh_privilege"):
        verifier().verify(development_token("SM-1", [Role.CSO], privilege=9))


def test_a_message_without_an_actor_needs_no_token() -> None:
    assert verifier().check({}, object()) is None


def test_the_development_headers_of_a_command_carry_its_actors_token() -> None:
    body = json.dumps({"payload": {"actor": MANAGER.model_dump(mode="json")}}).encode()
    signed = development_headers_for(body)
    assert verifier().check(signed, approve(MANAGER)) is None
    assert development_headers_for(b"not json") == {}


def test_an_unverified_command_is_refused_with_the_event_its_service_uses_and_changes_nothing() -> None:
    command = approve(MANAGER)
    state, outputs = APPROVALS.decide(
        None, Unverified(command, Verdict("ACTOR_MISMATCH", "why")), datetime.now(UTC)
    )
    (refusal,) = outputs
    assert type(refusal).__name__ == "DecisionRejected"
    assert (refusal.reason_code, refusal.request_id) == ("ACTOR_MISMATCH", command.request_id)  # type: ignore[attr-defined]
    assert refusal.attempted_by == MANAGER  # type: ignore[attr-defined]
    assert state is None


def test_production_settings_refuse_the_development_key_a_short_secret_and_an_unencrypted_broker() -> None:
    with pytest.raises(ValidationError) as caught:
        settings(environment="production", identity_service_secret="short", kafka_sasl_password="hunter2")
    text = str(caught.value)
    assert "identity_jwks is the development key" in text
    assert "identity_service_secret must be at least 32 characters" in text
    assert "kafka_security_protocol must be SASL_SSL" in text
    assert "hunter2" not in text
    settings(
        environment="production",
        identity_jwks="/etc/casemesh/jwks.json",
        identity_service_secret="s" * 32,
        kafka_security_protocol="SASL_SSL",
    )


def _commands_with_an_actor() -> list[type[Any]]:
    from contracts.base import Command
    from contracts.topics import TOPICS

    return sorted(
        {
            cls
            for topic in TOPICS.values()
            for cls in topic.messages
            if issubclass(cls, Command) and "actor" in cls.model_fields
        },
        key=lambda cls: cls.__name__,
    )


@pytest.mark.parametrize("command_type", _commands_with_an_actor(), ids=lambda cls: cls.__name__)
def test_every_command_with_an_actor_needs_a_token_and_none_may_claim_system(command_type: type[Any]) -> None:
    # e.g. EditNote claiming SYSTEM to lower a note's sensitivity, or a withdrawal of another
    # officer's request: the same check, whatever the command.
    from tests.unit.contracts.helpers_contracts import example

    system = example(command_type).model_copy(update={"actor": Actor.system("contacts")})
    officer_token = development_token("EMP10442", [Role.CSO])
    assert verifier("contacts").check({}, system) == Verdict("UNAUTHENTICATED", "no identity token")
    verdict = verifier("contacts").check(headers(officer_token), system)
    assert verdict == Verdict("ACTOR_MISMATCH", "the SYSTEM role belongs to the services' own commands")


def test_a_token_is_judged_at_the_moment_the_broker_received_its_command() -> None:
    issued = time.time() - 7200
    token = development_token("SM-1", [Role.SERVICE_MANAGER], ttl_s=600, now=issued)
    # Sent within the token's life, consumed long after (a backlog after an outage): valid.
    assert verifier().check(headers(token), approve(MANAGER), at=issued + 300) is None
    # Judged now (a topic whose producer sets the time): expired.
    assert verifier().check(headers(token), approve(MANAGER)) == Verdict(
        "UNAUTHENTICATED", "the identity token has expired"
    )
    # Received before it was issued, or after it expired: refused either way.
    assert verifier().check(headers(token), approve(MANAGER), at=issued - 600) == Verdict(
        "UNAUTHENTICATED", "the identity token is not valid yet"
    )
    assert verifier().check(headers(token), approve(MANAGER), at=issued + 1200) == Verdict(
        "UNAUTHENTICATED", "the identity token has expired"
    )
