"""The Kubernetes manifests (deploy/k8s), checked offline: each overlay rendered as kustomize would
(deploy/k8s/render.py; compared with the real kustomize where one is installed), every resource
validated against the Kubernetes 1.30 schemas that kubernetes-validate ships, in strict mode, and
KEDA's and Strimzi's resources against the schemas in deploy/k8s/schemas; then the properties the
deployment relies on, against the code they follow from."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from referencing import Registry, Resource

from casemesh.configuration import settings_types, unknown_variables
from contracts.topics import READS, SERVICES, TOPICS
from deploy.k8s import manifests
from deploy.k8s.__main__ import main
from deploy.k8s.render import Unsupported, build, load_documents, strategic_merge
from deploy.kafka import __main__ as kafka_setup
from kit.topic_configs import REPLICATION_FACTOR_VARIABLE, replication_factor, topic_configs

KUBERNETES_VERSION = "1.30.0"
SCHEMAS = manifests.HERE / "schemas"
CUSTOM_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda-scaledobject.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda-triggerauthentication.json",
    ("kafka.strimzi.io/v1", "KafkaTopic"): "strimzi-kafkatopic.json",
}
OVERLAYS = tuple(manifests.OVERLAYS)
COMPOSE_FILE = Path(__file__).resolve().parents[3] / "docker-compose.yml"
KAFKA_AUTH_PARAMETERS = {"sasl", "username", "password", "tls", "ca", "cert", "key", "keyPassword"}
"""The Kafka scaler's documented authentication parameters this deployment may use."""
VARIABLE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def rendered(overlay: str) -> list[dict[str, Any]]:
    return build(manifests.OVERLAYS[overlay].directory)


def of_kind(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def service_containers(resources: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, deployment in of_kind(resources, "Deployment").items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            yield name, container


def custom_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    registry: Registry[Any] = Registry()
    for path in SCHEMAS.glob("*.json"):
        registry = registry.with_resource(path.name, Resource.from_contents(json.loads(path.read_text())))
    schema = json.loads((SCHEMAS / CUSTOM_SCHEMAS[(api_version, kind)]).read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator: jsonschema.protocols.Validator = validator_class(schema, registry=registry)
    return validator


def validate(resource: dict[str, Any]) -> None:
    key = (resource["apiVersion"], resource["kind"])
    if key in CUSTOM_SCHEMAS:
        custom_validator(*key).validate(resource)
    else:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


# -- generated files and rendering


def test_the_checked_in_manifests_are_what_the_generator_writes() -> None:
    stale = [
        str(path.relative_to(manifests.HERE))
        for path, text in manifests.generated_files().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert stale == [], "run `python -m deploy.k8s generate`"
    assert main(["generate", "--check"]) == 0


def test_every_resource_of_an_overlay_is_valid_against_its_schema(rendered: list[dict[str, Any]]) -> None:
    for resource in rendered:
        validate(resource)


def test_the_base_the_strimzi_topics_and_the_secret_templates_are_valid_against_their_schemas() -> None:
    resources = [
        *build(manifests.BASE),
        *load_documents(manifests.STRIMZI_TOPICS),
        *load_documents(manifests.SECRET_TEMPLATES),
    ]
    for resource in resources:
        validate(resource)


def test_a_misspelt_field_fails_validation_for_core_and_custom_kinds() -> None:
    deployment = of_kind(build(manifests.BASE), "Deployment")["casemesh-referrals"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(jsonschema.ValidationError):
        validate(deployment)
    scaled = of_kind(build(manifests.BASE), "ScaledObject")["casemesh-referrals"]
    scaled["spec"]["triggers"][0]["metadata"]["lagTreshold"] = "5"
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)
    topic = load_documents(manifests.STRIMZI_TOPICS)[0]
    topic["spec"]["replica"] = 3
    with pytest.raises(jsonschema.ValidationError):
        validate(topic)


def normalised(resources: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """By kind, namespace and name, with a Secret's data decoded (kustomize wraps long base64)."""
    found = {}
    for resource in resources:
        if resource["kind"] == "Secret":
            resource = {**resource, "data": {k: base64.b64decode(v) for k, v in resource["data"].items()}}
        metadata = resource["metadata"]
        found[(resource["kind"], metadata.get("namespace", ""), metadata["name"])] = resource
    return found


def kustomize() -> str | None:
    cache = Path(os.environ.get("CASEMESH_CACHE_DIR", Path.home() / ".cache" / "casemesh"))
    cached = cache / "bin" / "kustomize"
    return shutil.which("kustomize") or (str(cached) if cached.exists() else None)


@pytest.mark.skipif(kustomize() is None, reason="no kustomize installed; the renderer stands in for it")
@pytest.mark.parametrize("directory", ["base", *OVERLAYS])
def test_the_renderer_renders_what_kustomize_renders(directory: str) -> None:
    path = manifests.BASE if directory == "base" else manifests.OVERLAYS[directory].directory
    built = subprocess.run(
        [str(kustomize()), "build", str(path)], capture_output=True, text=True, check=True, timeout=60
    )
    expected = [d for d in yaml.safe_load_all(built.stdout) if d]
    assert normalised(build(path)) == normalised(expected)


def test_the_renderer_refuses_what_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: x-\n")
    with pytest.raises(Unsupported, match="namePrefix"):
        build(tmp_path)
    (tmp_path / "kustomization.yaml").write_text("configMapGenerator:\n  - name: c\n    literals: [a=b]\n")
    with pytest.raises(Unsupported, match="disableNameSuffixHash"):
        build(tmp_path)


def test_a_strategic_merge_patch_merges_containers_and_env_by_name_and_replaces_other_lists() -> None:
    original = {
        "containers": [{"name": "a", "env": [{"name": "X", "value": "1"}], "args": ["run", "a"]}],
        "tolerations": [{"key": "t"}],
    }
    patch = {
        "containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}], "args": ["run", "b"]}],
        "tolerations": [{"key": "u"}],
    }
    assert strategic_merge(original, patch) == {
        "containers": [
            {
                "name": "a",
                "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}],
                "args": ["run", "b"],
            }
        ],
        "tolerations": [{"key": "u"}],
    }


# -- workloads


def test_every_service_has_a_deployment_a_disruption_budget_and_a_scaled_object(
    rendered: list[dict[str, Any]],
) -> None:
    names = {f"casemesh-{service}" for service in SERVICES}
    assert set(of_kind(rendered, "Deployment")) == names
    assert set(of_kind(rendered, "ScaledObject")) == names
    budgets = of_kind(rendered, "PodDisruptionBudget")
    assert set(budgets) == names
    assert {b["spec"]["maxUnavailable"] for b in budgets.values()} == {1}


def test_every_pod_runs_as_the_images_non_root_user_with_a_read_only_root_and_no_privileges(
    rendered: list[dict[str, Any]],
) -> None:
    pods = [r["spec"]["template"]["spec"] for r in rendered if r["kind"] in ("Deployment", "Job")]
    assert len(pods) == len(SERVICES) + 1
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"] == {"drop": ["ALL"]}
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            volumes = {v["name"]: v for v in pod["volumes"]}
            assert "emptyDir" in volumes[mounts["/tmp"]]


def test_every_container_has_cpu_and_memory_requests_and_limits(rendered: list[dict[str, Any]]) -> None:
    containers = [
        c
        for r in rendered
        if r["kind"] in ("Deployment", "Job")
        for c in r["spec"]["template"]["spec"]["containers"]
    ]
    for container in containers:
        for bound in ("requests", "limits"):
            assert set(container["resources"][bound]) == {"cpu", "memory"}, container["name"]


def test_every_service_is_probed_on_its_health_port(rendered: list[dict[str, Any]]) -> None:
    for name, container in service_containers(rendered):
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["http"] == manifests.HTTP_PORT, name
        assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
        assert container["startupProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}


def test_readiness_waits_longer_than_the_store_and_broker_pings_take_together(
    rendered: list[dict[str, Any]],
) -> None:
    pings_s = 2 + 2  # kit/runtime.py: ServiceRuntime.ready pings the store, then the broker
    for _, container in service_containers(rendered):
        assert container["readinessProbe"]["timeoutSeconds"] > pings_s


def test_the_grace_period_covers_the_drain_and_the_pre_stop_pause(rendered: list[dict[str, Any]]) -> None:
    for name, deployment in of_kind(rendered, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        drain = settings_types()[name.removeprefix("casemesh-")]().graceful_timeout_s
        pause = 0
        lifecycle = pod["containers"][0].get("lifecycle")
        if lifecycle:
            pause = int(lifecycle["preStop"]["exec"]["command"][1])
        assert pod["terminationGracePeriodSeconds"] >= drain + pause + manifests.FLUSH_ALLOWANCE_S, name


def test_the_deployments_leave_the_replica_count_to_the_autoscaler(rendered: list[dict[str, Any]]) -> None:
    for deployment in of_kind(rendered, "Deployment").values():
        assert "replicas" not in deployment["spec"]


def compose_services() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    services: dict[str, Any] = document["services"]
    return services


def test_the_api_is_served_and_exposed_by_exactly_the_services_compose_gives_an_api_port(
    rendered: list[dict[str, Any]],
) -> None:
    compose = compose_services()
    with_api = {s for s in SERVICES if f"CASEMESH_{s.upper()}_API_PORT" in compose[s]["environment"]}
    services = of_kind(rendered, "Service")
    exposed = {n for n, s in services.items() if any(p["name"] == "api" for p in s["spec"]["ports"])}
    assert exposed == {f"casemesh-{s}" for s in with_api}
    for service in SERVICES:
        metrics = services[f"casemesh-{service}-metrics"]["spec"]
        assert metrics["clusterIP"] == "None"
        assert [p["port"] for p in metrics["ports"]] == [manifests.HTTP_PORT]


# -- the settings a service receives


def secret_values(overlay: str, rendered: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """What each Secret key holds: the dev overlay's generated values, or production's templates
    (which must then carry every key the manifests read)."""
    secrets = [
        *of_kind(rendered, "Secret").values(),
        *of_kind(load_documents(manifests.SECRET_TEMPLATES), "Secret").values(),
    ]
    values: dict[tuple[str, str], str] = {}
    for secret in secrets:
        for key, value in secret.get("stringData", {}).items():
            values.setdefault((secret["metadata"]["name"], key), value)
        for key, value in secret.get("data", {}).items():
            values[(secret["metadata"]["name"], key)] = base64.b64decode(value).decode()
    return values


def container_environment(
    container: dict[str, Any], rendered: list[dict[str, Any]], secrets: dict[tuple[str, str], str]
) -> dict[str, str]:
    """The variables the kubelet would give the container: envFrom, then env, ``$(…)`` expanded."""
    config_maps = of_kind(rendered, "ConfigMap")
    environ: dict[str, str] = {}
    for source in container.get("envFrom", []):
        environ |= config_maps[source["configMapRef"]["name"]]["data"]
    for variable in container.get("env", []):
        if "value" in variable:
            environ[variable["name"]] = VARIABLE.sub(lambda m: environ[m.group(1)], variable["value"])
        else:
            ref = variable["valueFrom"]["secretKeyRef"]
            environ[variable["name"]] = secrets[(ref["name"], ref["key"])]
    return environ


def test_each_service_accepts_the_settings_its_deployment_gives_it(
    overlay: str, rendered: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = secret_values(overlay, rendered)
    platform = of_kind(rendered, "ConfigMap")["casemesh-platform"]["data"]
    for name, container in service_containers(rendered):
        service = name.removeprefix("casemesh-")
        environ = container_environment(container, rendered, secrets)
        assert unknown_variables(environ) == [], name
        for variable in list(os.environ):
            if variable.startswith("CASEMESH_"):
                monkeypatch.delenv(variable)
        for variable, value in environ.items():
            monkeypatch.setenv(variable, value)
        settings = settings_types()[service]()
        assert settings.environment == platform["CASEMESH_ENVIRONMENT"]
        assert settings.kafka_bootstrap_servers == platform["CASEMESH_KAFKA_BOOTSTRAP_SERVERS"]
        assert settings.kafka_security_protocol == "SASL_SSL"
        assert settings.kafka_sasl_username == service
        assert settings.kafka_ssl_cafile == f"{manifests.KAFKA_CA_DIR}/{manifests.KAFKA_CA_KEY}"
        assert settings.http_port == manifests.HTTP_PORT
        assert settings.api_port == (manifests.API_PORT if manifests.WORKLOADS[service].api else 0)
        assert settings.create_topics is False
        assert settings.mongodb_database == f"casemesh_{service}"
        assert settings.consumer_group == f"casemesh-{service}"


def test_every_secret_the_manifests_read_is_templated_and_only_dev_generates_any(
    overlay: str, rendered: list[dict[str, Any]]
) -> None:
    templates = {
        (s["metadata"]["name"], key)
        for s in of_kind(load_documents(manifests.SECRET_TEMPLATES), "Secret").values()
        for key in s["stringData"]
    }
    read: set[tuple[str, str]] = set()
    for resource in rendered:
        if resource["kind"] == "TriggerAuthentication":
            read |= {(r["name"], r["key"]) for r in resource["spec"]["secretTargetRef"]}
        if resource["kind"] in ("Deployment", "Job"):
            pod = resource["spec"]["template"]["spec"]
            read |= {
                (v["valueFrom"]["secretKeyRef"]["name"], v["valueFrom"]["secretKeyRef"]["key"])
                for c in pod["containers"]
                for v in c.get("env", [])
                if "valueFrom" in v
            }
            read |= {
                (v["secret"]["secretName"], manifests.KAFKA_CA_KEY) for v in pod["volumes"] if "secret" in v
            }
    assert read <= templates
    generated = set(of_kind(rendered, "Secret"))
    if overlay == "production":
        assert generated == set()
    else:
        # Every Secret but the broker's CA, which comes from the Strimzi cluster.
        assert generated == {name for name, _ in read} - {manifests.KAFKA_CA_SECRET}
        for secret in of_kind(rendered, "Secret").values():
            for value in secret["data"].values():
                decoded = base64.b64decode(value).decode()
                assert "not-secret" in decoded or decoded in SERVICES


# -- scaling


def test_no_service_may_have_more_replicas_than_its_topics_have_partitions(
    overlay: str, rendered: list[dict[str, Any]]
) -> None:
    partitions = int(of_kind(rendered, "ConfigMap")["casemesh-topics"]["data"]["CASEMESH_TOPIC_PARTITIONS"])
    assert partitions == manifests.topic_values(manifests.OVERLAYS[overlay]).partitions
    for scaled in of_kind(rendered, "ScaledObject").values():
        spec = scaled["spec"]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions
        for trigger in spec["triggers"]:
            assert trigger["metadata"]["allowIdleConsumers"] == "false"
    if overlay == "production":
        assert {s["spec"]["maxReplicaCount"] for s in of_kind(rendered, "ScaledObject").values()} == {
            partitions
        }


def test_each_scaled_object_watches_its_services_group_on_every_topic_it_reads(
    rendered: list[dict[str, Any]],
) -> None:
    for name, scaled in of_kind(rendered, "ScaledObject").items():
        service = name.removeprefix("casemesh-")
        spec = scaled["spec"]
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        triggers = spec["triggers"]
        assert {t["type"] for t in triggers} == {"kafka"}
        assert [t["metadata"]["topic"] for t in triggers] == list(READS[service])
        assert {t["metadata"]["consumerGroup"] for t in triggers} == {f"casemesh-{service}"}


def test_every_kafka_trigger_authenticates_as_its_service_over_tls_with_the_broker_address_of_the_config(
    rendered: list[dict[str, Any]],
) -> None:
    authentications = of_kind(rendered, "TriggerAuthentication")
    deployments = of_kind(rendered, "Deployment")
    for name, scaled in of_kind(rendered, "ScaledObject").items():
        for trigger in scaled["spec"]["triggers"]:
            metadata = trigger["metadata"]
            assert (metadata["sasl"], metadata["tls"]) == ("scram_sha512", "enable")
            authentication = authentications[trigger["authenticationRef"]["name"]]["spec"]
            references = {r["parameter"]: r["name"] for r in authentication["secretTargetRef"]}
            assert set(references) <= KAFKA_AUTH_PARAMETERS
            assert references["username"] == references["password"] == f"{name}-kafka"
            container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
            from_config = {s["configMapRef"]["name"] for s in container["envFrom"]}
            assert "casemesh-platform" in from_config
            assert metadata["bootstrapServersFromEnv"] == "CASEMESH_KAFKA_BOOTSTRAP_SERVERS"


# -- topics


def test_the_topics_job_runs_the_setup_with_the_values_of_the_topics_config(
    overlay: str, rendered: list[dict[str, Any]]
) -> None:
    job = of_kind(rendered, "Job")["casemesh-topics"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "deploy.kafka"]
    assert container["args"][0] == "setup"
    assert {"configMapRef": {"name": "casemesh-topics"}} in container["envFrom"]
    topics = of_kind(rendered, "ConfigMap")["casemesh-topics"]["data"]
    values = manifests.topic_values(manifests.OVERLAYS[overlay])
    assert topics == {
        "CASEMESH_TOPIC_PARTITIONS": str(values.partitions),
        "CASEMESH_TOPIC_REPLICATION_FACTOR": str(values.replication_factor),
        "CASEMESH_TOPIC_DEADLETTER_RETENTION_DAYS": str(values.deadletter_retention_days),
    }


def test_production_keeps_three_replicas_of_every_topic_in_the_job_and_in_strimzi() -> None:
    production = manifests.topic_values(manifests.OVERLAYS["production"])
    assert production.replication_factor == 3
    assert manifests.topic_values(manifests.OVERLAYS["dev"]).replication_factor == 1
    topics = {t["metadata"]["name"]: t for t in load_documents(manifests.STRIMZI_TOPICS)}
    assert set(topics) == set(TOPICS)
    for name, topic in topics.items():
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["partitions"] == production.partitions
        assert topic["spec"]["config"] == topic_configs(
            TOPICS[name], deadletter_days=production.deadletter_retention_days
        )
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == manifests.STRIMZI_CLUSTER


def test_production_reaches_the_strimzi_cluster_the_topics_belong_to() -> None:
    rendered = build(manifests.OVERLAYS["production"].directory)
    platform = of_kind(rendered, "ConfigMap")["casemesh-platform"]["data"]
    assert platform["CASEMESH_KAFKA_BOOTSTRAP_SERVERS"] == manifests.STRIMZI_BOOTSTRAP
    assert {t["metadata"]["namespace"] for t in load_documents(manifests.STRIMZI_TOPICS)} == {
        manifests.KAFKA_NAMESPACE
    }


def test_the_replication_factor_is_an_operator_setting_refused_unless_a_positive_whole_number() -> None:
    assert replication_factor({}) == 1
    assert replication_factor({REPLICATION_FACTOR_VARIABLE: "3"}) == 3
    for value in ("0", "-1", "three", "1.5"):
        with pytest.raises(ValueError, match=REPLICATION_FACTOR_VARIABLE):
            replication_factor({REPLICATION_FACTOR_VARIABLE: value})


def test_the_setup_job_creates_topics_with_the_configured_replication_factor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[tuple[int, int]] = []

    async def setup(_cluster: Any, partitions: int, replicas: int = 1, attempts: int = 60) -> None:
        asked.append((partitions, replicas))

    monkeypatch.setattr(kafka_setup, "setup", setup)
    monkeypatch.setenv("CASEMESH_KAFKA_PASSWORD_ADMIN", "admin-password")
    monkeypatch.setenv("CASEMESH_TOPIC_PARTITIONS", "12")
    monkeypatch.setenv(REPLICATION_FACTOR_VARIABLE, "3")
    arguments = ["setup", "--bootstrap-servers", "kafka:9093", "--ca-file", "ca.crt"]
    kafka_setup.main([*arguments, "--admin-password-env", "CASEMESH_KAFKA_PASSWORD_ADMIN"])
    kafka_setup.main(
        [*arguments, "--admin-password-env", "CASEMESH_KAFKA_PASSWORD_ADMIN", "--replication-factor", "2"]
    )
    assert asked == [(12, 3), (12, 2)]


# -- images and the network


def test_production_pins_the_image_by_digest_and_dev_by_tag() -> None:
    for overlay, pattern in (("production", r".+@sha256:[0-9a-f]{64}"), ("dev", r"casemesh:[0-9.]+")):
        for resource in build(manifests.OVERLAYS[overlay].directory):
            if resource["kind"] in ("Deployment", "Job"):
                for container in resource["spec"]["template"]["spec"]["containers"]:
                    assert re.fullmatch(pattern, container["image"]), (overlay, container["image"])


def test_the_network_denies_by_default_and_opens_only_health_metrics_and_the_api(
    rendered: list[dict[str, Any]],
) -> None:
    policies = of_kind(rendered, "NetworkPolicy")
    deny = policies.pop("casemesh-default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    opened = {
        port["port"]
        for policy in policies.values()
        for rule in policy["spec"].get("ingress", [])
        for port in rule["ports"]
    }
    assert opened == {manifests.HTTP_PORT, manifests.API_PORT}
    api = policies["casemesh-api"]["spec"]
    assert api["podSelector"]["matchLabels"]["casemesh.io/api"] == "true"
    for name, deployment in of_kind(rendered, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert (
            labels["casemesh.io/api"] == str(manifests.WORKLOADS[name.removeprefix("casemesh-")].api).lower()
        )


def test_egress_reaches_only_dns_kafka_and_mongodb(rendered: list[dict[str, Any]]) -> None:
    egress = of_kind(rendered, "NetworkPolicy")["casemesh-egress"]["spec"]
    assert egress["podSelector"] == {"matchLabels": manifests.PART_OF}
    ports = [sorted((p["protocol"], p["port"]) for p in rule["ports"]) for rule in egress["egress"]]
    assert ports == [[("TCP", 53), ("UDP", 53)], [("TCP", 9093)], [("TCP", 27017)]]
    for rule in egress["egress"]:
        assert all("ipBlock" not in peer for peer in rule["to"])
