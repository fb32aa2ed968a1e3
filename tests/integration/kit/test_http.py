"""Each service serves liveness, readiness and Prometheus metrics on its own HTTP port."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from deploy.local.localinfra import free_port
from kit.settings import ServiceSettings
from tests.conftest import Infra
from tests.integration.kit.tally import COMMANDS, EVENTS, make_runtime
from tests.integration.kit.test_lanes import command
from tests.support import Mesh


@pytest.fixture
async def mesh(infra: Infra) -> AsyncIterator[Mesh]:
    m = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    yield m
    await m.close()


async def test_a_running_service_is_live_ready_and_counts_what_it_consumed_applied_and_dead_lettered(
    mesh: Mesh, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    settings = mesh.settings(ServiceSettings, service_name="tally", http_port=port)
    await mesh.start(make_runtime(settings))
    secret_name = "Jane Citizen 0400 000 000"
    logger = logging.getLogger("casemesh")  # it does not propagate: it writes JSON lines itself
    logger.addHandler(caplog.handler)
    try:
        await mesh.send(COMMANDS, command(4))
        await mesh.send(COMMANDS, ('{"name": "' + secret_name + '"').encode(), key="123456789")
        await mesh.read(EVENTS, 1)
        await mesh.read("casemesh.tally.deadletter.v1", 1)
    finally:
        logger.removeHandler(caplog.handler)

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        live = await client.get("/health/live")
        ready = await client.get("/health/ready")
        metrics = (await client.get("/metrics")).text

    assert live.status_code == 200
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    assert "casemesh_applied_total 1.0" in metrics
    assert 'casemesh_dead_lettered_total{reason_code="not_json"} 1.0' in metrics
    assert "casemesh_batch_seconds_bucket" in metrics
    assert "casemesh_outbox_backlog" in metrics
    assert "casemesh_ready 1.0" in metrics, "set by the readiness check just made"
    topic = mesh.topic(COMMANDS)
    assert f'{{message_type="AddToTally",outcome="applied",topic="{topic}"}} 1.0' in metrics
    assert f'{{message_type="unknown",outcome="dead_lettered",topic="{topic}"}} 1.0' in metrics
    assert f'casemesh_processing_seconds_count{{message_type="AddToTally",topic="{topic}"}} 1.0' in metrics
    assert "process_resident_memory_bytes" in metrics and "python_info{" in metrics
    logged = "\n".join(r.getMessage() + str(getattr(r, "fields", "")) for r in caplog.records)
    assert "not_json" in logged, "logs carry reason codes"
    assert "Jane" not in logged and "0400" not in logged, "logs never carry payload contents"
