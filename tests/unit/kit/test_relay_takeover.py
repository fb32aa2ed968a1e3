"""The replica that wrote an aggregate publishes its fresh outbox; another takes over once it is stale."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from pydantic import BaseModel

from kit.memory import MemoryDatabase, forget, memory_database
from kit.metrics import Metrics
from kit.outbox import OutboxRelay
from kit.store import COMMIT_GRACE, RECEIVED_RETENTION, AggregateStore, OutboxEntry


class Tally(BaseModel):
    count: int = 0


@pytest.fixture
def database() -> Iterator[MemoryDatabase]:
    url = f"memory:{uuid.uuid4().hex}"
    yield memory_database(url, "casemesh_test")
    forget(url)


class Replica:
    def __init__(self, database: MemoryDatabase, takeover_s: float) -> None:
        self.store = AggregateStore(cast(Any, database["tallies"]), Tally)
        self.published: list[str] = []
        self.relay = OutboxRelay(
            [self.store], self.publish, Metrics(f"relay_{uuid.uuid4().hex[:6]}"), 1.0, takeover_s
        )

    async def publish(self, topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        self.published.append(headers["message-id"])

    async def count(self, n: int, aggregate_id: str = "123456") -> None:
        entry = OutboxEntry(id=f"e{n}", topic="t", key=aggregate_id, message_type="Counted", value="{}")
        await self.store.save(await self.store.load(aggregate_id), Tally(count=n), f"c{n}", [entry])


async def test_a_fresh_outbox_is_published_by_the_replica_that_wrote_it_and_not_by_another(
    database: MemoryDatabase,
) -> None:
    writer, other = Replica(database, takeover_s=60), Replica(database, takeover_s=60)
    await writer.count(1)
    assert await other.relay.flush() == 0
    assert await writer.relay.flush() == 1
    await writer.count(2)  # the writer's next save prunes e1 and adds e2
    assert await other.relay.flush() == 0
    assert await writer.relay.flush() == 1
    assert writer.published == ["e1", "e2"] and other.published == []


async def test_an_outbox_left_by_a_replica_that_stopped_is_taken_over_once_stale(
    database: MemoryDatabase,
) -> None:
    crashed, survivor = Replica(database, takeover_s=60), Replica(database, takeover_s=0.001)
    await crashed.count(1)
    await asyncio.sleep(0.05)  # older than the survivor's takeover time
    assert await survivor.relay.flush() == 1
    assert await survivor.relay.flush() == 0, "marked sent: not published again"
    assert survivor.published == ["e1"]


async def test_the_backlog_gauge_counts_only_unpublished_entries_and_returns_to_zero(
    database: MemoryDatabase,
) -> None:
    writer, other = Replica(database, takeover_s=60), Replica(database, takeover_s=60)
    await writer.count(1)
    await other.relay.flush()
    assert other.relay.metrics.outbox_backlog._value.get() == 1, "left to its writer, not yet published"
    await writer.relay.flush()
    assert writer.relay.metrics.outbox_backlog._value.get() == 0
    await other.relay.flush()
    assert other.relay.metrics.outbox_backlog._value.get() == 0, "published by the writer: no longer owed"
    await writer.count(2)
    await writer.relay.flush()
    assert writer.relay.metrics.outbox_backlog._value.get() == 0


async def test_claimed_ids_past_their_retention_are_pruned(database: MemoryDatabase) -> None:
    writer = Replica(database, takeover_s=60)
    await writer.count(1)
    await writer.store.claim("m-1", "digest")
    await writer.relay.flush()
    assert await writer.store.received.count_documents({}) == 1
    await writer.store.housekeep(datetime.now(UTC) + RECEIVED_RETENTION * 2)
    assert await writer.store.received.count_documents({}) == 0


async def test_an_intent_whose_commit_never_happened_is_dropped_after_the_grace_period(
    database: MemoryDatabase,
) -> None:
    survivor = Replica(database, takeover_s=0.001)
    stale = datetime.now(UTC) - COMMIT_GRACE * 2
    await survivor.store.inflight.insert_one(
        {"_id": "outbox:123456@000000000009", "kind": "outbox", "record": "123456@000000000009", "at": stale}
    )
    assert await survivor.relay.flush() == 0
    assert await survivor.store.intents("outbox") == []
