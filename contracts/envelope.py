"""The one envelope every Casemesh message travels in, and the two-step decode.

Wire format: the Kafka record *value* is the envelope as compact UTF-8 JSON; the record *key*
is the envelope's ``csid`` (UTF-8), so one customer's messages keep their order.

Decoding is deliberately two steps so the kit's error lanes can tell the failures apart:

1. :meth:`Envelope.from_bytes` — is this an envelope at all? (:class:`MalformedEnvelope`)
2. :func:`decode_payload` — is the type known on this topic (:class:`UnknownMessageType`), is the
   version supported (:class:`UnsupportedSchemaVersion`), does the payload fit
   (:class:`SchemaViolation`)?
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol
from uuid import UUID, uuid4

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic_core import to_json

from contracts.base import CSID, Message, Name
from contracts.errors import (
    MalformedEnvelope,
    SchemaViolation,
    UnknownMessageType,
    UnsupportedSchemaVersion,
    sanitised_errors,
)

IDENTITY_HEADER = "x-casemesh-identity"
"""Kafka record header carrying the sender's identity token: an officer's command needs one, a
JWT from the agency's identity provider whose subject and roles match the command's ``actor``
(refused ``UNAUTHENTICATED`` or ``ACTOR_MISMATCH`` otherwise). ASCII, the compact JWT form."""

MESSAGE_ID_EXAMPLE = "0b6f1c0e-4a51-4d8e-9a43-64f0a0b4a3b1"
#: Version of the envelope's own shape (snapshotted like a message type).
ENVELOPE_SCHEMA_VERSION = 1

_ISO_8601_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


class Envelope(BaseModel):
    """Metadata of one message plus its raw payload (decoded separately by :func:`decode_payload`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    message_id: UUID = Field(
        description="Unique id of this message; consumers use it to drop duplicates.",
        examples=[MESSAGE_ID_EXAMPLE],
    )
    message_type: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="The payload's message type, e.g. AssignCustomerToPS.", examples=["AssignCustomerToPS"]
    )
    schema_version: int = Field(
        ge=1, strict=True, description="The payload's schema version (a JSON integer).", examples=[1]
    )
    occurred_at: AwareDatetime = Field(
        description=(
            "When it happened or was requested — an ISO-8601 string with a UTC offset; normalised to UTC."
        ),
        examples=["2025-03-12T09:30:00Z"],
    )
    producer: Name = Field(description="The service or system that produced it.", examples=["referrals"])
    correlation_id: UUID = Field(
        description="Id shared by every message of one business flow (the first message's id).",
        examples=[MESSAGE_ID_EXAMPLE],
    )
    causation_id: UUID | None = Field(
        default=None,
        description="message_id of the message that caused this one; None for a flow's first message.",
        examples=["8f14e45f-ceea-467f-a0e6-1f4a3c2b9d10"],
    )
    csid: CSID = Field(
        description="The customer's Child Support Identifier — also the Kafka record key.",
        examples=["123456789"],
    )
    payload: dict[str, Any] = Field(
        description="The message itself, as JSON; see the per-type schemas.", examples=[{"referral_id": "…"}]
    )

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _iso_8601_only(cls, value: Any) -> Any:
        # On the wire only an ISO-8601 string; never an epoch number, nor a string of digits
        # (which pydantic would read as one).
        if isinstance(value, datetime):
            return value
        if isinstance(value, str) and _ISO_8601_DATE_TIME.match(value):
            return value
        raise ValueError("occurred_at must be an ISO-8601 date-time string")

    @field_validator("occurred_at", mode="after")
    @classmethod
    def _normalise_to_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:  # AwareDatetime already refuses these
            raise ValueError("occurred_at must be timezone-aware")
        try:
            return value.astimezone(UTC)
        except OverflowError:
            # e.g. 9999-12-31T23:59:59-14:00 is past the last representable instant once in UTC.
            raise ValueError("occurred_at is out of range once converted to UTC") from None

    # ---------------------------------------------------------------- construction

    @classmethod
    def wrap(
        cls,
        message: Message,
        *,
        csid: str,
        producer: str,
        occurred_at: datetime,
        message_id: UUID | None = None,
        correlation_id: UUID | None = None,
        causation_id: UUID | None = None,
    ) -> Envelope:
        """Put ``message`` in a new envelope. A new flow's correlation id is its own message id."""
        mid = message_id or uuid4()
        return cls(
            message_id=mid,
            message_type=message.MESSAGE_TYPE,
            schema_version=message.SCHEMA_VERSION,
            occurred_at=occurred_at,
            producer=producer,
            correlation_id=correlation_id or mid,
            causation_id=causation_id,
            csid=csid,
            payload=message.model_dump(mode="json"),
        )

    @classmethod
    def caused_by(
        cls,
        parent: Envelope,
        message: Message,
        *,
        producer: str,
        occurred_at: datetime,
        csid: str | None = None,
        message_id: UUID | None = None,
    ) -> Envelope:
        """An envelope for a message caused by ``parent``: same flow, ``causation_id`` = parent's id.

        ``csid`` defaults to the parent's; pass another one only when the effect concerns another
        customer (e.g. locking the other parent, seed 001 table 2 step 8).
        """
        return cls.wrap(
            message,
            csid=csid or parent.csid,
            producer=producer,
            occurred_at=occurred_at,
            message_id=message_id,
            correlation_id=parent.correlation_id,
            causation_id=parent.message_id,
        )

    # ---------------------------------------------------------------- wire format

    def to_bytes(self) -> bytes:
        """Compact UTF-8 JSON (the Kafka record value)."""
        return self.model_dump_json().encode("utf-8")

    def key(self) -> bytes:
        """The Kafka record key: the CSID."""
        return self.csid.encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Envelope:
        """Parse a record value. Raises :class:`~contracts.errors.MalformedEnvelope` (value-free text).

        Size and nesting caps are the consumer's job and come before this call.
        """
        raw = bytes(data)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedEnvelope("not UTF-8") from None
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            errors = sanitised_errors(exc)
            if any(kind in ("json_invalid", "json_type") for _, kind in errors):
                raise MalformedEnvelope("not JSON", errors) from None
            listed = "; ".join(f"{loc}: {kind}" for loc, kind in errors[:20])
            raise MalformedEnvelope(f"not a valid envelope: {listed}", errors) from None


class MessageLookup(Protocol):
    """Anything that maps a message type to its model — a :class:`~contracts.topics.Topic` qualifies."""

    def message_class(self, message_type: str) -> type[Message]: ...


Registry = MessageLookup | Mapping[str, type[Message]]


def _lookup(registry: Registry, message_type: str) -> type[Message]:
    if isinstance(registry, Mapping):
        try:
            return registry[message_type]
        except KeyError:
            raise UnknownMessageType(message_type, "the registry") from None
    return registry.message_class(message_type)


def decode_payload(envelope: Envelope, registry: Registry) -> Message:
    """Validate ``envelope.payload`` as the model its ``message_type`` names in ``registry``.

    ``registry`` is a :class:`~contracts.topics.Topic` (``contracts.topics.TOPICS[name]``) or a
    mapping ``message_type → model``. Raises :class:`UnknownMessageType`, :class:`UnsupportedSchemaVersion`
    or :class:`SchemaViolation` (whose text lists field locations and error types, never values).

    Validation runs in JSON mode on the re-serialised payload: commands are strict there (an
    ISO string is a datetime/UUID/date, an enum value is accepted, but ``"5"`` is not an int),
    events are lax and ignore unknown fields.
    """
    cls = _lookup(registry, envelope.message_type)
    payload: dict[str, Any] | None = envelope.payload
    if envelope.schema_version != cls.SCHEMA_VERSION:
        # A raised version means an incompatible change. A newer one than this code knows is
        # unreadable; an older one only if the model says how to upgrade it.
        if envelope.schema_version < cls.SCHEMA_VERSION:
            payload = cls.upgrade_payload(envelope.schema_version, dict(envelope.payload))
        else:
            payload = None
        if payload is None:
            raise UnsupportedSchemaVersion(cls.MESSAGE_TYPE, envelope.schema_version, cls.SCHEMA_VERSION)
    try:
        return cls.model_validate_json(to_json(payload))
    except ValidationError as exc:
        # `from None`: the ValidationError's text quotes input values (personal data).
        raise SchemaViolation.from_validation_error(cls.MESSAGE_TYPE, exc) from None
