"""Settings every service shares, read from environment variables with one prefix per service.

A service subclasses ``ServiceSettings`` with ``model_config = service_config("referrals")``,
so ``CASEMESH_REFERRALS_KAFKA_BOOTSTRAP_SERVERS`` and friends configure it.

Every setting of ``ServiceSettings`` but the few that name the service itself (``OWN_ONLY``) is
also read from one variable every service shares (``SHARED_VARIABLES``): the service's own
variable wins over it, which wins over the default. ``CASEMESH_KAFKA_BOOTSTRAP_SERVERS`` points
every service at one broker; ``CASEMESH_REFERRALS_KAFKA_BOOTSTRAP_SERVERS`` moves referrals alone.
Keyword arguments win over both. A service's own settings (referrals' ``ps_teams``) have no
shared variable.

Other ``CASEMESH_…`` variables the repository reads (tests, the local launcher, compose) are not
settings; ``OTHER_VARIABLES`` and ``OTHER_PREFIXES`` list them, so ``casemesh run`` warns only of
a variable nothing reads (``casemesh/configuration.py``). docs/settings.md is generated from here.
"""

from __future__ import annotations

import logging
import os
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEFAULT_TOPIC_PARTITIONS = 6
"""Partitions of every Casemesh topic: a service's input topics must all have the same count."""

DEVELOPMENT_JWKS = "development"
"""``identity_jwks`` naming the local development key (``casemesh token``); never in production."""

SHARED_PREFIX = "CASEMESH_"
"""Prefix of the variables every service shares; a service's own is ``CASEMESH_<SERVICE>_``."""

OWN_ONLY = frozenset({"service_name", "mongodb_database", "consumer_group"})
"""Settings that name one service's own things: never read from a shared variable (one shared
database or consumer group for every service would mix their records)."""

OTHER_VARIABLES: dict[str, str] = {
    "CASEMESH_KAFKA_SECURITY_FILE": "credentials file of the Kafka the demo and bench use (--infra env)",
    "CASEMESH_TOPIC_DEADLETTER_RETENTION_DAYS": "retention of dead letters and rejections (topics job)",
    "CASEMESH_TOPIC_REPLICATION_FACTOR": "brokers that keep each partition (topics job, deploy/k8s)",
    "CASEMESH_HEALTH_PORT": "the port the image's HEALTHCHECK asks (Dockerfile)",
    "CASEMESH_OPERATOR_TOKEN": "the operator's identity token for casemesh dlq",
    "CASEMESH_REPLAY_IDENTITY_TOKEN": "the identity token casemesh dlq replays commands with",
    "CASEMESH_CACHE_DIR": "where deploy/local caches Kafka and FerretDB",
    "CASEMESH_KAFKA_KEY_PASSWORD": "password of the broker's TLS key (compose, deploy/kafka)",
    "CASEMESH_MONGO_ROOT_PASSWORD": "MongoDB's root password (compose)",
    "CASEMESH_CHROMIUM": "the Chromium the browser tests drive",
    "CASEMESH_SCHEMA_EXAMPLES": "examples per message type in the contract property tests",
}
"""``CASEMESH_…`` variables that are not service settings, by name: what reads each."""

OTHER_PREFIXES: dict[str, str] = {
    "CASEMESH_TEST_": "the tests' Kafka and MongoDB (tests/conftest.py)",
    "CASEMESH_LOCAL_": "ports, folders and heap of deploy/local's Kafka and FerretDB",
    "CASEMESH_CHAOS_": "the fault suite (tests/chaos)",
    "CASEMESH_KAFKA_PASSWORD_": "a broker principal's password (compose)",
    "CASEMESH_MONGO_PASSWORD_": "a service's MongoDB password (compose)",
}
"""Prefixes of ``CASEMESH_…`` variables that are not service settings: what reads them."""


def topic_partitions() -> int | str:
    """The shared partition count: ``CASEMESH_TOPIC_PARTITIONS``, else the default."""
    return os.environ.get(f"{SHARED_PREFIX}TOPIC_PARTITIONS", DEFAULT_TOPIC_PARTITIONS)


def variable_for(field: str, prefix: str) -> str:
    """The environment variable a field's value came from (for error messages)."""
    own = f"{prefix}{field.upper()}"
    shared = SHARED_VARIABLES.get(field)
    if shared is not None and own not in os.environ and shared in os.environ:
        return shared
    return own


class SharedEnvSource(EnvSettingsSource):
    """The settings every service shares, from ``CASEMESH_<SETTING>``; read after the service's
    own variables, so those win."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls, env_prefix=SHARED_PREFIX)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[object, str, bool]:
        if field_name not in SHARED_VARIABLES:
            return None, field_name, False
        return super().get_field_value(field, field_name)


def service_config(service: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=f"CASEMESH_{service.upper()}_", extra="ignore", hide_input_in_errors=True
    )


class ServiceSettings(BaseSettings):
    # Errors name the setting, never its value: a value may be a password or a URL with one.
    model_config = SettingsConfigDict(env_prefix="CASEMESH_", extra="ignore", hide_input_in_errors=True)

    service_name: str = Field(description="The service's name; also its producer name on envelopes.")
    environment: Literal["development", "production"] = Field(
        "development",
        description="production refuses the development identity key and an unencrypted broker.",
    )
    kafka_bootstrap_servers: str = Field(
        "localhost:9092", description="The brokers to start from, host:port[,host:port...]."
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How the broker is spoken to; production requires SASL_SSL."
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        "SCRAM-SHA-512", description="How the service's principal proves itself to the broker."
    )
    kafka_sasl_username: str = Field("", description="The service's own broker principal.")
    kafka_sasl_password: SecretStr = Field(SecretStr(""), description="The principal's password.")
    kafka_ssl_cafile: str = Field(
        "", description="PEM file of the CA the broker's certificate is checked against."
    )
    kafka_ssl_certfile: str = Field("", description="PEM client certificate, where the broker asks for one.")
    kafka_ssl_keyfile: str = Field("", description="PEM key of the client certificate.")
    mongodb_url: str = Field(
        "mongodb://localhost:27017/",
        repr=False,
        description="May hold credentials and TLS options (tls=true&tlsCAFile=...); never logged.",
    )
    mongodb_database: str = Field(
        "", description="Defaults to casemesh_<service>; a rebuild's generation record overrides it."
    )
    consumer_group: str = Field(
        "", description="Defaults to casemesh-<service>; a rebuild's generation record overrides it."
    )
    control_database: str = Field(
        "casemesh_control",
        description="Where casemesh rebuild records the database and group each service now runs on.",
    )
    replay_clock_window_s: float = Field(
        60.0,
        ge=0,
        le=86_400,
        description=(
            "A rebuild decides records stamped this close together at one time, their latest stamp: "
            "larger is faster on a sparse history, smaller keeps rules' times closer to the live ones."
        ),
    )
    generation_check_interval_s: float = Field(
        30.0,
        ge=0,
        description="How often a running replica checks whether a rebuild replaced it (0: never).",
    )
    topic_suffix: str = Field("", description="Appended to every topic name (isolates test runs).")
    http_host: str = Field(
        "127.0.0.1", description="Where both HTTP ports listen (a container sets 0.0.0.0)."
    )
    http_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Health and metrics only (no personal data), open to the platform; 0 disables them.",
    )
    api_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="The service's endpoints, each behind a verified token; 0 disables them.",
    )
    http_header_timeout_s: float = Field(
        10.0,
        gt=0,
        le=300,
        description="A connection that sends no complete request headers in this time is closed.",
    )
    http_body_timeout_s: float = Field(
        30.0,
        gt=0,
        le=600,
        description="A request body stalled this long between chunks is answered 408 and closed.",
    )
    identity_jwks: str = Field(
        DEVELOPMENT_JWKS,
        description=(
            "The identity provider's signing keys: an https URL, a JWKS file, or "
            f"{DEVELOPMENT_JWKS!r} for the local development key (refused in production)."
        ),
    )
    identity_issuer: str = Field(
        "casemesh-development", description="The iss every officer token must carry."
    )
    identity_audience: str = Field("casemesh", description="The aud every officer token must carry.")
    identity_leeway_s: int = Field(30, ge=0, le=300, description="Clock skew allowed on exp, nbf and iat.")
    identity_service_secret: SecretStr = Field(
        SecretStr(""),
        description=(
            "Key the mesh's services sign their records with (timers, commands for another "
            "service); the same for every service. Empty: a development key (refused in production)."
        ),
    )

    topic_partitions: int = Field(
        DEFAULT_TOPIC_PARTITIONS,
        ge=1,
        le=10_000,
        description="Partitions of the topics the service creates; its input topics must all have this many.",
    )

    max_message_bytes: int = Field(256 * 1024, gt=0, description="Checked before parsing.")
    max_nesting_depth: int = Field(32, gt=0, le=512, description="Checked on the raw bytes before parsing.")
    max_number_digits: int = Field(
        64, gt=0, le=4000, description="Longest number literal accepted in a message (checked while parsing)."
    )
    dead_letter_max_bytes: int = Field(
        512 * 1024,
        gt=0,
        le=900 * 1024,
        description="Key and value bytes a dead letter keeps; a longer original is cut (its hash kept).",
    )
    max_attempts: int = Field(5, gt=0, description="Attempts for a failure that is not infrastructure.")
    retry_initial_s: float = Field(
        0.1, gt=0, description="Wait before the first retry of such a failure; doubled on each further one."
    )
    retry_max_s: float = Field(5.0, gt=0, description="The longest wait between retries.")
    batch_size: int = Field(
        2000, gt=0, le=10_000, description="Most records consumed, decided and committed together."
    )
    batch_timeout_ms: int = Field(
        50, gt=0, le=60_000, description="How long an idle consumer waits for records before polling again."
    )
    store_write_chunk: int = Field(
        50,
        gt=0,
        le=100_000,
        description="Update statements per store command (FerretDB 1.24 hangs at 100; MongoDB takes more).",
    )
    max_unpublished: int = Field(
        20_000,
        gt=0,
        description="Events committed but not yet published before consuming waits for the relay.",
    )
    outbox_interval_s: float = Field(
        10.0,
        gt=0,
        description="How often the recovery pass looks for events a stopped replica left unpublished.",
    )
    outbox_takeover_s: float = Field(
        10.0,
        gt=0,
        description="How long another replica leaves a fresh outbox to the replica that wrote it.",
    )
    timer_interval_s: float = Field(5.0, gt=0, description="How often due timers are looked for.")
    housekeeping_interval_s: float = Field(
        600.0, gt=0, description="How often projections are repaired and old records and ids pruned."
    )
    store_timeout_ms: int = Field(
        2000, gt=0, description="How long a store command waits for a server it can use (server selection)."
    )
    create_topics: bool = Field(True, description="Create missing topics at start (off where a job does it).")
    broker_log_level: int = Field(
        logging.INFO, description="Level of FastStream's per-record access log (20 INFO, 30 WARNING)."
    )
    tracing_enabled: bool = Field(False, description="OpenTelemetry spans of each flow (kit/tracing.py).")
    tracing_exporter: Literal["none", "console", "otlp"] = Field("otlp", description="Where spans go.")
    readiness_timeout_s: float = Field(0.8, gt=0, le=30, description="Store and broker ping timeout.")
    graceful_timeout_s: float = Field(
        15.0, gt=0, description="On SIGTERM, how long in-flight records may take to finish and commit."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Earlier wins: keyword arguments, the service's own variables, then the shared ones.
        shared = SharedEnvSource(settings_cls)
        return init_settings, env_settings, shared, dotenv_settings, file_secret_settings

    @model_validator(mode="after")
    def _defaults(self) -> ServiceSettings:
        if self.http_port and self.http_port == self.api_port:
            raise ValueError(
                "http_port and api_port must differ: health and metrics are open, the API is not"
            )
        if not self.mongodb_database:
            self.mongodb_database = f"casemesh_{self.service_name}"
        if not self.consumer_group:
            self.consumer_group = f"casemesh-{self.service_name}"
        if self.environment == "production":
            refused = self.production_faults()
            if refused:
                raise ValueError("production settings refused: " + "; ".join(refused))
        return self

    def production_faults(self) -> list[str]:
        """What makes these settings unfit for production (named by setting, never by value)."""
        faults = []
        if self.identity_jwks == DEVELOPMENT_JWKS:
            faults.append("identity_jwks is the development key")
        if len(self.identity_service_secret.get_secret_value()) < 32:
            faults.append("identity_service_secret must be at least 32 characters")
        if self.kafka_security_protocol != "SASL_SSL":
            faults.append("kafka_security_protocol must be SASL_SSL")
        return faults

    def topic(self, name: str) -> str:
        return f"{name}{self.topic_suffix}"


SHARED_VARIABLES: dict[str, str] = {
    name: f"{SHARED_PREFIX}{name.upper()}" for name in ServiceSettings.model_fields if name not in OWN_ONLY
}
"""Settings read from one variable shared by every service, by field name."""
