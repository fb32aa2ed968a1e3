"""The rows of the fault suite: each starts replicas on fresh topics and a fresh database, sends its
workload evenly over the fault's schedule while the fault runs, waits for quiescence and reconciles.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from contracts.topics import CUSTOMERS_TOPIC
from deploy.local.localinfra import InfraError, LocalInfra
from tests.chaos.ledger import Counts, Document, Topics, publish_delays, read_store, reconcile
from tests.chaos.replicas import Exit, Replica, ReplicaSet
from tests.chaos.sizes import SESSION_TIMEOUT_S, Sizes
from tests.chaos.workload import (
    COMMANDS,
    SERVICE,
    Customer,
    Driver,
    Sent,
    customers,
    registration,
    setup_commands,
    workload,
)

#: What a broker restart is expected to take here (start-up plus readiness), to spread the load.
BROKER_RESTART_ESTIMATE_S = 8.0
#: What a SIGTERM stop under load is expected to take, to spread the load.
STOP_ESTIMATE_S = 2.0
#: What starting a replica until it is ready is expected to take, to spread the load.
START_ESTIMATE_S = 5.0
SETUP_TIMEOUT_S = 120.0
#: An event published this long after its decision was left behind by the replica that decided it
#: (a crash, a stop, an outage) and published by a sweep: reported, not counted as a fault.
LATE_S = 1.0
#: A row's time beyond its load and its quiescence bound (start, set-up, stops), before it is cut off.
ROW_OVERHEAD_S = 600.0


@dataclass
class Context:
    """What a fault acts on while the load runs."""

    infra: LocalInfra
    replicas: ReplicaSet
    sizes: Sizes
    rng: random.Random
    metrics: dict[str, Any] = field(default_factory=dict)
    remarks: list[str] = field(default_factory=list)
    mark: float | None = None
    """When set, quiescence is also timed from here (the store's return: its backlog)."""

    def victim(self) -> Replica | None:
        running = [r for r in self.replicas.running if not r.paused]
        return self.rng.choice(running) if running else None


Inject = Callable[[Context], Awaitable[None]]


@dataclass(frozen=True)
class Fault:
    key: str
    title: Callable[[Sizes], str]
    load_s: Callable[[Sizes], float]
    """How long the workload is spread over: the fault's schedule."""
    inject: Inject
    two_topics: bool = False
    replicas: int = 2


# ------------------------------------------------------------------------------------ the faults


async def kill_random_replicas(ctx: Context) -> None:
    s = ctx.sizes
    await asyncio.sleep(s.lead_in_s)
    for _ in range(s.sigkill_repeats):
        victim = ctx.victim()
        if victim is not None:
            await ctx.replicas.sigkill(victim)
            ctx.metrics.setdefault("killed", []).append(victim.name)
            # Restarted at once; the next kill comes once it is consuming, so each kill hits a
            # working replica (a kill during start-up proves little).
            await ctx.replicas.wait_ready(await ctx.replicas.start())
        await asyncio.sleep(s.sigkill_interval_s)
    ctx.remarks.append(f"{len(ctx.metrics.get('killed', []))} killed and restarted")


def stop_broker(sig: signal.Signals) -> Inject:
    async def inject(ctx: Context) -> None:
        s = ctx.sizes
        restarts: list[dict[str, float]] = []
        for _ in range(s.broker_repeats):
            await asyncio.sleep(s.broker_gap_s)
            restarts.append(await asyncio.to_thread(ctx.infra.restart_kafka, sig, s.broker_down_s))
        await asyncio.sleep(s.broker_gap_s)
        ctx.metrics["broker_restarts"] = restarts
        stops = "/".join(f"{r['stop_s']:.1f}" for r in restarts)
        starts = "/".join(f"{r['start_s']:.1f}" for r in restarts)
        ctx.remarks.append(f"broker stopped in {stops} s, back in {starts} s")

    return inject


async def stop_store(ctx: Context) -> None:
    s = ctx.sizes
    await asyncio.sleep(s.lead_in_s)
    stopped = await asyncio.to_thread(ctx.infra.stop_ferretdb_with, signal.SIGTERM)
    down_from = time.monotonic()
    await asyncio.sleep(s.store_outage_s)
    await asyncio.to_thread(ctx.infra.start_ferretdb)
    await asyncio.to_thread(ctx.infra.wait_ferretdb)
    ctx.mark = time.monotonic()
    ctx.metrics["store_stop_s"] = round(stopped, 3)
    ctx.metrics["store_down_s"] = round(ctx.mark - down_from, 3)


async def no_fault(ctx: Context) -> None:
    await asyncio.sleep(ctx.sizes.two_topics_load_s)


async def add_or_stop_replicas(ctx: Context) -> None:
    s = ctx.sizes
    steps: list[str] = []
    for step in range(s.scale_steps):
        await asyncio.sleep(s.scale_interval_s)
        if step % 2 == 0:
            added = await ctx.replicas.start()
            steps.append(f"+{added.name}")
        else:
            victim = ctx.victim()
            if victim is not None:
                ended = await ctx.replicas.sigterm(victim)
                steps.append(f"-{victim.name}")
                ctx.metrics.setdefault("stops", []).append(asdict(ended))
    await asyncio.sleep(s.lead_in_s)
    ctx.metrics["steps"] = steps
    ctx.remarks.append(" ".join(steps))


async def pause_past_session_timeout(ctx: Context) -> None:
    s = ctx.sizes
    held = SESSION_TIMEOUT_S + s.sigstop_beyond_session_s
    for _ in range(s.sigstop_repeats):
        await asyncio.sleep(s.lead_in_s)
        victim = ctx.victim()
        if victim is None:
            continue
        ctx.replicas.pause(victim)
        await asyncio.sleep(held)
        ctx.replicas.resume(victim)
        ctx.metrics.setdefault("paused", []).append(victim.name)
    await asyncio.sleep(s.lead_in_s)
    ctx.remarks.append(
        f"{len(ctx.metrics.get('paused', []))}x paused {held:.0f} s (session {SESSION_TIMEOUT_S:.0f} s)"
    )


async def terminate_under_load(ctx: Context) -> None:
    s = ctx.sizes
    exits: list[Exit] = []
    for _ in range(s.sigterm_repeats):
        await asyncio.sleep(s.sigterm_interval_s)
        victim = ctx.victim()
        if victim is None:
            continue
        exits.append(await ctx.replicas.sigterm(victim))
        await ctx.replicas.wait_ready(await ctx.replicas.start())
    ctx.metrics["sigterm_exits"] = [asdict(e) for e in exits]
    times = "/".join(f"{e.seconds:.1f}" for e in exits)
    codes = ",".join(str(e.code) for e in exits)
    ctx.remarks.append(f"exits {times} s (status {codes})")


FAULTS: tuple[Fault, ...] = (
    Fault(
        "replica-sigkill",
        lambda s: f"SIGKILL a random replica x{s.sigkill_repeats}, restarted",
        lambda s: s.lead_in_s + s.sigkill_repeats * (s.sigkill_interval_s + START_ESTIMATE_S),
        kill_random_replicas,
    ),
    Fault(
        "broker-sigterm",
        lambda s: f"broker SIGTERM x{s.broker_repeats}, restarted",
        lambda s: (
            s.broker_repeats * (s.broker_gap_s + s.broker_down_s + BROKER_RESTART_ESTIMATE_S) + s.broker_gap_s
        ),
        stop_broker(signal.SIGTERM),
    ),
    Fault(
        "broker-sigkill",
        lambda s: f"broker SIGKILL x{s.broker_repeats}, restarted",
        lambda s: (
            s.broker_repeats * (s.broker_gap_s + s.broker_down_s + BROKER_RESTART_ESTIMATE_S) + s.broker_gap_s
        ),
        stop_broker(signal.SIGKILL),
    ),
    Fault(
        "store-outage",
        lambda s: f"store stopped {s.store_outage_s:.0f} s",
        lambda s: s.lead_in_s + s.store_outage_s,
        stop_store,
    ),
    Fault(
        "two-topics",
        lambda s: "two input topics at once",
        lambda s: s.two_topics_load_s,
        no_fault,
        two_topics=True,
    ),
    Fault(
        "scale",
        lambda s: f"replica added/stopped every {s.scale_interval_s:.0f} s x{s.scale_steps}",
        lambda s: s.scale_steps * s.scale_interval_s + s.lead_in_s,
        add_or_stop_replicas,
    ),
    Fault(
        "sigstop",
        lambda s: f"SIGSTOP past session timeout x{s.sigstop_repeats}",
        lambda s: (
            s.sigstop_repeats * (s.lead_in_s + SESSION_TIMEOUT_S + s.sigstop_beyond_session_s) + s.lead_in_s
        ),
        pause_past_session_timeout,
    ),
    Fault(
        "sigterm",
        lambda s: f"SIGTERM under load x{s.sigterm_repeats}",
        lambda s: s.sigterm_repeats * (s.sigterm_interval_s + STOP_ESTIMATE_S + START_ESTIMATE_S),
        terminate_under_load,
    ),
)
BY_KEY: Mapping[str, Fault] = {f.key: f for f in FAULTS}


# ------------------------------------------------------------------------------------ one row


@dataclass
class RowResult:
    key: str
    title: str
    counts: Counts
    quiet: bool = False
    """Quiescence was reached: no lag, nothing changing in the store or on the topics."""
    complete: bool = False
    """Every acknowledged effect was in the store with its events when it was reached."""
    quiet_s: float | None = None
    """From the end of the load and the faults to the last change."""
    lag_left: int | None = None
    setup_missing: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    remarks: list[str] = field(default_factory=list)
    unexpected_exits: list[dict[str, Any]] = field(default_factory=list)
    final_exits: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float = 0.0
    error: str | None = None

    @property
    def clean(self) -> bool:
        return self.error is None and self.counts.clean

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["clean"] = self.clean
        return data


@dataclass
class Settled:
    quiet: bool
    complete: bool
    last_change: float
    lag: int | None
    checked: Counts | None


async def run_row(
    infra: LocalInfra,
    fault: Fault,
    sizes: Sizes,
    *,
    source: Path,
    logs: Path,
    seed: int,
    progress: Callable[[str], None] = lambda _: None,
) -> RowResult:
    """Runs one fault from a fresh start; never raises for what the fault does (it is in the row)."""
    suffix = f".c{uuid.uuid4().hex[:8]}"
    database = f"chaos_{uuid.uuid4().hex[:10]}"
    group = f"casemesh-{SERVICE}{suffix}"
    cfg = infra.cfg
    kafka = infra.cluster()
    replicas = ReplicaSet(kafka, cfg.mongodb_url, database, group, suffix, source, logs / fault.key)
    driver = Driver(kafka, suffix)
    topics = Topics(kafka, suffix, group)
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(
        cfg.mongodb_url, tz_aware=True, serverSelectionTimeoutMS=5000
    )
    result = RowResult(fault.key, fault.title(sizes), Counts())
    ctx = Context(infra, replicas, sizes, random.Random(seed))
    began = time.monotonic()
    budget = ROW_OVERHEAD_S + fault.load_s(sizes) + sizes.quiet_timeout_s
    try:
        async with asyncio.timeout(budget):
            await _run(fault, sizes, ctx, result, driver, topics, mongo, database, suffix, progress)
    except TimeoutError:
        result.error = f"the row did not finish within {budget:.0f} s"
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        with contextlib.suppress(Exception):
            await replicas.close()
        await topics.close()
        await driver.close()
        with contextlib.suppress(Exception):
            await mongo.close()
    summarise(result, ctx, sizes)
    result.duration_s = round(time.monotonic() - began, 1)
    return result


async def _run(
    fault: Fault,
    sizes: Sizes,
    ctx: Context,
    result: RowResult,
    driver: Driver,
    topics: Topics,
    mongo: AsyncMongoClient[Document],
    database: str,
    suffix: str,
    progress: Callable[[str], None],
) -> None:
    replicas = ctx.replicas
    progress(f"{fault.key}: starting {fault.replicas} replicas")
    await replicas.start_ready(fault.replicas)
    replicas.supervise()
    await driver.start()
    people = customers(sizes.customers)
    by_csid = {c.csid: c for c in people}
    progress(f"{fault.key}: registering {len(people)} customers, assigning them to PS, creating documents")
    result.setup_missing = await set_up(driver, mongo, database, people)
    messages = workload(people, sizes.commands_per_customer, suffix, two_topics=fault.two_topics)
    load_s = fault.load_s(sizes)
    progress(f"{fault.key}: {len(messages)} messages over {load_s:.0f} s while the fault runs")
    load = asyncio.create_task(driver.send_paced(messages, load_s))
    try:
        await fault.inject(ctx)
    except BaseException:
        load.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await load
        raise
    await load
    load_end = time.monotonic()
    progress(f"{fault.key}: waiting for quiescence")
    await topics.start()
    settled = await settle(topics, mongo, database, by_csid, messages, sizes)
    committed = await topics.committed()
    view = await read_store(mongo, database, by_csid, commits=True)
    await topics.poll(10.0)
    result.counts = reconcile(
        messages, view, topics.events, topics.event_records, topics.dead_letters, committed
    )
    result.quiet, result.complete, result.lag_left = settled.quiet, settled.complete, settled.lag
    result.quiet_s = round(settled.last_change - load_end, 2)
    if ctx.mark is not None:
        result.metrics["backlog_cleared_s"] = round(settled.last_change - ctx.mark, 2)
        result.remarks.append(
            f"backlog cleared {settled.last_change - ctx.mark:.1f} s after the store returned"
        )
    delays = publish_delays(topics.events, (m.message_id for m in messages))
    if delays:
        late = [d for d in delays if d > LATE_S]
        result.metrics["publish_delay_s"] = {
            "median": round(delays[len(delays) // 2], 3),
            "max": round(delays[-1], 3),
            f"over_{LATE_S:.0f}_s": len(late),
        }
        if late:
            result.remarks.append(
                f"{len(late)} events published >{LATE_S:.0f} s late (max {delays[-1]:.1f} s)"
            )
    unacked = result.counts.sent - result.counts.acked
    if unacked:
        errors = sorted({m.error or "" for m in messages if not m.acked})
        result.remarks.append(f"{unacked} unacknowledged ({', '.join(errors)})")
    result.final_exits = [asdict(e) for e in await replicas.stop_all()]


def summarise(result: RowResult, ctx: Context, sizes: Sizes) -> None:
    """The row's remarks: what the fault did, and anything that is not a count in the table."""
    replicas = ctx.replicas
    result.metrics.update(ctx.metrics)
    result.remarks = ctx.remarks + result.remarks
    if result.setup_missing:
        result.remarks.append(f"setup incomplete for {result.setup_missing} customers")
    if not result.quiet:
        result.remarks.append(f"not quiescent after {sizes.quiet_timeout_s:.0f} s (lag {result.lag_left})")
    elif not result.complete:
        result.remarks.append("settled with effects missing")
    if result.counts.queued:
        result.remarks.append(f"{result.counts.queued} acknowledged records never processed (still queued)")
    if result.counts.projection_behind:
        result.remarks.append(f"projection behind its commit records for {result.counts.projection_behind}")
    result.unexpected_exits = [asdict(e) for e in replicas.unexpected]
    if replicas.unexpected:
        result.remarks.append(f"{len(replicas.unexpected)} unexpected replica exits, restarted")
    bad_stops = [e for e in result.final_exits if e["code"] != 0]
    if bad_stops:
        result.remarks.append(f"final SIGTERM: {len(bad_stops)} replicas did not exit 0")


def start_infra(infra: LocalInfra, on_phase: Callable[[str], None] | None = None, attempts: int = 3) -> None:
    """``infra.up()``, tried again from an empty folder if a start fails (a Kafka cluster id drawn
    with a leading ``-`` is refused by Kafka's storage tool, about one start in 64)."""
    for attempt in range(1, attempts + 1):
        try:
            infra.up(on_phase)
            return
        except InfraError:
            infra.down()
            if attempt == attempts:
                raise
            shutil.rmtree(infra.cfg.run_dir, ignore_errors=True)


async def restore(infra: LocalInfra) -> None:
    """Starts the broker or the store again if a row left it down, so the next row starts whole."""
    if infra.kafka_pid() is None:
        await asyncio.to_thread(infra.start_kafka)
        await asyncio.to_thread(infra.wait_kafka)
    if infra.ferretdb_pid() is None:
        await asyncio.to_thread(infra.start_ferretdb)
        await asyncio.to_thread(infra.wait_ferretdb)


async def set_up(
    driver: Driver, mongo: AsyncMongoClient[Document], database: str, people: Sequence[Customer]
) -> int:
    """Registers each customer, then (once every registration is applied) assigns them to PS and
    creates their stacking document; returns how many customers still lack one (bounded wait)."""
    for customer in people:
        await driver.send(CUSTOMERS_TOPIC, registration(customer))
    by_csid = {c.csid: c for c in people}

    def registered(view: Mapping[str, Any]) -> int:
        return sum(1 for c in people if c.csid in view and view[c.csid].team is not None)

    await _wait_store(mongo, database, by_csid, lambda view: registered(view) == len(people))
    for customer in people:
        for env in setup_commands(customer):
            await driver.send(COMMANDS, env)

    def documented(view: Mapping[str, Any]) -> int:
        return sum(1 for c in people if c.csid in view and view[c.csid].notes is not None)

    view = await _wait_store(mongo, database, by_csid, lambda view: documented(view) == len(people))
    return len(people) - documented(view)


async def _wait_store(
    mongo: AsyncMongoClient[Document],
    database: str,
    people: Mapping[str, Customer],
    done: Callable[[Mapping[str, Any]], bool],
    timeout_s: float = SETUP_TIMEOUT_S,
) -> Mapping[str, Any]:
    deadline = time.monotonic() + timeout_s
    view: Mapping[str, Any] = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            view = (await read_store(mongo, database, people, commits=False)).customers
            if done(view):
                return view
        await asyncio.sleep(1.0)
    return view


async def settle(
    topics: Topics,
    mongo: AsyncMongoClient[Document],
    database: str,
    people: Mapping[str, Customer],
    sent: Sequence[Sent],
    sizes: Sizes,
) -> Settled:
    """Waits until the group has no lag and nothing changes in the store or on the topics for
    ``settle_s`` (2 s when every acknowledged effect is already there with its events); bounded
    by ``quiet_timeout_s``."""
    began = time.monotonic()
    deadline = began + sizes.quiet_timeout_s
    last_change = began
    signature: tuple[object, ...] | None = None
    lag: int | None = None
    counts: Counts | None = None
    while time.monotonic() < deadline:
        try:
            await topics.poll(3.0)
            lag = await topics.lag()
            view = await read_store(mongo, database, people, commits=False)
        except Exception:
            await asyncio.sleep(1.0)
            continue
        now = time.monotonic()
        current = (
            lag,
            topics.event_records,
            len(topics.dead_letters),
            tuple(sorted((csid, s.version) for csid, s in view.customers.items())),
        )
        if current != signature:
            signature, last_change = current, now
        counts = reconcile(sent, view, topics.events, topics.event_records, topics.dead_letters)
        complete = lag == 0 and counts.lost == 0 and counts.unpublished == 0
        if complete and now - last_change >= min(2.0, sizes.settle_s):
            return Settled(True, True, last_change, lag, counts)
        if lag == 0 and now - last_change >= sizes.settle_s:
            return Settled(True, False, last_change, lag, counts)
        await asyncio.sleep(1.0)
    return Settled(False, False, last_change, lag, counts)
