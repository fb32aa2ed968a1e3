"""Durable timers: stored with the aggregate, surviving restarts, applied once across replicas."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from kit.settings import ServiceSettings
from tests.conftest import Infra
from tests.integration.kit.tally import BONUS_DELAY, COMMANDS, EVENTS, make_runtime
from tests.integration.kit.test_lanes import CSID, command
from tests.support import Mesh


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def mesh(infra: Infra) -> AsyncIterator[Mesh]:
    m = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    yield m
    await m.close()


async def test_a_timer_survives_a_restart_and_fires_once_when_two_replicas_sweep(mesh: Mesh) -> None:
    clock = Clock()
    settings = mesh.settings(ServiceSettings, service_name="tally", timer_interval_s=0.2)
    first = await mesh.start(make_runtime(settings, clock))
    await mesh.send(COMMANDS, command(0))
    await mesh.send(COMMANDS, command(2))
    before = await mesh.read(EVENTS, 1)
    await first.stop()

    replicas = [await mesh.start(make_runtime(settings, clock)) for _ in range(2)]
    clock.now += BONUS_DELAY + timedelta(minutes=1)
    after = await mesh.read(EVENTS, 2, settle_s=2.0)

    totals = [json.loads(r.value)["payload"]["total"] for r in after]
    assert [json.loads(r.value)["payload"]["total"] for r in before] == [2]
    assert totals == [2, 3], "the bonus of 1 is added once, after the restart, by one of two replicas"
    assert all(r.key == CSID.encode() for r in after)
    assert sum(rt.metrics.applied._value.get() for rt in replicas) == 1
