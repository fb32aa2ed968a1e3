"""``casemesh dlq`` without a broker: what it shows of a dead letter, what a replay publishes, which
dead letters a command picks, and who may do what (casemesh/dlq.py, docs/operators.md)."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import time
from argparse import Namespace
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from pydantic import SecretStr

from casemesh import cli, dlq
from casemesh.dlq import (
    MASK,
    REPLAYED_FROM,
    REPLAYED_FROM_MESSAGE_ID,
    Console,
    DeadLetter,
    DlqError,
    Identities,
    OperatorSettings,
    Refused,
    Selection,
    bare,
    confirmed,
    human_age,
    masked_envelope,
    masked_headers,
    parse_age,
    plan_replay,
    purge_bounds,
    replayed_value,
)
from contracts.base import Actor, Role
from contracts.catalogue.operations import DeadLetterReplayed
from contracts.envelope import IDENTITY_HEADER, Envelope
from contracts.topics import commands_topic, deadletter_topic, events_topic
from kit.identity import development_token
from kit.transport import KafkaCluster
from tests.unit.complaints.helpers_complaints import CSID, OFFICER, record_complaint

SUFFIX = ".t0a1b2c3d"
NOW = 1_800_000_000.0
COMPLAINT = record_complaint()
ENVELOPE = Envelope.wrap(
    COMPLAINT, csid=CSID, producer="upstream", occurred_at=datetime(2026, 11, 21, tzinfo=UTC)
)
VALUE = ENVELOPE.to_bytes()
#: What the complaint says, and about whom: none of it may be shown unless revealed.
PERSONAL = [
    CSID,
    COMPLAINT.details,
    "call-back",
    OFFICER.first_name,
    OFFICER.officer_id,
    "Parramatta",
    "4471",
    "COMPLAINT HANDLING",
]


def dead_letter(
    value: bytes = VALUE,
    *,
    service: str = "complaints",
    original: str = commands_topic("complaints") + SUFFIX,
    reason: str = "too_large",
    partition: int = 3,
    offset: int = 7,
    age_s: float = 60.0,
    **headers: str,
) -> DeadLetter:
    return DeadLetter(
        service=service,
        topic=deadletter_topic(service) + SUFFIX,
        partition=partition,
        offset=offset,
        timestamp_ms=int((NOW - age_s) * 1000),
        key=CSID.encode(),
        value=value,
        headers={
            "x-original-topic": original,
            "x-original-partition": "3",
            "x-original-offset": "41",
            "x-original-size": str(len(value)),
            "x-original-sha256": hashlib.sha256(value).hexdigest(),
            "x-truncated": "false",
            "x-error-class": "Malformed",
            "x-reason-code": reason,
            "x-reason": "90000 bytes is over the 300-byte cap",
            **headers,
        },
    )


def settings(**values: str) -> OperatorSettings:
    return OperatorSettings.from_environ({f"CASEMESH_{k.upper()}": v for k, v in values.items()})


IDENTITIES = Identities(settings())


def officer_token() -> str:
    return development_token(OFFICER.officer_id, [OFFICER.role])


# ------------------------------------------------------------------------------- what is shown


def test_a_masked_dead_letter_keeps_its_structure_and_envelope_ids_and_shows_no_payload_value() -> None:
    shown = masked_envelope(VALUE)
    text = json.dumps(shown, ensure_ascii=False)
    for secret in PERSONAL:
        assert secret not in text, secret
    assert shown["message_id"] == str(ENVELOPE.message_id)
    assert shown["correlation_id"] == str(ENVELOPE.correlation_id)
    assert shown["message_type"] == "RecordComplaint"
    assert shown["schema_version"] == 1 and shown["producer"] == "upstream"
    assert shown["csid"] == f"{MASK}(9)"
    payload = shown["payload"]
    assert set(payload) == set(json.loads(VALUE)["payload"]), "every key is kept"
    assert payload["details"] == f"{MASK}({len(COMPLAINT.details)})"
    assert payload["level"] == f"{MASK}(number)"
    assert payload["actor"]["first_name"] == f"{MASK}({len(OFFICER.first_name)})"
    assert len(payload["issues"]) == len(COMPLAINT.issues), "lists keep their length"


def test_a_type_outside_the_catalogue_and_a_map_key_made_of_data_are_masked_too() -> None:
    value = json.dumps(
        {
            "message_id": "not-a-uuid Jane Citizen",
            "message_type": "Jane Citizen's complaint",
            "producer": "Jane Citizen, 1 High St",
            "payload": {"0412345678": True, "note": None},
        }
    ).encode()
    shown = masked_envelope(value)
    assert "Jane" not in json.dumps(shown) and "0412345678" not in json.dumps(shown)
    assert shown["payload"] == {f"{MASK}(key 10)": f"{MASK}(boolean)", "note": None}


def test_a_value_that_is_not_json_shows_only_what_it_is_and_its_size() -> None:
    assert masked_envelope(b"Jane Citizen 0412345678") == f"{MASK} not JSON, 23 bytes"
    assert masked_envelope(b"\xff\xfeJane") == f"{MASK} not UTF-8, 6 bytes"


def test_the_dead_letter_headers_are_shown_and_any_other_header_is_masked() -> None:
    letter = dead_letter(**{"x-sender-note": "Jane Citizen"})
    shown = masked_headers(letter.headers)
    assert shown["x-reason-code"] == "too_large"
    assert shown["x-original-topic"] == commands_topic("complaints") + SUFFIX
    assert shown["x-sender-note"] == f"{MASK}(12)"


def test_a_listed_dead_letter_says_where_it_came_from_and_why_but_nothing_of_its_payload() -> None:
    summary = dead_letter().summary(NOW, replayed=False)
    assert summary["original"] == f"{commands_topic('complaints')}{SUFFIX}/3/41"
    assert summary["reason_code"] == "too_large" and summary["age_s"] == 60
    assert not any(secret in json.dumps(summary) for secret in PERSONAL)


# ------------------------------------------------------------------------------- what a replay publishes


def test_a_replayed_envelope_gets_a_new_message_id_and_keeps_every_other_byte() -> None:
    new = uuid4()
    value, message_id, original = replayed_value(VALUE, new)
    assert (message_id, original) == (new, ENVELOPE.message_id)
    assert value == VALUE.replace(str(ENVELOPE.message_id).encode(), str(new).encode(), 1)
    assert Envelope.from_bytes(value).correlation_id == ENVELOPE.correlation_id


def test_a_record_that_is_not_an_envelope_is_replayed_byte_for_byte() -> None:
    for value in (b"not json at all", b'{"message_id": "nope"}', b"[1, 2]"):
        assert replayed_value(value) == (value, None, None)


def test_a_replay_goes_to_the_original_topic_keyed_as_before_with_headers_linking_it_to_its_dead_letter() -> (
    None
):
    letter = dead_letter(**{"content-type": "", "correlation_id": str(uuid4())})
    token = officer_token()
    replay = plan_replay(letter, suffix=SUFFIX, identity_token=token, check_identity=IDENTITIES.fit_for)
    assert replay.topic == commands_topic("complaints") + SUFFIX
    assert replay.key == CSID.encode()
    assert replay.headers[REPLAYED_FROM] == f"{deadletter_topic('complaints')}{SUFFIX}/3/7".encode()
    assert replay.headers[REPLAYED_FROM_MESSAGE_ID] == str(ENVELOPE.message_id).encode()
    assert replay.headers[IDENTITY_HEADER] == token.encode()
    assert set(replay.headers) == {REPLAYED_FROM, REPLAYED_FROM_MESSAGE_ID, IDENTITY_HEADER}, "nothing else"
    assert json.loads(replay.value)["message_id"] == str(replay.message_id) != str(ENVELOPE.message_id)


def test_an_officers_command_is_replayed_only_with_a_fresh_token_of_that_officer() -> None:
    letter = dead_letter()
    with pytest.raises(Refused, match="--identity-token"):
        plan_replay(letter, suffix=SUFFIX, identity_token=None, check_identity=IDENTITIES.fit_for)
    someone_else = development_token("EMP99999", [Role.COMPLAINTS_OFFICER])
    with pytest.raises(Refused, match="subject"):
        plan_replay(letter, suffix=SUFFIX, identity_token=someone_else, check_identity=IDENTITIES.fit_for)
    expired = development_token(OFFICER.officer_id, [OFFICER.role], ttl_s=1, now=time.time() - 7200)
    with pytest.raises(Refused, match="expired"):
        plan_replay(letter, suffix=SUFFIX, identity_token=expired, check_identity=IDENTITIES.fit_for)


def test_a_services_own_command_is_never_replayed_by_an_operator() -> None:
    timer = json.loads(VALUE)
    timer["payload"]["actor"] = Actor.system("timers").model_dump(mode="json")
    with pytest.raises(Refused, match="SYSTEM"):
        plan_replay(dead_letter(json.dumps(timer).encode()), suffix=SUFFIX, identity_token=officer_token())


def test_a_record_from_an_events_topic_is_refused_and_the_operator_pointed_at_a_rebuild() -> None:
    letter = dead_letter(service="contacts", original=events_topic("notifications") + SUFFIX)
    with pytest.raises(Refused, match="casemesh rebuild contacts"):
        plan_replay(letter, suffix=SUFFIX, identity_token=officer_token())


def test_a_topic_of_another_deployment_or_one_the_service_does_not_read_is_refused() -> None:
    with pytest.raises(Refused, match="not a topic of this deployment"):
        plan_replay(dead_letter(), suffix=".tffffffff", identity_token=officer_token())
    with pytest.raises(Refused, match="not a topic complaints reads"):
        plan_replay(
            dead_letter(original=commands_topic("referrals") + SUFFIX), suffix=SUFFIX, identity_token="t"
        )


def test_a_truncated_or_altered_dead_letter_is_not_replayed() -> None:
    with pytest.raises(Refused, match="x-truncated"):
        plan_replay(dead_letter(**{"x-truncated": "true"}), suffix=SUFFIX, identity_token=officer_token())
    altered = dead_letter(**{"x-original-sha256": "0" * 64})
    with pytest.raises(Refused, match="sha256"):
        plan_replay(altered, suffix=SUFFIX, identity_token=officer_token())


def test_an_audit_event_is_a_bare_event_with_its_type_in_the_headers_and_no_payload() -> None:
    event = DeadLetterReplayed(
        service="complaints",
        deadletter_topic="casemesh.complaints.deadletter.v1",
        deadletter_partition=3,
        deadletter_offset=7,
        original_topic="casemesh.complaints.commands.v1",
        original_partition=3,
        original_offset=41,
        replayed_partition=3,
        replayed_offset=42,
        message_id=uuid4(),
        replayed_from_message_id=ENVELOPE.message_id,
        reason_code="too_large",
        identity_attached=True,
        operator_id="OPS-1",
        replayed_at=datetime.now(UTC),
    )
    value, headers = bare(event)
    assert dict(headers) == {"message-type": b"DeadLetterReplayed", "schema-version": b"1"}
    assert DeadLetterReplayed.model_validate_json(value) == event
    assert UUID(json.loads(value)["replayed_from_message_id"]) == ENVELOPE.message_id


# ------------------------------------------------------------------------------- which dead letters


def test_a_selection_picks_one_record_a_reason_a_range_or_an_age() -> None:
    letters = [
        dead_letter(partition=p, offset=o, reason=r, age_s=a)
        for p, o, r, a in [
            (0, 0, "too_large", 10),
            (0, 1, "schema_violation", 7200),
            (1, 0, "too_large", 90_000),
        ]
    ]

    def picked(selection: Selection) -> list[tuple[int, int]]:
        return [(d.partition, d.offset) for d in letters if selection.matches(d, NOW)]

    assert picked(Selection(partition=0, offset=1)) == [(0, 1)]
    assert picked(Selection(reason="too_large")) == [(0, 0), (1, 0)]
    assert picked(Selection(partition=0, first=0, last=0)) == [(0, 0)]
    assert picked(Selection(older_than_s=3600)) == [(0, 1), (1, 0)]
    assert picked(Selection(reason="too_large", newer_than_s=3600)) == [(0, 0)]


def test_ages_are_written_as_seconds_minutes_hours_or_days() -> None:
    assert [parse_age(a) for a in ("90s", "15m", "2h", "7d")] == [90, 900, 7200, 604_800]
    with pytest.raises(argparse.ArgumentTypeError, match="not an age"):
        parse_age("a week")
    assert [human_age(s) for s in (59, 600, 7300, 400_000)] == ["59s", "10m", "2h", "4d"]


def test_a_purge_deletes_before_an_offset_before_the_first_younger_record_or_everything() -> None:
    letters = [dead_letter(partition=0, offset=o, age_s=a) for o, a in [(5, 90_000), (6, 80_000), (7, 10)]]
    bounds = {0: (5, 8), 1: (0, 0)}

    def purge(**choice: object) -> dict[int, int]:
        args = Namespace(**{"all": False, "before": None, "older_than": None, **choice})
        return purge_bounds(bounds, letters, args, NOW)

    assert purge(all=True) == {0: 8, 1: 0}
    assert purge(before=6) == {0: 6, 1: 0}
    assert purge(before=99) == {0: 8, 1: 0}
    assert purge(older_than=86_400.0) == {0: 6, 1: 0}


# ------------------------------------------------------------------------------- who may do what


def test_only_a_service_support_officer_or_service_manager_may_act_and_only_privilege_5_may_reveal() -> None:
    support = development_token("OPS-1", [Role.SERVICE_SUPPORT_OFFICER], privilege=3)
    assert IDENTITIES.operator(support).officer_id == "OPS-1"
    with pytest.raises(DlqError, match="casemesh_privilege"):
        IDENTITIES.operator(support, reveal=True)
    manager = development_token("OPS-2", [Role.SERVICE_MANAGER], privilege=5)
    assert IDENTITIES.operator(manager, reveal=True).privilege == 5
    with pytest.raises(DlqError, match="neither"):
        IDENTITIES.operator(development_token("EMP1", [Role.CSO], privilege=5))
    with pytest.raises(DlqError, match="identity token"):
        IDENTITIES.operator("")
    with pytest.raises(DlqError, match="not a JWT"):
        IDENTITIES.operator("forged")


def test_reveal_without_privilege_is_refused_before_the_broker_is_reached() -> None:
    err = io.StringIO()
    token = development_token("OPS-1", [Role.SERVICE_SUPPORT_OFFICER], privilege=4)
    environ = {"CASEMESH_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "CASEMESH_OPERATOR_TOKEN": token}
    status = dlq.main(
        ["show", "--service", "complaints", "--partition", "0", "--offset", "0", "--reveal"],
        environ=environ,
        out=io.StringIO(),
        err=err,
    )
    assert status == dlq.EXIT_FAILED
    assert "not authorised to reveal" in err.getvalue()


@pytest.mark.parametrize(
    "argv",
    [
        ["replay", "--service", "complaints"],
        ["replay", "--service", "complaints", "--offset", "3"],
        ["replay", "--service", "complaints", "--partition", "0", "--offset", "3", "--from-offset", "1"],
        ["replay", "--service", "complaints", "--partition", "0", "--from-offset", "5", "--to-offset", "1"],
        ["purge", "--service", "complaints", "--before", "3"],
    ],
)
def test_a_command_that_does_not_say_which_dead_letters_is_refused(argv: list[str]) -> None:
    err = io.StringIO()
    assert dlq.main(argv, environ={}, out=io.StringIO(), err=err) == dlq.EXIT_USAGE
    assert err.getvalue().startswith("casemesh dlq ")


def test_a_purge_or_bulk_replay_needs_the_service_typed_back_or_yes() -> None:
    def console(answer: str, interactive: bool = True) -> Console:
        return Console(io.StringIO(), io.StringIO(), lambda _prompt: answer, interactive)

    assert confirmed(console("complaints"), False, "Delete?", "complaints")
    assert not confirmed(console("y"), False, "Delete?", "complaints")
    assert not confirmed(console("complaints", interactive=False), False, "Delete?", "complaints")
    assert confirmed(console("", interactive=False), True, "Delete?", "complaints")


# ------------------------------------------------------------------------------- settings and the command


def test_the_operator_connects_with_the_shared_kafka_variables(tmp_path: Path) -> None:
    access = settings(
        kafka_bootstrap_servers="kafka:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="operator",
        kafka_sasl_password="s3cret",
    ).access()
    assert (access.kafka_bootstrap_servers, access.kafka_sasl_username) == ("kafka:9093", "operator")
    credentials = KafkaCluster(
        "127.0.0.1:29092", "SASL_SSL", passwords={"operator": SecretStr("x"), "admin": SecretStr("y")}
    ).write(tmp_path / "credentials.json")
    from_file = settings(kafka_security_file=str(credentials)).access()
    assert (from_file.kafka_bootstrap_servers, from_file.kafka_sasl_username) == (
        "127.0.0.1:29092",
        "operator",
    )


def test_production_settings_refuse_the_development_key_and_an_unencrypted_broker() -> None:
    with pytest.raises(DlqError, match="CASEMESH_IDENTITY_JWKS") as refused:
        settings(environment="production")
    assert "SASL_SSL" in str(refused.value) and refused.value.status == dlq.EXIT_USAGE
    with pytest.raises(DlqError, match="CASEMESH_KAFKA_SECURITY_PROTOCOL"):
        settings(kafka_security_protocol="TELNET")


def test_casemesh_offers_dlq_with_its_four_actions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["dlq", "--help"])
    assert done.value.code == 0
    help_text = capsys.readouterr().out
    assert all(action in help_text for action in ("list", "show", "replay", "purge"))
