"""Hostile and careless records through the real broker and store (issue 13, item 4).

Each record ends applied, refused or dead-lettered with its reason code, and the valid record
sent after it on the same partition is processed and committed: nothing is skipped, nothing
stalls. One tally service serves every case; each case sends its record and a follow-up to
partition 0 and waits for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient

from contracts.envelope import Envelope
from kit.identity import development_headers_for
from kit.logs import BROKER_LOGGER, LOGGER
from kit.runtime import ServiceRuntime
from kit.settings import ServiceSettings
from tests.conftest import Infra
from tests.integration.kit.tally import COMMANDS, EVENTS, POISON_AMOUNT, AddToTally, make_runtime
from tests.integration.kit.test_lanes import ACTOR
from tests.support import Mesh, Record

DEADLETTER = "casemesh.tally.deadletter.v1"
PARTITION = 0
CSID = "123456789"
Headers = Sequence[tuple[str, bytes | None]]


def command(amount: int, csid: str = CSID, message_id: uuid.UUID | None = None) -> Envelope:
    return Envelope.wrap(
        AddToTally(actor=ACTOR, amount=amount),
        csid=csid,
        producer="tests",
        occurred_at=datetime.now(UTC),
        message_id=message_id,
    )


def with_fields(**changes: Any) -> bytes:
    document = json.loads(command(1).to_bytes())
    document.update(changes)
    return json.dumps(document).encode()


def nested(depth: int) -> bytes:
    """A valid envelope whose payload is arrays nested ``depth`` deep."""
    return with_fields(payload="NEST").replace(b'"NEST"', b"[" * depth + b"]" * depth)


def with_amount_literal(literal: bytes) -> bytes:
    return with_fields(payload={"actor": ACTOR.model_dump(mode="json"), "amount": 0}).replace(
        b'"amount": 0', b'"amount": ' + literal
    )


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Hostile:
    """The shared tally service, a producer that picks the partition, and a tap on its outputs."""

    def __init__(self, mesh: Mesh, runtime: ServiceRuntime) -> None:
        self.mesh = mesh
        self.runtime = runtime
        self.settings = runtime.settings
        self.dead: list[Record] = []
        self.events: list[Record] = []
        self._csids = iter(range(700_000_000, 800_000_000))
        self._producer = AIOKafkaProducer(
            **mesh.options(),
            enable_idempotence=True,
            acks="all",
            max_request_size=2 * 1024 * 1024,
        )
        self._tap = AIOKafkaConsumer(
            mesh.topic(DEADLETTER),
            mesh.topic(EVENTS),
            **mesh.options(),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
            max_partition_fetch_bytes=2 * 1024 * 1024,
        )
        self._tapping: asyncio.Task[None] | None = None

    async def open(self) -> None:
        await self._producer.start()
        await self._tap.start()
        self._tapping = asyncio.create_task(self._collect())

    async def close(self) -> None:
        if self._tapping is not None:
            self._tapping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tapping
        await self._tap.stop()
        await self._producer.stop()

    async def _collect(self) -> None:
        while True:
            batch = await self._tap.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    target = self.dead if record.topic == self.mesh.topic(DEADLETTER) else self.events
                    target.append(record)

    def fresh_csid(self) -> str:
        return str(next(self._csids))

    async def send(self, value: bytes | None, key: bytes | None, headers: Headers = ()) -> int:
        # A hostile producer still holds an officer's token (issue 16): the records are judged on
        # their bytes, not refused for want of an identity.
        given = [name for name, _ in headers]
        signed = [(k, v) for k, v in development_headers_for(value).items() if k not in given]
        metadata = await self._producer.send_and_wait(
            self.mesh.topic(COMMANDS), value, key=key, partition=PARTITION, headers=[*headers, *signed]
        )
        return int(metadata.offset)

    def dead_letters_of(self, offset: int) -> list[Record]:
        return [
            r
            for r in self.dead
            if header(r, "x-original-offset") == str(offset)
            and header(r, "x-original-partition") == str(PARTITION)
        ]

    def totals_of(self, csid: str) -> list[int]:
        return [
            json.loads(r.value)["payload"]["total"]
            for r in self.events
            if r.key == csid.encode() and json.loads(r.value)["message_type"] == "TallyIncreased"
        ]

    async def until(self, check: Callable[[], bool], timeout_s: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not check():
            assert loop.time() < deadline, "condition not met in time"
            await asyncio.sleep(0.05)

    async def committed(self) -> int:
        consumer = AIOKafkaConsumer(
            **self.mesh.options(),
            group_id=self.settings.consumer_group,
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            return await consumer.committed(TopicPartition(self.mesh.topic(COMMANDS), PARTITION)) or 0
        finally:
            await consumer.stop()

    async def then_a_valid_record_proceeds(self) -> None:
        """A valid record sent next on the same partition is applied and its offset committed."""
        csid = self.fresh_csid()
        offset = await self.send(command(1, csid).to_bytes(), csid.encode())
        await self.until(lambda: self.totals_of(csid) == [1])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while await self.committed() < offset + 1:
            assert loop.time() < deadline, "the follow-up record was never committed"
            await asyncio.sleep(0.1)

    async def dead_letter(
        self, value: bytes | None, key: bytes | None = CSID.encode(), headers: Headers = ()
    ) -> tuple[Record, list[logging.LogRecord]]:
        """Sends a record that must be dead-lettered; returns its dead letter and the warnings logged."""
        captured = Captured()
        LOGGER.addHandler(captured)
        BROKER_LOGGER.addHandler(captured)
        try:
            offset = await self.send(value, key, headers)
            await self.then_a_valid_record_proceeds()
            await self.until(lambda: len(self.dead_letters_of(offset)) >= 1)
        finally:
            LOGGER.removeHandler(captured)
            BROKER_LOGGER.removeHandler(captured)
        (letter,) = self.dead_letters_of(offset)
        assert header(letter, "x-original-topic") == self.mesh.topic(COMMANDS)
        return letter, captured.records


def header(record: Record, name: str) -> str | None:
    value = dict(record.headers).get(name)
    return None if value is None else bytes(value).decode()


@pytest.fixture(scope="module")
async def hostile(infra: Infra) -> AsyncIterator[Hostile]:
    mesh = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    settings: ServiceSettings = mesh.settings(ServiceSettings, service_name="tally")
    runtime = await mesh.start(make_runtime(settings))
    driver = Hostile(mesh, runtime)
    await driver.open()
    try:
        yield driver
    finally:
        await driver.close()
        await mesh.close()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url)
        try:
            for database in mesh.databases:
                await client.drop_database(database)
        finally:
            await client.close()


@pytest.mark.parametrize("depth", [1_000, 10_000, 100_000])
async def test_a_payload_nested_thousands_deep_is_dead_lettered_too_deep_and_the_partition_moves_on(
    hostile: Hostile, depth: int
) -> None:
    value = nested(depth)
    letter, warnings = await hostile.dead_letter(value)
    assert header(letter, "x-reason-code") == "too_deep"
    assert letter.value == value, "the original bytes are kept when they fit"
    assert len(warnings) <= 2, [w.getMessage() for w in warnings]


async def test_a_content_type_json_header_with_a_bad_body_is_dead_lettered_not_json(hostile: Hostile) -> None:
    letter, _ = await hostile.dead_letter(b"{not json", headers=[("content-type", b"application/json")])
    assert header(letter, "x-reason-code") == "not_json"


async def test_a_5000_digit_integer_in_a_payload_is_dead_lettered_too_many_digits(hostile: Hostile) -> None:
    letter, _ = await hostile.dead_letter(with_amount_literal(b"7" * 5000))
    assert header(letter, "x-reason-code") == "too_many_digits"
    assert "7777" not in (header(letter, "x-reason") or "")


async def test_an_occurred_at_that_overflows_in_utc_is_dead_lettered_as_a_malformed_envelope(
    hostile: Hostile,
) -> None:
    letter, warnings = await hostile.dead_letter(with_fields(occurred_at="9999-12-31T23:59:59-14:00"))
    assert header(letter, "x-reason-code") == "malformed_envelope"
    assert header(letter, "x-reason") == "invalid envelope: occurred_at (value_error)"
    assert len(warnings) <= 2, [w.getMessage() for w in warnings]


async def test_a_lone_surrogate_in_a_string_is_dead_lettered_invalid_string(hostile: Hostile) -> None:
    payload = {"actor": ACTOR.model_dump(mode="json"), "amount": 1, "note": "\ud800"}
    letter, _ = await hostile.dead_letter(with_fields(payload=payload))
    assert header(letter, "x-reason-code") == "invalid_string"
    assert header(letter, "x-reason") == "payload.note holds a lone surrogate, which is not text"


async def test_a_record_of_1_048_480_bytes_is_dead_lettered_truncated_with_its_hash_size_and_coordinates(
    hostile: Hostile,
) -> None:
    value = b'{"pad": "' + b"x" * (1_048_480 - 11) + b'"}'
    assert len(value) == 1_048_480
    letter, warnings = await hostile.dead_letter(value)
    assert header(letter, "x-reason-code") == "too_large"
    assert header(letter, "x-truncated") == "true"
    assert header(letter, "x-original-size") == "1048480"
    assert header(letter, "x-original-sha256") == hashlib.sha256(value).hexdigest()
    assert header(letter, "x-original-partition") == str(PARTITION)
    assert letter.key == CSID.encode()
    assert len(letter.value) + len(letter.key) == hostile.settings.dead_letter_max_bytes
    assert value.startswith(letter.value)
    assert len(warnings) <= 2, [w.getMessage() for w in warnings]


@pytest.mark.parametrize(
    "key", [b"987654321", None, b"not-a-csid\r\n"], ids=["another_csid", "null", "not_a_csid_crlf"]
)
async def test_a_record_keyed_other_than_its_csid_is_dead_lettered_key_mismatch(
    hostile: Hostile, key: bytes | None
) -> None:
    value = command(5).to_bytes()
    letter, _ = await hostile.dead_letter(value, key=key)
    assert header(letter, "x-reason-code") == "key_mismatch"
    assert (letter.key, letter.value) == (key, value)


@pytest.mark.parametrize("version", ["1", 1.0], ids=["string", "float"])
async def test_a_schema_version_that_is_not_a_json_integer_is_dead_lettered_as_a_malformed_envelope(
    hostile: Hostile, version: Any
) -> None:
    letter, _ = await hostile.dead_letter(with_fields(schema_version=version))
    assert header(letter, "x-reason-code") == "malformed_envelope"
    assert header(letter, "x-reason") == "invalid envelope: schema_version (int_type)"


async def test_an_occurred_at_given_as_an_epoch_integer_is_dead_lettered_as_a_malformed_envelope(
    hostile: Hostile,
) -> None:
    letter, _ = await hostile.dead_letter(with_fields(occurred_at=1_763_715_600))
    assert header(letter, "x-reason-code") == "malformed_envelope"
    assert header(letter, "x-reason") == "invalid envelope: occurred_at (value_error)"


@pytest.mark.parametrize(
    "headers",
    [[("trace", b"\xff\xfe\x00binary")], [("trace", None)], [("content-type", b"\xc3\x28")]],
    ids=["non_utf8_value", "null_value", "non_utf8_content_type"],
)
async def test_a_valid_message_with_a_header_no_framework_could_decode_is_applied(
    hostile: Hostile, headers: Headers
) -> None:
    csid = hostile.fresh_csid()
    offset = await hostile.send(command(4, csid).to_bytes(), csid.encode(), headers)
    await hostile.then_a_valid_record_proceeds()
    await hostile.until(lambda: hostile.totals_of(csid) == [4])
    assert hostile.dead_letters_of(offset) == []


async def test_a_message_id_reused_for_another_payload_is_dead_lettered_id_conflict(hostile: Hostile) -> None:
    csid = hostile.fresh_csid()
    first = command(2, csid)
    await hostile.send(first.to_bytes(), csid.encode())
    await hostile.until(lambda: hostile.totals_of(csid) == [2])
    reused = command(3, csid, message_id=first.message_id)
    letter, _ = await hostile.dead_letter(reused.to_bytes(), key=csid.encode())
    assert header(letter, "x-reason-code") == "id_conflict"
    assert hostile.totals_of(csid) == [2], "the reused id was not applied as a new message"


async def test_a_poison_message_logs_one_warning_per_attempt_then_its_dead_letter(hostile: Hostile) -> None:
    letter, warnings = await hostile.dead_letter(command(POISON_AMOUNT).to_bytes())
    assert header(letter, "x-reason-code") == "handler_failed"
    events = [w.getMessage() for w in warnings]
    assert events.count("handler_failed") == hostile.settings.max_attempts
    assert len(events) == hostile.settings.max_attempts + 1, events
