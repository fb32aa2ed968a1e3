"""The broker's TLS files and its security settings, without a broker."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

from deploy.kafka import tls
from deploy.kafka.acls import ALL_PRINCIPALS, BROKER
from deploy.kafka.broker import (
    AUTHORIZER,
    client_cluster,
    new_passwords,
    scram_arguments,
    security_properties,
)


def test_the_broker_key_is_pkcs8_encrypted_with_a_cipher_java_can_open() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = tls.encrypted_pkcs8(key, "the key password")
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    opened = serialization.load_pem_private_key(pem, b"the key password")
    assert isinstance(opened, ec.EllipticCurvePrivateKey)
    assert opened.private_numbers() == key.private_numbers()
    # pbeWithSHAAnd3-KeyTripleDES-CBC, not PBES2 (Java 17 has no "PBES2" SecretKeyFactory).
    assert bytes.fromhex("060a2a864886f70d010c0103") in __import__("base64").b64decode(
        b"".join(pem.splitlines()[1:-1])
    )


def test_the_ca_signs_a_broker_certificate_for_its_hosts_and_the_keys_are_private(tmp_path: Path) -> None:
    files = tls.generate(tmp_path / "tls", ("127.0.0.1", "localhost", "kafka"))
    ca = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
    chain = x509.load_pem_x509_certificates(files.keystore_file.read_bytes())
    broker = chain[0]
    assert broker.issuer == ca.subject
    broker.verify_directly_issued_by(ca)
    names = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert names.get_values_for_type(x509.DNSName) == ["localhost", "kafka"]
    for private in (files.keystore_file, files.key_password_file, files.ca_key_file):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
    key = serialization.load_pem_private_key(files.keystore_file.read_bytes(), files.key_password().encode())
    assert key.public_key() == broker.public_key()
    # A client trusts the broker through the CA file.
    context = ssl.create_default_context(cafile=str(files.ca_file))
    assert context.cert_store_stats()["x509_ca"] == 1


def test_ensure_keeps_existing_files_and_the_ca_key_can_be_thrown_away(tmp_path: Path) -> None:
    first = tls.ensure(tmp_path / "a")
    before = first.keystore_file.read_bytes()
    assert tls.ensure(tmp_path / "a").keystore_file.read_bytes() == before
    dropped = tls.generate(tmp_path / "b", ("kafka",), keep_ca_key=False)
    assert not dropped.ca_key_file.exists()


def test_the_broker_allows_nothing_no_acl_allows_and_speaks_sasl_ssl_with_scram(tmp_path: Path) -> None:
    files = tls.generate(tmp_path / "tls")
    props = security_properties(
        client_listener="127.0.0.1:9092",
        advertised_listener="127.0.0.1:9092",
        controller_listener="127.0.0.1:9093",
        tls=files,
        broker_password=SecretStr("broker-secret"),
    )
    assert props["authorizer.class.name"] == AUTHORIZER
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:broker;User:admin"
    assert props["listeners"] == "SASL_SSL://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["ssl.keystore.type"] == props["ssl.truststore.type"] == "PEM"
    assert props["ssl.truststore.location"] == str(files.ca_file)
    assert "PLAINTEXT://" not in props["listeners"].replace("SASL_PLAINTEXT", "")


def test_every_principal_gets_a_scram_user_and_clients_never_see_the_brokers_password() -> None:
    passwords = new_passwords()
    assert set(passwords) == set(ALL_PRINCIPALS)
    assert len({p.get_secret_value() for p in passwords.values()}) == len(passwords)
    args = scram_arguments(passwords)
    assert args[::2] == ["--add-scram"] * len(passwords)
    assert all(a.startswith("SCRAM-SHA-512=[name=") and a.endswith("]") for a in args[1::2])
    cluster = client_cluster("127.0.0.1:9092", tls.BrokerTls(Path("/nowhere")), passwords)
    assert BROKER not in cluster.passwords
    assert cluster.security_protocol == "SASL_SSL"
