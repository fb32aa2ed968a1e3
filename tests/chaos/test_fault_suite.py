"""The fault suite, bounded, inside the test command: every row at the quick sizes.

Each row starts real ``casemesh run referrals`` processes on its own Kafka and FerretDB (started
here on free ports, because rows stop and crash them) and fails on any acknowledged effect that
is lost, duplicated or reordered. ``CASEMESH_CHAOS_SIZE=full`` runs the full sizes instead;
``CASEMESH_CHAOS_SOURCE`` names another tree for the replicas to run. The table is printed (``-s``
shows it) and written as JSON in the test's temporary folder. Under ``CI=true`` a failure to start
the infrastructure fails the tests, never skips them. See docs/chaos.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.localinfra import REPO_ROOT, LocalInfra, LocalInfraConfig
from tests.chaos import sizes
from tests.chaos.faults import FAULTS, Fault, RowResult, restore, run_row, start_infra
from tests.chaos.report import document, table, write_json
from tests.conftest import IN_CI

pytestmark = pytest.mark.integration

SIZES = sizes.from_env(default="quick")
SOURCE = Path(os.environ.get("CASEMESH_CHAOS_SOURCE") or REPO_ROOT).resolve()


@pytest.fixture(scope="module")
def chaos_infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalInfra]:
    """A Kafka and a FerretDB of the suite's own: the rows stop, crash and restart them."""
    infra = LocalInfra(LocalInfraConfig.with_free_ports(tmp_path_factory.mktemp("chaos") / "infra"))
    try:
        start_infra(infra)
    except Exception as exc:
        infra.down()
        reason = f"the fault suite could not start its local Kafka and FerretDB: {exc}"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield infra
    finally:
        infra.down()


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RowResult]]:
    """The rows run so far; at the end the whole table is printed and written as JSON."""
    from datetime import UTC, datetime

    started = datetime.now(UTC)
    done: list[RowResult] = []
    yield done
    if done:
        path = write_json(
            tmp_path_factory.mktemp("chaos-report") / "chaos.json", document(done, SIZES, SOURCE, started)
        )
        print(f"\n{table(done)}\nsizes: {SIZES.name}; JSON: {path}")


@pytest.mark.parametrize("fault", FAULTS, ids=[f.key for f in FAULTS])
async def test_no_acknowledged_effect_is_lost_duplicated_or_reordered(
    fault: Fault, chaos_infra: LocalInfra, rows: list[RowResult], tmp_path: Path
) -> None:
    await restore(chaos_infra)
    result = await run_row(chaos_infra, fault, SIZES, source=SOURCE, logs=tmp_path, seed=13)
    rows.append(result)
    shown = f"{table([result])}\nexamples: {json.dumps(result.counts.examples, indent=1)}\nlogs: {tmp_path}"
    print(f"\n{shown}")
    assert result.error is None, shown
    assert result.setup_missing == 0, shown
    counts = result.counts
    assert counts.acked > 0, shown
    assert (counts.lost, counts.duplicated, counts.reordered) == (0, 0, 0), shown
    # Nothing stuck either: every acknowledged record was processed before the bound ran out.
    assert counts.queued == 0, shown
