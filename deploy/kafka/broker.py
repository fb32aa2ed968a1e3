"""A broker's security configuration: SASL_SSL with SCRAM-SHA-512 for clients, the authorizer,
the SCRAM users created when the storage is formatted, and the credentials clients read.

The client listener is ``SASL_SSL`` (TLS, then SCRAM-SHA-512). The controller listener is
``SASL_PLAINTEXT`` with the PLAIN mechanism and one user, the broker itself: KRaft cannot check a
SCRAM credential on the controller listener (the controller needs it before the metadata log that
holds SCRAM credentials is read), and with an unauthenticated controller listener the anonymous
principal would have to be a super user. It binds the broker's own host only and carries no
client traffic; it is not encrypted.

SCRAM users are written into the metadata log by ``kafka-storage format --add-scram`` (KIP-900,
Kafka 3.5+), so the cluster never runs a moment without them.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence

from pydantic import SecretStr

from deploy.kafka.acls import ALL_PRINCIPALS, BROKER, SUPER_USERS
from deploy.kafka.tls import BrokerTls
from kit.transport import KafkaCluster

MECHANISM = "SCRAM-SHA-512"
CLIENT_LISTENER = "SASL_SSL"
CONTROLLER_LISTENER = "CONTROLLER"
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def new_passwords(principals: Sequence[str] = ALL_PRINCIPALS) -> dict[str, SecretStr]:
    """A random password (192 bits, hex: nothing a SCRAM or JAAS parser could stumble on) each."""
    return {name: SecretStr(secrets.token_hex(24)) for name in principals}


def scram_arguments(passwords: Mapping[str, SecretStr]) -> list[str]:
    """``kafka-storage format`` arguments creating every user."""
    args: list[str] = []
    for name, password in passwords.items():
        args += ["--add-scram", f"{MECHANISM}=[name={name},password={password.get_secret_value()}]"]
    return args


def _jaas(module: str, username: str, password: str, **users: str) -> str:
    extra = "".join(f' user_{name}="{value}"' for name, value in users.items())
    return f'{module} required username="{username}" password="{password}"{extra};'


def security_properties(
    *,
    client_listener: str,
    advertised_listener: str,
    controller_listener: str,
    tls: BrokerTls,
    broker_password: SecretStr,
    key_password: SecretStr | None = None,
) -> dict[str, str]:
    """The listeners, SASL, TLS and authorizer part of ``server.properties``.

    ``client_listener`` and ``controller_listener`` are ``host:port`` to bind (an empty host binds
    every interface), ``advertised_listener`` the ``host:port`` clients are told. The key store's
    password is ``key_password``, else the one written beside the key.
    """
    password = broker_password.get_secret_value()
    controller = CONTROLLER_LISTENER.lower()
    return {
        "listeners": f"{CLIENT_LISTENER}://{client_listener},{CONTROLLER_LISTENER}://{controller_listener}",
        "advertised.listeners": f"{CLIENT_LISTENER}://{advertised_listener}",
        "listener.security.protocol.map": f"{CLIENT_LISTENER}:SASL_SSL,{CONTROLLER_LISTENER}:SASL_PLAINTEXT",
        "controller.listener.names": CONTROLLER_LISTENER,
        "inter.broker.listener.name": CLIENT_LISTENER,
        # Clients: TLS, then SCRAM-SHA-512.
        "sasl.enabled.mechanisms": MECHANISM,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        f"listener.name.{CLIENT_LISTENER.lower()}.{MECHANISM.lower()}.sasl.jaas.config": _jaas(
            "org.apache.kafka.common.security.scram.ScramLoginModule", BROKER, password
        ),
        # The controller: PLAIN with the broker as its only user.
        "sasl.mechanism.controller.protocol": "PLAIN",
        f"listener.name.{controller}.sasl.enabled.mechanisms": "PLAIN",
        f"listener.name.{controller}.plain.sasl.jaas.config": _jaas(
            "org.apache.kafka.common.security.plain.PlainLoginModule", BROKER, password, **{BROKER: password}
        ),
        # TLS from PEM files (no keytool).
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(tls.keystore_file),
        "ssl.key.password": (key_password.get_secret_value() if key_password else tls.key_password()),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(tls.ca_file),
        "ssl.client.auth": "none",
        "ssl.endpoint.identification.algorithm": "https",
        # Nothing is allowed that no ACL allows.
        "authorizer.class.name": AUTHORIZER,
        "allow.everyone.if.no.acl.found": "false",
        "super.users": ";".join(f"User:{name}" for name in SUPER_USERS),
    }


def client_cluster(
    bootstrap_servers: str, tls: BrokerTls, passwords: Mapping[str, SecretStr]
) -> KafkaCluster:
    """What a client needs: the bootstrap servers, SASL_SSL with SCRAM-SHA-512, the CA file and
    the client principals' passwords (the broker's own is left out: it stays in the broker's
    configuration)."""
    return KafkaCluster(
        bootstrap_servers=bootstrap_servers,
        security_protocol="SASL_SSL",
        sasl_mechanism=MECHANISM,
        ssl_cafile=str(tls.ca_file),
        passwords={name: secret for name, secret in passwords.items() if name != BROKER},
    )
