"""How a client reaches Kafka: TLS, SASL and the principal it authenticates as.

A service's settings (``kit/settings.py``) name its broker security: ``kafka_security_protocol``
(PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), ``kafka_sasl_mechanism`` (SCRAM-SHA-512 by default),
``kafka_sasl_username``/``kafka_sasl_password`` (its own principal) and the PEM files of the CA
(``kafka_ssl_cafile``) and, where the broker asks for one, a client certificate. Two functions turn
them into what the clients take:

- :func:`kafka_security` — FastStream's security object for ``KafkaBroker(security=...)``;
- :func:`aiokafka_options` — the same as keyword arguments for aiokafka's producer, consumer and
  admin client.

Harnesses (tests, the bench, the fault suite, the demo on real servers) hold a
:class:`KafkaCluster`: the bootstrap servers, the TLS and SASL choice and the passwords of the
principals they may act as, read from the credentials file ``deploy/local`` writes (JSON, mode
0600). ``cluster.access("referrals")`` is what the referrals service is given;
``cluster.options("admin")`` are a test harness client's keyword arguments.

A password is never logged, never part of a repr and never part of an exception message:
pydantic's ``SecretStr`` holds it until a client is built.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import SecretStr

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]

SECURITY_PROTOCOLS: tuple[str, ...] = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS: tuple[str, ...] = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")

#: The principal a test harness, the bench or the demo's driver acts as: a super user.
ADMIN = "admin"

_SASL: dict[str, type[SASLScram512 | SASLScram256 | SASLPlaintext]] = {
    "SCRAM-SHA-512": SASLScram512,
    "SCRAM-SHA-256": SASLScram256,
    "PLAIN": SASLPlaintext,
}


class KafkaSecuritySettings(Protocol):
    """The settings :func:`kafka_security` and :func:`aiokafka_options` read (``ServiceSettings``
    has them, and so has :class:`KafkaAccess`)."""

    @property
    def kafka_security_protocol(self) -> str: ...
    @property
    def kafka_sasl_mechanism(self) -> str: ...
    @property
    def kafka_sasl_username(self) -> str: ...
    @property
    def kafka_sasl_password(self) -> SecretStr: ...
    @property
    def kafka_ssl_cafile(self) -> str: ...
    @property
    def kafka_ssl_certfile(self) -> str: ...
    @property
    def kafka_ssl_keyfile(self) -> str: ...


class KafkaSecurityError(ValueError):
    """The broker security settings do not fit together (named by setting, never by value)."""


def _protocol(settings: KafkaSecuritySettings) -> str:
    protocol = settings.kafka_security_protocol.upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise KafkaSecurityError(f"kafka_security_protocol must be one of {', '.join(SECURITY_PROTOCOLS)}")
    return protocol


def _sasl(settings: KafkaSecuritySettings, protocol: str) -> tuple[str, str, str]:
    mechanism = settings.kafka_sasl_mechanism.upper()
    if mechanism not in SASL_MECHANISMS:
        raise KafkaSecurityError(f"kafka_sasl_mechanism must be one of {', '.join(SASL_MECHANISMS)}")
    username = settings.kafka_sasl_username
    password = settings.kafka_sasl_password.get_secret_value()
    if not username or not password:
        raise KafkaSecurityError(
            f"kafka_security_protocol {protocol} needs kafka_sasl_username and kafka_sasl_password"
        )
    return mechanism, username, password


def ssl_context(settings: KafkaSecuritySettings) -> ssl.SSLContext:
    """A client TLS context: the broker's certificate checked against ``kafka_ssl_cafile`` (else
    the system's CAs) and its host name; a client certificate where one is configured."""
    try:
        context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile or None)
    except (OSError, ssl.SSLError) as exc:
        named = settings.kafka_ssl_cafile
        raise KafkaSecurityError(
            f"kafka_ssl_cafile {named!r} is not a readable PEM file ({type(exc).__name__})"
        ) from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.kafka_ssl_certfile:
        try:
            context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile or None)
        except (OSError, ssl.SSLError) as exc:
            raise KafkaSecurityError(
                f"kafka_ssl_certfile/kafka_ssl_keyfile cannot be loaded ({type(exc).__name__})"
            ) from None
    elif settings.kafka_ssl_keyfile:
        raise KafkaSecurityError("kafka_ssl_keyfile is set without kafka_ssl_certfile")
    return context


def kafka_security(settings: KafkaSecuritySettings) -> BaseSecurity | None:
    """FastStream's security for ``KafkaBroker(security=...)``; None for PLAINTEXT."""
    protocol = _protocol(settings)
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=ssl_context(settings), use_ssl=True)
    mechanism, username, password = _sasl(settings, protocol)
    context = ssl_context(settings) if protocol == "SASL_SSL" else None
    return _SASL[mechanism](username, password, ssl_context=context, use_ssl=protocol == "SASL_SSL")


def aiokafka_options(settings: KafkaSecuritySettings) -> dict[str, Any]:
    """The security keyword arguments of ``AIOKafkaProducer``, ``AIOKafkaConsumer`` and
    ``AIOKafkaAdminClient`` (``security_protocol``, ``ssl_context``, ``sasl_mechanism``,
    ``sasl_plain_username``, ``sasl_plain_password``)."""
    protocol = _protocol(settings)
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol.startswith("SASL_"):
        mechanism, username, password = _sasl(settings, protocol)
        options.update(sasl_mechanism=mechanism, sasl_plain_username=username, sasl_plain_password=password)
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl_context(settings)
    return options


@dataclass(frozen=True)
class KafkaAccess:
    """One principal's way into one cluster, with the field names of ``ServiceSettings``."""

    kafka_bootstrap_servers: str
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = field(default=SecretStr(""), repr=False)
    kafka_ssl_cafile: str = ""
    kafka_ssl_certfile: str = ""
    kafka_ssl_keyfile: str = ""

    def settings(self) -> dict[str, Any]:
        """Keyword arguments for a ``ServiceSettings`` (the password stays a ``SecretStr``)."""
        return {
            "kafka_bootstrap_servers": self.kafka_bootstrap_servers,
            "kafka_security_protocol": self.kafka_security_protocol,
            "kafka_sasl_mechanism": self.kafka_sasl_mechanism,
            "kafka_sasl_username": self.kafka_sasl_username,
            "kafka_sasl_password": self.kafka_sasl_password,
            "kafka_ssl_cafile": self.kafka_ssl_cafile,
            "kafka_ssl_certfile": self.kafka_ssl_certfile,
            "kafka_ssl_keyfile": self.kafka_ssl_keyfile,
        }

    def environment(self, prefix: str) -> dict[str, str]:
        """The same as environment variables for a process, e.g. ``prefix="CASEMESH_REFERRALS_"``.
        Empty values are left out, so a process's defaults stand."""
        values = dict(self.settings(), kafka_sasl_password=self.kafka_sasl_password.get_secret_value())
        return {f"{prefix}{name.upper()}": str(value) for name, value in values.items() if value}

    def options(self) -> dict[str, Any]:
        """``bootstrap_servers`` and the security keyword arguments of an aiokafka client."""
        return {"bootstrap_servers": self.kafka_bootstrap_servers, **aiokafka_options(self)}

    def security(self) -> BaseSecurity | None:
        return kafka_security(self)


@dataclass(frozen=True)
class KafkaCluster:
    """A cluster and the principals a harness may act as (their passwords).

    ``plaintext(bootstrap)`` is a cluster without security: every principal is the anonymous one.
    On a secured cluster an unknown principal is a ``KeyError`` naming it.
    """

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    ssl_cafile: str = ""
    passwords: Mapping[str, SecretStr] = field(default_factory=dict, repr=False)
    path: Path | None = None
    """The credentials file this came from (handed to processes a harness starts)."""

    @classmethod
    def plaintext(cls, bootstrap_servers: str) -> KafkaCluster:
        return cls(bootstrap_servers)

    @property
    def secured(self) -> bool:
        return self.security_protocol != "PLAINTEXT"

    @property
    def principals(self) -> tuple[str, ...]:
        return tuple(self.passwords)

    def has(self, principal: str) -> bool:
        return not self.uses_sasl or principal in self.passwords

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    def access(self, principal: str = ADMIN) -> KafkaAccess:
        """How ``principal`` reaches this cluster."""
        if not self.uses_sasl:
            return KafkaAccess(
                self.bootstrap_servers, self.security_protocol, kafka_ssl_cafile=self.ssl_cafile
            )
        if principal not in self.passwords:
            raise KeyError(f"no credentials for the Kafka principal {principal!r}")
        return KafkaAccess(
            self.bootstrap_servers,
            self.security_protocol,
            self.sasl_mechanism,
            principal,
            self.passwords[principal],
            self.ssl_cafile,
        )

    def anonymous(self, security_protocol: str = "PLAINTEXT") -> KafkaAccess:
        """A client with no credentials at all (what the broker must refuse)."""
        return KafkaAccess(self.bootstrap_servers, security_protocol, kafka_ssl_cafile=self.ssl_cafile)

    def options(self, principal: str = ADMIN) -> dict[str, Any]:
        """An aiokafka client's ``bootstrap_servers`` and security keyword arguments."""
        return self.access(principal).options()

    def security(self, principal: str = ADMIN) -> BaseSecurity | None:
        return self.access(principal).security()

    def settings(self, principal: str) -> dict[str, Any]:
        """``ServiceSettings`` keyword arguments for a service acting as ``principal``."""
        return self.access(principal).settings()

    def environment(self, prefix: str, principal: str) -> dict[str, str]:
        """Environment variables for a process acting as ``principal`` (``prefix`` e.g.
        ``CASEMESH_REFERRALS_``)."""
        return self.access(principal).environment(prefix)

    # -- the credentials file

    def to_json(self) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
            "sasl_mechanism": self.sasl_mechanism,
            "ssl_cafile": self.ssl_cafile,
            "principals": {name: secret.get_secret_value() for name, secret in self.passwords.items()},
        }

    def write(self, path: Path) -> Path:
        """Writes the credentials file, readable by its owner only (0600 from its creation)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.unlink(missing_ok=True)
        descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump(self.to_json(), out, indent=2)
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, path: Path | str, bootstrap_servers: str | None = None) -> KafkaCluster:
        """Reads a credentials file; ``bootstrap_servers`` overrides the one it names."""
        path = Path(path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KafkaSecurityError(
                f"cannot read the Kafka credentials file {path}: {type(exc).__name__}"
            ) from None
        principals = cast(dict[str, str], document.get("principals") or {})
        return cls(
            bootstrap_servers=bootstrap_servers or str(document["bootstrap_servers"]),
            security_protocol=str(document.get("security_protocol", "PLAINTEXT")),
            sasl_mechanism=str(document.get("sasl_mechanism", "SCRAM-SHA-512")),
            ssl_cafile=str(document.get("ssl_cafile", "")),
            passwords={name: SecretStr(str(password)) for name, password in principals.items()},
            path=path,
        )

    @classmethod
    def from_env(
        cls, bootstrap_servers: str, environ: Mapping[str, str] = os.environ, variable: str = ""
    ) -> KafkaCluster:
        """The cluster at ``bootstrap_servers``, secured as the credentials file named by
        ``variable`` (default ``CASEMESH_KAFKA_SECURITY_FILE``) says, else PLAINTEXT."""
        named = environ.get(variable or SECURITY_FILE_VARIABLE)
        return cls.read(named, bootstrap_servers) if named else cls.plaintext(bootstrap_servers)


SECURITY_FILE_VARIABLE = "CASEMESH_KAFKA_SECURITY_FILE"
"""Names the credentials file of the cluster ``CASEMESH_KAFKA_BOOTSTRAP_SERVERS`` points at."""
