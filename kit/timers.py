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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.base import Message
from kit.loops import Periodic
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
        self._seen: dict[tuple[str, str], int] = {}
        self._loop = Periodic("timer_sweep", self.fire_due, interval_s)

    async def fire_due(self) -> int:
        """Publishes every due timer not yet marked fired; returns how many fired."""
        now = self.clock()
        fired = 0
        for store in self.stores:
            published, _ = await publish_unsent(store, await store.due_timers(now), self.publish, self._seen)
            fired += published
        return fired

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
