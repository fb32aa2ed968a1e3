"""Hypothesis strategies that generate JSON values from the JSON Schemas Casemesh publishes.

Covers the subset pydantic emits (``$ref``/``$defs``, ``anyOf``/``oneOf``, ``const``/``enum``,
strings with lengths, patterns and formats, numbers with bounds, arrays, objects and maps).
Keywords that tie fields together (``allOf`` with ``if``/``then``/``else``) are not generated
from: the caller keeps only the values a real JSON Schema validator accepts.

(hypothesis-jsonschema would do this, but its object generation does not run on the pinned
Hypothesis: ``'many' object has no attribute 'more'``.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

Schema = Mapping[str, Any]

#: A string where nothing bounds it (e.g. inside an event): long enough to find limits.
UNBOUNDED_TEXT = 120
#: Unknown keys an open object (an event) may carry: they must be ignored, never refused.
EXTRA_KEYS = st.sampled_from(["x_added_later", "note_v2", "zz"])

_OFFSETS = st.sampled_from(["Z", "+00:00", "+10:00", "-05:30", "+14:00", "-12:00"])


def _resolve(node: Schema, root: Schema) -> Schema:
    seen: set[str] = set()
    while "$ref" in node:
        ref = str(node["$ref"])
        if ref in seen:
            raise ValueError(f"recursive $ref {ref}")
        seen.add(ref)
        target: Any = root
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _rarely(common: st.SearchStrategy[Any], edge: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``common`` nine times in ten, ``edge`` otherwise."""
    return st.integers(0, 9).flatmap(lambda roll: edge if roll == 0 else common)


def _date_times() -> st.SearchStrategy[str]:
    naive = st.datetimes(min_value=dt.datetime(1, 1, 1, 14), max_value=dt.datetime(9999, 12, 31, 9))
    common = st.builds(lambda d, off: d.isoformat() + off, naive, _OFFSETS)
    # RFC 3339 allows year 0000 and a leap second; the wire rules refuse both.
    return _rarely(common, st.sampled_from(["0000-01-01T00:00:00Z", "2016-12-31T23:59:60Z"]))


def _dates() -> st.SearchStrategy[str]:
    common = st.dates(min_value=dt.date(1, 1, 1)).map(dt.date.isoformat)
    return _rarely(common, st.just("0000-01-01"))


def _string(node: Schema) -> st.SearchStrategy[Any]:
    low = int(node.get("minLength", 0))
    high = int(node.get("maxLength", max(low, UNBOUNDED_TEXT)))
    fmt = node.get("format")
    if fmt == "uuid":
        return st.uuids().map(str)
    if fmt == "date":
        return _dates()
    if fmt == "date-time":
        return _date_times()
    if "pattern" in node:
        return st.from_regex(str(node["pattern"]), fullmatch=True).filter(lambda s: low <= len(s) <= high)
    return st.text(min_size=low, max_size=min(high, low + UNBOUNDED_TEXT))


def _number(node: Schema, integer: bool) -> st.SearchStrategy[Any]:
    low = node.get("minimum")
    high = node.get("maximum")
    if "exclusiveMinimum" in node:
        low = node["exclusiveMinimum"] + (1 if integer else 0)
    if "exclusiveMaximum" in node:
        high = node["exclusiveMaximum"] - (1 if integer else 0)
    if integer:
        ints = st.integers(min_value=low, max_value=high)
        # JSON Schema counts 2.0 as an integer; commands do not (a wire rule).
        return _rarely(ints, ints.filter(lambda i: abs(i) < 2**53).map(float))
    return st.floats(
        min_value=low,
        max_value=high,
        allow_nan=False,
        allow_infinity=False,
        exclude_min="exclusiveMinimum" in node,
        exclude_max="exclusiveMaximum" in node,
    )


def _object(node: Schema, root: Schema, depth: int) -> st.SearchStrategy[Any]:
    properties: Mapping[str, Any] = node.get("properties", {})
    extra = node.get("additionalProperties", True)
    if not properties and isinstance(extra, Mapping):  # a map: dict[Code, ShortText]
        names = node.get("propertyNames", {"type": "string", "maxLength": 64, "minLength": 1})
        return st.dictionaries(
            _value(names, root, depth + 1),
            _value(extra, root, depth + 1),
            min_size=int(node.get("minProperties", 0)),
            max_size=int(node.get("maxProperties", 5)),
        )
    required = set(node.get("required", ()))
    fixed = st.fixed_dictionaries(
        {name: _value(sub, root, depth + 1) for name, sub in properties.items() if name in required},
        optional={
            name: _value(sub, root, depth + 1) for name, sub in properties.items() if name not in required
        },
    )
    if extra is False:
        return fixed
    unknown = st.dictionaries(EXTRA_KEYS, st.integers() | st.text(max_size=5), max_size=1)
    return st.builds(lambda known, more: {**more, **known}, fixed, unknown)


def _value(node: Schema, root: Schema, depth: int = 0) -> st.SearchStrategy[Any]:
    node = _resolve(node, root)
    listed = _listed_values(node)
    if listed is not None:
        return listed
    alternatives = _alternatives(node, root, depth)
    if alternatives is not None:
        return alternatives
    return _of_type(node, root, depth)


def _listed_values(node: Schema) -> st.SearchStrategy[Any] | None:
    """The one value of a ``const`` or the values of an ``enum``; None when the node lists none."""
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(list(node["enum"]))
    return None


def _alternatives(node: Schema, root: Schema, depth: int) -> st.SearchStrategy[Any] | None:
    """One of the ``anyOf``/``oneOf`` subschemas or of a type list; None when the node has one shape."""
    for key in ("anyOf", "oneOf"):
        if key in node:
            return st.one_of([_value(sub, root, depth) for sub in node[key]])
    kind = node.get("type")
    if isinstance(kind, list):
        return st.one_of([_value({**node, "type": k}, root, depth) for k in kind])
    return None


def _of_type(node: Schema, root: Schema, depth: int) -> st.SearchStrategy[Any]:
    """Values of the node's single JSON type (anything JSON when it names none)."""
    kind = node.get("type")
    if kind == "string":
        return _string(node)
    if kind in ("integer", "number"):
        return _number(node, integer=kind == "integer")
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return _array(node, root, depth)
    if kind == "object" or "properties" in node:
        return _object(node, root, depth)
    if depth > 6:
        return st.none()
    return st.none() | st.booleans() | st.integers() | st.text(max_size=10)


def _array(node: Schema, root: Schema, depth: int) -> st.SearchStrategy[Any]:
    items = node.get("items", {})
    low = int(node.get("minItems", 0))
    high = int(node.get("maxItems", low + 3))
    return st.lists(_value(items, root, depth + 1), min_size=low, max_size=min(high, low + 4))


def from_schema(schema: Schema) -> st.SearchStrategy[Any]:
    """JSON values shaped by ``schema`` (a superset of what it accepts: filter with a validator)."""
    return _value(schema, schema)
