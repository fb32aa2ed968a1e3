from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from helpers_contracts import CSID, NOW, example
from pydantic import ValidationError

from contracts.catalogue.approvals import RequestApproval
from contracts.catalogue.referrals import AssignCustomerToPS, CustomerAssignedToPS
from contracts.envelope import Envelope
from contracts.errors import ContractError, MalformedEnvelope


def _envelope(**overrides: Any) -> Envelope:
    kwargs: dict[str, Any] = {"csid": CSID, "producer": "upstream", "occurred_at": NOW, **overrides}
    return Envelope.wrap(example(AssignCustomerToPS), **kwargs)


def test_an_envelope_survives_a_round_trip_through_bytes() -> None:
    envelope = _envelope()
    again = Envelope.from_bytes(envelope.to_bytes())
    assert again == envelope
    assert again.payload == example(AssignCustomerToPS).model_dump(mode="json")


def test_the_wire_format_is_compact_utf8_json() -> None:
    data = _envelope().to_bytes()
    assert b"\n" not in data and b", " not in data and b": " not in data
    assert json.loads(data.decode("utf-8"))["csid"] == CSID


def test_the_kafka_key_is_the_csid() -> None:
    assert _envelope().key() == CSID.encode()


def test_occurred_at_is_normalised_to_utc() -> None:
    hobart = timezone(timedelta(hours=11))
    envelope = _envelope(occurred_at=datetime(2025, 3, 12, 20, 30, tzinfo=hobart))
    assert envelope.occurred_at.utcoffset() == timedelta(0)
    assert envelope.occurred_at == NOW
    assert (envelope.occurred_at.hour, envelope.occurred_at.minute) == (9, 30)
    assert Envelope.from_bytes(envelope.to_bytes()).occurred_at.isoformat().endswith("+00:00")


def test_an_offset_timestamp_on_the_wire_is_normalised_to_utc() -> None:
    raw = json.loads(_envelope().to_bytes())
    raw["occurred_at"] = "2025-03-12T20:30:00+11:00"
    envelope = Envelope.from_bytes(json.dumps(raw).encode())
    assert envelope.occurred_at == NOW and envelope.occurred_at.tzinfo is not None
    assert envelope.occurred_at.utcoffset() == timedelta(0)


def test_a_naive_occurred_at_is_refused() -> None:
    with pytest.raises(ValidationError):
        _envelope(occurred_at=datetime(2025, 3, 12, 9, 30))
    raw = json.loads(_envelope().to_bytes())
    raw["occurred_at"] = "2025-03-12T09:30:00"
    with pytest.raises(MalformedEnvelope):
        Envelope.from_bytes(json.dumps(raw).encode())


def test_wrap_mints_a_message_id_and_starts_a_new_flow() -> None:
    envelope = _envelope()
    assert isinstance(envelope.message_id, UUID)
    assert envelope.correlation_id == envelope.message_id
    assert envelope.causation_id is None
    assert envelope.message_type == "AssignCustomerToPS"
    assert envelope.schema_version == AssignCustomerToPS.SCHEMA_VERSION


def test_wrap_keeps_given_ids() -> None:
    mid, cid, cause = uuid4(), uuid4(), uuid4()
    envelope = _envelope(message_id=mid, correlation_id=cid, causation_id=cause)
    assert (envelope.message_id, envelope.correlation_id, envelope.causation_id) == (mid, cid, cause)


def test_caused_by_continues_the_flow_of_its_parent() -> None:
    parent = _envelope()
    child = Envelope.caused_by(parent, example(CustomerAssignedToPS), producer="referrals", occurred_at=NOW)
    assert child.csid == parent.csid
    assert child.correlation_id == parent.correlation_id
    assert child.causation_id == parent.message_id
    assert child.message_id != parent.message_id
    grandchild = Envelope.caused_by(child, example(RequestApproval), producer="referrals", occurred_at=NOW)
    assert grandchild.correlation_id == parent.message_id
    assert grandchild.causation_id == child.message_id


def test_caused_by_may_address_another_customer_in_the_same_flow() -> None:
    parent = _envelope()
    child = Envelope.caused_by(
        parent, example(RequestApproval), producer="referrals", occurred_at=NOW, csid="987654321"
    )
    assert child.csid == "987654321" and child.correlation_id == parent.correlation_id


def test_a_bad_csid_is_refused() -> None:
    for bad in ("12345", "1234567890123", "12345678a", ""):
        with pytest.raises(ValidationError):
            Envelope.wrap(example(AssignCustomerToPS), csid=bad, producer="upstream", occurred_at=NOW)


def test_an_envelope_ignores_unknown_top_level_fields() -> None:
    raw = json.loads(_envelope().to_bytes())
    raw["trace_flags"] = "01"
    assert Envelope.from_bytes(json.dumps(raw).encode()).message_type == "AssignCustomerToPS"


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"\xff\xfe not utf-8", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"[1, 2, 3]", "not a valid envelope"),
        (b'{"message_type": "X"}', "not a valid envelope"),
    ],
)
def test_bytes_that_are_not_an_envelope_raise_a_contract_error(data: bytes, detail: str) -> None:
    with pytest.raises(MalformedEnvelope) as caught:
        Envelope.from_bytes(data)
    assert isinstance(caught.value, ContractError)
    assert caught.value.reason_code == "malformed_envelope"
    assert str(caught.value).startswith(detail)


def test_a_malformed_envelope_error_does_not_quote_the_input() -> None:
    raw = json.loads(_envelope().to_bytes())
    raw["csid"] = "Jordan 0412"
    with pytest.raises(MalformedEnvelope) as caught:
        Envelope.from_bytes(json.dumps(raw).encode())
    assert "Jordan" not in str(caught.value) and "0412" not in str(caught.value)
    assert ("csid", "string_pattern_mismatch") in caught.value.locations
