"""Schema compatibility by direction: may a message's new JSON Schema replace its old one?

Who reads a message decides which changes break it:

* **Commands** are read by the owning service, which is upgraded before its senders. It must
  keep accepting what senders built against the old contract: the new schema may not refuse
  anything the old one accepted (**backward**). A new optional field, a longer limit or a new
  enum value pass; a removed field (commands refuse unknown fields), a narrowed type, a lowered
  limit, a changed pattern, a new required field or a new cross-field rule do not.
* **Events** are read by consumers upgraded *after* their producer, and replayed from retained
  topics by consumers built later. So the new schema may neither refuse what the old one
  accepted (backward: a new required field, a narrowed type) nor accept what old consumers
  refuse (**forward**): a new enum value, a raised maximum or lowered minimum, a dropped pattern,
  a field no longer required, ``null`` newly allowed, a cross-field rule dropped. A removed field
  is breaking too (consumers may read it). A new *optional* field passes: events ignore unknown
  fields.
* **The envelope** is read by everyone: both directions.

A breaking change needs the message's ``SCHEMA_VERSION`` raised (and an upcaster,
``Message.upgrade_payload``, so consumers read both versions during the rollout); a raised
version or a new message type always passes here. :mod:`contracts.release` runs this against
the contracts as last released (read from git history).

Each problem names the field (a JSON path from the payload root, ``$.actor.first_name``), what
changed and the rule (``[events: enum-value-added]``). Works on plain dicts so each rule can be
unit-tested on tiny hand-made schemas; ``$ref`` into ``$defs``, ``anyOf``/``oneOf``, type lists
and ``allOf`` cross-field rules are understood.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

Schema = Mapping[str, Any]
Direction = Literal["backward", "forward"]
Kind = Literal["command", "event", "envelope"]

#: Which directions each kind of message must stay compatible in.
DIRECTIONS: Mapping[str, tuple[Direction, ...]] = {
    "command": ("backward",),
    "event": ("backward", "forward"),
    "envelope": ("backward", "forward"),
}
#: How each kind is named in a problem.
_LABEL = {"command": "commands", "event": "events", "envelope": "envelope"}

_UPPER_LIMITS = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
_LOWER_LIMITS = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")
_EXACT = ("pattern", "format", "multipleOf")

#: The rules, by id: what each one guards against.
RULES: Mapping[str, str] = {
    "field-removed": "a property was removed or renamed (readers may need it; strict readers refuse it)",
    "type-narrowed": "a JSON type is no longer accepted (incl. null)",
    "type-widened": "a JSON type is accepted that old readers refuse (incl. null)",
    "enum-value-removed": "an enum value (or const) is no longer accepted",
    "enum-value-added": "an enum value is sent that old readers do not know",
    "limit-narrowed": "a maximum lowered or a minimum raised (or newly set)",
    "limit-widened": "a maximum raised or a minimum lowered (or dropped)",
    "pattern-changed": "a pattern, format or multipleOf changed, added or dropped",
    "required-added": "a new required field, or an optional field made required",
    "required-dropped": "a required field made optional: old readers need it",
    "closed": "unknown properties are no longer allowed",
    "opened": "unknown properties are now allowed where old readers refuse them",
    "cross-field-rule-added": "a new rule ties fields together (allOf, x-casemesh-rules)",
    "cross-field-rule-dropped": "a rule tying fields together was dropped",
    "message-type-removed": "a message type left the catalogue",
    "topic-changed": "a message type moved to another topic",
    "version-lowered": "the schema version went down",
    "no-upcaster": "a raised schema version needs upgrade_payload to read the released version",
    "version-not-raised": "casemesh-contracts' version must go up from the last release",
    "version-major": "a raised schema version or a removed type needs a major release",
    "version-minor": "a changed published schema needs at least a minor release",
    "version-reused": "a released version's published schemas may not change",
}


def directions_for(kind: str | None) -> tuple[Direction, ...]:
    """The directions a kind of message (``command``, ``event``, ``envelope``) is checked in."""
    return DIRECTIONS.get(kind or "event", DIRECTIONS["event"])


def compatibility_problems(old: Schema, new: Schema) -> list[str]:
    """Compare two snapshot entries ``{"message_type", "schema_version", "kind", "schema"}``.

    Returns human-readable problems; empty when the change is compatible or the version was raised.
    The kind (and so the direction) is the old entry's, else the new one's, else ``event``.
    """
    name = str(new.get("message_type") or old.get("message_type") or "message")
    old_version = int(old.get("schema_version", 1))
    new_version = int(new.get("schema_version", 1))
    if new_version > old_version:
        return []
    if new_version < old_version:
        return [f"{name}: schema version lowered from {old_version} to {new_version} [version-lowered]"]
    kind = str(old.get("kind") or new.get("kind") or "event")
    problems = schema_problems(old["schema"], new["schema"], directions_for(kind), label=_LABEL.get(kind))
    return [f"{name}: {p}" for p in problems]


def schema_problems(
    old_schema: Schema,
    new_schema: Schema,
    directions: Iterable[Direction] = ("backward",),
    *,
    label: str | None = None,
) -> list[str]:
    """Problems that make ``new_schema`` an incompatible change of ``old_schema`` (same version).

    ``backward``: the new schema refuses something the old one accepted. ``forward``: the new
    schema accepts something the old one refused (a new optional property excepted, when the
    old schema allowed unknown properties there). Each problem ends with ``[label: rule]``.
    """
    problems: list[str] = []
    for direction in directions:
        checker = _Checker(old_schema, new_schema, direction)
        checker.compare(old_schema, new_schema, "$")
        for path, detail, rule in checker.problems:
            tag = f"{label}: {rule}" if label else rule
            text = f"{path}: {detail} [{tag}]"
            if text not in problems:
                problems.append(text)
    return problems


class _Checker:
    def __init__(self, old_root: Schema, new_root: Schema, direction: Direction) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.forward = direction == "forward"
        self.problems: list[tuple[str, str, str]] = []
        self._seen: set[tuple[str, str]] = set()

    def report(self, path: str, detail: str, rule: str) -> None:
        self.problems.append((path, detail, rule))

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

    @staticmethod
    def _by_type(variants: list[tuple[Schema, str]]) -> dict[str, list[tuple[Schema, str]]]:
        out: dict[str, list[tuple[Schema, str]]] = {}
        for node, ref in variants:
            out.setdefault(_Checker._type_of(node), []).append((node, ref))
        return out

    # ------------------------------------------------------------------ comparison

    def compare(self, old: Schema, new: Schema, path: str) -> None:
        old_variants = self._variants(old, self.old_root)
        new_variants = self._variants(new, self.new_root)
        new_by_type = self._by_type(new_variants)
        if not self._compare_types(self._by_type(old_variants), new_by_type, path):
            return
        for old_node, old_ref in old_variants:
            self._compare_variant(old_node, old_ref, new_by_type, path)

    def _compare_types(
        self,
        old_by_type: Mapping[str, list[tuple[Schema, str]]],
        new_by_type: Mapping[str, list[tuple[Schema, str]]],
        path: str,
    ) -> bool:
        """Reports JSON types newly accepted (forward); False when one side accepts anything here,
        so there is nothing more to compare."""
        if not self.forward:
            return "any" not in new_by_type  # the new schema accepts anything here
        if "any" in old_by_type:  # old readers accepted anything here
            return False
        if "any" in new_by_type:
            self.report(path, "type widened - anything is now accepted", "type-widened")
            return False
        for kind in new_by_type:
            if kind not in old_by_type and not (kind == "integer" and "number" in old_by_type):
                before = ", ".join(sorted(old_by_type))
                self.report(path, f"type widened - {kind} is now accepted (was {before})", "type-widened")
        return True

    def _compare_variant(
        self,
        old_node: Schema,
        old_ref: str,
        new_by_type: Mapping[str, list[tuple[Schema, str]]],
        path: str,
    ) -> None:
        """Compares one of the old schema's variants with the new variant of the same JSON type."""
        kind = self._type_of(old_node)
        candidates = new_by_type.get(kind) or (new_by_type.get("number") if kind == "integer" else None)
        if not candidates:
            if not self.forward:
                accepted = ", ".join(sorted(new_by_type)) or "nothing"
                self.report(
                    path,
                    f"type narrowed - {kind} is no longer accepted (now {accepted})",
                    "type-narrowed",
                )
            return
        new_node, new_ref = self._pair(old_node, candidates)
        if old_ref and new_ref:
            # A shared definition is compared once (enough to report it; ends recursive models).
            if (old_ref, new_ref) in self._seen:
                return
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
        self._compare_limits(old, new, path)
        self._compare_rules(old, new, path)
        if "properties" in old or "properties" in new or self._type_of(old) == "object":
            self._compare_object(old, new, path)
        if "items" in old and "items" in new and isinstance(old["items"], Mapping):
            self.compare(old["items"], new["items"], f"{path}[]")

    def _compare_limits(self, old: Schema, new: Schema, path: str) -> None:
        self._compare_upper_limits(old, new, path)
        self._compare_lower_limits(old, new, path)
        self._compare_exact(old, new, path)

    def _compare_upper_limits(self, old: Schema, new: Schema, path: str) -> None:
        for key in _UPPER_LIMITS:
            if self.forward:
                if key in old and (key not in new or new[key] > old[key]):
                    now = new.get(key, "none")
                    self.report(path, f"{key} raised from {old[key]} to {now}", "limit-widened")
            elif key in new and (key not in old or new[key] < old[key]):
                was = old.get(key, "none")
                self.report(path, f"{key} lowered from {was} to {new[key]}", "limit-narrowed")

    def _compare_lower_limits(self, old: Schema, new: Schema, path: str) -> None:
        for key in _LOWER_LIMITS:
            if self.forward:
                if key in old and (key not in new or new[key] < old[key]):
                    now = new.get(key, "none")
                    self.report(path, f"{key} lowered from {old[key]} to {now}", "limit-widened")
            elif key in new and (key not in old or new[key] > old[key]):
                was = old.get(key, "none")
                self.report(path, f"{key} raised from {was} to {new[key]}", "limit-narrowed")

    def _compare_exact(self, old: Schema, new: Schema, path: str) -> None:
        for key in _EXACT:
            changed = key in old if self.forward else key in new
            if changed and old.get(key) != new.get(key):
                self.report(
                    path, f"{key} changed from {old.get(key)!r} to {new.get(key)!r}", "pattern-changed"
                )

    def _compare_values(self, old: Schema, new: Schema, path: str) -> None:
        old_values = _allowed_values(old)
        new_values = _allowed_values(new)
        if self.forward:
            if old_values is None:
                return
            if new_values is None:
                self.report(
                    path, f"no longer limited to the values {_listed(old_values)}", "enum-value-added"
                )
                return
            added = [v for v in new_values if v not in old_values]
            if added:
                self.report(path, f"enum values added: {_listed(added)}", "enum-value-added")
            return
        if new_values is None:
            return
        if old_values is None:
            self.report(path, f"narrowed to the values {_listed(new_values)}", "enum-value-removed")
            return
        removed = [v for v in old_values if v not in new_values]
        if removed:
            self.report(path, f"enum values removed: {_listed(removed)}", "enum-value-removed")

    def _compare_rules(self, old: Schema, new: Schema, path: str) -> None:
        old_rules = _cross_field_rules(old)
        new_rules = _cross_field_rules(new)
        if self.forward:
            for rule in sorted(set(old_rules) - set(new_rules)):
                self.report(path, f"cross-field rule dropped: {old_rules[rule]}", "cross-field-rule-dropped")
        else:
            for rule in sorted(set(new_rules) - set(old_rules)):
                self.report(path, f"cross-field rule added: {new_rules[rule]}", "cross-field-rule-added")

    def _compare_object(self, old: Schema, new: Schema, path: str) -> None:
        old_props: Mapping[str, Any] = old.get("properties", {})
        new_props: Mapping[str, Any] = new.get("properties", {})
        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        self._compare_properties(old_props, new_props, path)
        if self.forward:
            self._compare_object_forward(old, new, path)
        else:
            self._compare_object_backward(old, new, path)
        if isinstance(old_extra, Mapping) and isinstance(new_extra, Mapping):
            self.compare(old_extra, new_extra, f"{path}{{}}")

    def _compare_properties(
        self, old_props: Mapping[str, Any], new_props: Mapping[str, Any], path: str
    ) -> None:
        """Each old property against its new schema; a removed one breaks backward."""
        for name, old_prop in old_props.items():
            if name not in new_props:
                if not self.forward:
                    self.report(f"{path}.{name}", "property removed or renamed", "field-removed")
            else:
                self.compare(old_prop, new_props[name], f"{path}.{name}")

    def _compare_object_forward(self, old: Schema, new: Schema, path: str) -> None:
        """What old readers of an object refuse: a field they need gone missing, unknown properties."""
        old_props: Mapping[str, Any] = old.get("properties", {})
        new_props: Mapping[str, Any] = new.get("properties", {})
        old_required = set(old.get("required", ()))
        new_required = set(new.get("required", ()))
        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        for name in sorted(old_required - new_required):
            self.report(f"{path}.{name}", "field no longer required", "required-dropped")
        for name in new_props:
            if name not in old_props and old_extra is False:
                self.report(f"{path}.{name}", "property added where old readers refuse it", "opened")
        if old_extra is False and new_extra is not False:
            self.report(path, "additional properties now allowed", "opened")

    def _compare_object_backward(self, old: Schema, new: Schema, path: str) -> None:
        """What the new object refuses that the old one accepted: new required fields, closing it."""
        old_props: Mapping[str, Any] = old.get("properties", {})
        old_required = set(old.get("required", ()))
        new_required = set(new.get("required", ()))
        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        for name in sorted(new_required - old_required):
            what = "new required field" if name not in old_props else "field became required"
            self.report(f"{path}.{name}", what, "required-added")
        if new_extra is False and old_extra is not False:
            self.report(path, "additional properties no longer allowed", "closed")


def _allowed_values(node: Schema) -> list[Any] | None:
    if "const" in node:
        return [node["const"]]
    if "enum" in node:
        return list(node["enum"])
    return None


def _listed(values: Iterable[Any]) -> list[str]:
    return sorted(map(str, values))


def _cross_field_rules(node: Schema) -> dict[str, str]:
    """``canonical form → name`` of the rules tying an object's fields together."""
    rules: dict[str, str] = {}
    for sub in node.get("allOf", ()):
        if isinstance(sub, Mapping) and ({"if", "not", "oneOf", "anyOf", "required"} & set(sub)):
            body = {k: v for k, v in sub.items() if k not in ("description", "title", "examples")}
            rules[json.dumps(body, sort_keys=True)] = str(sub.get("x-casemesh-rule") or "allOf entry")
    for key in ("dependentRequired", "dependentSchemas"):
        if key in node:
            rules[json.dumps({key: node[key]}, sort_keys=True)] = key
    for entry in node.get("x-casemesh-rules", ()):
        if isinstance(entry, Mapping) and not entry.get("in_schema", False):
            body = {"id": entry.get("id"), "check": entry.get("check")}
            rules[json.dumps(body, sort_keys=True)] = str(entry.get("id"))
    return rules


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


# ---------------------------------------------------------------------- catalogues


def load_snapshot(directory: Path) -> dict[str, dict[str, Any]]:
    """``message_type → entry`` from a directory of one JSON file per message type."""
    entries: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.json")):
        entry = json.loads(path.read_text(encoding="utf-8"))
        entries[str(entry["message_type"])] = entry
    return entries


def snapshot_problems(
    snapshot: Mapping[str, Mapping[str, Any]], current: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Every incompatibility between an earlier catalogue (``message_type → entry``) and the current one.

    A message type missing from the current catalogue is a problem too: consumers may still
    depend on it.
    """
    problems: list[str] = []
    for message_type, old in sorted(snapshot.items()):
        new = current.get(message_type)
        if new is None:
            problems.append(f"{message_type}: message type removed from the catalogue [message-type-removed]")
            continue
        moved = old.get("topic") != new.get("topic") and old.get("schema_version") == new.get(
            "schema_version"
        )
        if moved and old.get("topic") is not None:
            problems.append(
                f"{message_type}: moved from {old.get('topic')} to {new.get('topic')} [topic-changed]"
            )
        problems.extend(compatibility_problems(old, new))
    return problems


def explain(problems: Sequence[str]) -> str:
    """The problems, then the rules they cite, for a failure message."""
    cited = sorted({rule for rule in RULES for p in problems if f"{rule}]" in p})
    lines = [*problems, "", "Rules:"] + [f"  {rule}: {RULES[rule]}" for rule in cited]
    lines.append(
        "A breaking change needs the message's SCHEMA_VERSION raised and an upcaster "
        "(override upgrade_payload) so consumers read both versions; see docs/contracts.md."
    )
    return "\n".join(lines)
