"""FastStream wiring every service shares.

A service's ``app.py`` makes a ``ServiceRuntime`` from its settings and a ``build`` function,
declares its subscribers as thin adapters that call ``runtime.consume``, and returns
``runtime.app``. Nothing connects at import time: the Mongo client, the stores, the relay and
the HTTP server are made in the lifespan, from settings.

Every subscriber joins the service's consumer group with ``AckPolicy.MANUAL``: the offset is
committed only after the record's state change and outgoing events are stored (never the
default auto-commit, which is at-most-once). Records of one subscriber are processed one after
another, so a commit never passes an earlier record that is still unprocessed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from starlette.routing import BaseRoute

from contracts.topics import TOPICS, Topic, deadletter_topic
from kit.http import HttpServer, health_app
from kit.logs import BROKER_LOGGER, configure, log
from kit.memory import is_memory_url, memory_database
from kit.metrics import Metrics
from kit.outbox import OutboxRelay
from kit.processing import Clock, Handler, Incoming, Outcome, Processor, dead_letter_headers
from kit.settings import ServiceSettings
from kit.store import AggregateStore
from kit.timers import TimerSweeper


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Wiring:
    """What a service builds once its database is open."""

    handle: Handler
    stores: Sequence[AggregateStore[Any]]
    routes: Sequence[BaseRoute] = ()
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)


Database = AsyncDatabase[dict[str, Any]]
"""The service's database, as ``build`` receives it (so ``app.py`` needs no pymongo import)."""

Build = Callable[[Database, "ServiceRuntime"], Awaitable[Wiring]]


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        consumes: Sequence[str],
        produces: Sequence[str] = (),
        build: Build,
        clock: Clock = utc_now,
        topic_partitions: int = 3,
        extra_topics: dict[str, Topic] | None = None,
        deadletter: str | None = None,
    ) -> None:
        configure()
        self.settings = settings
        self.clock = clock
        self.build = build
        self.metrics = Metrics(settings.service_name)
        self.stopping = asyncio.Event()
        registry = {**TOPICS, **(extra_topics or {})}
        self.consumed = {settings.topic(name): registry[name] for name in consumes}
        self.deadletter_topic = settings.topic(deadletter or deadletter_topic(settings.service_name))
        self.produced = [settings.topic(name) for name in produces]
        self.topic_partitions = topic_partitions
        self.broker = KafkaBroker(
            settings.kafka_bootstrap_servers,
            enable_idempotence=True,
            acks="all",
            client_id=f"casemesh-{settings.service_name}",
            graceful_timeout=settings.graceful_timeout_s,
            log_level=settings.broker_log_level,
            logger=BROKER_LOGGER,
        )
        self.mongo: AsyncMongoClient[dict[str, Any]] | None = None
        self.wiring: Wiring | None = None
        self.processor: Processor | None = None
        self.relay: OutboxRelay | None = None
        self.timers: TimerSweeper | None = None
        self.http: HttpServer | None = None
        self._background: list[asyncio.Task[None]] = []
        self.observers: list[Callable[[Incoming, Outcome], None]] = []
        """Told of each record once it is committed, with its outcome (the demo's timeline uses it)."""
        self.app = FastStream(
            self.broker,
            on_startup=[self._startup],
            on_shutdown=[self._begin_shutdown],
            after_shutdown=[self._finish_shutdown],
        )

    # -- wiring for app.py

    @property
    def topics(self) -> list[str]:
        return list(self.consumed)

    @property
    def subscription(self) -> dict[str, Any]:
        return {
            "group_id": self.settings.consumer_group,
            "ack_policy": AckPolicy.MANUAL,
            "auto_offset_reset": "earliest",
        }

    async def consume(self, message: KafkaMessage) -> Outcome:
        """Processes one record, then commits it; on shutdown, rewinds it instead."""
        assert self.processor is not None, "the service has not started"
        record = message.raw_message
        assert not isinstance(record, tuple)
        incoming = Incoming(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers={k: v for k, v in (record.headers or ())},
        )
        try:
            outcome = await self.processor.process(incoming)
        except BaseException:
            # Stopping, or a fault in the kit itself: rewind so the record is read again,
            # never committed past.
            await message.nack()
            raise
        if self.relay is not None and outcome in (Outcome.APPLIED, Outcome.REFUSED):
            self.relay.notify()
        await message.ack()
        for observer in self.observers:
            observer(incoming, outcome)
        return outcome

    # -- lifespan

    async def _startup(self) -> None:
        s = self.settings
        database: Database
        if is_memory_url(s.mongodb_url):
            # The in-memory twin (kit/memory.py) has the same awaitable surface the stores use.
            database = cast(Database, memory_database(s.mongodb_url, s.mongodb_database))
        else:
            self.mongo = AsyncMongoClient(
                s.mongodb_url,
                tz_aware=True,
                serverSelectionTimeoutMS=s.store_timeout_ms,
                appname=f"casemesh-{s.service_name}",
            )
            database = self.mongo[s.mongodb_database]
        if s.create_topics:
            await self.ensure_topics()
        self.wiring = await self.build(database, self)
        for store in self.wiring.stores:
            await store.ensure_indexes()
        self.relay = OutboxRelay(
            self.wiring.stores, self._publish, self.metrics, s.outbox_interval_s, s.outbox_takeover_s
        )
        self.processor = Processor(
            settings=s,
            topics=self.consumed,
            handle=self.wiring.handle,
            dead_letter=self._dead_letter,
            metrics=self.metrics,
            clock=self.clock,
            stopping=self.stopping,
        )
        self.timers = TimerSweeper(self.wiring.stores, self._publish, self.clock, s.timer_interval_s)
        await self.broker.connect()
        self.timers.start()
        self.relay.start()
        self.relay.notify()
        self._background = [asyncio.create_task(job()) for job in self.wiring.background]
        if s.http_port:
            self.http = HttpServer(
                health_app(self.metrics, self.ready, self.wiring.routes), s.http_host, s.http_port
            )
            await self.http.start()
        log("started", service=s.service_name, topics=self.topics)

    async def _begin_shutdown(self) -> None:
        self.stopping.set()

    async def _finish_shutdown(self) -> None:
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.timers is not None:
            await self.timers.stop()
        if self.relay is not None:
            await self.relay.stop()
        if self.http is not None:
            await self.http.stop()
        if self.mongo is not None:
            await self.mongo.close()
            self.mongo = None
        self.processor = None
        log("stopped", service=self.settings.service_name)

    async def start(self) -> None:
        await self.app.start()

    async def stop(self) -> None:
        await self.app.stop()

    async def ready(self) -> bool:
        if self.processor is None:
            return False
        try:
            if self.mongo is not None:
                await asyncio.wait_for(self.mongo.admin.command("ping"), timeout=2)
            return bool(await self.broker.ping(timeout=2))
        except Exception:
            return False

    async def ensure_topics(self) -> None:
        names = [*self.consumed, self.deadletter_topic, *self.produced]
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap_servers)
        await admin.start()
        try:
            for name in dict.fromkeys(names):
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics([NewTopic(name, self.topic_partitions, 1)])
        finally:
            await admin.close()

    # -- producing

    async def _publish(self, topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        await self.broker.publish(value, topic=topic, key=key, headers=headers)

    async def _dead_letter(self, incoming: Incoming, reason_code: str, reason: str, error_class: str) -> None:
        headers = dead_letter_headers(incoming, reason_code, reason, error_class)
        await self.broker.publish(
            incoming.value or b"", topic=self.deadletter_topic, key=incoming.key, headers=headers
        )
