"""The write path's store round trips per batch, counted on the real store (decisions 0005, 0006).

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
from kit.batch import Target, apply_batch
from kit.metrics import Metrics
from kit.outbox import OutboxRelay
from kit.processing import Outcome
from kit.settings import ServiceSettings
from kit.store import AggregateStore
from tests.conftest import Infra
from tests.integration.kit.tally import AddToTally, Tally, decide, route
from tests.integration.kit.test_lanes import ACTOR

MESSAGES = 12
BATCH = 200
CUSTOMERS = [str(300_000_000 + n) for n in range(40)]


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


class Harness:
    def __init__(self, database: Any) -> None:
        self.store = AggregateStore(database["tallies"], Tally)
        self.published: list[str] = []
        self.relay = OutboxRelay([self.store], self.publish, Metrics(f"rt_{uuid.uuid4().hex[:6]}"), 60.0)
        self.settings = ServiceSettings(service_name="tally")

    async def publish(self, topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        self.published.append(headers["message-id"])

    async def batch(self, csids: list[str]) -> None:
        """One consumed batch, as the runtime runs it: apply, then the relay publishes."""
        items = []
        for csid in csids:
            command = AddToTally(actor=ACTOR, amount=2)
            items.append(
                (Envelope.wrap(command, csid=csid, producer="tests", occurred_at=datetime.now(UTC)), command)
            )

        def target(envelope: Envelope, message: Any) -> Target:
            return Target(self.store, envelope.csid, lambda state, msg, at, facts: decide(state, msg, at))

        results = await apply_batch(items, datetime.now(UTC), self.settings, targets=target, route=route)
        assert all(r is Outcome.APPLIED for r in results), results
        await self.relay.publish_fresh()


async def test_a_batch_costs_eight_store_commands_whatever_its_size_and_no_scan_for_pending_work(
    counted: tuple[Commands, Any],
) -> None:
    listener, database = counted
    harness = Harness(database)
    await harness.batch(CUSTOMERS)  # every customer exists before counting
    listener.counted.clear()

    await harness.batch([CUSTOMERS[n % len(CUSTOMERS)] for n in range(BATCH)])

    # claim, load, intents, records, projections (delete, insert), intents cleared, superseded deleted
    assert sum(listener.counted.values()) == 8, dict(listener.counted)
    assert sum(listener.counted.values()) / BATCH <= 0.05
    assert listener.counted["aggregate"] == 0 and listener.counted["count"] == 0, "no counting per message"
    assert len(harness.published) == len(CUSTOMERS) + BATCH, "every event was published"


async def test_projections_are_rolled_forward_without_an_update_statement_per_aggregate(
    counted: tuple[Commands, Any],
) -> None:
    listener, database = counted
    harness = Harness(database)
    many = [str(400_000_000 + n) for n in range(120)]
    await harness.batch(many)
    listener.counted.clear()

    await harness.batch(many)

    assert listener.counted["update"] == 0, "an update statement scans the collection on FerretDB"
    projected = {d["_id"]: d["version"] async for d in database["tallies"].find({"_id": {"$in": many}})}
    assert projected == dict.fromkeys(many, 2)


async def test_one_message_alone_costs_at_most_eight_store_commands(counted: tuple[Commands, Any]) -> None:
    listener, database = counted
    harness = Harness(database)
    await harness.batch(CUSTOMERS)
    listener.counted.clear()
    for n in range(MESSAGES):
        await harness.batch([CUSTOMERS[n % len(CUSTOMERS)]])
    assert sum(listener.counted.values()) / MESSAGES <= 8, dict(listener.counted)
