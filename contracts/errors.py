"""Errors raised while reading a message off the wire.

Every error is a :class:`ContractError` with a machine-readable ``reason_code``
that the kit copies into the dead-letter headers. The texts never contain the
input values — a payload can hold personal data (names, phone numbers,
addresses, free text) and these texts end up in logs and headers.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from functools import cache
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

UNNAMED = "?"
"""Stands in a location for a key the producer chose (an unknown field, a map's key): it may be
personal data, so it is never echoed."""


class ContractError(Exception):
    """Base class: the message does not fit the contract (a malformed-input lane error)."""

    reason_code: ClassVar[str] = "contract_error"


class MalformedEnvelope(ContractError, ValueError):
    """The bytes are not UTF-8, not JSON, or not a valid envelope."""

    reason_code: ClassVar[str] = "malformed_envelope"

    def __init__(self, detail: str, locations: Sequence[tuple[str, str]] = ()) -> None:
        self.detail = detail
        self.locations: tuple[tuple[str, str], ...] = tuple(locations)
        super().__init__(detail)


class UnknownMessageType(ContractError, LookupError):
    """The envelope names a message type that the topic (or registry) does not carry."""

    reason_code: ClassVar[str] = "unknown_message_type"

    def __init__(self, message_type: str, where: str) -> None:
        self.message_type = message_type
        self.where = where
        # Echoed only when it is a type of the catalogue (on the wrong topic): anything else is the
        # producer's text, which may be personal data.
        if message_type in known_message_types():
            super().__init__(f"unknown message type {message_type!r} for {where}")
        else:
            super().__init__(f"unknown message type for {where}: not one of the catalogue's")


class UnsupportedSchemaVersion(ContractError):
    """The envelope's schema version is not the one this code was built with."""

    reason_code: ClassVar[str] = "unsupported_schema_version"

    def __init__(self, message_type: str, received: int, supported: int) -> None:
        self.message_type = message_type
        self.received = received
        self.supported = supported
        super().__init__(
            f"{message_type} schema version {received} is not supported (this consumer reads v{supported})"
        )


class SchemaViolation(ContractError, ValueError):
    """The payload does not validate against its message model.

    ``errors`` holds ``(location, error type)`` pairs such as
    ``("actor.surname", "extra_forbidden")``; the text lists the same pairs and
    never the offending values.
    """

    reason_code: ClassVar[str] = "schema_violation"

    def __init__(self, message_type: str, errors: Sequence[tuple[str, str]]) -> None:
        self.message_type = message_type
        self.errors: tuple[tuple[str, str], ...] = tuple(errors)
        listed = "; ".join(f"{loc}: {kind}" for loc, kind in self.errors[:20])
        more = f" (+{len(self.errors) - 20} more)" if len(self.errors) > 20 else ""
        super().__init__(f"{message_type} payload violates its schema: {listed}{more}")

    @classmethod
    def from_validation_error(cls, message_type: str, exc: ValidationError) -> SchemaViolation:
        return cls(message_type, sanitised_errors(exc))


def sanitised_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """``(dotted location, error type)`` for each error — no input values, no messages.

    Pydantic's messages are mostly value-free, but a few quote the input, so only
    the error *type* is kept.
    """
    out: list[tuple[str, str]] = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        loc = ".".join(named_part(part) for part in err["loc"]) or "<root>"
        out.append((loc[:200], err["type"]))
    return out


def named_part(part: Any) -> str:
    """One step of an error's location as it may be shown: an index, a field of the catalogue,
    or :data:`UNNAMED`."""
    if isinstance(part, int):
        return str(part)
    text = str(part)
    return text if text in known_field_names() else UNNAMED


@cache
def known_field_names() -> frozenset[str]:
    """Every field name (and alias) of the envelope and of every message in the catalogue,
    nested models included, plus the tags pydantic puts in locations."""
    from contracts.envelope import Envelope
    from contracts.topics import TOPICS

    names: set[str] = set()
    seen: set[type[BaseModel]] = set()
    stack: list[Any] = [Envelope, *(cls for topic in TOPICS.values() for cls in topic.messages)]
    while stack:
        annotation = stack.pop()
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation in seen:
                continue
            seen.add(annotation)
            names.add(annotation.__name__)
            for name, info in annotation.model_fields.items():
                names.update(n for n in (name, info.alias) if n)
                stack.append(info.annotation)
        else:
            stack.extend(typing.get_args(annotation))
    return frozenset(names | _PYDANTIC_TAGS)


_PYDANTIC_TAGS = frozenset(
    {
        "str",
        "int",
        "float",
        "bool",
        "list",
        "dict",
        "none",
        "uuid",
        "datetime",
        "date",
        "time",
        "[key]",
        "function-after",
        "function-before",
        "function-wrap",
        "function-plain",
        "literal",
    }
)


@cache
def known_message_types() -> frozenset[str]:
    from contracts.topics import TOPICS

    return frozenset(cls.MESSAGE_TYPE for topic in TOPICS.values() for cls in topic.messages)
