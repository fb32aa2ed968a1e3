"""The in-memory twin of the store (kit/memory.py) behaves as the aggregate store and the services expect."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from pydantic import BaseModel
from pymongo import DeleteOne, InsertOne, ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError

from kit.errors import ConcurrencyConflict
from kit.memory import MemoryDatabase, forget, is_memory_url, memory_database
from kit.store import AggregateStore, OutboxEntry, TimerEntry

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Tally(BaseModel):
    count: int = 0


@pytest.fixture
def database() -> Iterator[MemoryDatabase]:
    url = f"memory:{uuid.uuid4().hex}"
    yield memory_database(url, "casemesh_test")
    forget(url)


def store(database: MemoryDatabase) -> AggregateStore[Tally]:
    return AggregateStore(cast(Any, database["tallies"]), Tally)


def entry(n: int) -> OutboxEntry:
    return OutboxEntry(id=f"m{n}", topic="t", key="123456", message_type="Counted", value="{}")


def test_only_memory_urls_select_the_in_memory_twin() -> None:
    assert is_memory_url("memory:demo")
    assert not is_memory_url("mongodb://127.0.0.1:27027/")


async def test_a_saved_aggregate_loads_with_its_state_version_applied_ids_and_outbox(
    database: MemoryDatabase,
) -> None:
    tallies = store(database)
    first = await tallies.load("123456")
    assert first.version == 0 and first.state is None
    await tallies.save(first, Tally(count=1), "cmd-1", [entry(1)])
    loaded = await tallies.load("123456")
    assert loaded.version == 1
    assert loaded.state == Tally(count=1)
    assert loaded.applied == ["cmd-1"]
    assert [e.id for e in loaded.outbox] == ["m1"]


async def test_a_save_from_a_stale_version_is_a_concurrency_conflict(database: MemoryDatabase) -> None:
    tallies = store(database)
    await tallies.save(await tallies.load("123456"), Tally(count=1), "cmd-1", [])
    stale = await tallies.load("123456")
    await tallies.save(stale, Tally(count=2), "cmd-2", [])
    with pytest.raises(ConcurrencyConflict):
        await tallies.save(stale, Tally(count=3), "cmd-3", [])
    absent = await tallies.load("999999")
    await tallies.save(absent, Tally(count=1), "cmd-4", [])
    with pytest.raises(ConcurrencyConflict):
        await tallies.save(absent, Tally(count=1), "cmd-5", [])


async def test_a_commit_with_events_leaves_an_intent_until_they_are_published_then_is_deleted_once_superseded(
    database: MemoryDatabase,
) -> None:
    tallies = store(database)
    await tallies.save(await tallies.load("123456"), Tally(count=1), "cmd-1", [entry(1), entry(2)])
    intents = await tallies.intents("outbox")
    assert [d["record"] for d in intents] == ["123456@000000000001"]
    fresh = tallies.take_fresh()
    assert [(p.aggregate_id, [e.id for e in p.entries]) for p in fresh] == [("123456", ["m1", "m2"])]
    await tallies.published(fresh)
    assert await tallies.intents("outbox") == []
    await tallies.save(await tallies.load("123456"), Tally(count=2), "cmd-2", [])
    assert await tallies.delete_superseded() == 1
    assert (await tallies.load("123456")).outbox == [], "a commit keeps only its own events"


async def test_armed_timers_are_listed_in_the_small_inflight_collection_by_due_time(
    database: MemoryDatabase,
) -> None:
    tallies = store(database)
    soon = TimerEntry(id="t1", topic="t", key="123456", message_type="Tick", value="{}", due_at=NOW)
    later = TimerEntry(
        id="t2", topic="t", key="123456", message_type="Tick", value="{}", due_at=NOW + timedelta(days=1)
    )
    await tallies.save(await tallies.load("123456"), Tally(), "cmd-1", [], [soon, later])
    due = await tallies.intents("timer", {"due_at": {"$lte": NOW + timedelta(minutes=1)}})
    assert [d["id"] for d in due] == ["t1"]
    assert await tallies.intents("timer", {"due_at": {"$lte": NOW - timedelta(minutes=1)}}) == []
    assert [t.id for t in (await tallies.load("123456")).timers] == ["t1", "t2"]
    await tallies.save(await tallies.load("123456"), Tally(), "t1", [])
    assert [t.id for t in (await tallies.load("123456")).timers] == ["t2"], "applying its command disarms it"


async def test_bulk_writes_apply_each_pymongo_operation(database: MemoryDatabase) -> None:
    items = database["work_items"]
    await items.bulk_write(
        [
            InsertOne({"_id": "a", "n": 1}),
            ReplaceOne({"_id": "b"}, {"n": 2}, upsert=True),
            UpdateOne({"_id": "a"}, {"$inc": {"n": 10}}),
            InsertOne({"_id": "c", "n": 3}),
            DeleteOne({"_id": "c"}),
        ]
    )
    found = {d["_id"]: d["n"] async for d in items.find({}).sort("_id")}
    assert found == {"a": 11, "b": 2}


async def test_queries_sort_skip_limit_and_count_as_on_mongodb(database: MemoryDatabase) -> None:
    log = database["communications"]
    for n in range(5):
        await log.insert_one({"_id": f"e{n}", "state": {"csid": "123456", "order_key": n}})
    await log.insert_one({"_id": "other", "state": {"csid": "654321", "order_key": 9}})
    cursor = log.find({"state.csid": "123456"}).sort("state.order_key", -1).skip(1).limit(2)
    page = [d["_id"] async for d in cursor]
    assert page == ["e3", "e2"]
    assert await log.count_documents({"$or": [{"state.csid": "654321"}, {"_id": {"$in": ["e0"]}}]}) == 2


async def test_a_database_outlives_its_handle_within_the_process() -> None:
    url = f"memory:{uuid.uuid4().hex}"
    try:
        await memory_database(url, "db")["c"].insert_one({"_id": "kept"})
        assert await memory_database(url, "db")["c"].find_one({"_id": "kept"}) == {"_id": "kept"}
    finally:
        forget(url)
    assert await memory_database(url, "db")["c"].find_one({"_id": "kept"}) is None
    forget(url)


async def test_a_bulk_write_reports_duplicate_keys_as_pymongo_does_and_applies_the_rest(
    database: MemoryDatabase,
) -> None:
    items = database["work_items"]
    await items.insert_one({"_id": "a", "version": 5})
    with pytest.raises(BulkWriteError) as failed:
        await items.bulk_write(
            [
                ReplaceOne({"_id": "a", "version": {"$lte": 3}}, {"version": 3}, upsert=True),
                InsertOne({"_id": "b", "version": 3}),
            ],
            ordered=False,
        )
    assert [e["code"] for e in failed.value.details["writeErrors"]] == [11000]
    found = {d["_id"]: d["version"] async for d in items.find({})}
    assert found == {"a": 5, "b": 3}, "the newer version is kept and the other write applied"


async def test_a_superseded_commit_record_is_deleted_and_the_newest_always_loads(
    database: MemoryDatabase,
) -> None:
    tallies = store(database)
    for n in range(1, 4):
        await tallies.save(await tallies.load("123456"), Tally(count=n), f"cmd-{n}", [])
    assert await tallies.delete_superseded() == 2
    remaining = [d["_id"] async for d in tallies.commits.find({})]
    assert remaining == ["123456@000000000003"]
    loaded = await tallies.load("123456")
    assert loaded.version == 3 and loaded.state == Tally(count=3)


async def test_an_aggregate_stored_before_commit_records_loads_from_its_document(
    database: MemoryDatabase,
) -> None:
    tallies = store(database)
    await database["tallies"].insert_one(
        {"_id": "123456", "version": 4, "state": {"count": 4}, "applied": ["old"], "outbox": [], "timers": []}
    )
    loaded = await tallies.load("123456")
    assert (loaded.version, loaded.state, loaded.applied) == (4, Tally(count=4), ["old"])
    await tallies.save(loaded, Tally(count=5), "cmd-5", [])
    assert (await tallies.load("123456")).version == 5
