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

Two hooks serve ``casemesh rebuild`` (kit/rebuild.py). A runtime with ``replaying`` set, before its
start, rebuilds a fresh generation from its topics and publishes nothing: its relay marks outbox
entries sent without sending them, its dead letters are dropped, its timers, background jobs and
generation check never start, and records are decided at their own stamps' time (to within
``replay_clock_window_s``). A running runtime checks every ``generation_check_interval_s`` whether
a rebuild made another generation live, and sets ``superseded`` when one did.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from aiokafka import ConsumerRebalanceListener, TopicPartition
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
from pymongo.errors import OperationFailure
from starlette.routing import BaseRoute

from contracts.envelope import IDENTITY_HEADER
from contracts.topics import (
    READS,
    REJECTIONS_TOPIC,
    TOPICS,
    Topic,
    deadletter_topic,
    topics_written_by,
)
from kit.errors import TopicLayoutError
from kit.http import HttpServer, api_app, health_app
from kit.identity import ServiceTokens, Verifier
from kit.instrument import StoreCommandListener, count_kafka_requests
from kit.lag import LAG_INTERVAL_S, ConsumerLag
from kit.logs import BROKER_LOGGER, configure, log, log_limited
from kit.loops import Periodic
from kit.metrics import Metrics
from kit.outbox import OutboxRelay
from kit.processing import BatchHandler, Clock, DeadLetter, Incoming, Outcome, Processor, Stopping
from kit.rebuild import CONTROL_COLLECTION, UNAUTHORIZED, Generations, lineage
from kit.rejections import announcement
from kit.settings import ServiceSettings
from kit.store import AggregateStore
from kit.timers import TimerSweeper
from kit.topic_configs import topic_configs
from kit.tracing import TRACEPARENT, BatchTrace, Tracing, envelope_ids
from kit.transport import kafka_security
from kit.twin import is_memory_url, memory_database


def utc_now() -> datetime:
    return datetime.now(UTC)


DeadLetterAnswer = tuple[str, bytes | None, bytes, dict[str, str]]
"""A record a service publishes in answer to a dead letter: ``(topic, key, value, headers)``."""


@dataclass
class Wiring:
    """What a service builds once its database is open."""

    handle: BatchHandler
    stores: Sequence[AggregateStore[Any]]
    routes: Sequence[BaseRoute] = ()
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    answer_dead_letter: Callable[[DeadLetter, datetime], DeadLetterAnswer | None] | None = None
    """The service's own answer to a dead letter, besides the announcement: ``(topic, key, value,
    headers)`` to publish, or None (notifications answers a channel's unreadable receipt, issue 18).
    Must not raise."""


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


REPLAY_RELEASE_INTERVAL_S = 0.2
"""How often a replay looks again at records it holds for order (kit/rebuild.py)."""

LOG_APPEND_TIME = 1
"""A record's ``timestamp_type`` when the broker stamped it on arrival."""


def replay_runs(stamps: Sequence[int], window_ms: int) -> list[tuple[int, int]]:
    """A batch's records, in order, as runs ``(start, stop)`` whose stamps lie within ``window_ms``
    of the run's first. A replay decides each run at its latest stamp: a rule's ``now`` is then
    within ``window_ms`` of when the live service decided it, never before the record arrived."""
    runs: list[tuple[int, int]] = []
    first = 0
    for index in range(1, len(stamps)):
        if abs(stamps[index] - stamps[first]) > window_ms:
            runs.append((first, index))
            first = index
    if stamps:
        runs.append((first, len(stamps)))
    return runs


async def in_order(held: dict[TopicPartition, deque[Any]], consumer: Any, limit: int) -> list[Any]:
    """Up to ``limit`` of the ``held`` records, earliest first (by record timestamp, each partition
    in its own order), while every partition ``consumer`` is assigned either holds a later record
    or has given all it has (its position at its high watermark): none can still give an earlier
    one. What is returned is taken out of ``held``."""

    async def drained(tp: TopicPartition) -> bool:
        high = consumer.highwater(tp)
        return high is not None and int(await consumer.position(tp)) >= int(high)

    assigned = set(consumer.assignment())
    quiet = {tp for tp in assigned if not held.get(tp) and await drained(tp)}
    released: list[Any] = []
    while len(released) < limit:
        heads = [(queue[0].timestamp, tp) for tp, queue in held.items() if queue]
        if not heads or any(not held.get(tp) and tp not in quiet for tp in assigned):
            break
        _, first = min(heads)
        released.append(held[first].popleft())
        if not held[first] and await drained(first):
            quiet.add(first)
    return released


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
        self.tracing = Tracing.from_settings(settings)
        """Each flow's spans (kit/tracing.py); None while ``tracing_enabled`` is off."""
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
        self.replaying = False
        """Set before the start by kit/rebuild.py: rebuild a fresh generation, publishing nothing."""
        self.superseded = asyncio.Event()
        """Set once a rebuild made another generation of this service live (kit/rebuild.py):
        ``casemesh run`` then stops, for its supervisor to start it on that one."""
        self._generation_check: Periodic | None = None
        self.lag: ConsumerLag | None = None
        self._generation_unreadable = False
        self._replayed_at: datetime | None = None
        self._held: dict[TopicPartition, deque[Any]] = {}
        self._releasing = asyncio.Lock()
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
        subscriber = self.broker.subscriber(*self.topics, **self.subscription)
        subscriber(consume)
        self.lag = ConsumerLag(self.metrics.registry, subscriber, self.settings.topic_suffix)

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
        records = list(message.raw_message)
        if self.replaying:
            for record in records:
                self._held.setdefault(TopicPartition(record.topic, record.partition), deque()).append(record)
            return await self.release_held()
        batch = [incoming_from(record) for record in records]
        if not batch:
            return []
        trace = self.tracing.batch() if self.tracing is not None else None
        try:
            outcomes = await self._process(processor, records, batch, trace)
        except Stopping:
            await message.nack()
            return None
        except BaseException:
            # Cancelled when the graceful timeout ran out: rewind, never commit past a record.
            await message.nack()
            raise
        await self._commit(message, batch, outcomes)
        if trace is not None and self.tracing is not None:
            self.tracing.record(trace, batch, outcomes)
        self._tell_observers(batch, outcomes)
        return outcomes

    async def _commit(
        self, message: KafkaMessage, batch: Sequence[Incoming], outcomes: list[Outcome]
    ) -> None:
        """Wakes the relay, waits for the outbox's room, then commits the batch's offsets."""
        if self.relay is not None:
            if any(o in (Outcome.APPLIED, Outcome.REFUSED) for o in outcomes):
                self.relay.notify()
            await self.relay.room(self.settings.max_unpublished)
        try:
            await message.ack()
        except Exception as exc:
            # The batch is stored; a later commit covers it, or a redelivery is a duplicate.
            log_limited("commit_failed", key=batch[0].topic, error_class=type(exc).__name__)

    async def _process(
        self,
        processor: Processor,
        records: Sequence[Any],
        batch: Sequence[Incoming],
        trace: BatchTrace | None = None,
    ) -> list[Outcome]:
        """The batch's outcomes; a replay decides it run by run, each at its records' time."""
        if not self.replaying:
            return await processor.process_batch(batch, trace)
        stamps = [int(record.timestamp) for record in records]
        window_ms = int(self.settings.replay_clock_window_s * 1000)
        outcomes: list[Outcome] = []
        for start, stop in replay_runs(stamps, window_ms):
            latest = max(stamps[start:stop])
            self._replayed_at = datetime.fromtimestamp(latest / 1000, UTC) if latest >= 0 else None
            outcomes += await processor.process_batch(batch[start:stop])
        return outcomes

    async def release_held(self) -> list[Outcome]:
        """A replay decides its records in the order they happened across all its input topics, as
        the live service met them (an officer's command after the fact that opened its task): a
        record is held until no assigned partition can still give an earlier one, then decided,
        and the offsets of what was decided committed. Returns the outcomes of what it released."""
        consumer = next((c for c in self._consumers() if c is not None), None)
        processor = self.processor
        if consumer is None or processor is None:
            return []
        async with self._releasing:
            ready = await in_order(self._held, consumer, self.settings.batch_size)
            if not ready:
                return []
            outcomes = await self._process(processor, ready, [incoming_from(r) for r in ready])
            offsets = {TopicPartition(r.topic, r.partition): r.offset + 1 for r in ready}
            await consumer.commit(offsets)
        if self.relay is not None:
            self.relay.notify()
        return outcomes

    def _consumers(self) -> list[Any]:
        """The Kafka consumers of the service's subscribers (one, however it was wired)."""
        return [getattr(subscriber, "consumer", None) for subscriber in self.broker.subscribers]

    @property
    def held(self) -> int:
        """Records a replay holds until it may decide them in order."""
        return sum(len(queue) for queue in self._held.values())

    def _replay_clock(self) -> datetime:
        """A replay's ``now``: the time of the records being decided (kit/rebuild.py)."""
        return self._replayed_at or self.clock()

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
        publish = _discard if self.replaying else self._publish
        self.relay = OutboxRelay(
            self.wiring.stores,
            publish,
            self.metrics,
            s.outbox_interval_s,
            s.outbox_takeover_s,
            s.housekeeping_interval_s,
        )
        self.processor = Processor(
            settings=s,
            topics=self.consumed,
            handle=self.wiring.handle,
            dead_letter=_drop_dead_letter if self.replaying else self._publish_dead_letter,
            metrics=self.metrics,
            clock=self._replay_clock if self.replaying else self.clock,
            stopping=self.stopping,
            verify=verifier.check,
        )
        self.timers = TimerSweeper(self.wiring.stores, publish, self.clock, s.timer_interval_s)
        self.relay.start()
        self.relay.notify()
        if self.replaying:
            # Records held for order are released once the partitions ahead of them are drained.
            release = Periodic("replay_release", self.release_held, REPLAY_RELEASE_INTERVAL_S)
            self._background = [asyncio.create_task(release.run())]
        else:
            # A replay arms timers for the live generation to fire, and starts no work of its own.
            self.timers.start()
            jobs = list(self.wiring.background)
            if self.lag is not None:
                jobs.append(Periodic("consumer_lag", self.lag.refresh, LAG_INTERVAL_S).run)
            # casemesh_ready follows the store and broker even where no probe asks.
            jobs.append(Periodic("readiness", self.ready, LAG_INTERVAL_S).run)
            self._background = [asyncio.create_task(job()) for job in jobs]
            self._watch_generation()
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
        log("started", service=s.service_name, topics=self.topics, replaying=self.replaying)

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
        if self._generation_check is not None:
            await self._generation_check.stop()
            self._generation_check = None
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
        if self.tracing is not None:
            # Spans still batched for the exporter go out before the process may exit.
            await asyncio.to_thread(self.tracing.provider.force_flush)
        self.processor = None
        log("stopped", service=self.settings.service_name)

    async def start(self) -> None:
        await self.app.start()

    async def stop(self) -> None:
        await self.app.stop()

    async def ready(self) -> bool:
        """Whether the service is started and its store and broker answer, both asked at once within
        ``readiness_timeout_s`` (below a Kubernetes probe's default 1 s); sets ``casemesh_ready``."""
        ok = await self._reachable()
        self.metrics.ready.set(1 if ok else 0)
        return ok

    async def _reachable(self) -> bool:
        if self.processor is None:
            return False
        timeout = self.settings.readiness_timeout_s
        checks: list[Awaitable[Any]] = [self.broker.ping(timeout=timeout)]
        if self.mongo is not None:
            checks.append(self.mongo.admin.command("ping"))
        try:
            answers = await asyncio.wait_for(asyncio.gather(*checks), timeout=timeout)
        except Exception:
            return False
        return bool(answers[0])

    def _admin(self) -> AIOKafkaAdminClient | None:
        """The connected broker's admin client; None for FastStream's in-memory broker."""
        client: AIOKafkaAdminClient | None = self.broker.config.broker_config.admin.admin_client
        return client

    async def ensure_topics(self, admin: AIOKafkaAdminClient) -> None:
        """Creates the service's missing topics with ``topic_partitions`` partitions each, configured
        as kit/topic_configs.py says (a topic the registry does not know keeps the broker's defaults)."""
        names = [*self.consumed, self.deadletter_topic, self.rejections_topic, *self.produced]
        for name in dict.fromkeys(names):
            topic = self._registered(name)
            configs = topic_configs(topic) if topic is not None else {}
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(name, self.topic_partitions, 1, topic_configs=configs)])

    def _registered(self, name: str) -> Topic | None:
        return self.consumed.get(name) or TOPICS.get(name.removesuffix(self.settings.topic_suffix))

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

    # -- generations (kit/rebuild.py)

    def _watch_generation(self) -> None:
        s = self.settings
        if self.mongo is None or not s.generation_check_interval_s:
            return
        self._generation_check = Periodic(
            "generation_check", self.check_generation, s.generation_check_interval_s
        )
        self._generation_check.start()

    async def check_generation(self) -> bool:
        """Whether a rebuild made another generation of this service live; sets ``superseded`` then.
        A store user that may not read the generation records turns the check off (logged once)."""
        s = self.settings
        if self.mongo is None or self._generation_unreadable or self.superseded.is_set():
            return self.superseded.is_set()
        generations = Generations(self.mongo[s.control_database][CONTROL_COLLECTION])
        try:
            live = await generations.newest(lineage(s))
        except OperationFailure as exc:
            if exc.code != UNAUTHORIZED:
                raise
            log("generation_check_refused", database=s.control_database, level=logging.WARNING)
            self._generation_unreadable = True
            return False
        running = (s.mongodb_database, s.consumer_group)
        if live is not None and (live.database, live.consumer_group) != running:
            log(
                "superseded",
                service=s.service_name,
                generation=live.number,
                database=live.database,
                consumer_group=live.consumer_group,
                level=logging.WARNING,
            )
            self.superseded.set()
        return self.superseded.is_set()

    # -- producing

    async def _publish(self, topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> Any:
        """Sends one record, signed as this service's (kit/identity.py); returns its acknowledgement
        to await (None where the broker is in memory). FastStream's ``correlation_id`` header is the
        envelope's (else it would be a fresh id on every record); while tracing is on, the record
        carries the ``traceparent`` of its publish span (kit/tracing.py)."""
        signed = {**headers, IDENTITY_HEADER: self.service_tokens.token()}
        ids = envelope_ids(value)
        correlation = ids.correlation_id if ids is not None else None
        if self.tracing is None or ids is None:
            return await self.broker.publish(
                value, topic=topic, key=key, headers=signed, correlation_id=correlation, no_confirm=True
            )
        span, signed[TRACEPARENT] = self.tracing.start_publish(topic, ids)
        try:
            ack = await self.broker.publish(
                value, topic=topic, key=key, headers=signed, correlation_id=correlation, no_confirm=True
            )
        except BaseException as exc:
            self.tracing.fail_publish(span, exc)
            raise
        self.tracing.end_publish(span, ack)
        return ack

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
        else:
            await self.broker.publish(value, topic=self.rejections_topic, key=key, headers=headers)
        answer = self.wiring.answer_dead_letter if self.wiring is not None else None
        found = answer(letter, self.clock()) if answer is not None else None
        if found is not None:
            topic, key, value, headers = found
            await self.broker.publish(value, topic=topic, key=key, headers=headers)


async def _discard(topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
    """A replay's publishing: the live generation published these records already, under the same
    ids, so the relay only marks them sent."""


async def _drop_dead_letter(letter: DeadLetter) -> None:
    """A replay's dead letters: the live generation published and announced them already."""
