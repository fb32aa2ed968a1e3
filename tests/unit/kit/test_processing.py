"""The processor's lanes as pure logic: fake handler and sink, no broker or store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from faststream import AckPolicy
from pymongo.errors import ServerSelectionTimeoutError

from contracts.envelope import Envelope
from kit.codec import decode, nesting_depth
from kit.errors import Malformed
from kit.metrics import Metrics
from kit.processing import DeadLetter, Incoming, Outcome, Processor, Stopping, one_by_one
from kit.settings import ServiceSettings
from tests.integration.kit.tally import COMMANDS, TOPICS, AddToTally, make_runtime
from tests.integration.kit.test_lanes import ACTOR

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
SETTINGS = ServiceSettings(service_name="tally", retry_initial_s=0.001, retry_max_s=0.004, max_attempts=3)


def record(value: bytes) -> Incoming:
    return Incoming(topic=COMMANDS, partition=0, offset=7, key=b"123456789", value=value)


def good() -> bytes:
    return Envelope.wrap(
        AddToTally(actor=ACTOR, amount=1), csid="123456789", producer="t", occurred_at=NOW
    ).to_bytes()


class Sink:
    def __init__(self) -> None:
        self.letters: list[tuple[str, str]] = []

    async def __call__(self, letter: DeadLetter) -> None:
        self.letters.append((letter.reason_code, letter.headers["x-error-class"]))


def processor(handle: Any, sink: Sink, stopping: asyncio.Event | None = None) -> Processor:
    return Processor(
        settings=SETTINGS,
        topics=TOPICS,
        handle=one_by_one(handle),
        dead_letter=sink,
        metrics=Metrics("tally"),
        clock=lambda: NOW,
        stopping=stopping,
    )


def test_nesting_depth_counts_arrays_and_objects() -> None:
    assert nesting_depth(1) == 0
    assert nesting_depth({"a": [1, {"b": []}]}) == 4


def test_the_size_cap_is_checked_before_parsing() -> None:
    with pytest.raises(Malformed) as caught:
        decode(b"x" * 11, TOPICS[COMMANDS], max_bytes=10, max_depth=5)
    assert caught.value.reason_code == "too_large"


async def test_an_infrastructure_failure_is_retried_until_it_passes_and_never_dead_lettered() -> None:
    calls = 0

    async def flaky(envelope: Envelope, message: Any, now: datetime) -> Outcome:
        nonlocal calls
        calls += 1
        if calls < 6:
            raise ServerSelectionTimeoutError("store away")
        return Outcome.APPLIED

    sink = Sink()
    outcome = await processor(flaky, sink).process(record(good()))
    assert (outcome, calls, sink.letters) == (Outcome.APPLIED, 6, [])


async def test_any_other_failure_is_dead_lettered_after_the_configured_attempts() -> None:
    calls = 0

    async def broken(envelope: Envelope, message: Any, now: datetime) -> Outcome:
        nonlocal calls
        calls += 1
        raise KeyError("bug")

    sink = Sink()
    outcome = await processor(broken, sink).process(record(good()))
    assert (outcome, calls, sink.letters) == (Outcome.DEAD_LETTERED, 3, [("handler_failed", "KeyError")])


async def test_shutting_down_while_the_store_is_away_stops_without_an_outcome() -> None:
    stopping = asyncio.Event()

    async def away(envelope: Envelope, message: Any, now: datetime) -> Outcome:
        stopping.set()
        raise ServerSelectionTimeoutError("store away")

    sink = Sink()
    with pytest.raises(Stopping):
        await processor(away, sink, stopping).process(record(good()))
    assert sink.letters == []


def test_every_subscriber_joins_the_consumer_group_with_a_manual_ack_policy() -> None:
    runtime = make_runtime(ServiceSettings(service_name="tally", consumer_group="casemesh-tally"))
    assert runtime.subscription["group_id"] == "casemesh-tally"
    assert runtime.subscription["ack_policy"] is AckPolicy.MANUAL
    assert runtime.subscription["ack_policy"] is not AckPolicy.ACK_FIRST
