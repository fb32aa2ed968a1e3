"""The codec's limits, checked before the work they protect; whatever the bytes, only ``Malformed``."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.envelope import Envelope
from kit.codec import check_key, decode, parse_json, raw_depth
from kit.errors import Malformed
from tests.integration.kit.tally import COMMANDS, TOPICS, AddToTally
from tests.integration.kit.test_lanes import ACTOR

CSID = "123456789"
TOPIC = TOPICS[COMMANDS]
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def envelope() -> Envelope:
    return Envelope.wrap(AddToTally(actor=ACTOR, amount=1), csid=CSID, producer="t", occurred_at=NOW)


def document(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(envelope().to_bytes())
    doc.update(changes)
    return doc


def reason_of(raw: bytes, **limits: int) -> tuple[str, str]:
    with pytest.raises(Malformed) as caught:
        decode(raw, TOPIC, **{"max_bytes": 2 * 1024 * 1024, "max_depth": 32, **limits})
    return caught.value.reason_code, caught.value.reason


def nested(depth: int) -> bytes:
    return b'{"payload": ' + b"[" * depth + b"]" * depth + b"}"


def test_depth_is_measured_on_the_raw_bytes_and_brackets_inside_strings_do_not_count() -> None:
    assert raw_depth(b'{"a": [1, {"b": []}]}', 32) == 4
    assert raw_depth(b'{"a": "[[[[{{{{", "b": "\\"[[["}', 32) == 1
    assert raw_depth(b"42", 32) == 0


def test_the_depth_scan_stops_once_past_the_limit() -> None:
    assert raw_depth(b"[" * 1_000_000, 32) == 33


def test_an_unterminated_string_ends_the_depth_scan_and_is_left_to_the_parser() -> None:
    assert raw_depth(b'{"a": "[[[[[[[[', 3) == 1
    assert reason_of(b'{"a": "[[[[[[[[', max_depth=3)[0] == "not_json"


@pytest.mark.parametrize("depth", [1_000, 10_000, 100_000])
def test_a_payload_nested_far_too_deep_is_refused_before_parsing(depth: int) -> None:
    started = time.perf_counter()
    assert reason_of(nested(depth))[0] == "too_deep"
    assert time.perf_counter() - started < 0.5


def test_a_5000_digit_integer_is_refused_by_the_digit_cap_not_by_python() -> None:
    code, reason = reason_of(b'{"payload": {"amount": ' + b"9" * 5000 + b"}}")
    assert code == "too_many_digits"
    assert "9999" not in reason


def test_numbers_up_to_the_digit_cap_parse_and_one_more_digit_is_refused() -> None:
    assert parse_json(b"[" + b"1" * 64 + b"]", max_depth=4, max_digits=64) == [int("1" * 64)]
    with pytest.raises(Malformed, match="too_many_digits"):
        parse_json(b"[" + b"1" * 65 + b"]", max_depth=4, max_digits=64)
    with pytest.raises(Malformed, match="too_many_digits"):
        parse_json(b"[0." + b"1" * 70 + b"]", max_depth=4, max_digits=64)


def test_a_float_beyond_range_and_the_non_json_constants_are_refused() -> None:
    with pytest.raises(Malformed, match="number_out_of_range"):
        parse_json(b"[1e999]", max_depth=4)
    for constant in (b"NaN", b"Infinity", b"-Infinity"):
        with pytest.raises(Malformed, match="not_json"):
            parse_json(b"[" + constant + b"]", max_depth=4)


def test_a_lone_surrogate_in_a_value_is_refused_and_the_reason_names_its_field() -> None:
    raw = json.dumps(document(payload={"note": "\ud800"})).encode()
    code, reason = reason_of(raw)
    assert code == "invalid_string"
    assert "payload.note" in reason


def test_a_lone_surrogate_in_a_key_is_refused_without_echoing_the_key() -> None:
    code, reason = reason_of(b'{"payload": {"a\\udc00b": 1}}')
    assert code == "invalid_string"
    assert "a key in payload" in reason
    assert "a\udc00b" not in reason


def test_a_surrogate_pair_is_text_and_passes() -> None:
    assert parse_json(b'["\\ud83d\\ude00"]', max_depth=4) == ["\U0001f600"]


def test_an_occurred_at_that_overflows_once_in_utc_is_a_malformed_envelope() -> None:
    raw = json.dumps(document(occurred_at="9999-12-31T23:59:59-14:00")).encode()
    code, reason = reason_of(raw)
    assert (code, reason) == ("malformed_envelope", "invalid envelope: occurred_at (value_error)")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("schema_version", "1"),
        ("schema_version", 1.0),
        ("schema_version", True),
        ("occurred_at", 1_763_715_600),
        ("occurred_at", "1763715600"),
    ],
)
def test_the_envelope_is_strict_about_its_own_fields(field: str, value: Any) -> None:
    code, reason = reason_of(json.dumps(document(**{field: value})).encode())
    assert code == "malformed_envelope"
    assert reason.startswith(f"invalid envelope: {field} (")


def test_a_well_formed_envelope_still_decodes_with_its_occurred_at_in_utc() -> None:
    raw = json.dumps(document(occurred_at="2026-11-21T20:00:00+11:00")).encode()
    decoded, message = decode(raw, TOPIC, max_bytes=4096, max_depth=8)
    assert decoded.occurred_at == NOW
    assert message.amount == 1


@pytest.mark.parametrize("key", [None, b"987654321", b"not-a-csid\r\n", b"123456789 ", b""])
def test_a_record_key_other_than_the_envelopes_csid_is_a_key_mismatch(key: bytes | None) -> None:
    with pytest.raises(Malformed) as caught:
        check_key(key, envelope())
    assert caught.value.reason_code == "key_mismatch"
    assert "987654321" not in caught.value.reason


def test_the_csid_as_utf8_bytes_is_the_matching_key() -> None:
    check_key(CSID.encode(), envelope())


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_malformed_and_nothing_else(raw: bytes) -> None:
    with contextlib.suppress(Malformed):
        decode(raw, TOPIC, max_bytes=256, max_depth=8)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(document())), json_values, max_size=9), json_values)
def test_any_json_shaped_like_an_envelope_decodes_or_raises_malformed(
    fields: dict[str, Any], payload: Any
) -> None:
    raw = json.dumps({**document(), **fields, "payload": payload}).encode("utf-8", "surrogatepass")
    with contextlib.suppress(Malformed):
        decode(raw, TOPIC, max_bytes=64 * 1024, max_depth=8)
