"""The notifications service through the real broker and store, with a small fake channel that
consumes the dispatch topics and reports receipts on the receipts topic, as a channel would."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from contracts.base import Actor, Event, Role
from contracts.catalogue.approvals import ApprovalAccepted, SubjectType
from contracts.catalogue.channels import (
    Channel,
    DeliveryReceipted,
    DeliveryStatus,
    PhoneOutcome,
    PhoneTaskOutcomeReported,
    Purpose,
    Recipient,
)
from contracts.catalogue.customers import (
    CustomerContactDetailsChanged,
    CustomerRegistered,
    PostalAddress,
    RiskFlag,
    RiskFlagRaised,
)
from contracts.catalogue.msp import ChannelAccess, ChannelRestriction, ProposeMSP, ServiceChannel
from contracts.catalogue.notifications import (
    ContactCard,
    ContactCardKind,
    SendEmail,
    SendLetter,
    SendSms,
    SmsCircumstance,
    StartMSPContact,
)
from contracts.envelope import Envelope
from contracts.topics import (
    CHANNEL_NAMES,
    CUSTOMERS_TOPIC,
    RECEIPTS_TOPIC,
    commands_topic,
    dispatch_topic,
    events_topic,
)
from deploy.local.localinfra import free_port
from services.notifications.app import create_runtime
from services.notifications.settings import NotificationsSettings
from tests.conftest import Infra
from tests.support import Mesh, Record, bearer, envelope, payloads, types, wait_for

COMMANDS = commands_topic("notifications")
EVENTS = events_topic("notifications")
APPROVALS = events_topic("approvals")
ADDRESS = PostalAddress(lines=("Unit 4", "12 Example St"), locality="Glenorchy", state="TAS", postcode="7010")
ADM = Actor(
    officer_id="EMP10442",
    role=Role.APPROVED_DECISION_MAKER,
    first_name="Priya",
    site="Hobart",
    team="PS 3",
    extension="4471",
)
CSO = ADM.model_copy(update={"officer_id": "EMP20931", "role": Role.COMPLAINTS_OFFICER})
CARD = ContactCard(kind=ContactCardKind.ONE_MAIN_CONTACT, first_name="Priya", phone_number="1300000000")


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


Respond = Callable[[Envelope], list[Event]]


class FakeChannel:
    """Reads the four dispatch topics and answers each dispatch with ``respond``'s receipts."""

    def __init__(self, mesh: Mesh, respond: Respond) -> None:
        self.mesh = mesh
        self.respond = respond
        self.received: list[Envelope] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            *(self.mesh.topic(dispatch_topic(c)) for c in CHANNEL_NAMES),
            # As the downstream channels read them: their own principal (reads dispatch only).
            **self.mesh.options("channels"),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
            # The dispatch topics were created a moment ago: look their partitions up again soon
            # rather than after the default five minutes.
            metadata_max_age_ms=500,
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())
        consumer = self._consumer

        async def listening() -> bool:
            return len({tp.topic for tp in consumer.assignment()}) == len(CHANNEL_NAMES)

        await wait_for(listening)

    async def _run(self) -> None:
        assert self._consumer is not None
        async for record in self._consumer:
            dispatch = Envelope.from_bytes(record.value)
            if any(seen.message_id == dispatch.message_id for seen in self.received):
                continue  # a re-published dispatch: a channel acts on each message id once
            self.received.append(dispatch)
            for receipt in self.respond(dispatch):
                reply = Envelope.caused_by(
                    dispatch, receipt, producer="channels", occurred_at=datetime.now(UTC)
                )
                await self.mesh.send(RECEIPTS_TOPIC, reply)

    async def received_one(self, message_type: str) -> None:
        async def done() -> bool:
            return len(self.of(message_type)) == 1

        await wait_for(done)

    def of(self, message_type: str, csid: str | None = None) -> list[dict[str, Any]]:
        return [
            e.payload
            for e in self.received
            if e.message_type == message_type and (csid is None or e.csid == csid)
        ]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()


def receipt(dispatch: Envelope, status: DeliveryStatus) -> DeliveryReceipted:
    channel = {"SmsDispatch": Channel.SMS, "EmailDispatch": Channel.EMAIL, "LetterDispatch": Channel.LETTER}
    return DeliveryReceipted(
        delivery_id=dispatch.payload["delivery_id"],
        attempt=dispatch.payload["attempt"],
        channel=channel[dispatch.message_type],
        status=status,
    )


class Notifications:
    """One started notifications service, its fake channel and a view of its store."""

    def __init__(self, mesh: Mesh, db: AsyncDatabase[dict[str, Any]], runtime_clock: Clock) -> None:
        self.mesh = mesh
        self.db = db
        self.clock = runtime_clock
        self.channel: FakeChannel | None = None

    async def with_channel(self, respond: Respond) -> FakeChannel:
        self.channel = FakeChannel(self.mesh, respond)
        await self.channel.start()
        return self.channel

    # -- upstream facts

    async def customer(
        self,
        csid: str,
        mobile: str | None,
        *,
        centrelink: bool = True,
        phone: str | None = "0361234567",
        email: str | None = "jordan@example.org",
        address: PostalAddress | None = ADDRESS,
    ) -> None:
        registered = CustomerRegistered(
            given_name="Jordan",
            family_name="Lee",
            is_international=False,
            is_centrelink_customer=centrelink,
            site="Hobart",
            team="Mainstream 12",
        )
        await self.mesh.send(CUSTOMERS_TOPIC, envelope(registered, csid))
        await self.contact_details(csid, mobile, phone=phone, email=email, address=address)

    async def contact_details(
        self,
        csid: str,
        mobile: str | None,
        *,
        phone: str | None = "0361234567",
        email: str | None = None,
        address: PostalAddress | None = ADDRESS,
    ) -> None:
        changed = CustomerContactDetailsChanged(
            mobile_number=mobile, phone_number=phone, email=email, postal_address=address
        )
        await self.mesh.send(CUSTOMERS_TOPIC, envelope(changed, csid))

    async def flag(self, csid: str, risk: RiskFlag) -> None:
        await self.mesh.send(CUSTOMERS_TOPIC, envelope(RiskFlagRaised(flag=risk, flag_id="RF-1"), csid))

    async def msp_approved(self, csid: str, msp_id: uuid.UUID) -> None:
        accepted = ApprovalAccepted(
            request_id=request_id(msp_id),
            subject_type=SubjectType.MSP,
            subject_id=str(msp_id),
            chain_id=str(msp_id),
            decided_by=ADM.model_copy(update={"officer_id": "EMP30117", "role": Role.SERVICE_MANAGER}),
            reason="Behaviour meets the MSP threshold.",
        )
        await self.mesh.send(APPROVALS, envelope(accepted, csid))

    # -- commands

    async def start_msp(self, csid: str, msp_id: uuid.UUID) -> None:
        start = StartMSPContact(
            actor=ADM,
            msp_id=msp_id,
            approval_request_id=request_id(msp_id),
            letter_template_id="msp-letter",
            letter_template_version=2,
            contact_card=CARD,
            reasons_summary="Repeated threatening calls to the service centre on 3 and 5 March.",
            duration_days=180,
        )
        await self.mesh.send(COMMANDS, envelope(start, csid))

    async def sms(self, csid: str, msp_id: uuid.UUID | None, **overrides: Any) -> uuid.UUID:
        values: dict[str, Any] = {
            "actor": ADM,
            "notification_id": uuid.uuid4(),
            "purpose": Purpose.MSP_SMS if msp_id else Purpose.GENERAL,
            "msp_id": msp_id,
            "circumstance": SmsCircumstance.CANNOT_CONTACT_BY_PHONE,
            "template_id": "msp-sms" if msp_id else None,
            "text": None if msp_id else "Please call your One Main Contact on 1300000000.",
            **overrides,
        }
        await self.mesh.send(COMMANDS, envelope(SendSms(**values), csid))
        return uuid.UUID(str(values["notification_id"]))

    # -- what the service has learnt (to order messages that travel on different topics)

    async def learnt(self, csid: str, check: Callable[[dict[str, Any]], bool]) -> None:
        async def done() -> bool:
            doc = await self.db["customers"].find_one({"_id": csid})
            return doc is not None and doc.get("state") is not None and check(doc["state"])

        await wait_for(done)

    async def records_on(self, number: str) -> set[str]:
        return {str(d["csid"]) async for d in self.db["mobile_number_records"].find({"number": number})}

    async def number_shared(self, number: str, records: int) -> None:
        async def done() -> bool:
            return len(await self.records_on(number)) == records

        await wait_for(done)

    async def events(self, count: int) -> list[Record]:
        return await read_unique(self.mesh, EVENTS, count)


async def read_unique(mesh: Mesh, topic: str, count: int) -> list[Record]:
    """``count`` distinct messages from a topic. Publishing is at least once: the outbox relay may
    publish an event twice under one message id, and consumers drop the copy — so do the tests."""
    raw = await mesh.read(topic, count)
    for _ in range(5):
        unique: dict[str, Record] = {}
        for record in raw:
            unique.setdefault(json.loads(record.value)["message_id"], record)
        if len(unique) >= count:
            break
        raw = await mesh.read(topic, len(raw) + count - len(unique))
    return list(unique.values())


def request_id(msp_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(msp_id, "approval")


def of(records: list[Record], message_type: str, csid: str | None = None) -> list[dict[str, Any]]:
    mine = [r for r in records if csid is None or r.key == csid.encode()]
    return payloads(mine, message_type)


def approved(msp_id: uuid.UUID) -> Callable[[dict[str, Any]], bool]:
    return lambda state: str(msp_id) in state["approved_msps"]


def has_mobile(mobile: str | None) -> Callable[[dict[str, Any]], bool]:
    return lambda state: state["mobile_number"] == mobile and state["registered"]


@pytest.fixture
async def service(infra: Infra) -> AsyncIterator[Callable[..., Awaitable[Notifications]]]:
    mesh = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url, tz_aware=True)
    started: list[Notifications] = []

    async def start(**overrides: Any) -> Notifications:
        clock = Clock()
        settings = mesh.settings(NotificationsSettings, timer_interval_s=0.2, **overrides)
        await mesh.start(create_runtime(settings, clock=clock))
        started.append(Notifications(mesh, client[settings.mongodb_database], clock))
        return started[-1]

    yield start
    for notifications in started:
        if notifications.channel is not None:
            await notifications.channel.stop()
    await mesh.close()
    for name in mesh.databases:
        with contextlib.suppress(Exception):
            await client.drop_database(name)
    await client.close()


# ------------------------------------------------------------------------------ the whole MSP path


async def test_an_approved_msp_is_phoned_written_to_and_texted_with_every_result_recorded(
    service: Callable[..., Awaitable[Notifications]],
) -> None:
    n = await service()
    csid, msp_id = "200000001", uuid.uuid4()

    def channel(dispatch: Envelope) -> list[Event]:
        if dispatch.message_type == "PhoneTaskDispatch":
            # Seed 002 step 1: the call was unproductive and the customer was aggressive.
            return [
                PhoneTaskOutcomeReported(
                    delivery_id=dispatch.payload["delivery_id"],
                    attempt=dispatch.payload["attempt"],
                    outcome=PhoneOutcome.UNPRODUCTIVE,
                    spoke_with=Recipient.CUSTOMER,
                    aggression_displayed=True,
                    notes="Raised voice, threats.",
                    officer_id="EMP30117",
                )
            ]
        return [receipt(dispatch, DeliveryStatus.DELIVERED)]

    fake = await n.with_channel(channel)
    await n.customer(csid, "0412345678")
    await n.msp_approved(csid, msp_id)
    await n.learnt(csid, lambda s: approved(msp_id)(s) and has_mobile("0412345678")(s))
    await n.start_msp(csid, msp_id)
    await fake.received_one("LetterDispatch")
    # Seed 002 step 1 → 2: the call was unproductive, so an approved decision maker sends an SMS.
    notification_id = await n.sms(csid, msp_id, circumstance=SmsCircumstance.PHONE_DISCUSSION_UNPRODUCTIVE)

    events = await n.events(12)
    assert sorted(types(events)) == sorted(
        ["MSPContactStarted", "SmsRequested", "MSPIncidentRaised", "MSPSmsOptionOffered"]
        + ["NotificationDispatched"] * 3
        + ["MSPContactResultRecorded"] * 3
        + ["NotificationDelivered"] * 2
    )
    assert all(r.key == csid.encode() for r in events)
    results = {r["step"]: r for r in of(events, "MSPContactResultRecorded")}
    assert results["PHONE"]["phone_outcome"] == "UNPRODUCTIVE"
    assert results["LETTER"]["delivery_status"] == "DELIVERED"
    assert results["SMS"]["delivery_status"] == "DELIVERED"
    [incident] = of(events, "MSPIncidentRaised")
    assert incident["msp_id"] == str(msp_id) and incident["delivery_id"] == results["PHONE"]["delivery_id"]
    [letter] = fake.of("LetterDispatch")
    [sms] = fake.of("SmsDispatch")
    [phone] = fake.of("PhoneTaskDispatch")
    assert (letter["template_id"], letter["template_version"], letter["enclosures"]) == (
        "msp-letter",
        2,
        ["OMC_CONTACT_CARD"],
    )
    assert "1300000000" in letter["body"] and letter["addressee"] == "Jordan Lee"
    assert sms["to_mobile"] == "0412345678" and "1300000000" in sms["body"]
    assert phone["phone_number"] == "0361234567" and phone["msp_id"] == str(msp_id)
    [requested] = of(events, "SmsRequested")
    assert requested["notification_id"] == str(notification_id)
    assert requested["circumstance"] == "PHONE_DISCUSSION_UNPRODUCTIVE"
    # Issue 20 item 3: the unproductive call offered the MSP SMS to the officer who made it.
    [option] = of(events, "MSPSmsOptionOffered")
    assert (option["msp_id"], option["phone_outcome"], option["officer_id"]) == (
        str(msp_id),
        "UNPRODUCTIVE",
        "EMP30117",
    )


async def test_without_a_postal_address_the_phone_call_and_sms_go_ahead_and_the_letter_follows_the_address(
    service: Callable[..., Awaitable[Notifications]],
) -> None:
    n = await service()
    csid, msp_id = "200000002", uuid.uuid4()
    await n.customer(csid, "0412000002", address=None)
    await n.msp_approved(csid, msp_id)
    await n.learnt(csid, lambda s: approved(msp_id)(s) and has_mobile("0412000002")(s))
    await n.start_msp(csid, msp_id)
    events = await n.events(3)
    assert sorted(types(events)) == [
        "MSPContactStarted",
        "MSPPostalAddressRequired",
        "NotificationDispatched",
    ]
    [phone] = of(events, "NotificationDispatched")
    assert phone["channel"] == "PHONE"
    [required] = of(events, "MSPPostalAddressRequired")
    assert required["msp_id"] == str(msp_id)

    # Issue 20 item 2: the letter is requested, so the MSP SMS goes ahead of it.
    await n.sms(csid, msp_id, template_version=2)
    events = await n.events(3 + 2)
    [sms] = [r for r in of(events, "NotificationDispatched") if r["channel"] == "SMS"]
    assert sms["template_version"] == 2

    # The officer obtains an address: the waiting letter goes, once.
    await n.contact_details(csid, "0412000002", address=ADDRESS)
    events = await n.events(3 + 2 + 1)
    letters = [r for r in of(events, "NotificationDispatched") if r["channel"] == "LETTER"]
    assert len(letters) == 1 and letters[0]["msp_id"] == str(msp_id)
    [letter] = await read_unique(n.mesh, dispatch_topic("letter"), 1)
    assert letter.key == csid.encode()


# ------------------------------------------------------------------------------ the moment of sending


async def test_a_risk_flag_or_a_shared_number_arriving_after_the_request_suppresses_the_sms_at_send_time(
    service: Callable[..., Awaitable[Notifications]],
) -> None:
    n = await service()
    flagged, shared, control, other_record = "300000001", "300000002", "300000003", "300000004"
    msps = {csid: uuid.uuid4() for csid in (flagged, shared, control)}
    mobiles = {flagged: "0411000001", shared: "0411000002", control: "0411000003"}
    for csid, msp_id in msps.items():
        await n.customer(csid, mobiles[csid])
        await n.msp_approved(csid, msp_id)
    for csid, msp_id in msps.items():
        await n.learnt(csid, lambda s, m=msp_id, c=csid: approved(m)(s) and has_mobile(mobiles[c])(s))

    # Requested while the MSP letter is not yet dispatched: every SMS passes and waits.
    requested = {csid: await n.sms(csid, msp_id) for csid, msp_id in msps.items()}
    before = await n.events(3)
    assert types(before) == ["SmsRequested"] * 3

    # After the request, before the send: a flag on one, another record with the same mobile.
    await n.flag(flagged, RiskFlag.SUICIDE_OR_SELF_HARM)
    await n.customer(other_record, mobiles[shared])
    await n.learnt(flagged, lambda s: any(f["flag"] == "SUICIDE_OR_SELF_HARM" for f in s["risk_flags"]))
    await n.number_shared(mobiles[shared], 2)

    for csid, msp_id in msps.items():
        await n.start_msp(csid, msp_id)
    events = await n.events(3 + 5 + 5 + 4)

    suppressed = {r["notification_id"]: r for r in of(events, "SmsSuppressed")}
    assert set(suppressed) == {str(requested[flagged]), str(requested[shared])}
    assert suppressed[str(requested[flagged])]["reasons"] == ["RISK_SUICIDE_OR_SELF_HARM"]
    assert suppressed[str(requested[shared])]["reasons"] == ["SHARED_MOBILE_NUMBER"]
    assert all(r["checked_at_send_time"] for r in suppressed.values())
    for csid in (flagged, shared):
        [result] = of(events, "MSPContactResultRecorded", csid)
        assert result["step"] == "SMS" and result["suppression_reasons"]

    sms_records = await read_unique(n.mesh, dispatch_topic("sms"), 1)
    assert [r.key for r in sms_records] == [control.encode()], "only the unaffected SMS is sent"
    letters = await read_unique(n.mesh, dispatch_topic("letter"), 3)
    [control_letter] = [r for r in letters if r.key == control.encode()]
    assert control_letter.timestamp <= sms_records[0].timestamp, "the SMS never goes ahead of its letter"
    [sent] = of(events, "NotificationDispatched", control)[2:]
    assert sent["notification_id"] == str(requested[control]) and sent["channel"] == "SMS"


# ------------------------------------------------------------------------------ every guard rule


async def test_every_guard_rule_suppresses_an_sms_through_the_broker_and_the_number_index_follows_changes(
    service: Callable[..., Awaitable[Notifications]],
) -> None:
    n = await service()
    cases: dict[str, tuple[str, dict[str, Any]]] = {
        "400000001": ("NOT_CENTRELINK_CUSTOMER", {}),
        "400000002": ("NOT_APPROVED_DECISION_MAKER", {"actor": CSO}),
        "400000003": ("NO_CIRCUMSTANCE", {"circumstance": None}),
        "400000004": ("NO_MOBILE_NUMBER", {}),
        "400000005": ("SHARED_MOBILE_NUMBER", {}),
        "400000006": ("RISK_SUICIDE_OR_SELF_HARM", {}),
        "400000007": ("RISK_FDV_IMMEDIATE_THREAT", {}),
        "400000008": ("LETTER_NOT_DISPATCHED", {}),
    }
    shared_number, twin = "0422000005", "400000009"
    msps = {csid: uuid.uuid4() for csid in cases}
    for csid, (reason, _) in cases.items():
        mobile = (
            None
            if reason == "NO_MOBILE_NUMBER"
            else shared_number
            if reason == "SHARED_MOBILE_NUMBER"
            else f"04220000{csid[-2:]}"
        )
        await n.customer(csid, mobile, centrelink=reason != "NOT_CENTRELINK_CUSTOMER")
        if reason != "LETTER_NOT_DISPATCHED":  # neither approved nor started: no letter is coming
            await n.msp_approved(csid, msps[csid])
    await n.customer(twin, shared_number)
    await n.flag("400000006", RiskFlag.SUICIDE_OR_SELF_HARM)
    await n.flag("400000007", RiskFlag.FDV_IMMEDIATE_THREAT)
    for csid, (reason, _) in cases.items():
        if reason != "LETTER_NOT_DISPATCHED":
            await n.learnt(csid, approved(msps[csid]))
    await n.learnt("400000006", lambda s: bool(s["risk_flags"]))
    await n.learnt("400000007", lambda s: bool(s["risk_flags"]))
    await n.number_shared(shared_number, 2)
    for csid, (reason, _) in cases.items():
        if reason != "LETTER_NOT_DISPATCHED":
            await n.start_msp(csid, msps[csid])
    await n.events(3 * 7)

    requested = {csid: await n.sms(csid, msps[csid], **overrides) for csid, (_, overrides) in cases.items()}
    events = await n.events(3 * 7 + 3 * 8)
    for csid, (reason, _) in cases.items():
        [suppressed] = of(events, "SmsSuppressed", csid)
        assert suppressed["reasons"] == [reason], csid
        assert suppressed["notification_id"] == str(requested[csid])
        assert suppressed["checked_at_send_time"] is False
    assert of(events, "NotificationDispatched", "400000005")[-1]["channel"] == "LETTER"

    # The other record moves to a new number: the index follows, and the SMS may now go.
    await n.contact_details(twin, "0499999999")
    await n.number_shared(shared_number, 1)
    assert await n.records_on("0499999999") == {twin}
    await n.sms("400000005", msps["400000005"])
    events = await n.events(3 * 7 + 3 * 8 + 2)
    assert of(events, "NotificationDispatched", "400000005")[-1]["channel"] == "SMS"
    sms = await read_unique(n.mesh, dispatch_topic("sms"), 1)
    assert [r.key for r in sms] == [b"400000005"]


# ------------------------------------------------------------------------------ retries and fallback


async def test_a_failed_sms_is_retried_on_a_timer_then_falls_back_to_a_letter_and_duplicates_count_once(
    service: Callable[..., Awaitable[Notifications]],
) -> None:
    n = await service(delivery_max_attempts=2, delivery_backoff_initial_s=300.0)
    failing, flagged_before_retry = "500000001", "500000002"

    def channel(dispatch: Envelope) -> list[Event]:
        # SMS never arrive; letters do. Every receipt is reported twice (a duplicate).
        status = DeliveryStatus.FAILED if dispatch.message_type == "SmsDispatch" else DeliveryStatus.DELIVERED
        return [receipt(dispatch, status)] * 2

    fake = await n.with_channel(channel)
    for csid in (failing, flagged_before_retry):
        await n.customer(csid, f"04330000{csid[-2:]}")
        await n.learnt(csid, has_mobile(f"04330000{csid[-2:]}"))
        await n.sms(csid, None, circumstance=SmsCircumstance.CAPTURE_OMC_PSSO_NUMBER)
    first = await n.events(2 * 3)
    failures = of(first, "NotificationDeliveryFailed")
    assert len(failures) == 2, "one failure per attempt, however many receipts"
    assert all(f["next_attempt_at"] is not None for f in failures)

    # A flag raised between the failure and the retry: the retry is a moment of sending.
    await n.flag(flagged_before_retry, RiskFlag.FDV_IMMEDIATE_THREAT)
    await n.learnt(flagged_before_retry, lambda s: bool(s["risk_flags"]))
    n.clock.now += timedelta(seconds=301)

    events = await n.events(8 + 4)
    assert types([r for r in events if r.key == failing.encode()]) == [
        "SmsRequested",
        "NotificationDispatched",
        "NotificationDeliveryFailed",
        "NotificationDispatched",
        "NotificationDeliveryFailed",
        "NotificationFellBack",
        "NotificationDispatched",
        "NotificationDelivered",
    ]
    [fell_back] = of(events, "NotificationFellBack", failing)
    [letter] = fake.of("LetterDispatch", failing)
    sms_attempts = fake.of("SmsDispatch", failing)
    assert [s["attempt"] for s in sms_attempts] == [1, 2]
    assert sms_attempts[0]["body"] == sms_attempts[1]["body"] and sms_attempts[0]["body"] in letter["body"]
    assert fell_back["from_channel"] == "SMS" and fell_back["to_channel"] == "LETTER"
    assert fell_back["to_delivery_id"] == letter["delivery_id"]
    assert letter["template_id"] == "sms-fallback-letter"
    [delivered] = of(events, "NotificationDelivered", failing)
    assert delivered["channel"] == "LETTER"

    [suppressed] = of(events, "SmsSuppressed", flagged_before_retry)
    assert suppressed["reasons"] == ["RISK_FDV_IMMEDIATE_THREAT"] and suppressed["checked_at_send_time"]
    assert [s["attempt"] for s in fake.of("SmsDispatch", flagged_before_retry)] == [1]

    # A late receipt for the first SMS attempt changes nothing.
    late = DeliveryReceipted(
        delivery_id=sms_attempts[0]["delivery_id"],
        attempt=1,
        channel=Channel.SMS,
        status=DeliveryStatus.DELIVERED,
    )
    await n.mesh.send(RECEIPTS_TOPIC, envelope(late, failing))
    assert len(await n.events(12)) == 12


# ------------------------------------------------------------------------------ letters and e-mails


async def test_letters_and_e_mails_asked_for_by_other_services_are_rendered_dispatched_and_delivered_once(
    service: Callable[..., Awaitable[Notifications]],
) -> None:
    n = await service()
    csid, complaint_id, meeting_id = "600000001", uuid.uuid4(), uuid.uuid4()
    fake = await n.with_channel(lambda dispatch: [receipt(dispatch, DeliveryStatus.DELIVERED)] * 2)
    await n.customer(csid, "0444000001")
    await n.learnt(csid, has_mobile("0444000001"))

    def response(notification_id: uuid.UUID) -> SendLetter:
        return SendLetter(
            actor=CSO,
            notification_id=notification_id,
            purpose=Purpose.COMPLAINT_RESPONSE,
            template_id="complaint-l2-response",
            template_version=1,
            body="We have reviewed your complaint and corrected the assessment.",
            complaint_id=complaint_id,
        )

    first = response(uuid.uuid4())
    sent = envelope(first, csid)
    await n.mesh.send(COMMANDS, sent)
    await n.mesh.send(COMMANDS, sent)  # the same message redelivered: applied once
    await n.mesh.send(COMMANDS, envelope(first, csid))  # the same letter asked for again: nothing new
    await n.mesh.send(COMMANDS, envelope(response(uuid.uuid4()), csid))  # a reprint
    minutes = SendEmail(
        actor=CSO,
        notification_id=uuid.uuid4(),
        purpose=Purpose.MEETING_MINUTES,
        recipient=Recipient.OTHER,
        to_email="sam@example.org",
        to_name="Sam",
        template_id="meeting-minutes",
        template_version=1,
        template_data={"meeting_date": "12 March 2026"},
        meeting_id=meeting_id,
    )
    await n.mesh.send(COMMANDS, envelope(minutes, csid))
    free_form_msp_letter = envelope(
        SendLetter(actor=CSO, notification_id=uuid.uuid4(), purpose=Purpose.MSP_LETTER, body="Dear Jordan"),
        csid,
    )
    await n.mesh.send(COMMANDS, free_form_msp_letter)

    events = await n.events(3 + 3 + 1)
    assert sorted(types(events)) == sorted(
        ["NotificationDispatched"] * 3 + ["NotificationDelivered"] * 3 + ["NotificationsCommandRejected"]
    )
    [rejected] = of(events, "NotificationsCommandRejected")
    assert rejected["reason_code"] == "TEMPLATE_REQUIRED"
    assert rejected["rejected_message_id"] == str(free_form_msp_letter.message_id)
    letters = fake.of("LetterDispatch")
    assert len(letters) == 2 and letters[0]["body"].encode() == letters[1]["body"].encode()
    assert all((x["template_id"], x["template_version"]) == ("complaint-l2-response", 1) for x in letters)
    [email] = fake.of("EmailDispatch")
    assert (
        email["subject"] == "Minutes of your meeting on 12 March 2026"
        and email["to_email"] == "sam@example.org"
    )
    dispatched = of(events, "NotificationDispatched")
    assert {d["complaint_id"] for d in dispatched if d["channel"] == "LETTER"} == {str(complaint_id)}
    assert [d["meeting_id"] for d in dispatched if d["channel"] == "EMAIL"] == [str(meeting_id)]


# ------------------------------------------------------------------------------ the MSP record


async def test_an_msp_record_is_proposed_approved_in_two_stages_activated_and_read_with_its_history(
    service: Callable[..., Awaitable[Notifications]],
) -> None:
    """Issue 20 item 1 through the broker: the record's lifecycle, the SMS ahead of the letter
    (item 2), each contact's result on the record, and the read API."""
    port = free_port()
    n = await service(api_port=port)
    csid, msp_id = "200000021", uuid.uuid4()

    def channel(dispatch: Envelope) -> list[Event]:
        if dispatch.message_type == "PhoneTaskDispatch":
            return [
                PhoneTaskOutcomeReported(
                    delivery_id=dispatch.payload["delivery_id"],
                    attempt=dispatch.payload["attempt"],
                    outcome=PhoneOutcome.REACHED,
                    spoke_with=Recipient.CUSTOMER,
                    officer_id="EMP30117",
                )
            ]
        return [receipt(dispatch, DeliveryStatus.DELIVERED)]

    fake = await n.with_channel(channel)
    await n.customer(csid, "0412345678")
    restriction = ChannelRestriction(
        channel=ServiceChannel.PHONE, access=ChannelAccess.RESTRICTED, conditions="Only through the OMC."
    )
    proposal = ProposeMSP(
        actor=ADM,
        msp_id=msp_id,
        reasons_summary="Repeated threatening calls to the service centre on 3 and 5 March.",
        duration_days=180,
        review_after_days=150,
        channel_restrictions=(restriction,),
        contact_card=CARD,
    )
    await n.mesh.send(COMMANDS, envelope(proposal, csid))
    await n.learnt(csid, lambda s: str(msp_id) in s.get("msp_records", {}))
    for request, approver in ((uuid.uuid4(), "EMP40001"), (request_id(msp_id), "EMP40002")):
        accepted = ApprovalAccepted(
            request_id=request,
            subject_type=SubjectType.MSP,
            subject_id=str(msp_id),
            chain_id=str(msp_id),
            decided_by=ADM.model_copy(update={"officer_id": approver, "role": Role.SERVICE_MANAGER}),
            reason="Behaviour meets the MSP threshold.",
        )
        await n.mesh.send(APPROVALS, envelope(accepted, csid))
    await n.learnt(csid, lambda s: s["msp_records"][str(msp_id)]["status"] == "APPROVED")
    await n.learnt(csid, has_mobile("0412345678"))
    await n.start_msp(csid, msp_id)
    await fake.received_one("LetterDispatch")
    # Seed 002 step 2: the SMS goes ahead of the letter once the letter is on its way.
    await n.sms(csid, msp_id, circumstance=SmsCircumstance.CAPTURE_OMC_PSSO_NUMBER)

    def all_results(records: list[Record]) -> bool:
        return {r["step"] for r in of(records, "MSPContactResultRecorded")} == {"PHONE", "SMS", "LETTER"}

    # Read off the topic, not by polling the store: the record's projection is written before its
    # events are published.
    events = await n.mesh.read(EVENTS, 10, until=all_results)
    assert {"MSPProposed", "MSPApprovalStageAccepted", "MSPApproved", "MSPActivated"} <= set(types(events))

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        assert (await http.get(f"/customers/{csid}/msps/{msp_id}")).status_code == 401
        reader = bearer("EMP30117", Role.ONE_MAIN_CONTACT)
        answer = await http.get(f"/customers/{csid}/msps/{msp_id}", headers=reader)
        unknown = await http.get(f"/customers/{csid}/msps/{uuid.uuid4()}", headers=reader)
        listed = await http.get(f"/customers/{csid}/msps", headers=reader)
    assert answer.status_code == 200, answer.text
    record = answer.json()
    assert record["status"] == "ACTIVE" and record["channel_restrictions"][0]["access"] == "RESTRICTED"
    assert (record["letter"]["template_id"], record["letter"]["template_version"]) == ("msp-letter", 2)
    assert {(r["step"], r["outcome"]) for r in record["results"]} == {
        ("PHONE", "REACHED"),
        ("SMS", "DELIVERED"),
        ("LETTER", "DELIVERED"),
    }
    assert [a["approved_by"] for a in record["approvals"]] == ["EMP40001", "EMP40002"]
    assert record["history"][0]["what"] == "MSPProposed" and record["review_at"] < record["expires_at"]
    assert unknown.status_code == 404 and unknown.json()["reason_code"] == "UNKNOWN_MSP"
    assert [(m["msp_id"], m["in_force"]) for m in listed.json()["msps"]] == [(str(msp_id), True)]
