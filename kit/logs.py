"""Structured (JSON) logs that carry ids and reason codes, never personal data from payloads.

Only the envelope's identifiers are logged — never its payload, which holds names, phone
numbers, addresses and free text.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from contracts.envelope import Envelope

LOGGER = logging.getLogger("casemesh")
BROKER_LOGGER = logging.getLogger("casemesh.broker")
"""FastStream's own logs (connections, partition assignments), through the same JSON handler."""


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        return json.dumps(
            {
                "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
                "level": record.levelname.lower(),
                "event": record.getMessage(),
                **fields,
            },
            default=str,
        )


def configure(level: int = logging.INFO) -> None:
    if any(isinstance(h.formatter, JsonFormatter) for h in LOGGER.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    LOGGER.addHandler(handler)
    LOGGER.setLevel(level)
    LOGGER.propagate = False


def log(event: str, *, envelope: Envelope | None = None, level: int = logging.INFO, **fields: Any) -> None:
    if envelope is not None:
        fields = {
            "message_id": str(envelope.message_id),
            "message_type": envelope.message_type,
            "correlation_id": str(envelope.correlation_id),
            "csid": envelope.csid,
            **fields,
        }
    LOGGER.log(level, event, extra={"fields": fields})
