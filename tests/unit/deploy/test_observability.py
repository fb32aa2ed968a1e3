"""What operators watch (issue 18): the alert rules (deploy/prometheus/) pass ``promtool``'s checks
and their own unit tests, the dashboard (deploy/grafana/casemesh.json) is one Grafana imports, and
every metric either uses is one the six services export.

``promtool`` is Debian's ``prometheus`` package (``make observability-install``, a prerequisite of
``make test``): without it these tests are skipped, except under ``CI=true``, where they fail.

The exported names are read from the services themselves: all six are started embedded (in-memory
broker and stores, as ``casemesh demo`` runs them) and each one's ``/metrics`` text is parsed; a
metric family stands for every series it exposes (a counter's ``_total``, a histogram's
``_bucket``, ``_sum`` and ``_count``), so a labelled family with no series yet still counts.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from casemesh.mesh import MeshConfig, MeshHost
from casemesh.services import SERVICES
from deploy.grafana.render_preview import expression
from deploy.promql import Sample, Snapshot, evaluate, metric_names, parse
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[3]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERT_TESTS = ROOT / "deploy" / "prometheus" / "alerts.test.yml"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "casemesh.json"
COMPOSE_FILE = ROOT / "docker-compose.yml"

SCRAPE_SERIES = frozenset({"up"})
"""Series Prometheus adds to every scrape itself."""

FAMILY_SERIES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    found = shutil.which("promtool")
    if found is None:
        reason = "no promtool (`make observability-install` installs Debian's prometheus package)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return subprocess.run([found, *args], capture_output=True, text=True, timeout=120, check=False)


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def dashboard_targets() -> Iterator[tuple[str, str]]:
    """(panel title, expression) of every query of the dashboard, its variables' too."""
    board = dashboard()
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            inner = re.fullmatch(r"label_values\((\w+), *\w+\)", text)
            assert inner is not None, f"variable {variable['name']}: {text}"
            yield f"variable {variable['name']}", inner.group(1)


def used_metrics() -> dict[str, set[str]]:
    """Metric name → where it is used (an alert's or a panel's name)."""
    used: dict[str, set[str]] = {}
    for rule in alert_rules():
        for name in metric_names(rule["expr"]):
            used.setdefault(name, set()).add(f"alert {rule['alert']}")
    for title, expr in dashboard_targets():
        for name in metric_names(expr):
            used.setdefault(name, set()).add(f"panel {title!r}")
    return used


def series_names(text: str) -> set[str]:
    """Every series name a ``/metrics`` text exposes, or will once its labelled families have
    children."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in FAMILY_SERIES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


@pytest.fixture(scope="module")
async def exported() -> set[str]:
    """The series names of all six services, started embedded as the demo starts them."""
    host = MeshHost(MeshConfig(http=False))
    await host.start()
    try:
        return set().union(*(series_names(rt.metrics.render().decode()) for rt in host.runtimes.values()))
    finally:
        await host.stop()


# -- promtool


def test_promtool_accepts_the_alert_rules() -> None:
    checked = promtool("check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_alert_rules_pass_their_unit_tests() -> None:
    tested = promtool("test", "rules", str(ALERT_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_promtool_accepts_the_example_prometheus_configuration() -> None:
    checked = promtool("check", "config", str(PROMETHEUS_CONFIG))
    assert checked.returncode == 0, checked.stdout + checked.stderr


# -- the rules and the dashboard, read


def test_every_alert_has_a_severity_a_summary_and_a_description() -> None:
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} >= {
        "CasemeshServiceDown",
        "CasemeshNotReady",
        "CasemeshConsumerLagGrowing",
        "CasemeshDeadLetters",
        "CasemeshInfrastructureRetries",
        "CasemeshOutboxStuck",
        "CasemeshSlaBreached",
    }
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]


def test_the_service_down_alert_watches_exactly_the_six_services() -> None:
    (down,) = [rule for rule in alert_rules() if rule["alert"] == "CasemeshServiceDown"]
    watched = re.search(r'job=~"([^"]+)"', down["expr"])
    assert watched is not None
    assert set(watched.group(1).split("|")) == set(SERVICES)


def test_the_example_configuration_scrapes_each_compose_service_as_a_job_of_its_own() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert jobs == {service: [f"{service}:8080"] for service in SERVICES}
    for service in SERVICES:
        environment = compose["services"][service]["environment"]
        assert str(environment[f"CASEMESH_{service.upper()}_HTTP_PORT"]) == "8080"
    assert config["rule_files"] == [ALERTS.name]


def test_the_dashboard_has_a_data_source_and_a_service_variable_and_a_recent_schema() -> None:
    board = dashboard()
    assert board["schemaVersion"] >= 36
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["job"]["multi"] and variables["job"]["includeAll"]
    panels = [p for p in board["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"]), panel["title"]


def test_the_dashboard_shows_lag_outcomes_latency_refusals_outbox_readiness_resources_and_casework() -> None:
    used = used_metrics()
    for name in (
        "casemesh_consumer_lag",
        "casemesh_processed_total",
        "casemesh_processing_seconds_bucket",
        "casemesh_dead_lettered_total",
        "casemesh_outbox_backlog",
        "casemesh_ready",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "casemesh_casework_tasks",
    ):
        assert any(place.startswith("panel") for place in used.get(name, ())), name


# -- the metric names


def test_the_name_check_sees_through_functions_labels_ranges_and_variables() -> None:
    expr = (
        'sum without (le) (topk(5, rate(foo:bar_total{job=~"$job", a="b c"}[$__rate_interval] offset 5m)))'
        ' / on (x) group_left (y) baz @ start() and count_values("v", qux[5m:1m]) > bool 0'
        " unless histogram_quantile(0.99, sum by (job, le) (rate(h_bucket[1m])))"
    )
    assert metric_names(expr) == {"foo:bar_total", "baz", "qux", "h_bucket"}


def test_a_family_stands_for_every_series_it_exposes() -> None:
    text = (
        "# HELP c_total a counter\n# TYPE c_total counter\n"
        "# HELP h a histogram\n# TYPE h histogram\n"
        "# HELP g a gauge with labels but no series yet\n# TYPE g gauge\n"
    )
    assert series_names(text) == {
        "c_total",
        "c_created",
        "h_bucket",
        "h_sum",
        "h_count",
        "h_created",
        "g",
    }


async def test_every_metric_the_rules_and_the_dashboard_use_is_one_the_services_export(
    exported: set[str],
) -> None:
    missing = {
        name: sorted(places)
        for name, places in used_metrics().items()
        if name not in exported and name not in SCRAPE_SERIES
    }
    assert not missing, f"used but not exported: {missing}"


async def test_the_services_export_the_series_operators_rely_on(exported: set[str]) -> None:
    assert {
        "casemesh_consumer_lag",
        "casemesh_dead_lettered_total",
        "casemesh_outbox_backlog",
        "casemesh_published_total",
        "casemesh_casework_tasks",
        "casemesh_service_info",
    } <= exported


# -- the preview's evaluator


def test_the_preview_can_evaluate_every_query_of_the_dashboard() -> None:
    history = [Snapshot(0.0, []), Snapshot(5.0, [])]
    for title, expr in dashboard_targets():
        if not title.startswith("variable"):
            parse(expression(expr, history))


def test_the_preview_evaluates_rates_sums_and_quantiles_as_prometheus_does() -> None:
    def at(seconds: float, count: float, fast: float) -> Snapshot:
        labels = {"job": "referrals"}
        return Snapshot(
            seconds,
            [
                Sample("x_total", {**labels, "outcome": "applied"}, count),
                Sample("x_total", {**labels, "outcome": "refused"}, 1.0),
                Sample("h_bucket", {**labels, "le": "0.1"}, fast),
                Sample("h_bucket", {**labels, "le": "1"}, count),
                Sample("h_bucket", {**labels, "le": "+Inf"}, count),
            ],
        )

    history = [at(0, 0, 0), at(1, 10, 5), at(2, 20, 10)]
    rate = parse('sum by (job) (rate(x_total{outcome!="refused"}[2s]))')
    assert evaluate(rate, history, 2) == {(("job", "referrals"),): 10.0}
    median = parse("histogram_quantile(0.5, sum by (job, le) (rate(h_bucket[2s])))")
    assert evaluate(median, history, 2) == {(("job", "referrals"),): pytest.approx(0.1)}
    p99 = parse("histogram_quantile(0.99, sum by (job, le) (rate(h_bucket[2s])))")
    assert evaluate(p99, history, 2) == {(("job", "referrals"),): pytest.approx(0.982)}
    with pytest.raises(ValueError, match="cannot evaluate"):
        parse("x_total / x_total")
