"""The compatibility checker's backward rules (what commands need), one at a time, on tiny schemas.

The direction rules (events, the envelope) are in ``test_compat_rules.py``.
"""

from __future__ import annotations

import copy
from typing import Any

from contracts.compat import compatibility_problems, schema_problems, snapshot_problems


def obj(props: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required), **extra}


def entry(schema: dict[str, Any], version: int = 1, name: str = "Thing") -> dict[str, Any]:
    return {"message_type": name, "schema_version": version, "schema": schema}


BASE = obj(
    {
        "name": {"type": "string", "maxLength": 100},
        "code": {"type": "string", "pattern": "^[A-Z]+$", "maxLength": 64},
        "colour": {"type": "string", "enum": ["RED", "GREEN"]},
        "count": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 10}, "maxItems": 5},
        "note": {"anyOf": [{"type": "string", "maxLength": 500}, {"type": "null"}], "default": None},
    },
    required=("name", "code"),
)


def changed(path: list[str], value: Any = None, *, delete: bool = False) -> dict[str, Any]:
    schema = copy.deepcopy(BASE)
    node: Any = schema
    for part in path[:-1]:
        node = node[part]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return schema


def test_an_identical_schema_is_compatible() -> None:
    assert schema_problems(BASE, copy.deepcopy(BASE)) == []


def test_removing_a_property_is_incompatible() -> None:
    problems = schema_problems(BASE, changed(["properties", "count"], delete=True))
    assert problems == ["$.count: property removed or renamed [field-removed]"]


def test_renaming_a_property_is_incompatible() -> None:
    new = copy.deepcopy(BASE)
    new["properties"]["amount"] = new["properties"].pop("count")
    assert "$.count: property removed or renamed [field-removed]" in schema_problems(BASE, new)


def test_changing_a_property_type_is_incompatible() -> None:
    problems = schema_problems(BASE, changed(["properties", "count"], {"type": "string", "maxLength": 5}))
    assert len(problems) == 1 and "type narrowed" in problems[0] and "$.count" in problems[0]


def test_making_a_nullable_property_non_nullable_is_incompatible() -> None:
    problems = schema_problems(BASE, changed(["properties", "note"], {"type": "string", "maxLength": 500}))
    assert any("null is no longer accepted" in p for p in problems)


def test_removing_an_enum_value_is_incompatible() -> None:
    problems = schema_problems(BASE, changed(["properties", "colour", "enum"], ["RED"]))
    assert problems == ["$.colour: enum values removed: ['GREEN'] [enum-value-removed]"]


def test_adding_an_enum_value_is_compatible() -> None:
    assert schema_problems(BASE, changed(["properties", "colour", "enum"], ["RED", "GREEN", "BLUE"])) == []


def test_lowering_a_max_length_is_incompatible() -> None:
    problems = schema_problems(BASE, changed(["properties", "name", "maxLength"], 50))
    assert problems == ["$.name: maxLength lowered from 100 to 50 [limit-narrowed]"]


def test_raising_a_max_length_is_compatible() -> None:
    assert schema_problems(BASE, changed(["properties", "name", "maxLength"], 200)) == []


def test_lowering_a_max_items_or_a_nested_max_length_is_incompatible() -> None:
    assert schema_problems(BASE, changed(["properties", "tags", "maxItems"], 4)) == [
        "$.tags: maxItems lowered from 5 to 4 [limit-narrowed]"
    ]
    nested = schema_problems(BASE, changed(["properties", "tags", "items", "maxLength"], 8))
    assert nested == ["$.tags[]: maxLength lowered from 10 to 8 [limit-narrowed]"]


def test_raising_a_minimum_is_incompatible() -> None:
    assert schema_problems(BASE, changed(["properties", "count", "minimum"], 1)) == [
        "$.count: minimum raised from 0 to 1 [limit-narrowed]"
    ]


def test_changing_a_pattern_is_incompatible() -> None:
    problems = schema_problems(BASE, changed(["properties", "code", "pattern"], "^[A-Z]{2,}$"))
    assert problems == ["$.code: pattern changed from '^[A-Z]+$' to '^[A-Z]{2,}$' [pattern-changed]"]


def test_adding_a_pattern_is_incompatible() -> None:
    problems = schema_problems(BASE, changed(["properties", "name", "pattern"], "^[a-z]+$"))
    assert problems == ["$.name: pattern changed from None to '^[a-z]+$' [pattern-changed]"]


def test_a_new_required_field_is_incompatible() -> None:
    new = copy.deepcopy(BASE)
    new["properties"]["site"] = {"type": "string", "maxLength": 100}
    new["required"].append("site")
    assert schema_problems(BASE, new) == ["$.site: new required field [required-added]"]


def test_making_an_optional_field_required_is_incompatible() -> None:
    new = copy.deepcopy(BASE)
    new["required"].append("count")
    assert schema_problems(BASE, new) == ["$.count: field became required [required-added]"]


def test_a_new_optional_field_is_compatible() -> None:
    new = copy.deepcopy(BASE)
    new["properties"]["site"] = {"anyOf": [{"type": "string", "maxLength": 100}, {"type": "null"}]}
    assert schema_problems(BASE, new) == []


def test_widening_a_type_to_accept_null_or_an_integer_to_a_number_is_compatible() -> None:
    new = changed(["properties", "name"], {"anyOf": [{"type": "string", "maxLength": 100}, {"type": "null"}]})
    new["properties"]["count"] = {"type": "number", "minimum": 0}
    assert schema_problems(BASE, new) == []


def test_making_a_no_longer_required_field_optional_is_compatible() -> None:
    new = copy.deepcopy(BASE)
    new["required"] = ["name"]
    assert schema_problems(BASE, new) == []


def test_forbidding_extra_properties_is_incompatible() -> None:
    new = copy.deepcopy(BASE)
    new["additionalProperties"] = False
    assert schema_problems(BASE, new) == ["$: additional properties no longer allowed [closed]"]


def test_changes_inside_referenced_definitions_are_found() -> None:
    old = {
        "type": "object",
        "properties": {"actor": {"$ref": "#/$defs/Actor"}},
        "required": ["actor"],
        "$defs": {
            "Actor": obj({"first_name": {"type": "string", "maxLength": 100}}, required=("first_name",))
        },
    }
    new = copy.deepcopy(old)
    new["$defs"]["Actor"]["properties"]["surname"] = {"type": "string", "maxLength": 100}
    new["$defs"]["Actor"]["required"].append("surname")
    new["$defs"]["Actor"]["properties"]["first_name"]["maxLength"] = 20
    problems = schema_problems(old, new)
    assert "$.actor.surname: new required field [required-added]" in problems
    assert "$.actor.first_name: maxLength lowered from 100 to 20 [limit-narrowed]" in problems


def test_an_incompatible_change_passes_when_the_schema_version_is_raised() -> None:
    new = changed(["properties", "count"], delete=True)
    assert compatibility_problems(entry(BASE), entry(new)) == [
        "Thing: $.count: property removed or renamed [events: field-removed]"
    ]
    assert compatibility_problems(entry(BASE), entry(new, version=2)) == []


def test_lowering_the_schema_version_is_a_problem() -> None:
    assert compatibility_problems(entry(BASE, version=2), entry(BASE)) == [
        "Thing: schema version lowered from 2 to 1 [version-lowered]"
    ]


def test_a_new_message_type_passes_and_a_removed_one_fails() -> None:
    snapshot = {"Thing": entry(BASE)}
    current = {"Thing": entry(BASE), "Other": entry(BASE, name="Other")}
    assert snapshot_problems(snapshot, current) == []
    assert snapshot_problems(current, snapshot) == [
        "Other: message type removed from the catalogue [message-type-removed]"
    ]


def test_the_checker_understands_pydantic_schemas_of_real_models() -> None:
    from pydantic import BaseModel, Field

    class V1(BaseModel):
        name: str = Field(max_length=100)
        note: str | None = None

    class V1Narrowed(BaseModel):
        name: str = Field(max_length=50)
        note: str

    problems = schema_problems(V1.model_json_schema(), V1Narrowed.model_json_schema())
    assert "$.name: maxLength lowered from 100 to 50 [limit-narrowed]" in problems
    assert "$.note: field became required [required-added]" in problems
    assert any(p.startswith("$.note: type narrowed") for p in problems)
