"""What every measurement shares: the commands, producing them, topics, and process counters.

The commands are ``RecordComplaint`` (contracts.catalogue.complaints): applied, it yields exactly
one event (``ComplaintRecorded``), and a customer may lodge any number of complaints, so one
customer can be sent it again and again. Each carries a new complaint id; the event's
``causation_id`` is the command's ``message_id``, which is how an event is matched to its command.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from prometheus_client.parser import text_string_to_metric_families

from contracts.base import Actor, Role
from contracts.catalogue.complaints import (
    ComplaintChannel,
    ComplaintIssueInput,
    ComplaintLevel,
    RecordComplaint,
)
from contracts.envelope import Envelope
from kit.identity import development_headers_for
from kit.transport import KafkaCluster

PRODUCER = "casemesh-bench"
OFFICER = Actor(
    officer_id="EMP10442",
    role=Role.COMPLAINTS_OFFICER,
    first_name="Priya",
    site="Hobart",
    team="PS 3",
    extension="4471",
)
FIRST_CSID = 700_000_000


@dataclass(frozen=True)
class Command:
    """One record for the complaints commands topic."""

    message_id: str
    key: bytes
    value: bytes


@dataclass(frozen=True)
class Workload:
    customers: list[str]
    seeds: list[Command]
    """One command per customer, so each exists before the timed commands."""
    timed: list[Command]

    @property
    def seed_ids(self) -> set[str]:
        return {c.message_id for c in self.seeds}

    @property
    def timed_ids(self) -> set[str]:
        return {c.message_id for c in self.timed}


def customers(count: int) -> list[str]:
    return [str(FIRST_CSID + n) for n in range(count)]


def record_complaint(csid: str, tag: str) -> Command:
    complaint_id = uuid.uuid4()
    command = RecordComplaint(
        actor=OFFICER,
        complaint_id=complaint_id,
        level=ComplaintLevel.LEVEL_1,
        channel=ComplaintChannel.PHONE,
        issues=(
            ComplaintIssueInput(
                issue_id=uuid.uuid5(complaint_id, "issue"),
                category="SERVICE_QUALITY",
                issue="CALL_NOT_RETURNED",
            ),
        ),
        details=f"Customer says a promised call-back was not made ({tag}).",
        handling_form_text="COMPLAINT HANDLING\nIssue: call-back not made",
    )
    envelope = Envelope.wrap(command, csid=csid, producer=PRODUCER, occurred_at=datetime.now(UTC))
    return Command(str(envelope.message_id), envelope.key(), envelope.to_bytes())


def build_workload(customer_count: int, command_count: int) -> Workload:
    """Seeds, then the timed commands spread over the customers in turn."""
    csids = customers(customer_count)
    seeds = [record_complaint(csid, "seed") for csid in csids]
    timed = [record_complaint(csids[n % len(csids)], f"timed {n}") for n in range(command_count)]
    return Workload(csids, seeds, timed)


# -- Kafka


def producer(kafka: KafkaCluster) -> AIOKafkaProducer:
    """The producer every measurement uses: what the kit's broker is configured with."""
    return AIOKafkaProducer(
        **kafka.options(),
        enable_idempotence=True,
        acks="all",
        client_id=PRODUCER,
    )


async def send_all(client: AIOKafkaProducer, topic: str, commands: Sequence[Command]) -> list[int]:
    """Pipelined: every record handed to the producer, then every acknowledgement awaited. Returns
    each record's timestamp (Kafka CreateTime, ms)."""
    futures = [
        await client.send(topic, c.value, key=c.key, headers=list(development_headers_for(c.value).items()))
        for c in commands
    ]
    sent = await asyncio.gather(*futures)
    return [int(meta.timestamp) for meta in sent]


async def produce(kafka: KafkaCluster, topic: str, *batches: Sequence[Command]) -> None:
    """The batches in order, each fully acknowledged before the next."""
    client = producer(kafka)
    await client.start()
    try:
        for batch in batches:
            await send_all(client, topic, batch)
    finally:
        await client.stop()


async def create_topics(kafka: KafkaCluster, names: Iterable[str], partitions: int) -> None:
    """Creates the topics and waits until each partition has a leader: a producer that looks a fresh
    topic up sooner is told "not leader" and backs off, which would be counted in its time."""
    names = list(names)
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    try:
        for name in names:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(name, partitions, 1)])
        for _ in range(300):
            if await _led(admin, names, partitions):
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def _led(admin: AIOKafkaAdminClient, names: list[str], partitions: int) -> bool:
    described = await admin.describe_topics(names)
    return all(
        not topic["error_code"]
        and len(topic["partitions"]) == partitions
        and all(p["leader"] >= 0 for p in topic["partitions"])
        for topic in described
    )


async def delete_topics(kafka: KafkaCluster, suffix: str) -> None:
    """Every topic whose name ends with ``suffix``: a run's topics are gone after it."""
    admin = AIOKafkaAdminClient(**kafka.options())
    try:
        await admin.start()
        names = [name for name in await admin.list_topics() if name.endswith(suffix)]
        if names:
            await admin.delete_topics(names)
    except Exception:  # leftover topics cost disk, never a figure
        pass
    finally:
        await admin.close()


def run_id() -> str:
    return uuid.uuid4().hex[:8]


# -- processes


def cpu_seconds(pid: int | None = None) -> float:
    """utime + stime of a process (this one by default), from /proc/<pid>/stat."""
    path = f"/proc/{pid or os.getpid()}/stat"
    with open(path, encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> float:
    return os.getloadavg()[0]


def counters(metrics_text: str) -> dict[str, float]:
    """The process's store commands and Kafka requests from ``/metrics``, as ``store:find``,
    ``kafka:FetchRequest``, …"""
    found: dict[str, float] = {}
    families = {
        "casemesh_store_commands": ("store", "command"),
        "casemesh_kafka_requests": ("kafka", "request"),
    }
    for family in text_string_to_metric_families(metrics_text):
        kind = families.get(family.name)
        if kind is None:
            continue
        prefix, label = kind
        for sample in family.samples:
            if sample.name.endswith("_total"):
                found[f"{prefix}:{sample.labels.get(label, '')}"] = sample.value
    return found


def subtract(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v - before.get(k, 0.0)}


def per_message(delta: dict[str, float], prefix: str, messages: int) -> float:
    return sum(v for k, v in delta.items() if k.startswith(prefix)) / max(messages, 1)
