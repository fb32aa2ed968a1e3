"""Bytes off the wire to an envelope and its message, or a precise reason why not (lane a)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from contracts.envelope import Envelope, decode_payload
from contracts.errors import ContractError, sanitised_errors
from contracts.topics import Topic
from kit.errors import Malformed


def nesting_depth(value: Any) -> int:
    """Depth of nested arrays and objects, counted without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item)
    return deepest


def decode(raw: bytes | None, topic: Topic, *, max_bytes: int, max_depth: int) -> tuple[Envelope, Any]:
    """The envelope and its typed message; raises ``Malformed`` with a reason code otherwise.

    The size cap is checked before anything is parsed; error texts name fields and error
    kinds but never input values, which may be personal data.
    """
    if raw is None:
        raise Malformed("empty", "the message has no value")
    if len(raw) > max_bytes:
        raise Malformed("too_large", f"{len(raw)} bytes is over the {max_bytes}-byte cap")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Malformed("not_utf8", f"invalid UTF-8 at byte {exc.start}") from None
    try:
        document = json.loads(text)
    except RecursionError:
        raise Malformed("too_deep", f"nesting is deeper than {max_depth}") from None
    except json.JSONDecodeError as exc:
        raise Malformed("not_json", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if nesting_depth(document) > max_depth:
        raise Malformed("too_deep", f"nesting is deeper than {max_depth}")
    if not isinstance(document, dict):
        raise Malformed("malformed_envelope", "the message is not a JSON object")
    try:
        envelope = Envelope.model_validate(document)
    except ValidationError as exc:
        fields = ", ".join(f"{loc} ({kind})" for loc, kind in sanitised_errors(exc))
        raise Malformed("malformed_envelope", f"invalid envelope: {fields}") from None
    try:
        message = decode_payload(envelope, topic)
    except ContractError as exc:
        raise Malformed(exc.reason_code, str(exc)) from None
    return envelope, message
