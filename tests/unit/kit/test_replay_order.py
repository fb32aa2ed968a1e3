"""A replay decides records in the order they happened across its input topics (kit/runtime.py's
``in_order``): an officer's command is never decided before the fact that opened its task, even
when the command's partition was fetched first."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition

from kit.runtime import in_order

FACTS = TopicPartition("casemesh.complaints.events.v1", 0)
COMMANDS = TopicPartition("casemesh.casework.commands.v1", 0)


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp: int


class Consumer:
    """What ``in_order`` asks of a consumer: its assignment, each partition's high watermark and
    position (how far it has given records)."""

    def __init__(self, ends: dict[TopicPartition, int], given: dict[TopicPartition, int]) -> None:
        self.ends = ends
        self.given = given

    def assignment(self) -> set[TopicPartition]:
        return set(self.ends)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.ends.get(tp)

    async def position(self, tp: TopicPartition) -> int:
        return self.given[tp]


def record(tp: TopicPartition, offset: int, timestamp: int) -> Record:
    return Record(tp.topic, tp.partition, offset, timestamp)


def held(*records: Record) -> dict[TopicPartition, deque[Any]]:
    found: dict[TopicPartition, deque[Any]] = {}
    for r in records:
        found.setdefault(TopicPartition(r.topic, r.partition), deque()).append(r)
    return found


async def test_a_command_fetched_before_its_fact_is_held_until_the_fact_arrives() -> None:
    claim = record(COMMANDS, 0, timestamp=2_000)
    waiting = held(claim)
    consumer = Consumer(ends={FACTS: 1, COMMANDS: 1}, given={FACTS: 0, COMMANDS: 1})

    assert await in_order(waiting, consumer, 100) == []
    assert list(waiting[COMMANDS]) == [claim]

    fact = record(FACTS, 0, timestamp=1_000)
    waiting[FACTS] = deque([fact])
    consumer.given[FACTS] = 1
    assert await in_order(waiting, consumer, 100) == [fact, claim]
    assert not any(waiting.values())


async def test_records_of_several_partitions_come_out_by_time_each_partition_in_its_own_order() -> None:
    facts = [record(FACTS, n, t) for n, t in enumerate((1_000, 3_000, 5_000))]
    commands = [record(COMMANDS, n, t) for n, t in enumerate((2_000, 4_000))]
    waiting = held(*facts, *commands)
    consumer = Consumer(ends={FACTS: 3, COMMANDS: 2}, given={FACTS: 3, COMMANDS: 2})

    released = await in_order(waiting, consumer, 100)

    assert [r.timestamp for r in released] == [1_000, 2_000, 3_000, 4_000, 5_000]


async def test_a_partition_with_more_to_give_stops_the_release_at_its_last_held_record() -> None:
    facts = [record(FACTS, 0, 1_000)]
    commands = [record(COMMANDS, 0, 2_000)]
    waiting = held(*facts, *commands)
    consumer = Consumer(ends={FACTS: 5, COMMANDS: 1}, given={FACTS: 1, COMMANDS: 1})

    assert await in_order(waiting, consumer, 100) == facts
    assert list(waiting[COMMANDS]) == commands


async def test_an_empty_partition_does_not_hold_the_others_back_and_the_limit_is_kept() -> None:
    empty = TopicPartition("casemesh.contacts.events.v1", 0)
    facts = [record(FACTS, n, 1_000 + n) for n in range(5)]
    waiting = held(*facts)
    consumer = Consumer(ends={FACTS: 5, empty: 0}, given={FACTS: 5, empty: 0})

    assert await in_order(waiting, consumer, 3) == facts[:3]
    assert await in_order(waiting, consumer, 3) == facts[3:]


async def test_a_partition_not_fetched_yet_holds_everything_back() -> None:
    waiting = held(record(COMMANDS, 0, 2_000))
    consumer = Consumer(ends={COMMANDS: 1}, given={COMMANDS: 1, FACTS: 0})
    consumer.ends[FACTS] = None  # type: ignore[assignment]

    assert await in_order(waiting, consumer, 100) == []
