"""The sender hears back: every dead letter is announced on ``casemesh.rejections.v1``.

The announcement (``contracts.catalogue.rejections.MessageDeadLettered``) carries the dead
letter's coordinates and reason, and what could be read of the original envelope: its message
id, type and producer, each only if valid on its own. It is keyed by that producer, so an
upstream team reads its own key, and it holds nothing of the payload.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter, ValidationError

from contracts.base import MessageTypeName, Name
from contracts.catalogue.rejections import MessageDeadLettered
from contracts.errors import known_message_types
from kit.codec import parse_json
from kit.errors import Malformed
from kit.processing import DeadLetter

_NAME: TypeAdapter[str] = TypeAdapter(Name)
_TYPE: TypeAdapter[str] = TypeAdapter(MessageTypeName)
_ID: TypeAdapter[UUID] = TypeAdapter(UUID)


def envelope_identity(raw: bytes | None, *, max_bytes: int, max_depth: int) -> dict[str, Any]:
    """The envelope's message id, type and producer, those that are readable and valid."""
    if raw is None or len(raw) > max_bytes:
        return {}
    try:
        document = parse_json(raw, max_depth=max_depth)
    except Malformed:
        return {}
    if not isinstance(document, dict):
        return {}
    found: dict[str, Any] = {}
    for field, adapter in (("message_id", _ID), ("message_type", _TYPE), ("producer", _NAME)):
        with contextlib.suppress(ValidationError, TypeError, ValueError):
            found[field] = adapter.validate_python(document.get(field), strict=field != "message_id")
    if found.get("message_type") not in known_message_types():
        # A type outside the catalogue is the producer's text: it may be personal data.
        found.pop("message_type", None)
    return found


def announcement(
    letter: DeadLetter,
    *,
    service: str,
    deadletter_topic: str,
    now: datetime,
    max_bytes: int,
    max_depth: int,
) -> tuple[bytes | None, bytes, dict[str, str]]:
    """The announcement's key, value and headers for ``letter`` (read from the letter, whose value
    is the original record's when it fit)."""
    identity = envelope_identity(letter.value, max_bytes=max_bytes, max_depth=max_depth)
    message = MessageDeadLettered(
        original_topic=letter.headers["x-original-topic"],
        original_partition=int(letter.headers["x-original-partition"]),
        original_offset=int(letter.headers["x-original-offset"]),
        reason_code=letter.reason_code[:64] or "unknown",
        reason=(letter.headers.get("x-reason") or letter.reason_code)[:500],
        error_class=letter.headers.get("x-error-class", "")[:64] or None,
        service=service,
        deadletter_topic=deadletter_topic,
        dead_lettered_at=now,
        **identity,
    )
    producer = identity.get("producer")
    value = json.dumps(message.model_dump(mode="json"), separators=(",", ":")).encode()
    headers = {
        "message-type": MessageDeadLettered.MESSAGE_TYPE,
        "schema-version": str(message.SCHEMA_VERSION),
    }
    return (producer.encode() if producer else None), value, headers
