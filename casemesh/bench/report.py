"""The bench's figures: medians over the rounds, the ratios, the targets, as a table or as JSON.

The targets are printed beside the figures ("holds" or "misses"); nothing here asserts them.
"""

from __future__ import annotations

import math
import os
import statistics
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from casemesh.bench.raw import Measured

ROWS = ("R1", "R2", "R3", "N", "M", "M2", "M_memory")
DESCRIPTIONS = {
    "R1": "raw aiokafka producer (idempotent, acks=all, pipelined)",
    "R2": "raw aiokafka getmany consumer in a group, a commit per batch",
    "R3": "store bulk writes as the kit makes them: commit records, projections deleted and inserted",
    "N": "naive FastStream consumer: update_one + ack per message",
    "M": "casemesh run complaints, one replica",
    "M2": "casemesh run complaints, two replicas",
    "M_memory": "casemesh run complaints on the in-memory store twin",
}
UNITS = {"R3": "commit records/s (each with its projection)"}


@dataclass
class Entry:
    round: int
    load_average: float
    measured: Measured


@dataclass
class Results:
    sizes: dict[str, Any]
    infrastructure: dict[str, str]
    entries: dict[str, list[Entry]] = field(default_factory=lambda: {name: [] for name in ROWS})
    latency: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"store": [], "memory": []})
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rounds: int = 0
    seconds: float = 0.0

    def rate(self, name: str) -> float:
        return median([e.measured.rate for e in self.entries[name]])


def median(values: list[float]) -> float:
    present = [v for v in values if v is not None and not math.isnan(v)]
    return float(statistics.median(present)) if present else math.nan


def median_of(entries: list[Entry], attribute: str) -> float | None:
    values = [getattr(e.measured, attribute) for e in entries]
    present = [float(v) for v in values if v is not None]
    return median(present) if present else None


def row(name: str, entries: list[Entry]) -> dict[str, Any]:
    return {
        "what": DESCRIPTIONS[name],
        "unit": UNITS.get(name, "msg/s"),
        "rate": rounded(median([e.measured.rate for e in entries])),
        "rates": [rounded(e.measured.rate) for e in entries],
        "load_average_1m": [round(e.load_average, 2) for e in entries],
        "messages": [e.measured.messages for e in entries],
        "seconds": [round(e.measured.seconds, 3) for e in entries],
        "cpu_ms_per_message": rounded(
            median(
                [
                    sum(e.measured.cpu_ms_per_message.values())
                    for e in entries
                    if e.measured.cpu_ms_per_message
                ]
            ),
            4,
        ),
        "cpu_ms_per_message_by_process": entries[-1].measured.cpu_ms_per_message if entries else {},
        "store_commands_per_message": rounded(median_of(entries, "store_commands_per_message"), 4),
        "kafka_requests_per_message": rounded(median_of(entries, "kafka_requests_per_message"), 4),
        "lost": sum(e.measured.lost for e in entries),
        "unfinished": sum(int(e.measured.details.get("unfinished", 0)) for e in entries),
        "capped": sum(1 for e in entries if e.measured.details.get("capped")),
        "details": entries[-1].measured.details if entries else {},
    }


def rounded(value: float | None, digits: int = 1) -> float | None:
    if value is None or math.isnan(value):
        return None
    return round(value, digits)


def ratio(a: float, b: float) -> float | None:
    return rounded(a / b, 3) if b and not math.isnan(a) and not math.isnan(b) else None


def latency_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "rate": rounded(median([r["rate"] for r in runs])),
        "p50_ms": rounded(median([r["p50_ms"] for r in runs])),
        "p99_ms": rounded(median([r["p99_ms"] for r in runs])),
        "runs": runs,
        "lost": sum(int(r["lost"]) for r in runs),
        "fresh": any(bool(r.get("fresh")) for r in runs),
    }


def targets(
    results: Results, rows: dict[str, dict[str, Any]], latency: dict[str, Any]
) -> list[dict[str, Any]]:
    m, n, m2 = results.rate("M"), results.rate("N"), results.rate("M2")
    checks: list[tuple[str, float | None, bool]] = [
        ("M >= 5 x N", ratio(m, n), (ratio(m, n) or 0) >= 5),
        (
            "store commands per message (M) <= 0.05",
            rows["M"]["store_commands_per_message"],
            (rows["M"]["store_commands_per_message"] or math.inf) <= 0.05,
        ),
        ("M_memory >= 2,000 msg/s", rows["M_memory"]["rate"], (rows["M_memory"]["rate"] or 0) >= 2000),
        (
            "p99 (memory) <= 250 ms at half M's rate",
            latency["memory"]["p99_ms"],
            (latency["memory"]["p99_ms"] or math.inf) <= 250,
        ),
        (f"M2/M >= 1.3 (cpu_count {os.cpu_count()})", ratio(m2, m), (ratio(m2, m) or 0) >= 1.3),
    ]
    return [{"target": t, "value": v, "holds": ok} for t, v, ok in checks]


def to_json(results: Results) -> dict[str, Any]:
    rows = {name: row(name, results.entries[name]) for name in ROWS}
    rate = results.rate
    latency = {kind: latency_summary(runs) for kind, runs in results.latency.items()}
    return {
        "sizes": results.sizes,
        "infrastructure": results.infrastructure,
        "cpu_count": os.cpu_count(),
        "rounds": results.rounds,
        "seconds": round(results.seconds, 1),
        "rows": rows,
        "ratios": {
            "M/N": ratio(rate("M"), rate("N")),
            "M/R3": ratio(rate("M"), rate("R3")),
            "M2/M": ratio(rate("M2"), rate("M")),
            "M_memory/R2": ratio(rate("M_memory"), rate("R2")),
        },
        "latency": latency,
        "targets": targets(results, rows, latency),
        "lost": sum(r["lost"] for r in rows.values()) + sum(v["lost"] for v in latency.values()),
        "errors": results.errors,
        "notes": results.notes,
        "method": METHOD,
    }


METHOD = [
    "Rounds are interleaved (R1, R2, R3, N, M, M2, M_memory in each); each figure is the median over "
    "the rounds; the 1-minute load average is taken as each measurement starts.",
    "R1 times sending every record and awaiting every ack (after one record to each partition); R2 "
    "times from the group's assignment to the last record; R3 times the chunks of commit-record "
    "inserts and projection roll-forwards (a delete and an insert) over customers that exist.",
    "N: the timed commands pre-loaded; timed in the naive process from its first message to its last.",
    "M, M2, M_memory: one seed command per customer on the topic before the service starts; once "
    "the group has settled (a member per replica) and every seed is applied, the timed commands in "
    "one pipelined burst (the service then works through a backlog; produced any sooner, a first "
    "replica would drain it alone before a second joined). Rate = timed events / (last timed event's "
    "Kafka timestamp - first timed command's). Counters (/metrics) and CPU (/proc/<pid>/stat) are "
    "sampled before the burst and once every timed event is in; per message = delta / timed events.",
    "Latency: a running M (and M_memory) is sent commands at half of M's rate; latency = the event's "
    "Kafka timestamp minus its command's.",
    "Caps: R3 writes for at most store_cap_s; N, and a service run's seeds and then its timed part, "
    "stop after service_cap_s even with commands left (capped: the rate is over what was done). A "
    "capped service run's latency is taken on a fresh replica of its own (new topics and database, "
    "the customers made by the latency commands), since new commands would queue behind the backlog.",
    "Lost: a command the service's group committed whose event never reached the events topic (judged "
    "after the replicas stopped), or a latency command without its event; unfinished: never consumed.",
]


def render(report: dict[str, Any], console: Console) -> None:
    table = Table(title=f"casemesh bench — {report['rounds']} round(s), median", title_justify="left")
    columns = ("row", "rate", "each round (load)", "store cmd/msg", "kafka req/msg", "cpu ms/msg", "lost")
    # Rates in the unit each row's line below names (msg/s but for R3).
    for column in columns:
        table.add_column(column, justify="left" if column == "row" else "right")
    for name, data in report["rows"].items():
        runs = " ".join(
            f"{fmt(r, 0)} ({load:.1f})"
            for r, load in zip(data["rates"], data["load_average_1m"], strict=False)
        )
        table.add_row(
            name,
            fmt(data["rate"], 0),
            runs,
            fmt(data["store_commands_per_message"], 3),
            fmt(data["kafka_requests_per_message"], 3),
            fmt(data["cpu_ms_per_message"], 3),
            str(data["lost"]) + (" (capped)" if data["capped"] else ""),
        )
    console.print(table)
    for name, data in report["rows"].items():
        said = [data["what"], data["unit"]]
        if data["details"].get("window"):
            said.append(f"window: {data['details']['window']}")
        if data["capped"]:
            rounds = len(data["rates"])
            said.append(f"capped in {data['capped']} of {rounds} round(s), {data['unfinished']} left undone")
        console.print(f"[dim]{name}: {'; '.join(said)}[/dim]")
    console.print("ratios: " + ", ".join(f"{k} = {fmt(v, 2)}" for k, v in report["ratios"].items()))
    for kind, figures in report["latency"].items():
        fresh = " (on a fresh replica: the throughput run was capped)" if figures["fresh"] else ""
        console.print(
            f"latency ({kind}) at {fmt(figures['rate'], 0)} msg/s: p50 {fmt(figures['p50_ms'], 0)} ms, "
            f"p99 {fmt(figures['p99_ms'], 0)} ms, lost {figures['lost']}{fresh}"
        )
    for target in report["targets"]:
        verdict = "[green]holds[/green]" if target["holds"] else "[red]misses[/red]"
        console.print(f"target {target['target']}: {fmt(target['value'], 3)} — {verdict}")
    console.print(f"lost commands: {report['lost']}; cpu_count {report['cpu_count']}; {report['seconds']} s")
    for line in report["notes"] + [f"[red]error[/red]: {e}" for e in report["errors"]]:
        console.print(line)
    for line in report["method"]:
        console.print(f"[dim]method: {line}[/dim]")


def fmt(value: float | None, digits: int) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"
