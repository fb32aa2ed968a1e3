"""``casemesh run referrals`` as real processes: two replicas against the real broker and store.

Both replicas are started exactly as a docker-compose container starts one — the command, with
its settings in ``CASEMESH_REFERRALS_…`` environment variables — and stopped with SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from casemesh.run import STOP_MARGIN_S
from contracts.base import Actor, Role
from contracts.catalogue.customers import CustomerRegistered
from contracts.catalogue.referrals import AssignCustomerToPS, PSReferralType
from contracts.topics import CUSTOMERS_TOPIC, READS, commands_topic, events_topic
from deploy.local.localinfra import free_port
from kit.settings import DEFAULT_TOPIC_PARTITIONS
from kit.transport import KafkaCluster
from tests.conftest import Infra
from tests.support import Mesh, Record, bearer, envelope, group_state, payloads, types, wait_for

ROOT = Path(__file__).resolve().parents[3]
SERVICE = "referrals"
COMMANDS = commands_topic(SERVICE)
EVENTS = events_topic(SERVICE)
PARTITIONS = DEFAULT_TOPIC_PARTITIONS  # what the runtime creates each topic with
GRACEFUL_TIMEOUT_S = 10.0
TEAM = "PS Team 1"
CSIDS = [f"3100000{n:02d}" for n in range(12)]
MANAGER = Actor(
    officer_id="SM-1",
    role=Role.SERVICE_MANAGER,
    first_name="Alex",
    site="Hobart",
    team="PS Managers",
    extension="1234",
)

Partition = tuple[str, int]


@dataclass
class Replica:
    name: str
    process: asyncio.subprocess.Process
    port: int
    log_path: Path
    log_file: IO[bytes]
    api_port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """The endpoints (a customer's history), behind a verified token."""
        return f"http://127.0.0.1:{self.api_port}"

    def log(self) -> str:
        self.log_file.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


class Replicas:
    """Starts ``casemesh run referrals`` processes sharing one mesh's topics, database and group."""

    def __init__(self, mesh: Mesh, database: str, logs: Path) -> None:
        self.mesh = mesh
        self.group = f"casemesh-{SERVICE}{mesh.suffix}"
        self.database = database
        self.logs = logs
        self.started: list[Replica] = []

    def environment(self, port: int, api_port: int) -> dict[str, str]:
        prefix = f"CASEMESH_{SERVICE.upper()}_"
        env = {k: v for k, v in os.environ.items() if not k.startswith(prefix)}
        # Each process acts as the service's own principal (its credentials in its environment).
        env.update(self.mesh.kafka.environment(prefix, self.mesh.principal_of(SERVICE)))
        settings = {
            "KAFKA_BOOTSTRAP_SERVERS": self.mesh.bootstrap_servers,
            "MONGODB_URL": self.mesh.mongodb_url,
            "MONGODB_DATABASE": self.database,
            "CONSUMER_GROUP": self.group,
            "TOPIC_SUFFIX": self.mesh.suffix,
            "HTTP_PORT": str(port),
            "API_PORT": str(api_port),
            "GRACEFUL_TIMEOUT_S": str(GRACEFUL_TIMEOUT_S),
            "OUTBOX_INTERVAL_S": "0.2",
            "PS_TEAMS": '{"PS Team 1": ["EMP1", "EMP2"]}',
        }
        env.update({prefix + name: value for name, value in settings.items()})
        return env

    async def start(self) -> Replica:
        taken = {p for r in self.started for p in (r.port, r.api_port)}
        port = free_port()
        while port in taken:
            port = free_port()
        api_port = free_port()
        while api_port in taken or api_port == port:
            api_port = free_port()
        name = f"replica-{len(self.started) + 1}"
        log_path = self.logs / f"{name}.log"
        log_file = log_path.open("wb")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "casemesh.cli",
            "run",
            SERVICE,
            cwd=ROOT,
            env=self.environment(port, api_port),
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
        )
        replica = Replica(name, process, port, log_path, log_file, api_port)
        self.started.append(replica)
        return replica

    async def wait_ready(self, replica: Replica, timeout_s: float = 60.0) -> None:
        async with httpx.AsyncClient(base_url=replica.url, timeout=2.0) as client:

            async def ready() -> bool:
                assert replica.process.returncode is None, f"{replica.name} exited:\n{replica.tail()}"
                with contextlib.suppress(httpx.HTTPError):
                    return (await client.get("/health/ready")).status_code == 200
                return False

            await wait_for(ready, timeout_s)

    async def close(self) -> None:
        for replica in self.started:
            if replica.process.returncode is None:
                replica.process.kill()
                await replica.process.wait()
            replica.log_file.close()


async def offsets(
    kafka: KafkaCluster, group: str, partitions: list[Partition]
) -> dict[Partition, tuple[int, int]]:
    """(committed offset of the group, end offset) of each partition."""
    consumer = AIOKafkaConsumer(**kafka.options(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for topic, p in partitions]
        ends = await consumer.end_offsets(tps)
        return {(tp.topic, tp.partition): (await consumer.committed(tp) or 0, ends[tp]) for tp in tps}
    finally:
        await consumer.stop()


def consumed_count(metrics: str) -> int:
    return int(sum(float(v) for v in re.findall(r"^casemesh_consumed_total\{[^}]*\} (\S+)$", metrics, re.M)))


def distinct(records: list[Record]) -> list[Record]:
    """The first record of each message id."""
    first: dict[str, Record] = {}
    for record in records:
        first.setdefault(json.loads(record.value)["message_id"], record)
    return list(first.values())


def registered() -> CustomerRegistered:
    return CustomerRegistered(
        given_name="Jordan",
        family_name="Lee",
        is_international=False,
        is_centrelink_customer=True,
        site="Hobart",
        team="Mainstream 12",
    )


def assign() -> AssignCustomerToPS:
    return AssignCustomerToPS(
        actor=MANAGER,
        referral_id=uuid.uuid4(),
        referral_type=PSReferralType.OTHER,
        team=TEAM,
        officer_id="EMP1",
    )


async def start_two(mesh: Mesh, replicas: Replicas) -> tuple[Replica, Replica, list[set[Partition]]]:
    """Two replicas, ready, once the group is stable with the service's partitions split between them."""
    began = time.perf_counter()
    first, second = await replicas.start(), await replicas.start()
    await asyncio.gather(replicas.wait_ready(first), replicas.wait_ready(second))
    split: list[set[Partition]] = []

    async def split_between_both() -> bool:
        nonlocal split
        state, split = await group_state(mesh.kafka, replicas.group)
        return state == "Stable" and len(split) == 2 and all(split)

    await wait_for(split_between_both, timeout_s=60)
    print(f"\nboth replicas ready and sharing the group in {time.perf_counter() - began:.2f}s")
    return first, second, split


async def register(mesh: Mesh, replica: Replica, csids: list[str]) -> None:
    """Makes the customers known to the service (their registration comes from the customer system)."""
    for csid in csids:
        await mesh.send(CUSTOMERS_TOPIC, envelope(registered(), csid))
    async with httpx.AsyncClient(base_url=replica.api_url, headers=bearer("READER-1", Role.CSO)) as client:

        async def all_known() -> bool:
            codes = [(await client.get(f"/customers/{csid}/history")).status_code for csid in csids]
            return codes == [200] * len(csids)

        await wait_for(all_known)


async def read_events(mesh: Mesh, count: int) -> list[Record]:
    """``count`` distinct events. Each replica's outbox relay may publish an event the other is
    publishing too (at least once, under the same message id), so events are told apart by id."""
    records = await mesh.read(EVENTS, count, settle_s=0.5, until=lambda rs: len(distinct(rs)) >= count)
    events = distinct(records)
    print(f"{len(records)} event records for {len(events)} events")
    return events


def assert_one_assignment_each(events: list[Record], csids: list[str]) -> None:
    assert Counter(types(events)) == {
        "CustomerAssignedToPS": len(csids),
        "CustomerOwnershipAssigned": len(csids),
    }
    assert sorted(r.key.decode() for r in events if types([r]) == ["CustomerAssignedToPS"]) == sorted(csids)
    assert {p["officer_id"] for p in payloads(events, "CustomerAssignedToPS")} == {"EMP1"}


async def terminate(*stopping: Replica) -> None:
    """SIGTERM each; each must exit 0 (a generous bound only catches a hang: graceful timeout + margin)."""
    sent = time.perf_counter()
    for replica in stopping:
        replica.process.send_signal(signal.SIGTERM)

    async def exit_of(replica: Replica) -> tuple[int, float]:
        code = await asyncio.wait_for(replica.process.wait(), timeout=GRACEFUL_TIMEOUT_S + STOP_MARGIN_S + 5)
        return code, time.perf_counter() - sent

    exits = await asyncio.gather(*(exit_of(replica) for replica in stopping))
    for replica, (code, seconds) in zip(stopping, exits, strict=True):
        print(f"{replica.name} exited with status {code} {seconds:.2f}s after SIGTERM")
        assert code == 0, replica.tail()
        assert '"event": "shutdown_complete"' in replica.log(), replica.tail()


async def assert_all_committed(mesh: Mesh, group: str, partitions: list[Partition], records: int) -> None:
    """Nothing left uncommitted: the group's offsets reach the end of every partition it reads."""
    after = await offsets(mesh.kafka, group, partitions)
    assert {p: committed for p, (committed, _end) in after.items()} == {
        p: end for p, (_c, end) in after.items()
    }
    assert sum(end for _c, end in after.values()) == records


def read_partitions(mesh: Mesh) -> list[Partition]:
    return [(mesh.topic(topic), p) for topic in READS[SERVICE] for p in range(PARTITIONS)]


@pytest.fixture
async def mesh(infra: Infra) -> AsyncIterator[Mesh]:
    m = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    yield m
    await m.close()


@pytest.fixture
async def replicas(mesh: Mesh, database_name: str, tmp_path: Path) -> AsyncIterator[Replicas]:
    started = Replicas(mesh, database_name, tmp_path)
    yield started
    await started.close()


async def test_two_replicas_share_the_group_split_the_partitions_and_each_process_their_own(
    mesh: Mesh, replicas: Replicas
) -> None:
    first, second, split = await start_two(mesh, replicas)
    partitions = read_partitions(mesh)
    assert not split[0] & split[1], "no partition is assigned twice"
    assert split[0] | split[1] == set(partitions), "every partition the service reads is assigned"

    await register(mesh, first, CSIDS)
    for csid in CSIDS:
        await mesh.send(COMMANDS, envelope(assign(), csid))
    assert_one_assignment_each(await read_events(mesh, 2 * len(CSIDS)), CSIDS)

    # Each replica consumed exactly the records of its own partitions: the work was split.
    ends = await offsets(mesh.kafka, replicas.group, partitions)
    sent_to = [sum(ends[p][1] for p in owned) for owned in split]
    assert sum(sent_to) == 2 * len(CSIDS)
    assert all(sent_to), "the CSIDs' records fell on partitions of both replicas"
    counted = []
    for replica in (first, second):
        async with httpx.AsyncClient(base_url=replica.url) as client:
            counted.append(consumed_count((await client.get("/metrics")).text))
    assert sorted(counted) == sorted(sent_to)

    await terminate(first, second)
    await assert_all_committed(mesh, replicas.group, partitions, 2 * len(CSIDS))


async def test_a_replica_stopped_mid_stream_exits_0_and_the_other_finishes_everything_it_left(
    mesh: Mesh, replicas: Replicas
) -> None:
    csids = [f"3200000{n:02d}" for n in range(30)]
    first, second, _split = await start_two(mesh, replicas)
    await register(mesh, second, csids)

    await asyncio.gather(*(mesh.send(COMMANDS, envelope(assign(), csid)) for csid in csids))
    await terminate(first)  # while the burst is being processed
    applied = first.log().split('"event": "stopping"')
    print(
        f"{first.name} applied {applied[0].count('AssignCustomerToPS')} assignments before SIGTERM and "
        f"{applied[1].count('AssignCustomerToPS')} in flight after it; {len(csids)} were sent"
    )

    async def second_owns_everything() -> bool:
        state, members = await group_state(mesh.kafka, replicas.group)
        return state == "Stable" and members == [set(read_partitions(mesh))]

    await wait_for(second_owns_everything, timeout_s=60)
    assert_one_assignment_each(await read_events(mesh, 2 * len(csids)), csids)

    await terminate(second)
    await assert_all_committed(mesh, replicas.group, read_partitions(mesh), 2 * len(csids))
