"""At-least-once processing of one consumed record, in three error lanes.

(a) malformed input → dead letters with the reason, then committed;
(b) business refusal → the domain's ``…Rejected`` event, published like any other event;
(c) infrastructure failure → retried with exponential backoff, nothing committed, nothing
    dead-lettered; any other failure is retried ``max_attempts`` times, then dead-lettered.

The caller commits the record's offset only after ``process`` returns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from contracts.envelope import Envelope
from contracts.topics import Topic
from kit.codec import decode
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
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Mapping[str, bytes] = field(default_factory=dict)


class Handler(Protocol):
    def __call__(self, envelope: Envelope, message: Any, now: datetime) -> Awaitable[Outcome]: ...


class DeadLetterSink(Protocol):
    def __call__(
        self, incoming: Incoming, reason_code: str, reason: str, error_class: str
    ) -> Awaitable[None]: ...


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
        self.metrics.consumed.labels(incoming.topic).inc()
        started = time.perf_counter()
        try:
            outcome = await self._process(incoming)
        finally:
            self.metrics.latency.observe(time.perf_counter() - started)
        return outcome

    async def _process(self, incoming: Incoming) -> Outcome:
        topic = self.topics[incoming.topic]
        try:
            envelope, message = decode(
                incoming.value,
                topic,
                max_bytes=self.settings.max_message_bytes,
                max_depth=self.settings.max_nesting_depth,
            )
        except Malformed as exc:
            await self._dead_letter(incoming, exc.reason_code, exc.reason, "Malformed")
            return Outcome.DEAD_LETTERED

        attempts = 0
        delay = self.settings.retry_initial_s
        while True:
            try:
                outcome = await self.handle(envelope, message, self.clock())
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
                        await self._dead_letter(
                            incoming,
                            "handler_failed",
                            f"failed {attempts} times: {type(exc).__name__}",
                            type(exc).__name__,
                        )
                        return Outcome.DEAD_LETTERED
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

    async def _dead_letter(self, incoming: Incoming, reason_code: str, reason: str, error_class: str) -> None:
        delay = self.settings.retry_initial_s
        while True:
            try:
                await self.dead_letter(incoming, reason_code, reason, error_class)
                break
            except Exception as exc:
                if not is_infrastructure_error(exc):
                    raise
                await self._pause(delay)
                delay = min(delay * 2, self.settings.retry_max_s)
        self.metrics.dead_lettered.labels(reason_code).inc()
        log(
            "dead_lettered",
            topic=incoming.topic,
            partition=incoming.partition,
            offset=incoming.offset,
            reason_code=reason_code,
            level=logging.WARNING,
        )

    async def _pause(self, seconds: float) -> None:
        if self.stopping.is_set():
            raise Stopping
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except TimeoutError:
            return
        raise Stopping


def dead_letter_headers(
    incoming: Incoming, reason_code: str, reason: str, error_class: str
) -> dict[str, str]:
    """What a dead letter carries besides the original key and bytes."""
    return {
        "x-original-topic": incoming.topic,
        "x-original-partition": str(incoming.partition),
        "x-original-offset": str(incoming.offset),
        "x-error-class": error_class,
        "x-reason-code": reason_code,
        "x-reason": reason[:1000],
    }
