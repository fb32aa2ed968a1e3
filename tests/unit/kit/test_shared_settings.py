"""Shared ``CASEMESH_<SETTING>`` variables configure every service; its own ``CASEMESH_<SERVICE>_…``
variable wins; variables that are not settings are never read as settings."""

from __future__ import annotations

import os

import pytest

from casemesh.run import EXIT_USAGE, RunError, load_settings
from kit.settings import (
    OTHER_PREFIXES,
    OTHER_VARIABLES,
    OWN_ONLY,
    SHARED_VARIABLES,
    ServiceSettings,
)
from services.approvals.settings import ApprovalsSettings
from services.casework.settings import CaseworkSettings
from services.referrals.settings import ReferralsSettings


@pytest.fixture(autouse=True)
def no_casemesh_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("CASEMESH_"):
            monkeypatch.delenv(name)


def test_a_shared_variable_configures_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEMESH_KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("CASEMESH_MONGODB_URL", "mongodb://mongo:27017/")
    monkeypatch.setenv("CASEMESH_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")

    for settings in (ReferralsSettings(), ApprovalsSettings(), CaseworkSettings()):
        assert settings.kafka_bootstrap_servers == "kafka-1:9092,kafka-2:9092"
        assert settings.mongodb_url == "mongodb://mongo:27017/"
        assert settings.kafka_security_protocol == "SASL_SSL"


def test_a_services_own_variable_wins_over_the_shared_one_and_a_keyword_over_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CASEMESH_KAFKA_BOOTSTRAP_SERVERS", "shared:9092")
    monkeypatch.setenv("CASEMESH_REFERRALS_KAFKA_BOOTSTRAP_SERVERS", "own:9092")

    assert ReferralsSettings().kafka_bootstrap_servers == "own:9092"
    assert ApprovalsSettings().kafka_bootstrap_servers == "shared:9092"
    assert ReferralsSettings(kafka_bootstrap_servers="kw:9092").kafka_bootstrap_servers == "kw:9092"


def test_casemesh_run_reads_the_shared_bootstrap_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEMESH_KAFKA_BOOTSTRAP_SERVERS", "shared:9092")

    assert load_settings("complaints").kafka_bootstrap_servers == "shared:9092"


def test_the_defaults_are_a_broker_and_a_store_at_their_usual_ports() -> None:
    settings = ReferralsSettings()
    assert settings.kafka_bootstrap_servers == "localhost:9092"
    assert settings.mongodb_url == "mongodb://localhost:27017/"
    assert settings.topic_partitions == 6


def test_settings_that_name_one_services_own_things_have_no_shared_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CASEMESH_SERVICE_NAME", "everyone")
    monkeypatch.setenv("CASEMESH_MONGODB_DATABASE", "one_for_all")
    monkeypatch.setenv("CASEMESH_CONSUMER_GROUP", "one-group")

    settings = ReferralsSettings()
    assert (settings.service_name, settings.mongodb_database, settings.consumer_group) == (
        "referrals",
        "casemesh_referrals",
        "casemesh-referrals",
    )
    assert OWN_ONLY.isdisjoint(SHARED_VARIABLES)
    assert set(SHARED_VARIABLES) | OWN_ONLY == set(ServiceSettings.model_fields)


def test_a_services_own_settings_are_never_read_from_a_shared_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CASEMESH_PS_TEAMS", "not json at all")
    monkeypatch.setenv("CASEMESH_AGENCY_TIMEZONE", "Mars/Olympus")

    settings = ReferralsSettings()
    assert settings.agency_timezone == "Australia/Sydney"
    assert "PS Team 1" in settings.ps_teams


def test_the_repositorys_other_variables_are_never_read_as_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTHER_VARIABLES:
        monkeypatch.setenv(name, "not-a-setting")
    for prefix in OTHER_PREFIXES:
        for field in ServiceSettings.model_fields:
            monkeypatch.setenv(f"{prefix}{field.upper()}", "not-a-setting")
            monkeypatch.setenv(f"{prefix}REFERRALS_{field.upper()}", "not-a-setting")

    assert ReferralsSettings() == ReferralsSettings.model_validate({})  # every value its default
    variables = {*SHARED_VARIABLES.values()} | {
        f"CASEMESH_REFERRALS_{f.upper()}" for f in ReferralsSettings.model_fields
    }
    assert variables.isdisjoint(OTHER_VARIABLES)
    assert not any(v.startswith(tuple(OTHER_PREFIXES)) for v in variables)


def test_an_invalid_shared_value_names_the_shared_variable_but_not_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CASEMESH_HTTP_PORT", "s3cret-port")

    with pytest.raises(RunError) as refused:
        load_settings("approvals")

    assert refused.value.status == EXIT_USAGE
    assert "CASEMESH_HTTP_PORT: Input should be a valid integer" in str(refused.value)
    assert "s3cret" not in str(refused.value)


def test_health_and_the_api_cannot_share_a_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEMESH_HTTP_PORT", "8080")
    monkeypatch.setenv("CASEMESH_CONTACTS_API_PORT", "8080")

    with pytest.raises(RunError) as refused:
        load_settings("contacts")

    assert "http_port and api_port must differ" in str(refused.value)
    assert ReferralsSettings(http_port=0, api_port=0).api_port == 0
