"""Issue 20 item 9 through the real broker and store: a letter asked for before the customer fact
that carries its address waits for it, instead of a spurious NO_POSTAL_ADDRESS refusal."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from contracts.base import Actor, Role
from contracts.catalogue.channels import Purpose
from contracts.catalogue.customers import CustomerContactDetailsChanged, CustomerRegistered, PostalAddress
from contracts.catalogue.notifications import SendLetter
from contracts.topics import CUSTOMERS_TOPIC, commands_topic, dispatch_topic, events_topic
from services.notifications.app import create_runtime
from services.notifications.settings import NotificationsSettings
from tests.conftest import Infra
from tests.support import Mesh, Record, envelope, payloads, types, wait_for

COMMANDS = commands_topic("notifications")
EVENTS = events_topic("notifications")
ADDRESS = PostalAddress(lines=("Unit 4", "12 Example St"), locality="Glenorchy", state="TAS", postcode="7010")
OFFICER = Actor(
    officer_id="EMP20931",
    role=Role.COMPLAINTS_OFFICER,
    first_name="Priya",
    site="Hobart",
    team="PS 3",
    extension="4471",
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class Started:
    def __init__(self, mesh: Mesh, db: AsyncDatabase[dict[str, Any]], clock: Clock) -> None:
        self.mesh = mesh
        self.db = db
        self.clock = clock

    async def state_of(self, csid: str) -> dict[str, Any] | None:
        doc = await self.db["customers"].find_one({"_id": csid})
        return None if doc is None else doc.get("state")

    async def learnt(self, csid: str, check: Callable[[dict[str, Any]], bool]) -> None:
        async def done() -> bool:
            state = await self.state_of(csid)
            return state is not None and check(state)

        await wait_for(done)

    async def events(self, count: int) -> list[Record]:
        """``count`` distinct events (the outbox may publish one twice under one message id)."""
        raw = await self.mesh.read(EVENTS, count)
        unique: dict[str, Record] = {}
        for record in raw:
            unique.setdefault(json.loads(record.value)["message_id"], record)
        return list(unique.values())


@pytest.fixture
async def service(infra: Infra) -> AsyncIterator[Callable[[], Awaitable[Started]]]:
    mesh = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url, tz_aware=True)

    async def start() -> Started:
        clock = Clock()
        settings = mesh.settings(NotificationsSettings, timer_interval_s=0.2)
        await mesh.start(create_runtime(settings, clock=clock))
        return Started(mesh, client[settings.mongodb_database], clock)

    yield start
    await mesh.close()
    for name in mesh.databases:
        with contextlib.suppress(Exception):
            await client.drop_database(name)
    await client.close()


def registered() -> CustomerRegistered:
    return CustomerRegistered(
        given_name="Jordan",
        family_name="Lee",
        is_international=False,
        is_centrelink_customer=True,
        site="Hobart",
        team="Mainstream 12",
    )


def address_recorded(address: PostalAddress | None) -> CustomerContactDetailsChanged:
    return CustomerContactDetailsChanged(
        mobile_number=None, phone_number="0361234567", email=None, postal_address=address
    )


def letter() -> SendLetter:
    return SendLetter(
        actor=OFFICER,
        notification_id=uuid.uuid4(),
        purpose=Purpose.COMPLAINT_RESPONSE,
        template_id="complaint-l2-response",
        template_version=1,
        body="We have reviewed your complaint and corrected the assessment.",
    )


def waiting(state: dict[str, Any]) -> bool:
    return bool(state.get("waiting"))


async def test_a_letter_before_its_address_is_sent_when_the_address_comes_and_refused_if_it_never_does(
    service: Callable[[], Awaitable[Started]],
) -> None:
    n = await service()
    early, never = "900000001", "900000002"
    for csid in (early, never):
        await n.mesh.send(CUSTOMERS_TOPIC, envelope(registered(), csid))
        await n.learnt(csid, lambda state: bool(state["registered"]))
        await n.mesh.send(COMMANDS, envelope(letter(), csid))
        await n.learnt(csid, waiting)

    # The address comes after the letter: the waiting letter is sent, once, and not refused.
    await n.mesh.send(CUSTOMERS_TOPIC, envelope(address_recorded(ADDRESS), early))
    await n.learnt(early, lambda state: not waiting(state))
    events = await n.events(2 + 1)
    assert sorted(types(events)) == [
        "NotificationDispatched",
        "NotificationRequestParked",
        "NotificationRequestParked",
    ]
    parked = payloads(events, "NotificationRequestParked")
    assert {p["awaiting"] for p in parked} == {"NO_POSTAL_ADDRESS"}
    [dispatched] = payloads(events, "NotificationDispatched")
    assert dispatched["channel"] == "LETTER"
    [sent] = await n.mesh.read(dispatch_topic("letter"), 1)
    assert sent.key == early.encode()

    # The other customer's address never comes: when the wait is over, the letter is refused with
    # the reason it would have got, naming the letter's own message.
    parked_letter = letter()
    parked_envelope = envelope(parked_letter, never)
    await n.mesh.send(COMMANDS, parked_envelope)
    await n.learnt(never, lambda state: str(parked_envelope.message_id) in state.get("waiting", {}))
    n.clock.now += timedelta(minutes=6)
    await n.learnt(never, lambda state: str(parked_envelope.message_id) not in state.get("waiting", {}))
    events = await n.events(2 + 1 + 1 + 2)
    rejected = payloads(events, "NotificationsCommandRejected")
    assert sorted(r["reason_code"] for r in rejected) == ["NO_POSTAL_ADDRESS", "NO_POSTAL_ADDRESS"]
    mine = [r for r in rejected if r["rejected_message_id"] == str(parked_envelope.message_id)]
    assert len(mine) == 1
    assert mine[0]["rejected_message_type"] == "SendLetter"
    assert mine[0]["notification_id"] == str(parked_letter.notification_id)
    assert not [r for r in rejected if r["notification_id"] == dispatched["notification_id"]]
