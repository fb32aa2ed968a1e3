"""Rules every message in the catalogue follows."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import typing
from collections.abc import Iterator, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from helpers_contracts import an_actor, example
from pydantic import BaseModel, ValidationError

from contracts.base import Actor, Command, Event, Rejection, Role, StaffReference
from contracts.catalogue import ALL_MESSAGES, channels
from contracts.catalogue.referrals import AssignCustomerToPS
from contracts.envelope import Envelope
from contracts.export import example_payload
from contracts.topics import SERVICES, TOPICS, TopicKind, events_topic, topic_of

COMMANDS = [cls for cls in ALL_MESSAGES if issubclass(cls, Command)]
EVENTS = [cls for cls in ALL_MESSAGES if issubclass(cls, Event)]
CONTRACTS_DIR = Path(__file__).resolve().parents[3] / "contracts"


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _all_models() -> list[type[BaseModel]]:
    seen: dict[type[BaseModel], None] = {}
    todo: list[type[BaseModel]] = [*ALL_MESSAGES, Envelope]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen[model] = None
        for field in model.model_fields.values():
            todo.extend(_models_in(field.annotation))
    return list(seen)


def _walk(
    node: Any, root: Mapping[str, Any], path: str, seen: frozenset[str] = frozenset()
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every schema node, with ``$ref`` into ``$defs`` followed."""
    if not isinstance(node, Mapping):
        return
    if "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            return
        name = ref.rsplit("/", 1)[-1]
        yield from _walk(root["$defs"][name], root, f"{path}<{name}>", seen | {ref})
        return
    yield path, node
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for i, sub in enumerate(node.get(key, ())):
            yield from _walk(sub, root, f"{path}|{i}", seen)
    for name, sub in node.get("properties", {}).items():
        yield from _walk(sub, root, f"{path}.{name}", seen)
    for key in ("items", "additionalProperties", "propertyNames"):
        if isinstance(node.get(key), Mapping):
            yield from _walk(node[key], root, f"{path}{{{key}}}", seen)


# ------------------------------------------------------------------------- naming and uniqueness


def test_message_types_are_unique_across_the_whole_catalogue() -> None:
    names = [cls.MESSAGE_TYPE for cls in ALL_MESSAGES]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert len(set(ALL_MESSAGES)) == len(ALL_MESSAGES)


def test_every_message_travels_on_exactly_one_topic() -> None:
    for cls in ALL_MESSAGES:
        homes = [t.name for t in TOPICS.values() if cls in t.messages]
        assert len(homes) == 1, (cls.MESSAGE_TYPE, homes)
        assert topic_of(cls).name == homes[0]


def test_a_message_type_defaults_to_its_class_name_and_starts_at_version_1() -> None:
    for cls in ALL_MESSAGES:
        assert cls.__name__ == cls.MESSAGE_TYPE
        assert cls.SCHEMA_VERSION >= 1


IMPERATIVE_VERBS = {
    "Action", "Add", "Arrange", "Assess", "Assign", "Check", "Claim", "Close", "Complete", "Cover",
    "Create", "Decide", "Edit", "End", "Escalate", "Expire", "Finalise", "Identify", "Issue", "Lock", "Mark",
    "Pause", "Propose", "Reassign", "Recategorise", "Record", "Refer", "Release", "Request", "Resolve",
    "Respond", "Resume", "Retry", "Schedule", "Send", "Start", "Transfer", "Unlock", "Warm",
    "Withdraw",
}  # fmt: skip
IRREGULAR_PAST = ("Sent", "Withdrawn", "Fell")  # irregular past tenses in use


def _words(name: str) -> list[str]:
    return re.findall(r"[A-Z]+(?=[A-Z][a-z]|$)|[A-Z][a-z]*", name)


def test_commands_have_imperative_names() -> None:
    for cls in COMMANDS:
        first = _words(cls.__name__)[0]
        assert first in IMPERATIVE_VERBS, f"{cls.__name__} should start with a verb in the imperative"
        assert not cls.__name__.endswith("ed"), cls.__name__


def test_events_have_past_tense_names_and_dispatches_are_nouns() -> None:
    for cls in EVENTS:
        name = cls.__name__
        if topic_of(cls).kind is TopicKind.DISPATCH:
            assert name.endswith("Dispatch"), name
        else:
            words = _words(name)
            assert any(w.endswith("ed") or w in IRREGULAR_PAST for w in words[1:]), f"{name}: not past tense"
        assert _words(name)[0] not in {"Send", "Record", "Assign", "Create"}, name


def test_refusals_are_rejections_with_a_reason_code_enum() -> None:
    for cls in EVENTS:
        if issubclass(cls, Rejection):
            assert cls.__name__.endswith("Rejected"), cls.__name__
            annotation = cls.model_fields["reason_code"].annotation
            assert (
                isinstance(annotation, type) and issubclass(annotation, Enum) and issubclass(annotation, str)
            )
            assert len(list(annotation)) >= 3


def test_every_service_publishes_its_refusals_on_its_own_events_topic() -> None:
    for svc in SERVICES:
        refusals = [cls for cls in TOPICS[events_topic(svc)].messages if issubclass(cls, Rejection)]
        assert refusals, svc


def test_the_approvals_reason_codes_cover_segregation_of_duties() -> None:
    from contracts.catalogue.approvals import ApprovalsReasonCode

    wanted = {
        "ROLE_NOT_HELD",
        "SELF_APPROVAL",
        "ACTED_ON_EARLIER_STAGE",
        "ALREADY_DECIDED",
        "WITHDRAWN",
        "SUBJECT_CLOSED",
    }
    assert wanted <= {c.value for c in ApprovalsReasonCode}


def test_the_referrals_reason_codes_cover_the_named_refusals() -> None:
    from contracts.catalogue.referrals import ReferralsReasonCode

    wanted = {
        "UNKNOWN_CUSTOMER", "ALREADY_IN_PS", "OFFICER_NOT_IN_TEAM", "ASSOCIATE_NOT_IN_PS", "NOT_ASSIGNED",
        "NOT_ASSIGNED_TEAM", "INVALID_STATE", "SPECIALISED_ISSUES_OUTSTANDING", "INTRAY_ISSUES_OUTSTANDING",
        "INVALID_AMOUNT", "UNKNOWN_FREQUENCY", "START_DATE_IN_PAST", "MCA_OUTCOME_REQUIRED",
    }  # fmt: skip
    assert wanted <= {c.value for c in ReferralsReasonCode}


def test_the_complaints_reason_codes_refuse_escalation_at_level_2() -> None:
    from contracts.catalogue.complaints import ComplaintsReasonCode

    assert ComplaintsReasonCode.ESCALATION_NOT_ALLOWED_AT_LEVEL_2.value == "ESCALATION_NOT_ALLOWED_AT_LEVEL_2"


# ------------------------------------------------------------------------- documentation


def test_every_field_has_a_description_and_an_example() -> None:
    missing = [
        f"{model.__name__}.{name}"
        for model in _all_models()
        for name, field in model.model_fields.items()
        if not field.description or not field.examples
    ]
    assert not missing, missing


def test_every_message_has_a_docstring() -> None:
    for cls in ALL_MESSAGES:
        assert cls.__doc__ and cls.__doc__.strip(), cls.__name__


def test_every_message_example_is_itself_valid() -> None:
    for cls in ALL_MESSAGES:
        assert type(example(cls)) is cls


# ------------------------------------------------------------------------- commands are bounded and strict

UNBOUNDED_STRING_FORMATS = {"uuid", "date", "date-time"}


def test_every_command_string_list_and_map_has_a_maximum_length() -> None:
    problems = []
    for cls in COMMANDS:
        schema = cls.model_json_schema(mode="validation")
        for path, node in _walk(schema, schema, cls.__name__):
            kind = node.get("type")
            if (
                kind == "string"
                and "enum" not in node
                and "const" not in node
                and node.get("format") not in UNBOUNDED_STRING_FORMATS
                and "maxLength" not in node
            ):
                problems.append(f"{path}: string without maxLength")
            if kind == "array" and "maxItems" not in node:
                problems.append(f"{path}: array without maxItems")
            if (
                kind == "object"
                and isinstance(node.get("additionalProperties"), Mapping)
                and "maxProperties" not in node
            ):
                problems.append(f"{path}: map without maxProperties")
    assert not problems, problems


def test_every_command_model_and_its_parts_are_strict_and_closed() -> None:
    todo: list[type[BaseModel]] = list(COMMANDS)
    seen: set[type[BaseModel]] = set()
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        assert model.model_config.get("extra") == "forbid", model.__name__
        assert model.model_config.get("strict") is True, model.__name__
        assert model.model_config.get("frozen") is True, model.__name__
        for field in model.model_fields.values():
            todo.extend(_models_in(field.annotation))


def test_every_event_ignores_unknown_fields_and_is_frozen() -> None:
    for cls in EVENTS:
        assert cls.model_config.get("extra") == "ignore", cls.__name__
        assert cls.model_config.get("frozen") is True, cls.__name__


def test_a_command_refuses_an_overlong_string_even_where_no_limit_is_declared() -> None:
    payload = {**example_payload(AssignCustomerToPS), "team": "x" * 101}
    with pytest.raises(ValidationError):
        AssignCustomerToPS.model_validate_json(json.dumps(payload))


def test_every_command_names_its_actor() -> None:
    for cls in COMMANDS:
        field = cls.model_fields["actor"]
        assert field.annotation is Actor and field.is_required(), cls.__name__


def test_a_command_is_immutable() -> None:
    command = example(AssignCustomerToPS)
    with pytest.raises(ValidationError):
        command.team = "Other"  # type: ignore[misc]


def test_a_model_validator_keeps_an_associate_referral_whole() -> None:
    payload = {
        **example_payload(AssignCustomerToPS),
        "referral_type": "OTHER",
        "associate_of_csid": "987654321",
    }
    with pytest.raises(ValidationError):
        AssignCustomerToPS.model_validate_json(json.dumps(payload))
    payload["associate_of_csid"] = None
    assert AssignCustomerToPS.model_validate_json(json.dumps(payload)).associate_of_csid is None
    with pytest.raises(ValidationError):
        AssignCustomerToPS.model_validate_json(json.dumps({**payload, "referral_type": "ASSOCIATE"}))


# ------------------------------------------------------------------------- staff referencing (seed 003)


@pytest.mark.parametrize("key", ["surname", "last_name", "family_name"])
def test_an_actor_refuses_a_surname(key: str) -> None:
    data = {**an_actor().model_dump(mode="json"), key: "Citizen"}
    for validate in (Actor.model_validate, lambda d: Actor.model_validate_json(json.dumps(d))):
        with pytest.raises(ValidationError) as caught:
            validate(data)
        assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [((key,), "extra_forbidden")]
    with pytest.raises(ValidationError):
        StaffReference.model_validate({k: v for k, v in data.items() if k != "role"})


def test_an_actor_carries_only_first_name_site_team_and_extension_besides_id_and_role() -> None:
    assert set(Actor.model_fields) == {"officer_id", "role", "first_name", "site", "team", "extension"}
    assert set(StaffReference.model_fields) == {"officer_id", "first_name", "site", "team", "extension"}


def test_an_actor_extension_is_digits_only() -> None:
    with pytest.raises(ValidationError):
        Actor(officer_id="E1", role=Role.CSO, first_name="Priya", site="Hobart", team="T", extension="x4471")


def test_a_system_actor_is_a_valid_actor_for_timers() -> None:
    actor = Actor.system("referrals-timers")
    assert actor.role is Role.SYSTEM and Actor.model_validate_json(actor.model_dump_json()) == actor


def test_no_field_anywhere_is_named_like_a_surname() -> None:
    for model in _all_models():
        for name in model.model_fields:
            assert name not in {"surname", "last_name", "lastname"}, f"{model.__name__}.{name}"


# ----------------------------------------------------------- customers never see ownership (seed 001)

OWNERSHIP_WORDS = ("owner", "ownership", "lock", "locked", "area", "specialist")


def test_nothing_sent_to_a_customer_carries_ownership_details() -> None:
    for cls in channels.DISPATCHES.values():
        schema = cls.model_json_schema()
        for path, _node in _walk(schema, schema, cls.__name__):
            last = path.rsplit(".", 1)[-1].lower()
            assert not any(word in last for word in OWNERSHIP_WORDS), path


# ------------------------------------------------------------------------- standalone package


def test_contracts_import_nothing_but_pydantic_and_the_standard_library() -> None:
    forbidden = (
        "faststream",
        "pymongo",
        "aiokafka",
        "rich",
        "jinja2",
        "motor",
        "kit",
        "services",
        "casemesh",
    )
    pattern = re.compile(r"^\s*(?:from|import)\s+([a-zA-Z_][\w]*)", re.MULTILINE)
    for path in CONTRACTS_DIR.rglob("*.py"):
        imported = set(pattern.findall(path.read_text(encoding="utf-8")))
        assert not imported & set(forbidden), (path.name, imported & set(forbidden))
    code = (
        "import sys, contracts, contracts.export, contracts.compat;"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {forbidden!r}];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
