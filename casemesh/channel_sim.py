"""``casemesh channel-sim``: a reference channel adapter — the code a channel team copies.

It stands in for one downstream channel (an SMS gateway, a mail provider, a print and mail house,
the phone-task list): it reads what notifications dispatches to that channel, "delivers" it, and
reports back. The demo and the chaos tests use it; its options make the channel slow, unreliable
or chatty.

The contract a channel keeps (issues 5 and 18; ``contracts/catalogue/channels.py``)
-------------------------------------------------------------------------------

**Read** ``casemesh.notifications.dispatch.<channel>.v1`` (``sms``, ``email``, ``letter``,
``phone``) in the consumer group ``casemesh-channels-<channel>`` (the broker lets the ``channels``
principal use groups starting ``casemesh-channels``). Each record is an envelope (the record key is
its ``csid``) around an ``SmsDispatch``, ``EmailDispatch``, ``LetterDispatch`` or
``PhoneTaskDispatch``: rendered, addressed, with a ``delivery_id`` and an ``attempt``.

**Commit by hand, after the receipt is produced** (``enable_auto_commit=False``; the producer is
idempotent with ``acks=all``). A crash before the commit means the dispatch is read again: nothing
is lost, but a dispatch may come twice. Notifications publishes at least once too.

**Be idempotent by delivery id.** A retry reuses the ``delivery_id`` with a higher ``attempt``
(send it again: it is a new try); a fallback has a new ``delivery_id``. So the key of "have I
handled this?" is ``(delivery_id, attempt)``. A dispatch seen before is not delivered again: its
recorded outcome is reported again under the same receipt message id (the first report may never
have gone out), and notifications drops the copy. Here the ledger is :class:`MemoryLedger` (an
LRU — lost on restart) or, with ``--state FILE``, :class:`SqliteLedger`. **A real adapter persists
it**, and records an outcome before reporting it.

**Report** on ``casemesh.notifications.receipts.v1``, keyed by the dispatch's ``csid``, in an
envelope caused by the dispatch (same ``correlation_id``, ``causation_id`` = the dispatch's
``message_id``), naming the adapter as ``producer``: a ``DeliveryReceipted`` (``delivery_id``,
``attempt``, ``channel``, ``status`` DELIVERED / FAILED / BOUNCED, an optional ``detail`` free of
personal data and ``provider_reference``), or for a phone task a ``PhoneTaskOutcomeReported``
(``outcome``, ``spoke_with``, ``aggression_displayed``, ``notes``, ``officer_id``). A FAILED attempt
is retried with backoff, then falls back (SMS and e-mail to a letter); a BOUNCED one falls back at
once; a duplicate or late receipt changes nothing.

**No identity token.** Issue 16's ``x-casemesh-identity`` header proves who sent a *command* (it
has an ``actor``); a receipt has none and carries no token. What makes a receipt trustworthy is the
broker: only the ``channels`` principal may write the receipts topic (``deploy/kafka/acls.py``).

**Answer in time.** Notifications waits for each attempt's receipt for its channel's receipt
timeout (``CASEMESH_NOTIFICATIONS_RECEIPT_TIMEOUT_<CHANNEL>_S``; 1 h SMS, 4 h e-mail, 72 h letter,
none for phone tasks). Then the attempt is a ``DeliveryTimedOut`` and is retried or falls back; a
success reported late, before the retry goes out, still counts.

**Read your errors** on ``casemesh.notifications.channel-errors.v1``: a receipt notifications
could not read (not JSON, a broken envelope, an unknown ``status``, a key that is not the
``csid``…) is dead-lettered and answered there with a ``ReceiptDeadLettered`` — coordinates, the
ids it could read, ``reason_code`` and the fields at fault, never a value. The value is bare JSON
(no envelope) and the record key is the ``producer`` your envelope named: read your own key.

Configuration: ``CASEMESH_CHANNELS_KAFKA_BOOTSTRAP_SERVERS`` and the other
``CASEMESH_CHANNELS_KAFKA_…`` settings (the ``channels`` principal's SASL user and password, the
CA file), or — for local runs — ``CASEMESH_KAFKA_BOOTSTRAP_SERVERS`` with the credentials file
``CASEMESH_KAFKA_SECURITY_FILE``, acting as ``channels``. ``CASEMESH_CHANNELS_TOPIC_SUFFIX`` (or
``--topic-suffix``) is appended to every topic and group name, as in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import sqlite3
import sys
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.base import Event
from contracts.catalogue.channels import (
    Channel,
    DeliveryReceipted,
    DeliveryStatus,
    PhoneOutcome,
    PhoneTaskOutcomeReported,
    ReceiptDeadLettered,
    Recipient,
)
from contracts.envelope import Envelope, decode_payload
from contracts.errors import ContractError
from contracts.topics import CHANNEL_ERRORS_TOPIC, CHANNELS, RECEIPTS_TOPIC, TOPICS, dispatch_topic
from kit.logs import configure, log
from kit.transport import KafkaAccess, KafkaCluster

#: A receipt's message id is derived from what it reports, so reporting it again is a duplicate
#: by id (notifications drops it); the simulated provider's own duplicate gets another id.
RECEIPT_NAMESPACE = uuid.UUID("6f1d3b6e-2c1a-4d7e-9b3a-1c2d3e4f5a6b")
POLL_MS = 500


class Dispatch(Protocol):
    """What every dispatch has (``SmsDispatch``, ``EmailDispatch``, ``LetterDispatch``,
    ``PhoneTaskDispatch``) and a receipt quotes."""

    @property
    def delivery_id(self) -> uuid.UUID: ...
    @property
    def attempt(self) -> int: ...
    @property
    def recipient(self) -> Recipient: ...


class Ledger(Protocol):
    """What this adapter has done, by ``(delivery_id, attempt)``: the outcome it reported."""

    def outcome(self, key: str) -> str | None: ...

    def record(self, key: str, outcome: str) -> None: ...


class MemoryLedger:
    """The last ``capacity`` outcomes, in memory: enough for a simulator (a restart forgets them,
    so a dispatch read again after a restart is delivered again). A real adapter persists them."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._outcomes: OrderedDict[str, str] = OrderedDict()

    def outcome(self, key: str) -> str | None:
        found = self._outcomes.get(key)
        if found is not None:
            self._outcomes.move_to_end(key)
        return found

    def record(self, key: str, outcome: str) -> None:
        self._outcomes[key] = outcome
        self._outcomes.move_to_end(key)
        while len(self._outcomes) > self.capacity:
            self._outcomes.popitem(last=False)


class SqliteLedger:
    """The outcomes in a SQLite file: survives restarts (``--state FILE``)."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS handled (key TEXT PRIMARY KEY, outcome TEXT, at TEXT)")
        self.db.commit()

    def outcome(self, key: str) -> str | None:
        row = self.db.execute("SELECT outcome FROM handled WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def record(self, key: str, outcome: str) -> None:
        at = datetime.now(UTC).isoformat()
        self.db.execute("INSERT OR REPLACE INTO handled VALUES (?, ?, ?)", (key, outcome, at))
        self.db.commit()  # before the receipt is produced: an outcome is never reported unrecorded

    def close(self) -> None:
        self.db.close()


@dataclass(frozen=True)
class SimOptions:
    channel: Channel
    latency_ms: float = 0.0
    failure_rate: float = 0.0
    duplicate_rate: float = 0.0
    seed: int = 0
    max_records: int | None = None
    duration_s: float | None = None
    topic_suffix: str = ""
    producer: str = ""
    state: Path | None = None

    @property
    def name(self) -> str:
        return self.channel.value.lower()

    @property
    def producer_name(self) -> str:
        return self.producer or f"channel-sim-{self.name}"

    def topic(self, name: str) -> str:
        return f"{name}{self.topic_suffix}"

    @property
    def group(self) -> str:
        return f"casemesh-channels-{self.name}{self.topic_suffix}"


@dataclass
class Summary:
    """What the adapter did (``--json`` prints it)."""

    channel: str
    dispatches: int = 0
    delivered: int = 0
    failed: int = 0
    already_handled: int = 0
    receipts_sent: int = 0
    duplicates_sent: int = 0
    unreadable_dispatches: int = 0
    channel_errors: int = 0
    channel_error_reasons: dict[str, int] = field(default_factory=dict)


class ChannelSim:
    """One channel's adapter: dispatches in, receipts out, channel errors read and counted."""

    def __init__(self, options: SimOptions, access: KafkaAccess, ledger: Ledger | None = None) -> None:
        self.options = options
        self.access = access
        self.ledger: Ledger = ledger or (
            SqliteLedger(options.state) if options.state is not None else MemoryLedger()
        )
        self.summary = Summary(channel=options.channel.value)
        self.dispatch_topic = options.topic(dispatch_topic(options.channel.value))
        self.receipts_topic = options.topic(RECEIPTS_TOPIC)
        self.errors_topic = options.topic(CHANNEL_ERRORS_TOPIC)
        self.listening = asyncio.Event()
        """Set once the dispatch consumer has its partitions (tests wait for it)."""

    async def run(self, stop: asyncio.Event | None = None) -> Summary:
        """Runs until ``stop`` is set, ``max_records`` dispatches were handled or ``duration_s``
        passed; returns the summary."""
        stop = stop or asyncio.Event()
        producer = AIOKafkaProducer(**self.access.options(), enable_idempotence=True, acks="all")
        await producer.start()
        errors = asyncio.create_task(self._read_channel_errors(stop))
        try:
            async with asyncio.timeout(self.options.duration_s):
                await self._deliver(producer, stop)
        except TimeoutError:
            pass
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await errors
            await producer.stop()
            if isinstance(self.ledger, SqliteLedger):
                self.ledger.close()
        return self.summary

    # -- dispatches in, receipts out

    async def _deliver(self, producer: AIOKafkaProducer, stop: asyncio.Event) -> None:
        consumer = self._consumer(self.dispatch_topic, self.options.group)
        await consumer.start()
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=POLL_MS)
                if consumer.assignment():
                    self.listening.set()
                done: dict[TopicPartition, int] = {}
                for tp, records in batch.items():
                    for record in records:
                        if self._enough():
                            break  # the rest is read again by whoever consumes next
                        await self._handle(producer, record.value)
                        done[tp] = record.offset + 1
                if done:
                    # The receipts are acknowledged (acks=all): only now is the dispatch done.
                    await consumer.commit(done)
                if self._enough():
                    return
        finally:
            await consumer.stop()

    def _enough(self) -> bool:
        limit = self.options.max_records
        return limit is not None and self.summary.dispatches >= limit

    async def _handle(self, producer: AIOKafkaProducer, value: bytes | None) -> None:
        s = self.summary
        s.dispatches += 1
        try:
            dispatch = Envelope.from_bytes(value or b"")
            message = decode_payload(dispatch, TOPICS[dispatch_topic(self.options.channel.value)])
        except ContractError as exc:
            # Notifications is the only writer: alert someone rather than guess.
            s.unreadable_dispatches += 1
            log("channel_sim_unreadable_dispatch", reason_code=exc.reason_code, level=logging.ERROR)
            return
        payload = cast(Dispatch, message)
        key = f"{payload.delivery_id}:{payload.attempt}"
        outcome = self.ledger.outcome(key)
        duplicate = False
        if outcome is None:
            await asyncio.sleep(self.options.latency_ms / 1000)  # "delivering"
            luck = random.Random(f"{self.options.seed}:{key}")  # the same dispatch, the same luck
            failed = luck.random() < self.options.failure_rate
            duplicate = luck.random() < self.options.duplicate_rate
            outcome = self._outcome(failed)
            self.ledger.record(key, outcome)
            if failed:
                s.failed += 1
            else:
                s.delivered += 1
        else:
            s.already_handled += 1  # read again: report the recorded outcome again, deliver nothing
        receipt = self._receipt(payload, outcome)
        await self._send(producer, dispatch, receipt, uuid.uuid5(RECEIPT_NAMESPACE, key))
        if duplicate:
            # The provider reported twice: another message, the same receipt.
            await self._send(producer, dispatch, receipt, uuid.uuid5(RECEIPT_NAMESPACE, f"{key}:again"))
            s.duplicates_sent += 1
        log(
            "channel_sim_reported",
            envelope=dispatch,
            delivery_id=str(payload.delivery_id),
            attempt=payload.attempt,
            outcome=outcome,
            duplicate=duplicate,
        )

    def _outcome(self, failed: bool) -> str:
        if self.options.channel is Channel.PHONE:
            return (PhoneOutcome.NOT_REACHED if failed else PhoneOutcome.REACHED).value
        return (DeliveryStatus.FAILED if failed else DeliveryStatus.DELIVERED).value

    def _receipt(self, payload: Dispatch, outcome: str) -> Event:
        if self.options.channel is Channel.PHONE:
            return PhoneTaskOutcomeReported(
                delivery_id=payload.delivery_id,
                attempt=payload.attempt,
                outcome=PhoneOutcome(outcome),
                spoke_with=payload.recipient if outcome == PhoneOutcome.REACHED else None,
                notes="Simulated call.",
                officer_id="SIM00001",
            )
        status = DeliveryStatus(outcome)
        return DeliveryReceipted(
            delivery_id=payload.delivery_id,
            attempt=payload.attempt,
            channel=self.options.channel,
            status=status,
            detail="Simulated failure" if status is DeliveryStatus.FAILED else None,
            provider_reference=f"SIM-{str(payload.delivery_id)[:8]}-{payload.attempt}",
        )

    async def _send(
        self, producer: AIOKafkaProducer, dispatch: Envelope, receipt: Event, message_id: uuid.UUID
    ) -> None:
        envelope = Envelope.caused_by(
            dispatch,
            receipt,
            producer=self.options.producer_name,
            occurred_at=datetime.now(UTC),
            message_id=message_id,
        )
        # Keyed by the CSID, like every enveloped record (a receipt under another key is refused).
        await producer.send_and_wait(self.receipts_topic, envelope.to_bytes(), key=envelope.key())
        self.summary.receipts_sent += 1

    # -- channel errors

    async def _read_channel_errors(self, stop: asyncio.Event) -> None:
        """Notifications' answers to receipts it could not read: ours are under our producer key."""
        consumer = self._consumer(self.errors_topic, f"{self.options.group}-errors")
        await consumer.start()
        mine = self.options.producer_name.encode()
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=POLL_MS)
                done: dict[TopicPartition, int] = {}
                for tp, records in batch.items():
                    for record in records:
                        if record.key == mine:
                            self._channel_error(record.value)
                        done[tp] = record.offset + 1
                if done:
                    await consumer.commit(done)
        finally:
            await consumer.stop()

    def _channel_error(self, value: bytes | None) -> None:
        try:
            error = ReceiptDeadLettered.model_validate_json(value or b"")
        except ValidationError:
            log("channel_sim_unreadable_channel_error", level=logging.ERROR)
            return
        s = self.summary
        s.channel_errors += 1
        s.channel_error_reasons[error.reason_code] = s.channel_error_reasons.get(error.reason_code, 0) + 1
        # A real adapter alerts its team: the receipt is lost until it is fixed and sent again.
        log(
            "channel_sim_receipt_dead_lettered",
            delivery_id=str(error.delivery_id) if error.delivery_id else None,
            attempt=error.attempt,
            reason_code=error.reason_code,
            fields=[p.field for p in error.problems],
            original_offset=error.original_offset,
            level=logging.WARNING,
        )

    def _consumer(self, topic: str, group: str) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            topic,
            **self.access.options(),
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=5000,  # notice a topic created after the start soon
        )


# -- configuration and the command line


class ChannelSimSettings(BaseSettings):
    """The adapter's broker access (environment prefix ``CASEMESH_CHANNELS_``)."""

    model_config = SettingsConfigDict(
        env_prefix="CASEMESH_CHANNELS_", extra="ignore", hide_input_in_errors=True
    )

    kafka_bootstrap_servers: str = ""
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: str = ""
    kafka_ssl_certfile: str = ""
    kafka_ssl_keyfile: str = ""
    topic_suffix: str = ""

    def access(self) -> KafkaAccess:
        """Its own settings, else the shared local ones acting as ``channels``."""
        if self.kafka_bootstrap_servers:
            values = self.model_dump(exclude={"topic_suffix"})
            values["kafka_sasl_password"] = self.kafka_sasl_password
            return KafkaAccess(**values)
        shared = os.environ.get("CASEMESH_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
        return KafkaCluster.from_env(shared).access(CHANNELS)


def add_parser(commands: Any) -> None:
    """Registers ``casemesh channel-sim`` on the ``casemesh`` command's subparsers."""
    sim = commands.add_parser(
        "channel-sim",
        help="a reference channel adapter: dispatches in, receipts out",
        description="Consumes one channel's dispatch topic, delivers with the given latency, failure "
        "and duplicate rates, reports receipts, and reads the channel errors answered to it. Runs "
        "until SIGINT/SIGTERM, --max-records or --duration. See casemesh/channel_sim.py for the "
        "contract it keeps.",
    )
    sim.add_argument("--channel", required=True, choices=[c.value.lower() for c in Channel])
    sim.add_argument("--latency-ms", type=float, default=0.0, help="time each delivery takes")
    sim.add_argument("--failure-rate", type=float, default=0.0, help="share of attempts that fail (0-1)")
    sim.add_argument("--duplicate-rate", type=float, default=0.0, help="share of receipts sent twice (0-1)")
    sim.add_argument("--seed", type=int, default=0, help="the same seed gives each dispatch the same luck")
    sim.add_argument("--max-records", type=int, default=None, help="stop after this many dispatches")
    sim.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    sim.add_argument("--topic-suffix", default=None, help="appended to every topic and group name")
    sim.add_argument("--producer", default="", help="the envelope's producer (default channel-sim-CHANNEL)")
    sim.add_argument("--state", type=Path, default=None, help="a SQLite file for what was handled")
    sim.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")


def options_from(args: argparse.Namespace, settings: ChannelSimSettings) -> SimOptions:
    for rate in ("failure_rate", "duplicate_rate"):
        if not 0.0 <= getattr(args, rate) <= 1.0:
            raise ValueError(f"--{rate.replace('_', '-')} must be between 0 and 1")
    if args.latency_ms < 0 or (args.duration is not None and args.duration <= 0):
        raise ValueError("--latency-ms must be 0 or more and --duration more than 0")
    return SimOptions(
        channel=Channel(args.channel.upper()),
        latency_ms=args.latency_ms,
        failure_rate=args.failure_rate,
        duplicate_rate=args.duplicate_rate,
        seed=args.seed,
        max_records=args.max_records,
        duration_s=args.duration,
        topic_suffix=settings.topic_suffix if args.topic_suffix is None else args.topic_suffix,
        producer=args.producer,
        state=args.state,
    )


def main(args: argparse.Namespace) -> int:
    configure()
    settings = ChannelSimSettings()
    try:
        options = options_from(args, settings)
        access = settings.access()
    except (ValueError, KeyError) as exc:
        print(f"casemesh channel-sim: {exc}", file=sys.stderr)
        return 2
    summary = asyncio.run(_run_until_signalled(ChannelSim(options, access)))
    if args.json:
        print(json.dumps(asdict(summary), indent=2))
    else:
        print(_text(summary))
    return 0


async def _run_until_signalled(sim: ChannelSim) -> Summary:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    return await sim.run(stop)


def _text(summary: Summary) -> str:
    lines: Iterable[str] = (
        f"channel {summary.channel}: {summary.dispatches} dispatches read, {summary.delivered} delivered, "
        f"{summary.failed} failed, {summary.already_handled} already handled",
        f"receipts sent: {summary.receipts_sent} ({summary.duplicates_sent} duplicates)",
        f"channel errors: {summary.channel_errors} {summary.channel_error_reasons or ''}".rstrip(),
    )
    return "\n".join(lines)
