"""kit/transport.py: the settings' broker security as FastStream's and aiokafka's clients take it."""

from __future__ import annotations

import json
import ssl
import stat
from pathlib import Path
from typing import Any

import pytest
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import SecretStr

from deploy.kafka import tls
from kit.settings import ServiceSettings
from kit.transport import (
    KafkaAccess,
    KafkaCluster,
    KafkaSecurityError,
    aiokafka_options,
    kafka_security,
)

PASSWORD = "s3cret-p4ssword-never-shown"


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tls.generate(tmp_path_factory.mktemp("tls")).ca_file)


def settings(**values: Any) -> ServiceSettings:
    return ServiceSettings(service_name="referrals", **values)


def secured(ca_file: str, **values: Any) -> ServiceSettings:
    given: dict[str, Any] = {
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_username": "referrals",
        "kafka_sasl_password": SecretStr(PASSWORD),
        "kafka_ssl_cafile": ca_file,
    }
    return settings(**{**given, **values})


def test_plaintext_needs_no_security_object_and_no_tls() -> None:
    assert kafka_security(settings()) is None
    assert aiokafka_options(settings()) == {"security_protocol": "PLAINTEXT"}


@pytest.mark.parametrize(
    ("mechanism", "kind"),
    [("SCRAM-SHA-512", SASLScram512), ("SCRAM-SHA-256", SASLScram256), ("PLAIN", SASLPlaintext)],
)
def test_sasl_ssl_gives_the_mechanism_the_principal_and_a_context_checking_the_broker(
    ca_file: str, mechanism: str, kind: type[BaseSecurity]
) -> None:
    security = kafka_security(secured(ca_file, kafka_sasl_mechanism=mechanism))
    assert isinstance(security, kind)
    assert security.use_ssl is True
    assert isinstance(security, SASLScram512 | SASLScram256 | SASLPlaintext)
    assert (security.username, security.password) == ("referrals", PASSWORD)
    context = security.ssl_context
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 1


def test_the_aiokafka_options_say_the_same(ca_file: str) -> None:
    options = aiokafka_options(secured(ca_file))
    assert options.pop("ssl_context").verify_mode == ssl.CERT_REQUIRED
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "referrals",
        "sasl_plain_password": PASSWORD,
    }


def test_sasl_without_tls_has_no_context_and_tls_without_sasl_has_no_principal(ca_file: str) -> None:
    plain = kafka_security(
        settings(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_username="referrals",
            kafka_sasl_password=SecretStr(PASSWORD),
        )
    )
    assert isinstance(plain, SASLScram512)
    assert (plain.use_ssl, plain.ssl_context) == (False, None)
    only_tls = kafka_security(settings(kafka_security_protocol="SSL", kafka_ssl_cafile=ca_file))
    assert type(only_tls) is BaseSecurity
    assert only_tls.use_ssl is True and only_tls.ssl_context is not None
    assert "sasl_plain_username" not in aiokafka_options(
        settings(kafka_security_protocol="SSL", kafka_ssl_cafile=ca_file)
    )


def test_sasl_without_credentials_is_refused_naming_the_settings_not_their_values(ca_file: str) -> None:
    with pytest.raises(KafkaSecurityError) as refused:
        kafka_security(secured(ca_file, kafka_sasl_username=""))
    assert "kafka_sasl_username" in str(refused.value)
    with pytest.raises(KafkaSecurityError) as refused:
        aiokafka_options(secured(ca_file).model_copy(update={"kafka_sasl_password": SecretStr("")}))
    assert PASSWORD not in str(refused.value)


def test_a_missing_ca_file_fails_without_showing_a_secret(tmp_path: Path) -> None:
    with pytest.raises(KafkaSecurityError) as failed:
        kafka_security(secured(str(tmp_path / "missing.pem")))
    assert "kafka_ssl_cafile" in str(failed.value) and "missing.pem" in str(failed.value)
    assert PASSWORD not in str(failed.value)


def test_the_password_never_appears_in_a_repr(ca_file: str) -> None:
    access = KafkaAccess(
        "127.0.0.1:9092", "SASL_SSL", "SCRAM-SHA-512", "referrals", SecretStr(PASSWORD), ca_file
    )
    cluster = KafkaCluster("127.0.0.1:9092", "SASL_SSL", passwords={"referrals": SecretStr(PASSWORD)})
    for shown in (repr(access), str(access), repr(cluster), repr(access.settings()), repr(secured(ca_file))):
        assert PASSWORD not in shown


def test_a_cluster_gives_each_principal_its_own_access_and_refuses_an_unknown_one(ca_file: str) -> None:
    cluster = KafkaCluster(
        "127.0.0.1:9092",
        "SASL_SSL",
        "SCRAM-SHA-512",
        ca_file,
        passwords={"referrals": SecretStr(PASSWORD), "admin": SecretStr("admin-pw")},
    )
    assert cluster.access("referrals").kafka_sasl_username == "referrals"
    assert cluster.options("admin")["sasl_plain_password"] == "admin-pw"
    assert cluster.options()["bootstrap_servers"] == "127.0.0.1:9092"
    assert cluster.has("referrals") and not cluster.has("approvals")
    with pytest.raises(KeyError, match="approvals"):
        cluster.access("approvals")
    service = ServiceSettings(service_name="referrals", **cluster.settings("referrals"))
    assert service.kafka_sasl_password.get_secret_value() == PASSWORD
    assert aiokafka_options(service)["sasl_plain_username"] == "referrals"


def test_a_plaintext_cluster_lets_every_principal_in_anonymously() -> None:
    cluster = KafkaCluster.plaintext("127.0.0.1:9092")
    assert not cluster.secured and cluster.has("anyone")
    assert cluster.options("referrals") == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
    }
    assert cluster.security("referrals") is None


def test_the_environment_configures_a_process_as_the_principal(ca_file: str) -> None:
    cluster = KafkaCluster(
        "127.0.0.1:9092", "SASL_SSL", ssl_cafile=ca_file, passwords={"referrals": SecretStr(PASSWORD)}
    )
    env = cluster.environment("CASEMESH_REFERRALS_", "referrals")
    assert env == {
        "CASEMESH_REFERRALS_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
        "CASEMESH_REFERRALS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "CASEMESH_REFERRALS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "CASEMESH_REFERRALS_KAFKA_SASL_USERNAME": "referrals",
        "CASEMESH_REFERRALS_KAFKA_SASL_PASSWORD": PASSWORD,
        "CASEMESH_REFERRALS_KAFKA_SSL_CAFILE": ca_file,
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        from services.referrals.settings import ReferralsSettings

        read = ReferralsSettings()
    assert (read.kafka_security_protocol, read.kafka_sasl_username) == ("SASL_SSL", "referrals")
    assert read.kafka_sasl_password.get_secret_value() == PASSWORD


def test_the_credentials_file_is_private_and_reads_back(tmp_path: Path, ca_file: str) -> None:
    cluster = KafkaCluster(
        "127.0.0.1:9092", "SASL_SSL", ssl_cafile=ca_file, passwords={"admin": SecretStr(PASSWORD)}
    )
    path = cluster.write(tmp_path / "credentials.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["principals"] == {"admin": PASSWORD}
    read = KafkaCluster.read(path)
    assert (read.bootstrap_servers, read.ssl_cafile, read.path) == ("127.0.0.1:9092", ca_file, path)
    assert read.passwords["admin"].get_secret_value() == PASSWORD
    assert KafkaCluster.read(path, "10.0.0.1:9093").bootstrap_servers == "10.0.0.1:9093"
    assert KafkaCluster.from_env("h:1", {"CASEMESH_KAFKA_SECURITY_FILE": str(path)}).secured
    assert not KafkaCluster.from_env("h:1", {}).secured
    with pytest.raises(KafkaSecurityError) as unreadable:
        KafkaCluster.read(tmp_path / "absent.json")
    assert "absent.json" in str(unreadable.value)
