"""``casemesh bench``: one run of every measurement, on the Kafka and store it is pointed at.

- ``--infra local`` starts deploy/local's Kafka and FerretDB on free ports and stops them after
  (as ``casemesh demo --infra local`` does);
- ``--infra env`` uses ``CASEMESH_KAFKA_BOOTSTRAP_SERVERS`` and ``CASEMESH_MONGODB_URL``.

Rounds are interleaved, so a slow spell of the machine touches every row alike, and each figure is
the median over the rounds. Rounds after the first are dropped when the next one would end past
the time budget; the report says so.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from collections.abc import Awaitable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from casemesh.bench.processes import run_naive
from casemesh.bench.raw import Measured, r1_produce, r2_consume, r3_store
from casemesh.bench.report import Entry, Results, render, to_json
from casemesh.bench.service import ServiceRun, run_service
from casemesh.bench.workload import Workload, build_workload, load_average, run_id
from kit.settings import topic_partitions
from kit.transport import KafkaCluster


@dataclass(frozen=True)
class Sizes:
    customers: int
    commands: int
    repeat: int
    latency_s: float
    budget_s: float
    """Rounds after the first start only when they would end within this (from the bench's start)."""
    store_cap_s: float
    """R3 writes for at most this long."""
    service_cap_s: float
    """N and each service run (M, M2, M_memory) work for at most this long once consuming."""


DEFAULT = Sizes(
    customers=1000,
    commands=5000,
    repeat=3,
    latency_s=8.0,
    budget_s=540.0,
    store_cap_s=45.0,
    service_cap_s=120.0,
)
QUICK = Sizes(
    customers=100,
    commands=500,
    repeat=1,
    latency_s=3.0,
    budget_s=150.0,
    store_cap_s=30.0,
    service_cap_s=120.0,
)


def sizes(quick: bool, customers: int | None, commands: int | None, repeat: int | None) -> Sizes:
    base = QUICK if quick else DEFAULT
    return Sizes(
        customers=customers or base.customers,
        commands=commands or base.commands,
        repeat=repeat or base.repeat,
        latency_s=base.latency_s,
        budget_s=base.budget_s,
        store_cap_s=base.store_cap_s,
        service_cap_s=base.service_cap_s,
    )


@dataclass
class Bench:
    kafka: KafkaCluster
    mongodb_url: str
    sizes: Sizes
    console: Console
    started: float
    logs: Path

    async def run(self, results: Results) -> None:
        workload = build_workload(self.sizes.customers, self.sizes.commands)
        partitions = int(topic_partitions())
        results.sizes["partitions"] = partitions
        round_s = 0.0
        for number in range(1, self.sizes.repeat + 1):
            left = self.sizes.budget_s - (time.monotonic() - self.started)
            if number > 1 and round_s > left:
                results.notes.append(
                    f"repeat reduced from {self.sizes.repeat} to {number - 1}: another round "
                    f"(~{round_s:.0f} s) would pass the {self.sizes.budget_s:.0f} s budget"
                )
                break
            began = time.monotonic()
            await self.round(number, workload, partitions, results)
            results.rounds = number
            round_s = time.monotonic() - began

    async def round(self, number: int, workload: Workload, partitions: int, results: Results) -> None:
        kafka, store, logs = self.kafka, self.mongodb_url, self.logs
        r1 = await self.measure(results, number, "R1", r1_produce(kafka, workload, partitions))
        if r1 is not None:
            await self.measure(results, number, "R2", r2_consume(kafka, r1[1], r1[2]))
        await self.measure(results, number, "R3", r3_store(store, workload, self.sizes.store_cap_s))
        await self.measure(
            results,
            number,
            "N",
            run_naive(kafka, store, workload, partitions, logs, self.sizes.service_cap_s),
        )
        latency_s, cap_s = self.sizes.latency_s, self.sizes.service_cap_s
        m = await self.measure(
            results,
            number,
            "M",
            run_service(
                ServiceRun("M", 1, False, cap_s, latency_s), kafka, store, workload, partitions, logs
            ),
        )
        if m is not None and m[1] is not None:
            results.latency["store"].append(m[1])
        two = ServiceRun("M2", 2, False, cap_s)
        await self.measure(results, number, "M2", run_service(two, kafka, store, workload, partitions, logs))
        half_m = results.rate("M") / 2 if results.entries["M"] else None
        memory = ServiceRun("M_memory", 1, True, cap_s, latency_s if half_m else 0.0, half_m)
        mm = await self.measure(
            results, number, "M_memory", run_service(memory, kafka, store, workload, partitions, logs)
        )
        if mm is not None and mm[1] is not None:
            results.latency["memory"].append(mm[1])

    async def measure(self, results: Results, number: int, name: str, work: Awaitable[Any]) -> Any:
        """Runs one measurement; a failure is reported and the bench goes on with the next."""
        load = load_average()
        try:
            outcome = await work
        except Exception as exc:
            results.errors.append(f"round {number} {name}: {type(exc).__name__}: {exc}")
            self.console.print(f"[red]round {number} {name} failed[/red]: {type(exc).__name__}: {exc}")
            return None
        measured: Measured = outcome[0] if isinstance(outcome, tuple) else outcome
        results.entries[name].append(Entry(number, load, measured))
        latency = outcome[1] if isinstance(outcome, tuple) and isinstance(outcome[1], dict) else None
        said = f" (latency p50 {latency['p50_ms']:.0f} ms, p99 {latency['p99_ms']:.0f} ms)" if latency else ""
        self.console.print(
            f"round {number} {name}: {measured.rate:,.0f} msg/s, lost {measured.lost}, load {load:.2f}{said}"
        )
        return outcome


async def run_bench(
    kafka: KafkaCluster, mongodb_url: str, chosen: Sizes, console: Console, infrastructure: dict[str, str]
) -> dict[str, Any]:
    started = time.monotonic()
    # SIGTERM cancels the run as Ctrl-C does, so each measurement's topics and database are removed.
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    results = Results(sizes=asdict(chosen), infrastructure=infrastructure)
    logs = Path(".run") / "bench" / run_id()
    bench = Bench(kafka, mongodb_url, chosen, console, started, logs)
    await bench.run(results)
    results.seconds = time.monotonic() - started
    report = to_json(results)
    report["logs"] = str(logs)
    return report


def measure_on(infra: str, chosen: Sizes, console: Console) -> dict[str, Any] | None:
    if infra == "env":
        bootstrap = os.environ.get("CASEMESH_KAFKA_BOOTSTRAP_SERVERS")
        mongodb_url = os.environ.get("CASEMESH_MONGODB_URL")
        if not bootstrap or not mongodb_url:
            console.print(
                "[red]--infra env needs CASEMESH_KAFKA_BOOTSTRAP_SERVERS and CASEMESH_MONGODB_URL[/red]"
            )
            return None
        # Secured as CASEMESH_KAFKA_SECURITY_FILE says (deploy/local's credentials.json), if set.
        kafka = KafkaCluster.from_env(bootstrap)
        where = {"infra": "env", "kafka": bootstrap, "mongodb": mongodb_url}
        return asyncio.run(run_bench(kafka, mongodb_url, chosen, console, where))
    from casemesh.demo.main import local_infrastructure

    timings: dict[str, float] = {}
    with local_infrastructure(console, timings) as (kafka, mongodb_url):
        where = {"infra": "local", "kafka": kafka.bootstrap_servers, "mongodb": mongodb_url}
        report = asyncio.run(run_bench(kafka, mongodb_url, chosen, console, where))
    report["infrastructure_start_s"] = round(timings.get("infrastructure_start", 0.0), 1)
    return report


def main(
    infra: str,
    *,
    quick: bool = False,
    as_json: bool = False,
    customers: int | None = None,
    commands: int | None = None,
    repeat: int | None = None,
) -> int:
    # With --json, stdout carries only the JSON document; progress goes to stderr.
    console = Console(stderr=as_json)
    # aiokafka logs its retries (a fresh topic's leaders, a fresh cluster's coordinator) as errors;
    # they are expected here and would read as faults. A real failure still raises.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    chosen = sizes(quick, customers, commands, repeat)
    console.print(
        f"casemesh bench: {chosen.customers} customers, {chosen.commands} commands, "
        f"repeat {chosen.repeat}, infra {infra}"
    )
    try:
        report = measure_on(infra, chosen, console)
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("[red]casemesh bench: interrupted[/red]")
        return 130
    if report is None:
        return 2
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        render(report, console)
    # The figures are the machine's; a measurement that failed or measured nothing, or a command that
    # was lost, is a fault.
    empty = [name for name, row in report["rows"].items() if not row["rate"]]
    return 0 if not report["errors"] and not report["lost"] and not empty else 1
