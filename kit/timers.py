"""Durable timers: stored with the aggregate, surviving restarts, applied once across replicas.

A decider asks for a timer by returning ``Deferred(message, due_at, timer_id)`` among its events.
The timer is saved in the aggregate's document by the same conditional write as the state and
outbox (``timers`` and ``next_due``). The sweeper publishes each due timer's message — a command
to the service's own commands topic — under a message id derived from the aggregate and the
timer id, and marks it fired; the next commit of the aggregate drops it. If two
replicas fire the same timer, or one fires it and crashes before marking it, the command
arrives twice with one id and is applied once. A decider
receiving a timer's command checks the state: a timer whose reason has passed changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.base import Message
from kit.errors import is_infrastructure_error
from kit.logs import log
from kit.outbox import Publish, publish_unsent
from kit.store import AggregateStore


@dataclass(frozen=True)
class Deferred:
    """A command the service sends itself at ``due_at``; ``timer_id`` is unique per aggregate."""

    message: Message
    due_at: datetime
    timer_id: str


class TimerSweeper:
    def __init__(
        self,
        stores: Sequence[AggregateStore[Any]],
        publish: Publish,
        clock: Callable[[], datetime],
        interval_s: float,
    ) -> None:
        self.stores = list(stores)
        self.publish = publish
        self.clock = clock
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._seen: dict[tuple[str, str], int] = {}

    async def fire_due(self) -> int:
        """Publishes every due timer not yet marked fired; returns how many fired."""
        now = self.clock()
        fired = 0
        for store in self.stores:
            published, _ = await publish_unsent(store, await store.due_timers(now), self.publish, self._seen)
            fired += published
        return fired

    async def run(self) -> None:
        while True:
            try:
                await self.fire_due()
            except Exception as exc:
                level = logging.INFO if is_infrastructure_error(exc) else logging.ERROR
                log("timer_sweep_failed", error_class=type(exc).__name__, level=level)
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="timer-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
