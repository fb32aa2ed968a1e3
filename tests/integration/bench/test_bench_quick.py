"""``casemesh bench --quick`` runs every measurement against the tests' Kafka and store.

Only that it works is checked: every row is measured, the latency and per-message figures are
there, and no command is lost. The figures themselves are never asserted (they are the machine's).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Infra

ROOT = Path(__file__).resolve().parents[3]
ROWS = ("R1", "R2", "R3", "N", "M", "M2", "M_memory")
SERVICE_ROWS = ("N", "M", "M2", "M_memory")


@pytest.fixture(scope="module")
def report(infra: Infra) -> dict[str, Any]:
    env = dict(
        os.environ,
        CASEMESH_KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap_servers,
        CASEMESH_MONGODB_URL=infra.mongodb_url,
    )
    env.pop("CASEMESH_KAFKA_SECURITY_FILE", None)
    if infra.kafka.path is not None:  # a secured broker: the bench reads its credentials file
        env["CASEMESH_KAFKA_SECURITY_FILE"] = str(infra.kafka.path)
    done = subprocess.run(
        [sys.executable, "-m", "casemesh.cli", "bench", "--quick", "--infra", "env", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def test_the_quick_bench_measures_every_row_at_a_positive_rate(report: dict[str, Any]) -> None:
    assert report["errors"] == []
    assert report["rounds"] == 1
    for name in ROWS:
        assert finite(report["rows"][name]["rate"]), name
        assert report["rows"][name]["rate"] > 0, name
    assert all(finite(value) for value in report["ratios"].values()), report["ratios"]


def test_the_quick_bench_gives_latency_at_half_the_service_rate_on_the_store_and_in_memory(
    report: dict[str, Any],
) -> None:
    for kind in ("store", "memory"):
        latency = report["latency"][kind]
        assert finite(latency["p50_ms"]) and finite(latency["p99_ms"]), latency
        assert latency["p50_ms"] <= latency["p99_ms"]
        assert finite(latency["rate"]) and latency["rate"] > 0


def test_the_quick_bench_gives_store_commands_kafka_requests_and_cpu_per_message(
    report: dict[str, Any],
) -> None:
    for name in SERVICE_ROWS:
        row = report["rows"][name]
        for figure in ("store_commands_per_message", "kafka_requests_per_message", "cpu_ms_per_message"):
            assert finite(row[figure]), (name, figure, row[figure])
    assert all(finite(report["rows"][name]["cpu_ms_per_message"]) for name in ROWS)


def test_the_quick_bench_loses_no_command(report: dict[str, Any]) -> None:
    assert report["lost"] == 0
    assert all(report["rows"][name]["lost"] == 0 for name in ROWS)
    assert all(report["latency"][kind]["lost"] == 0 for kind in ("store", "memory"))


def test_the_quick_bench_prints_each_target_beside_the_figures(report: dict[str, Any]) -> None:
    assert len(report["targets"]) == 5
    assert all(isinstance(target["holds"], bool) for target in report["targets"])
