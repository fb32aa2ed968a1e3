"""At-least-once processing of one consumed record, in three error lanes.

(a) malformed input → dead letters with the reason, then committed;
(b) business refusal → the domain's ``…Rejected`` event, published like any other event;
(c) infrastructure failure → retried with exponential backoff, nothing committed, nothing
    dead-lettered; any other failure is retried ``max_attempts`` times, then dead-lettered.

Every record ends applied (or a duplicate, or ignored), refused or dead-lettered, whatever its
bytes: the record's key, value, envelope and payload are decoded here, under explicit limits
(``kit.codec``), never by the framework before it. A failure outside the handler (decoding, a
kit bug) is a dead letter with its reason; a handler that raises ``Malformed`` (e.g.
``id_conflict``) is dead-lettered at once. Only ``Stopping`` leaves a record without an outcome.

A command whose ``actor`` the record's identity header does not prove (kit/identity.py) is
handed on as ``Unverified``: its service refuses it ``UNAUTHENTICATED`` or ``ACTOR_MISMATCH``.

The caller commits the record's offset only after ``process`` returns.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from contracts.envelope import Envelope
from contracts.topics import Topic
from kit.codec import check_key, decode
from kit.errors import Malformed, is_infrastructure_error
from kit.identity import Unverified, Verdict
from kit.logs import LOGGER, log
from kit.metrics import UNKNOWN_TYPE, Metrics
from kit.settings import ServiceSettings
from kit.tracing import BatchTrace


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REFUSED = "refused"
    DEAD_LETTERED = "dead_lettered"
    IGNORED = "ignored"


@dataclass(frozen=True)
class Incoming:
    """One consumed record, undecoded: header values may be any bytes, or None."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Mapping[str, bytes | None] = field(default_factory=dict)
    received_at: float | None = None
    """When the broker appended the record (epoch seconds), on a topic that stamps it
    (``message.timestamp.type=LogAppendTime``); None where the producer set the time."""


Result = Outcome | Exception
"""What handling a message came to: an outcome, ``Malformed`` (dead-lettered with its reason
code), or the exception that failed it (retried alone, then dead-lettered)."""


class Handler(Protocol):
    """Handles one message (tests and small tools; services get a ``BatchHandler`` from the kit)."""

    def __call__(self, envelope: Envelope, message: Any, now: datetime) -> Awaitable[Outcome]: ...


class BatchHandler(Protocol):
    """Handles the decoded messages of a batch in order: one result per message. Raises only when
    the whole batch failed (infrastructure, a kit fault); then nothing of it is committed as done."""

    def __call__(self, items: Sequence[tuple[Envelope, Any]], now: datetime) -> Awaitable[list[Result]]: ...


def one_by_one(handle: Handler) -> BatchHandler:
    """A batch handler calling ``handle`` for each message in turn."""

    async def handle_batch(items: Sequence[tuple[Envelope, Any]], now: datetime) -> list[Result]:
        results: list[Result] = []
        for envelope, message in items:
            try:
                results.append(await handle(envelope, message, now))
            except Exception as exc:
                if is_infrastructure_error(exc):
                    raise
                results.append(exc)
        return results

    return handle_batch


def one_message(handle: BatchHandler) -> Handler:
    """Handles a single message with a batch handler; raises what failed it."""

    async def handle_one(envelope: Envelope, message: Any, now: datetime) -> Outcome:
        [result] = await handle([(envelope, message)], now)
        if isinstance(result, Exception):
            raise result
        return result

    return handle_one


MAX_DEAD_LETTER_KEY_BYTES = 1024
"""A longer original key is left off its dead letter (a CSID is a few bytes)."""

MAX_REASON_CHARS = 1000


@dataclass(frozen=True)
class DeadLetter:
    """The record a dead letter publishes: the original key and bytes when they fit, always the
    reason and the original's coordinates, size and SHA-256."""

    key: bytes | None
    value: bytes
    headers: dict[str, str]
    reason_code: str

    @classmethod
    def of(
        cls, incoming: Incoming, reason_code: str, reason: str, error_class: str, max_bytes: int
    ) -> DeadLetter:
        original = incoming.value or b""
        key = incoming.key
        if key is not None and len(key) > min(MAX_DEAD_LETTER_KEY_BYTES, max_bytes):
            key = None
        room = max_bytes - len(key or b"")
        truncated = key != incoming.key or len(original) > room
        headers = {
            **_identity(incoming, original, truncated),
            "x-error-class": error_class[:200],
            "x-reason-code": reason_code[:200],
            "x-reason": reason[:MAX_REASON_CHARS],
        }
        return cls(key, original[:room], headers, reason_code)

    def minimal(self) -> DeadLetter:
        """The fallback when the broker refuses this letter: no key, no value, the minimal headers."""
        kept = (*_COORDINATES, "x-original-size", "x-original-sha256", "x-error-class", "x-reason-code")
        headers = {name: self.headers[name] for name in kept if name in self.headers}
        return replace(self, key=None, value=b"", headers={**headers, "x-truncated": "true"})

    @property
    def is_minimal(self) -> bool:
        return self.key is None and not self.value and "x-reason" not in self.headers


_COORDINATES = ("x-original-topic", "x-original-partition", "x-original-offset")


def _identity(incoming: Incoming, original: bytes, truncated: bool) -> dict[str, str]:
    return {
        "x-original-topic": incoming.topic,
        "x-original-partition": str(incoming.partition),
        "x-original-offset": str(incoming.offset),
        "x-original-size": str(len(original)),
        "x-original-sha256": hashlib.sha256(original).hexdigest(),
        "x-truncated": "true" if truncated else "false",
    }


DeadLetterSink = Callable[[DeadLetter], Awaitable[None]]
"""Publishes a dead letter to the service's dead-letter topic."""


class Stopping(Exception):
    """The service is shutting down while a record waits for infrastructure: commit nothing."""


Clock = Callable[[], datetime]
Verify = Callable[[Mapping[str, bytes | None], Any, float | None], Verdict | None]
"""Why a message's actor is not the identity its headers prove, or None (kit/identity.py)."""


class Processor:
    def __init__(
        self,
        *,
        settings: ServiceSettings,
        topics: Mapping[str, Topic],
        handle: BatchHandler,
        dead_letter: DeadLetterSink,
        metrics: Metrics,
        clock: Clock,
        stopping: asyncio.Event | None = None,
        verify: Verify | None = None,
    ) -> None:
        self.settings = settings
        self.verify = verify
        self.topics = dict(topics)
        self.handle = handle
        self.dead_letter = dead_letter
        self.metrics = metrics
        self.clock = clock
        self.stopping = stopping or asyncio.Event()

    async def process(self, incoming: Incoming) -> Outcome:
        """The record's outcome; raises only ``Stopping`` (and cancellation)."""
        return (await self.process_batch([incoming]))[0]

    async def process_batch(
        self, batch: Sequence[Incoming], trace: BatchTrace | None = None
    ) -> list[Outcome]:
        """Each record's outcome, in order; raises only ``Stopping`` (and cancellation), and then
        none of the batch may be committed. ``trace`` (tracing on) is given the batch's times and
        envelopes, for its spans (kit/tracing.py)."""
        started = time.perf_counter()
        outcomes: list[Outcome | None] = [None] * len(batch)
        envelopes: list[Envelope | None] = [None] * len(batch)
        decoded: list[tuple[int, Envelope, Any]] = []
        for index, incoming in enumerate(batch):
            self.metrics.consumed_on(incoming.topic).inc()
            try:
                envelope, message = self._decode(incoming)
                if self.verify is not None:
                    verdict = self.verify(incoming.headers, message, incoming.received_at)
                    if verdict is not None:
                        message = Unverified(message, verdict)
            except Malformed as exc:
                outcomes[index] = await self._dead_letter(incoming, exc.reason_code, exc.reason, "Malformed")
                continue
            except Exception as exc:
                outcomes[index] = await self._failed_outside(incoming, exc)
                continue
            envelopes[index] = envelope
            decoded.append((index, envelope, message))
        if trace is not None and decoded:
            trace.decided_from_ns = time.time_ns()
        results = await self._handle([(e, m) for _, e, m in decoded]) if decoded else []
        if trace is not None and decoded:
            trace.decided_to_ns = time.time_ns()
        for (index, _, _), result in zip(decoded, results, strict=True):
            outcomes[index] = await self._settle(batch[index], result)
        elapsed = time.perf_counter() - started
        self.metrics.latency.observe(elapsed)
        self.metrics.batch_size.observe(len(batch))
        settled = [Outcome.DEAD_LETTERED if o is None else o for o in outcomes]
        self._processed(batch, envelopes, settled, elapsed)
        if trace is not None:
            trace.envelopes = envelopes
            trace.settled_ns = time.time_ns()
        return settled

    def _processed(
        self,
        batch: Sequence[Incoming],
        envelopes: Sequence[Envelope | None],
        outcomes: Sequence[Outcome],
        elapsed: float,
    ) -> None:
        """Counts and times each record by topic, message type and outcome; one line per record
        (DEBUG, a refusal INFO) and one per batch (INFO)."""
        tally: dict[tuple[str, str, str], int] = {}
        for incoming, envelope, outcome in zip(batch, envelopes, outcomes, strict=True):
            key = (incoming.topic, UNKNOWN_TYPE if envelope is None else envelope.message_type, outcome.value)
            tally[key] = tally.get(key, 0) + 1
        per_outcome: dict[str, int] = {}
        for (topic, message_type, name), count in tally.items():
            self.metrics.processed_of(topic, message_type, name).inc(count)
            self.metrics.observe_many(self.metrics.processing_of(topic, message_type), elapsed, count)
            per_outcome[name] = per_outcome.get(name, 0) + count
        duration_ms = round(elapsed * 1000, 3)
        if LOGGER.isEnabledFor(logging.DEBUG) or Outcome.REFUSED.value in per_outcome:
            for incoming, envelope, outcome in zip(batch, envelopes, outcomes, strict=True):
                self._line(incoming, envelope, outcome, duration_ms)
        counts: dict[str, Any] = per_outcome
        log(
            "batch_processed",
            service=self.settings.service_name,
            records=len(batch),
            duration_ms=duration_ms,
            **counts,
        )

    def _line(
        self, incoming: Incoming, envelope: Envelope | None, outcome: Outcome, duration_ms: float
    ) -> None:
        """The record's processing line: ids and coordinates, never a payload value. Refusals are
        the sender's business: kept at INFO; the everyday outcomes at DEBUG."""
        log(
            "processed",
            envelope=envelope,
            level=logging.INFO if outcome is Outcome.REFUSED else logging.DEBUG,
            service=self.settings.service_name,
            topic=incoming.topic,
            partition=incoming.partition,
            offset=incoming.offset,
            outcome=outcome.value,
            duration_ms=duration_ms,
        )

    def _decode(self, incoming: Incoming) -> tuple[Envelope, Any]:
        topic = self.topics[incoming.topic]
        envelope, message = decode(
            incoming.value,
            topic,
            max_bytes=self.settings.max_message_bytes,
            max_depth=self.settings.max_nesting_depth,
            max_digits=self.settings.max_number_digits,
        )
        check_key(incoming.key, envelope)
        return envelope, message

    async def _failed_outside(self, incoming: Incoming, exc: Exception) -> Outcome:
        # A fault outside the handler (the kit, the framework): the record cannot be processed
        # as it is, and retrying it forever would stall its partition.
        error_class = type(exc).__name__
        log(
            "processing_failed",
            topic=incoming.topic,
            partition=incoming.partition,
            offset=incoming.offset,
            error_class=error_class,
            level=logging.ERROR,
        )
        return await self._dead_letter(
            incoming,
            "processing_failed",
            f"processing failed outside the handler: {error_class}",
            error_class,
        )

    async def _settle(self, incoming: Incoming, result: Result) -> Outcome:
        if isinstance(result, Malformed):
            # The handler found the message can never be applied (e.g. ``id_conflict``).
            return await self._dead_letter(incoming, result.reason_code, result.reason, "Malformed")
        if isinstance(result, Exception):
            name = type(result).__name__
            reason = f"failed {self.settings.max_attempts} times: {name}"
            return await self._dead_letter(incoming, "handler_failed", reason, name)
        self._count(result)
        return result

    async def _handle(self, items: Sequence[tuple[Envelope, Any]]) -> list[Result]:
        """The handler's results. Infrastructure errors are waited out (lane c). A batch that keeps
        failing otherwise is split, so only the message at fault is dead-lettered; a message that
        failed alone is tried again up to ``max_attempts`` times."""
        attempts = 0
        delay = self.settings.retry_initial_s
        while True:
            try:
                results = list(await self.handle(items, self.clock()))
                break
            except Exception as exc:
                if self._infrastructure(exc, items):
                    await self._pause(delay)
                    delay = min(delay * 2, self.settings.retry_max_s)
                    continue
                attempts += 1
                self._failed(items, exc, attempts)
                if attempts < self.settings.max_attempts:
                    await self._pause(delay)
                    delay = min(delay * 2, self.settings.retry_max_s)
                    continue
                if len(items) == 1:
                    return [exc]
                return [r for item in items for r in await self._handle([item])]
        for index, result in enumerate(results):
            if _failure(result):
                results[index] = await self._again(items[index], result)
        return results

    async def _again(self, item: tuple[Envelope, Any], failure: Result) -> Result:
        delay = self.settings.retry_initial_s
        attempt = 1
        self._failed([item], failure, attempt)
        while attempt < self.settings.max_attempts:
            await self._pause(delay)
            delay = min(delay * 2, self.settings.retry_max_s)
            try:
                result = (await self.handle([item], self.clock()))[0]
            except Exception as exc:
                if self._infrastructure(exc, [item]):
                    continue
                result = exc
            if not _failure(result):
                return result
            attempt += 1
            self._failed([item], result, attempt)
            failure = result
        return failure

    def _infrastructure(self, exc: Exception, items: Sequence[tuple[Envelope, Any]]) -> bool:
        if not is_infrastructure_error(exc):
            return False
        self.metrics.infrastructure_retries.inc()
        log("infrastructure_retry", envelope=items[0][0], error_class=type(exc).__name__, size=len(items))
        return True

    def _failed(self, items: Sequence[tuple[Envelope, Any]], failure: Result, attempt: int) -> None:
        log(
            "handler_failed",
            envelope=items[0][0],
            error_class=type(failure).__name__,
            attempt=attempt,
            size=len(items),
            level=logging.WARNING,
        )

    def _count(self, outcome: Outcome) -> None:
        counter = {
            Outcome.APPLIED: self.metrics.applied,
            Outcome.DUPLICATE: self.metrics.duplicates,
            Outcome.REFUSED: self.metrics.refused,
            Outcome.IGNORED: self.metrics.ignored,
        }.get(outcome)
        if counter is not None:
            counter.inc()

    async def _dead_letter(
        self, incoming: Incoming, reason_code: str, reason: str, error_class: str
    ) -> Outcome:
        """Publishes the record's dead letter; returns only once one is published.

        The broker being away is waited out (lane c). A letter the broker refuses (too large,
        say) is replaced at once by the minimal one: no key, no value, its coordinates and
        hash. Should even that be refused, it is retried with backoff, never skipped.
        """
        try:
            letter = DeadLetter.of(
                incoming, reason_code, reason, error_class, self.settings.dead_letter_max_bytes
            )
        except Exception:
            letter = DeadLetter.of(
                replace(incoming, key=None, value=None), reason_code, reason, error_class, 0
            ).minimal()
        delay = self.settings.retry_initial_s
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.dead_letter(letter)
                break
            except Exception as exc:
                infrastructure = is_infrastructure_error(exc)
                log(
                    "dead_letter_failed",
                    topic=incoming.topic,
                    partition=incoming.partition,
                    offset=incoming.offset,
                    reason_code=reason_code,
                    error_class=type(exc).__name__,
                    attempt=attempt,
                    minimal=letter.is_minimal,
                    level=logging.INFO if infrastructure else logging.ERROR,
                )
                if not infrastructure and not letter.is_minimal:
                    letter = letter.minimal()
                    continue
            await self._pause(delay)
            delay = min(delay * 2, self.settings.retry_max_s)
        self.metrics.dead_lettered.labels(reason_code).inc()
        log(
            "dead_lettered",
            topic=incoming.topic,
            partition=incoming.partition,
            offset=incoming.offset,
            reason_code=reason_code,
            truncated=letter.headers.get("x-truncated") == "true",
            level=logging.WARNING,
        )
        return Outcome.DEAD_LETTERED

    async def _pause(self, seconds: float) -> None:
        if self.stopping.is_set():
            raise Stopping
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except TimeoutError:
            return
        raise Stopping


def _failure(result: Result) -> bool:
    return isinstance(result, Exception) and not isinstance(result, Malformed)
