"""FastStream wiring every service shares.

A service's ``app.py`` makes a ``ServiceRuntime`` from its settings and a ``build`` function,
declares its subscribers as thin adapters that call ``runtime.consume``, and returns
``runtime.app``. Nothing connects at import time: the Mongo client, the stores, the relay and
the HTTP server are made in the lifespan, from settings.

Every subscriber joins the service's consumer group with ``AckPolicy.MANUAL``: the offset is
committed only after the record's state change and outgoing events are stored (never the
default auto-commit, which is at-most-once). Records of one subscriber are processed one after
another, so a commit never passes an earlier record that is still unprocessed.

Subscribers are co-partitioned: every input topic of a service has ``topic_partitions``
partitions, and the range assignor gives partition *p* of each of them to the same replica, so
one replica handles a customer's messages from every topic. A service whose input topics have
unequal partition counts refuses to start (``TopicLayoutError``).

FastStream hands the kit the raw record: its own parser would decode headers and its decoder
the body before the kit's lanes, and a failure there would skip the record silently. Here the
parser never reads a header and the decoder never reads the body (``kit.codec`` does).

On shutdown, in order: consumption stops and the records in flight finish and commit (at most
``graceful_timeout_s``), the relay publishes what is left in the outbox while the producer is
still open, then the broker and the store clients close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from aiokafka import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage as InjectedMessage
from faststream.kafka.message import KafkaMessage
from faststream.message import StreamMessage
from pydantic import ValidationError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from starlette.routing import BaseRoute

from contracts.envelope import IDENTITY_HEADER
from contracts.topics import (
    READS,
    REJECTIONS_TOPIC,
    TOPICS,
    Topic,
    TopicKind,
    deadletter_topic,
    topics_written_by,
)
from kit.errors import TopicLayoutError
from kit.http import HttpServer, api_app, health_app
from kit.identity import ServiceTokens, Verifier
from kit.instrument import StoreCommandListener, count_kafka_requests
from kit.logs import BROKER_LOGGER, configure, log, log_limited
from kit.memory import is_memory_url, memory_database
from kit.metrics import Metrics
from kit.outbox import OutboxRelay
from kit.processing import BatchHandler, Clock, DeadLetter, Incoming, Outcome, Processor, Stopping
from kit.rejections import announcement
from kit.settings import ServiceSettings
from kit.store import AggregateStore
from kit.timers import TimerSweeper
from kit.transport import kafka_security


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Wiring:
    """What a service builds once its database is open."""

    handle: BatchHandler
    stores: Sequence[AggregateStore[Any]]
    routes: Sequence[BaseRoute] = ()
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)


class _Headerless:
    """A record as FastStream's own parser may see it: everything but the headers, which it
    would decode as UTF-8 text (failing on any other bytes, or on a null value)."""

    __slots__ = ("_record",)
    headers: tuple[()] = ()

    def __init__(self, record: Any) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        return getattr(self._record, name)


async def parse_records(
    records: Sequence[Any], default: Callable[[Any], Awaitable[StreamMessage[Any]]]
) -> StreamMessage[Any]:
    """FastStream's message around the untouched records of a batch; never fails on their bytes."""
    message = await default(tuple(_Headerless(record) for record in records))
    message.raw_message = tuple(records)
    return message


async def keep_bytes(message: StreamMessage[Any]) -> Any:
    """The body as it came: decoding it is the kit's job, inside its lanes."""
    return message.body


def incoming_from(record: Any) -> Incoming:
    """The kit's view of a consumed record; header values are kept as bytes (or None)."""
    headers: dict[str, bytes | None] = {}
    for item in record.headers or ():
        with contextlib.suppress(Exception):
            name, value = item
            headers[str(name)] = None if value is None else bytes(value)
    return Incoming(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=headers,
        received_at=record.timestamp / 1000 if record.timestamp_type == LOG_APPEND_TIME else None,
    )


LOG_APPEND_TIME = 1
"""A record's ``timestamp_type`` when the broker stamped it on arrival."""

STAMPED_BY_THE_BROKER = {"message.timestamp.type": "LogAppendTime"}
"""Commands topics' configuration: the broker's time of arrival is when a command's identity token
is judged (kit/identity.py), and no producer can set it."""


class _Takeover(ConsumerRebalanceListener):  # type: ignore[misc]
    """On an assignment, the relay's recovery pass runs once the previous owner's fresh events are
    old enough to take over (events it left unpublished)."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        if self.runtime.relay is not None:
            self.runtime.relay.recover_after(self.runtime.settings.outbox_takeover_s)


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
        self.rejections_topic = settings.topic(REJECTIONS_TOPIC)
        self.broker = KafkaBroker(
            settings.kafka_bootstrap_servers,
            # TLS and the service's own SASL principal (kit/transport.py); None for PLAINTEXT.
            security=kafka_security(settings),
            enable_idempotence=True,
            acks="all",
            client_id=f"casemesh-{settings.service_name}",
            graceful_timeout=settings.graceful_timeout_s,
            log_level=settings.broker_log_level,
            logger=BROKER_LOGGER,
            # Topics come from ensure_topics (with the partition count) or from the operator,
            # never from a subscriber's start with FastStream's default of one partition.
            allow_auto_create_topics=False,
        )
        self.mongo: AsyncMongoClient[dict[str, Any]] | None = None
        self.wiring: Wiring | None = None
        self.processor: Processor | None = None
        self.relay: OutboxRelay | None = None
        self.timers: TimerSweeper | None = None
        self.http: HttpServer | None = None
        """Health and metrics, open (``http_port``)."""
        self.api: HttpServer | None = None
        """The service's endpoints, behind a verified bearer token (``api_port``)."""
        self.verifier: Verifier | None = None
        """Verifies identity tokens (commands' headers, the endpoints' bearer tokens); set at start."""
        self.service_tokens = ServiceTokens(settings)
        self._background: list[asyncio.Task[None]] = []
        self.observers: list[Callable[[Incoming, Outcome], None]] = []
        """Told of each record once it is committed, with its outcome (the demo's timeline uses it)."""
        self.app = FastStream(
            self.broker,
            on_startup=[self._startup],
            on_shutdown=[self._drain],
            after_shutdown=[self._close],
        )

    @classmethod
    def for_service(
        cls, settings: ServiceSettings, *, build: Build, clock: Clock = utc_now
    ) -> ServiceRuntime:
        """A service's runtime, its topics taken from the contracts' registry (what it reads, what
        it writes), with its one subscriber over every input topic."""
        name = settings.service_name
        runtime = cls(
            settings,
            consumes=list(READS[name]),
            produces=[t.name for t in topics_written_by(name)],
            build=build,
            clock=clock,
        )
        runtime.subscribe()
        return runtime

    def subscribe(self) -> None:
        """Registers the one subscriber: every input topic, the service's group, manual commits."""

        async def consume(message: InjectedMessage) -> None:
            await self.consume(message)

        consume.__name__ = f"on_{self.settings.service_name}_input"
        self.broker.subscriber(*self.topics, **self.subscription)(consume)

    # -- wiring for app.py

    @property
    def topics(self) -> list[str]:
        return list(self.consumed)

    @property
    def topic_partitions(self) -> int:
        return self.settings.topic_partitions

    @property
    def subscription(self) -> dict[str, Any]:
        return {
            "group_id": self.settings.consumer_group,
            "ack_policy": AckPolicy.MANUAL,
            "auto_offset_reset": "earliest",
            "partition_assignment_strategy": (RangePartitionAssignor,),
            "batch": True,
            "max_records": self.settings.batch_size,
            "batch_timeout_ms": self.settings.batch_timeout_ms,
            "listener": _Takeover(self),
            "parser": parse_records,
            "decoder": keep_bytes,
        }

    async def consume(self, message: KafkaMessage) -> list[Outcome] | None:
        """Processes a batch of records, then commits each partition's offset once; on shutdown,
        rewinds every partition of the batch instead (no outcome)."""
        processor = self.processor
        if processor is None:
            await message.nack()
            return None
        batch = [incoming_from(record) for record in message.raw_message]
        if not batch:
            return []
        try:
            outcomes = await processor.process_batch(batch)
        except Stopping:
            await message.nack()
            return None
        except BaseException:
            # Cancelled when the graceful timeout ran out: rewind, never commit past a record.
            await message.nack()
            raise
        if self.relay is not None:
            if any(o in (Outcome.APPLIED, Outcome.REFUSED) for o in outcomes):
                self.relay.notify()
            await self.relay.room(self.settings.max_unpublished)
        try:
            await message.ack()
        except Exception as exc:
            # The batch is stored; a later commit covers it, or a redelivery is a duplicate.
            log_limited("commit_failed", key=batch[0].topic, error_class=type(exc).__name__)
        self._tell_observers(batch, outcomes)
        return outcomes

    def _tell_observers(self, batch: Sequence[Incoming], outcomes: Sequence[Outcome]) -> None:
        for incoming, outcome in zip(batch, outcomes, strict=True):
            for observer in self.observers:
                try:
                    observer(incoming, outcome)
                except Exception as exc:
                    log_limited("observer_failed", key=repr(observer), error_class=type(exc).__name__)

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
                event_listeners=[StoreCommandListener()],
            )
            database = self.mongo[s.mongodb_database]
        count_kafka_requests()
        await self.broker.connect()
        admin = self._admin()
        if admin is not None:
            if s.create_topics:
                await self.ensure_topics(admin)
            await self.check_copartitioning(admin)
        self.verifier = verifier = await asyncio.to_thread(Verifier.from_settings, s)
        self.wiring = await self.build(database, self)
        for store in self.wiring.stores:
            store.write_chunk = s.store_write_chunk
            await store.ensure_indexes()
        self.relay = OutboxRelay(
            self.wiring.stores,
            self._publish,
            self.metrics,
            s.outbox_interval_s,
            s.outbox_takeover_s,
            s.housekeeping_interval_s,
        )
        self.processor = Processor(
            settings=s,
            topics=self.consumed,
            handle=self.wiring.handle,
            dead_letter=self._publish_dead_letter,
            metrics=self.metrics,
            clock=self.clock,
            stopping=self.stopping,
            verify=verifier.check,
        )
        self.timers = TimerSweeper(self.wiring.stores, self._publish, self.clock, s.timer_interval_s)
        self.timers.start()
        self.relay.start()
        self.relay.notify()
        self._background = [asyncio.create_task(job()) for job in self.wiring.background]
        timeouts = {"header_timeout_s": s.http_header_timeout_s, "body_timeout_s": s.http_body_timeout_s}
        if s.http_port:
            health = health_app(self.metrics, self.ready)
            self.http = HttpServer(health, s.http_host, s.http_port, **timeouts)
            await self.http.start()
        if s.api_port and self.wiring.routes:
            # Every endpoint behind the same verifier as the commands' tokens.
            assert self.verifier is not None
            endpoints = api_app(self.wiring.routes, self.verifier)
            self.api = HttpServer(endpoints, s.http_host, s.api_port, **timeouts)
            await self.api.start()
        log("started", service=s.service_name, topics=self.topics)

    async def _drain(self) -> None:
        """Before FastStream closes the broker: stop consuming, let the records in flight finish
        and commit, then publish what is left in the outbox while the producer is open."""
        self.stopping.set()
        stopped = await asyncio.gather(
            *(subscriber.stop() for subscriber in self.broker.subscribers), return_exceptions=True
        )
        for failure in stopped:
            if isinstance(failure, BaseException):
                log("subscriber_stop_failed", error_class=type(failure).__name__, level=logging.WARNING)
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._background = []
        if self.timers is not None:
            await self.timers.stop()
        if self.relay is not None:
            try:
                await self.relay.stop()
            except Exception as exc:
                # Stored events stay in the outbox: the next start, or another replica, publishes them.
                log(
                    "outbox_final_flush_failed",
                    service=self.settings.service_name,
                    error_class=type(exc).__name__,
                    level=logging.ERROR,
                )

    async def _close(self) -> None:
        for server in (self.api, self.http):
            if server is not None:
                await server.stop()
        self.api = self.http = None
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

    def _admin(self) -> AIOKafkaAdminClient | None:
        """The connected broker's admin client; None for FastStream's in-memory broker."""
        client: AIOKafkaAdminClient | None = self.broker.config.broker_config.admin.admin_client
        return client

    async def ensure_topics(self, admin: AIOKafkaAdminClient) -> None:
        """Creates the service's missing topics with ``topic_partitions`` partitions each."""
        names = [*self.consumed, self.deadletter_topic, self.rejections_topic, *self.produced]
        for name in dict.fromkeys(names):
            configs = STAMPED_BY_THE_BROKER if self._is_commands(name) else {}
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(name, self.topic_partitions, 1, topic_configs=configs)])

    def _is_commands(self, name: str) -> bool:
        topic = self.consumed.get(name) or TOPICS.get(name.removesuffix(self.settings.topic_suffix))
        return topic is not None and topic.kind is TopicKind.COMMANDS

    async def check_copartitioning(self, admin: AIOKafkaAdminClient) -> dict[str, int]:
        """The partition count of each existing input topic; raises ``TopicLayoutError`` when
        they differ, before the service joins its consumer group."""
        described = await admin.describe_topics(list(self.consumed))
        counts = {
            str(topic["topic"]): len(topic["partitions"])
            for topic in described
            if not topic["error_code"] and topic["partitions"]
        }
        missing = [name for name in self.consumed if name not in counts]
        if missing:
            log("input_topics_missing", topics=missing, level=logging.WARNING)
        if len(set(counts.values())) > 1:
            listed = ", ".join(f"{name}: {count}" for name, count in sorted(counts.items()))
            raise TopicLayoutError(
                f"the input topics of {self.settings.service_name} have unequal partition counts "
                f"({listed}); a customer's messages on them would reach different replicas. "
                "Give every input topic the same count (topic_partitions)."
            )
        return counts

    # -- producing

    async def _publish(self, topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> Any:
        """Sends one record, signed as this service's (kit/identity.py); returns its acknowledgement
        to await (None where the broker is in memory)."""
        signed = {**headers, IDENTITY_HEADER: self.service_tokens.token()}
        return await self.broker.publish(value, topic=topic, key=key, headers=signed, no_confirm=True)

    async def _publish_dead_letter(self, letter: DeadLetter) -> None:
        """The dead letter for operators, then its announcement for the sender (issue 19)."""
        await self.broker.publish(
            letter.value, topic=self.deadletter_topic, key=letter.key, headers=letter.headers
        )
        s = self.settings
        try:
            key, value, headers = announcement(
                letter,
                service=s.service_name,
                deadletter_topic=self.deadletter_topic,
                now=self.clock(),
                max_bytes=s.max_message_bytes,
                max_depth=s.max_nesting_depth,
            )
        except (ValidationError, KeyError, ValueError) as exc:
            # The dead letter is the record; an announcement that cannot be built is only logged.
            log_limited("rejection_announcement_failed", key="build", error_class=type(exc).__name__)
            return
        await self.broker.publish(value, topic=self.rejections_topic, key=key, headers=headers)
