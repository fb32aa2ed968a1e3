"""``casemesh dlq``: operators' tools for the services' dead-letter topics (issue 18; docs/operators.md).

casemesh dlq list [--service S …] [--reason CODE] [--older-than AGE] [--newer-than AGE] [--records] [--json]
    the dead letters grouped by service and reason code: how many, the oldest and newest, how many
    were replayed; ``--records`` lists each one (coordinates and headers, never the payload)
casemesh dlq show --service S --partition P --offset O [--reveal] [--json]
    one dead letter's headers and its payload with every value masked (structure, envelope ids and
    a known message type kept); ``--reveal`` shows it whole to an operator whose verified token
    carries privilege 5, and audits that it did
casemesh dlq replay --service S (--partition P --offset O | --reason CODE | --partition P
        --from-offset A --to-offset B) [--identity-token T] [--again] [--dry-run] [--yes]
    publishes the original records again to their original commands topic, an envelope with a new
    message id linked to the dead letter; each replay audited as ``DeadLetterReplayed``
casemesh dlq purge --service S [--partition P] (--before OFFSET | --older-than AGE | --all) [--yes]
    deletes dead letters, after a typed confirmation; audited as ``DeadLettersPurged``

The broker is reached as the ``operator`` principal, with the shared ``CASEMESH_KAFKA_…``
variables (``CASEMESH_KAFKA_BOOTSTRAP_SERVERS``, ``…_SECURITY_PROTOCOL``, ``…_SASL_USERNAME``,
``…_SASL_PASSWORD``, ``…_SSL_CAFILE``), or a credentials file (``CASEMESH_KAFKA_SECURITY_FILE``)
whose ``operator`` principal is used. ``reveal``, ``replay`` and ``purge`` need the operator's own
identity token (``--token`` or ``CASEMESH_OPERATOR_TOKEN``), verified against
``CASEMESH_IDENTITY_JWKS`` / ``_ISSUER`` / ``_AUDIENCE`` like the services' officer tokens.

Nothing of a payload is printed unless revealed: masked values show their kind and length only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TextIO
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from contracts.base import Actor, Role
from contracts.catalogue.operations import DeadLetterReplayed, DeadLetterRevealed, DeadLettersPurged
from contracts.envelope import IDENTITY_HEADER
from contracts.topics import (
    ANY,
    OPERATIONS_AUDIT_TOPIC,
    READS,
    SERVICES,
    TOPICS,
    DeadLetterHeader,
    deadletter_topic,
)

EXIT_OK = 0
EXIT_FAILED = 1  # refused, not confirmed, not authorised, or the broker failed
EXIT_USAGE = 2  # arguments or settings

#: Roles whose verified token may replay, purge and (with REVEAL_PRIVILEGE) reveal dead letters.
OPERATOR_ROLES: frozenset[Role] = frozenset({Role.SERVICE_SUPPORT_OFFICER, Role.SERVICE_MANAGER})
#: The ``casemesh_privilege`` a token needs to see a dead letter's personal data.
REVEAL_PRIVILEGE = 5

MASK = "•••"
REPLAYED_FROM = "x-replayed-from"
REPLAYED_FROM_MESSAGE_ID = "x-replayed-from-message-id"
#: The headers a dead letter carries (besides its publishing client's own): none goes back with a replay.
DEAD_LETTER_HEADERS: frozenset[str] = frozenset(
    {*(h.value for h in DeadLetterHeader), "x-original-size", "x-original-sha256", "x-truncated"}
)
#: Dead-letter headers whose values say nothing of the payload (the kit writes them value-free).
SHOWN_HEADERS: frozenset[str] = DEAD_LETTER_HEADERS
#: Envelope fields shown unmasked when they hold what the envelope allows there.
_UUID_FIELDS = ("message_id", "correlation_id", "causation_id")
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?$")
_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
READ_TIMEOUT_S = 60.0


class DlqError(Exception):
    """Why the command stopped; the text names settings, topics and offsets, never values."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.status = status


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


class OperatorSettings(BaseModel):
    """What ``casemesh dlq`` reads from ``CASEMESH_<FIELD>`` variables (the services' shared ones)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    environment: Literal["development", "production"] = "development"
    kafka_bootstrap_servers: str = ""
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: str = ""
    kafka_ssl_certfile: str = ""
    kafka_ssl_keyfile: str = ""
    kafka_security_file: str = Field(
        "", description="A credentials file (deploy/local's); its operator principal is used."
    )
    identity_jwks: str = "development"
    identity_issuer: str = "casemesh-development"
    identity_audience: str = "casemesh"
    identity_leeway_s: int = Field(30, ge=0, le=300)
    operator_token: SecretStr = SecretStr("")
    topic_suffix: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> OperatorSettings:
        values = {
            name: environ[f"CASEMESH_{name.upper()}"]
            for name in cls.model_fields
            if environ.get(f"CASEMESH_{name.upper()}")
        }
        try:
            settings = cls.model_validate(values)
        except ValidationError as exc:
            named = ", ".join(f"CASEMESH_{'.'.join(map(str, e['loc'])).upper()}" for e in exc.errors())
            raise DlqError(f"invalid settings: {named}", EXIT_USAGE) from None
        if settings.environment == "production":
            faults = []
            if settings.identity_jwks == "development":
                faults.append("CASEMESH_IDENTITY_JWKS is the development key")
            if settings.kafka_security_file or settings.kafka_security_protocol != "SASL_SSL":
                faults.append(
                    "production needs CASEMESH_KAFKA_SECURITY_PROTOCOL=SASL_SSL and no credentials file"
                )
            if faults:
                raise DlqError("production settings refused: " + "; ".join(faults), EXIT_USAGE)
        return settings

    def access(self) -> Any:
        """The operator's :class:`kit.transport.KafkaAccess`."""
        from kit.transport import KafkaAccess, KafkaCluster

        if self.kafka_security_file and not self.kafka_sasl_username:
            cluster = KafkaCluster.read(self.kafka_security_file, self.kafka_bootstrap_servers or None)
            try:
                return cluster.access("operator")
            except KeyError:
                raise DlqError("the credentials file has no operator principal", EXIT_USAGE) from None
        return KafkaAccess(
            self.kafka_bootstrap_servers or "127.0.0.1:19092",
            self.kafka_security_protocol,
            self.kafka_sasl_mechanism,
            self.kafka_sasl_username,
            self.kafka_sasl_password,
            self.kafka_ssl_cafile,
            self.kafka_ssl_certfile,
            self.kafka_ssl_keyfile,
        )


# --------------------------------------------------------------------------------------------
# Dead letters and what may be shown of them
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic."""

    service: str
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, service: str, record: Any) -> DeadLetter:
        headers = {
            str(name): (raw or b"").decode("utf-8", errors="replace") for name, raw in record.headers or ()
        }
        return cls(
            service,
            record.topic,
            record.partition,
            record.offset,
            int(record.timestamp),
            record.key,
            record.value or b"",
            headers,
        )

    @property
    def coordinates(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    @property
    def reason_code(self) -> str:
        return self.headers.get(DeadLetterHeader.REASON_CODE, "") or "unknown"

    @property
    def original_topic(self) -> str:
        return self.headers.get(DeadLetterHeader.ORIGINAL_TOPIC, "")

    def original(self, name: str) -> int | None:
        try:
            return int(self.headers.get(name, ""))
        except ValueError:
            return None

    @property
    def truncated(self) -> bool:
        return self.headers.get("x-truncated") == "true"

    def age_s(self, now: float) -> float:
        return max(0.0, now - self.timestamp_ms / 1000)

    def summary(self, now: float, replayed: bool) -> dict[str, Any]:
        """Coordinates and value-free headers: what ``list --records`` shows."""
        return {
            "service": self.service,
            "partition": self.partition,
            "offset": self.offset,
            "dead_lettered_at": _iso(self.timestamp_ms / 1000),
            "age_s": round(self.age_s(now)),
            "reason_code": self.reason_code,
            "error_class": self.headers.get(DeadLetterHeader.ERROR_CLASS, ""),
            "original": f"{self.original_topic}/{self.original(DeadLetterHeader.ORIGINAL_PARTITION)}/"
            f"{self.original(DeadLetterHeader.ORIGINAL_OFFSET)}",
            "size": len(self.value),
            "truncated": self.truncated,
            "replayed": replayed,
        }


def masked(value: Any) -> Any:
    """A JSON value with its structure kept and every string, number and boolean masked."""
    if isinstance(value, dict):
        return {masked_key(k): masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    if value is None:
        return None
    if isinstance(value, bool):
        return f"{MASK}(boolean)"
    if isinstance(value, int | float):
        return f"{MASK}(number)"
    return f"{MASK}({len(str(value))})"


def masked_key(key: str) -> str:
    """A key kept when it reads like a field name; a map's key made of data is masked."""
    return key if _KEY.match(key) else f"{MASK}(key {len(key)})"


def masked_envelope(raw: bytes) -> Any:
    """What ``show`` prints of a value: the envelope's ids, known message type, version, time and
    producer as they are; the customer's csid, the payload and anything else masked."""
    from contracts.errors import known_message_types

    document = parse(raw)
    if isinstance(document, Unreadable):
        return document.describe()
    if not isinstance(document, dict):
        return masked(document)
    types = known_message_types()
    shown: dict[str, Any] = {}
    for key, value in document.items():
        if _shown(key, value, types):
            shown[key] = value
        else:
            shown[masked_key(key)] = masked(value)
    return shown


def _shown(key: str, value: Any, message_types: frozenset[str]) -> bool:
    """Whether an envelope field holds what the envelope allows there (else it may be anything)."""
    if key in _UUID_FIELDS:
        return _is_uuid(value)
    if key == "message_type":
        return value in message_types
    if key == "schema_version":
        return isinstance(value, int) and not isinstance(value, bool)
    if key == "occurred_at":
        return isinstance(value, str) and bool(_DATE_TIME.match(value))
    if key == "producer":
        return isinstance(value, str) and bool(_NAME.match(value))
    return False


def masked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The dead-letter headers as they are (value-free by design); any other header's value masked."""
    return {
        name: (value if name in SHOWN_HEADERS else f"{MASK}({len(value)})") for name, value in headers.items()
    }


@dataclass(frozen=True)
class Unreadable:
    """A value that is not JSON text."""

    why: str
    size: int

    def describe(self) -> str:
        return f"{MASK} {self.why}, {self.size} bytes"


def parse(raw: bytes) -> Any:
    """The JSON document in ``raw``, or :class:`Unreadable`."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Unreadable("not UTF-8", len(raw))
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return Unreadable("not JSON", len(raw))


def revealed_value(raw: bytes) -> Any:
    """A value shown whole: its JSON, else its text, else its bytes in hex."""
    document = parse(raw)
    if not isinstance(document, Unreadable):
        return document
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.hex()


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        UUID(value)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Selection and replay (pure: unit-tested without a broker)
# --------------------------------------------------------------------------------------------


def parse_age(text: str) -> float:
    """``90s``, ``15m``, ``2h``, ``7d`` as seconds."""
    found = _AGE.match(text.strip())
    if not found:
        raise argparse.ArgumentTypeError(f"{text!r} is not an age such as 90s, 15m, 2h or 7d")
    return float(found.group(1)) * _AGE_UNITS[found.group(2)]


def human_age(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172_800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86_400}d"


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command acts on: one record, a reason, an offset range, an age."""

    partition: int | None = None
    offset: int | None = None
    first: int | None = None
    last: int | None = None
    reason: str | None = None
    older_than_s: float | None = None
    newer_than_s: float | None = None

    def matches(self, letter: DeadLetter, now: float) -> bool:
        if self.partition is not None and letter.partition != self.partition:
            return False
        if self.offset is not None and letter.offset != self.offset:
            return False
        if self.first is not None and letter.offset < self.first:
            return False
        if self.last is not None and letter.offset > self.last:
            return False
        if self.reason is not None and letter.reason_code != self.reason:
            return False
        age = letter.age_s(now)
        if self.older_than_s is not None and age < self.older_than_s:
            return False
        return self.newer_than_s is None or age <= self.newer_than_s

    @property
    def single(self) -> bool:
        return self.offset is not None


@dataclass(frozen=True)
class Replay:
    """What a replay publishes: where, and the record."""

    letter: DeadLetter
    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    message_id: UUID | None
    replayed_from_message_id: UUID | None


class Refused(Exception):
    """Why one dead letter is not replayed (value-free)."""


def replayed_value(value: bytes, new_id: UUID | None = None) -> tuple[bytes, UUID | None, UUID | None]:
    """``(value, new message id, original message id)``: a JSON envelope with a valid
    ``message_id`` gets a new one, every other byte as it was; anything else stays as it is."""
    document = parse(value)
    if not isinstance(document, dict) or not _is_uuid(document.get("message_id")):
        return value, None, None
    old_text: str = document["message_id"]
    old = UUID(old_text)
    new = new_id or uuid4()
    pattern = re.compile(rb'("message_id"\s*:\s*)' + re.escape(json.dumps(old_text).encode()))
    if len(pattern.findall(value)) == 1:
        rewritten = pattern.sub(lambda m: m.group(1) + f'"{new}"'.encode(), value, count=1)
        check = parse(rewritten)
        if isinstance(check, dict) and check.get("message_id") == str(new):
            return rewritten, new, old
    document["message_id"] = str(new)  # written some other way (escaped, repeated): re-encoded
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode(), new, old


def plan_replay(
    letter: DeadLetter,
    *,
    suffix: str,
    identity_token: str | None,
    check_identity: Callable[[str, Actor], str | None] | None = None,
    new_id: UUID | None = None,
) -> Replay:
    """The record a replay publishes; raises :class:`Refused` with why it may not be replayed.

    Only to a topic anyone may write (a commands topic) that the dead-lettering service reads;
    only a whole record whose bytes match the hash the dead letter recorded; a command naming an
    officer only with a fresh identity token for that officer (dead letters keep no token)."""
    original = _destination(letter, suffix)
    _check_whole(letter)
    _check_identity(letter.value, identity_token, check_identity)
    value, message_id, old_id = replayed_value(letter.value, new_id)
    # A dead letter keeps none of the original's headers (only its own, and those of the client that
    # published it), so a replay carries only its links and the token it was given.
    headers = {REPLAYED_FROM: letter.coordinates.encode()}
    if old_id is not None:
        headers[REPLAYED_FROM_MESSAGE_ID] = str(old_id).encode()
    if identity_token:
        headers[IDENTITY_HEADER] = identity_token.encode("ascii")
    return Replay(letter, original, letter.key, value, headers, message_id, old_id)


def _destination(letter: DeadLetter, suffix: str) -> str:
    """The original topic, if a replay may go there."""
    original = letter.original_topic
    if not original:
        raise Refused("the dead letter names no original topic")
    if suffix and not original.endswith(suffix):
        raise Refused(f"{original} is not a topic of this deployment (suffix {suffix})")
    base = original.removesuffix(suffix) if suffix else original
    topic = TOPICS.get(base)
    if topic is None or base not in READS.get(letter.service, ()):
        raise Refused(f"{original} is not a topic {letter.service} reads")
    if topic.writer != ANY:
        raise Refused(
            f"{original} is written by {topic.writer} only: a replay goes only to a topic anyone may "
            f"write (a commands topic). Fix {letter.service} and run `casemesh rebuild {letter.service}` "
            "to have it read the record again (docs/rebuild.md)"
        )
    return original


def _check_whole(letter: DeadLetter) -> None:
    """The dead letter holds the whole original record, unchanged."""
    if letter.truncated or not letter.value:
        raise Refused("the dead letter kept only part of the record (x-truncated)")
    digest = letter.headers.get("x-original-sha256")
    if digest and hashlib.sha256(letter.value).hexdigest() != digest:
        raise Refused("the dead letter's bytes do not match its x-original-sha256")


def _check_identity(
    value: bytes, identity_token: str | None, check: Callable[[str, Actor], str | None] | None
) -> None:
    """A command naming an officer goes back only with a token that lets it through now."""
    actor = _actor(value)
    if actor is None:
        return
    if actor.role is Role.SYSTEM:
        raise Refused("a service's own command (actor SYSTEM) is signed by that service only")
    if not identity_token:
        raise Refused(
            "the command names an officer and dead letters keep no identity token: replay it with "
            "--identity-token carrying a fresh token of that officer, or ask the sender to send it again"
        )
    why = check(identity_token, actor) if check is not None else None
    if why is not None:
        raise Refused(f"the identity token is not fit for this command: {why}")


def _actor(value: bytes) -> Actor | None:
    document = parse(value)
    if not isinstance(document, dict) or not isinstance(document.get("payload"), dict):
        return None
    try:
        return Actor.model_validate(document["payload"].get("actor"), strict=False)
    except ValidationError:
        return None


def bare(message: BaseModel) -> tuple[bytes, list[tuple[str, bytes]]]:
    """An audit event's value and headers (not enveloped, like the rejections topic)."""
    value = json.dumps(message.model_dump(mode="json"), separators=(",", ":")).encode()
    kind = type(message)
    headers = [
        ("message-type", str(getattr(kind, "MESSAGE_TYPE", kind.__name__)).encode()),
        ("schema-version", str(getattr(kind, "SCHEMA_VERSION", 1)).encode()),
    ]
    return value, headers


# --------------------------------------------------------------------------------------------
# Who is asking
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operator:
    officer_id: str
    roles: frozenset[Role]
    privilege: int | None


class Identities:
    """Verifies the operator's token and commands' identity tokens as the services do."""

    def __init__(self, settings: OperatorSettings) -> None:
        from kit.identity import Verifier, load_jwks

        try:
            keys = load_jwks(settings.identity_jwks)
        except (OSError, ValueError) as exc:
            raise DlqError(
                f"CASEMESH_IDENTITY_JWKS cannot be loaded ({type(exc).__name__})", EXIT_USAGE
            ) from None
        self.verifier = Verifier(
            keys,
            issuer=settings.identity_issuer,
            audience=settings.identity_audience,
            service="operator",
            service_secret=os.urandom(32),  # no service token verifies here
            leeway_s=settings.identity_leeway_s,
        )

    def operator(self, token: str, *, reveal: bool = False) -> Operator:
        from kit.identity import Unauthenticated

        if not token:
            raise DlqError("this needs your identity token: --token or CASEMESH_OPERATOR_TOKEN")
        try:
            identity = self.verifier.verify(token)
        except Unauthenticated as exc:
            raise DlqError(f"not authorised: {exc.reason}") from None
        if identity.service is not None or len(identity.subject) > 100:
            raise DlqError("not authorised: the token is not an officer's")
        if not identity.roles & OPERATOR_ROLES:
            roles = " or ".join(sorted(OPERATOR_ROLES))
            raise DlqError(f"not authorised: the token holds neither {roles}")
        if reveal and (identity.privilege or 0) < REVEAL_PRIVILEGE:
            raise DlqError(
                f"not authorised to reveal: the token's casemesh_privilege is not {REVEAL_PRIVILEGE}"
            )
        return Operator(identity.subject, identity.roles, identity.privilege)

    def fit_for(self, token: str, actor: Actor) -> str | None:
        """Why ``token`` would not let ``actor``'s command through now, or None."""
        from kit.identity import Unauthenticated

        try:
            identity = self.verifier.verify(token)
        except Unauthenticated as exc:
            return exc.reason
        if identity.service is not None:
            return "it is a service's token"
        return identity.mismatch(actor)


# --------------------------------------------------------------------------------------------
# The broker
# --------------------------------------------------------------------------------------------


class Broker:
    """The operator's consumer (no group: it commits nothing), producer and admin client."""

    def __init__(self, settings: OperatorSettings) -> None:
        self.settings = settings
        self.options: dict[str, Any] = settings.access().options()
        self.consumer: Any = None
        self.producer: Any = None
        self.admin: Any = None

    def topic(self, base: str) -> str:
        return f"{base}{self.settings.topic_suffix}"

    async def __aenter__(self) -> Broker:
        from aiokafka import AIOKafkaConsumer

        self.consumer = AIOKafkaConsumer(
            **self.options,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="casemesh-dlq",
            request_timeout_ms=30_000,
        )
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for client, stop in ((self.producer, "stop"), (self.admin, "close"), (self.consumer, "stop")):
            if client is not None:
                with contextlib.suppress(Exception):
                    await getattr(client, stop)()

    async def partitions(self, topic: str) -> list[int]:
        """The topic's partitions; none when it does not exist (nothing was dead-lettered yet)."""
        admin = await self._admin()
        (described,) = await admin.describe_topics([topic])
        if described["error_code"]:
            return []
        return sorted(int(p["partition"]) for p in described["partitions"])

    async def bounds(self, topic: str, partitions: Iterable[int]) -> dict[int, tuple[int, int]]:
        """Each partition's first offset and end (the next offset to be written)."""
        from aiokafka import TopicPartition

        tps = [TopicPartition(topic, p) for p in partitions]
        if not tps:
            return {}
        first = await self.consumer.beginning_offsets(tps)
        end = await self.consumer.end_offsets(tps)
        return {tp.partition: (first[tp], end[tp]) for tp in tps}

    async def read(self, topic: str, partitions: Sequence[int] | None = None) -> list[Any]:
        """Every record of the topic (or of ``partitions``) now there, by partition and offset."""
        from aiokafka import TopicPartition

        chosen = list(partitions) if partitions is not None else await self.partitions(topic)
        bounds = await self.bounds(topic, chosen)
        wanted = {p: end for p, (first, end) in bounds.items() if end > first}
        if not wanted:
            return []
        tps = [TopicPartition(topic, p) for p in wanted]
        self.consumer.assign(tps)
        for tp in tps:
            self.consumer.seek(tp, bounds[tp.partition][0])
        records: list[Any] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READ_TIMEOUT_S
        while True:
            pending = [tp for tp in tps if await self.consumer.position(tp) < wanted[tp.partition]]
            if not pending:
                break
            if loop.time() > deadline:
                raise DlqError(f"{topic} could not be read to its end in {READ_TIMEOUT_S:.0f}s")
            batch = await self.consumer.getmany(*pending, timeout_ms=500)
            for tp, got in batch.items():
                records.extend(r for r in got if r.offset < wanted[tp.partition])
        records.sort(key=lambda r: (r.partition, r.offset))
        return records

    async def read_one(self, topic: str, partition: int, offset: int) -> Any | None:
        """The record at ``offset``, or None when there is none (purged, expired, never written)."""
        from aiokafka import TopicPartition

        bounds = await self.bounds(topic, [partition] if partition in await self.partitions(topic) else [])
        if partition not in bounds or not bounds[partition][0] <= offset < bounds[partition][1]:
            return None
        tp = TopicPartition(topic, partition)
        self.consumer.assign([tp])
        self.consumer.seek(tp, offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READ_TIMEOUT_S
        while loop.time() < deadline:
            batch = await self.consumer.getmany(tp, timeout_ms=500)
            for record in batch.get(tp, []):
                if record.offset == offset:
                    return record
                if record.offset > offset:
                    return None
            if await self.consumer.position(tp) > offset:
                return None
        raise DlqError(f"{topic}/{partition}/{offset} could not be read in {READ_TIMEOUT_S:.0f}s")

    async def dead_letters(self, service: str, partitions: Sequence[int] | None = None) -> list[DeadLetter]:
        topic = self.topic(deadletter_topic(service))
        return [DeadLetter.of(service, r) for r in await self.read(topic, partitions)]

    async def replayed(self) -> dict[str, list[dict[str, Any]]]:
        """Earlier replays from the audit topic, by dead letter (``topic/partition/offset``)."""
        found: dict[str, list[dict[str, Any]]] = {}
        for record in await self.read(self.topic(OPERATIONS_AUDIT_TOPIC)):
            if dict(record.headers or ()).get("message-type") != DeadLetterReplayed.MESSAGE_TYPE.encode():
                continue
            event = parse(record.value or b"")
            if isinstance(event, dict):
                where = f"{event.get('deadletter_topic')}/{event.get('deadletter_partition')}/"
                found.setdefault(where + str(event.get("deadletter_offset")), []).append(event)
        return found

    async def _producer(self) -> Any:
        if self.producer is None:
            from aiokafka import AIOKafkaProducer

            self.producer = AIOKafkaProducer(
                **self.options, enable_idempotence=True, acks="all", client_id="casemesh-dlq"
            )
            await self.producer.start()
        return self.producer

    async def publish(
        self, topic: str, value: bytes, key: bytes | None, headers: Sequence[tuple[str, bytes]]
    ) -> tuple[int, int]:
        """Publishes one record and waits for the broker; its partition and offset."""
        producer = await self._producer()
        sent = await producer.send_and_wait(topic, value, key=key, headers=list(headers))
        return int(sent.partition), int(sent.offset)

    async def audit(self, event: BaseModel, service: str) -> None:
        """Publishes an operations audit event, creating the audit topic if it is missing."""
        await self._ensure_audit_topic()
        value, headers = bare(event)
        await self.publish(self.topic(OPERATIONS_AUDIT_TOPIC), value, service.encode(), headers)

    async def _admin(self) -> Any:
        if self.admin is None:
            from aiokafka.admin import AIOKafkaAdminClient

            self.admin = AIOKafkaAdminClient(
                **self.options, request_timeout_ms=30_000, client_id="casemesh-dlq"
            )
            await self.admin.start()
        return self.admin

    async def _ensure_audit_topic(self) -> None:
        name = self.topic(OPERATIONS_AUDIT_TOPIC)
        if await self.partitions(name):
            return
        from aiokafka.admin import NewTopic
        from aiokafka.errors import TopicAlreadyExistsError

        from kit.settings import topic_partitions
        from kit.topic_configs import replication_factor, topic_configs

        configs = topic_configs(TOPICS[OPERATIONS_AUDIT_TOPIC])
        admin = await self._admin()
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(
                [NewTopic(name, int(topic_partitions()), replication_factor(), topic_configs=configs)]
            )

    async def delete_before(self, topic: str, before: Mapping[int, int]) -> dict[int, int]:
        """Deletes each partition's records before its offset; the partitions' new first offsets."""
        from aiokafka import TopicPartition
        from aiokafka.admin import RecordsToDelete

        admin = await self._admin()
        done = await admin.delete_records(
            {TopicPartition(topic, p): RecordsToDelete(before_offset=o) for p, o in before.items()}
        )
        return {tp.partition: int(low) for tp, low in done.items()}


# --------------------------------------------------------------------------------------------
# The commands
# --------------------------------------------------------------------------------------------


@dataclass
class Console:
    out: TextIO
    err: TextIO
    ask: Callable[[str], str]
    interactive: bool
    clock: Callable[[], float] = time.time

    def say(self, text: str = "") -> None:
        print(text, file=self.out)

    def warn(self, text: str) -> None:
        print(text, file=self.err)

    def json(self, document: Any) -> None:
        print(json.dumps(document, indent=2, ensure_ascii=False), file=self.out)


def _services(chosen: Sequence[str] | None) -> list[str]:
    return list(dict.fromkeys(chosen)) if chosen else list(SERVICES)


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def list_dead_letters(broker: Broker, args: argparse.Namespace, console: Console) -> int:
    now = console.clock()
    selection = Selection(reason=args.reason, older_than_s=args.older_than, newer_than_s=args.newer_than)
    replays = await broker.replayed()
    groups: dict[tuple[str, str], list[DeadLetter]] = {}
    records: list[dict[str, Any]] = []
    for service in _services(args.service):
        for letter in await broker.dead_letters(service):
            if selection.matches(letter, now):
                groups.setdefault((service, letter.reason_code), []).append(letter)
                records.append(letter.summary(now, letter.coordinates in replays))
    rows: list[dict[str, Any]] = [
        {
            "service": service,
            "reason_code": reason,
            "count": len(letters),
            "replayed": sum(1 for letter in letters if letter.coordinates in replays),
            "oldest_age_s": round(max(letter.age_s(now) for letter in letters)),
            "newest_age_s": round(min(letter.age_s(now) for letter in letters)),
            "oldest_at": _iso(min(letter.timestamp_ms for letter in letters) / 1000),
            "newest_at": _iso(max(letter.timestamp_ms for letter in letters) / 1000),
        }
        for (service, reason), letters in sorted(groups.items())
    ]
    if args.json:
        console.json({"groups": rows, **({"records": records} if args.records else {})})
        return EXIT_OK
    if not rows:
        console.say("no dead letters")
        return EXIT_OK
    console.say(f"{'service':<14} {'reason':<28} {'count':>6} {'replayed':>8} {'oldest':>7} {'newest':>7}")
    for row in rows:
        console.say(
            f"{row['service']:<14} {row['reason_code']:<28} {row['count']:>6} {row['replayed']:>8} "
            f"{human_age(row['oldest_age_s']):>7} {human_age(row['newest_age_s']):>7}"
        )
    if args.records:
        console.say()
        console.say(f"{'service':<14} {'p/offset':<10} {'age':>6} {'reason':<28} {'size':>8}  original")
        for r in records:
            mark = "  (replayed)" if r["replayed"] else ""
            console.say(
                f"{r['service']:<14} {str(r['partition']) + '/' + str(r['offset']):<10} "
                f"{human_age(r['age_s']):>6} {r['reason_code']:<28} {r['size']:>8}  {r['original']}{mark}"
            )
    return EXIT_OK


async def show_dead_letter(
    broker: Broker, args: argparse.Namespace, console: Console, identities: Identities | None, token: str
) -> int:
    operator = identities.operator(token, reveal=True) if args.reveal and identities is not None else None
    topic = broker.topic(deadletter_topic(args.service))
    record = await broker.read_one(topic, args.partition, args.offset)
    if record is None:
        console.warn(
            f"no dead letter at {topic}/{args.partition}/{args.offset} (purged, expired or never written)"
        )
        return EXIT_FAILED
    letter = DeadLetter.of(args.service, record)
    if operator is not None:
        # Audited before anything is shown: no audit, no reveal.
        await broker.audit(
            DeadLetterRevealed(
                service=args.service,
                deadletter_topic=topic,
                deadletter_partition=letter.partition,
                deadletter_offset=letter.offset,
                operator_id=operator.officer_id,
                revealed_at=datetime.now(UTC),
            ),
            args.service,
        )
    now = console.clock()
    document = {
        "dead_letter": letter.coordinates,
        "dead_lettered_at": _iso(letter.timestamp_ms / 1000),
        "age_s": round(letter.age_s(now)),
        "revealed": operator is not None,
        "headers": dict(letter.headers) if operator is not None else masked_headers(letter.headers),
        "key": _key(letter.key, revealed=operator is not None),
        "value": revealed_value(letter.value) if operator is not None else masked_envelope(letter.value),
    }
    if args.json:
        console.json(document)
        return EXIT_OK
    console.say(f"dead letter   {document['dead_letter']}")
    console.say(f"dead-lettered {document['dead_lettered_at']} ({human_age(document['age_s'])} ago)")
    console.say(f"key           {document['key']}")
    console.say("headers")
    for name, value in document["headers"].items():
        console.say(f"  {name}: {value}")
    console.say("value" + ("" if operator is not None else " (masked: --reveal shows it, audited)"))
    value = document["value"]
    console.say(json.dumps(value, indent=2, ensure_ascii=False) if not isinstance(value, str) else value)
    return EXIT_OK


def _key(key: bytes | None, *, revealed: bool) -> Any:
    if key is None:
        return None
    return revealed_value(key) if revealed else f"{MASK}({len(key)} bytes)"


async def replay_dead_letters(
    broker: Broker, args: argparse.Namespace, console: Console, identities: Identities, token: str
) -> int:
    operator = None if args.dry_run else identities.operator(token)
    selection = Selection(
        partition=args.partition,
        offset=args.offset,
        first=args.from_offset,
        last=args.to_offset,
        reason=args.reason,
        older_than_s=args.older_than,
        newer_than_s=args.newer_than,
    )
    now = console.clock()
    partitions = [args.partition] if args.partition is not None else None
    chosen = [d for d in await broker.dead_letters(args.service, partitions) if selection.matches(d, now)]
    if not chosen:
        console.warn("no dead letter matches")
        return EXIT_FAILED
    identity_token = args.identity_token or None
    plans, refused = _plans(chosen, await broker.replayed(), args, broker, identities, console)
    if not plans:
        return EXIT_FAILED
    if args.dry_run:
        for plan in plans:
            console.say(f"would replay {plan.letter.coordinates} ({plan.letter.reason_code}) to {plan.topic}")
        return EXIT_OK
    if not selection.single and not confirmed(
        console,
        args.yes,
        f"Replay {len(plans)} dead letters of {args.service} to their original topics?",
        args.service,
    ):
        return EXIT_FAILED
    assert operator is not None
    for plan in plans:
        partition, offset = await broker.publish(plan.topic, plan.value, plan.key, list(plan.headers.items()))
        event = DeadLetterReplayed(
            service=args.service,
            deadletter_topic=plan.letter.topic,
            deadletter_partition=plan.letter.partition,
            deadletter_offset=plan.letter.offset,
            original_topic=plan.topic,
            original_partition=plan.letter.original(DeadLetterHeader.ORIGINAL_PARTITION) or 0,
            original_offset=plan.letter.original(DeadLetterHeader.ORIGINAL_OFFSET) or 0,
            replayed_partition=partition,
            replayed_offset=offset,
            message_id=plan.message_id,
            replayed_from_message_id=plan.replayed_from_message_id,
            reason_code=plan.letter.reason_code[:64],
            identity_attached=identity_token is not None,
            operator_id=operator.officer_id,
            replayed_at=datetime.now(UTC),
        )
        try:
            await broker.audit(event, args.service)
        except Exception as exc:
            raise DlqError(
                f"{plan.letter.coordinates} was replayed to {plan.topic}/{partition}/{offset} but its audit "
                f"event could not be published ({type(exc).__name__}); stopped before any other replay"
            ) from None
        new_id = (
            f", message id {plan.message_id}" if plan.message_id else ", not an envelope: bytes as they were"
        )
        console.say(f"replayed {plan.letter.coordinates} to {plan.topic}/{partition}/{offset}{new_id}")
    return EXIT_FAILED if refused else EXIT_OK


def _plans(
    chosen: Sequence[DeadLetter],
    replays: Mapping[str, Any],
    args: argparse.Namespace,
    broker: Broker,
    identities: Identities,
    console: Console,
) -> tuple[list[Replay], int]:
    """The replays to publish, and how many dead letters were refused (each said why)."""
    plans: list[Replay] = []
    refused = 0
    for letter in chosen:
        if letter.coordinates in replays and not args.again:
            console.say(f"skipped  {letter.coordinates}: replayed before (--again replays it once more)")
            continue
        try:
            plans.append(
                plan_replay(
                    letter,
                    suffix=broker.settings.topic_suffix,
                    identity_token=args.identity_token or None,
                    check_identity=identities.fit_for,
                )
            )
        except Refused as why:
            refused += 1
            console.say(f"refused  {letter.coordinates}: {why}")
    return plans, refused


async def purge_dead_letters(
    broker: Broker, args: argparse.Namespace, console: Console, identities: Identities, token: str
) -> int:
    operator = None if args.dry_run else identities.operator(token)
    topic = broker.topic(deadletter_topic(args.service))
    partitions = await broker.partitions(topic)
    if args.partition is not None:
        if args.partition not in partitions:
            console.warn(f"{topic} has no partition {args.partition}")
            return EXIT_FAILED
        partitions = [args.partition]
    letters = await broker.dead_letters(args.service, partitions)
    before = purge_bounds(await broker.bounds(topic, partitions), letters, args, console.clock())
    doomed = {p: [d for d in letters if d.partition == p and d.offset < o] for p, o in before.items()}
    doomed = {p: ds for p, ds in doomed.items() if ds}
    total = sum(len(ds) for ds in doomed.values())
    if not total:
        console.say("nothing to purge")
        return EXIT_OK
    replays = await broker.replayed()
    reasons = Counter(d.reason_code for ds in doomed.values() for d in ds)
    unreplayed = sum(1 for ds in doomed.values() for d in ds if d.coordinates not in replays)
    console.say(f"{total} dead letters of {args.service} would be deleted for good:")
    for partition, ds in sorted(doomed.items()):
        console.say(f"  partition {partition}: offsets {ds[0].offset}-{ds[-1].offset} ({len(ds)} records)")
    console.say("  by reason: " + ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items())))
    console.say(f"  never replayed: {unreplayed}")
    if args.dry_run:
        return EXIT_OK
    if not confirmed(console, args.yes, f"Delete these {total} dead letters?", args.service):
        return EXIT_FAILED
    assert operator is not None
    await broker.delete_before(topic, {p: before[p] for p in doomed})
    for partition, ds in sorted(doomed.items()):
        await broker.audit(
            DeadLettersPurged(
                service=args.service,
                deadletter_topic=topic,
                deadletter_partition=partition,
                before_offset=before[partition],
                records_deleted=len(ds),
                operator_id=operator.officer_id,
                purged_at=datetime.now(UTC),
            ),
            args.service,
        )
    console.say(f"purged {total} dead letters of {args.service}")
    return EXIT_OK


def purge_bounds(
    bounds: Mapping[int, tuple[int, int]], letters: Sequence[DeadLetter], args: argparse.Namespace, now: float
) -> dict[int, int]:
    """Each partition's offset a purge deletes before: its end (``--all``), ``--before``, or its
    first record younger than ``--older-than``."""
    before: dict[int, int] = {}
    for partition, (_first, end) in bounds.items():
        if args.all:
            before[partition] = end
        elif args.before is not None:
            before[partition] = min(args.before, end)
        else:
            younger = [
                d.offset for d in letters if d.partition == partition and d.age_s(now) < args.older_than
            ]
            before[partition] = min(younger) if younger else end
    return before


def confirmed(console: Console, yes: bool, question: str, word: str) -> bool:
    """``--yes``, or the operator types ``word`` (the service's name) back."""
    if yes:
        return True
    if not console.interactive:
        console.warn(f"{question} Not confirmed: pass --yes when not at a terminal")
        return False
    answer = console.ask(f"{question} Type {word!r} to confirm: ")
    if answer.strip() != word:
        console.warn("not confirmed: nothing done")
        return False
    return True


# --------------------------------------------------------------------------------------------
# Arguments and entry points
# --------------------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser, *, token: bool) -> None:
    parser.add_argument(
        "--topic-suffix",
        default=None,
        metavar="SUFFIX",
        help="appended to every topic name, as the services' topic_suffix (default CASEMESH_TOPIC_SUFFIX)",
    )
    if token:
        parser.add_argument(
            "--token",
            default=None,
            help="your identity token (default CASEMESH_OPERATOR_TOKEN); roles "
            + " or ".join(sorted(OPERATOR_ROLES)),
        )


def _arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="dlq_action", required=True, metavar="ACTION")
    nonneg = _non_negative
    listing = actions.add_parser("list", help="dead letters by service, reason and age")
    listing.add_argument(
        "--service", action="append", choices=SERVICES, help="only this service (repeatable)"
    )
    listing.add_argument("--reason", metavar="CODE", help="only this x-reason-code")
    listing.add_argument(
        "--older-than", type=parse_age, metavar="AGE", help="only older ones (90s, 15m, 2h, 7d)"
    )
    listing.add_argument("--newer-than", type=parse_age, metavar="AGE", help="only newer ones")
    listing.add_argument(
        "--records", action="store_true", help="also list each dead letter (never its payload)"
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    _common(listing, token=False)

    show = actions.add_parser("show", help="one dead letter, its payload masked unless --reveal")
    show.add_argument("--service", required=True, choices=SERVICES)
    show.add_argument("--partition", required=True, type=nonneg)
    show.add_argument("--offset", required=True, type=nonneg)
    show.add_argument(
        "--reveal",
        action="store_true",
        help=f"show the payload whole: needs a token with casemesh_privilege {REVEAL_PRIVILEGE}; audited",
    )
    show.add_argument("--json", action="store_true", help="print JSON")
    _common(show, token=True)

    replay = actions.add_parser("replay", help="publish dead letters again to their original commands topic")
    replay.add_argument("--service", required=True, choices=SERVICES)
    replay.add_argument("--partition", type=nonneg, help="the dead letters' partition")
    replay.add_argument("--offset", type=nonneg, help="one dead letter (with --partition)")
    replay.add_argument("--from-offset", type=nonneg, metavar="A", help="a range from A (with --partition)")
    replay.add_argument("--to-offset", type=nonneg, metavar="B", help="a range through B (with --partition)")
    replay.add_argument("--reason", metavar="CODE", help="every dead letter with this x-reason-code")
    replay.add_argument("--older-than", type=parse_age, metavar="AGE", help="only older ones")
    replay.add_argument("--newer-than", type=parse_age, metavar="AGE", help="only newer ones")
    replay.add_argument(
        "--identity-token",
        default=None,
        metavar="TOKEN",
        help="a fresh identity token of the officer the commands name (dead letters keep none); "
        "default CASEMESH_REPLAY_IDENTITY_TOKEN",
    )
    replay.add_argument("--again", action="store_true", help="also replay dead letters replayed before")
    replay.add_argument("--dry-run", action="store_true", help="say what would be replayed, publish nothing")
    replay.add_argument("--yes", action="store_true", help="no confirmation for more than one (scripts)")
    _common(replay, token=True)

    purge = actions.add_parser("purge", help="delete dead letters, after confirmation")
    purge.add_argument("--service", required=True, choices=SERVICES)
    purge.add_argument("--partition", type=nonneg, help="only this partition")
    bound = purge.add_mutually_exclusive_group(required=True)
    bound.add_argument(
        "--before", type=nonneg, metavar="OFFSET", help="records before OFFSET (with --partition)"
    )
    bound.add_argument("--older-than", type=parse_age, metavar="AGE", help="records older than AGE")
    bound.add_argument("--all", action="store_true", help="every record there now")
    purge.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")
    purge.add_argument("--yes", action="store_true", help="no typed confirmation (scripts)")
    _common(purge, token=True)


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


DESCRIPTION = (
    "Operators' tools for the services' dead-letter topics: list them by service, reason and age; "
    "show one with its payload masked (--reveal, audited, for privilege 5); replay records to their "
    "original commands topic with a new message id linked to the dead letter (audited); purge them "
    "after confirmation (audited). Connects as the operator principal with the CASEMESH_KAFKA_… "
    "variables or CASEMESH_KAFKA_SECURITY_FILE. See docs/operators.md."
)


def register(commands: Any) -> None:
    """Adds ``dlq`` to the ``casemesh`` command's subcommands."""
    _arguments(
        commands.add_parser("dlq", help="list, show, replay and purge dead letters", description=DESCRIPTION)
    )


def parser() -> argparse.ArgumentParser:
    built = argparse.ArgumentParser(prog="casemesh dlq", description=DESCRIPTION)
    _arguments(built)
    return built


def _check(args: argparse.Namespace) -> str | None:
    """What the arguments lack that argparse cannot say."""
    if args.dlq_action == "replay":
        ranged = args.from_offset is not None or args.to_offset is not None
        if (args.offset is not None or ranged) and args.partition is None:
            return "--offset, --from-offset and --to-offset need --partition"
        if args.offset is not None and ranged:
            return "give --offset or a range, not both"
        if args.offset is None and not ranged and args.reason is None:
            return "choose what to replay: --partition P --offset O, --reason CODE, or a range"
        if args.from_offset is not None and args.to_offset is not None and args.from_offset > args.to_offset:
            return "--from-offset is after --to-offset"
    if args.dlq_action == "purge" and args.before is not None and args.partition is None:
        return "--before needs --partition (offsets are per partition)"
    return None


def run(
    args: argparse.Namespace,
    *,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    ask: Callable[[str], str] = input,
    interactive: bool | None = None,
) -> int:
    """Runs a parsed ``casemesh dlq`` command; its exit status."""
    environ = os.environ if environ is None else environ
    console = Console(
        out or sys.stdout,
        err or sys.stderr,
        ask,
        sys.stdin.isatty() if interactive is None else interactive,
    )
    problem = _check(args)
    if problem:
        console.warn(f"casemesh dlq {args.dlq_action}: {problem}")
        return EXIT_USAGE
    try:
        settings = OperatorSettings.from_environ(environ)
        if args.topic_suffix is not None:
            settings = settings.model_copy(update={"topic_suffix": args.topic_suffix})
        return asyncio.run(_run(args, settings, environ, console))
    except DlqError as error:
        console.warn(f"casemesh dlq {args.dlq_action}: {error}")
        return error.status
    except Exception as exc:  # the broker out of reach, refused by its ACLs …
        from kit.transport import KafkaSecurityError

        if isinstance(exc, KafkaSecurityError):
            console.warn(f"casemesh dlq {args.dlq_action}: {exc}")
            return EXIT_USAGE
        console.warn(f"casemesh dlq {args.dlq_action}: failed: {type(exc).__name__}")
        return EXIT_FAILED


async def _run(
    args: argparse.Namespace, settings: OperatorSettings, environ: Mapping[str, str], console: Console
) -> int:
    token = getattr(args, "token", None) or settings.operator_token.get_secret_value()
    if args.dlq_action == "replay" and not args.identity_token:
        args.identity_token = environ.get("CASEMESH_REPLAY_IDENTITY_TOKEN") or None
    needs_identity = args.dlq_action in ("replay", "purge") or getattr(args, "reveal", False)
    identities = Identities(settings) if needs_identity else None
    if identities is not None and not getattr(args, "dry_run", False):
        identities.operator(token, reveal=getattr(args, "reveal", False))  # refused before connecting
    async with Broker(settings) as broker:
        if args.dlq_action == "list":
            return await list_dead_letters(broker, args, console)
        if args.dlq_action == "show":
            return await show_dead_letter(broker, args, console, identities, token)
        assert identities is not None
        if args.dlq_action == "replay":
            return await replay_dead_letters(broker, args, console, identities, token)
        return await purge_dead_letters(broker, args, console, identities, token)


def main(argv: Sequence[str] | None = None, **options: Any) -> int:
    """``casemesh dlq …`` on its own (the tests call this; ``casemesh`` calls :func:`run`)."""
    return run(parser().parse_args(argv), **options)
