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

The caller commits the record's offset only after ``process`` returns.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from contracts.envelope import Envelope
from contracts.topics import Topic
from kit.codec import check_key, decode
from kit.errors import Malformed, is_infrastructure_error
from kit.logs import log
from kit.metrics import Metrics
from kit.settings import ServiceSettings


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


class Handler(Protocol):
    def __call__(self, envelope: Envelope, message: Any, now: datetime) -> Awaitable[Outcome]: ...


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


class Processor:
    def __init__(
        self,
        *,
        settings: ServiceSettings,
        topics: Mapping[str, Topic],
        handle: Handler,
        dead_letter: DeadLetterSink,
        metrics: Metrics,
        clock: Clock,
        stopping: asyncio.Event | None = None,
    ) -> None:
        self.settings = settings
        self.topics = dict(topics)
        self.handle = handle
        self.dead_letter = dead_letter
        self.metrics = metrics
        self.clock = clock
        self.stopping = stopping or asyncio.Event()

    async def process(self, incoming: Incoming) -> Outcome:
        """The record's outcome; raises only ``Stopping`` (and cancellation)."""
        self.metrics.consumed.labels(incoming.topic).inc()
        started = time.perf_counter()
        try:
            return await self._process(incoming)
        except Stopping:
            raise
        except Exception as exc:
            # A fault outside the handler (the kit, the framework): the record cannot be
            # processed as it is, and retrying it forever would stall its partition.
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
        finally:
            self.metrics.latency.observe(time.perf_counter() - started)

    async def _process(self, incoming: Incoming) -> Outcome:
        topic = self.topics[incoming.topic]
        try:
            envelope, message = decode(
                incoming.value,
                topic,
                max_bytes=self.settings.max_message_bytes,
                max_depth=self.settings.max_nesting_depth,
                max_digits=self.settings.max_number_digits,
            )
            check_key(incoming.key, envelope)
        except Malformed as exc:
            return await self._dead_letter(incoming, exc.reason_code, exc.reason, "Malformed")

        attempts = 0
        delay = self.settings.retry_initial_s
        while True:
            try:
                outcome = await self.handle(envelope, message, self.clock())
            except Malformed as exc:
                # The handler found the message can never be applied (e.g. ``id_conflict``).
                return await self._dead_letter(incoming, exc.reason_code, exc.reason, "Malformed")
            except Exception as exc:
                if is_infrastructure_error(exc):
                    self.metrics.infrastructure_retries.inc()
                    log("infrastructure_retry", envelope=envelope, error_class=type(exc).__name__)
                else:
                    attempts += 1
                    log(
                        "handler_failed",
                        envelope=envelope,
                        error_class=type(exc).__name__,
                        attempt=attempts,
                        level=logging.WARNING,
                    )
                    if attempts >= self.settings.max_attempts:
                        return await self._dead_letter(
                            incoming,
                            "handler_failed",
                            f"failed {attempts} times: {type(exc).__name__}",
                            type(exc).__name__,
                        )
                await self._pause(delay)
                delay = min(delay * 2, self.settings.retry_max_s)
                continue
            self._count(outcome, envelope)
            return outcome

    def _count(self, outcome: Outcome, envelope: Envelope) -> None:
        counter = {
            Outcome.APPLIED: self.metrics.applied,
            Outcome.DUPLICATE: self.metrics.duplicates,
            Outcome.REFUSED: self.metrics.refused,
            Outcome.IGNORED: self.metrics.ignored,
        }.get(outcome)
        if counter is not None:
            counter.inc()
        log(outcome.value, envelope=envelope)

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
