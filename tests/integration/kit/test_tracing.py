"""One flow is one trace across the mesh (kit/tracing.py): referrals asks approvals for a Service
Manager's decision through the real broker, both services tracing into one in-memory exporter."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts.catalogue.customers import CustomerRegistered
from contracts.catalogue.referrals import (
    CoreIssueInput,
    MarkCMPForApproval,
    PSReferralType,
    RecordCMP,
    TriggerDetailsInput,
)
from contracts.topics import CUSTOMERS_TOPIC, commands_topic
from kit.runtime import ServiceRuntime
from kit.tracing import TRACEPARENT, parse_traceparent
from services.approvals.app import create_runtime as create_approvals
from services.approvals.settings import ApprovalsSettings
from services.referrals.app import create_runtime as create_referrals
from services.referrals.settings import ReferralsSettings
from tests.conftest import Infra
from tests.integration.referrals.test_referrals_service import CSO, TEAMS, assign
from tests.support import Mesh, envelope, wait_for

CSID = "300000001"
REFERRALS = commands_topic("referrals")
APPROVALS = commands_topic("approvals")


@pytest.fixture
async def mesh(infra: Infra) -> AsyncIterator[Mesh]:
    m = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    yield m
    await m.close()


def traced(runtime: ServiceRuntime, exporter: InMemorySpanExporter) -> ServiceRuntime:
    assert runtime.tracing is not None, "tracing_enabled makes the runtime's tracer"
    runtime.tracing.export_to(exporter)
    return runtime


def service_of(span: ReadableSpan) -> Any:
    return span.resource.attributes["service.name"]


def one(spans: list[ReadableSpan], service: str, name: str) -> ReadableSpan:
    (found,) = [s for s in spans if service_of(s) == service and s.name == name]
    return found


def parent_chain(span: ReadableSpan, spans: list[ReadableSpan]) -> list[str]:
    """``service: name`` of the span and of each ancestor, as far as the exported spans go."""
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    chain = [f"{service_of(span)}: {span.name}"]
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        chain.append(f"{service_of(span)}: {span.name}")
    return chain


async def test_a_request_for_approval_is_traced_as_one_trace_from_referrals_decision_to_approvals_decision(
    mesh: Mesh,
) -> None:
    exporter = InMemorySpanExporter()
    tracing = {"tracing_enabled": True, "tracing_exporter": "none"}
    referrals = create_referrals(mesh.settings(ReferralsSettings, ps_teams=TEAMS, **tracing))
    approvals = create_approvals(mesh.settings(ApprovalsSettings, **tracing))
    for runtime in (referrals, approvals):
        await mesh.start(traced(runtime, exporter))

    def finished() -> list[ReadableSpan]:
        return list(exporter.get_finished_spans())

    registered = envelope(
        CustomerRegistered(
            given_name="Jordan",
            family_name="Lee",
            is_international=False,
            is_centrelink_customer=True,
            site="Hobart",
            team="Mainstream 12",
        ),
        CSID,
    )
    await mesh.send(CUSTOMERS_TOPIC, registered)

    async def known() -> bool:
        return any(s.name == "decide CustomerRegistered" for s in finished())

    await wait_for(known)
    assigned = assign("EMP2")
    cmp = RecordCMP(
        actor=CSO,
        referral_id=assigned.referral_id,
        core_issue=CoreIssueInput(internal_referral_type=PSReferralType.OTHER),
        trigger=TriggerDetailsInput(segment="HIGH_CONFLICT", issue="Repeated escalations"),
    )
    mark = envelope(MarkCMPForApproval(actor=CSO, referral_id=assigned.referral_id), CSID)
    for message in (envelope(assigned, CSID), envelope(cmp, CSID), mark):
        await mesh.send(REFERRALS, message)
    flow = mark.correlation_id.int

    def of_flow() -> list[ReadableSpan]:
        return [s for s in finished() if s.context is not None and s.context.trace_id == flow]

    async def decided_downstream() -> bool:
        names = {(service_of(s), s.name) for s in of_flow()}
        return {
            ("approvals", "decide RequestApproval"),
            ("referrals", f"publish {mesh.topic(APPROVALS)}"),
        } <= names

    await wait_for(decided_downstream)

    spans = of_flow()
    assert {service_of(s) for s in spans} == {"referrals", "approvals"}, "one trace across both services"
    upstream_consume = one(spans, "referrals", f"consume {mesh.topic(REFERRALS)}")
    upstream_decide = one(spans, "referrals", "decide MarkCMPForApproval")
    upstream_publish = one(spans, "referrals", f"publish {mesh.topic(APPROVALS)}")
    downstream_consume = one(spans, "approvals", f"consume {mesh.topic(APPROVALS)}")
    downstream_decide = one(spans, "approvals", "decide RequestApproval")
    assert upstream_consume.parent is None, "the flow's first message roots its trace"
    assert downstream_consume.parent is not None and upstream_publish.context is not None
    assert downstream_consume.parent.span_id == upstream_publish.context.span_id
    assert upstream_publish.parent is not None and upstream_decide.context is not None
    assert upstream_publish.parent.span_id == upstream_decide.context.span_id
    assert parent_chain(downstream_decide, spans) == [
        "approvals: decide RequestApproval",
        f"approvals: consume {mesh.topic(APPROVALS)}",
        f"referrals: publish {mesh.topic(APPROVALS)}",
        "referrals: decide MarkCMPForApproval",
        f"referrals: consume {mesh.topic(REFERRALS)}",
    ]
    assert one(spans, "approvals", "commit").parent is not None
    assert downstream_consume.attributes is not None
    assert downstream_consume.attributes["casemesh.outcome"] == "applied"
    assert downstream_consume.attributes["casemesh.correlation_id"] == str(mark.correlation_id)

    # The record between them carries the flow: FastStream's correlation id is the envelope's, and
    # its traceparent names the publish span.
    (request,) = await mesh.read(APPROVALS, 1)
    headers = {name: value for name, value in request.headers}
    assert headers["correlation_id"].decode() == str(mark.correlation_id)
    assert parse_traceparent(headers[TRACEPARENT]) == (flow, upstream_publish.context.span_id)
    assert uuid.UUID(int=flow) == mark.message_id, "a flow's trace id is its first message's id"
