"""Structured (JSON) logs that carry ids and reason codes, never personal data from payloads.

Only the envelope's identifiers are logged — never its payload, which holds names, phone
numbers, addresses and free text.

Every logger of the process writes JSON lines: the kit's own (``casemesh``, and FastStream's
broker logs through ``casemesh.broker``) on their handler, and every other one — aiokafka,
PyMongo, FastStream's application logger, uvicorn, anything else — through the root logger's,
whose repeated warnings and errors are rate-limited (``RepeatFilter``): a broker outage is a few
lines a window, not one per reconnection attempt. A library line carries its logger's name, its
message (the library's own text, never a record: aiokafka and PyMongo stay at INFO or above) and,
with an exception, only the exception's class: an exception's text or traceback may quote a value.
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
    """Rate-limits repeated warnings and errors of one logger (FastStream's own, say), or of every
    logger whose records reach the handler it is set on."""

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
        fields = getattr(record, "fields", None)
        suppressed = getattr(record, "suppressed", 0)
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        if fields is None:
            # Another library's record: which logger said it, never the exception's text.
            line["logger"] = record.name
            if record.exc_info and record.exc_info[0] is not None:
                line["error_class"] = record.exc_info[0].__name__
        else:
            line.update(fields)
        if suppressed:
            line["suppressed"] = suppressed
        return json.dumps(line, default=str)


_LIMITS = RateLimit()


CLIENT_LOGGERS = ("aiokafka", "pymongo")
"""Client libraries whose DEBUG lines quote records and documents (aiokafka's ``Sending (key=…
value=…)``): never below INFO, whatever the root logger's level (issue 16: no payload in logs)."""

LIBRARY_LOGGERS = (
    *CLIENT_LOGGERS,
    "faststream",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "uvicorn.asgi",
)
"""Loggers that may have been given a plain-text handler of their own (FastStream's application
logger at import, uvicorn's by its default configuration): theirs go to the root's JSON handler."""


def _json_handler(*filters: logging.Filter) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for f in filters:
        handler.addFilter(f)
    return handler


def _has_json(logger: logging.Logger) -> bool:
    return any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers)


def _plain_console(handler: logging.Handler) -> bool:
    """A library's own console handler (not a file, not a test's capture)."""
    return type(handler) is logging.StreamHandler and not isinstance(handler.formatter, JsonFormatter)


def configure(level: int = logging.INFO) -> None:
    for name in CLIENT_LOGGERS:
        client = logging.getLogger(name)
        if client.getEffectiveLevel() < logging.INFO:
            client.setLevel(logging.INFO)
    root = logging.getLogger()
    if not _has_json(root):
        root.addHandler(_json_handler(RepeatFilter()))
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        for handler in [h for h in library.handlers if _plain_console(h)]:
            library.removeHandler(handler)
        library.propagate = True
    if not any(isinstance(f, RepeatFilter) for f in BROKER_LOGGER.filters):
        BROKER_LOGGER.addFilter(RepeatFilter())
    if _has_json(LOGGER):
        return
    LOGGER.addHandler(_json_handler())
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
