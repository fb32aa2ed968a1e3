"""Co-partitioned consumption through the real broker: partition p of every input topic of a
service is assigned to one replica, the partition count is one setting, and a service whose input
topics have unequal counts refuses to start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from faststream.kafka.annotations import KafkaMessage

from contracts.envelope import Envelope
from contracts.topics import Topic, TopicKind
from kit.errors import TopicLayoutError
from kit.processing import one_by_one
from kit.runtime import Database, ServiceRuntime, Wiring
from kit.settings import DEFAULT_TOPIC_PARTITIONS, ServiceSettings
from kit.store import AggregateStore
from kit.transport import KafkaCluster
from tests.conftest import Infra, TopicFactory
from tests.integration.kit.tally import COMMANDS, TOPICS, AddToTally, Tally
from tests.support import Mesh

CUSTOMERS = "casemesh.tally.customers.v1"
TWO_TOPICS = {
    **TOPICS,
    CUSTOMERS: Topic(
        name=CUSTOMERS,
        kind=TopicKind.EVENTS,
        writer="any",
        messages=(AddToTally,),
        description="A second input topic of the tally test service",
    ),
}


def two_topic_runtime(settings: ServiceSettings) -> ServiceRuntime:
    """A service reading two topics, like referrals reads its commands and the customers' events."""

    async def build(database: Database, runtime: ServiceRuntime) -> Wiring:
        async def handle(envelope: Envelope, message: Any, now: Any) -> Any:
            raise AssertionError("no record is sent in these tests")

        return Wiring(handle=one_by_one(handle), stores=[AggregateStore(database["tallies"], Tally)])

    runtime = ServiceRuntime(
        settings,
        consumes=[COMMANDS, CUSTOMERS],
        build=build,
        extra_topics=TWO_TOPICS,
        deadletter="casemesh.tally.deadletter.v1",
    )

    @runtime.broker.subscriber(*runtime.topics, **runtime.subscription)  # type: ignore[untyped-decorator]
    async def on_tally_input(message: KafkaMessage) -> None:
        await runtime.consume(message)

    return runtime


def assignment(runtime: ServiceRuntime) -> set[TopicPartition]:
    assigned: set[TopicPartition] = set()
    for subscriber in runtime.broker.subscribers:
        consumer = getattr(subscriber, "consumer", None)
        if consumer is not None:
            assigned |= set(consumer.assignment())
    return assigned


@pytest.fixture
async def mesh(infra: Infra) -> AsyncIterator[Mesh]:
    m = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    yield m
    await m.close()


async def partition_counts(kafka: KafkaCluster, *topics: str) -> dict[str, int]:
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    try:
        return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(list(topics))}
    finally:
        await admin.close()


async def test_two_replicas_of_a_two_topic_service_each_get_the_same_numbered_partitions_of_both(
    mesh: Mesh,
) -> None:
    # An odd count: with an even one, round-robin over two topics happens to pair partitions too.
    settings = mesh.settings(ServiceSettings, service_name="tally", topic_partitions=5)
    first = await mesh.start(two_topic_runtime(settings))
    second = await mesh.start(two_topic_runtime(settings))
    commands, customers = mesh.topic(COMMANDS), mesh.topic(CUSTOMERS)
    everything = {
        TopicPartition(t, p) for t in (commands, customers) for p in range(settings.topic_partitions)
    }

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        a, b = assignment(first), assignment(second)
        if a and b and not a & b and a | b == everything:
            break
        assert loop.time() < deadline, f"the group never settled: {a} / {b}"
        await asyncio.sleep(0.1)

    for replica in (a, b):
        on_commands = {tp.partition for tp in replica if tp.topic == commands}
        on_customers = {tp.partition for tp in replica if tp.topic == customers}
        assert on_commands == on_customers, "partition p of both topics belongs to one replica"
        assert on_commands


async def test_the_service_creates_its_topics_with_the_configured_partition_count(mesh: Mesh) -> None:
    assert DEFAULT_TOPIC_PARTITIONS == ServiceSettings(service_name="tally").topic_partitions == 6
    settings = mesh.settings(ServiceSettings, service_name="tally", topic_partitions=4)
    runtime = await mesh.start(two_topic_runtime(settings))

    counts = await partition_counts(
        mesh.kafka, *runtime.consumed, runtime.deadletter_topic, *runtime.produced
    )

    assert counts == {mesh.topic(COMMANDS): 4, mesh.topic(CUSTOMERS): 4, runtime.deadletter_topic: 4}


async def test_the_test_topic_factory_creates_the_services_partition_count(topics: TopicFactory) -> None:
    name = topics.name("casemesh.factory")
    await topics.create(name)
    assert await partition_counts(topics.kafka, name) == {name: DEFAULT_TOPIC_PARTITIONS}


async def test_a_service_whose_input_topics_have_unequal_partition_counts_refuses_to_start(
    mesh: Mesh, topics: TopicFactory
) -> None:
    settings = mesh.settings(ServiceSettings, service_name="tally")
    await topics.create(mesh.topic(COMMANDS), partitions=6)
    await topics.create(mesh.topic(CUSTOMERS), partitions=3)
    runtime = two_topic_runtime(settings)
    try:
        with pytest.raises(TopicLayoutError) as refused:
            await runtime.start()
    finally:
        await runtime.stop()

    message = str(refused.value)
    assert f"{mesh.topic(COMMANDS)}: 6" in message
    assert f"{mesh.topic(CUSTOMERS)}: 3" in message
    assert not assignment(runtime), "it never joined the consumer group"
