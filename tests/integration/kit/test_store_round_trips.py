"""The write path's store round trips per message, counted on the real store (decision 0005).

On FerretDB every read scans a collection, so what a message costs is the number of store
commands it sends. Counted with PyMongo's command monitoring, not timed.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from contracts.envelope import Envelope
from kit.handling import apply
from kit.metrics import Metrics
from kit.outbox import OutboxRelay
from kit.settings import ServiceSettings
from kit.store import AggregateStore
from tests.conftest import Infra
from tests.integration.kit.tally import AddToTally, Tally, decide, route
from tests.integration.kit.test_lanes import ACTOR

MESSAGES = 60
CUSTOMERS = [str(300_000_000 + n) for n in range(6)]


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.counted: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.counted[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def counted(infra: Infra, database_name: str) -> AsyncIterator[tuple[Commands, Any]]:
    listener = Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        infra.mongodb_url, tz_aware=True, event_listeners=[listener]
    )
    try:
        yield listener, client[database_name]
    finally:
        await client.close()


async def test_a_message_costs_five_store_commands_and_no_scan_for_pending_work(
    counted: tuple[Commands, Any],
) -> None:
    listener, database = counted
    store = AggregateStore(database["tallies"], Tally)
    published: list[str] = []

    async def publish(topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        published.append(headers["message-id"])

    relay = OutboxRelay([store], publish, Metrics(f"rt_{uuid.uuid4().hex[:6]}"), interval_s=60.0)
    settings = ServiceSettings(service_name="tally")

    async def handle(csid: str) -> None:
        command = AddToTally(actor=ACTOR, amount=2)
        envelope = Envelope.wrap(command, csid=csid, producer="tests", occurred_at=datetime.now(UTC))
        await apply(store, csid, envelope, command, decide, datetime.now(UTC), settings, route)
        await relay.publish_fresh()  # what the runtime does after each record

    for csid in CUSTOMERS:  # every customer exists before counting
        await handle(csid)
    listener.counted.clear()
    for n in range(MESSAGES):
        await handle(CUSTOMERS[n % len(CUSTOMERS)])

    per_message = sum(listener.counted.values()) / MESSAGES
    assert per_message <= 5, dict(listener.counted)
    assert listener.counted["aggregate"] == 0 and listener.counted["count"] == 0, "no counting per message"
    assert len(published) == len(CUSTOMERS) + MESSAGES, "every event was published"
