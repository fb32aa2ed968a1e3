"""A clean stop publishes: the relay's final flush runs after the records in flight have committed
and before the producer closes, so no committed record's event is left unpublished."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from kit.logs import LOGGER
from kit.settings import ServiceSettings
from tests.conftest import Infra
from tests.integration.kit.tally import COMMANDS, EVENTS, make_runtime
from tests.integration.kit.test_lanes import command
from tests.support import Mesh, wait_for

CSIDS = [f"{300000000 + n}" for n in range(6)]


@pytest.fixture
async def mesh(infra: Infra) -> AsyncIterator[Mesh]:
    m = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    yield m
    await m.close()


async def committed_offsets(mesh: Mesh, group: str, topic: str, partitions: int) -> dict[int, int]:
    consumer = AIOKafkaConsumer(**mesh.options(), group_id=group)
    await consumer.start()
    try:
        return {
            p: await consumer.committed(TopicPartition(mesh.topic(topic), p)) or 0 for p in range(partitions)
        }
    finally:
        await consumer.stop()


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.events: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append(record.getMessage())


async def test_a_runtime_stopped_mid_stream_has_published_the_event_of_every_record_it_committed(
    mesh: Mesh,
) -> None:
    # The relay publishes only on its (long) interval and at the stop: every event on the topic
    # afterwards went out in the final flush, with the producer still open.
    settings: ServiceSettings = mesh.settings(
        ServiceSettings, service_name="tally", outbox_interval_s=300, batch_size=4
    )
    runtime = await mesh.start(make_runtime(settings))
    assert runtime.relay is not None
    runtime.relay.notify = lambda: None  # type: ignore[method-assign]
    captured = Captured()
    LOGGER.addHandler(captured)
    try:
        for round_ in range(8):
            for csid in CSIDS:
                await mesh.send(COMMANDS, command(round_ + 1, csid))

        async def some_applied() -> bool:
            return bool(runtime.metrics.applied._value.get() >= 10)

        await wait_for(some_applied)
        await runtime.stop()
    finally:
        LOGGER.removeHandler(captured)

    applied = int(runtime.metrics.applied._value.get())
    offsets = await committed_offsets(mesh, settings.consumer_group, COMMANDS, settings.topic_partitions)
    sent = await mesh.read(COMMANDS, len(CSIDS) * 8)
    committed_ids = {json.loads(r.value)["message_id"] for r in sent if r.offset < offsets[r.partition]}
    events = await mesh.read(EVENTS, len(committed_ids), settle_s=0.5)
    published_causes = {json.loads(r.value)["causation_id"] for r in events}

    assert 10 <= applied < len(sent), "the stop came mid-stream"
    assert sum(offsets.values()) == applied, "every record processed was committed, none past it"
    assert committed_ids <= published_causes, "a committed record's event was left unpublished"
    assert "outbox_final_flush_failed" not in captured.events
