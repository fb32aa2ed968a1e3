from __future__ import annotations

import json
from typing import Any

import pytest
from helpers_contracts import CSID, NOW, example

from contracts.base import Command, Event
from contracts.catalogue import ALL_MESSAGES
from contracts.catalogue.complaints import RecordComplaint
from contracts.catalogue.customers import CustomerContactDetailsChanged
from contracts.catalogue.referrals import AssignCustomerToPS, CustomerAssignedToPS, RecordPaymentArrangement
from contracts.envelope import Envelope, decode_payload
from contracts.errors import ContractError, SchemaViolation, UnknownMessageType, UnsupportedSchemaVersion
from contracts.export import example_payload
from contracts.topics import TOPICS, commands_topic, events_topic, topic_of

REFERRALS_COMMANDS = TOPICS[commands_topic("referrals")]


def _raw(message_type: str, payload: dict[str, Any], schema_version: int = 1) -> Envelope:
    envelope = Envelope.wrap(example(AssignCustomerToPS), csid=CSID, producer="upstream", occurred_at=NOW)
    data = json.loads(envelope.to_bytes())
    data.update(message_type=message_type, payload=payload, schema_version=schema_version)
    return Envelope.from_bytes(json.dumps(data).encode())


def test_a_good_command_decodes_to_its_model() -> None:
    sent = example(AssignCustomerToPS)
    envelope = Envelope.wrap(sent, csid=CSID, producer="upstream", occurred_at=NOW)
    received = decode_payload(Envelope.from_bytes(envelope.to_bytes()), REFERRALS_COMMANDS)
    assert isinstance(received, AssignCustomerToPS)
    assert received == sent


def test_every_catalogue_example_decodes_from_its_own_topic() -> None:
    for cls in ALL_MESSAGES:
        envelope = Envelope.wrap(example(cls), csid=CSID, producer="test", occurred_at=NOW)
        decoded = decode_payload(Envelope.from_bytes(envelope.to_bytes()), topic_of(cls))
        assert type(decoded) is cls


def test_decode_accepts_a_topic_name_or_a_mapping() -> None:
    envelope = Envelope.wrap(example(AssignCustomerToPS), csid=CSID, producer="upstream", occurred_at=NOW)
    assert isinstance(decode_payload(envelope, TOPICS[commands_topic("referrals")]), AssignCustomerToPS)
    assert isinstance(
        decode_payload(envelope, {"AssignCustomerToPS": AssignCustomerToPS}), AssignCustomerToPS
    )


def test_an_unknown_message_type_is_told_apart() -> None:
    with pytest.raises(UnknownMessageType) as caught:
        decode_payload(_raw("DeleteEverything", {}), REFERRALS_COMMANDS)
    assert caught.value.reason_code == "unknown_message_type"
    assert isinstance(caught.value, ContractError)


def test_a_message_type_from_another_topic_is_unknown_here() -> None:
    envelope = Envelope.wrap(example(CustomerAssignedToPS), csid=CSID, producer="referrals", occurred_at=NOW)
    with pytest.raises(UnknownMessageType):
        decode_payload(envelope, REFERRALS_COMMANDS)
    with pytest.raises(UnknownMessageType):
        decode_payload(envelope, {})


def test_an_unsupported_schema_version_is_told_apart() -> None:
    payload = example_payload(AssignCustomerToPS)
    with pytest.raises(UnsupportedSchemaVersion) as caught:
        decode_payload(_raw("AssignCustomerToPS", payload, schema_version=2), REFERRALS_COMMANDS)
    assert caught.value.reason_code == "unsupported_schema_version"
    assert (caught.value.received, caught.value.supported) == (2, 1)


def test_a_schema_violation_lists_locations_and_error_types_but_no_values() -> None:
    payload = example_payload(AssignCustomerToPS)
    payload["team"] = "x" * 101  # too long
    payload["officer_id"] = 42  # wrong type
    payload["actor"] = {**payload["actor"], "surname": "Zyxwvutsrq", "extension": "ext 0499"}
    with pytest.raises(SchemaViolation) as caught:
        decode_payload(_raw("AssignCustomerToPS", payload), REFERRALS_COMMANDS)
    error = caught.value
    assert error.reason_code == "schema_violation"
    text = str(error)
    assert ("team", "string_too_long") in error.errors
    assert ("officer_id", "string_type") in error.errors
    assert ("actor.?", "extra_forbidden") in error.errors
    assert ("actor.extension", "string_pattern_mismatch") in error.errors
    for location, kind in error.errors:
        assert f"{location}: {kind}" in text
    for value in ("xxxxxxxxxx", "42", "Zyxwvutsrq", "0499"):
        assert value not in text
    assert (
        error.__cause__ is None and error.__suppress_context__
    )  # the pydantic error (with values) is dropped


def test_a_field_name_the_producer_chose_is_never_echoed_in_a_schema_violation() -> None:
    # Issue 16: a canary surname sent as a field *name* came back in the dead letter's x-reason.
    payload = example_payload(AssignCustomerToPS)
    payload["Zyxwvutsrq"] = "x"
    payload["actor"] = {**payload["actor"], "Qwertyuiop": 1}
    with pytest.raises(SchemaViolation) as caught:
        decode_payload(_raw("AssignCustomerToPS", payload), REFERRALS_COMMANDS)
    assert set(caught.value.errors) == {("?", "extra_forbidden"), ("actor.?", "extra_forbidden")}
    assert "Zyxwvutsrq" not in str(caught.value) and "Qwertyuiop" not in str(caught.value)


def test_a_message_type_outside_the_catalogue_is_never_echoed() -> None:
    payload = example_payload(AssignCustomerToPS)
    with pytest.raises(UnknownMessageType) as caught:
        decode_payload(_raw("Zyxwvutsrq", payload), REFERRALS_COMMANDS)
    assert "Zyxwvutsrq" not in str(caught.value)
    with pytest.raises(UnknownMessageType) as known:
        decode_payload(_raw("CustomerAssignedToPS", payload), REFERRALS_COMMANDS)
    assert "CustomerAssignedToPS" in str(known.value)


def test_a_command_refuses_a_string_for_a_number() -> None:
    payload = {**example_payload(RecordPaymentArrangement), "amount_cents": "5"}
    with pytest.raises(SchemaViolation) as caught:
        decode_payload(_raw("RecordPaymentArrangement", payload), REFERRALS_COMMANDS)
    assert ("amount_cents", "int_type") in caught.value.errors


@pytest.mark.parametrize(
    ("field", "value"),
    [("amount_cents", 12.5), ("amount_cents", True), ("amount_cents", "12500"), ("start_date", 20250401)],
)
def test_a_command_coerces_nothing(field: str, value: Any) -> None:
    payload = {**example_payload(RecordPaymentArrangement), field: value}
    with pytest.raises(SchemaViolation):
        decode_payload(_raw("RecordPaymentArrangement", payload), REFERRALS_COMMANDS)


def test_a_command_accepts_iso_strings_for_uuids_dates_and_enums() -> None:
    decoded = decode_payload(
        _raw("RecordPaymentArrangement", example_payload(RecordPaymentArrangement)), REFERRALS_COMMANDS
    )
    assert isinstance(decoded, RecordPaymentArrangement)
    assert decoded.start_date.isoformat() == "2025-04-01"


def test_every_command_refuses_an_unknown_field() -> None:
    for cls in ALL_MESSAGES:
        if issubclass(cls, Command):
            payload = {**example_payload(cls), "unexpected": "x"}
            with pytest.raises(SchemaViolation) as caught:
                decode_payload(_raw(cls.MESSAGE_TYPE, payload), topic_of(cls))
            assert ("?", "extra_forbidden") in caught.value.errors, cls.MESSAGE_TYPE


def test_every_event_tolerates_an_unknown_field() -> None:
    for cls in ALL_MESSAGES:
        if issubclass(cls, Event):
            payload = {**example_payload(cls), "added_in_a_later_release": {"nested": [1, 2]}}
            decoded = decode_payload(_raw(cls.MESSAGE_TYPE, payload), topic_of(cls))
            assert type(decoded) is cls


def test_an_event_tolerates_unknown_fields_in_nested_parts() -> None:
    payload = example_payload(CustomerContactDetailsChanged)
    payload["postal_address"] = {**payload["postal_address"], "delivery_point_id": "12345678"}
    decoded = decode_payload(
        _raw("CustomerContactDetailsChanged", payload), TOPICS["casemesh.customers.events.v1"]
    )
    assert isinstance(decoded, CustomerContactDetailsChanged)


def test_an_event_is_lax_where_a_command_is_strict() -> None:
    payload = {**example_payload(CustomerAssignedToPS), "officer_open_ps_customers": "14"}
    decoded = decode_payload(_raw("CustomerAssignedToPS", payload), TOPICS[events_topic("referrals")])
    assert isinstance(decoded, CustomerAssignedToPS) and decoded.officer_open_ps_customers == 14


def test_a_command_refuses_an_oversized_list() -> None:
    payload = example_payload(RecordComplaint)
    payload["issues"] = [
        {**payload["issues"][0], "issue_id": f"00000000-0000-4000-8000-{i:012d}"} for i in range(21)
    ]
    with pytest.raises(SchemaViolation) as caught:
        decode_payload(_raw("RecordComplaint", payload), TOPICS[commands_topic("complaints")])
    assert ("issues", "too_long") in caught.value.errors


class _ReadsVersion1(AssignCustomerToPS):
    """A test-only version 2 of AssignCustomerToPS that knows how to read version 1."""

    MESSAGE_TYPE = "AssignCustomerToPS"
    SCHEMA_VERSION = 2

    @classmethod
    def upgrade_payload(cls, from_version: int, payload: dict[str, Any]) -> dict[str, Any] | None:
        return payload if from_version == 1 else None


class _NoUpgrade(AssignCustomerToPS):
    """A test-only version 2 of AssignCustomerToPS that cannot read version 1."""

    MESSAGE_TYPE = "AssignCustomerToPS"
    SCHEMA_VERSION = 2


def test_an_older_version_is_readable_only_when_the_model_upgrades_it() -> None:
    v1 = _raw("AssignCustomerToPS", example_payload(AssignCustomerToPS), schema_version=1)
    assert isinstance(decode_payload(v1, {"AssignCustomerToPS": _ReadsVersion1}), _ReadsVersion1)
    with pytest.raises(UnsupportedSchemaVersion):
        decode_payload(v1, {"AssignCustomerToPS": _NoUpgrade})
    v3 = _raw("AssignCustomerToPS", example_payload(AssignCustomerToPS), schema_version=3)
    with pytest.raises(UnsupportedSchemaVersion):
        decode_payload(v3, {"AssignCustomerToPS": _ReadsVersion1})
