"""Issue 18: notifications and the reference channel adapter (``casemesh channel-sim``) through the
real broker, each acting as its own principal: receipts (duplicates counted once), failures into
retries and the fallback letter, a silent channel timed out, and an unreadable receipt answered on
the channel-errors topic."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from casemesh.channel_sim import ChannelSim, SimOptions, Summary
from contracts.base import Actor, Role
from contracts.catalogue.channels import Channel, DeliveryReceipted, DeliveryStatus, Purpose
from contracts.catalogue.customers import CustomerContactDetailsChanged, CustomerRegistered, PostalAddress
from contracts.catalogue.notifications import SendLetter, SendSms, SmsCircumstance
from contracts.envelope import Envelope
from contracts.topics import (
    CHANNEL_ERRORS_TOPIC,
    CUSTOMERS_TOPIC,
    RECEIPTS_TOPIC,
    commands_topic,
    events_topic,
)
from services.notifications.app import create_runtime
from services.notifications.settings import NotificationsSettings
from tests.conftest import Infra
from tests.support import Mesh, Record, envelope, payloads, wait_for

COMMANDS = commands_topic("notifications")
EVENTS = events_topic("notifications")
ADDRESS = PostalAddress(lines=("Unit 4", "12 Example St"), locality="Glenorchy", state="TAS", postcode="7010")
ADM = Actor(
    officer_id="EMP10442",
    role=Role.APPROVED_DECISION_MAKER,
    first_name="Priya",
    site="Hobart",
    team="PS 3",
    extension="4471",
)


class Channels:
    """Channel adapters a test runs in-process, each as the ``channels`` principal."""

    def __init__(self, mesh: Mesh) -> None:
        self.mesh = mesh
        self.running: list[tuple[ChannelSim, asyncio.Event, asyncio.Task[Summary]]] = []

    async def start(self, channel: Channel, **options: Any) -> ChannelSim:
        sim = ChannelSim(
            SimOptions(channel=channel, topic_suffix=self.mesh.suffix, **options),
            self.mesh.kafka.access("channels"),
        )
        stop = asyncio.Event()
        self.running.append((sim, stop, asyncio.create_task(sim.run(stop))))
        await asyncio.wait_for(sim.listening.wait(), timeout=30)
        return sim

    async def stop(self) -> None:
        for _, stop, task in self.running:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, timeout=15)


class Setup:
    def __init__(self, mesh: Mesh, channels: Channels, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.mesh = mesh
        self.channels = channels
        self.db = db

    async def customer(self, csid: str, mobile: str) -> None:
        registered = CustomerRegistered(
            given_name="Jordan",
            family_name="Lee",
            is_international=False,
            is_centrelink_customer=True,
            site="Hobart",
            team="Mainstream 12",
        )
        await self.mesh.send(CUSTOMERS_TOPIC, envelope(registered, csid))
        changed = CustomerContactDetailsChanged(
            mobile_number=mobile, phone_number=None, email=None, postal_address=ADDRESS
        )
        await self.mesh.send(CUSTOMERS_TOPIC, envelope(changed, csid))

        async def learnt() -> bool:
            # The facts travel on another topic than the request: applied first, then asked.
            doc = await self.db["customers"].find_one({"_id": csid})
            state = (doc or {}).get("state") or {}
            return bool(state.get("registered")) and state.get("mobile_number") == mobile

        await wait_for(learnt)

    async def sms(self, csid: str) -> None:
        request = SendSms(
            actor=ADM,
            notification_id=uuid.uuid4(),
            purpose=Purpose.GENERAL,
            circumstance=SmsCircumstance.CAPTURE_OMC_PSSO_NUMBER,
            text="Please call your One Main Contact on 1300000000.",
        )
        await self.mesh.send(COMMANDS, envelope(request, csid))

    async def letter(self, csid: str) -> None:
        request = SendLetter(
            actor=ADM.model_copy(update={"role": Role.COMPLAINTS_OFFICER}),
            notification_id=uuid.uuid4(),
            purpose=Purpose.COMPLAINT_RESPONSE,
            body="We have reviewed your complaint.",
        )
        await self.mesh.send(COMMANDS, envelope(request, csid))

    async def events_until(self, csid: str, last: str, timeout_s: float = 60.0) -> list[Record]:
        """The customer's distinct events, read until one of type ``last`` is among them."""
        found: list[Record] = []

        async def arrived() -> bool:
            records = await self.mesh.read(EVENTS, 1, timeout_s=5, settle_s=0.5)
            unique: dict[str, Record] = {}
            for record in records:
                if record.key == csid.encode():
                    unique.setdefault(json.loads(record.value)["message_id"], record)
            found[:] = list(unique.values())
            return last in kinds(found)

        await wait_for(arrived, timeout_s=timeout_s)
        return found


def kinds(records: list[Record]) -> list[str]:
    return [json.loads(r.value)["message_type"] for r in records]


@pytest.fixture
async def mesh_with(infra: Infra) -> AsyncIterator[Callable[..., Awaitable[Setup]]]:
    mesh = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    channels = Channels(mesh)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url, tz_aware=True)

    async def start(**settings: Any) -> Setup:
        values = {"timer_interval_s": 0.2, "delivery_backoff_initial_s": 0.3, **settings}
        configured = mesh.settings(NotificationsSettings, **values)
        await mesh.start(create_runtime(configured))
        return Setup(mesh, channels, client[configured.mongodb_database])

    yield start
    await channels.stop()
    await mesh.close()
    for name in mesh.databases:
        with contextlib.suppress(Exception):
            await client.drop_database(name)
    await client.close()


async def test_the_channel_sim_reports_duplicates_counted_once_and_failures_retried_then_falling_back(
    mesh_with: Callable[..., Awaitable[Setup]],
) -> None:
    setup = await mesh_with(delivery_max_attempts=2)
    sms = await setup.channels.start(Channel.SMS, failure_rate=1.0, latency_ms=20)
    letters = await setup.channels.start(Channel.LETTER, duplicate_rate=1.0)
    csid = "700000001"
    await setup.customer(csid, "0455000001")
    await setup.sms(csid)

    events = await setup.events_until(csid, "NotificationDelivered")
    assert kinds(events) == [
        "SmsRequested",
        "NotificationDispatched",
        "NotificationDeliveryFailed",
        "NotificationDispatched",
        "NotificationDeliveryFailed",
        "NotificationFellBack",
        "NotificationDispatched",
        "NotificationDelivered",
    ]
    [delivered] = payloads(events, "NotificationDelivered")
    assert delivered["channel"] == "LETTER"
    assert (sms.summary.failed, sms.summary.receipts_sent) == (2, 2)
    assert (letters.summary.delivered, letters.summary.duplicates_sent) == (1, 1)
    await asyncio.sleep(1.5)
    again = await setup.events_until(csid, "NotificationDelivered")
    assert kinds(again).count("NotificationDelivered") == 1, "the duplicate receipt changed nothing"


async def test_a_silent_channel_times_out_into_the_fallback_and_an_unreadable_receipt_is_answered(
    mesh_with: Callable[..., Awaitable[Setup]],
) -> None:
    setup = await mesh_with(delivery_max_attempts=2, receipt_timeout_sms_s=1.0)
    letters = await setup.channels.start(Channel.LETTER)  # no SMS adapter runs
    csid = "700000002"
    await setup.customer(csid, "0455000002")
    await setup.sms(csid)

    events = await setup.events_until(csid, "NotificationDelivered")
    assert kinds(events) == [
        "SmsRequested",
        "NotificationDispatched",
        "DeliveryTimedOut",
        "NotificationDeliveryFailed",
        "NotificationDispatched",
        "DeliveryTimedOut",
        "NotificationDeliveryFailed",
        "NotificationFellBack",
        "NotificationDispatched",
        "NotificationDelivered",
    ]
    timeouts = payloads(events, "DeliveryTimedOut")
    assert [(t["channel"], t["attempt"]) for t in timeouts] == [("SMS", 1), ("SMS", 2)]
    assert payloads(events, "NotificationDelivered")[0]["channel"] == "LETTER"

    # A receipt with a status notifications does not know, from the letters adapter.
    [dispatched] = [p for p in payloads(events, "NotificationDispatched") if p["channel"] == "LETTER"]
    valid = DeliveryReceipted(
        delivery_id=dispatched["delivery_id"],
        attempt=1,
        channel=Channel.LETTER,
        status=DeliveryStatus.DELIVERED,
    )
    producer = letters.options.producer_name
    document = json.loads(
        Envelope.wrap(valid, csid=csid, producer=producer, occurred_at=datetime.now(UTC)).to_bytes()
    )
    document["payload"]["status"] = "LOST_IN_THE_POST"
    await setup.mesh.send(RECEIPTS_TOPIC, json.dumps(document).encode(), key=csid, headers={})

    async def answered() -> bool:
        return letters.summary.channel_errors == 1

    await wait_for(answered, timeout_s=30)
    assert letters.summary.channel_error_reasons == {"schema_violation": 1}
    [record] = await setup.mesh.read(CHANNEL_ERRORS_TOPIC, 1)
    answer = json.loads(record.value)
    assert record.key == b"channel-sim-letter"
    assert answer["delivery_id"] == dispatched["delivery_id"] and answer["channel"] == "LETTER"
    assert answer["problems"] == [{"field": "payload.status", "error": "enum"}]
    assert "LOST_IN_THE_POST" not in record.value.decode()


async def test_casemesh_channel_sim_runs_from_the_command_line_and_prints_its_summary(
    mesh_with: Callable[..., Awaitable[Setup]], infra: Infra
) -> None:
    setup = await mesh_with()
    csid = "700000003"
    await setup.customer(csid, "0455000003")
    await setup.letter(csid)
    await setup.events_until(csid, "NotificationDispatched")

    environment = {**os.environ, "CASEMESH_KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers}
    if infra.kafka.path is not None:
        environment["CASEMESH_KAFKA_SECURITY_FILE"] = str(infra.kafka.path)
    environment.pop("CASEMESH_CHANNELS_KAFKA_BOOTSTRAP_SERVERS", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "casemesh.cli",
        "channel-sim",
        "--channel",
        "letter",
        "--topic-suffix",
        setup.mesh.suffix,
        "--max-records",
        "1",
        "--duration",
        "60",
        "--json",
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode == 0, stderr.decode()[-2000:]
    summary = json.loads(stdout)
    assert summary["channel"] == "LETTER"
    assert (summary["dispatches"], summary["delivered"], summary["receipts_sent"]) == (1, 1, 1)
    events = await setup.events_until(csid, "NotificationDelivered")
    assert kinds(events) == ["NotificationDispatched", "NotificationDelivered"]
