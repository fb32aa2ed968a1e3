"""Topic ownership is enforced by the broker (issue 16): on the secured broker every client is a
principal, and a principal may only do what deploy/kafka/acls.py allows.

Each test uses topics of its own, named as a test run names the real ones (the registry's name and
a suffix), so the PREFIXED bindings of the ACL table apply exactly as they do to a service.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed, TopicAuthorizationFailedError
from aiokafka.structs import ConsumerRecord
from pydantic import SecretStr

from contracts.base import Actor, Role
from contracts.catalogue.approvals import ApprovalAccepted, SubjectType
from contracts.envelope import Envelope
from contracts.topics import UPSTREAM, deadletter_topic, events_topic
from deploy.kafka.acls import OPERATOR, acl_table, describe_acls
from kit.transport import KafkaCluster, aiokafka_options
from tests.conftest import IN_CI, Infra, TopicFactory

MANAGER = Actor(
    officer_id="SM-1", role=Role.SERVICE_MANAGER, first_name="Lee", site="Hobart", team="PS", extension="4471"
)
PARTITIONS = 1


@pytest.fixture
def kafka(infra: Infra) -> KafkaCluster:
    if not infra.kafka.uses_sasl:
        reason = "this broker is not secured (the testcontainers path runs PLAINTEXT)"
        if IN_CI:
            pytest.fail(f"CI runs every integration test on the secured local broker: {reason}")
        pytest.skip(reason)
    return infra.kafka


def forged_acceptance() -> bytes:
    """An ``ApprovalAccepted`` that approvals never decided: it would move a referral on."""
    request = uuid.uuid4()
    accepted = ApprovalAccepted(
        request_id=request,
        subject_type=SubjectType.CMP,
        subject_id=str(request),
        chain_id=str(request),
        decided_by=MANAGER,
        reason="Looks fine to me",
    )
    return Envelope.wrap(
        accepted, csid="123456789", producer="approvals", occurred_at=datetime.now(UTC)
    ).to_bytes()


async def publish(kafka: KafkaCluster, principal: str, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(
        **kafka.options(principal), enable_idempotence=True, acks="all", request_timeout_ms=10_000
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"123456789")
    finally:
        await producer.stop()


async def read_all(kafka: KafkaCluster, principal: str, topic: str, settle_s: float = 2.0) -> list[Any]:
    """Every record on the topic's partitions from the start, read as ``principal`` outside any group."""
    consumer = AIOKafkaConsumer(
        **kafka.options(principal),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=10_000,
    )
    await consumer.start()
    records: list[ConsumerRecord[Any, Any]] = []
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settle_s
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=250)
            records += [r for rs in batch.values() for r in rs]
    finally:
        await consumer.stop()
    return records


async def test_the_broker_holds_exactly_the_acl_table(kafka: KafkaCluster) -> None:
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    try:
        held = await describe_acls(admin)
    finally:
        await admin.close()
    assert held == set(acl_table())


@pytest.mark.parametrize("forger", [UPSTREAM, "referrals"])
async def test_a_forged_approval_accepted_on_approvals_events_is_refused_by_the_broker_and_never_read(
    kafka: KafkaCluster, topics: TopicFactory, forger: str
) -> None:
    topic = topics.name(events_topic("approvals"))
    await topics.create(topic, partitions=PARTITIONS)

    with pytest.raises(TopicAuthorizationFailedError):
        await publish(kafka, forger, topic, forged_acceptance())

    # referrals, which would believe it, reads the topic and finds nothing there.
    assert await read_all(kafka, "referrals", topic) == []


async def test_the_approvals_principal_may_write_its_own_events_and_referrals_reads_them(
    kafka: KafkaCluster, topics: TopicFactory
) -> None:
    topic = topics.name(events_topic("approvals"))
    await topics.create(topic, partitions=PARTITIONS)
    accepted = forged_acceptance()

    await publish(kafka, "approvals", topic, accepted)

    assert [r.value for r in await read_all(kafka, "referrals", topic)] == [accepted]


async def read_or_refused(kafka: KafkaCluster, principal: str, topic: str) -> list[bytes]:
    """What ``principal`` can read of the topic. A principal with no ACL on it at all is not even
    told the topic exists (its partitions stay unknown, nothing is fetched); one that may write
    it but not read it is refused the fetch."""
    try:
        return [r.value for r in await read_all(kafka, principal, topic)]
    except TopicAuthorizationFailedError:
        return []


@pytest.mark.parametrize("reader", ["approvals", "referrals", UPSTREAM, "channels"])
async def test_a_dead_letter_topic_is_not_readable_by_a_service_or_upstream_principal(
    kafka: KafkaCluster, topics: TopicFactory, reader: str
) -> None:
    topic = topics.name(deadletter_topic("approvals"))
    await topics.create(topic, partitions=PARTITIONS)
    await publish(kafka, "approvals", topic, b'{"the original": "payload"}')

    assert await read_or_refused(kafka, reader, topic) == []
    assert await read_or_refused(kafka, OPERATOR, topic) == [b'{"the original": "payload"}']


async def test_the_writer_of_a_dead_letter_topic_is_refused_its_records(
    kafka: KafkaCluster, topics: TopicFactory
) -> None:
    topic = topics.name(deadletter_topic("approvals"))
    await topics.create(topic, partitions=PARTITIONS)
    await publish(kafka, "approvals", topic, b'{"the original": "payload"}')

    with pytest.raises(TopicAuthorizationFailedError):
        await read_all(kafka, "approvals", topic)


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL"])
async def test_an_anonymous_client_cannot_talk_to_the_client_port(kafka: KafkaCluster, protocol: str) -> None:
    # PLAINTEXT: the port speaks TLS only. SSL without SASL: TLS, but no principal.
    admin = AIOKafkaAdminClient(**kafka.anonymous(protocol).options(), request_timeout_ms=5000)
    try:
        with pytest.raises(KafkaConnectionError):
            await admin.start()
    finally:
        await admin.close()


async def test_a_wrong_password_is_refused(kafka: KafkaCluster) -> None:
    host, port = kafka.bootstrap_servers.split(",")[0].rsplit(":", 1)
    right = kafka.access("referrals")
    wrong = dataclasses.replace(right, kafka_sasl_password=SecretStr("not-the-password"))

    with pytest.raises(SaslAuthenticationFailed):
        await create_conn(host, int(port), **aiokafka_options(wrong))
    conn = await create_conn(host, int(port), **aiokafka_options(right))
    try:
        assert conn.connected()
    finally:
        conn.close()

    admin = AIOKafkaAdminClient(**wrong.options(), request_timeout_ms=5000)
    try:
        with pytest.raises(KafkaConnectionError):
            await admin.start()
    finally:
        await admin.close()
