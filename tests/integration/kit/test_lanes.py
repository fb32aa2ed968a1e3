"""The kit's processing lanes, through the real broker and the real store, with a tiny service."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from pymongo import AsyncMongoClient

from contracts.base import Actor, Role
from contracts.envelope import Envelope
from deploy.local.localinfra import LocalInfra, LocalInfraConfig
from kit.runtime import ServiceRuntime
from kit.settings import ServiceSettings
from tests.conftest import Infra
from tests.integration.kit.tally import COMMANDS, EVENTS, POISON_AMOUNT, AddToTally, make_runtime
from tests.support import Mesh, Record, wait_for

CSID = "123456789"
ACTOR = Actor(
    officer_id="OFF-1", role=Role.CSO, first_name="Sam", site="Hobart", team="Blue", extension="4321"
)


def command(amount: int, csid: str = CSID) -> Envelope:
    return Envelope.wrap(
        AddToTally(actor=ACTOR, amount=amount), csid=csid, producer="tests", occurred_at=datetime.now(UTC)
    )


class Harness(Mesh):
    """A mesh of one: the tally service, with small caps so every lane is easy to reach."""

    def __init__(self, infra: Infra, database: str) -> None:
        super().__init__(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
        self.settings = self.settings_for(database)

    def settings_for(self, database: str) -> ServiceSettings:
        settings: ServiceSettings = self.settings(
            ServiceSettings, service_name="tally", max_message_bytes=4096, max_nesting_depth=8
        )
        settings.mongodb_database = database
        return settings

    async def start_tally(self, prepare: Callable[[ServiceRuntime], None] | None = None) -> ServiceRuntime:
        runtime = make_runtime(self.settings)
        if prepare is not None:
            prepare(runtime)
        return await self.start(runtime)

    async def send_command(self, value: bytes, key: str = CSID) -> None:
        await self.send(COMMANDS, value, key=key)

    async def committed_commands(self) -> int:
        return await self.committed(COMMANDS, self.settings.consumer_group)


@pytest.fixture
async def harness(infra: Infra, database_name: str) -> AsyncIterator[Harness]:
    h = Harness(infra, database_name)
    yield h
    await h.close()


def totals(records: list[ConsumerRecord[Any, Any]]) -> list[int]:
    return [
        json.loads(r.value)["payload"]["total"]
        for r in records
        if json.loads(r.value)["message_type"] == "TallyIncreased"
    ]


async def test_the_same_message_delivered_three_times_is_applied_once_and_counted_as_duplicates(
    harness: Harness,
) -> None:
    runtime = await harness.start_tally()
    message = command(5).to_bytes()
    for _ in range(3):
        await harness.send_command(message)
    await harness.send_command(command(2).to_bytes())

    events = await harness.read(EVENTS, 2)

    assert totals(events) == [5, 7]
    assert runtime.metrics.duplicates._value.get() == 2
    assert runtime.metrics.applied._value.get() == 2


MALFORMED: list[tuple[str, bytes]] = [
    ("not_json", b"{this is not json"),
    ("not_utf8", b"\xff\xfe{}"),
    ("too_large", b'{"pad": "' + b"x" * 5000 + b'"}'),
    ("too_deep", b'{"a":' * 20 + b"1" + b"}" * 20),
    ("malformed_envelope", b'{"message_type": "AddToTally"}'),
    ("unknown_message_type", b""),
    ("unsupported_schema_version", b""),
    ("schema_violation", b""),
]


def _with(envelope: Envelope, **changes: Any) -> bytes:
    doc = json.loads(envelope.to_bytes())
    doc.update(changes)
    return json.dumps(doc).encode()


async def test_each_kind_of_malformed_input_is_dead_lettered_with_its_reason_and_the_next_message_proceeds(
    harness: Harness,
) -> None:
    good = command(1)
    bodies = {code: body for code, body in MALFORMED if body}
    bodies["unknown_message_type"] = _with(good, message_type="SubtractFromTally")
    bodies["unsupported_schema_version"] = _with(good, schema_version=99)
    payload = dict(good.payload, amount="1")  # a string where a number belongs: no coercion on commands
    bodies["schema_violation"] = _with(good, payload=payload)
    runtime = await harness.start_tally()
    for code, _ in MALFORMED:
        await harness.send_command(bodies[code])
    await harness.send_command(good.to_bytes())

    dead = await harness.read("casemesh.tally.deadletter.v1", len(MALFORMED))
    events = await harness.read(EVENTS, 1)

    assert [dict(r.headers)["x-reason-code"].decode() for r in dead] == [code for code, _ in MALFORMED]
    first = dict(dead[0].headers)
    assert first["x-original-topic"].decode() == harness.topic(COMMANDS)
    assert first["x-original-offset"].decode() == "0"
    assert first["x-original-partition"].decode() == str(dead[0].partition)
    assert first["x-error-class"].decode() == "Malformed"
    assert [r.value for r in dead] == [bodies[code] for code, _ in MALFORMED], "the original bytes are kept"
    assert b"1" not in dict(dead[-1].headers)["x-reason"], "reasons never echo input values"
    assert totals(events) == [1]
    await wait_for(lambda: _eq(harness.committed_commands(), len(MALFORMED) + 1))
    assert runtime.metrics.dead_lettered.labels("not_json")._value.get() == 1


async def _eq(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def test_a_business_refusal_is_published_as_a_rejected_event_with_its_reason_code(
    harness: Harness,
) -> None:
    await harness.start_tally()
    refused = command(500)
    await harness.send_command(refused.to_bytes())

    (event,) = await harness.read(EVENTS, 1)

    body = json.loads(event.value)
    assert body["message_type"] == "TallyRejected"
    assert body["payload"]["reason_code"] == "too_large"
    assert body["payload"]["rejected_message_id"] == str(refused.message_id)
    assert body["causation_id"] == str(refused.message_id)
    assert event.key == CSID.encode()


async def test_a_poison_message_between_two_good_ones_is_dead_lettered_and_nothing_is_skipped(
    harness: Harness,
) -> None:
    runtime = await harness.start_tally()
    for amount in (3, POISON_AMOUNT, 4):
        await harness.send_command(command(amount).to_bytes())

    events = await harness.read(EVENTS, 2)
    (dead,) = await harness.read("casemesh.tally.deadletter.v1", 1)

    assert totals(events) == [3, 7]
    assert dict(dead.headers)["x-reason-code"] == b"handler_failed"
    assert dict(dead.headers)["x-error-class"] == b"ValueError"
    await wait_for(lambda: _eq(harness.committed_commands(), 3))
    assert runtime.metrics.dead_lettered.labels("handler_failed")._value.get() == 1


async def test_an_event_stored_but_not_published_before_a_crash_is_published_exactly_once_after_restart(
    harness: Harness, mongo: AsyncMongoClient[dict[str, object]]
) -> None:
    async def crash_before_publishing(*_: Any) -> None:
        raise SystemError("the process died before the relay published")

    first = await harness.start_tally(lambda rt: setattr(rt, "_publish", crash_before_publishing))
    await harness.send_command(command(9).to_bytes())
    commits = mongo[harness.settings.mongodb_database]["tallies_commits"]

    async def stored() -> bool:
        doc = await commits.find_one({"aggregate": CSID})
        return doc is not None and len(doc["outbox"]) == 1  # type: ignore[arg-type]

    await wait_for(stored)
    await wait_for(lambda: _eq(harness.committed_commands(), 1))
    await first.stop()

    await harness.start_tally()
    events = await harness.read(EVENTS, 1, settle_s=2.0)

    assert totals(events) == [9]
    inflight = mongo[harness.settings.mongodb_database]["tallies_inflight"]

    async def intent_cleared() -> bool:
        return await inflight.count_documents({"kind": "outbox"}) == 0

    await wait_for(intent_cleared)

    await harness.send_command(command(1).to_bytes())
    events = await harness.read(EVENTS, 2, settle_s=1.0)
    assert totals(events) == [9, 10], "published once, then the next event"
    doc = await commits.find_one({"aggregate": CSID, "version": 2})
    assert doc is not None and len(doc["outbox"]) == 1, "a commit keeps only its own events"  # type: ignore[arg-type]


async def test_with_the_store_stopped_for_a_while_under_load_nothing_is_lost_or_dead_lettered(
    harness: Harness, tmp_path: Path
) -> None:
    store = LocalInfra(LocalInfraConfig.with_free_ports(tmp_path / "store"))
    store.start_ferretdb()
    await wait_for(lambda: asyncio.to_thread(lambda: store.ferretdb_live() and store.ferretdb_pings()))
    harness.settings.mongodb_url = store.cfg.mongodb_url
    try:
        runtime = await harness.start_tally()
        customers = [f"{100000 + n}" for n in range(5)]
        for n in range(10):
            for csid in customers:
                await harness.send_command(command(1, csid).to_bytes(), key=csid)
            if n == 3:
                store.stop_ferretdb()

        async def retrying() -> bool:
            return bool(runtime.metrics.infrastructure_retries._value.get() >= 3)

        await wait_for(retrying, timeout_s=60)
        store.start_ferretdb()

        def every_total_arrived(records: list[Record]) -> bool:
            return len({(r.key, json.loads(r.value)["payload"]["total"]) for r in records}) >= 50

        events = await harness.read(EVENTS, 50, timeout_s=90, until=every_total_arrived)
        dead = await harness.read("casemesh.tally.deadletter.v1", 0, settle_s=0.5)
    finally:
        await harness.close()
        harness.runtimes.clear()
        store.down()

    by_customer: dict[bytes, list[int]] = {}
    for record in events:
        by_customer.setdefault(record.key, []).append(json.loads(record.value)["payload"]["total"])
    assert dead == []
    expected = {c.encode(): list(range(1, 11)) for c in customers}
    assert {k: sorted(set(v)) for k, v in by_customer.items()} == expected, by_customer
