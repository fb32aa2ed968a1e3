"""All six services in one process, on the embedded default or on real Kafka and MongoDB.

The host starts every service from the registry (:mod:`casemesh.services`) exactly as
``casemesh run`` does, and gives its caller what an upstream system has: a way to publish to a
topic and a tap that sees every record on the mesh's topics. Nothing reaches a service but
through its topics.

- **Embedded** (no Kafka given): FastStream's in-memory broker (``TestKafkaBroker``) joins the
  services' brokers, so a publish is delivered to each consumer group subscribed to the topic,
  and every store is the in-memory twin (``memory:`` URL, kit/memory.py).
- **Kafka**: each service has its own broker and consumer group on the real cluster, and creates
  its topics; the tap is one more consumer group reading them all from the start. On a secured
  cluster (``MeshConfig.kafka_cluster``) each service acts as its own principal; the host — the
  upstream system, the channels and the operator's view at once — acts as the admin.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from casemesh.services import SERVICES
from deploy.local.localinfra import free_port
from kit.identity import development_headers_for
from kit.logs import BROKER_LOGGER
from kit.processing import Clock, Incoming, Outcome
from kit.runtime import ServiceRuntime, utc_now
from kit.transport import ADMIN, KafkaCluster


@dataclass(frozen=True)
class Record:
    """One record seen on a mesh topic (``topic`` without the run's suffix)."""

    topic: str
    key: bytes
    value: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Processed:
    """A service has processed and committed a record (``topic`` without the run's suffix)."""

    service: str
    topic: str
    digest: str
    outcome: str


def digest(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


@dataclass
class MeshConfig:
    kafka_bootstrap_servers: str | None = None
    mongodb_url: str | None = None
    topic_suffix: str = ""
    database_prefix: str = "casemesh"
    services: Sequence[str] = tuple(SERVICES)
    http: bool = True
    """Serve each service's health on a free loopback port and its endpoints (work lists, uploads;
    a bearer token each) on another."""
    common: dict[str, Any] = field(default_factory=dict)
    """Settings every service gets (e.g. a quicker outbox interval)."""
    per_service: dict[str, dict[str, Any]] = field(default_factory=dict)
    kafka_cluster: KafkaCluster | None = None
    """The cluster's security and the principals' passwords; None for PLAINTEXT."""

    @property
    def embedded(self) -> bool:
        return self.kafka_bootstrap_servers is None

    def kafka_settings(self, service: str) -> dict[str, Any]:
        """A service's broker settings: the bootstrap servers and, on a secured cluster, its own
        principal's credentials."""
        bootstrap = self.kafka_bootstrap_servers or "embedded:9092"
        cluster = self.kafka_cluster
        if self.embedded or cluster is None:
            return {"kafka_bootstrap_servers": bootstrap}
        principal = service if cluster.has(service) else ADMIN
        return {**cluster.settings(principal), "kafka_bootstrap_servers": bootstrap}


class MeshHost:
    def __init__(self, config: MeshConfig, clock: Clock = utc_now) -> None:
        self.config = config
        self.records: list[Record] = []
        self._listeners: list[Callable[[Record | Processed], None]] = []
        self.processed: list[Processed] = []
        mongodb_url = config.mongodb_url or f"memory:{uuid.uuid4().hex}"
        bootstrap = config.kafka_bootstrap_servers or "embedded:9092"
        self.runtimes: dict[str, ServiceRuntime] = {}
        self.http_ports: dict[str, int] = {}
        self.api_ports: dict[str, int] = {}
        for name in config.services:
            if config.http:
                self.http_ports[name] = free_port()
                self.api_ports[name] = free_port()
            entry = SERVICES[name]
            settings = entry.settings(
                service_name=name,
                **config.kafka_settings(name),
                mongodb_url=mongodb_url,
                mongodb_database=f"{config.database_prefix}_{name}",
                topic_suffix=config.topic_suffix,
                http_host="127.0.0.1",
                http_port=self.http_ports.get(name, 0),
                api_port=self.api_ports.get(name, 0),
                create_topics=not config.embedded,
                **{**config.common, **config.per_service.get(name, {})},
            )
            runtime = self.runtimes[name] = entry.runtime(settings, clock)
            runtime.observers.append(self._observer(name))
        self.topics = self._all_topics()
        self.driver = KafkaBroker(
            bootstrap,
            security=config.kafka_cluster.security(ADMIN)
            if config.kafka_cluster and not config.embedded
            else None,
            client_id="casemesh-mesh-host",
            enable_idempotence=True,
            log_level=int(config.common.get("broker_log_level", logging.INFO)),
            logger=BROKER_LOGGER,
        )
        # The tap only watches: it commits each record once it has been noted.
        self.driver.subscriber(
            *self.topics,
            group_id=f"casemesh-tap-{uuid.uuid4().hex[:8]}",
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
        )(self._on_record)
        self._testing: TestKafkaBroker | None = None

    def _observer(self, service: str) -> Callable[[Incoming, Outcome], None]:
        def observe(incoming: Incoming, outcome: Outcome) -> None:
            topic = self.base(incoming.topic)
            processed = Processed(service, topic, digest(incoming.value or b""), outcome.value)
            self.processed.append(processed)
            for listener in self._listeners:
                listener(processed)

        return observe

    def http_url(self, service: str) -> str:
        """The base URL of ``service``'s health and metrics."""
        return f"http://127.0.0.1:{self.http_ports[service]}"

    def api_url(self, service: str) -> str:
        """The base URL of ``service``'s endpoints (an officer's screen calls these, with a token)."""
        return f"http://127.0.0.1:{self.api_ports[service]}"

    def consumers_of(self, topic: str) -> list[str]:
        """The services reading ``topic`` (its name without the run's suffix)."""
        name = f"{topic}{self.config.topic_suffix}"
        return [service for service, runtime in self.runtimes.items() if name in runtime.consumed]

    def _all_topics(self) -> list[str]:
        names: dict[str, None] = {}
        for runtime in self.runtimes.values():
            for topic in (*runtime.consumed, *runtime.produced, runtime.deadletter_topic):
                names[topic] = None
        return list(names)

    def base(self, topic: str) -> str:
        suffix = self.config.topic_suffix
        return topic[: -len(suffix)] if suffix and topic.endswith(suffix) else topic

    async def _on_record(self, message: KafkaMessage) -> None:
        raw = message.raw_message
        assert not isinstance(raw, tuple)
        record = Record(
            topic=self.base(raw.topic),
            key=raw.key or b"",
            value=raw.value or b"",
            headers={k: v.decode(errors="replace") for k, v in (raw.headers or ())},
        )
        self.records.append(record)
        for listener in self._listeners:
            listener(record)
        await message.ack()

    def listen(self, listener: Callable[[Record | Processed], None]) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        if self.config.embedded:
            brokers = [r.broker for r in self.runtimes.values()]
            self._testing = TestKafkaBroker(self.driver, *brokers)
            await self._testing.__aenter__()
            for runtime in self.runtimes.values():
                await runtime.start()
            return
        await asyncio.gather(*(runtime.start() for runtime in self.runtimes.values()))
        await self.driver.start()

    async def stop(self) -> None:
        for runtime in self.runtimes.values():
            with contextlib.suppress(Exception):
                await runtime.stop()
        if self._testing is not None:
            await self._testing.__aexit__(None, None, None)
            self._testing = None
        else:
            await self.driver.stop()

    async def publish(self, topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        """Publishes to a mesh topic (its name without the run's suffix), as an upstream system does."""
        # An officer's command carries the officer's identity token (issue 16), here from the
        # development key, as the agency's identity provider would sign it.
        signed = {**{k: v.decode() for k, v in development_headers_for(value).items()}, **headers}
        await self.driver.publish(value, topic=f"{topic}{self.config.topic_suffix}", key=key, headers=signed)
