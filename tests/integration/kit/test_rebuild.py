"""``casemesh rebuild``: a service's database made again from the topics it reads while the live copy
runs, publishing nothing, then made live (kit/rebuild.py), through the real broker and store.

The contacts service builds a read model, its communications log, from other services' events and
its own commands; the tally service of the kit's tests arms a timer.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from casemesh.run import current_settings
from contracts.base import Actor, Role, StaffReference
from contracts.catalogue.channels import Channel, Purpose, Recipient
from contracts.catalogue.complaints import ComplaintChannel, ComplimentRecorded, ComplimentSubject
from contracts.catalogue.contacts import AddNote, CommunicationKind, Direction, EditNote, RecordCommunication
from contracts.catalogue.notifications import NotificationDelivered, NotificationDispatched
from contracts.catalogue.referrals import PSStackingDocumentCreated, StackingDocumentOrigin
from contracts.topics import (
    REJECTIONS_TOPIC,
    commands_topic,
    deadletter_topic,
    events_topic,
    topics_written_by,
)
from kit.rebuild import adopt_generation, control, generation_of, rebuild
from kit.settings import ServiceSettings
from services.contacts.app import create_runtime
from services.contacts.settings import ContactsSettings
from services.contacts.spec import SPEC
from tests.conftest import Infra
from tests.integration.kit.tally import COMMANDS, EVENTS, make_runtime
from tests.integration.kit.test_lanes import command
from tests.support import Mesh, envelope, wait_for

CASE_WORKER = Actor(
    officer_id="EMP1", role=Role.CASE_WORKER, first_name="Priya", site="Hobart", team="T1", extension="4471"
)
CSO = Actor(officer_id="EMP2", role=Role.CSO, first_name="Sam", site="Hobart", team="T1", extension="4472")
CSID = "100000101"
CONTACTS_EVENTS = events_topic("contacts")
TIME_APART = timedelta(seconds=5)
"""How far a replayed time may be from the live one: the live service decided at its clock, the
replay at the records' stamps (kit/runtime.py's replay clock)."""


class Rebuilds(Mesh):
    """A mesh whose services keep their generation records in a control database of the test's own."""

    def __init__(self, infra: Infra) -> None:
        super().__init__(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
        self.control_database = f"t_{uuid.uuid4().hex[:12]}_control"

    async def end_offsets(self, topics: Sequence[str]) -> dict[TopicPartition, int]:
        names = [self.topic(t) for t in topics]
        admin = AIOKafkaAdminClient(**self.options())
        consumer = AIOKafkaConsumer(**self.options(), group_id=None, enable_auto_commit=False)
        await admin.start()
        await consumer.start()
        try:
            described = await admin.describe_topics(names)
            partitions = [
                TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]
            ]
            assert {p.topic for p in partitions} == set(names)
            return dict(await consumer.end_offsets(partitions))
        finally:
            await consumer.stop()
            await admin.close()


@contextlib.asynccontextmanager
async def rebuilds_on(infra: Infra) -> AsyncIterator[Rebuilds]:
    """A mesh for rebuild tests; its databases, their next generations and its control database
    are dropped afterwards."""
    m = Rebuilds(infra)
    try:
        yield m
    finally:
        await m.close()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url)
        for name in [*m.databases, *(f"{d}_g2" for d in m.databases), m.control_database]:
            with contextlib.suppress(Exception):
                await client.drop_database(name)
        await client.close()


@pytest.fixture
async def mesh(infra: Infra) -> AsyncIterator[Rebuilds]:
    async with rebuilds_on(infra) as m:
        yield m


async def read_model(mongo: AsyncMongoClient[dict[str, Any]], database: str) -> dict[str, dict[str, Any]]:
    """Every aggregate's current state, by collection and id (its version and records left out)."""
    states: dict[str, dict[str, Any]] = {}
    for aggregate in SPEC.aggregates:
        found = mongo[database][aggregate.collection].find({}, projection={"state": True})
        states[aggregate.collection] = {str(d["_id"]): d["state"] async for d in found}
    return states


def stamped(value: str) -> tuple[datetime, str] | None:
    """A time, alone or ahead of ``|`` and a tie-breaker (an order key), and what follows it."""
    head, _, tail = value.partition("|")
    try:
        return datetime.fromisoformat(head), tail
    except ValueError:
        return None


def assert_same_apart_from_times(live: Any, rebuilt: Any, where: str = "") -> None:
    """Equal, except that times may differ by ``TIME_APART``."""
    if isinstance(live, dict) and isinstance(rebuilt, dict):
        assert live.keys() == rebuilt.keys(), where
        for key in live:
            assert_same_apart_from_times(live[key], rebuilt[key], f"{where}.{key}")
    elif isinstance(live, list) and isinstance(rebuilt, list):
        assert len(live) == len(rebuilt), where
        for index, (a, b) in enumerate(zip(live, rebuilt, strict=True)):
            assert_same_apart_from_times(a, b, f"{where}[{index}]")
    elif live != rebuilt:
        times = (
            (stamped(live), stamped(rebuilt)) if isinstance(live, str) and isinstance(rebuilt, str) else ()
        )
        assert times and times[0] and times[1], f"{where}: {live!r} != {rebuilt!r}"
        (at, tail), (rebuilt_at, rebuilt_tail) = times[0], times[1]
        assert tail == rebuilt_tail, where
        assert abs(at - rebuilt_at) <= TIME_APART, f"{where}: {live} and {rebuilt} are too far apart"


async def drive_contacts(mesh: Mesh) -> None:
    """Other services' events contacts logs, officers' commands, and one record it cannot read."""
    dispatched = NotificationDispatched(
        notification_id=(notification := uuid.uuid4()),
        delivery_id=(delivery := uuid.uuid4()),
        channel=Channel.LETTER,
        attempt=1,
        purpose=Purpose.MSP_LETTER,
        recipient=Recipient.CUSTOMER,
        template_id="msp-letter",
        template_version=3,
    )
    delivered = NotificationDelivered(
        notification_id=notification, delivery_id=delivery, channel=Channel.LETTER, attempt=1
    )
    for event in (dispatched, delivered):
        await mesh.send(events_topic("notifications"), envelope(event, CSID))
    compliment = ComplimentRecorded(
        compliment_id=uuid.uuid4(),
        about=ComplimentSubject.STAFF_MEMBER,
        staff_member=StaffReference(
            first_name="Sam", site="Parramatta", team="Mainstream 12", extension="3310"
        ),
        channel=ComplaintChannel.PHONE,
        details="Sam was patient and clear.",
        actor=CSO,
    )
    await mesh.send(events_topic("complaints"), envelope(compliment, CSID))
    stacking = PSStackingDocumentCreated(
        referral_id=uuid.uuid4(),
        actor=CASE_WORKER,
        document_id=uuid.uuid4(),
        origin=StackingDocumentOrigin.INTERNATIONAL_NOTES,
        origin_record_id="PLT-0042-77",
    )
    await mesh.send(events_topic("referrals"), envelope(stacking, CSID))
    call = RecordCommunication(
        actor=CSO,
        communication_id=uuid.uuid4(),
        kind=CommunicationKind.PHONE_CALL,
        direction=Direction.INCOMING,
        case_id="CASE-2025-00017",
        subject="Customer called about payment date",
        body="Explained the next payment.",
    )
    note_id = uuid.uuid4()
    for message in (
        call,
        AddNote(
            actor=CASE_WORKER, note_id=note_id, case_id="CASE-2025-00017", sensitivity_level=3, text="One"
        ),
        EditNote(actor=CASE_WORKER, note_id=note_id, based_on_version=1, text="Two"),
        EditNote(actor=CASE_WORKER, note_id=note_id, based_on_version=1, text="From an old copy"),
    ):
        await mesh.send(commands_topic("contacts"), envelope(message, CSID))
    await mesh.send(commands_topic("contacts"), b"not json", key=CSID)


async def test_a_rebuilt_contacts_holds_the_live_read_model_published_nothing_and_is_what_run_starts_next(
    mesh: Rebuilds, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = mesh.settings(
        ContactsSettings, control_database=mesh.control_database, generation_check_interval_s=0.2
    )
    live = await mesh.start(create_runtime(settings))
    await drive_contacts(mesh)
    # Five log events (four entries: the letter twice), a note added and edited, one refusal.
    await mesh.read(CONTACTS_EVENTS, 8)
    await mesh.read(deadletter_topic("contacts"), 1)
    written = [
        *(t.name for t in topics_written_by("contacts")),
        deadletter_topic("contacts"),
        REJECTIONS_TOPIC,
    ]
    before = await mesh.end_offsets(written)

    lines: list[str] = []
    result = await rebuild(settings, create_runtime, timeout_s=120, poll_s=0.2, progress=lines.append)

    assert result.switched, result.summary()
    assert await mesh.end_offsets(written) == before, "the replay published nothing, dead letters included"
    assert result.records == 9
    first, second = generation_of(settings, 1), generation_of(settings, 2)
    assert result.replaced == first
    assert (result.generation.database, result.generation.consumer_group) == (
        f"{settings.mongodb_database}_g2",
        f"{settings.consumer_group}-g2",
    )
    assert any("generation 2" in line for line in lines)

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mesh.mongodb_url, tz_aware=True)
    try:
        live_model = await read_model(client, first.database)
        rebuilt_model = await read_model(client, second.database)
        unpublished = [
            d
            for a in SPEC.aggregates
            async for d in client[second.database][f"{a.collection}_inflight"].find({"kind": "outbox"})
        ]
    finally:
        await client.close()
    assert len(live_model["communications"]) == 4
    assert len(live_model["notes"]) == 1
    assert_same_apart_from_times(live_model, rebuilt_model)
    assert unpublished == [], "the rebuilt outbox is marked sent: the new generation will not publish it"

    async with control(settings) as generations:
        assert await generations.live(settings) == second
    await wait_for(lambda: _is_set(live), timeout_s=10)

    for name, value in {
        **mesh.kafka.environment("CASEMESH_CONTACTS_", mesh.principal_of("contacts")),
        "CASEMESH_CONTACTS_MONGODB_URL": mesh.mongodb_url,
        "CASEMESH_CONTACTS_MONGODB_DATABASE": first.database,
        "CASEMESH_CONTACTS_CONSUMER_GROUP": first.consumer_group,
        "CASEMESH_CONTACTS_TOPIC_SUFFIX": mesh.suffix,
        "CASEMESH_CONTACTS_CONTROL_DATABASE": mesh.control_database,
    }.items():
        monkeypatch.setenv(name, value)
    started = await current_settings("contacts")
    assert (started.mongodb_database, started.consumer_group) == (second.database, second.consumer_group)


async def _is_set(runtime: Any) -> bool:
    return bool(runtime.superseded.is_set())


class Later:
    """A clock past the tally's bonus timer (due ninety days after the command that armed it)."""

    def __call__(self) -> datetime:
        return datetime.now(UTC) + timedelta(days=91)


async def test_a_timer_the_replay_armed_fires_from_the_new_generation_only_after_the_switch(
    mesh: Rebuilds,
) -> None:
    settings = mesh.settings(
        ServiceSettings, service_name="tally", control_database=mesh.control_database, timer_interval_s=0.2
    )
    live = await mesh.start(make_runtime(settings))
    await mesh.send(COMMANDS, command(5))
    await mesh.send(COMMANDS, command(0))  # arms the bonus timer
    await mesh.read(EVENTS, 1)
    await wait_for(lambda: _committed(mesh, settings.consumer_group, 2))
    before = await mesh.end_offsets([COMMANDS, EVENTS])

    # The replaying copy's clock is past the timer: only a sweeper that does not run keeps it quiet.
    result = await rebuild(
        settings, lambda s: make_runtime(s, Later()), topics=[COMMANDS], timeout_s=60, poll_s=0.2
    )

    assert result.switched, result.summary()
    assert await mesh.end_offsets([COMMANDS, EVENTS]) == before, "no timer fired while rebuilding"
    await live.stop()  # as its supervisor would, once it noticed
    await mesh.start(make_runtime(await adopt_generation(settings), Later()))
    records = await mesh.read(
        EVENTS, 2, until=lambda rs: 6 in [json.loads(r.value)["payload"]["total"] for r in rs]
    )
    assert [json.loads(r.value)["payload"]["total"] for r in records] == [5, 6]


async def _committed(mesh: Mesh, group: str, count: int) -> bool:
    return await mesh.committed(COMMANDS, group) >= count
