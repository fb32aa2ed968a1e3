"""Every published schema says what the real decoder does.

Messages are generated from each published JSON Schema (``contracts.export.message_schema``), kept
when a JSON Schema validator (formats asserted) accepts them, wrapped in an envelope and read with
the real decoder, :func:`contracts.envelope.decode_payload`. The decoder must accept every one,
except where a documented rule — ``x-casemesh-rules`` with ``in_schema: false``, or a wire rule
(``x-casemesh-wire-rules``) — says otherwise. The number of examples per schema is bounded
(``CASEMESH_SCHEMA_EXAMPLES``, default 12) and fixed under CI, so the suite stays quick and stable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import BaseModel
from schema_strategies import from_schema

from contracts.base import Command, Message
from contracts.catalogue import ALL_MESSAGES
from contracts.envelope import Envelope, decode_payload
from contracts.errors import SchemaViolation
from contracts.export import envelope_schema, example_payload, message_schema
from contracts.rules import WIRE_RULES, documented_rule_holds, rules_of
from contracts.topics import topic_of

EXAMPLES = int(os.environ.get("CASEMESH_SCHEMA_EXAMPLES", "12"))
ENVELOPE_FIELDS = {
    "message_id": "0b6f1c0e-4a51-4d8e-9a43-64f0a0b4a3b1",
    "occurred_at": "2025-03-12T09:30:00Z",
    "producer": "property-test",
    "correlation_id": "0b6f1c0e-4a51-4d8e-9a43-64f0a0b4a3b1",
    "csid": "123456789",
}


def _validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=FormatChecker())


def _decode(cls: type[Message], payload: Any) -> Message:
    raw = {**ENVELOPE_FIELDS, "message_type": cls.MESSAGE_TYPE, "schema_version": cls.SCHEMA_VERSION}
    raw["payload"] = payload
    return decode_payload(Envelope.from_bytes(json.dumps(raw).encode()), topic_of(cls))


def _documented_rules(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    own = [rule for rule in rules_of(schema) if not rule.get("in_schema", False)]
    return own + list(schema["x-casemesh-wire-rules"])


@pytest.mark.parametrize("cls", ALL_MESSAGES, ids=lambda cls: cls.MESSAGE_TYPE)
def test_the_decoder_accepts_every_message_its_published_schema_accepts(cls: type[Message]) -> None:
    schema = message_schema(cls)
    validator = _validator(schema)
    documented = _documented_rules(schema)
    kind = "command" if issubclass(cls, Command) else "event"

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=os.environ.get("CI") == "true",
        suppress_health_check=list(HealthCheck),
    )
    @given(from_schema(schema))
    def the_decoder_agrees(payload: Any) -> None:
        assume(validator.is_valid(payload))
        try:
            _decode(cls, payload)
        except SchemaViolation as refused:
            broken = [rule["id"] for rule in documented if not documented_rule_holds(rule, payload, kind)]
            assert broken, f"{cls.MESSAGE_TYPE}: valid by its schema, refused by the decoder: {refused}"

    the_decoder_agrees()


def _models_with_validators() -> list[type[BaseModel]]:
    seen: dict[type[BaseModel], None] = {}
    todo: list[Any] = list(ALL_MESSAGES)
    while todo:
        model = todo.pop()
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or model in seen:
            continue
        seen[model] = None
        for field in model.model_fields.values():
            todo.extend(_types_in(field.annotation))
    return [m for m in seen if m.__pydantic_decorators__.model_validators]


def _types_in(annotation: Any) -> list[Any]:
    from typing import get_args

    return [annotation, *(t for arg in get_args(annotation) for t in _types_in(arg))]


def test_every_model_with_a_cross_field_rule_publishes_it_next_to_its_fields() -> None:
    models = _models_with_validators()
    assert {m.__name__ for m in models} >= {
        "AssignCustomerToPS",
        "CreatePSStackingDocument",
        "LockTarget",
        "RecordCustomerContact",
        "SendEmail",
        "ScheduleMeeting",
    }
    for model in models:
        schema = model.model_json_schema()
        rules = rules_of(schema)
        assert rules, f"{model.__name__} has a model_validator but no x-casemesh-rules"
        expressed = {entry["x-casemesh-rule"] for entry in schema.get("allOf", ())}
        for rule in rules:
            assert rule["description"], rule
            assert rule["in_schema"] == (rule["id"] in expressed), rule
            if not rule["in_schema"]:
                assert rule.get("check"), f"{model.__name__}: {rule['id']} says nothing a machine can check"


def _refused_by_schema(cls: type[Message], **changes: Any) -> tuple[bool, bool]:
    """(schema refuses, decoder refuses) for the example with ``changes`` (None removes a key)."""
    payload = {**example_payload(cls), **changes}
    payload = {k: v for k, v in payload.items() if v is not None}
    try:
        _decode(cls, payload)
        decoder = False
    except SchemaViolation:
        decoder = True
    return (not _validator(message_schema(cls)).is_valid(payload)), decoder


def test_the_seven_rules_the_decoder_enforced_alone_are_now_in_the_schema() -> None:
    from contracts.catalogue.referrals import (
        CreatePSStackingDocument,
        CustomerLocked,
        LockCustomer,
        RecordCustomerContact,
    )

    both = (True, True)
    for cls in (LockCustomer, CustomerLocked):
        assert _refused_by_schema(cls, lock_to={"kind": "OFFICER"}) == both
        assert (
            _refused_by_schema(cls, lock_to={"kind": "OFFICER", "officer_id": "E1", "area": "DEBT"}) == both
        )
        assert _refused_by_schema(cls, lock_to={"kind": "SPECIALIST_AREA", "officer_id": "E1"}) == both
        assert _refused_by_schema(cls, lock_to={"kind": "SPECIALIST_AREA", "area": "DEBT"}) == (False, False)
    assert _refused_by_schema(RecordCustomerContact, channel="PHONE") == both  # with an intray item
    assert _refused_by_schema(RecordCustomerContact, channel="POST", intray_item_id=None) == both
    phone = {"channel": "PHONE", "intray_item_id": None}
    assert _refused_by_schema(RecordCustomerContact, **phone, intray_category="COA") == both
    assert _refused_by_schema(RecordCustomerContact, **phone, intray_category=None) == (False, False)
    assert _refused_by_schema(CreatePSStackingDocument, origin_record_id="PLT-0042-77") == both
    assert _refused_by_schema(CreatePSStackingDocument, origin="INTERNATIONAL_NOTES") == both


def test_duplicate_invitee_ids_are_a_documented_rule_the_decoder_enforces() -> None:
    from contracts.catalogue.contacts import ScheduleMeeting

    invitee = example_payload(ScheduleMeeting)["invitees"][0]
    payload = {**example_payload(ScheduleMeeting), "invitees": [invitee, invitee]}
    assert _validator(message_schema(ScheduleMeeting)).is_valid(payload)
    with pytest.raises(SchemaViolation):
        _decode(ScheduleMeeting, payload)
    (rule,) = [r for r in rules_of(message_schema(ScheduleMeeting)) if not r["in_schema"]]
    assert not documented_rule_holds(rule, payload)
    assert documented_rule_holds(rule, example_payload(ScheduleMeeting))


def test_the_wire_rules_are_real_and_published_with_every_schema() -> None:
    from contracts.catalogue.notifications import RetryDelivery
    from contracts.catalogue.referrals import ExpireTransferMonitoring

    assert all(message_schema(cls)["x-casemesh-wire-rules"] for cls in ALL_MESSAGES)
    calendar, integral = WIRE_RULES
    leap = {**example_payload(ExpireTransferMonitoring), "monitoring_ends_at": "2016-12-31T23:59:60Z"}
    assert _validator(message_schema(ExpireTransferMonitoring)).is_valid(leap)
    with pytest.raises(SchemaViolation):
        _decode(ExpireTransferMonitoring, leap)
    assert not documented_rule_holds(calendar.entry(), leap)
    fraction = {**example_payload(RetryDelivery), "attempt": 2.0}
    assert _validator(message_schema(RetryDelivery)).is_valid(fraction)
    with pytest.raises(SchemaViolation):
        _decode(RetryDelivery, fraction)
    assert not documented_rule_holds(integral.entry(), fraction, "command")
    assert documented_rule_holds(integral.entry(), fraction, "event")


def test_every_published_schema_is_a_valid_json_schema() -> None:
    for cls in ALL_MESSAGES:
        Draft202012Validator.check_schema(message_schema(cls))
        assert _validator(message_schema(cls)).is_valid(example_payload(cls)), cls.MESSAGE_TYPE
    Draft202012Validator.check_schema(envelope_schema())
