"""Structured (JSON) logs that carry ids and reason codes, never personal data from payloads.

Only the envelope's identifiers are logged — never its payload, which holds names, phone
numbers, addresses and free text.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any

from contracts.envelope import Envelope

LOGGER = logging.getLogger("casemesh")
BROKER_LOGGER = logging.getLogger("casemesh.broker")
"""FastStream's own logs (connections, partition assignments), through the same JSON handler."""


REPEAT_WINDOW_S = 10.0
"""A warning or error repeated within this window is logged once, with a count of the rest."""


class RateLimit:
    """Lets one occurrence of each key through per window and counts the ones held back."""

    def __init__(
        self, window_s: float = REPEAT_WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window_s = window_s
        self.clock = clock
        self._last: dict[Hashable, float] = {}
        self._held: dict[Hashable, int] = {}

    def allow(self, key: Hashable) -> int | None:
        """None when held back; otherwise how many were held back since the last one let through."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.window_s:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        if len(self._last) > 10_000:
            self._last.clear()
            self._held.clear()
        self._last[key] = now
        return self._held.pop(key, 0)


class RepeatFilter(logging.Filter):
    """Rate-limits repeated warnings and errors of one logger (FastStream's own, say)."""

    def __init__(self, limit: RateLimit | None = None) -> None:
        super().__init__()
        self.limit = limit or RateLimit()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        # One kind of failure (the text before its first colon, e.g. an exception's class)
        # counts as one line, whatever detail follows.
        kind = str(record.msg).split(":", 1)[0][:100]
        held = self.limit.allow((record.name, record.levelno, kind))
        if held is None:
            return False
        if held:
            record.suppressed = held
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        suppressed = getattr(record, "suppressed", 0)
        return json.dumps(
            {
                "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
                "level": record.levelname.lower(),
                "event": record.getMessage(),
                **fields,
                **({"suppressed": suppressed} if suppressed else {}),
            },
            default=str,
        )


_LIMITS = RateLimit()


CLIENT_LOGGERS = ("aiokafka", "pymongo")
"""Client libraries whose DEBUG lines quote records and documents (aiokafka's ``Sending (key=…
value=…)``): never below INFO, whatever the root logger's level (issue 16: no payload in logs)."""


def configure(level: int = logging.INFO) -> None:
    for name in CLIENT_LOGGERS:
        client = logging.getLogger(name)
        if client.getEffectiveLevel() < logging.INFO:
            client.setLevel(logging.INFO)
    if not any(isinstance(f, RepeatFilter) for f in BROKER_LOGGER.filters):
        BROKER_LOGGER.addFilter(RepeatFilter())
    if any(isinstance(h.formatter, JsonFormatter) for h in LOGGER.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    LOGGER.addHandler(handler)
    LOGGER.setLevel(level)
    LOGGER.propagate = False


def log(event: str, *, envelope: Envelope | None = None, level: int = logging.INFO, **fields: Any) -> None:
    if not LOGGER.isEnabledFor(level):
        return
    if envelope is not None:
        fields = {
            "message_id": str(envelope.message_id),
            "message_type": envelope.message_type,
            "correlation_id": str(envelope.correlation_id),
            "csid": envelope.csid,
            **fields,
        }
    LOGGER.log(level, event, extra={"fields": fields})


def log_limited(event: str, *, key: Hashable = None, level: int = logging.WARNING, **fields: Any) -> None:
    """``log``, at most once per ``REPEAT_WINDOW_S`` for one ``(event, key)``; for failures that can
    repeat on every record or every retry."""
    held = _LIMITS.allow((event, key))
    if held is None:
        return
    if held:
        fields["suppressed"] = held
    log(event, level=level, **fields)
