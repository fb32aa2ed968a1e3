"""Feedback to the sender of a message that could not be processed (issue 19).

A service dead-letters a record it cannot read — not an envelope, an unknown type, an
unsupported schema version, a payload that violates its schema — to its own dead-letter topic,
for operators. It also announces it on ``casemesh.rejections.v1`` so the sender hears back:

* **key**: the ``producer`` named in the envelope (UTF-8), so an upstream team reads its own
  announcements by key; no key when the envelope could not be read;
* **value**: a :class:`MessageDeadLettered` as compact UTF-8 JSON — *not* wrapped in an
  envelope (the record may have had none); headers ``message-type: MessageDeadLettered`` and
  ``schema-version: 1``;
* nothing of the payload: coordinates, ids, the type and a value-free reason only.

A *business* refusal is different: it is a ``…Rejected`` event on the refusing service's events
topic, keyed by the CSID.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints

from contracts.base import Code, Event, MessageTypeName, Name, ShortText

#: A Kafka topic name (with a deployment's suffix, if any).
TopicName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,249}$", max_length=249)]

#: The reason codes a dead letter carries today (``ContractError.reason_code`` and the kit's own);
#: a string, not an enum, so a new code does not break readers of this topic.
KNOWN_REASON_CODES: tuple[str, ...] = (
    "malformed_envelope",
    "unknown_message_type",
    "unsupported_schema_version",
    "schema_violation",
    "empty",
    "too_large",
    "not_utf8",
    "too_deep",
    "too_many_digits",
    "number_out_of_range",
    "invalid_string",
    "not_json",
    "key_mismatch",
    "id_conflict",
    "handler_failed",
    "processing_failed",
)


class MessageDeadLettered(Event):
    """A record could not be processed and went to a dead-letter topic; its producer is told why."""

    original_topic: TopicName = Field(
        description="The topic the record was read from.", examples=["casemesh.referrals.commands.v1"]
    )
    original_partition: int = Field(ge=0, description="Its partition.", examples=[3])
    original_offset: int = Field(ge=0, description="Its offset in that partition.", examples=[1042])
    message_id: UUID | None = Field(
        default=None,
        description="The envelope's message_id; None when the envelope could not be read.",
        examples=["0b6f1c0e-4a51-4d8e-9a43-64f0a0b4a3b1"],
    )
    message_type: MessageTypeName | None = Field(
        default=None,
        description="The envelope's message_type; None when the envelope could not be read.",
        examples=["AssignCustomerToPS"],
    )
    producer: Name | None = Field(
        default=None,
        description="The envelope's producer (also the record key); None when it could not be read.",
        examples=["upstream"],
    )
    reason_code: Code = Field(
        description=(
            "Why: malformed_envelope, unknown_message_type, unsupported_schema_version, "
            "schema_violation, or another code the kit adds (read it as a string)."
        ),
        examples=["schema_violation"],
    )
    reason: ShortText = Field(
        description="Field locations and error kinds only — never the payload's values.",
        examples=["AssignCustomerToPS payload violates its schema: team: string_too_long"],
    )
    error_class: Code | None = Field(
        default=None, description="The error's class, for operators.", examples=["SchemaViolation"]
    )
    service: Name = Field(description="The service that could not process it.", examples=["referrals"])
    deadletter_topic: TopicName = Field(
        description="Where the original record now is (for operators).",
        examples=["casemesh.referrals.deadletter.v1"],
    )
    dead_lettered_at: AwareDatetime = Field(
        description="When it was dead-lettered.", examples=["2025-03-12T09:30:01Z"]
    )


MESSAGES: tuple[type[Event], ...] = (MessageDeadLettered,)
