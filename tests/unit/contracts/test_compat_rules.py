"""Compatibility by direction: commands backward, events both ways, the envelope both ways.

Each rule once on a tiny schema, then on the real catalogue the two changes the old check missed:
a new event enum value and a widened max_length on an event field.
"""

from __future__ import annotations

import copy
from typing import Any

from contracts.compat import compatibility_problems, explain, snapshot_problems
from contracts.export import current_snapshot


def obj(props: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required), **extra}


BASE = obj(
    {
        "status": {"type": "string", "enum": ["DELIVERED", "FAILED"]},
        "detail": {"type": "string", "maxLength": 500, "minLength": 1},
        "code": {"type": "string", "pattern": "^[A-Z]+$"},
        "attempt": {"type": "integer", "minimum": 1},
        "note": {"anyOf": [{"type": "string", "maxLength": 100}, {"type": "null"}], "default": None},
    },
    required=("status", "detail", "code", "attempt"),
)


def entry(schema: dict[str, Any], kind: str, version: int = 1) -> dict[str, Any]:
    return {"message_type": "Thing", "schema_version": version, "kind": kind, "schema": schema}


def problems_of(kind: str, new: dict[str, Any], old: dict[str, Any] = BASE) -> list[str]:
    return compatibility_problems(entry(old, kind), entry(new, kind))


def edited(**props: Any) -> dict[str, Any]:
    schema = copy.deepcopy(BASE)
    for name, value in props.items():
        if value is None:
            del schema["properties"][name]
        else:
            schema["properties"][name] = value
    return schema


def with_optional_field() -> dict[str, Any]:
    return edited(site={"anyOf": [{"type": "string", "maxLength": 100}, {"type": "null"}], "default": None})


def with_required_field() -> dict[str, Any]:
    schema = edited(site={"type": "string", "maxLength": 100})
    schema["required"].append("site")
    return schema


# ----------------------------------------------------------------------------- commands: backward


def test_a_command_may_gain_an_optional_field() -> None:
    assert problems_of("command", with_optional_field()) == []


def test_a_command_may_not_gain_a_required_field() -> None:
    assert problems_of("command", with_required_field()) == [
        "Thing: $.site: new required field [commands: required-added]"
    ]


def test_a_command_may_not_narrow_a_type() -> None:
    narrowed = edited(detail={"type": "string", "maxLength": 200, "minLength": 1})
    assert problems_of("command", narrowed) == [
        "Thing: $.detail: maxLength lowered from 500 to 200 [commands: limit-narrowed]"
    ]


def test_a_command_may_widen_a_limit_or_gain_an_enum_value() -> None:
    widened = edited(
        detail={"type": "string", "maxLength": 1000, "minLength": 1},
        status={"type": "string", "enum": ["DELIVERED", "FAILED", "EXPIRED"]},
    )
    assert problems_of("command", widened) == []


def test_a_command_may_not_lose_a_field() -> None:
    assert problems_of("command", edited(note=None)) == [
        "Thing: $.note: property removed or renamed [commands: field-removed]"
    ]


# ----------------------------------------------------------------------------- events: both ways


def test_an_event_may_gain_an_optional_field() -> None:
    assert problems_of("event", with_optional_field()) == []


def test_an_event_may_not_gain_a_required_field() -> None:
    assert problems_of("event", with_required_field()) == [
        "Thing: $.site: new required field [events: required-added]"
    ]


def test_an_event_may_not_gain_an_enum_value() -> None:
    widened = edited(status={"type": "string", "enum": ["DELIVERED", "FAILED", "EXPIRED"]})
    assert problems_of("event", widened) == [
        "Thing: $.status: enum values added: ['EXPIRED'] [events: enum-value-added]"
    ]


def test_an_event_may_not_widen_a_max_length_or_lower_a_minimum() -> None:
    widened = edited(detail={"type": "string", "maxLength": 1000}, attempt={"type": "integer", "minimum": 0})
    assert problems_of("event", widened) == [
        "Thing: $.detail: maxLength raised from 500 to 1000 [events: limit-widened]",
        "Thing: $.detail: minLength lowered from 1 to none [events: limit-widened]",
        "Thing: $.attempt: minimum lowered from 1 to 0 [events: limit-widened]",
    ]


def test_an_event_may_not_narrow_a_limit_either() -> None:
    narrowed = edited(detail={"type": "string", "maxLength": 200, "minLength": 1})
    assert problems_of("event", narrowed) == [
        "Thing: $.detail: maxLength lowered from 500 to 200 [events: limit-narrowed]"
    ]


def test_an_event_may_not_lose_a_field_its_consumers_read() -> None:
    assert problems_of("event", edited(note=None)) == [
        "Thing: $.note: property removed or renamed [events: field-removed]"
    ]


def test_an_event_may_not_make_a_required_field_optional_or_nullable() -> None:
    optional = copy.deepcopy(BASE)
    optional["required"].remove("code")
    assert problems_of("event", optional) == [
        "Thing: $.code: field no longer required [events: required-dropped]"
    ]
    nullable = edited(code={"anyOf": [{"type": "string", "pattern": "^[A-Z]+$"}, {"type": "null"}]})
    assert problems_of("event", nullable) == [
        "Thing: $.code: type widened - null is now accepted (was string) [events: type-widened]"
    ]


def test_an_event_may_not_drop_a_pattern_or_an_enum() -> None:
    loosened = edited(code={"type": "string"}, status={"type": "string"})
    assert problems_of("event", loosened) == [
        "Thing: $.status: no longer limited to the values ['DELIVERED', 'FAILED'] [events: enum-value-added]",
        "Thing: $.code: pattern changed from '^[A-Z]+$' to None [events: pattern-changed]",
    ]


def test_an_event_may_not_drop_a_cross_field_rule_and_a_command_may_not_add_one() -> None:
    rule = {
        "x-casemesh-rule": "r",
        "if": {"properties": {"status": {"const": "FAILED"}}},
        "then": {"required": ["note"]},
    }
    ruled = {**copy.deepcopy(BASE), "allOf": [rule]}
    assert problems_of("event", BASE, old=ruled) == [
        "Thing: $: cross-field rule dropped: r [events: cross-field-rule-dropped]"
    ]
    assert problems_of("command", ruled) == [
        "Thing: $: cross-field rule added: r [commands: cross-field-rule-added]"
    ]
    assert problems_of("command", BASE, old=ruled) == []


def test_the_envelope_is_checked_both_ways() -> None:
    assert problems_of("envelope", with_required_field()) == [
        "Thing: $.site: new required field [envelope: required-added]"
    ]
    widened = edited(detail={"type": "string", "maxLength": 1000, "minLength": 1})
    assert problems_of("envelope", widened) == [
        "Thing: $.detail: maxLength raised from 500 to 1000 [envelope: limit-widened]"
    ]
    assert problems_of("envelope", with_optional_field()) == []


def test_a_breaking_change_passes_once_the_schema_version_is_raised() -> None:
    widened = edited(status={"type": "string", "enum": ["DELIVERED", "FAILED", "EXPIRED"]})
    assert compatibility_problems(entry(BASE, "event"), entry(widened, "event", version=2)) == []


# ----------------------------------------------------------------------------- the real catalogue


def test_a_new_delivery_status_breaks_the_events_that_carry_it() -> None:
    released = current_snapshot()
    changed = copy.deepcopy(released)
    status = changed["DeliveryReceipted"]["schema"]["$defs"]["DeliveryStatus"]
    status["enum"] = [*status["enum"], "EXPIRED"]
    problems = snapshot_problems(released, changed)
    assert problems == [
        "DeliveryReceipted: $.status: enum values added: ['EXPIRED'] [events: enum-value-added]"
    ]
    assert "enum-value-added: an enum value is sent that old readers do not know" in explain(problems)


def test_a_widened_max_length_on_an_event_field_breaks_it() -> None:
    released = current_snapshot()
    changed = copy.deepcopy(released)
    changed["ComplaintsCommandRejected"]["schema"]["properties"]["reason"]["maxLength"] = 1000
    assert snapshot_problems(released, changed) == [
        "ComplaintsCommandRejected: $.reason: maxLength raised from 500 to 1000 [events: limit-widened]"
    ]


def test_the_same_widening_on_a_command_passes_and_a_narrowing_fails() -> None:
    released = current_snapshot()
    changed = copy.deepcopy(released)
    changed["RecordComplaint"]["schema"]["$defs"]["Actor"]["properties"]["first_name"]["maxLength"] = 200
    assert snapshot_problems(released, changed) == []
    changed["RecordComplaint"]["schema"]["$defs"]["Actor"]["properties"]["first_name"]["maxLength"] = 10
    assert snapshot_problems(released, changed) == [
        "RecordComplaint: $.actor.first_name: maxLength lowered from 100 to 10 [commands: limit-narrowed]"
    ]


def test_a_message_moved_to_another_topic_is_breaking() -> None:
    released = current_snapshot()
    changed = copy.deepcopy(released)
    changed["SmsDispatch"]["topic"] = "casemesh.notifications.dispatch.email.v1"
    assert snapshot_problems(released, changed) == [
        "SmsDispatch: moved from casemesh.notifications.dispatch.sms.v1 to "
        "casemesh.notifications.dispatch.email.v1 [topic-changed]"
    ]
