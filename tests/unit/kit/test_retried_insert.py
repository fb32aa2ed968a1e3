"""A commit whose insert went in but came back as a duplicate of itself is this writer's, not beaten."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, cast

import pytest
from pydantic import BaseModel
from pymongo.errors import DuplicateKeyError

from kit.errors import ConcurrencyConflict
from kit.memory import MemoryDatabase, forget, memory_database
from kit.store import AggregateStore


class Tally(BaseModel):
    count: int = 0


@pytest.fixture
def database() -> Iterator[MemoryDatabase]:
    url = f"memory:{uuid.uuid4().hex}"
    yield memory_database(url, "casemesh_test")
    forget(url)


class RetriedInserts:
    """Inserts each document, then answers as a retry of a write that had gone in would."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection

    async def insert_one(self, document: dict[str, Any]) -> None:
        await self.collection.insert_one(document)
        raise DuplicateKeyError("E11000 duplicate key error", 11000)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.collection, name)


async def test_a_commit_refused_as_a_duplicate_of_its_own_record_counts_as_written(
    database: MemoryDatabase,
) -> None:
    store = AggregateStore(cast(Any, database["tallies"]), Tally)
    store.commits = cast(Any, RetriedInserts(store.commits))
    version = await store.save(await store.load("123456"), Tally(count=1), "m1", [])
    loaded = await store.load("123456")
    assert version == 1 and loaded.has_applied("m1") and loaded.state == Tally(count=1)


async def test_a_commit_refused_because_another_writer_took_the_version_is_still_a_conflict(
    database: MemoryDatabase,
) -> None:
    first = AggregateStore(cast(Any, database["tallies"]), Tally)
    second = AggregateStore(cast(Any, database["tallies"]), Tally)
    base = await first.load("123456")
    await first.save(base, Tally(count=1), "m1", [])
    with pytest.raises(ConcurrencyConflict):
        await second.save(base, Tally(count=2), "m2", [])
    assert (await first.load("123456")).state == Tally(count=1)
