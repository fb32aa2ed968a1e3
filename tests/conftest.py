"""Where the tests' Kafka and MongoDB-protocol store come from, in this order:

1. environment variables naming existing ones
   (``CASEMESH_TEST_KAFKA_BOOTSTRAP_SERVERS`` and ``CASEMESH_TEST_MONGODB_URL``), secured as the
   credentials file ``CASEMESH_TEST_KAFKA_SECURITY_FILE`` says (the ``credentials.json`` that
   ``python -m deploy.local.localinfra up`` writes; ``env`` names it) — PLAINTEXT without it;
2. testcontainers (Confluent cp-kafka in KRaft mode and ``mongo:7``) when a Docker engine answers —
   PLAINTEXT and without ACLs (no Docker engine where the secured broker is tested);
3. the ``deploy/local`` launcher (Kafka from Maven Central, FerretDB built with Go) on free ports:
   SASL_SSL with SCRAM-SHA-512 and the ACL table of ``deploy/kafka/acls.py``.

``Infra.kafka`` holds the cluster and its principals' passwords: a test's own clients act as the
admin super user (``infra.kafka.options()``), a service a test starts as its own principal
(``tests.support.Mesh.settings``), so the broker's ACLs are exercised by every integration test.

Under ``CI=true`` a test that needs infrastructure fails, never skips, when none can be started.
Each test gets its own topics and its own database, so tests never see each other's data.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient

from deploy.local.localinfra import LocalInfra, LocalInfraConfig
from kit.settings import topic_partitions
from kit.transport import KafkaCluster

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


SECURITY_FILE_VARIABLE = "CASEMESH_TEST_KAFKA_SECURITY_FILE"


@dataclass
class Infra:
    bootstrap_servers: str
    mongodb_url: str
    source: str
    local: LocalInfra | None = None
    notes: list[str] = field(default_factory=list)
    cluster: KafkaCluster | None = None

    @property
    def kafka(self) -> KafkaCluster:
        """The cluster and the principals' passwords (PLAINTEXT where none were given)."""
        return self.cluster or KafkaCluster.plaintext(self.bootstrap_servers)


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@contextlib.contextmanager
def _from_docker() -> Iterator[Infra]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    with (
        KafkaContainer("confluentinc/cp-kafka:7.7.1").with_kraft() as kafka,
        MongoDbContainer("mongo:7.0.14") as mongo,
    ):
        yield Infra(kafka.get_bootstrap_server(), mongo.get_connection_url(), "docker")


@contextlib.contextmanager
def _from_local(tmp_root: Path) -> Iterator[Infra]:
    cfg = LocalInfraConfig.with_free_ports(tmp_root / "local-infra")
    infra = LocalInfra(cfg)
    try:
        infra.up()
        yield Infra(cfg.bootstrap_servers, cfg.mongodb_url, "local", local=infra, cluster=infra.cluster())
    finally:
        infra.down()


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    kafka_env = os.environ.get("CASEMESH_TEST_KAFKA_BOOTSTRAP_SERVERS")
    mongo_env = os.environ.get("CASEMESH_TEST_MONGODB_URL")
    if kafka_env and mongo_env:
        security_file = os.environ.get(SECURITY_FILE_VARIABLE)
        cluster = KafkaCluster.read(security_file, kafka_env) if security_file else None
        yield Infra(kafka_env, mongo_env, "env", cluster=cluster)
        return
    errors: list[str] = []
    if _docker_answers():
        try:
            with _from_docker() as found:
                yield found
            return
        except Exception as exc:  # the next source is tried
            errors.append(f"testcontainers: {exc}")
    try:
        with _from_local(tmp_path_factory.mktemp("infra")) as found:
            yield found
        return
    except Exception as exc:
        errors.append(f"deploy/local: {exc}")
    reason = "no Kafka and MongoDB-protocol store could be started: " + "; ".join(errors)
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
async def mongo(infra: Infra) -> AsyncIterator[AsyncMongoClient[dict[str, object]]]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(infra.mongodb_url, tz_aware=True)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def database_name(mongo: AsyncMongoClient[dict[str, object]]) -> AsyncIterator[str]:
    """A database of the test's own, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    with contextlib.suppress(Exception):
        await mongo.drop_database(name)


class TopicFactory:
    def __init__(self, kafka: KafkaCluster | str) -> None:
        self.kafka = KafkaCluster.plaintext(kafka) if isinstance(kafka, str) else kafka
        self.bootstrap_servers = self.kafka.bootstrap_servers
        self.suffix = uuid.uuid4().hex[:8]

    def name(self, base: str) -> str:
        return f"{base}.t{self.suffix}"

    async def create(
        self, *names: str, partitions: int | None = None, configs: dict[str, str] | None = None
    ) -> None:
        """Creates the topics with the services' partition count (``CASEMESH_TOPIC_PARTITIONS``)
        unless told otherwise."""
        count = int(topic_partitions()) if partitions is None else partitions
        admin = AIOKafkaAdminClient(**self.kafka.options())
        await admin.start()
        try:
            await admin.create_topics([NewTopic(n, count, 1, topic_configs=configs or {}) for n in names])
        finally:
            await admin.close()


@pytest.fixture
def topics(infra: Infra) -> TopicFactory:
    """Fresh, uniquely named topics for one test."""
    return TopicFactory(infra.kafka)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.path.parts or "e2e" in item.path.parts:
            item.add_marker(pytest.mark.integration)
