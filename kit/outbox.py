"""The relay: publishes committed events with the idempotent producer, off the consuming path.

Woken after each batch's commit (``notify``), it publishes what this process just committed, from
memory: every entry is sent before any acknowledgement is awaited. Then it deletes their outbox
intents in one command (kit/store.py). It never writes an aggregate.

The recovery pass, on a slow interval (``interval_s``) and at start, reads only the small
``X_inflight`` collection: an intent older than ``takeover_s`` that no live writer has cleared
is a commit whose events a crashed or stopped replica left unpublished; its record is fetched by
exact ``_id`` and published. Publishing is at least once: an entry published just before a crash
is published again after it, under the same message id, and consumers drop it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from kit.logs import log
from kit.loops import Periodic
from kit.metrics import Metrics
from kit.store import COMMIT_GRACE, AggregateStore, OutboxEntry, Pending, written_at

Publish = Callable[[str, bytes, bytes, dict[str, str]], Awaitable[Any]]
"""Sends one record. It may return an awaitable acknowledgement: then every entry of a round is
sent before any acknowledgement is awaited."""

HOUSEKEEPING_INTERVAL_S = 600.0


async def send_all(publish: Publish, entries: Sequence[OutboxEntry]) -> None:
    """Sends every entry, then awaits every acknowledgement; raises the first failure."""
    acks = []
    for entry in entries:
        ack = await publish(
            entry.topic,
            entry.key.encode(),
            entry.value.encode(),
            {"message-type": entry.message_type, "message-id": entry.id},
        )
        if inspect.isawaitable(ack):
            acks.append(ack)
    for outcome in await asyncio.gather(*acks, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome


class OutboxRelay:
    def __init__(
        self,
        stores: Sequence[AggregateStore[Any]],
        publish: Publish,
        metrics: Metrics,
        interval_s: float,
        takeover_s: float = 10.0,
        housekeeping_interval_s: float = HOUSEKEEPING_INTERVAL_S,
    ) -> None:
        self.stores = list(stores)
        self.publish = publish
        self.metrics = metrics
        self.interval_s = interval_s
        self.takeover_s = takeover_s
        self.housekeeping_interval_s = housekeeping_interval_s
        self._loop = Periodic("outbox_relay", self.round, interval_s)
        self._lock = asyncio.Lock()
        self._next_recovery = 0.0
        self._next_housekeeping = time.monotonic() + housekeeping_interval_s
        self._drained = asyncio.Event()
        self._drained.set()

    def recover_after(self, seconds: float) -> None:
        """Runs the recovery pass ``seconds`` from now (a takeover), unless one is due sooner."""
        self._next_recovery = min(self._next_recovery, time.monotonic() + seconds)

    def notify(self) -> None:
        self._drained.clear()
        self._loop.wake()

    @property
    def unpublished(self) -> int:
        return sum(store.unpublished for store in self.stores)

    def running_here(self) -> bool:
        """Whether the caller is the relay's own task (an in-memory broker delivers inline)."""
        return self._loop.is_current()

    async def room(self, limit: int) -> None:
        """Waits while more than ``limit`` events committed here wait for publishing."""
        while self.unpublished > limit and not self.running_here():
            self._drained.clear()
            self._loop.wake()
            await self._drained.wait()

    async def publish_fresh(self) -> int:
        """Publishes what this process just committed, from memory; returns how many went out."""
        async with self._lock:
            sent = 0
            for store in self.stores:
                fresh = store.take_fresh()
                if not fresh:
                    continue
                try:
                    await send_all(self.publish, [e for item in fresh for e in item.entries])
                except BaseException:
                    store.return_fresh(fresh)
                    raise
                await store.published(fresh)
                await store.delete_superseded()
                sent += sum(len(item.entries) for item in fresh)
            self.metrics.published.inc(sent)
            if not self.unpublished:
                self._drained.set()
            return sent

    async def recover(self) -> int:
        """Publishes the events of commits whose intent is older than ``takeover_s`` and that this
        process does not owe; drops intents whose commit never happened. Sets the backlog gauge to
        the commit records still unpublished. Returns how many entries went out."""
        async with self._lock:
            now = datetime.now(UTC)
            takeover_before = now - timedelta(seconds=self.takeover_s)
            sent = backlog = 0
            for store in self.stores:
                intents = await store.intents("outbox")
                stale = [
                    d for d in intents if not store.owes(d["record"]) and written_at(d) <= takeover_before
                ]
                found = await store.records([d["record"] for d in stale])
                items = [
                    Pending(
                        found[d["record"]]["aggregate"],
                        int(found[d["record"]]["version"]),
                        tuple(OutboxEntry.from_document(e) for e in found[d["record"]].get("outbox", [])),
                        written_at(d),
                        (d["_id"],),
                    )
                    for d in stale
                    if d["record"] in found
                ]
                never = [
                    d["_id"]
                    for d in stale
                    if d["record"] not in found and written_at(d) <= now - COMMIT_GRACE
                ]
                await send_all(self.publish, [e for item in items for e in item.entries])
                await store.published(items)
                await store.forget_intents(never)
                sent += sum(len(item.entries) for item in items)
                backlog += len(intents) - len(items) - len(never)
            self.metrics.published.inc(sent)
            self.metrics.outbox_backlog.set(backlog)
            return sent

    async def flush(self) -> int:
        """Publishes what this process committed, then recovers what others left; returns how many
        entries went out."""
        return await self.publish_fresh() + await self.recover()

    async def housekeep(self) -> None:
        now = datetime.now(UTC)
        for store in self.stores:
            await store.housekeep(now)

    async def round(self) -> None:
        """Publishes what was just committed; every ``interval_s`` also recovers what others left,
        and every ``housekeeping_interval_s`` completes and prunes (kit/store.py)."""
        await self.publish_fresh()
        if time.monotonic() >= self._next_recovery:
            self._next_recovery = time.monotonic() + self.interval_s
            await self.recover()
        if time.monotonic() >= self._next_housekeeping:
            self._next_housekeeping = time.monotonic() + self.housekeeping_interval_s
            await self.housekeep()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        """Stops the loop, then publishes what is left; logs an error if that final flush fails.

        Call it while the producer is still open: an event committed but not published here
        waits for another replica's takeover, or for this service's next start.
        """
        await self._loop.stop()
        self._drained.set()
        try:
            await self.flush()
        except Exception as exc:
            log("outbox_final_flush_failed", error_class=type(exc).__name__, level=logging.ERROR)
