"""One partition count for every service, compose and the tests; a service's own variable overrides it."""

from __future__ import annotations

import pytest
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from casemesh.cli import main
from casemesh.run import EXIT_USAGE
from kit.runtime import keep_bytes, parse_records
from kit.settings import DEFAULT_TOPIC_PARTITIONS, ServiceSettings
from services.referrals.settings import ReferralsSettings
from tests.integration.kit.tally import make_runtime


def test_the_partition_count_defaults_to_six(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASEMESH_TOPIC_PARTITIONS", raising=False)
    monkeypatch.delenv("CASEMESH_REFERRALS_TOPIC_PARTITIONS", raising=False)
    assert DEFAULT_TOPIC_PARTITIONS == 6
    assert ReferralsSettings().topic_partitions == 6


def test_every_service_reads_the_shared_variable_and_its_own_overrides_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CASEMESH_TOPIC_PARTITIONS", "12")
    assert ReferralsSettings().topic_partitions == 12
    assert ServiceSettings(service_name="tally").topic_partitions == 12
    monkeypatch.setenv("CASEMESH_REFERRALS_TOPIC_PARTITIONS", "3")
    assert ReferralsSettings().topic_partitions == 3
    assert ReferralsSettings(topic_partitions=2).topic_partitions == 2


def test_an_invalid_shared_partition_count_names_the_shared_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CASEMESH_REFERRALS_TOPIC_PARTITIONS", raising=False)
    monkeypatch.setenv("CASEMESH_TOPIC_PARTITIONS", "zero")

    assert main(["run", "referrals"]) == EXIT_USAGE

    err = capsys.readouterr().err
    assert "CASEMESH_TOPIC_PARTITIONS: Input should be a valid integer" in err
    assert "zero" not in err


def test_an_invalid_own_partition_count_names_the_services_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CASEMESH_TOPIC_PARTITIONS", "6")
    monkeypatch.setenv("CASEMESH_REFERRALS_TOPIC_PARTITIONS", "0")

    assert main(["run", "referrals"]) == EXIT_USAGE

    assert "CASEMESH_REFERRALS_TOPIC_PARTITIONS: Input should be greater than or equal to 1" in (
        capsys.readouterr().err
    )


def test_every_subscriber_keeps_same_numbered_partitions_together_and_takes_the_raw_record() -> None:
    subscription = make_runtime(ServiceSettings(service_name="tally")).subscription
    assert subscription["partition_assignment_strategy"] == (RangePartitionAssignor,)
    assert subscription["parser"] is parse_records
    assert subscription["decoder"] is keep_bytes
