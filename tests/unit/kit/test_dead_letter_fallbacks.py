"""Every record ends with an outcome: truncated and minimal dead letters, faults outside the handler."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError
from pymongo.errors import ServerSelectionTimeoutError

from contracts.envelope import Envelope
from kit.errors import Malformed
from kit.logs import RateLimit, RepeatFilter
from kit.metrics import Metrics
from kit.processing import DeadLetter, Incoming, Outcome, Processor, one_by_one
from kit.settings import ServiceSettings
from tests.integration.kit.tally import COMMANDS, TOPICS, AddToTally
from tests.integration.kit.test_lanes import ACTOR

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
SETTINGS = ServiceSettings(
    service_name="tally", retry_initial_s=0.001, retry_max_s=0.004, max_attempts=3, dead_letter_max_bytes=100
)


def record(value: bytes | None, key: bytes | None = b"123456789") -> Incoming:
    return Incoming(topic=COMMANDS, partition=2, offset=41, key=key, value=value)


def good() -> bytes:
    return Envelope.wrap(
        AddToTally(actor=ACTOR, amount=1), csid="123456789", producer="t", occurred_at=NOW
    ).to_bytes()


class Sink:
    """Publishes dead letters; refuses the first ``refusals`` of them with ``error``."""

    def __init__(self, refusals: int = 0, error: Exception | None = None) -> None:
        self.refusals = refusals
        self.error = error or MessageSizeTooLargeError()
        self.tried: list[DeadLetter] = []
        self.letters: list[DeadLetter] = []

    async def __call__(self, letter: DeadLetter) -> None:
        self.tried.append(letter)
        if len(self.tried) <= self.refusals:
            raise self.error
        self.letters.append(letter)


def processor(handle: Any, sink: Sink, topics: Any = TOPICS) -> Processor:
    return Processor(
        settings=SETTINGS,
        topics=topics,
        handle=one_by_one(handle),
        dead_letter=sink,
        metrics=Metrics("tally"),
        clock=lambda: NOW,
    )


async def never_called(envelope: Envelope, message: Any, now: datetime) -> Outcome:
    raise AssertionError("the handler must not see this record")


def test_a_dead_letter_that_fits_keeps_the_original_key_and_bytes() -> None:
    letter = DeadLetter.of(record(b"{oops"), "not_json", "not JSON", "Malformed", max_bytes=100)
    assert (letter.key, letter.value) == (b"123456789", b"{oops")
    assert letter.headers["x-truncated"] == "false"
    assert letter.headers["x-original-size"] == "5"


def test_a_dead_letter_too_large_is_truncated_with_the_originals_hash_size_and_coordinates() -> None:
    original = b"x" * 1_048_480
    letter = DeadLetter.of(record(original), "too_large", "too large", "Malformed", max_bytes=1000)
    assert len(letter.key or b"") + len(letter.value) == 1000
    assert letter.headers == {
        "x-original-topic": COMMANDS,
        "x-original-partition": "2",
        "x-original-offset": "41",
        "x-original-size": "1048480",
        "x-original-sha256": hashlib.sha256(original).hexdigest(),
        "x-truncated": "true",
        "x-error-class": "Malformed",
        "x-reason-code": "too_large",
        "x-reason": "too large",
    }


def test_a_huge_key_is_left_off_the_dead_letter() -> None:
    letter = DeadLetter.of(record(b"{}", key=b"k" * 5000), "key_mismatch", "", "Malformed", max_bytes=100)
    assert (letter.key, letter.value, letter.headers["x-truncated"]) == (None, b"{}", "true")


async def test_a_dead_letter_the_broker_refuses_is_replaced_by_the_minimal_one_at_once() -> None:
    sink = Sink(refusals=1)
    outcome = await processor(never_called, sink).process(record(b"{oops"))
    (letter,) = sink.letters
    assert outcome is Outcome.DEAD_LETTERED
    assert (letter.key, letter.value, letter.headers["x-truncated"]) == (None, b"", "true")
    assert letter.headers["x-reason-code"] == "not_json"
    assert letter.headers["x-original-offset"] == "41"
    assert letter.headers["x-original-sha256"] == hashlib.sha256(b"{oops").hexdigest()
    assert "x-reason" not in letter.headers


async def test_a_refused_minimal_letter_is_retried_never_skipped() -> None:
    sink = Sink(refusals=3)
    assert await processor(never_called, sink).process(record(b"{oops")) is Outcome.DEAD_LETTERED
    assert len(sink.tried) == 4
    assert sink.letters and sink.letters[0].is_minimal


async def test_a_broker_away_while_dead_lettering_is_waited_out_with_the_full_letter() -> None:
    sink = Sink(refusals=2, error=ServerSelectionTimeoutError("away"))
    assert await processor(never_called, sink).process(record(b"{oops")) is Outcome.DEAD_LETTERED
    assert sink.letters[0].value == b"{oops"


async def test_a_handler_raising_malformed_is_dead_lettered_at_once_with_its_reason_code() -> None:
    calls = 0

    async def conflicting(envelope: Envelope, message: Any, now: datetime) -> Outcome:
        nonlocal calls
        calls += 1
        raise Malformed("id_conflict", "message_id was seen before with another payload")

    sink = Sink()
    outcome = await processor(conflicting, sink).process(record(good()))
    assert (outcome, calls) == (Outcome.DEAD_LETTERED, 1)
    assert [letter.reason_code for letter in sink.letters] == ["id_conflict"]


async def test_a_fault_outside_the_handler_is_a_dead_letter_not_a_redelivery_loop() -> None:
    sink = Sink()
    outcome = await processor(never_called, sink, topics={}).process(record(good()))
    (letter,) = sink.letters
    assert outcome is Outcome.DEAD_LETTERED
    assert letter.headers["x-reason-code"] == "processing_failed"
    assert letter.headers["x-error-class"] == "KeyError"


async def test_a_record_keyed_by_another_csid_is_dead_lettered_as_a_key_mismatch() -> None:
    sink = Sink()
    outcome = await processor(never_called, sink).process(record(good(), key=b"987654321"))
    assert outcome is Outcome.DEAD_LETTERED
    assert [letter.reason_code for letter in sink.letters] == ["key_mismatch"]


def test_a_rate_limit_lets_one_line_through_per_window_and_counts_the_rest() -> None:
    now = [0.0]
    limit = RateLimit(window_s=10, clock=lambda: now[0])
    assert [limit.allow("poison") for _ in range(3)] == [0, None, None]
    assert limit.allow("other") == 0
    now[0] = 10.0
    assert limit.allow("poison") == 2


def test_the_frameworks_repeated_errors_of_one_kind_log_once_per_window() -> None:
    logger = logging.getLogger("casemesh.test.repeats")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    logger.addFilter(RepeatFilter(RateLimit(window_s=60)))
    for offset in range(1000):
        logger.error("ValueError: record %s failed", offset)
        logger.info("Received")
    logger.error("KafkaError: broker away")
    assert [r.getMessage() for r in seen if r.levelno >= logging.WARNING] == [
        "ValueError: record 0 failed",
        "KafkaError: broker away",
    ]
    assert sum(r.levelno == logging.INFO for r in seen) == 1000
