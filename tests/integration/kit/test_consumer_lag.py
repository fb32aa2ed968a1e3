"""A service exports its own consumer lag, per topic and partition (issue 17: operators scale
casework on it like the others), through the real broker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from contracts.topics import events_topic
from services.casework.app import create_runtime
from services.casework.settings import CaseworkSettings
from tests.conftest import Infra
from tests.integration.casework.support import OFFICER, feedback_for
from tests.support import Mesh, wait_for


@pytest.fixture
async def mesh(infra: Infra) -> AsyncIterator[Mesh]:
    m = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    yield m
    await m.close()


def lag_lines(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("casemesh_consumer_lag{")
    }


async def test_casework_reports_its_lag_per_topic_and_partition_and_it_falls_to_zero_once_caught_up(
    mesh: Mesh,
) -> None:
    runtime = await mesh.start(create_runtime(mesh.settings(CaseworkSettings)))
    for n in range(3):
        await feedback_for(mesh, OFFICER, f"50000050{n}")
    await mesh.read(events_topic("casework"), 3)
    assert runtime.lag is not None

    async def reported() -> bool:
        assert runtime.lag is not None
        await runtime.lag.refresh()
        lines = lag_lines(runtime.metrics.render().decode())
        complaints = [v for k, v in lines.items() if f'topic="{events_topic("complaints")}"' in k]
        return len(complaints) == runtime.topic_partitions and sum(lines.values()) == 0

    await wait_for(reported, timeout_s=30)
    lines = lag_lines(runtime.metrics.render().decode())
    assert {k.split('topic="')[1].split('"')[0] for k in lines} == {
        name.removesuffix(mesh.suffix) for name in runtime.topics
    }
