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
from kit.runtime import ServiceRuntime
from kit.settings import DEFAULT_TOPIC_PARTITIONS, ServiceSettings

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


class Mesh:
    """Fresh topic names (a suffix) shared by the services one test starts, and a client to drive them."""

    def __init__(self, bootstrap_servers: str, mongodb_url: str) -> None:
        self.bootstrap_servers = bootstrap_servers
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
        return settings

    async def start(self, runtime: ServiceRuntime) -> ServiceRuntime:
        await runtime.start()
        self.runtimes.append(runtime)
        return runtime

    async def send(self, topic: str, message: Envelope | bytes, key: str | None = None) -> None:
        """Publishes to a (base) topic name, keyed by the envelope's CSID."""
        if self._producer is None:
            self._producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap_servers, enable_idempotence=True, acks="all"
            )
            await self._producer.start()
        if isinstance(message, Envelope):
            value, key = message.to_bytes(), key or message.csid
        else:
            value = message
        await self._producer.send_and_wait(self.topic(topic), value, key=key.encode() if key else None)

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
            bootstrap_servers=self.bootstrap_servers,
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
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers, group_id=group, enable_auto_commit=False
        )
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


async def group_state(bootstrap_servers: str, group: str) -> tuple[str, list[set[tuple[str, int]]]]:
    """A consumer group's state and each member's assigned (topic, partition) pairs."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
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
