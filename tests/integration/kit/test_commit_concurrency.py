"""The commit under concurrency, on the real store: many writers of one aggregate lose nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from contracts.base import Actor, Message, Role
from contracts.envelope import Envelope
from kit.batch import apply
from kit.errors import ConcurrencyConflict, Malformed
from kit.processing import Outcome
from kit.settings import ServiceSettings
from kit.store import COMMIT_GRACE, AggregateStore, record_id
from tests.integration.kit.tally import AddToTally

CSID = "123456789"
WRITERS = 40
ACTOR = Actor(
    officer_id="OFF-1", role=Role.CSO, first_name="Sam", site="Hobart", team="Blue", extension="4321"
)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Amounts(BaseModel):
    amounts: list[int] = []


def append(state: Amounts | None, command: AddToTally, now: datetime) -> tuple[Amounts, list[Message]]:
    return Amounts(amounts=[*(state or Amounts()).amounts, command.amount]), []


@pytest.fixture
async def database(
    mongo: AsyncMongoClient[dict[str, Any]], database_name: str
) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    yield mongo[database_name]


def settings() -> ServiceSettings:
    return ServiceSettings(service_name="tally")


def command(amount: int, message_id: uuid.UUID | None = None) -> Envelope:
    return Envelope.wrap(
        AddToTally(actor=ACTOR, amount=amount),
        csid=CSID,
        producer="tests",
        occurred_at=NOW,
        message_id=message_id,
    )


async def apply_until_done(store: AggregateStore[Amounts], envelope: Envelope) -> Outcome:
    """A writer that keeps going after conflicts, as redelivery would."""
    message = AddToTally.model_validate(envelope.payload)
    for _ in range(WRITERS * 4):
        try:
            return await apply(store, CSID, envelope, message, append, NOW, settings())
        except ConcurrencyConflict:
            await asyncio.sleep(0)
    raise AssertionError("a writer never got its turn")


async def test_forty_concurrent_writers_of_one_aggregate_each_land_exactly_once(
    database: AsyncDatabase[dict[str, Any]],
) -> None:
    store = AggregateStore(database["amounts"], Amounts)
    await store.ensure_indexes()
    writers = [AggregateStore(database["amounts"], Amounts) for _ in range(WRITERS)]
    outcomes = await asyncio.gather(
        *(apply_until_done(writer, command(n)) for n, writer in enumerate(writers))
    )
    assert outcomes == [Outcome.APPLIED] * WRITERS
    loaded = await store.load(CSID)
    assert loaded.state is not None
    assert sorted(loaded.state.amounts) == list(range(WRITERS))
    assert loaded.version == WRITERS
    projected = await database["amounts"].find_one({"_id": CSID})
    assert projected is not None and projected["version"] == WRITERS
    assert sorted(projected["state"]["amounts"]) == list(range(WRITERS))


async def test_two_writers_of_the_same_version_get_one_commit_and_one_conflict_never_an_overwrite(
    database: AsyncDatabase[dict[str, Any]],
) -> None:
    first, second = (AggregateStore(database["amounts"], Amounts) for _ in range(2))
    base = await first.load(CSID)
    results = await asyncio.gather(
        *(
            writer.save(base, Amounts(amounts=[n]), f"m{n}", [])
            for n, writer in ((1, first), (2, second))
            for _ in range(WRITERS // 2)
        ),
        return_exceptions=True,
    )
    assert sum(1 for r in results if r == 1) == 1
    assert all(isinstance(r, ConcurrencyConflict) for r in results if r != 1)
    assert (await first.load(CSID)).version == 1


async def test_one_message_delivered_to_many_writers_at_once_is_applied_once(
    database: AsyncDatabase[dict[str, Any]],
) -> None:
    writers = [AggregateStore(database["amounts"], Amounts) for _ in range(10)]
    envelope = command(7)
    outcomes = await asyncio.gather(*(apply_until_done(w, envelope) for w in writers))
    assert sorted(outcomes) == sorted([Outcome.APPLIED] + [Outcome.DUPLICATE] * 9)
    loaded = await writers[0].load(CSID)
    assert loaded.state is not None and loaded.state.amounts == [7]


async def test_a_message_id_reused_for_another_payload_is_an_id_conflict_even_on_another_aggregate(
    database: AsyncDatabase[dict[str, Any]],
) -> None:
    store = AggregateStore(database["amounts"], Amounts)
    reused = uuid.uuid4()
    assert await apply_until_done(store, command(1, reused)) == Outcome.APPLIED
    assert await apply_until_done(store, command(1, reused)) == Outcome.DUPLICATE
    with pytest.raises(Malformed) as refused:
        await apply_until_done(store, command(2, reused))
    assert refused.value.reason_code == "id_conflict"
    other = AggregateStore(database["other_amounts"], Amounts)
    with pytest.raises(Malformed):
        await apply_until_done(other, command(2, reused))
    loaded = await store.load(CSID)
    assert loaded.state is not None and loaded.state.amounts == [1]


async def test_a_commit_whose_projection_was_never_written_is_completed_by_housekeeping(
    database: AsyncDatabase[dict[str, Any]],
) -> None:
    store = AggregateStore(database["amounts"], Amounts)
    await apply_until_done(store, command(1))
    await apply_until_done(store, command(2))
    # A crash between the commit's insert and its projection: the projection still shows version 1.
    await database["amounts"].update_one({"_id": CSID}, {"$set": {"version": 1, "state": {"amounts": [1]}}})
    loaded = await store.load(CSID)
    assert loaded.state is not None and loaded.state.amounts == [1, 2], "a load reads the commit records"
    await store.housekeep(datetime.now(UTC) + COMMIT_GRACE)
    projected = await database["amounts"].find_one({"_id": CSID})
    assert projected is not None and projected["version"] == 2
    assert projected["state"]["amounts"] == [1, 2]
    remaining = [d["_id"] async for d in store.commits.find({})]
    assert remaining == [record_id(CSID, 2)], "superseded records are deleted, the newest kept"
