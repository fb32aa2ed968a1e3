"""Static checks on the container deployment files.

There is no Docker engine where the unit tests run, so the compose file is parsed and checked for
the properties the deployment relies on (the Dockerfile's checks: tests/unit/test_dockerfile.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from pydantic import SecretStr

from deploy.kafka.__main__ import topics_to_create
from deploy.kafka.acls import ALL_PRINCIPALS, CLIENT_PRINCIPALS
from deploy.kafka.broker import security_properties
from deploy.kafka.tls import BrokerTls
from kit.settings import DEFAULT_TOPIC_PARTITIONS, SHARED_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"

SERVICES = ("referrals", "approvals", "notifications", "complaints", "contacts", "casework")
HOST_PORTS = {
    "referrals": 8081,
    "approvals": 8082,
    "notifications": 8083,
    "complaints": 8084,
    "contacts": 8085,
    "casework": 8086,
}
TOPICS = (
    *(
        f"casemesh.{service}.{kind}.v1"
        for service in SERVICES
        for kind in ("commands", "events", "deadletter")
    ),
    "casemesh.notifications.dispatch.sms.v1",
    "casemesh.notifications.dispatch.email.v1",
    "casemesh.notifications.dispatch.letter.v1",
    "casemesh.notifications.dispatch.phone.v1",
    "casemesh.notifications.receipts.v1",
    "casemesh.customers.events.v1",
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]  # type: ignore[no-any-return]


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    """Compose accepts the environment as a mapping or as a list of NAME=value."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        return dict(item.split("=", 1) for item in raw)
    return {name: "" if value is None else str(value) for name, value in raw.items()}


def command_text(service: dict[str, Any]) -> str:
    parts: list[str] = []
    for key in ("entrypoint", "command"):
        value = service.get(key) or []
        parts.extend([value] if isinstance(value, str) else value)
    return " ".join(parts)


def broker_properties(kafka: dict[str, Any]) -> dict[str, str]:
    """The server.properties the kafka container writes at start (its command's first here-document)."""
    script = command_text(kafka)
    body = script.split("<<EOF\n", 1)[1].split("\nEOF\n", 1)[0]
    return dict(line.split("=", 1) for line in body.splitlines() if line and not line.startswith("#"))


def password_default(value: str) -> str:
    """The development default of a ``${VARIABLE:-default}`` value."""
    found = re.fullmatch(r"\$\{(?P<variable>\w+):-(?P<default>[^}]*)\}", value)
    assert found, value
    return found["default"]


def healthcheck_test(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


def image_is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last_segment = image.rsplit("/", 1)[-1]  # a registry host may carry a :port
    if ":" not in last_segment:
        return False
    tag = last_segment.rsplit(":", 1)[1]
    return bool(tag) and tag != "latest"


def test_every_image_tag_is_pinned(services: dict[str, dict[str, Any]]) -> None:
    images = {name: service["image"] for name, service in services.items() if "image" in service}
    assert images, "no images declared"
    unpinned = {name: image for name, image in images.items() if not image_is_pinned(image)}
    assert not unpinned


def test_every_container_either_builds_or_names_an_image(services: dict[str, dict[str, Any]]) -> None:
    assert all("image" in service or "build" in service for service in services.values())


def test_kafka_is_a_single_kraft_node_on_3_9_1(services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]
    props = broker_properties(kafka)
    assert kafka["image"] == "apache/kafka:3.9.1"
    assert set(props["process.roles"].split(",")) == {"broker", "controller"}
    assert props["controller.quorum.voters"] == f"{props['node.id']}@kafka:9093"
    assert "CONTROLLER://:9093" in props["listeners"]
    assert "SASL_SSL://:9092" in props["listeners"]
    assert props["advertised.listeners"] == "SASL_SSL://kafka:9092"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["auto.create.topics.enable"] == "false"
    assert environment_of(kafka)["CLUSTER_ID"]
    assert '--cluster-id "$$CLUSTER_ID"' in command_text(kafka)
    assert "--ignore-formatted" in command_text(kafka)


def test_kafka_has_the_security_of_deploy_local_sasl_ssl_scram_and_the_authorizer(
    services: dict[str, dict[str, Any]],
) -> None:
    props = broker_properties(services["kafka"])
    expected = security_properties(
        client_listener=":9092",
        advertised_listener="kafka:9092",
        controller_listener=":9093",
        tls=BrokerTls(Path("/etc/casemesh/kafka-tls")),
        key_password=SecretStr("$$CASEMESH_KAFKA_KEY_PASSWORD"),
        broker_password=SecretStr("$$CASEMESH_KAFKA_PASSWORD_BROKER"),
    )
    assert {name: props.get(name) for name in expected} == expected
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert "PLAINTEXT://" not in props["listeners"]


def test_the_broker_formats_its_storage_with_a_scram_user_for_every_principal(
    services: dict[str, dict[str, Any]],
) -> None:
    kafka = services["kafka"]
    script = command_text(kafka)
    env = environment_of(kafka)
    users = re.findall(r"SCRAM-SHA-512=\[name=(\w+),password=\$\$(\w+)\]", script)
    assert sorted(name for name, _ in users) == sorted(ALL_PRINCIPALS)
    for name, variable in users:
        assert variable == f"CASEMESH_KAFKA_PASSWORD_{name.upper()}"
        assert password_default(env[variable]) == f"dev-{name}-kafka-not-secret"


def test_the_broker_key_store_comes_from_the_tls_job_which_runs_first(
    services: dict[str, dict[str, Any]],
) -> None:
    job, kafka = services["kafka-tls"], services["kafka"]
    assert kafka["depends_on"]["kafka-tls"]["condition"] == "service_completed_successfully"
    assert job["image"] == "casemesh:0.1.0"
    assert command_text(job).startswith("python -m deploy.kafka tls")
    assert "kafka,localhost" in command_text(job)  # the names clients and the health check use
    assert "kafka-tls:/etc/casemesh/kafka-tls:ro" in kafka["volumes"]
    # Clients get the CA certificate only; the broker's key store stays with the broker.
    for name in SERVICES:
        mounted = services[name].get("volumes") or []
        assert mounted == ["kafka-ca:/etc/casemesh/kafka-ca:ro"], name
    assert (
        environment_of(job)["CASEMESH_KAFKA_KEY_PASSWORD"]
        == environment_of(kafka)["CASEMESH_KAFKA_KEY_PASSWORD"]
    )


def test_kafka_health_is_checked_with_the_broker_api_versions_tool(
    services: dict[str, dict[str, Any]],
) -> None:
    test = healthcheck_test(services["kafka"])
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in test
    assert "--bootstrap-server localhost:9092" in test
    assert "--command-config /tmp/casemesh/admin.properties" in test
    assert 'username="admin"' in command_text(services["kafka"])


def test_mongo_is_a_7_x_replica_set_that_initiates_itself(services: dict[str, dict[str, Any]]) -> None:
    mongo = services["mongo"]
    command = command_text(mongo)
    assert re.fullmatch(r"mongo:7\.\d+\.\d+", mongo["image"])
    assert "--replSet rs0" in command
    assert "--bind_ip_all" in command
    health = healthcheck_test(mongo)
    assert "mongosh" in health
    assert "rs.initiate(" in health
    assert "_id:'rs0'" in health
    assert "host:'mongo:27017'" in health


def test_mongo_keeps_its_data_in_a_named_volume(compose: dict[str, Any]) -> None:
    volumes = compose["services"]["mongo"]["volumes"]
    named = {entry.split(":", 1)[0] for entry in volumes if not entry.startswith(("/", "."))}
    assert named
    assert named <= set(compose.get("volumes") or {})


def test_all_five_services_exist(services: dict[str, dict[str, Any]]) -> None:
    assert set(SERVICES) <= set(services)


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_has_its_broker_and_store_settings(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    prefix = f"CASEMESH_{name.upper()}_"
    env = environment_of(services[name])
    shared = set(SHARED_VARIABLES.values())
    assert all(key.startswith(prefix) or key in shared for key in env), (
        "a setting without the service's prefix is ignored, unless every service shares it"
    )

    broker_host, _, broker_port = env[f"{prefix}KAFKA_BOOTSTRAP_SERVERS"].partition(":")
    assert broker_host == "kafka"
    assert broker_host in services
    assert (
        f"SASL_SSL://{broker_host}:{broker_port}"
        in broker_properties(services["kafka"])["advertised.listeners"]
    )

    store = urlsplit(env[f"{prefix}MONGODB_URL"])
    assert store.scheme == "mongodb"
    assert store.hostname == "mongo"
    assert store.hostname in services
    assert parse_qs(store.query)["replicaSet"] == ["rs0"]
    assert env[f"{prefix}MONGODB_DATABASE"] == f"casemesh_{name}"
    assert env[f"{prefix}HTTP_HOST"] == "0.0.0.0"
    assert env[f"{prefix}HTTP_PORT"] == "8080"


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_runs_itself_from_the_shared_image(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    service = services[name]
    assert service["command"] == ["run", name]
    assert service["build"] == "."
    assert service["image"] == "casemesh:0.1.0"


def test_all_services_share_one_build_and_image(services: dict[str, dict[str, Any]]) -> None:
    assert len({(repr(services[name]["build"]), services[name]["image"]) for name in SERVICES}) == 1


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_has_a_readiness_healthcheck(services: dict[str, dict[str, Any]], name: str) -> None:
    test = healthcheck_test(services[name])
    assert "http://127.0.0.1:8080/health/ready" in test
    assert services[name]["stop_grace_period"] == "30s"


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_waits_for_healthy_kafka_and_mongo_and_the_topics(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    depends_on = services[name]["depends_on"]
    assert depends_on["kafka"]["condition"] == "service_healthy"
    assert depends_on["mongo"]["condition"] == "service_healthy"
    assert depends_on["topics"]["condition"] == "service_completed_successfully"


def test_the_topics_job_creates_every_topic_and_the_acls_once_kafka_is_healthy(
    services: dict[str, dict[str, Any]],
) -> None:
    topics = services["topics"]
    script = command_text(topics)
    assert topics["image"] == "casemesh:0.1.0"
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    # python -m deploy.kafka setup: every registered topic, CASEMESH_TOPIC_PARTITIONS partitions, the ACLs.
    assert script.startswith("python -m deploy.kafka setup")
    assert set(TOPICS) <= set(topics_to_create())
    assert "--bootstrap-server kafka:9092" in script.replace("servers", "server")
    assert "--ca-file /etc/casemesh/kafka-ca/ca.pem" in script
    env = environment_of(topics)
    assert (
        env["CASEMESH_KAFKA_PASSWORD_ADMIN"]
        == environment_of(services["kafka"])["CASEMESH_KAFKA_PASSWORD_ADMIN"]
    )


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_authenticates_to_kafka_as_its_own_principal_over_tls(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    prefix = f"CASEMESH_{name.upper()}_"
    env = environment_of(services[name])
    assert env[f"{prefix}KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env[f"{prefix}KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert env[f"{prefix}KAFKA_SASL_USERNAME"] == name
    assert env[f"{prefix}KAFKA_SSL_CAFILE"] == "/etc/casemesh/kafka-ca/ca.pem"
    kafka = environment_of(services["kafka"])
    assert env[f"{prefix}KAFKA_SASL_PASSWORD"] == kafka[f"CASEMESH_KAFKA_PASSWORD_{name.upper()}"]
    assert name in CLIENT_PRINCIPALS


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_has_its_own_mongodb_user(services: dict[str, dict[str, Any]], name: str) -> None:
    prefix = f"CASEMESH_{name.upper()}_"
    store = urlsplit(environment_of(services[name])[f"{prefix}MONGODB_URL"])
    assert store.username == f"casemesh_{name}"
    variable = f"CASEMESH_MONGO_PASSWORD_{name.upper()}"
    assert store.password == f"${{{variable}:-dev-{name}-mongo-not-secret}}"
    assert parse_qs(store.query)["authSource"] == ["admin"]
    assert environment_of(services["mongo"])[variable] == store.password
    users = (ROOT / "deploy" / "compose" / "mongo-users.js").read_text(encoding="utf-8")
    assert f'"{name}"' in users


def test_mongo_requires_authentication_with_a_root_user_and_a_replica_set_key(
    services: dict[str, dict[str, Any]],
) -> None:
    mongo = services["mongo"]
    env = environment_of(mongo)
    assert env["MONGO_INITDB_ROOT_USERNAME"] == "root"
    assert password_default(env["MONGO_INITDB_ROOT_PASSWORD"]) == "dev-mongo-root-not-secret"
    assert '--keyFile "$$key"' in command_text(mongo)
    assert (
        "./deploy/compose/mongo-users.js:/docker-entrypoint-initdb.d/casemesh-users.js:ro" in mongo["volumes"]
    )
    assert '-u root -p "$$MONGO_INITDB_ROOT_PASSWORD" --authenticationDatabase admin' in healthcheck_test(
        mongo
    )


def test_no_real_secret_is_committed_every_password_is_an_obvious_development_default() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    defaults = re.findall(r"\$\{CASEMESH_\w*PASSWORD\w*:-([^}]*)\}", text)
    assert len(defaults) >= len(ALL_PRINCIPALS) + 1 + 1 + len(SERVICES)
    assert all(d.startswith("dev-") and d.endswith("-not-secret") for d in defaults), defaults


def test_the_topics_job_and_every_service_take_one_partition_count_defaulting_to_the_services(
    services: dict[str, dict[str, Any]],
) -> None:
    variable = SHARED_VARIABLES["topic_partitions"]
    values = {name: environment_of(services[name])[variable] for name in (*SERVICES, "topics")}
    assert set(values.values()) == {f"${{{variable}:-{DEFAULT_TOPIC_PARTITIONS}}}"}, values


def test_every_published_port_binds_localhost_only(services: dict[str, dict[str, Any]]) -> None:
    published = {
        name: [str(port) for port in service["ports"]]
        for name, service in services.items()
        if "ports" in service
    }
    assert all(port.startswith("127.0.0.1:") for ports in published.values() for port in ports)
    for name, host_port in HOST_PORTS.items():
        api = [f"127.0.0.1:{API_HOST_PORTS[name]}:8090"] if name in API_HOST_PORTS else []
        assert published[name] == [f"127.0.0.1:{host_port}:8080", *api]


#: The services with endpoints (issue 16: behind a bearer token, on their own port).
API_HOST_PORTS = {"referrals": 9081, "approvals": 9082, "contacts": 9085, "casework": 9086}


def test_the_services_with_endpoints_serve_them_on_their_own_port_with_the_shared_service_secret(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in HOST_PORTS:
        env = services[name]["environment"]
        prefix = f"CASEMESH_{name.upper()}_"
        assert env[f"{prefix}HTTP_PORT"] == 8080
        assert env.get(f"{prefix}API_PORT") == (8090 if name in API_HOST_PORTS else None)
        assert (
            env[f"{prefix}IDENTITY_SERVICE_SECRET"]
            == services["referrals"]["environment"]["CASEMESH_REFERRALS_IDENTITY_SERVICE_SECRET"]
        )
