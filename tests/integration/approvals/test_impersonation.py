"""Issue 16: no one is impersonated. Approvals' commands through the real (secured) broker, with
the identity header as upstream sends it: the actor in a command is believed only when a verified
token says the same."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from contracts.base import Actor, Role
from contracts.catalogue.approvals import (
    Decision,
    RecordApprovalDecision,
    RequestApproval,
    SubjectType,
    WithdrawApprovalRequest,
)
from contracts.envelope import IDENTITY_HEADER, Envelope
from contracts.topics import commands_topic, events_topic
from kit.identity import development_headers, development_token
from services.approvals.app import create_runtime
from services.approvals.settings import ApprovalsSettings
from tests.conftest import Infra
from tests.support import Mesh, envelope, payloads, types

CSID = "400100299"
SUBJECT = "c1a7d3f0-5b8e-4c62-9f0e-7d2b6a9e1c45"
EVENTS = events_topic("approvals")
COMMANDS = commands_topic("approvals")


def actor(officer_id: str, role: Role) -> Actor:
    return Actor(
        officer_id=officer_id, role=role, first_name="Alex", site="Hobart", team="PS Team 1", extension="1234"
    )


CSO = actor("CSO-7", Role.CSO)
MANAGER = actor("SM-7", Role.SERVICE_MANAGER)


def token(officer_id: str, *roles: Role, **claims: object) -> dict[str, bytes]:
    return {IDENTITY_HEADER: development_token(officer_id, roles, **claims).encode()}  # type: ignore[arg-type]


def a_request() -> RequestApproval:
    """The CSO asks for the Service Manager's decision on a CMP."""
    return RequestApproval(
        actor=CSO,
        request_id=uuid.uuid4(),
        subject_type=SubjectType.CMP,
        subject_id=SUBJECT,
        chain_id=SUBJECT,
        required_role=Role.SERVICE_MANAGER,
        due_at=datetime.now(UTC) + timedelta(days=5),
        summary="CMP ready for Service Manager approval",
    )


@pytest.fixture
async def mesh(infra: Infra) -> AsyncIterator[Mesh]:
    m = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    yield m
    await m.close()


async def send(
    mesh: Mesh,
    message: RequestApproval | RecordApprovalDecision | WithdrawApprovalRequest,
    headers: dict[str, bytes] | None = None,
) -> Envelope:
    env = envelope(message, CSID)
    await mesh.send(COMMANDS, env, headers=headers)
    return env


async def test_an_approval_by_an_officer_claiming_a_role_the_token_does_not_grant_is_refused(
    mesh: Mesh,
) -> None:
    await mesh.start(create_runtime(mesh.settings(ApprovalsSettings)))
    request = a_request()
    await send(mesh, request)

    def approve(by: Actor) -> RecordApprovalDecision:
        return RecordApprovalDecision(
            actor=by, request_id=request.request_id, decision=Decision.ACCEPT, reason="Plan is sound"
        )

    # A CSO writes role SERVICE_MANAGER into the actor; the identity provider says CSO.
    as_manager = actor("OFF-9", Role.SERVICE_MANAGER)
    claimed = await send(mesh, approve(as_manager), token("OFF-9", Role.CSO))
    # Someone else's officer id, with a token of one's own.
    borrowed = await send(mesh, approve(MANAGER), token("OFF-9", Role.SERVICE_MANAGER))
    # No token at all; a token that expired; a token for another audience.
    bare = await send(mesh, approve(MANAGER), {})
    expired = await send(mesh, approve(MANAGER), token("SM-7", Role.SERVICE_MANAGER, ttl_s=-120))
    foreign = await send(mesh, approve(MANAGER), token("SM-7", Role.SERVICE_MANAGER, audience="payroll"))
    # Anyone claiming SYSTEM, to withdraw another officer's request, without the service's token.
    system = Actor.system("approvals-due-time")
    as_system = await send(
        mesh, WithdrawApprovalRequest(actor=system, request_id=request.request_id, reason="tidy up"), {}
    )
    as_system_with_token = await send(
        mesh,
        WithdrawApprovalRequest(actor=system, request_id=request.request_id, reason="tidy up"),
        token("OFF-9", Role.SERVICE_MANAGER),
    )
    # The real Service Manager, with a token that says so.
    await send(mesh, approve(MANAGER), development_headers(MANAGER))

    records = await mesh.read(EVENTS, 9)
    assert types(records) == [
        "ApprovalRequested",
        *["DecisionRejected"] * 5,
        *["ApprovalRequestRejected"] * 2,
        "ApprovalAccepted",
    ]
    refusals = {
        r["rejected_message_id"]: r["reason_code"]
        for r in payloads(records)
        if r.get("reason_code") is not None
    }
    assert refusals == {
        str(claimed.message_id): "ACTOR_MISMATCH",
        str(borrowed.message_id): "ACTOR_MISMATCH",
        str(bare.message_id): "UNAUTHENTICATED",
        str(expired.message_id): "UNAUTHENTICATED",
        str(foreign.message_id): "UNAUTHENTICATED",
        str(as_system.message_id): "UNAUTHENTICATED",
        str(as_system_with_token.message_id): "ACTOR_MISMATCH",
    }
    accepted = payloads(records, "ApprovalAccepted")[0]
    assert accepted["decided_by"]["officer_id"] == "SM-7"


async def test_a_command_sent_with_a_valid_token_is_applied_after_a_backlog_that_outlasts_the_token(
    mesh: Mesh,
) -> None:
    settings = mesh.settings(ApprovalsSettings)
    first = await mesh.start(create_runtime(settings))  # creates the commands topic, broker-stamped
    await first.stop()
    request = a_request()
    await send(mesh, request, token("CSO-7", Role.CSO, ttl_s=2))
    await asyncio.sleep(4)  # the service is away longer than the token lives
    await mesh.start(create_runtime(settings))

    (answer,) = await mesh.read(EVENTS, 1)
    assert types([answer]) == ["ApprovalRequested"]
    (command,) = await mesh.read(COMMANDS, 1)
    assert command.timestamp_type == 1, "the commands topic is stamped by the broker (LogAppendTime)"
