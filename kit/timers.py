"""Durable timers: stored with the aggregate, surviving restarts, applied once across replicas.

A decider asks for a timer by returning ``Deferred(message, due_at, timer_id)`` among its events.
The timer is kept in the aggregate's commit record, with the state and events (kit/store.py),
until the commit that applies its command; beside it, a ``timer`` document in the small
``X_inflight`` collection, written before that commit, is what the sweeper looks at: every
``timer_interval_s`` it reads the due ones there (never the aggregates), keeps those the
aggregate's newest record still holds, publishes their commands — to the service's own commands
topic, under a message id derived from the aggregate and the timer id — and deletes their
documents. If two replicas fire the same timer, or one fires it and crashes before deleting it,
the command arrives twice with one id and is applied once. A decider receiving a timer's command
checks the state: a timer whose reason has passed changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts.base import Message
from kit.loops import Periodic
from kit.outbox import Publish, send_all
from kit.store import COMMIT_GRACE, AggregateStore, TimerEntry, written_at


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
        self._loop = Periodic("timer_sweep", self.fire_due, interval_s)

    async def fire_due(self) -> int:
        """Publishes every due timer still armed; returns how many fired."""
        now = self.clock()
        settled = datetime.now(UTC) - COMMIT_GRACE
        fired = 0
        for store in self.stores:
            documents = await store.intents("timer", {"due_at": {"$lte": now}})
            if not documents:
                continue
            loaded = await store.load_many(d["aggregate"] for d in documents)
            armed = {(a, t.id) for a, found in loaded.items() for t in found.timers}
            due = [d for d in documents if (d["aggregate"], d["id"]) in armed]
            # Not armed: applied already, or written for a commit another writer beat.
            gone = [
                d["_id"]
                for d in documents
                if (d["aggregate"], d["id"]) not in armed and written_at(d) <= settled
            ]
            await send_all(self.publish, [TimerEntry.from_document(d) for d in due])
            await store.forget_intents([d["_id"] for d in due] + gone)
            fired += len(due)
        return fired

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
