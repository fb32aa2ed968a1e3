"""The referrals service through the real broker and store (approvals played by the test)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from contracts.base import Actor, Message, Role
from contracts.catalogue.approvals import ApprovalAccepted, SubjectType
from contracts.catalogue.customers import CustomerRegistered
from contracts.catalogue.referrals import (
    AssignCustomerToPS,
    CoreIssueInput,
    CreatePSStackingDocument,
    LockCustomer,
    LockTargetInput,
    LockTargetKind,
    MarkCMPForApproval,
    PSReferralType,
    RecordCMP,
    StackingDocumentOrigin,
    TriggerDetailsInput,
    UnlockCustomer,
)
from contracts.envelope import Envelope
from contracts.topics import CUSTOMERS_TOPIC, commands_topic, events_topic
from deploy.local.localinfra import free_port
from kit.runtime import ServiceRuntime
from services.referrals.app import create_runtime
from services.referrals.settings import ReferralsSettings
from tests.conftest import Infra
from tests.support import Mesh, bearer, envelope, payloads, types, wait_for

TEAM = "PS Team 1"
TEAMS = {TEAM: ["EMP1", "EMP2", "EMP3"]}
EVENTS = events_topic("referrals")
COMMANDS = commands_topic("referrals")
A, B, C, D, E, F = "300000001", "300000002", "300000003", "300000004", "300000005", "300000006"


def actor(officer_id: str, role: Role, team: str = TEAM) -> Actor:
    return Actor(
        officer_id=officer_id, role=role, first_name="Alex", site="Hobart", team=team, extension="1234"
    )


MANAGER = actor("SM-1", Role.SERVICE_MANAGER, "PS Managers")
CSO = actor("CSO-1", Role.CSO)


@pytest.fixture
async def mesh(infra: Infra) -> AsyncIterator[Mesh]:
    m = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    yield m
    await m.close()


class Referrals:
    def __init__(self, mesh: Mesh, runtime: ServiceRuntime, port: int) -> None:
        self.mesh = mesh
        self.runtime = runtime
        # The history is served on the API port to any officer with a verified token.
        self.http = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=bearer("READER-1", Role.CSO)
        )
        self.seen = 0

    async def register(self, *csids: str, international: bool = False) -> None:
        for csid in csids:
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
            codes = [(await self.http.get(f"/customers/{c}/history")).status_code for c in csids]
            return codes == [200] * len(csids)

        await wait_for(known)

    async def command(self, message: Message, csid: str) -> Envelope:
        env = envelope(message, csid)
        await self.mesh.send(COMMANDS, env)
        return env

    async def events(self, more: int) -> list[Any]:
        """All events so far, once ``more`` new ones came."""
        self.seen += more
        return await self.mesh.read(EVENTS, self.seen, settle_s=0.5)


@pytest.fixture
async def referrals(mesh: Mesh) -> AsyncIterator[Referrals]:
    port = free_port()
    settings = mesh.settings(ReferralsSettings, api_port=port, ps_teams=TEAMS)
    runtime = await mesh.start(create_runtime(settings))
    service = Referrals(mesh, runtime, port)
    yield service
    await service.http.aclose()


def assign(officer_id: str | None = None, associate_of: str | None = None) -> AssignCustomerToPS:
    return AssignCustomerToPS(
        actor=MANAGER,
        referral_id=uuid.uuid4(),
        referral_type=PSReferralType.ASSOCIATE if associate_of else PSReferralType.OTHER,
        associate_of_csid=associate_of,
        team=TEAM,
        officer_id=officer_id,
    )


async def test_assignment_balances_caseloads_and_refuses_each_invalid_referral_with_its_reason(
    referrals: Referrals,
) -> None:
    unknown = await referrals.command(assign(), "399999999")
    records = await referrals.events(1)
    refusal = payloads(records, "ReferralsCommandRejected")[0]
    assert refusal["reason_code"] == "UNKNOWN_CUSTOMER"
    assert refusal["rejected_message_id"] == str(unknown.message_id)
    assert records[0].key == b"399999999"

    await referrals.register(A, B, C, E, F)
    await referrals.command(assign("EMP1"), A)
    await referrals.events(2)  # assigned + PS takes ownership
    await referrals.command(assign(), B)
    await referrals.events(2)
    await referrals.command(assign(), C)
    records = await referrals.events(2)
    assigned = payloads(records, "CustomerAssignedToPS")
    assert [(a["officer_id"], a["auto_assigned"], a["officer_open_ps_customers"]) for a in assigned] == [
        ("EMP1", False, 1),
        ("EMP2", True, 1),  # EMP2 and EMP3 tie on 0: the lower officer id wins
        ("EMP3", True, 1),
    ]

    await referrals.command(assign(), A)  # already in PS
    await referrals.command(assign("EMP9"), E)  # not in the team
    await referrals.command(assign(associate_of=F), E)  # F is not in PS
    records = await referrals.events(3)
    codes = [p["reason_code"] for p in payloads(records, "ReferralsCommandRejected")]
    assert codes == ["UNKNOWN_CUSTOMER", "ALREADY_IN_PS", "OFFICER_NOT_IN_TEAM", "ASSOCIATE_NOT_IN_PS"]

    await referrals.command(assign(associate_of=A), E)  # A is in PS
    records = await referrals.events(2)
    associate = payloads(records, "CustomerAssignedToPS")[-1]
    assert associate["referral_type"] == "ASSOCIATE" and associate["officer_id"] == "EMP1"

    history = (await referrals.http.get(f"/customers/{A}/history")).json()
    assert history["in_ps"] is True and history["ps_officer_id"] == "EMP1" and history["stage"] == "ASSIGNED"
    assert [h["event"] for h in history["history"]] == [
        "CustomerAssignedToPS",
        "CustomerOwnershipAssigned",
        "ReferralsCommandRejected",
    ]
    assert (await referrals.http.get("/customers/123456000/history")).status_code == 404


async def test_a_cmp_marked_for_approval_becomes_a_request_to_approvals_and_its_acceptance_activates_the_plan(
    referrals: Referrals,
) -> None:
    await referrals.register(A)
    command = assign("EMP2")
    referral_id = command.referral_id
    await referrals.command(command, A)
    await referrals.events(2)
    cmp = RecordCMP(
        actor=CSO,
        referral_id=referral_id,
        core_issue=CoreIssueInput(internal_referral_type=PSReferralType.OTHER),
        trigger=TriggerDetailsInput(segment="HIGH_CONFLICT", issue="Repeated escalations"),
    )
    await referrals.command(cmp, A)
    await referrals.command(MarkCMPForApproval(actor=CSO, referral_id=referral_id), A)
    records = await referrals.events(2)
    marked = payloads(records, "CMPMarkedForApproval")[0]

    requests = await referrals.mesh.read(commands_topic("approvals"), 1)
    assert types(requests) == ["RequestApproval"] and requests[0].key == A.encode()
    request = json.loads(requests[0].value)
    assert request["producer"] == "referrals" and request["causation_id"] is not None
    assert request["payload"]["request_id"] == marked["approval_request_id"]
    assert request["payload"]["subject_type"] == "CMP"
    assert request["payload"]["required_role"] == "SERVICE_MANAGER"

    # The test plays approvals: the Service Manager accepted.
    decision = ApprovalAccepted(
        request_id=uuid.UUID(marked["approval_request_id"]),
        subject_type=SubjectType.CMP,
        subject_id=str(referral_id),
        chain_id=str(referral_id),
        decided_by=MANAGER,
        reason="Sound plan",
    )
    await referrals.mesh.send(events_topic("approvals"), envelope(decision, A))
    records = await referrals.events(1)
    assert types(records)[-1] == "CMPAccepted"
    history = (await referrals.http.get(f"/customers/{A}/history")).json()
    assert history["stage"] == "PLAN_ACTIVE"


async def test_an_issue_needing_both_parents_locks_both_and_unlocking_waits_for_specialised_issues(
    referrals: Referrals,
) -> None:
    await referrals.register(A, B)
    issue = uuid.uuid4()
    lock = LockCustomer(
        actor=CSO,
        issue_id=issue,
        lock_to=LockTargetInput(kind=LockTargetKind.OFFICER, officer_id="CSO-1"),
        reason="Needs both parents' evidence",
        other_parent_csid=B,
    )
    await referrals.command(lock, A)
    records = await referrals.events(2)
    locked = [
        (r.key, json.loads(r.value)["payload"])
        for r in records
        if json.loads(r.value)["message_type"] == "CustomerLocked"
    ]
    assert {key for key, _ in locked} == {A.encode(), B.encode()}
    assert all(p["lock_to"] == {"kind": "OFFICER", "officer_id": "CSO-1", "area": None} for _, p in locked)
    assert all(p["issue_id"] == str(issue) for _, p in locked)

    area_lock = LockCustomer(
        actor=CSO,
        issue_id=uuid.uuid4(),
        lock_to=LockTargetInput(kind=LockTargetKind.SPECIALIST_AREA, area="OBJECTIONS"),
        reason="Objection lodged",
    )
    await referrals.command(area_lock, A)
    await referrals.command(UnlockCustomer(actor=CSO, reason="Done"), A)
    await referrals.command(UnlockCustomer(actor=CSO, reason="Done"), B)
    records = await referrals.events(4)
    tail = [(r.key, json.loads(r.value)["message_type"]) for r in records[-4:]]
    assert (A.encode(), "CustomerOwnershipAssigned") in tail and (B.encode(), "CustomerUnlocked") in tail
    refusal = payloads(records, "ReferralsCommandRejected")[0]
    assert refusal["reason_code"] == "SPECIALISED_ISSUES_OUTSTANDING"


async def test_the_cmp_core_issue_must_match_the_referral_and_date_an_existing_stacking_document(
    referrals: Referrals,
) -> None:
    # Issue 20 item 6 (seed 000 table 2): "Record the Core Issue, and Trigger".
    await referrals.register(A)
    command = assign("EMP2")
    referral_id = command.referral_id
    await referrals.command(command, A)
    await referrals.events(2)

    def cmp(referral_type: PSReferralType, dated: date | None) -> RecordCMP:
        return RecordCMP(
            actor=CSO,
            referral_id=referral_id,
            core_issue=CoreIssueInput(
                description="Disputes every assessment",
                internal_referral_type=referral_type,
                stacking_document_date=dated,
            ),
            trigger=TriggerDetailsInput(segment="HIGH_CONFLICT", issue="Repeated escalations"),
        )

    document = CreatePSStackingDocument(
        actor=CSO,
        referral_id=referral_id,
        document_id=uuid.uuid4(),
        origin=StackingDocumentOrigin.CASEMESH,
        notes="Customer agreed to PS.",
    )
    await referrals.command(cmp(PSReferralType.ASSOCIATE, None), A)
    await referrals.command(document, A)
    records = await referrals.events(2)
    created = json.loads(records[-1].value)
    assert created["message_type"] == "PSStackingDocumentCreated"
    agency_day = (
        datetime.fromisoformat(created["occurred_at"]).astimezone(ZoneInfo("Australia/Sydney")).date()
    )

    await referrals.command(cmp(PSReferralType.OTHER, agency_day - timedelta(days=1)), A)
    await referrals.command(cmp(PSReferralType.OTHER, agency_day), A)
    records = await referrals.events(2)
    codes = [p["reason_code"] for p in payloads(records, "ReferralsCommandRejected")]
    assert codes == ["REFERRAL_TYPE_MISMATCH", "UNKNOWN_DOCUMENT"]
    recorded = payloads(records, "CMPRecorded")[0]
    assert recorded["core_issue"] == {
        "description": "Disputes every assessment",
        "internal_referral_type": "OTHER",
        "stacking_document_date": agency_day.isoformat(),
    }
    assert recorded["trigger"] == {"segment": "HIGH_CONFLICT", "issue": "Repeated escalations"}


async def test_a_lock_refused_on_the_other_parent_releases_the_first_and_only_the_lock_holder_unlocks(
    referrals: Referrals,
) -> None:
    # Issue 20 item 7 (seed 001 table 2 step 8): both parents locked, or neither.
    await referrals.register(C, D)
    issue = uuid.uuid4()

    def lock(other_parent: str | None = None) -> LockCustomer:
        return LockCustomer(
            actor=CSO,
            issue_id=issue,
            lock_to=LockTargetInput(kind=LockTargetKind.OFFICER, officer_id="CSO-1"),
            reason="Needs both parents' evidence",
            other_parent_csid=other_parent,
        )

    await referrals.command(lock(), D)  # D is already locked for the issue
    await referrals.events(1)
    await referrals.command(lock(other_parent=D), C)
    records = await referrals.events(4)
    tail = [(r.key, json.loads(r.value)["message_type"]) for r in records[-4:]]
    assert tail == [
        (C.encode(), "CustomerLocked"),
        (D.encode(), "ReferralsCommandRejected"),
        (C.encode(), "CustomerLockReleased"),
        (C.encode(), "CustomerUnlocked"),
    ]
    assert payloads(records, "ReferralsCommandRejected")[-1]["reason_code"] == "ALREADY_LOCKED"
    released = payloads(records, "CustomerLockReleased")[0]
    assert released["other_parent_csid"] == D and "ALREADY_LOCKED" in released["reason"]
    releases = [r for r in await referrals.mesh.read(COMMANDS, 0, settle_s=0.5) if r.key == C.encode()]
    assert "ReleaseParentLock" in types(releases)

    # Locks restrict (seed 001): D is locked to CSO-1, and only CSO-1 unlocks them.
    await referrals.command(UnlockCustomer(actor=actor("CSO-2", Role.CSO), reason="Done"), D)
    await referrals.command(UnlockCustomer(actor=CSO, reason="Done"), D)
    records = await referrals.events(2)
    assert payloads(records, "ReferralsCommandRejected")[-1]["reason_code"] == "NOT_OWNER"
    assert types(records[-1:]) == ["CustomerUnlocked"] and records[-1].key == D.encode()
