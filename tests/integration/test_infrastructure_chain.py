"""The chain every service relies on, through the real broker and the real store."""

from __future__ import annotations

import json

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from tests.conftest import Infra, TopicFactory


async def test_an_idempotent_producer_and_a_manually_committing_consumer_pass_messages_in_key_order(
    infra: Infra, topics: TopicFactory
) -> None:
    topic = topics.name("casemesh.chain")
    await topics.create(topic, partitions=3)
    producer = AIOKafkaProducer(**infra.kafka.options(), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for n in range(5):
            await producer.send_and_wait(topic, json.dumps({"n": n}).encode(), key=b"123456789")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        **infra.kafka.options(),
        group_id=f"{topic}.group",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        seen: list[int] = []
        partitions: set[int] = set()
        while len(seen) < 5:
            batch = await consumer.getmany(timeout_ms=10_000)
            assert batch, "no message arrived within 10 s"
            for tp, records in batch.items():
                partitions.add(tp.partition)
                seen.extend(json.loads(r.value)["n"] for r in records)
        await consumer.commit()
        (partition,) = partitions
        committed = await consumer.committed(TopicPartition(topic, partition))
    finally:
        await consumer.stop()

    assert seen == [0, 1, 2, 3, 4], "one key lands on one partition, in order"
    assert committed == 5


async def test_a_document_is_written_and_read_and_a_unique_index_rejects_a_duplicate(
    mongo: AsyncMongoClient[dict[str, object]], database_name: str
) -> None:
    collection = mongo[database_name]["aggregates"]
    await collection.create_index("message_id", unique=True)
    await collection.insert_one({"_id": "123456789", "message_id": "m-1", "version": 1})

    found = await collection.find_one({"_id": "123456789"})
    assert found == {"_id": "123456789", "message_id": "m-1", "version": 1}

    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"_id": "987654321", "message_id": "m-1", "version": 1})
    assert await collection.count_documents({}) == 1
