"""The relay: publishes outbox entries with the idempotent producer, then removes them.

It runs right after each save (woken by ``notify``) and on a timer, which also finds entries
left behind by a crash between the store write and the publish. It never writes the aggregate
(see kit/store.py): it marks what it sent, and the handler prunes. Publishing is at least once:
an entry published just before a crash is published again after it, under the same message
id, and consumers drop it as a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from kit.errors import is_infrastructure_error
from kit.logs import log
from kit.metrics import Metrics
from kit.store import AggregateStore, Pending

Publish = Callable[[str, bytes, bytes, dict[str, str]], Awaitable[None]]


SEEN_LIMIT = 100_000


async def publish_unsent(
    store: AggregateStore[Any],
    pending: list[Pending],
    publish: Publish,
    seen: dict[tuple[str, str], int],
    takeover_before: datetime | None = None,
) -> int:
    """Publishes the entries not yet marked sent, then marks them (never writing the aggregate).

    ``seen`` remembers aggregates whose entries were all sent at a version, so an aggregate
    waiting for its handler to prune a sent outbox is not looked at again. With
    ``takeover_before``, an aggregate another process wrote is left to that process's relay until
    its last write is older than that: replicas do not all publish each fresh event, yet an event
    a crashed replica left behind is still published.
    """
    if len(seen) > SEEN_LIMIT:
        seen.clear()
    count = 0
    for item in pending:
        memo = (store.collection.name, item.aggregate_id)
        if seen.get(memo) == item.version:
            continue
        if takeover_before is not None and not _ours_or_stale(store, item, takeover_before):
            continue
        already = await store.sent_ids([e.id for e in item.entries])
        unsent = [e for e in item.entries if e.id not in already]
        for entry in unsent:
            await publish(
                entry.topic,
                entry.key.encode(),
                entry.value.encode(),
                {"message-type": entry.message_type, "message-id": entry.id},
            )
        await store.mark_sent([e.id for e in unsent])
        seen[memo] = item.version
        if (
            takeover_before is not None
            and store.written.get(item.aggregate_id, item.version + 1) <= item.version
        ):
            del store.written[item.aggregate_id]
        count += len(unsent)
    return count


def _ours_or_stale(store: AggregateStore[Any], item: Pending, takeover_before: datetime) -> bool:
    if store.written.get(item.aggregate_id, -1) >= item.version or item.updated_at is None:
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
    ) -> None:
        self.stores = list(stores)
        self.publish = publish
        self.metrics = metrics
        self.interval_s = interval_s
        self.takeover_s = takeover_s
        self._wake = asyncio.Event()
        self._seen: dict[tuple[str, str], int] = {}
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        self._wake.set()

    async def flush(self) -> int:
        """Publishes every outbox entry not yet marked sent; returns how many went out."""
        sent = 0
        takeover_before = datetime.now(UTC) - timedelta(seconds=self.takeover_s)
        for store in self.stores:
            sent += await publish_unsent(
                store, await store.pending(), self.publish, self._seen, takeover_before
            )
        backlog = 0
        for store in self.stores:
            backlog += await store.backlog()
        self.metrics.outbox_backlog.set(backlog)
        self.metrics.published.inc(sent)
        return sent

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval_s)
            self._wake.clear()
            try:
                await self.flush()
            except Exception as exc:
                level = logging.INFO if is_infrastructure_error(exc) else logging.ERROR
                log("outbox_relay_failed", error_class=type(exc).__name__, level=level)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.flush()
