"""TLS for a Kafka broker: a CA and a broker certificate, as PEM files Kafka reads itself.

Kafka (since 2.7, KIP-651) takes PEM key and trust stores (``ssl.keystore.type=PEM``,
``ssl.truststore.type=PEM``), so no ``keytool`` and no JKS file is needed. The broker's private
key is PKCS#8, encrypted with a key password (Kafka requires one for a PEM key *file*); the
keystore file holds that key followed by the certificate chain.

The key is encrypted with ``pbeWithSHAAnd3-KeyTripleDES-CBC`` (PKCS#12 PBE, RFC 7292), not with
the PBES2 that ``cryptography`` writes: Kafka opens an encrypted PKCS#8 key with
``SecretKeyFactory.getInstance(algorithm name)``, and Java 17 has no factory named "PBES2". The
key password lives beside the key (0600) and only satisfies Kafka; the file mode protects the key.

Keys are EC P-256: generated in milliseconds, which keeps a cold start quick.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 825
"""How long the certificates are valid (the longest a public CA may issue a server one for)."""


@dataclass(frozen=True)
class BrokerTls:
    """Where the PEM files are."""

    folder: Path

    @property
    def ca_file(self) -> Path:
        """The CA certificate: the clients' and the broker's trust store."""
        return self.folder / "ca.pem"

    @property
    def ca_key_file(self) -> Path:
        return self.folder / "ca-key.pem"

    @property
    def keystore_file(self) -> Path:
        """The broker's encrypted private key followed by its certificate chain."""
        return self.folder / "broker-keystore.pem"

    @property
    def key_password_file(self) -> Path:
        return self.folder / "broker-key-password"

    def key_password(self) -> str:
        return self.key_password_file.read_text(encoding="utf-8").strip()

    def exists(self, with_password: bool = True) -> bool:
        found = self.ca_file.exists() and self.keystore_file.exists()
        return found and (self.key_password_file.exists() or not with_password)


# -- PKCS#8 encrypted as Java reads it


PBE_SHA1_3DES = "1.2.840.113549.1.12.1.3"
"""pbeWithSHAAnd3-KeyTripleDES-CBC (PKCS#12 PBE); Java calls it PBEWithSHA1AndDESede."""
PBE_ITERATIONS = 10_000


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def _der_oid(dotted: str) -> bytes:
    first, second, *rest = (int(part) for part in dotted.split("."))
    body = bytearray([40 * first + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return _der(0x06, bytes(body))


def _der_int(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def pkcs12_kdf(password: str, salt: bytes, purpose: int, iterations: int, size: int) -> bytes:
    """RFC 7292 appendix B.2 with SHA-1 (purpose 1: key, 2: IV)."""
    u, v = 20, 64
    secret = password.encode("utf-16-be") + b"\0\0"

    def stretch(data: bytes) -> bytes:
        """``data`` repeated to the next multiple of ``v`` bytes."""
        length = v * -(-len(data) // v)
        return (data * (length // max(len(data), 1) + 1))[:length]

    block = bytearray(stretch(salt) + stretch(secret))
    out = b""
    while len(out) < size:
        digest = bytes([purpose]) * v + bytes(block)
        for _ in range(iterations):
            digest = hashlib.sha1(digest).digest()
        out += digest
        filler = int.from_bytes((digest * (v // u + 1))[:v], "big") + 1
        for start in range(0, len(block), v):
            chunk = (int.from_bytes(block[start : start + v], "big") + filler) % (1 << (8 * v))
            block[start : start + v] = chunk.to_bytes(v, "big")
    return out[:size]


def encrypted_pkcs8(key: ec.EllipticCurvePrivateKey, password: str) -> bytes:
    """``key`` as an ENCRYPTED PRIVATE KEY PEM that Java (and so Kafka) can open."""
    plain = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    salt = secrets.token_bytes(16)
    secret_key = pkcs12_kdf(password, salt, 1, PBE_ITERATIONS, 24)
    iv = pkcs12_kdf(password, salt, 2, PBE_ITERATIONS, 8)
    padder = padding.PKCS7(64).padder()
    encryptor = Cipher(TripleDES(secret_key), modes.CBC(iv)).encryptor()
    sealed = encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
    parameters = _der(0x30, _der(0x04, salt) + _der_int(PBE_ITERATIONS))
    info = _der(0x30, _der(0x30, _der_oid(PBE_SHA1_3DES) + parameters) + _der(0x04, sealed))
    body = base64.encodebytes(info).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
        + "\n".join(lines)
        + "\n-----END ENCRYPTED PRIVATE KEY-----\n"
    ).encode()


def _write(path: Path, data: bytes, mode: int) -> None:
    """Writes ``data`` to ``path`` with ``mode`` from its creation (never briefly world-readable)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
    os.chmod(tmp, mode)
    tmp.replace(path)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Casemesh development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _alternative_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def generate(
    folder: Path,
    hosts: Sequence[str] = ("127.0.0.1", "localhost"),
    *,
    keep_ca_key: bool = True,
    key_mode: int = 0o600,
    key_password: str | None = None,
) -> BrokerTls:
    """A new CA and a broker certificate for ``hosts`` (IP addresses or DNS names) in ``folder``.

    ``keep_ca_key=False`` throws the CA's key away once the broker certificate is signed (nothing
    else can then be issued under it). ``key_mode`` is the mode of the broker's key file (0600; a
    container that runs the broker as another user may need 0644 — the key is encrypted either
    way). Without ``key_password`` a random one is drawn and written beside the key (mode
    ``key_mode``); a given one (compose passes it in the broker's environment) is not written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tls = BrokerTls(folder)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    until = now + dt.timedelta(days=VALID_DAYS)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Casemesh development Kafka CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    broker_key = ec.generate_private_key(ec.SECP256R1())
    broker_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_name)
        .public_key(broker_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(_alternative_names(hosts)), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    password = key_password or secrets.token_urlsafe(24)
    encrypted_key = encrypted_pkcs8(broker_key, password)
    pem = serialization.Encoding.PEM
    if key_password is None:
        _write(tls.key_password_file, password.encode(), key_mode)
    _write(
        tls.keystore_file, encrypted_key + broker_cert.public_bytes(pem) + ca_cert.public_bytes(pem), key_mode
    )
    _write(tls.ca_file, ca_cert.public_bytes(pem), 0o644)
    if keep_ca_key:
        ca_pem = ca_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write(tls.ca_key_file, ca_pem, 0o600)
    return tls


def ensure(
    folder: Path,
    hosts: Sequence[str] = ("127.0.0.1", "localhost"),
    *,
    keep_ca_key: bool = True,
    key_mode: int = 0o600,
    key_password: str | None = None,
) -> BrokerTls:
    """The TLS files in ``folder``, generated only when missing (so a restart keeps them)."""
    tls = BrokerTls(folder)
    if tls.exists(with_password=key_password is None):
        return tls
    return generate(folder, hosts, keep_ca_key=keep_ca_key, key_mode=key_mode, key_password=key_password)
