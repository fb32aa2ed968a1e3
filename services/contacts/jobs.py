"""Background work of the contacts service: checking quarantined attachments (issue 7)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from kit.logs import log
from kit.processing import Clock, Outcome
from services.contacts.handlers import ContactsHandlers
from services.contacts.store import ContactsStore


class QuarantineChecker:
    """Checks every quarantined attachment, woken after each upload and on a timer (which also
    retries those whose stored copy could not be read)."""

    def __init__(
        self,
        store: ContactsStore,
        handlers: ContactsHandlers,
        clock: Clock,
        interval_s: float,
        on_change: Callable[[], None],
    ) -> None:
        self.store = store
        self.handlers = handlers
        self.clock = clock
        self.interval_s = interval_s
        self.on_change = on_change
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def check_once(self) -> int:
        changed = 0
        for attachment in await self.store.quarantined():
            outcome = await self.handlers.check_quarantined(attachment, self.clock())
            if outcome is Outcome.APPLIED:
                changed += 1
        if changed:
            self.on_change()
        return changed

    async def run(self) -> None:
        while True:
            try:
                await self.check_once()
            except Exception as exc:  # the store may be away: try again on the next round
                log("quarantine_check_failed", error_class=type(exc).__name__, level=logging.WARNING)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval_s)
            except TimeoutError:
                pass
            self._wake.clear()
