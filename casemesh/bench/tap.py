"""The tap: a raw consumer that reads a service's events topic from the start, outside any group."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from kit.transport import KafkaCluster

#: With no new event for this long, the rest are taken as never coming (and the run goes on).
IDLE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Seen:
    timestamp_ms: int
    message_type: str


class EventTap:
    """Every event on the topic, by the message id of the command that caused it."""

    def __init__(self, kafka: KafkaCluster, topic: str, partitions: int) -> None:
        self.consumer = AIOKafkaConsumer(
            **kafka.options(), enable_auto_commit=False, auto_offset_reset="earliest"
        )
        self.topic = topic
        self.partitions = partitions
        self.by_cause: dict[str, Seen] = {}
        self._events: set[str] = set()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        self.consumer.assign([TopicPartition(self.topic, p) for p in range(self.partitions)])
        await self.consumer.seek_to_beginning()
        self._task = asyncio.create_task(self._read(), name="bench-tap")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()  # a consumer never started stops as a no-op

    async def _read(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    self._note(record.value, int(record.timestamp))
            if batches:
                self._changed.set()

    def _note(self, value: bytes, timestamp_ms: int) -> None:
        envelope = json.loads(value)
        # Publishing is at least once: a republished event has the same message id.
        if envelope["message_id"] in self._events:
            return
        self._events.add(envelope["message_id"])
        cause = envelope.get("causation_id")
        if cause is not None and cause not in self.by_cause:
            self.by_cause[cause] = Seen(timestamp_ms, envelope["message_type"])

    def count(self, ids: set[str]) -> int:
        return sum(1 for i in ids if i in self.by_cause)

    def stamps(self, ids: set[str]) -> list[int]:
        return [self.by_cause[i].timestamp_ms for i in ids if i in self.by_cause]

    def stamped(self, after_ms: float, until_ms: float) -> int:
        return sum(1 for seen in self.by_cause.values() if after_ms < seen.timestamp_ms <= until_ms)

    @property
    def rejected(self) -> int:
        return sum(1 for seen in self.by_cause.values() if seen.message_type.endswith("Rejected"))

    async def until(
        self, done: Callable[[], bool], deadline: float = float("inf"), idle_timeout_s: float = IDLE_TIMEOUT_S
    ) -> bool:
        """Waits for ``done``; False once ``deadline`` (``time.monotonic``) has passed or no event
        has come for ``idle_timeout_s``."""
        while not done():
            wait = min(idle_timeout_s, deadline - time.monotonic())
            if wait <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=wait)
            except TimeoutError:
                return done()
        return True
