"""The one shape of every background loop: run a job, then wait for the interval or a wake-up.

A failing round is logged (at INFO when the store or broker is away, which the next round
retries; at ERROR otherwise, rate-limited) and never ends the loop. ``stop`` cancels it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from kit.errors import is_infrastructure_error
from kit.logs import log_limited


class Periodic:
    def __init__(self, name: str, job: Callable[[], Awaitable[object]], interval_s: float) -> None:
        self.name = name
        self.job = job
        self.interval_s = interval_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Runs the next round now instead of at the end of the interval."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self.job()
            except Exception as exc:
                away = is_infrastructure_error(exc)
                log_limited(
                    f"{self.name}_failed",
                    key=type(exc).__name__,
                    error_class=type(exc).__name__,
                    level=logging.INFO if away else logging.ERROR,
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval_s)
            self._wake.clear()

    def is_current(self) -> bool:
        """Whether the caller runs inside this loop's job."""
        return self._task is not None and asyncio.current_task() is self._task

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
