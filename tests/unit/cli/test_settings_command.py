"""``casemesh settings SERVICE``, ``casemesh run --help`` and the warning of a ``CASEMESH_`` variable
that nothing reads."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

import casemesh.configuration as configuration
from casemesh.cli import main
from casemesh.configuration import UnknownVariable, mask_url, unknown_variables, warn_unknown_variables
from casemesh.run import EXIT_USAGE, load_settings
from casemesh.services import SERVICES

PASSWORD = "s3cret-value"
REPO = Path(__file__).resolve().parents[3]
#: A whole variable name, not the head of one built from parts (``CASEMESH_KAFKA_PASSWORD_${…}``).
VARIABLE = re.compile(r"\bCASEMESH_[A-Z0-9_]*[A-Z0-9](?![A-Za-z0-9_{$])")


@pytest.fixture(autouse=True)
def no_casemesh_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("CASEMESH_"):
            monkeypatch.delenv(name)


def test_a_misspelt_variable_is_unknown_and_the_closest_known_name_is_suggested() -> None:
    environ = {
        "CASEMESH_KAFKA_BOOTSTRAP_SERVER": "kafka:9092",
        "CASEMESH_REFERALS_HTTP_PORT": "8080",
        "CASEMESH_NOTHING_LIKE_IT": "x",
        "HOME": "/root",
    }

    assert unknown_variables(environ) == [
        UnknownVariable("CASEMESH_KAFKA_BOOTSTRAP_SERVER", "CASEMESH_KAFKA_BOOTSTRAP_SERVERS"),
        UnknownVariable("CASEMESH_NOTHING_LIKE_IT", None),
        UnknownVariable("CASEMESH_REFERALS_HTTP_PORT", "CASEMESH_REFERRALS_HTTP_PORT"),
    ]


def test_settings_of_any_service_and_the_repositorys_other_variables_are_known() -> None:
    environ = {
        "CASEMESH_KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
        "CASEMESH_TOPIC_PARTITIONS": "6",
        "CASEMESH_CONTACTS_ATTACHMENT_MAX_BYTES": "10",
        "CASEMESH_CASEWORK_SLAS": "{}",
        "casemesh_referrals_http_port": "8080",
        "CASEMESH_TEST_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:29092",
        "CASEMESH_LOCAL_KAFKA_PORT": "19092",
        "CASEMESH_CACHE_DIR": "/tmp",
        "CASEMESH_KAFKA_SECURITY_FILE": "/tmp/credentials.json",
        "CASEMESH_TOPIC_DEADLETTER_RETENTION_DAYS": "30",
        "CASEMESH_KAFKA_PASSWORD_REFERRALS": PASSWORD,
        "CASEMESH_MONGO_PASSWORD_CASEWORK": PASSWORD,
        "CASEMESH_CHAOS_REFERRALS_X": "1",
    }

    assert unknown_variables(environ) == []


def test_no_variable_the_image_compose_or_the_deployments_set_is_warned_of() -> None:
    deployed = [
        path
        for path in (REPO / "deploy").rglob("*")
        if path.is_file() and path.suffix in {".py", ".yml", ".yaml", ".env", ".js", ".json"}
    ]
    files = [REPO / "Dockerfile", REPO / "docker-compose.yml", REPO / "Makefile", *deployed]
    names = {name for path in files for name in VARIABLE.findall(path.read_text(encoding="utf-8"))}

    assert "CASEMESH_HEALTH_PORT" in names and "CASEMESH_REFERRALS_MONGODB_URL" in names
    assert unknown_variables(dict.fromkeys(names, "")) == []


def test_each_unknown_variable_is_one_warning_naming_it_never_its_value() -> None:
    warnings: list[tuple[str, dict[str, Any]]] = []

    warn_unknown_variables(
        {"CASEMESH_KAFKA_SASL_PASWORD": PASSWORD, "CASEMESH_HTTP_PORT": "8080"},
        "referrals",
        warn=lambda event, **fields: warnings.append((event, fields)),
    )

    assert len(warnings) == 1
    event, fields = warnings[0]
    assert event == "unknown_variable"
    assert fields["variable"] == "CASEMESH_KAFKA_SASL_PASWORD"
    assert fields["did_you_mean"] == "CASEMESH_KAFKA_SASL_PASSWORD"
    assert PASSWORD not in json.dumps(fields, default=str)


def test_casemesh_run_warns_of_unknown_variables_before_it_reads_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    warned: list[dict[str, Any]] = []
    monkeypatch.setattr(configuration, "log", lambda event, **fields: warned.append(fields))
    monkeypatch.setattr(configuration, "configure", lambda: None)
    monkeypatch.setenv("CASEMESH_COMPLAINTS_GRACEFUL_TIMEOUT", "5")

    load_settings("complaints")

    assert [w["variable"] for w in warned] == ["CASEMESH_COMPLAINTS_GRACEFUL_TIMEOUT"]
    assert warned[0]["did_you_mean"] == "CASEMESH_COMPLAINTS_GRACEFUL_TIMEOUT_S"


def test_a_urls_password_and_secret_options_are_masked() -> None:
    url = f"mongodb://casemesh_referrals:{PASSWORD}@mongo-1:27017,mongo-2:27017/db?replicaSet=rs0&tlsCertificateKeyFilePassword={PASSWORD}"

    masked = mask_url(url)

    assert PASSWORD not in masked
    assert masked == (
        "mongodb://casemesh_referrals:********@mongo-1:27017,mongo-2:27017/db"
        "?replicaSet=rs0&tlsCertificateKeyFilePassword=********"
    )
    assert mask_url("mongodb://mongo:27017/") == "mongodb://mongo:27017/"
    assert mask_url("kafka-1:9092") == "kafka-1:9092"


def test_casemesh_settings_prints_the_effective_settings_and_their_variables_with_secrets_masked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CASEMESH_KAFKA_BOOTSTRAP_SERVERS", "shared:9092")
    monkeypatch.setenv("CASEMESH_REFERRALS_KAFKA_SASL_PASSWORD", PASSWORD)
    monkeypatch.setenv("CASEMESH_IDENTITY_SERVICE_SECRET", PASSWORD)
    monkeypatch.setenv("CASEMESH_REFERRALS_MONGODB_URL", f"mongodb://referrals:{PASSWORD}@mongo:27017/")

    assert main(["settings", "referrals", "--json"]) == 0

    out = capsys.readouterr().out
    assert PASSWORD not in out
    document = json.loads(out)
    settings, sources = document["settings"], document["from"]
    assert document["service"] == "referrals"
    assert settings["kafka_bootstrap_servers"] == "shared:9092"
    assert sources["kafka_bootstrap_servers"] == "CASEMESH_KAFKA_BOOTSTRAP_SERVERS"
    assert settings["kafka_sasl_password"] == "********"
    assert sources["kafka_sasl_password"] == "CASEMESH_REFERRALS_KAFKA_SASL_PASSWORD"
    assert settings["identity_service_secret"] == "********"
    assert settings["kafka_sasl_username"] == ""
    assert settings["mongodb_url"] == "mongodb://referrals:********@mongo:27017/"
    assert (settings["batch_size"], sources["batch_size"]) == (2000, "default")
    assert settings["ps_teams"]["PS Team 1"] == ["EMP30101", "EMP30102", "EMP30103"]

    assert main(["settings", "referrals"]) == 0
    text = capsys.readouterr().out
    assert PASSWORD not in text
    assert "kafka_bootstrap_servers" in text and "shared:9092  # CASEMESH_KAFKA_BOOTSTRAP_SERVERS" in text


def test_casemesh_settings_refuses_invalid_settings_naming_the_variable_not_the_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CASEMESH_APPROVALS_BATCH_SIZE", "s3cret")

    assert main(["settings", "approvals"]) == EXIT_USAGE

    err = capsys.readouterr().err
    assert "CASEMESH_APPROVALS_BATCH_SIZE: Input should be a valid integer" in err
    assert "s3cret" not in err


def test_casemesh_settings_needs_a_known_service_or_the_doc_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as missing:
        main(["settings"])
    assert missing.value.code == 2
    err = capsys.readouterr().err
    assert all(name in err for name in SERVICES)

    assert main(["settings", "billing"]) == EXIT_USAGE
    assert "unknown service 'billing'" in capsys.readouterr().err


def test_run_help_lists_the_services_and_every_setting_with_its_default_and_description(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as shown:
        main(["run", "--help"])
    assert shown.value.code == 0

    help_text = capsys.readouterr().out
    assert "usage: casemesh run [-h] SERVICE" in help_text
    assert f"services: {', '.join(SERVICES)}" in help_text
    assert "CASEMESH_<SETTING>" in help_text and "casemesh settings SERVICE" in help_text
    assert "  KAFKA_BOOTSTRAP_SERVERS = localhost:9092\n      The brokers to start from" in help_text
    assert "  KAFKA_SASL_PASSWORD = (empty)" in help_text
    assert "referrals (CASEMESH_REFERRALS_<SETTING>)" in help_text
    assert "  ATTACHMENT_MAX_BYTES = 0" in help_text  # seed 004: no limit unless the agency sets one
    assert all(f"{name} (CASEMESH_{name.upper()}_<SETTING>)" in help_text for name in SERVICES)
