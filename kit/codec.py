"""Bytes off the wire to an envelope and its message, or a precise reason why not (lane a).

Every limit is checked before the work it protects: the size before anything is read, the
nesting depth on the raw bytes before the JSON parser recurses, the length of each number
literal before it is converted, and string validity and datetime range before the models use
them. Whatever the bytes, ``decode`` returns or raises ``Malformed``; nothing else escapes.

Reasons name fields and error kinds, never input values, which may be personal data.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from pydantic import ValidationError

from contracts.envelope import Envelope, decode_payload
from contracts.errors import ContractError, sanitised_errors
from contracts.topics import Topic
from kit.errors import Malformed

DEFAULT_MAX_DIGITS = 64

# A JSON string (skipped whole, brackets inside it do not count), a bracket, or a quote that
# opens a string left unterminated (the rest of the input is inside it).
_STRUCTURE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]|"', re.DOTALL)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_OPEN = frozenset(b"[{")


def nesting_depth(value: Any) -> int:
    """Depth of nested arrays and objects of a parsed value, counted without recursion."""
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


def raw_depth(raw: bytes, limit: int) -> int:
    """Nesting depth of JSON text, from its brackets outside strings; stops once past ``limit``.

    Runs before parsing, so text nested far deeper than the parser's recursion limit is refused
    without being parsed. Unbalanced brackets are the parser's to report.
    """
    depth = deepest = 0
    for match in _STRUCTURE.finditer(raw):
        token = match.group()
        if len(token) == 1:
            if token == b'"':
                break
            if token[0] in _OPEN:
                depth += 1
                if depth > deepest:
                    deepest = depth
                    if deepest > limit:
                        break
            else:
                depth -= 1
    return deepest


def _number_parsers(max_digits: int) -> dict[str, Any]:
    def parse_int(literal: str) -> int:
        if len(literal) > max_digits:
            raise Malformed("too_many_digits", f"a number is longer than {max_digits} characters")
        return int(literal)

    def parse_float(literal: str) -> float:
        if len(literal) > max_digits:
            raise Malformed("too_many_digits", f"a number is longer than {max_digits} characters")
        value = float(literal)
        if not math.isfinite(value):
            raise Malformed("number_out_of_range", "a number is too large for a float")
        return value

    def parse_constant(name: str) -> float:
        raise Malformed("not_json", f"not JSON: {name} is not a JSON number")

    return {"parse_int": parse_int, "parse_float": parse_float, "parse_constant": parse_constant}


def _field(name: str) -> str:
    return name if _FIELD_NAME.fullmatch(name) else "?"


def lone_surrogate_at(document: Any) -> str | None:
    """Where the first string (key or value) holding a lone surrogate is, or None.

    A lone surrogate (``"\\ud800"``) is valid JSON but no valid text: it cannot be encoded, stored
    or logged. Locations name fields; a key that is not a plain name is shown as ``?``.
    """
    stack: list[tuple[Any, str]] = [(document, "<root>")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and not _encodable(item):
                return where
        elif isinstance(item, dict):
            for key, value in item.items():
                inner = _field(key) if where == "<root>" else f"{where}.{_field(key)}"
                if not _encodable(key):
                    return f"a key in {where}"
                stack.append((value, inner))
        elif isinstance(item, list):
            stack.extend((value, f"{where}[{index}]") for index, value in enumerate(item))
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_json(raw: bytes, *, max_depth: int, max_digits: int = DEFAULT_MAX_DIGITS) -> Any:
    """Valid UTF-8 JSON within the limits, parsed; raises ``Malformed`` otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Malformed("not_utf8", f"invalid UTF-8 at byte {exc.start}") from None
    if raw_depth(raw, max_depth) > max_depth:
        raise Malformed("too_deep", f"nesting is deeper than {max_depth}")
    try:
        document = json.loads(text, **_number_parsers(max_digits))
    except json.JSONDecodeError as exc:
        raise Malformed("not_json", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise Malformed("too_deep", f"nesting is deeper than {max_depth}") from None
    except ValueError:
        raise Malformed("not_json", "not JSON: a value cannot be converted") from None
    if _SURROGATE_ESCAPE.search(raw):
        where = lone_surrogate_at(document)
        if where is not None:
            raise Malformed("invalid_string", f"{where} holds a lone surrogate, which is not text")
    return document


def decode(
    raw: bytes | None,
    topic: Topic,
    *,
    max_bytes: int,
    max_depth: int,
    max_digits: int = DEFAULT_MAX_DIGITS,
) -> tuple[Envelope, Any]:
    """The envelope and its typed message; raises ``Malformed`` with a reason code otherwise."""
    if raw is None:
        raise Malformed("empty", "the message has no value")
    if len(raw) > max_bytes:
        raise Malformed("too_large", f"{len(raw)} bytes is over the {max_bytes}-byte cap")
    document = parse_json(raw, max_depth=max_depth, max_digits=max_digits)
    if not isinstance(document, dict):
        raise Malformed("malformed_envelope", "the message is not a JSON object")
    try:
        envelope = Envelope.model_validate(document)
    except ValidationError as exc:
        fields = ", ".join(f"{loc} ({kind})" for loc, kind in sanitised_errors(exc))
        raise Malformed("malformed_envelope", f"invalid envelope: {fields}") from None
    except (ValueError, TypeError, ArithmeticError, RecursionError) as exc:
        raise Malformed("malformed_envelope", f"invalid envelope: {type(exc).__name__}") from None
    try:
        message = decode_payload(envelope, topic)
    except ContractError as exc:
        raise Malformed(exc.reason_code, str(exc)) from None
    except (ValueError, TypeError, ArithmeticError, RecursionError) as exc:
        raise Malformed(
            "schema_violation", f"{envelope.message_type} payload is invalid: {type(exc).__name__}"
        ) from None
    return envelope, message


def check_key(key: bytes | None, envelope: Envelope) -> None:
    """The record key must be the envelope's CSID, byte for byte: the key picks the partition,
    and a customer's messages are ordered and owned per partition."""
    if key is None:
        raise Malformed("key_mismatch", "the record has no key; it must be the envelope's csid")
    if key != envelope.key():
        raise Malformed("key_mismatch", "the record key is not the envelope's csid")
