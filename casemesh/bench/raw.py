"""The parts on their own, with nothing of the kit: what the mesh could reach at best.

- R1: one aiokafka producer (idempotent, acks=all), every record sent, then every ack awaited.
- R2: one aiokafka consumer in a group, ``getmany`` batches, one commit per batch.
- R3: the store's bulk writes of the kind the kit makes (kit/store.py): commit records by one
  unordered ``insert_many``, their projections rolled forward by one ``delete_many`` (``record``
  ``$in``) and one unordered ``insert_many``, a batch of distinct customers at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from pymongo import AsyncMongoClient
from pymongo.errors import BulkWriteError

from casemesh.bench.workload import (
    Command,
    Workload,
    cpu_seconds,
    create_topics,
    delete_topics,
    producer,
    run_id,
    send_all,
)
from kit.transport import KafkaCluster

#: Customers per chunk: the kit's default batch (kit/settings.py), no update statement involved.
STORE_CHUNK = 2000
#: Records per ``getmany`` (aiokafka's own default is unbounded).
CONSUMER_BATCH = 500


@dataclass
class Measured:
    """One measurement: messages over seconds, and what it cost."""

    name: str
    messages: int
    seconds: float
    cpu_ms_per_message: dict[str, float] = field(default_factory=dict)
    """Per process (``bench`` is the bench's own)."""
    store_commands_per_message: float | None = None
    kafka_requests_per_message: float | None = None
    lost: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


def own_cpu(started: float, messages: int) -> dict[str, float]:
    return {"bench": (cpu_seconds() - started) * 1000 / max(messages, 1)}


async def r1_produce(kafka: KafkaCluster, workload: Workload, partitions: int) -> tuple[Measured, str, int]:
    """R1; returns the topic it filled, for R2, and how many records are on it."""
    run = run_id()
    topic = f"casemesh.bench.raw.r{run}"
    await create_topics(kafka, [topic], partitions)
    client = producer(kafka)
    await client.start()
    try:
        # One record to each partition first, so the time is the records' and not the lookups' or
        # a fresh partition's "not leader" retries.
        warm_up = [
            await client.send(topic, b"warm-up", partition=p) for p in await client.partitions_for(topic)
        ]
        await asyncio.gather(*warm_up)
        cpu, began = cpu_seconds(), time.perf_counter()
        await send_all(client, topic, workload.timed)
        seconds = time.perf_counter() - began
    finally:
        await client.stop()
    count = len(workload.timed)
    return Measured("R1", count, seconds, own_cpu(cpu, count)), topic, count + len(warm_up)


async def r2_consume(kafka: KafkaCluster, topic: str, expected: int, timeout_s: float = 120.0) -> Measured:
    """R2 over R1's topic, timed from the group's assignment (the join is before it) to the last
    record: the first fetch is inside the time."""
    consumer = AIOKafkaConsumer(
        **kafka.options(),
        group_id=f"casemesh-bench-raw-{run_id()}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    assigned = Assigned()
    consumer.subscribe([topic], listener=assigned)
    await consumer.start()
    try:
        # The coordinator joins the group in the background once subscribed.
        await asyncio.wait_for(assigned.event.wait(), timeout=timeout_s)
        cpu, began = cpu_seconds(), time.perf_counter()
        count = 0
        while count < expected and time.perf_counter() - began < timeout_s:
            batches = await consumer.getmany(timeout_ms=1000, max_records=CONSUMER_BATCH)
            if batches:
                count += sum(len(records) for records in batches.values())
                await consumer.commit()
        seconds = time.perf_counter() - began
    finally:
        await consumer.stop()
        await delete_topics(kafka, topic)
    return Measured("R2", count, seconds, own_cpu(cpu, count), lost=max(expected - count, 0))


class Assigned(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        if assigned:
            self.event.set()


def commit_record(csid: str, version: int, command: Command, now: datetime) -> dict[str, Any]:
    """A document shaped like the kit's commit record (kit/store.py) for one applied command."""
    return {
        "_id": f"{csid}@{version:012d}",
        "aggregate": csid,
        "version": version,
        "state": {
            "complaints": [
                {"complaint_id": str(uuid.uuid4()), "level": 1, "channel": "PHONE", "details": "…"}
            ],
            "compliments": [],
        },
        "applied": [command.message_id],
        "outbox": [
            {
                "id": str(uuid.uuid4()),
                "topic": "casemesh.complaints.events.v1",
                "key": csid,
                "type": "ComplaintRecorded",
                "value": command.value.decode(),
            }
        ],
        "pending": True,
        "timers": [],
        "next_due": None,
        "updated_at": now,
    }


async def r3_store(mongodb_url: str, workload: Workload, cap_s: float) -> Measured:
    """R3: one commit record and one projection per command, three commands per chunk of distinct
    customers (up to the kit's default batch), until every command is written or ``cap_s`` has
    passed. Each pass gives every customer its next version, the customers in a random order."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url, tz_aware=True)
    database = client[f"casemesh_bench_raw_{run_id()}"]
    projections, commits = database["customers"], database["customers_commits"]
    try:
        existing = [
            {"_id": csid, "record": f"{csid}@{1:012d}", "version": 1, "state": {"complaints": []}}
            for csid in workload.customers
        ]
        for start in range(0, len(existing), 500):
            await projections.insert_many(existing[start : start + 500], ordered=False)
        records = commit_records(workload)
        chunk = min(STORE_CHUNK, len(workload.customers))
        cpu, began = cpu_seconds(), time.perf_counter()
        written = 0
        while written < len(records) and time.perf_counter() - began < cap_s:
            await write_chunk(projections, commits, records[written : written + chunk])
            written = min(written + chunk, len(records))
        seconds = time.perf_counter() - began
    finally:
        await client.drop_database(database.name)
        await client.close()
    capped = written < len(records)
    return Measured(
        "R3",
        written,
        seconds,
        own_cpu(cpu, written),
        store_commands_per_message=3 / chunk,
        details={"written": written, "unfinished": len(records) - written, "capped": capped},
    )


def commit_records(workload: Workload) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    shuffled = random.Random(len(workload.timed))
    order: list[str] = []
    while len(order) < len(workload.timed):
        one_pass = list(workload.customers)
        shuffled.shuffle(one_pass)
        order += one_pass
    versions = dict.fromkeys(workload.customers, 1)
    records = []
    for csid, command in zip(order, workload.timed, strict=False):
        versions[csid] += 1
        records.append(commit_record(csid, versions[csid], command, now))
    return records


async def write_chunk(projections: Any, commits: Any, records: list[dict[str, Any]]) -> None:
    # A duplicate key is a conflict the kit handles (a record already there, or a projection that
    # already shows a newer version); any other write error is a failure.
    with duplicates_allowed():
        await commits.insert_many(records, ordered=False)
    superseded = [f"{r['aggregate']}@{r['version'] - 1:012d}" for r in records]
    await projections.delete_many({"record": {"$in": superseded}})
    with duplicates_allowed():
        await projections.insert_many(
            [
                {"_id": r["aggregate"], "record": r["_id"], "version": r["version"], "state": r["state"]}
                for r in records
            ],
            ordered=False,
        )


@contextlib.contextmanager
def duplicates_allowed() -> Iterator[None]:
    try:
        yield
    except BulkWriteError as exc:
        if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
            raise
