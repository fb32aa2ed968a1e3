"""``casemesh rebuild SERVICE``: a service's database made again from the topics it reads, beside
the live one, then switched to.

A read model (contacts' communications log, casework's) whose rules change has to be built again
from everything that happened, and only the topics hold everything: they keep every record
(kit/topic_configs.py, docs/decisions/0009-event-retention.md). Any service can be rebuilt the same
way, since a service is a function of its input topics.

1. **A new generation.** A generation is a database and a consumer group. Generation 1 is the
   configured pair (``casemesh_contacts``, ``casemesh-contacts``); generation *n* adds ``_g<n>`` and
   ``-g<n>``. The rebuild claims the next number by inserting a record into
   ``<control_database>.generations`` under ``_id`` ``"<service>@<n>"``. An insert under a unique
   ``_id`` is atomic on MongoDB and on FerretDB; a conditional update is not on FerretDB 1.24
   (decision 0005). So records are only ever inserted, numbers are never reused, and the highest
   live one wins.
2. **A silent replay.** The service's own runtime starts in this process on the new database and
   group, from the earliest offsets, with ``replaying`` set (kit/runtime.py). The relay marks every
   outbox entry sent without sending it: the live service published those events already, under
   the same ids. Dead letters are dropped. The timer sweeper, background jobs and endpoints never
   start. Records stamped within ``replay_clock_window_s`` (60 s) of each other are decided
   together at the latest of their stamps, not at the rebuild's time, so a log keeps the times of
   its facts to within that window. A smaller window is closer and slower: each run is a batch of
   its own, and a sparse history has few records per minute.
3. **Caught up.** The replay stops once the new group's committed offsets reach the end offsets
   read at the start and a later check finds no lag. Then the live group must have committed as
   far: it has stored, so its relay publishes, every event the replay left unpublished. The
   rebuild waits for that before switching.
4. **The switch.** A second record, ``"<service>@<n>:live"``, makes the generation live. ``casemesh
   run`` reads the newest live record before it starts (``adopt_generation``). A replica still on
   an older generation notices within ``generation_check_interval_s``, stops cleanly and exits 3
   for its supervisor to start it again, on the new generation (casemesh/run.py). Timers the
   replay armed fire from there. A timer whose command the live service already sent was disarmed
   by that command in the replay, and a repeat carries the same message id, which the ledger drops.

Between the switch record and the old replicas' exit both generations run; the new one decides
again what the old one decided last, and publishes the same events under the same ids, which
consumers drop as duplicates. The old database is left for the operator to drop; the outcome
names it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError, OperationFailure

from contracts.topics import READS
from kit.logs import log
from kit.settings import ServiceSettings
from kit.transport import aiokafka_options
from kit.twin import is_memory_url, memory_database

if TYPE_CHECKING:
    from kit.runtime import ServiceRuntime

S = TypeVar("S", bound=ServiceSettings)
Document = dict[str, Any]
Offsets = Mapping[TopicPartition, int]

CONTROL_COLLECTION = "generations"
FIRST_GENERATION = 1
LIVE = "live"
REBUILDING = "rebuilding"
POLL_S = 0.5
PROGRESS_EVERY_S = 5.0
DEFAULT_TIMEOUT_S = 3600.0
UNAUTHORIZED = 13
"""The store's error code for a command its user may not run."""


class RebuildRefused(Exception):
    """A reason not to start a rebuild, as one line for the operator."""


@dataclass(frozen=True)
class Generation:
    """Where a service keeps its state (``database``) and how far it has read (``consumer_group``)."""

    service: str
    """The service's name with its topic suffix: a test's copy never meets production's."""
    number: int
    database: str
    consumer_group: str

    def record(self, state: str, at: datetime, **extra: Any) -> Document:
        live = ":live" if state == LIVE else ""
        return {
            "_id": f"{self.service}@{self.number:06d}{live}",
            "service": self.service,
            "number": self.number,
            "state": state,
            "database": self.database,
            "consumer_group": self.consumer_group,
            "at": at,
            **extra,
        }

    @classmethod
    def from_record(cls, document: Document) -> Generation:
        return cls(
            str(document["service"]),
            int(document["number"]),
            str(document["database"]),
            str(document["consumer_group"]),
        )


def lineage(settings: ServiceSettings) -> str:
    """What generation records call a service: its name and topic suffix."""
    return f"{settings.service_name}{settings.topic_suffix}"


def generation_of(settings: ServiceSettings, number: int) -> Generation:
    """Generation ``number`` of the service whose configured (first-generation) settings these are."""
    if number == FIRST_GENERATION:
        return Generation(lineage(settings), number, settings.mongodb_database, settings.consumer_group)
    return Generation(
        lineage(settings),
        number,
        f"{settings.mongodb_database}_g{number}",
        f"{settings.consumer_group}-g{number}",
    )


def newest_live(documents: Iterable[Document]) -> Generation | None:
    """The live generation: the highest number made live (records are only ever added)."""
    live = [d for d in documents if d.get("state") == LIVE]
    return Generation.from_record(max(live, key=lambda d: int(d["number"]))) if live else None


def next_number(documents: Iterable[Document]) -> int:
    """One above every number claimed, live or abandoned: a half-built database is never reused."""
    return max([FIRST_GENERATION, *(int(d["number"]) for d in documents)]) + 1


def adopted(settings: S, generation: Generation) -> S:
    """``settings`` running ``generation``."""
    return settings.model_copy(
        update={"mongodb_database": generation.database, "consumer_group": generation.consumer_group}
    )


def replaying_settings(settings: S, generation: Generation) -> S:
    """What the replaying copy runs with: the new generation, no ports (the live copy answers), no
    topic creation (the topics to replay exist), no check for a newer generation."""
    return adopted(settings, generation).model_copy(
        update={"http_port": 0, "api_port": 0, "create_topics": False, "generation_check_interval_s": 0.0}
    )


class Generations:
    """The generation records of ``<control_database>.generations``; only ever inserted."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection

    async def documents(self, service: str) -> list[Document]:
        return [d async for d in self.collection.find({"service": service})]

    async def newest(self, service: str) -> Generation | None:
        """The live generation's record; None while the service runs its first."""
        return newest_live(await self.documents(service))

    async def live(self, settings: ServiceSettings) -> Generation:
        """The generation the service runs now: the newest live record's, else its first."""
        return await self.newest(lineage(settings)) or generation_of(settings, FIRST_GENERATION)

    async def claim(self, settings: ServiceSettings) -> Generation:
        """The next generation, claimed for a rebuild; refused when another rebuild claimed it."""
        generation = generation_of(settings, next_number(await self.documents(lineage(settings))))
        try:
            await self.collection.insert_one(generation.record(REBUILDING, datetime.now(UTC)))
        except DuplicateKeyError:
            raise RebuildRefused(
                f"generation {generation.number} of {generation.service} was claimed meanwhile by "
                "another rebuild"
            ) from None
        return generation

    async def switch(self, generation: Generation, replaced: Generation) -> None:
        """Makes ``generation`` live."""
        await self.collection.insert_one(
            generation.record(
                LIVE,
                datetime.now(UTC),
                replaced={"database": replaced.database, "consumer_group": replaced.consumer_group},
            )
        )


@contextlib.asynccontextmanager
async def control(settings: ServiceSettings) -> AsyncIterator[Generations]:
    """The service's generation records, on its store's server."""
    if is_memory_url(settings.mongodb_url):
        yield Generations(
            memory_database(settings.mongodb_url, settings.control_database)[CONTROL_COLLECTION]
        )
        return
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        settings.mongodb_url,
        tz_aware=True,
        serverSelectionTimeoutMS=settings.store_timeout_ms,
        appname=f"casemesh-{settings.service_name}-control",
    )
    try:
        yield Generations(client[settings.control_database][CONTROL_COLLECTION])
    finally:
        await client.close()


async def current_generation(settings: ServiceSettings) -> Generation:
    """The generation the service whose configured settings these are runs now."""
    async with control(settings) as generations:
        return await generations.live(settings)


async def adopt_generation(settings: S) -> S:
    """The configured settings, running the service's live generation: what ``casemesh run`` starts.

    A store user that may not read ``control_database`` runs the configured generation, with a
    warning: refusing to start would stop every deployment whose users were made before generations
    existed, and a rebuild there needs a grant anyway (docs/rebuild.md)."""
    try:
        return adopted(settings, await current_generation(settings))
    except OperationFailure as exc:
        if exc.code != UNAUTHORIZED:
            raise
        log("generation_records_unreadable", database=settings.control_database, level=logging.WARNING)
        return settings


# -- offsets


def remaining(committed: Offsets, start: Offsets, target: Offsets) -> int:
    """Records between where a group is (its committed offset, else the partition's first) and
    ``target``, over every partition of ``target``."""
    total = 0
    for partition, end in target.items():
        first = start.get(partition, 0)
        total += max(0, end - max(committed.get(partition, first), first))
    return total


def truncated(start: Offsets) -> list[TopicPartition]:
    """Partitions whose first records are gone (retention, or records deleted by hand)."""
    return sorted(p for p, offset in start.items() if offset > 0)


class Positions:
    """Offsets of the input topics and of consumer groups, read as the service's own principal."""

    def __init__(self, settings: ServiceSettings) -> None:
        options = {"bootstrap_servers": settings.kafka_bootstrap_servers, **aiokafka_options(settings)}
        self.admin = AIOKafkaAdminClient(**options, request_timeout_ms=15_000)
        self.consumer = AIOKafkaConsumer(**options, group_id=None, enable_auto_commit=False)

    async def __aenter__(self) -> Positions:
        await self.admin.start()
        try:
            await self.consumer.start()
        except BaseException:
            await self.admin.close()
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def partitions(self, topics: Sequence[str]) -> list[TopicPartition]:
        described = await self.admin.describe_topics(list(topics))
        found = {str(t["topic"]): t for t in described if not t["error_code"] and t["partitions"]}
        missing = [name for name in topics if name not in found]
        if missing:
            raise RebuildRefused(f"no such topic: {', '.join(missing)}")
        return sorted(
            TopicPartition(name, int(p["partition"])) for name in topics for p in found[name]["partitions"]
        )

    async def bounds(self, partitions: Sequence[TopicPartition]) -> tuple[dict[TopicPartition, int], ...]:
        """Each partition's first offset and its end offset (the next record's)."""
        first = await self.consumer.beginning_offsets(list(partitions))
        end = await self.consumer.end_offsets(list(partitions))
        return dict(first), dict(end)

    async def ends(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return dict(await self.consumer.end_offsets(list(partitions)))

    async def committed(self, group: str, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The group's committed offsets; a partition it never committed is left out."""
        found = await self.admin.list_consumer_group_offsets(group, partitions=list(partitions))
        return {p: int(o.offset) for p, o in found.items() if o.offset >= 0}


# -- the rebuild


@dataclass(frozen=True)
class RebuildResult:
    generation: Generation
    """The generation built."""
    replaced: Generation
    """The generation live when the rebuild started."""
    switched: bool
    records: int
    """Records replayed (those on the input topics at the start)."""
    seconds: float
    reason: str = ""
    """Why it did not switch."""

    def summary(self) -> list[str]:
        """The outcome for the operator."""
        g, old = self.generation, self.replaced
        if not self.switched:
            return [
                f"{g.service}: not switched: {self.reason}",
                f"generation {g.number} is abandoned; drop its database {g.database} (consumer group "
                f"{g.consumer_group}). Generation {old.number} ({old.database}) stays live.",
            ]
        return [
            f"{g.service}: generation {g.number} is live: database {g.database}, consumer group "
            f"{g.consumer_group} ({self.records} records replayed in {self.seconds:.1f} s).",
            f"Replicas on generation {old.number} stop within generation_check_interval_s (exit 3); "
            "their supervisor starts them again on the new one.",
            f"Once they have stopped, drop the old database {old.database} (consumer group "
            f"{old.consumer_group} is no longer read).",
        ]


Progress = Callable[[str], None]


def _quiet(line: str) -> None:
    """No progress lines."""


class _Reporter:
    """Progress lines, one per phase and at most one every ``PROGRESS_EVERY_S`` within it."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self._last = 0.0

    def say(self, line: str, *, now: bool = False) -> None:
        if now or time.monotonic() - self._last >= PROGRESS_EVERY_S:
            self._last = time.monotonic()
            self.progress(line)


async def _until_none_left(
    count: Callable[[], Awaitable[int]], deadline: float, poll_s: float, say: Callable[[int], None]
) -> bool:
    """Polls ``count`` until it is 0 (True) or the deadline passes (False)."""
    while True:
        left = await count()
        say(left)
        if left == 0:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(poll_s)


async def rebuild(
    settings: S,
    make_runtime: Callable[[S], ServiceRuntime],
    *,
    topics: Sequence[str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = POLL_S,
    progress: Progress = _quiet,
) -> RebuildResult:
    """Builds the service's next generation from ``topics`` (default: what it reads, ``READS``) and
    makes it live, unless ``timeout_s`` passes first.

    ``settings`` are the service's configured ones, as ``casemesh run`` loads them before adopting
    a generation; ``make_runtime`` makes its runtime from settings (``SERVICES[name].runtime``).
    Raises ``RebuildRefused`` before claiming a generation when the topics are missing or their
    first records are gone; any failure after the claim is the result's ``reason``.
    """
    began = time.monotonic()
    deadline = began + timeout_s
    names = list(topics) if topics is not None else list(READS[settings.service_name])
    inputs = [settings.topic(name) for name in names]
    reporter = _Reporter(progress)
    async with control(settings) as generations, Positions(settings) as kafka:
        live = await generations.live(settings)
        partitions = await kafka.partitions(inputs)
        start, target = await kafka.bounds(partitions)
        cut = truncated(start)
        if cut:
            listed = ", ".join(f"{p.topic}[{p.partition}] from {start[p]}" for p in cut[:3])
            more = ", …" if len(cut) > 3 else ""
            raise RebuildRefused(
                f"the input topics no longer hold their first records ({listed}{more}); "
                "a rebuild from them would leave those facts out"
            )
        generation = await generations.claim(settings)
        records = remaining({}, start, target)

        def outcome(reason: str = "") -> RebuildResult:
            seconds = time.monotonic() - began
            return RebuildResult(generation, live, not reason, records, seconds, reason)

        reporter.say(
            f"{generation.service}: building generation {generation.number} (database "
            f"{generation.database}, consumer group {generation.consumer_group}) from {records} records "
            f"on {len(inputs)} topics, publishing nothing; generation {live.number} ({live.database}) "
            "stays live meanwhile",
            now=True,
        )
        try:
            reason = await _replay(
                make_runtime,
                replaying_settings(settings, generation),
                kafka,
                partitions,
                start,
                target,
                deadline,
                poll_s,
                reporter,
            )
            if reason:
                return outcome(reason)
            rebuilt = await kafka.committed(generation.consumer_group, partitions)

            async def live_behind() -> int:
                return remaining(await kafka.committed(live.consumer_group, partitions), start, rebuilt)

            def waiting(left: int) -> None:
                group = live.consumer_group
                reporter.say(
                    f"{generation.service}: the live consumer group {group} has stored everything replayed"
                    if left == 0
                    else f"{generation.service}: waiting for the live consumer group {group} to store "
                    f"{left} more records (their events are its to publish)",
                    now=left == 0,
                )

            if not await _until_none_left(live_behind, deadline, poll_s, waiting):
                return outcome(
                    f"the live consumer group {live.consumer_group} did not reach the rebuilt copy within "
                    f"{timeout_s:g} s: events of what it has not stored would never be published. "
                    "Run the live service, then rebuild again"
                )
            await generations.switch(generation, live)
        except Exception as exc:
            log(
                "rebuild_failed",
                service=generation.service,
                error_class=type(exc).__name__,
                level=logging.ERROR,
            )
            return outcome(f"{type(exc).__name__}: {exc}")
        log("rebuild_switched", service=generation.service, generation=generation.number, records=records)
        return outcome()


async def _replay(
    make_runtime: Callable[[S], ServiceRuntime],
    settings: S,
    kafka: Positions,
    partitions: Sequence[TopicPartition],
    start: Offsets,
    target: Offsets,
    deadline: float,
    poll_s: float,
    reporter: _Reporter,
) -> str:
    """Runs the replaying copy until it caught up with ``target`` and then with the topics' ends;
    stops it (its last batch committed) either way. Returns why it did not catch up, or ""."""
    runtime = make_runtime(settings)
    runtime.replaying = True
    group = settings.consumer_group
    total = remaining({}, start, target)

    async def behind_target() -> int:
        return remaining(await kafka.committed(group, partitions), start, target)

    async def lag() -> int:
        return remaining(await kafka.committed(group, partitions), start, await kafka.ends(partitions))

    def replayed(left: int) -> None:
        reporter.say(f"{settings.service_name}: {total - left}/{total} records replayed", now=left == 0)

    def lagging(left: int) -> None:
        reporter.say(
            f"{settings.service_name}: caught up, no lag"
            if left == 0
            else f"{settings.service_name}: {left} records arrived since the start; replaying them",
            now=left == 0,
        )

    try:
        await runtime.start()
        if not await _until_none_left(behind_target, deadline, poll_s, replayed):
            return f"the replay did not reach the topics' end offsets of its start in time ({total} records)"
        if not await _until_none_left(lag, deadline, poll_s, lagging):
            return "the replay did not find a moment without lag in time"
    finally:
        await runtime.stop()
    return ""
