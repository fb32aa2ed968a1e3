"""M, M2 and M_memory: ``casemesh run complaints`` end to end, as real processes, and its latency.

The seeds (one command per customer) are on the commands topic before the replicas start. Once
the group has settled (one member per replica, each holding its partitions) and every seed's
event is on the events topic, the timed commands are produced in one pipelined burst: the
producer (R1) is many times faster than the service, so the service works through a backlog, as
if they had been there from its start. Producing them only then keeps a first replica from
draining the backlog alone before a second one has joined (a broker whose
``group.initial.rebalance.delay.ms`` is 0, as deploy/local's is, assigns every partition to the
first member), and gives the timed part a start that is not a batch boundary.

The tap reads the events topic from the start and matches each event to its command by
``causation_id``. Rate = timed events / (last timed event's Kafka timestamp - first timed
command's). The counters (``/metrics``) and CPU times (/proc) are sampled just before the burst
and once every timed event is in; per-message figures divide by the timed events.

A run stops at its cap (``cap_s`` for the seeds, then again for the timed part) even with
commands left, so a slow service cannot hold the bench for long; it is marked capped, its rate
is over what was done, and its latency is taken on a fresh replica. Loss is judged after the
replicas stop: every command the group committed must have its event on the topic; commands
never consumed are "unfinished", not lost.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from casemesh.bench.processes import (
    Process,
    ServiceConfig,
    scrape,
    start_service,
    wait_ready,
    wait_settled,
)
from casemesh.bench.raw import Measured
from casemesh.bench.tap import EventTap
from casemesh.bench.workload import (
    Command,
    Workload,
    counters,
    cpu_seconds,
    create_topics,
    delete_topics,
    per_message,
    produce,
    producer,
    record_complaint,
    run_id,
    send_all,
    subtract,
)
from contracts.topics import commands_topic, events_topic
from kit.transport import KafkaCluster

SERVICE = "complaints"


@dataclass(frozen=True)
class ServiceRun:
    name: str
    replicas: int
    memory: bool
    cap_s: float
    latency_s: float = 0.0
    """How long the latency part after the throughput part lasts; 0 for none."""
    latency_rate: float | None = None
    """Its commands per second; None for half this run's own rate."""


@dataclass(frozen=True)
class Sample:
    at: float
    cpu_s: dict[str, float]
    counts: dict[str, float]


async def sample(replicas: list[Process], attempts: int = 50) -> Sample:
    """CPU times and summed counters of the replicas; retried while a replica's HTTP server is still
    coming up."""
    for _ in range(attempts - 1):
        try:
            return await _sample(replicas)
        except httpx.HTTPError:
            await asyncio.sleep(0.1)
    return await _sample(replicas)


async def _sample(replicas: list[Process]) -> Sample:
    at = time.time()
    cpu = {r.name: cpu_seconds(r.pid) for r in replicas}
    totals: dict[str, float] = {}
    for text in await asyncio.gather(*(scrape(r) for r in replicas)):
        for key, value in counters(text).items():
            totals[key] = totals.get(key, 0.0) + value
    return Sample(at, cpu, totals)


@dataclass
class Progress:
    """What the bench saw of one run while the replicas worked."""

    before: Sample | None = None
    after: Sample | None = None
    first_sent_ms: float = math.nan
    capped: bool = False
    latency: dict[str, Any] | None = None
    latency_ids: set[str] = field(default_factory=set)


async def run_service(
    run: ServiceRun,
    kafka: KafkaCluster,
    mongodb_url: str,
    workload: Workload,
    partitions: int,
    logs: Path,
) -> tuple[Measured, dict[str, Any] | None]:
    """One measurement on fresh topics and a fresh database; returns it and the latency, if any."""
    tag = run_id()
    suffix = f".bench{tag}"
    url = "memory:bench" if run.memory else mongodb_url
    config = ServiceConfig(kafka, url, f"casemesh_bench_{tag}", suffix, partitions)
    commands, events = commands_topic(SERVICE) + suffix, events_topic(SERVICE) + suffix
    tap = EventTap(kafka, events, partitions)
    replicas: list[Process] = []
    try:
        await create_topics(kafka, [commands, events], partitions)
        await produce(kafka, commands, workload.seeds)
        await tap.start()
        replicas += [
            await start_service(config, f"{run.name}-{n + 1}-{tag}", logs) for n in range(run.replicas)
        ]
        await wait_settled(kafka, config.group, replicas)
        await asyncio.gather(*(wait_ready(r) for r in replicas))
        progress = await drive(run, tap, replicas, workload, kafka, commands)
        await asyncio.gather(*(r.stop() for r in replicas))
        measured = await judged(run.name, tap, replicas, workload, progress, kafka, config, commands)
        if progress.capped and run.latency_s > 0 and measured.rate > 0:
            fresh = ServiceRun(f"{run.name}-latency", run.replicas, run.memory, run.cap_s, run.latency_s)
            rate = run.latency_rate or measured.rate / 2
            return measured, await latency_on_fresh(
                replace(fresh, latency_rate=rate), kafka, mongodb_url, workload, partitions, logs
            )
        return measured, progress.latency
    finally:
        await asyncio.gather(*(r.stop() for r in replicas))
        await tap.stop()
        await delete_topics(kafka, suffix)
        if not run.memory:
            await drop_database(mongodb_url, config.database)


async def latency_on_fresh(
    run: ServiceRun, kafka: KafkaCluster, mongodb_url: str, workload: Workload, partitions: int, logs: Path
) -> dict[str, Any] | None:
    """The latency part on a replica with no backlog: new topics and database, no seeds."""
    idle = Workload(workload.customers, [], [])
    _, latency = await run_service(run, kafka, mongodb_url, idle, partitions, logs)
    return {**latency, "fresh": True} if latency is not None else None


async def drive(
    run: ServiceRun,
    tap: EventTap,
    replicas: list[Process],
    workload: Workload,
    kafka: KafkaCluster,
    topic: str,
) -> Progress:
    """The seeds applied, then the timed commands in one burst until every event is in (or the
    cap), then the latency part."""
    progress = Progress()
    seeds, timed = workload.seed_ids, workload.timed_ids
    if not await tap.until(lambda: tap.count(seeds) >= len(seeds), time.monotonic() + run.cap_s):
        progress.capped = True
        return progress
    progress.before = await sample(replicas)
    client = producer(kafka)
    await client.start()
    try:
        await client.partitions_for(topic)
        stamps = await send_all(client, topic, workload.timed)
    finally:
        await client.stop()
    progress.first_sent_ms = min(stamps, default=math.nan)
    done = await tap.until(lambda: tap.count(timed) >= len(timed), time.monotonic() + run.cap_s)
    progress.after = await sample(replicas)
    progress.capped = not done
    if run.latency_s > 0 and done and (run.latency_rate or timed):
        rate = run.latency_rate or timed_rate(tap, workload, progress) / 2
        csids = workload.customers
        count = max(int(rate * run.latency_s), 20)
        batch = [record_complaint(csids[n % len(csids)], "latency") for n in range(count)]
        progress.latency = await measure_latency(kafka, topic, tap, batch, rate)
        progress.latency_ids = {c.message_id for c in batch}
    return progress


def timed_rate(tap: EventTap, workload: Workload, progress: Progress) -> float:
    seen = tap.stamps(workload.timed_ids)
    seconds = (max(seen, default=0) - progress.first_sent_ms) / 1000
    return len(seen) / seconds if seen and seconds > 0 else 0.0


async def judged(
    name: str,
    tap: EventTap,
    replicas: list[Process],
    workload: Workload,
    progress: Progress,
    kafka: KafkaCluster,
    config: ServiceConfig,
    commands: str,
) -> Measured:
    """The run's figures, once the replicas have stopped: loss is what the group committed without
    its event reaching the topic (stopping publishes what the outbox still held: the tap gets a
    moment to read it)."""
    consumed = await committed(kafka, config.group, commands)
    sent = workload.seed_ids | workload.timed_ids | progress.latency_ids
    await tap.until(lambda: tap.count(sent) >= consumed, idle_timeout_s=15)
    seen = tap.count(workload.timed_ids)
    seconds = (max(tap.stamps(workload.timed_ids), default=0) - progress.first_sent_ms) / 1000
    measured = Measured(
        name,
        seen,
        seconds if seen and seconds > 0 else 0.0,
        lost=max(consumed - tap.count(sent), 0),
        details={
            "capped": progress.capped,
            "unfinished": len(sent) - consumed,
            "rejected": tap.rejected,
        },
    )
    before, after = progress.before, progress.after
    if before is not None and after is not None and seen:
        delta = subtract(after.counts, before.counts)
        measured.cpu_ms_per_message = {
            r.name: (after.cpu_s[r.name] - before.cpu_s[r.name]) * 1000 / seen for r in replicas
        }
        measured.store_commands_per_message = per_message(delta, "store:", seen)
        measured.kafka_requests_per_message = per_message(delta, "kafka:", seen)
        measured.details["counts_per_message"] = {k: round(v / seen, 4) for k, v in sorted(delta.items())}
    return measured


async def committed(kafka: KafkaCluster, group: str, topic: str) -> int:
    """Records of ``topic`` the group has committed (the topic starts at offset 0)."""
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sum(max(meta.offset, 0) for tp, meta in offsets.items() if tp.topic == topic)


async def drop_database(mongodb_url: str, name: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url)
    try:
        await client.drop_database(name)
    finally:
        await client.close()


async def measure_latency(
    kafka: KafkaCluster, topic: str, tap: EventTap, batch: list[Command], rate: float
) -> dict[str, Any]:
    """The commands at a steady ``rate``; each latency is its event's Kafka timestamp minus the
    command's (both CreateTime, stamped by the producers on this machine)."""
    client = producer(kafka)
    await client.start()
    loop = asyncio.get_running_loop()
    try:
        await client.partitions_for(topic)
        began = loop.time()
        futures = []
        for n, command in enumerate(batch):
            delay = began + n / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            futures.append(await client.send(topic, command.value, key=command.key))
        sent = {
            c.message_id: int(meta.timestamp)
            for c, meta in zip(batch, await asyncio.gather(*futures), strict=True)
        }
    finally:
        await client.stop()
    await tap.until(lambda: tap.count(set(sent)) >= len(sent))
    latencies = sorted(tap.by_cause[i].timestamp_ms - ts for i, ts in sent.items() if i in tap.by_cause)
    return {
        "rate": round(rate, 1),
        "seconds": round(len(batch) / rate, 1),
        "commands": len(batch),
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "lost": len(batch) - len(latencies),
    }


def percentile(values: list[int], q: float) -> float:
    """Nearest rank of sorted ``values``; NaN for none."""
    if not values:
        return math.nan
    return float(values[max(math.ceil(q * len(values)) - 1, 0)])
