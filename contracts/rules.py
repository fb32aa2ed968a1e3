"""Cross-field rules, published next to the fields they tie together.

A model's ``model_validator`` enforces a rule at run time; the same rule goes into the model's
JSON Schema so a team working from the published schemas alone sees it:

* where JSON Schema can say it, as an ``allOf`` entry (``if``/``then``/``else``) that a JSON
  Schema validator applies;
* always, as an entry of ``x-casemesh-rules`` — ``{"id", "description", "in_schema"}``. An
  entry with ``"in_schema": false`` cannot be expressed in JSON Schema; it carries a ``check``
  that a machine can apply (``{"unique-by": {"array": …, "key": …}}``: the items of ``array``
  have distinct ``key`` values).

    class LockTarget(EventPart):
        model_config = ConfigDict(json_schema_extra=published(
            when("kind", "OFFICER", then=present("officer_id") | absent("area"), rule_id=…, description=…),
        ))
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: A property that is present and not null.
NOT_NULL: dict[str, Any] = {"not": {"type": "null"}}
#: A property that is absent or null.
NULL: dict[str, Any] = {"type": "null"}


class Condition(dict[str, Any]):
    """A JSON Schema fragment about an object's properties; ``a | b`` combines two."""

    def __or__(self, other: Mapping[str, Any]) -> Condition:  # type: ignore[override]
        merged = Condition(self)
        merged["required"] = sorted({*self.get("required", ()), *other.get("required", ())})
        merged["properties"] = {**self.get("properties", {}), **other.get("properties", {})}
        if not merged["required"]:
            del merged["required"]
        return merged


def present(*fields: str) -> Condition:
    """Each of ``fields`` is given and not null."""
    return Condition(required=sorted(fields), properties={f: dict(NOT_NULL) for f in fields})


def absent(*fields: str) -> Condition:
    """Each of ``fields`` is left out or null."""
    return Condition(properties={f: dict(NULL) for f in fields})


def equals(field_name: str, value: Any) -> Condition:
    """``field_name`` is given and equals ``value``."""
    return Condition(required=[field_name], properties={field_name: {"const": value}})


@dataclass(frozen=True)
class Rule:
    """One cross-field rule of a model."""

    rule_id: str
    description: str
    #: The ``allOf`` entry that expresses it, or None when JSON Schema cannot.
    schema: Mapping[str, Any] | None = None
    #: For a rule JSON Schema cannot express: what a machine checks instead.
    check: Mapping[str, Any] = field(default_factory=dict)

    def entry(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.rule_id,
            "description": self.description,
            "in_schema": self.schema is not None,
        }
        if self.check:
            out["check"] = dict(self.check)
        return out


def when(
    condition: Mapping[str, Any] | tuple[str, Any],
    *,
    then: Mapping[str, Any],
    otherwise: Mapping[str, Any] | None = None,
    rule_id: str,
    description: str,
) -> Rule:
    """If ``condition`` holds, ``then`` must hold (else ``otherwise``, when given)."""
    if_schema = equals(*condition) if isinstance(condition, tuple) else dict(condition)
    schema: dict[str, Any] = {
        "description": description,
        "x-casemesh-rule": rule_id,
        "if": if_schema,
        "then": dict(then),
    }
    if otherwise is not None:
        schema["else"] = dict(otherwise)
    return Rule(rule_id, description, schema)


def unique_by(array: str, key: str, *, rule_id: str, description: str) -> Rule:
    """The items of ``array`` have distinct ``key`` values (``uniqueItems`` compares whole items)."""
    return Rule(rule_id, description, None, {"unique-by": {"array": array, "key": key}})


def published(*rules: Rule) -> dict[str, Any]:
    """The ``json_schema_extra`` of a model with these rules."""
    extra: dict[str, Any] = {"x-casemesh-rules": [rule.entry() for rule in rules]}
    expressed = [dict(rule.schema) for rule in rules if rule.schema is not None]
    if expressed:
        extra["allOf"] = expressed
    return extra


#: Rules of the wire format that hold for every message and that JSON Schema cannot express;
#: published with every exported schema (``x-casemesh-wire-rules``) and in every AsyncAPI document.
WIRE_RULES: tuple[Rule, ...] = (
    Rule(
        "calendar-years-0001-to-9999",
        "A date or date-time (format date, date-time) is in the years 0001-9999 and has no leap "
        "second (seconds 00-59), though RFC 3339 allows both; a date-time has a UTC offset.",
        None,
        {"calendar": {}},
    ),
    Rule(
        "command-integers-have-no-fraction",
        "In a command an integer is written without a fraction or exponent (2, not 2.0 or 2e0): "
        "commands are strict. Events accept 2.0.",
        None,
        {"integral": {"kinds": ["command"]}},
    ),
)

_CALENDAR_EDGE = re.compile(r"^(0000-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:60)")


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list | tuple):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def documented_rule_holds(entry: Mapping[str, Any], payload: Mapping[str, Any], kind: str = "") -> bool:
    """Whether ``payload`` (of a ``kind`` of message) keeps a rule JSON Schema cannot express.

    Unknown kinds of check count as kept, so a new kind fails loudly in the tests that use it.
    """
    check = entry.get("check", {})
    if "unique-by" in check:
        spec = check["unique-by"]
        items = payload.get(spec["array"]) or ()
        keys = [item.get(spec["key"]) for item in items if isinstance(item, Mapping)]
        return len(keys) == len(set(map(repr, keys)))
    if "calendar" in check:
        return not any(isinstance(v, str) and _CALENDAR_EDGE.match(v) for v in _leaves(payload))
    if "integral" in check:
        if kind not in check["integral"].get("kinds", ()):
            return True
        return not any(isinstance(v, float) for v in _leaves(payload))
    return True


def rules_of(schema: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    """The ``x-casemesh-rules`` entries of a schema node (empty when it has none)."""
    found = schema.get("x-casemesh-rules", ())
    return found if isinstance(found, Sequence) else ()
