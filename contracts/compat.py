"""Schema compatibility: is a message's new JSON Schema a compatible change of its old one?

A change is **incompatible** — and needs ``SCHEMA_VERSION`` raised — when, at the same schema
version, the new schema:

* removes (or renames) a property;
* narrows a property's type: a JSON type no longer accepted (``string`` → ``integer``), enum values
  removed, a ``const`` changed, a ``maxLength``/``maxItems``/``maxProperties``/``maximum`` lowered
  or added, a ``minLength``/``minItems``/``minimum`` raised or added, a ``pattern`` or ``format``
  changed or added, extra properties no longer allowed;
* makes a field required that was not (a new required field, or an optional one made required).

Widening (a new optional property, a type that also accepts ``null``, a longer limit, new enum
values) passes. Raising the schema version, or adding a new message type, always passes.

Works on plain dicts so it can be unit-tested on tiny hand-made schemas; ``$ref`` into
``$defs``/``definitions``, ``anyOf``/``oneOf`` and type lists are understood.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

Schema = Mapping[str, Any]

_UPPER_LIMITS = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
_LOWER_LIMITS = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")
_EXACT = ("pattern", "format", "multipleOf")


def compatibility_problems(old: Schema, new: Schema) -> list[str]:
    """Compare two snapshot entries ``{"message_type", "schema_version", "schema"}``.

    Returns human-readable problems; empty when the change is compatible or the version was raised.
    """
    name = str(new.get("message_type") or old.get("message_type") or "message")
    old_version = int(old.get("schema_version", 1))
    new_version = int(new.get("schema_version", 1))
    if new_version > old_version:
        return []
    if new_version < old_version:
        return [f"{name}: schema version lowered from {old_version} to {new_version}"]
    return [f"{name}: {p}" for p in schema_problems(old["schema"], new["schema"])]


def schema_problems(old_schema: Schema, new_schema: Schema) -> list[str]:
    """Problems that make ``new_schema`` an incompatible change of ``old_schema`` (same version)."""
    checker = _Checker(old_schema, new_schema)
    checker.compare(old_schema, new_schema, "$")
    return checker.problems


class _Checker:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.problems: list[str] = []
        self._seen: set[tuple[str, str]] = set()

    # ------------------------------------------------------------------ schema plumbing

    @staticmethod
    def _deref(node: Schema, root: Schema) -> tuple[Schema, str]:
        """Follow ``$ref`` chains; keep sibling keywords (they refine the target)."""
        ref_name = ""
        seen: set[str] = set()
        while "$ref" in node:
            ref = str(node["$ref"])
            if ref in seen or not ref.startswith("#/"):
                break
            seen.add(ref)
            ref_name = ref
            target: Any = root
            for part in ref[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, Mapping) else {}
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **siblings}
        return node, ref_name

    def _variants(self, node: Schema, root: Schema) -> list[tuple[Schema, str]]:
        node, ref = self._deref(node, root)
        for key in ("anyOf", "oneOf"):
            if key in node:
                out: list[tuple[Schema, str]] = []
                for sub in node[key]:
                    out.extend(self._variants(sub, root))
                return out
        kind = node.get("type")
        if isinstance(kind, list):
            return [({**node, "type": k}, ref) for k in kind]
        return [(node, ref)]

    @staticmethod
    def _type_of(node: Schema) -> str:
        kind = node.get("type")
        if isinstance(kind, str):
            return kind
        values = list(node.get("enum", ())) + ([node["const"]] if "const" in node else [])
        if values:
            return _json_type(values[0])
        if "properties" in node:
            return "object"
        if "items" in node:
            return "array"
        return "any"

    # ------------------------------------------------------------------ comparison

    def compare(self, old: Schema, new: Schema, path: str) -> None:
        old_variants = self._variants(old, self.old_root)
        new_variants = self._variants(new, self.new_root)
        new_by_type: dict[str, list[tuple[Schema, str]]] = {}
        for node, ref in new_variants:
            new_by_type.setdefault(self._type_of(node), []).append((node, ref))
        if "any" in new_by_type:  # the new schema accepts anything here
            return
        for old_node, old_ref in old_variants:
            kind = self._type_of(old_node)
            candidates = new_by_type.get(kind) or (new_by_type.get("number") if kind == "integer" else None)
            if not candidates:
                accepted = ", ".join(sorted(new_by_type)) or "nothing"
                self.problems.append(f"{path}: type narrowed - {kind} is no longer accepted (now {accepted})")
                continue
            new_node, new_ref = self._pair(old_node, candidates)
            if old_ref and new_ref:
                # A shared definition is compared once (enough to report it; ends recursive models).
                if (old_ref, new_ref) in self._seen:
                    continue
                self._seen.add((old_ref, new_ref))
            self._compare_constraints(old_node, new_node, path)

    @staticmethod
    def _pair(old: Schema, candidates: list[tuple[Schema, str]]) -> tuple[Schema, str]:
        if len(candidates) > 1 and "title" in old:
            for node, ref in candidates:
                if node.get("title") == old["title"]:
                    return node, ref
        return candidates[0]

    def _compare_constraints(self, old: Schema, new: Schema, path: str) -> None:
        self._compare_values(old, new, path)
        for key in _UPPER_LIMITS:
            if key in new and (key not in old or new[key] < old[key]):
                was = old.get(key, "none")
                self.problems.append(f"{path}: {key} lowered from {was} to {new[key]}")
        for key in _LOWER_LIMITS:
            if key in new and (key not in old or new[key] > old[key]):
                was = old.get(key, "none")
                self.problems.append(f"{path}: {key} raised from {was} to {new[key]}")
        for key in _EXACT:
            if key in new and old.get(key) != new[key]:
                self.problems.append(f"{path}: {key} changed from {old.get(key)!r} to {new[key]!r}")
        if "properties" in old or "properties" in new or self._type_of(old) == "object":
            self._compare_object(old, new, path)
        if "items" in old and "items" in new and isinstance(old["items"], Mapping):
            self.compare(old["items"], new["items"], f"{path}[]")

    def _compare_values(self, old: Schema, new: Schema, path: str) -> None:
        new_values = _allowed_values(new)
        if new_values is None:
            return
        old_values = _allowed_values(old)
        if old_values is None:
            self.problems.append(f"{path}: narrowed to the values {sorted(map(str, new_values))}")
            return
        removed = [v for v in old_values if v not in new_values]
        if removed:
            self.problems.append(f"{path}: enum values removed: {sorted(map(str, removed))}")

    def _compare_object(self, old: Schema, new: Schema, path: str) -> None:
        old_props: Mapping[str, Any] = old.get("properties", {})
        new_props: Mapping[str, Any] = new.get("properties", {})
        for name, old_prop in old_props.items():
            if name not in new_props:
                self.problems.append(f"{path}.{name}: property removed or renamed")
            else:
                self.compare(old_prop, new_props[name], f"{path}.{name}")
        added_required = sorted(set(new.get("required", ())) - set(old.get("required", ())))
        for name in added_required:
            what = "new required field" if name not in old_props else "field became required"
            self.problems.append(f"{path}.{name}: {what}")
        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        if new_extra is False and old_extra is not False:
            self.problems.append(f"{path}: additional properties no longer allowed")
        elif isinstance(old_extra, Mapping) and isinstance(new_extra, Mapping):
            self.compare(old_extra, new_extra, f"{path}{{}}")


def _allowed_values(node: Schema) -> list[Any] | None:
    if "const" in node:
        return [node["const"]]
    if "enum" in node:
        return list(node["enum"])
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# ---------------------------------------------------------------------- snapshot


def load_snapshot(directory: Path) -> dict[str, dict[str, Any]]:
    """``message_type → entry`` from a snapshot directory (one JSON file per message type)."""
    entries: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.json")):
        entry = json.loads(path.read_text(encoding="utf-8"))
        entries[str(entry["message_type"])] = entry
    return entries


def snapshot_problems(
    snapshot: Mapping[str, Mapping[str, Any]], current: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Every incompatibility between a committed snapshot and the current catalogue.

    A message type missing from the catalogue is a problem too (consumers may still depend on
    it): remove it deliberately by rewriting the snapshot (``python -m contracts.export --snapshot``).
    """
    problems: list[str] = []
    for message_type, old in sorted(snapshot.items()):
        new = current.get(message_type)
        if new is None:
            problems.append(f"{message_type}: message type removed from the catalogue")
            continue
        problems.extend(compatibility_problems(old, new))
    return problems
