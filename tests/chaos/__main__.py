"""``python -m tests.chaos``: the fault suite, from starting Kafka and FerretDB to the table.

    python -m tests.chaos                  # the full suite (CASEMESH_CHAOS_SIZE, default full)
    python -m tests.chaos --quick          # the bounded version the test command runs
    python -m tests.chaos --rows sigkill,two-topics --customers 50

Exit status: 0 when no row lost, duplicated or reordered an effect; 1 when one did (or a row
could not run); 2 when the infrastructure could not be started or the arguments are wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from deploy.local.localinfra import REPO_ROOT, InfraError, LocalInfra, LocalInfraConfig
from tests.chaos import sizes as size_profiles
from tests.chaos.faults import BY_KEY, FAULTS, Fault, RowResult, restore, run_row, start_infra
from tests.chaos.report import document, table, write_json
from tests.chaos.sizes import Sizes

RUNS = REPO_ROOT / ".run" / "chaos"


def choose(rows: str | None) -> list[Fault]:
    if not rows:
        return list(FAULTS)
    keys = [k.strip() for k in rows.split(",") if k.strip()]
    unknown = [k for k in keys if k not in BY_KEY]
    if unknown:
        raise ValueError(f"unknown rows {unknown}; the rows are: {', '.join(BY_KEY)}")
    return [BY_KEY[k] for k in keys]


def log(text: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


async def run_suite(
    infra: LocalInfra,
    faults: Sequence[Fault],
    sizes: Sizes,
    *,
    source: Path,
    logs: Path,
    seed: int,
    progress: bool = True,
) -> list[RowResult]:
    """Every fault in turn on the same Kafka and FerretDB (each row has its own topics and database)."""
    results = []
    for index, fault in enumerate(faults):
        result = await run_row(
            infra,
            fault,
            sizes,
            source=source,
            logs=logs,
            seed=seed + index,
            progress=log if progress else (lambda _: None),
        )
        if progress:
            log(f"{fault.key}: done in {result.duration_s:.0f} s\n{table([result])}")
        results.append(result)
        await restore(infra)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the bounded sizes (same as --size quick)")
    parser.add_argument(
        "--size", choices=sorted(size_profiles.PROFILES), help="default: CASEMESH_CHAOS_SIZE or full"
    )
    parser.add_argument("--rows", help=f"comma-separated rows to run (default all): {', '.join(BY_KEY)}")
    parser.add_argument("--customers", type=int, help="customers per row")
    parser.add_argument("--per-customer", type=int, help="commands per customer on each topic a row writes")
    parser.add_argument(
        "--source",
        type=Path,
        default=Path(os.environ.get("CASEMESH_CHAOS_SOURCE") or REPO_ROOT),
        help="the tree whose `casemesh run` the replicas execute (default: CASEMESH_CHAOS_SOURCE or this "
        "clone), e.g. a "
        "`git archive` of another commit, to compare before and after",
    )
    parser.add_argument(
        "--json", type=Path, help="where the JSON report goes (default .run/chaos/<run>/chaos.json)"
    )
    parser.add_argument("--keep", action="store_true", help="keep Kafka's and FerretDB's data after the run")
    parser.add_argument("--seed", type=int, default=13, help="seed for choosing victims")
    args = parser.parse_args(argv)
    try:
        sizes = size_profiles.from_env()
        if args.quick or args.size:
            sizes = size_profiles.PROFILES["quick" if args.quick else args.size]
        sizes = size_profiles.resized(
            sizes, customers=args.customers, commands_per_customer=args.per_customer
        )
        faults = choose(args.rows)
    except ValueError as exc:
        parser.error(str(exc))
    source = args.source.resolve()
    if not (source / "casemesh" / "cli.py").exists():
        parser.error(f"--source {source} holds no casemesh/cli.py")

    started = datetime.now(UTC)
    run_dir = RUNS / started.strftime("%Y%m%d-%H%M%S")
    infra = LocalInfra(LocalInfraConfig.with_free_ports(run_dir / "infra"))
    log(f"{sizes.name} sizes, {len(faults)} rows, replicas run {source}; logs in {run_dir}")
    # The driver's own Kafka clients retry through every broker outage on purpose; their
    # warnings would bury the progress lines.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        try:
            start_infra(infra, on_phase=log)
        except InfraError as exc:
            print(f"chaos: the local Kafka and FerretDB could not be started: {exc}", file=sys.stderr)
            return 2
        results = asyncio.run(
            run_suite(infra, faults, sizes, source=source, logs=run_dir / "logs", seed=args.seed)
        )
    finally:
        infra.down()
        if not args.keep:
            shutil.rmtree(run_dir / "infra", ignore_errors=True)
    path = write_json(args.json or run_dir / "chaos.json", document(results, sizes, source, started))
    print(table(results))
    per = sizes.commands_per_customer
    print(f"\nsizes: {sizes.name}, {sizes.customers} customers x {per} per topic; JSON: {path}")
    return 0 if all(r.clean for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
