"""A receipt notifications cannot read is answered to the channel that sent it (issue 18).

The kit dead-letters a record it cannot read (not JSON, not an envelope, an unknown type, a
payload that breaks its schema — an unknown ``status``, say — or a key that is not its CSID) and
announces it on ``casemesh.rejections.v1``, which channels do not read. For a record from the
receipts topic notifications also answers on ``casemesh.notifications.channel-errors.v1`` with a
:class:`~contracts.catalogue.channels.ReceiptDeadLettered`: the record's coordinates, whatever ids
could be read (message id, type, producer, delivery id, attempt, channel), the reason code and the
fields at fault — never a value. The record is keyed by the producer the receipt's envelope named
(no key when it could not be read), the value is bare JSON, like an announcement.

Pure: the answer is built from the dead letter alone; anything that cannot be read is left out.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter, ValidationError

from contracts.catalogue.channels import Channel, FieldProblem, PhoneTaskOutcomeReported, ReceiptDeadLettered
from contracts.envelope import Envelope, decode_payload
from contracts.errors import SchemaViolation, sanitised_errors
from contracts.topics import CHANNEL_ERRORS_TOPIC, RECEIPTS_TOPIC, TOPICS, DeadLetterHeader
from kit.codec import parse_json
from kit.errors import Malformed
from kit.processing import DeadLetter
from kit.rejections import envelope_identity
from kit.runtime import DeadLetterAnswer
from kit.settings import ServiceSettings

MAX_PROBLEMS = 20

_ID: TypeAdapter[UUID] = TypeAdapter(UUID)
_ATTEMPT: TypeAdapter[int] = TypeAdapter(int)
_CHANNEL: TypeAdapter[Channel] = TypeAdapter(Channel)


def channel_error_answer(
    settings: ServiceSettings,
) -> Callable[[DeadLetter, datetime], DeadLetterAnswer | None]:
    """The kit's ``Wiring.answer_dead_letter`` for notifications: a dead letter from the receipts
    topic is answered on the channel-errors topic; any other is left alone."""
    receipts = settings.topic(RECEIPTS_TOPIC)
    channel_errors = settings.topic(CHANNEL_ERRORS_TOPIC)
    limits = {"max_bytes": settings.max_message_bytes, "max_depth": settings.max_nesting_depth}

    def answer(letter: DeadLetter, now: datetime) -> DeadLetterAnswer | None:
        if letter.headers.get(DeadLetterHeader.ORIGINAL_TOPIC) != receipts:
            return None
        try:
            message = receipt_dead_lettered(letter, now, **limits)
        except (ValidationError, KeyError, ValueError):
            return None  # coordinates the kit always writes are missing: nothing to answer with
        value = json.dumps(message.model_dump(mode="json"), separators=(",", ":")).encode()
        headers = {"message-type": message.MESSAGE_TYPE, "schema-version": str(message.SCHEMA_VERSION)}
        key = message.producer.encode() if message.producer else None
        return channel_errors, key, value, headers

    return answer


def receipt_dead_lettered(
    letter: DeadLetter, now: datetime, *, max_bytes: int, max_depth: int
) -> ReceiptDeadLettered:
    """What the channel is told about its dead-lettered receipt."""
    h = letter.headers
    raw = letter.value or None
    identity = envelope_identity(raw, max_bytes=max_bytes, max_depth=max_depth)
    document = _document(raw, max_bytes=max_bytes, max_depth=max_depth)
    return ReceiptDeadLettered(
        original_topic=h[DeadLetterHeader.ORIGINAL_TOPIC],
        original_partition=int(h[DeadLetterHeader.ORIGINAL_PARTITION]),
        original_offset=int(h[DeadLetterHeader.ORIGINAL_OFFSET]),
        reason_code=letter.reason_code[:64] or "unknown",
        reason=(h.get(DeadLetterHeader.REASON) or letter.reason_code)[:500] or "unknown",
        problems=tuple(FieldProblem(field=f, error=e) for f, e in problems_in(document)[:MAX_PROBLEMS]),
        dead_lettered_at=now,
        **identity,
        **_receipt_ids(document, identity.get("message_type")),
    )


def _document(raw: bytes | None, *, max_bytes: int, max_depth: int) -> dict[str, Any] | None:
    if raw is None or len(raw) > max_bytes:
        return None
    try:
        document = parse_json(raw, max_depth=max_depth)
    except Malformed:
        return None
    return document if isinstance(document, dict) else None


def _receipt_ids(document: dict[str, Any] | None, message_type: str | None) -> dict[str, Any]:
    """The payload's delivery id, attempt and channel, each only if valid on its own."""
    payload = document.get("payload") if document is not None else None
    found: dict[str, Any] = {}
    if message_type == PhoneTaskOutcomeReported.MESSAGE_TYPE:
        found["channel"] = Channel.PHONE
    if not isinstance(payload, dict):
        return found
    with contextlib.suppress(ValidationError, TypeError, ValueError):
        found["delivery_id"] = _ID.validate_python(payload.get("delivery_id"))
    with contextlib.suppress(ValidationError, TypeError, ValueError):
        attempt = _ATTEMPT.validate_python(payload.get("attempt"), strict=True)
        if attempt >= 1:
            found["attempt"] = attempt
    with contextlib.suppress(ValidationError, TypeError, ValueError):
        found.setdefault("channel", _CHANNEL.validate_python(payload.get("channel")))
    return found


def problems_in(document: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The envelope's or the payload's fields at fault, as ``(location, error kind)`` (locations
    only name the catalogue's fields: kit-sanitised, no values)."""
    if document is None:
        return []
    try:
        envelope = Envelope.model_validate(document)
    except ValidationError as exc:
        return sanitised_errors(exc)
    try:
        decode_payload(envelope, TOPICS[RECEIPTS_TOPIC])
    except SchemaViolation as exc:
        return [(f"payload.{location}", kind) for location, kind in exc.errors]
    except Exception:  # an unknown type or version: the reason code says it, no field is at fault
        return []
    return []
