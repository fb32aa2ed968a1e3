"""The relay: publishes committed outbox entries with the idempotent producer, then marks them sent.

Right after each commit (woken by ``notify``) it publishes what this process just committed,
from memory, with no query. On a timer it sweeps the commit records for entries nobody has
published yet: those a crashed replica left behind, taken over once they are
``takeover_s`` old. It never writes an aggregate (see kit/store.py): it marks what it sent, and
the next commit of that aggregate drops it. Publishing is at least once: an entry published just
before a crash is published again after it, under the same message id, and consumers drop it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from kit.logs import log
from kit.loops import Periodic
from kit.metrics import Metrics
from kit.store import AggregateStore, Pending

Publish = Callable[[str, bytes, bytes, dict[str, str]], Awaitable[None]]


SEEN_LIMIT = 100_000
HOUSEKEEPING_INTERVAL_S = 60.0


async def publish_unsent(
    store: AggregateStore[Any],
    pending: list[Pending],
    publish: Publish,
    seen: dict[tuple[str, str], int],
    takeover_before: datetime | None = None,
    *,
    fresh: bool = False,
) -> tuple[int, int]:
    """Publishes the entries not yet marked sent, then marks them; returns (published, left).

    ``seen`` remembers aggregates whose entries were all sent at a version, so an aggregate
    waiting for its next commit to drop a sent outbox is not looked at again. With
    ``takeover_before``, an aggregate another process wrote is left to that process's relay until
    its last write is older than that (``left`` counts those entries still unsent): replicas do
    not all publish each fresh event, yet an event a crashed replica left behind is still
    published. ``fresh`` entries were just committed by this process, so no other relay has
    published them yet. Whatever the number of aggregates, the store is asked once which
    entries are already sent, and told once which were sent now.
    """
    if len(seen) > SEEN_LIMIT:
        seen.clear()
    todo = [item for item in pending if seen.get(_memo(store, item)) != item.version]
    waiting: list[Pending] = []
    ours: list[Pending] = []
    for item in todo:
        mine = takeover_before is None or _ours_or_stale(store, item, takeover_before)
        (ours if mine else waiting).append(item)
    asked = [e.id for item in todo for e in item.entries if not store.known_sent(e.id)]
    already = set() if fresh and not waiting else await store.sent_ids(asked)
    left = 0
    for item in waiting:
        unsent = [e for e in item.entries if not store.known_sent(e.id) and e.id not in already]
        if unsent:
            left += len(unsent)
        else:
            seen[_memo(store, item)] = item.version
    sent: list[str] = []
    try:
        for item in ours:
            for entry in item.entries:
                if store.known_sent(entry.id) or entry.id in already:
                    continue
                await publish(
                    entry.topic,
                    entry.key.encode(),
                    entry.value.encode(),
                    {"message-type": entry.message_type, "message-id": entry.id},
                )
                sent.append(entry.id)
            seen[_memo(store, item)] = item.version
            store.published(item.aggregate_id, item.version)
    finally:
        await store.mark_sent(sent)
    return len(sent), left


def _memo(store: AggregateStore[Any], item: Pending) -> tuple[str, str]:
    return (store.collection.name, item.aggregate_id)


def _ours_or_stale(store: AggregateStore[Any], item: Pending, takeover_before: datetime) -> bool:
    if store.wrote(item.aggregate_id, item.version) or item.updated_at is None:
        return True
    return item.updated_at <= takeover_before


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
        self._seen: dict[tuple[str, str], int] = {}
        self._loop = Periodic("outbox_relay", self.round, interval_s)
        self._lock = asyncio.Lock()
        self._next_sweep = 0.0
        self._next_housekeeping = time.monotonic() + housekeeping_interval_s

    def notify(self) -> None:
        self._loop.wake()

    async def publish_fresh(self) -> int:
        """Publishes what this process just committed, from memory; returns how many went out."""
        async with self._lock:
            sent = 0
            for store in self.stores:
                fresh = store.take_fresh()
                try:
                    published, _ = await publish_unsent(store, fresh, self.publish, self._seen, fresh=True)
                except BaseException:
                    store.return_fresh(fresh)
                    raise
                sent += published
            self.metrics.published.inc(sent)
            return sent

    async def flush(self) -> int:
        """Publishes every committed entry not yet marked sent; returns how many went out.

        Sets the backlog gauge to the entries still unpublished: those another replica wrote
        and has not had ``takeover_s`` to publish.
        """
        sent = await self.publish_fresh()
        async with self._lock:
            takeover_before = datetime.now(UTC) - timedelta(seconds=self.takeover_s)
            backlog = 0
            for store in self.stores:
                await store.delete_superseded()
                published, left = await publish_unsent(
                    store, await store.pending(), self.publish, self._seen, takeover_before
                )
                sent += published
                backlog += left
                self.metrics.published.inc(published)
            self.metrics.outbox_backlog.set(backlog)
        return sent

    async def housekeep(self) -> None:
        now = datetime.now(UTC)
        for store in self.stores:
            await store.housekeep(now)

    async def round(self) -> None:
        """Publishes what was just committed; every ``interval_s`` also sweeps for what others
        left, and every ``housekeeping_interval_s`` completes and prunes (kit/store.py)."""
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + self.interval_s
            await self.flush()
        else:
            await self.publish_fresh()
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
        try:
            await self.flush()
        except Exception as exc:
            log("outbox_final_flush_failed", error_class=type(exc).__name__, level=logging.ERROR)
