"""Personalised Services end to end: the referrals and approvals services, started separately, talk
only through topics (seed 000 tables 1-6, issue 4) — the whole path and each branch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from contracts.base import Actor, Message, Role
from contracts.catalogue.approvals import Decision, RecordApprovalDecision
from contracts.catalogue.customers import CustomerRegistered
from contracts.catalogue.referrals import (
    ActionTransferOutOfPS,
    AddPSStackingDocumentNote,
    AssignCustomerToPS,
    CoreIssueInput,
    CreatePSStackingDocument,
    MarkCMPForApproval,
    PSReferralType,
    RecordCMP,
    ReferCustomerForTransferOutOfPS,
    StackingDocumentOrigin,
    TriggerDetailsInput,
)
from contracts.topics import CUSTOMERS_TOPIC, commands_topic, events_topic
from deploy.local.localinfra import free_port
from services.approvals.app import create_runtime as create_approvals
from services.approvals.settings import ApprovalsSettings
from services.referrals.app import create_runtime as create_referrals
from services.referrals.settings import ReferralsSettings
from tests.conftest import Infra
from tests.support import Mesh, bearer, envelope, wait_for

TEAM = "PS Team 1"
REFERRALS_EVENTS = events_topic("referrals")
APPROVALS_EVENTS = events_topic("approvals")


def actor(officer_id: str, role: Role, team: str = TEAM) -> Actor:
    return Actor(
        officer_id=officer_id, role=role, first_name="Alex", site="Hobart", team=team, extension="1234"
    )


MANAGER = actor("SM-1", Role.SERVICE_MANAGER, "PS Managers")
SERVICE_OFFICER = actor("EMP1", Role.PS_SERVICE_OFFICER)
CSO = actor("CSO-1", Role.CSO)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class Seen:
    topic: str
    csid: str
    message_type: str
    payload: dict[str, Any]


class Watcher:
    """Reads both services' events topics as they are written, so each step waits only for its own."""

    def __init__(self, mesh: Mesh) -> None:
        self.mesh = mesh
        self.seen: list[Seen] = []
        self.consumer = AIOKafkaConsumer(
            mesh.topic(REFERRALS_EVENTS),
            mesh.topic(APPROVALS_EVENTS),
            **mesh.options(),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for record in self.consumer:
            body = json.loads(record.value)
            base = record.topic.removesuffix(self.mesh.suffix)
            self.seen.append(Seen(base, body["csid"], body["message_type"], body["payload"]))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.consumer.stop()

    def of(self, csid: str, topic: str = REFERRALS_EVENTS) -> list[str]:
        return [s.message_type for s in self.seen if s.csid == csid and s.topic == topic]

    async def next(
        self, csid: str, message_type: str, nth: int = 1, topic: str = REFERRALS_EVENTS
    ) -> dict[str, Any]:
        """The ``nth`` ``message_type`` event about ``csid`` on ``topic``, waiting for it."""

        def found() -> list[Seen]:
            return [s for s in self.seen if (s.topic, s.csid, s.message_type) == (topic, csid, message_type)]

        async def arrived() -> bool:
            return len(found()) >= nth

        await wait_for(arrived, timeout_s=30)
        return found()[nth - 1].payload


class PS:
    """The two services as staff and the customer system drive them."""

    def __init__(self, mesh: Mesh, watcher: Watcher, referrals_port: int, approvals_port: int) -> None:
        self.mesh = mesh
        self.watch = watcher
        # Staff screens call the services' API ports with the officer's token (issue 16).
        self.referrals = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{referrals_port}", headers=bearer("OFF-9", Role.CSO)
        )
        self.approvals = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{approvals_port}", headers=bearer("SM-1", Role.SERVICE_MANAGER)
        )

    async def register(self, csid: str, international: bool = False) -> None:
        registered = CustomerRegistered(
            given_name="Jordan",
            family_name="Lee",
            is_international=international,
            is_centrelink_customer=True,
            site="Hobart",
            team="Mainstream 12",
        )
        await self.mesh.send(CUSTOMERS_TOPIC, envelope(registered, csid))

        async def known() -> bool:
            return (await self.referrals.get(f"/customers/{csid}/history")).status_code == 200

        await wait_for(known)

    async def to_referrals(self, csid: str, message: Message) -> None:
        await self.mesh.send(commands_topic("referrals"), envelope(message, csid))

    async def decide(
        self, csid: str, request_id: str, decision: Decision, by: Actor = MANAGER, days: int | None = None
    ) -> None:
        """The Service Manager decides on their Actions List, i.e. through the approvals service."""
        command = RecordApprovalDecision(
            actor=by,
            request_id=uuid.UUID(request_id),
            decision=decision,
            reason="Considered",
            monitoring_days=days,
        )
        await self.mesh.send(commands_topic("approvals"), envelope(command, csid))

    async def manager_work_list(self) -> list[dict[str, Any]]:
        response = await self.approvals.get("/work-lists/SERVICE_MANAGER/SM-1")
        assert response.status_code == 200
        actions: list[dict[str, Any]] = response.json()["actions"]
        return actions

    async def history(self, csid: str) -> dict[str, Any]:
        response = await self.referrals.get(f"/customers/{csid}/history")
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    # -- steps that every path shares

    async def assign(self, csid: str) -> str:
        referral_id = uuid.uuid4()
        command = AssignCustomerToPS(
            actor=MANAGER,
            referral_id=referral_id,
            referral_type=PSReferralType.OTHER,
            team=TEAM,
            officer_id=None,
        )
        await self.to_referrals(csid, command)
        assigned = await self.watch.next(csid, "CustomerAssignedToPS")
        assert assigned["referral_id"] == str(referral_id) and assigned["auto_assigned"] is True
        return str(referral_id)

    async def record_and_mark_cmp(self, csid: str, referral_id: str, version: int = 1) -> str:
        cmp = RecordCMP(
            actor=SERVICE_OFFICER,
            referral_id=uuid.UUID(referral_id),
            core_issue=CoreIssueInput(internal_referral_type=PSReferralType.OTHER),
            trigger=TriggerDetailsInput(segment="HIGH_CONFLICT", issue="Repeated escalations across areas"),
        )
        await self.to_referrals(csid, cmp)
        assert (await self.watch.next(csid, "CMPRecorded", version))["cmp_version"] == version
        await self.to_referrals(csid, MarkCMPForApproval(actor=CSO, referral_id=uuid.UUID(referral_id)))
        marked = await self.watch.next(csid, "CMPMarkedForApproval", version)
        requested = await self.watch.next(csid, "ApprovalRequested", version, topic=APPROVALS_EVENTS)
        assert requested["request_id"] == marked["approval_request_id"] and requested["subject_type"] == "CMP"
        request_id: str = marked["approval_request_id"]
        return request_id

    async def plan_active(self, csid: str) -> str:
        referral_id = await self.assign(csid)
        request_id = await self.record_and_mark_cmp(csid, referral_id)
        await self.decide(csid, request_id, Decision.ACCEPT)
        accepted = await self.watch.next(csid, "CMPAccepted")
        assert accepted["actor"]["officer_id"] == "SM-1"
        return referral_id

    async def monitored(self, csid: str, referral_id: str) -> dict[str, Any]:
        await self.to_referrals(
            csid,
            ReferCustomerForTransferOutOfPS(actor=CSO, referral_id=uuid.UUID(referral_id), reason="Resolved"),
        )
        referred = await self.watch.next(csid, "TransferOutOfPSReferred")
        await self.decide(csid, referred["approval_request_id"], Decision.ACCEPT, days=90)
        return await self.watch.next(csid, "TransferMonitoringStarted")

    async def actioned(self, csid: str, referral_id: str) -> str:
        await self.to_referrals(csid, ActionTransferOutOfPS(actor=CSO, referral_id=uuid.UUID(referral_id)))
        actioned = await self.watch.next(csid, "TransferOutOfPSActioned")
        requested = await self.watch.next(csid, "ApprovalRequested", 3, topic=APPROVALS_EVENTS)
        assert requested["subject_type"] == "TRANSFER"
        request_id: str = actioned["approval_request_id"]
        return request_id


@pytest.fixture
async def ps(infra: Infra) -> AsyncIterator[tuple[PS, Clock]]:
    mesh = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    clock = Clock()
    referrals_port, approvals_port = free_port(), free_port()
    approvals = mesh.settings(ApprovalsSettings, api_port=approvals_port)
    referrals = mesh.settings(
        ReferralsSettings, api_port=referrals_port, timer_interval_s=0.2, ps_teams={TEAM: ["EMP1", "EMP2"]}
    )
    # Two services, started separately, sharing nothing but the broker (each its own database).
    await mesh.start(create_approvals(approvals))
    await mesh.start(create_referrals(referrals, clock))
    watcher = Watcher(mesh)
    await watcher.start()
    driver = PS(mesh, watcher, referrals_port, approvals_port)
    try:
        yield driver, clock
    finally:
        await driver.referrals.aclose()
        await driver.approvals.aclose()
        await watcher.stop()
        await mesh.close()


MAIN, CMP_REJECTED, TRANSFER_REJECTED, EXPIRING = "500000001", "500000002", "500000003", "500000004"


async def whole_path(ps: PS) -> None:
    """referral → assignment → CMP → marked for approval → accepted → stacking document → transfer
    referral → monitoring accepted → transfer actioned → accepted."""
    csid = MAIN
    await ps.register(csid, international=True)
    referral_id = await ps.plan_active(csid)

    # Seed 000 table 4: the international customer's stacking document comes from the international notes.
    document_id = uuid.uuid4()
    document = CreatePSStackingDocument(
        actor=CSO,
        referral_id=uuid.UUID(referral_id),
        document_id=document_id,
        origin=StackingDocumentOrigin.INTERNATIONAL_NOTES,
        origin_record_id="PLT-0042-77",
        notes="Customer agreed to PS.",
    )
    await ps.to_referrals(csid, document)
    created = await ps.watch.next(csid, "PSStackingDocumentCreated")
    assert (
        created["communication_type"],
        created["communication_reason"],
        created["communication_category"],
    ) == (
        "PHONE_OUT",
        "PERS SERVICES",
        "PS CUSTOMER CONTACT",
    )
    assert created["communication_issue"] is None
    assert (created["origin"], created["origin_record_id"]) == ("INTERNATIONAL_NOTES", "PLT-0042-77")
    await ps.to_referrals(csid, AddPSStackingDocumentNote(actor=CSO, document_id=document_id, text="Called"))
    assert (await ps.watch.next(csid, "PSStackingDocumentNoteAdded"))["text"] == "Called"

    started = await ps.monitored(csid, referral_id)
    assert started["monitoring_days"] == 90
    assert (await ps.history(csid))["in_ps"] is True, "the customer stays in PS while monitored"
    request_id = await ps.actioned(csid, referral_id)
    await ps.decide(csid, request_id, Decision.ACCEPT)
    out = await ps.watch.next(csid, "CustomerTransferredOutOfPS")
    assert out["officer_open_ps_customers"] >= 0 and out["actor"]["officer_id"] == "SM-1"
    for n in (1, 2, 3):
        await ps.watch.next(csid, "ApprovalSubjectClosed", n, topic=APPROVALS_EVENTS)

    assert ps.watch.of(csid) == [
        "CustomerAssignedToPS",
        "CustomerOwnershipAssigned",
        "CMPRecorded",
        "CMPMarkedForApproval",
        "CMPAccepted",
        "PSStackingDocumentCreated",
        "PSStackingDocumentNoteAdded",
        "TransferOutOfPSReferred",
        "TransferMonitoringStarted",
        "TransferOutOfPSActioned",
        "CustomerTransferredOutOfPS",
    ]
    approvals = ps.watch.of(csid, APPROVALS_EVENTS)
    assert approvals[:6] == [
        "ApprovalRequested",
        "ApprovalAccepted",
        "ApprovalRequested",
        "ApprovalAccepted",
        "ApprovalRequested",
        "ApprovalAccepted",
    ]
    assert sorted(approvals[6:]) == ["ApprovalSubjectClosed"] * 3
    history = await ps.history(csid)
    assert history["in_ps"] is False and history["ps_officer_id"] is None
    assert [h["event"] for h in history["history"]][-1] == "CustomerTransferredOutOfPS"


async def cmp_rejected(ps: PS) -> None:
    csid = CMP_REJECTED
    await ps.register(csid)
    referral_id = await ps.assign(csid)
    request_id = await ps.record_and_mark_cmp(csid, referral_id)
    # Segregation of duties: the CSO who marked the CMP cannot accept it as Service Manager.
    await ps.decide(csid, request_id, Decision.ACCEPT, by=actor("CSO-1", Role.SERVICE_MANAGER))
    refusal = await ps.watch.next(csid, "DecisionRejected", topic=APPROVALS_EVENTS)
    assert refusal["reason_code"] == "SELF_APPROVAL"
    await ps.decide(csid, request_id, Decision.REJECT)
    returned = await ps.watch.next(csid, "CMPReturnedToRecording")
    assert returned["decision_reason"] == "Considered"
    assert (await ps.history(csid))["stage"] == "CMP_RETURNED"
    # Back to recording: version 2 is recorded, marked and accepted.
    second = await ps.record_and_mark_cmp(csid, referral_id, version=2)
    assert second != request_id
    await ps.decide(csid, second, Decision.ACCEPT)
    assert (await ps.watch.next(csid, "CMPAccepted"))["cmp_version"] == 2


async def transfer_rejected(ps: PS) -> None:
    csid = TRANSFER_REJECTED
    await ps.register(csid)
    referral_id = await ps.plan_active(csid)
    await ps.monitored(csid, referral_id)
    request_id = await ps.actioned(csid, referral_id)
    await ps.decide(csid, request_id, Decision.REJECT)
    await ps.watch.next(csid, "TransferOutOfPSDeclined")
    history = await ps.history(csid)
    assert history["in_ps"] is True and history["stage"] == "PLAN_ACTIVE", "the customer stays active in PS"


async def test_the_whole_ps_path_and_its_rejection_branches_through_both_services(
    ps: tuple[PS, Clock],
) -> None:
    driver, _ = ps
    await asyncio.gather(whole_path(driver), cmp_rejected(driver), transfer_rejected(driver))
    assert driver.watch.of(CMP_REJECTED).count("CustomerTransferredOutOfPS") == 0
    assert "CustomerTransferredOutOfPS" not in driver.watch.of(TRANSFER_REJECTED)


async def test_monitoring_that_runs_out_puts_the_case_on_the_service_managers_work_list(
    ps: tuple[PS, Clock],
) -> None:
    driver, clock = ps
    csid = EXPIRING
    await driver.register(csid)
    referral_id = await driver.plan_active(csid)
    started = await driver.monitored(csid, referral_id)

    # Ninety days pass (an injected clock) without the transfer being actioned: the durable timer fires.
    clock.now += timedelta(days=91)
    expired = await driver.watch.next(csid, "TransferMonitoringExpired")
    assert expired["monitoring_ends_at"] == started["monitoring_ends_at"]
    assert expired["work_list_role"] == "SERVICE_MANAGER" and expired["actor"]["role"] == "SYSTEM"
    requested = await driver.watch.next(csid, "ApprovalRequested", 3, topic=APPROVALS_EVENTS)
    assert requested["subject_type"] == "MONITORING_EXPIRY"
    assert requested["request_id"] == expired["approval_request_id"]
    history = await driver.history(csid)
    assert history["in_ps"] is True and history["stage"] == "MONITORING_EXPIRED"

    async def listed() -> bool:
        return [a["request_id"] for a in await driver.manager_work_list()] == [expired["approval_request_id"]]

    await wait_for(listed)
    item = (await driver.manager_work_list())[0]
    assert (item["csid"], item["subject_type"], item["subject_id"]) == (
        csid,
        "MONITORING_EXPIRY",
        referral_id,
    )

    # The Service Manager decides from the work list: the transfer proceeds.
    await driver.decide(csid, expired["approval_request_id"], Decision.ACCEPT)
    await driver.watch.next(csid, "CustomerTransferredOutOfPS")
    assert (await driver.history(csid))["in_ps"] is False

    async def cleared() -> bool:
        return await driver.manager_work_list() == []

    await wait_for(cleared)
    assert driver.watch.of(csid).count("TransferMonitoringExpired") == 1
