"""Driving a service through the real broker and store, as an upstream system would."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.structs import ConsumerRecord

from contracts.base import Actor, Message, Role
from contracts.envelope import Envelope
from kit.identity import development_headers_for, development_token
from kit.runtime import ServiceRuntime
from kit.settings import DEFAULT_TOPIC_PARTITIONS, ServiceSettings
from kit.transport import ADMIN, KafkaCluster

Record = ConsumerRecord[Any, Any]

OFFICER = Actor(
    officer_id="OFF-1", role=Role.CSO, first_name="Sam", site="Hobart", team="Blue", extension="4321"
)


def envelope(message: Message, csid: str, *, occurred_at: datetime | None = None) -> Envelope:
    return Envelope.wrap(message, csid=csid, producer="tests", occurred_at=occurred_at or datetime.now(UTC))


def payloads(records: list[Record], message_type: str | None = None) -> list[dict[str, Any]]:
    """The payloads of the records (of one message type, if given), in order."""
    out = []
    for r in records:
        body = json.loads(r.value)
        if message_type is None or body["message_type"] == message_type:
            out.append(body["payload"])
    return out


def types(records: list[Record]) -> list[str]:
    return [json.loads(r.value)["message_type"] for r in records]


async def wait_for(check: Callable[[], Awaitable[bool]], timeout_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


def kafka_options(kafka: KafkaCluster | str, principal: str = ADMIN) -> dict[str, Any]:
    """An aiokafka client's ``bootstrap_servers`` and security, acting as ``principal``."""
    cluster = KafkaCluster.plaintext(kafka) if isinstance(kafka, str) else kafka
    return cluster.options(principal)


class Mesh:
    """Fresh topic names (a suffix) shared by the services one test starts, and a client to drive them.

    On a secured broker (``kafka``: the cluster and its principals' passwords) each service a test
    starts acts as its own principal, so every integration test runs under the broker's ACLs; a
    service the ACL table does not know (the kit's ``tally``) and the test's own clients (sending
    input, reading output) act as the admin super user.
    """

    def __init__(self, bootstrap_servers: str, mongodb_url: str, kafka: KafkaCluster | None = None) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.kafka = kafka or KafkaCluster.plaintext(bootstrap_servers)
        self.mongodb_url = mongodb_url
        self.suffix = f".t{uuid.uuid4().hex[:8]}"
        self.runtimes: list[ServiceRuntime] = []
        self.databases: list[str] = []
        self._producer: AIOKafkaProducer | None = None

    def topic(self, name: str) -> str:
        return f"{name}{self.suffix}"

    def settings(self, settings_type: type[ServiceSettings], **overrides: Any) -> Any:
        """Settings pointing a service at this mesh: its own database, topics and consumer group."""
        database = f"t_{uuid.uuid4().hex[:12]}"
        self.databases.append(database)
        values: dict[str, Any] = {
            "kafka_bootstrap_servers": self.bootstrap_servers,
            "mongodb_url": self.mongodb_url,
            "mongodb_database": database,
            "topic_suffix": self.suffix,
            "outbox_interval_s": 0.2,
            "outbox_takeover_s": 1.0,
            "retry_initial_s": 0.05,
            "retry_max_s": 0.5,
            "max_attempts": 3,
            "store_timeout_ms": 1000,
            **overrides,
        }
        settings = settings_type(**values)
        settings.consumer_group = f"{settings.consumer_group}{self.suffix}"
        for name, value in self.kafka.settings(self.principal_of(settings.service_name)).items():
            if name not in overrides:
                setattr(settings, name, value)
        return settings

    def principal_of(self, service: str) -> str:
        """The principal a service started by a test acts as: its own, else the admin."""
        return service if self.kafka.has(service) else ADMIN

    def options(self, principal: str = ADMIN) -> dict[str, Any]:
        """An aiokafka client's ``bootstrap_servers`` and security (the admin by default)."""
        return self.kafka.options(principal)

    async def start(self, runtime: ServiceRuntime) -> ServiceRuntime:
        await runtime.start()
        self.runtimes.append(runtime)
        return runtime

    async def send(
        self,
        topic: str,
        message: Envelope | bytes,
        key: str | None = None,
        headers: dict[str, bytes] | None = None,
    ) -> None:
        """Publishes to a (base) topic name, keyed by the envelope's CSID. An officer's command
        carries the identity token of its actor unless ``headers`` say otherwise (issue 16)."""
        if self._producer is None:
            self._producer = AIOKafkaProducer(**self.options(), enable_idempotence=True, acks="all")
            await self._producer.start()
        if isinstance(message, Envelope):
            value, key = message.to_bytes(), key or message.csid
        else:
            value = message
        signed = development_headers_for(value) if headers is None else headers
        await self._producer.send_and_wait(
            self.topic(topic), value, key=key.encode() if key else None, headers=list(signed.items())
        )

    async def read(
        self,
        topic: str,
        count: int,
        timeout_s: float = 30.0,
        settle_s: float = 1.0,
        until: Callable[[list[Record]], bool] | None = None,
    ) -> list[Record]:
        """Reads a (base) topic from the start until ``count`` records came (and ``until`` holds, if
        given) and no more came for ``settle_s``. Redelivered records count, so a test of an
        at-least-once path passes ``until`` to wait for what it needs."""
        consumer = AIOKafkaConsumer(
            self.topic(topic),
            **self.options(),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        records: list[Record] = []
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout_s
            while loop.time() < deadline:
                batch = await consumer.getmany(timeout_ms=int(settle_s * 1000))
                got = [r for rs in batch.values() for r in rs]
                records.extend(got)
                if len(records) >= count and not got and (until is None or until(records)):
                    break
        finally:
            await consumer.stop()
        records.sort(key=lambda r: (r.timestamp, r.partition, r.offset))
        return records

    async def committed(self, topic: str, group: str, partitions: int = DEFAULT_TOPIC_PARTITIONS) -> int:
        consumer = AIOKafkaConsumer(**self.options(), group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            total = 0
            for partition in range(partitions):
                total += await consumer.committed(TopicPartition(self.topic(topic), partition)) or 0
            return total
        finally:
            await consumer.stop()

    async def close(self) -> None:
        for runtime in reversed(self.runtimes):
            if runtime.processor is not None:
                await runtime.stop()
        self.runtimes.clear()
        if self._producer is not None:
            await self._producer.stop()


async def group_state(kafka: KafkaCluster | str, group: str) -> tuple[str, list[set[tuple[str, int]]]]:
    """A consumer group's state and each member's assigned (topic, partition) pairs."""
    admin = AIOKafkaAdminClient(**kafka_options(kafka), request_timeout_ms=5000)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    (described,) = response.groups
    _error, _group, state, _protocol_type, _protocol, members = described[:6]
    assignments = []
    for member in members:
        raw = member[4]
        decoded = ConsumerProtocolMemberAssignment.decode(raw) if raw else None
        assignments.append(
            {(tp.topic, tp.partition) for tp in decoded.partitions()} if decoded is not None else set()
        )
    return str(state), assignments


def bearer(officer_id: str, *roles: Role, privilege: int | None = None) -> dict[str, str]:
    """The ``Authorization`` header of an officer calling a service's endpoints (api_port)."""
    return {"Authorization": f"Bearer {development_token(officer_id, roles, privilege=privilege)}"}
