"""The CMA intake (seed 001 tables 1-3, issue 9) through the real broker and store."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from contracts.base import Actor, Message, Role
from contracts.catalogue.customers import CustomerRegistered
from contracts.catalogue.referrals import (
    CloseIntrayItem,
    ContactChannel,
    ContactParty,
    DecisionOption,
    DigitalService,
    FinaliseInteraction,
    FinaliseIssue,
    IdentifyPresentingIssue,
    MCAStatus,
    PaymentsPosition,
    RecategoriseIntrayItem,
    RecordCustomerContact,
    RecordIdentifiedError,
    RecordIncomeCheck,
    RecordMinimumCollectionActivityOutcome,
    RecordPaymentArrangement,
    RecordPaymentsAndDebtsCheck,
    RecordSelfServicePromotion,
)
from contracts.envelope import Envelope
from contracts.topics import CUSTOMERS_TOPIC, commands_topic, events_topic
from deploy.local.localinfra import free_port
from services.referrals.app import create_runtime
from services.referrals.settings import ReferralsSettings
from tests.conftest import Infra
from tests.support import Mesh, Record, bearer, envelope, payloads, types, wait_for

EVENTS = events_topic("referrals")
COMMANDS = commands_topic("referrals")
CSID = "310000001"


def actor(officer_id: str, team: str) -> Actor:
    return Actor(
        officer_id=officer_id, role=Role.CSO, first_name="Alex", site="Hobart", team=team, extension="1234"
    )


CSO = actor("CSO-1", "Mainstream 12")
SPECIALIST = actor("COA-1", "COA 2")


class Intake:
    """The referrals service started on a fresh mesh, driven as a front-line system would."""

    def __init__(self, mesh: Mesh, port: int) -> None:
        self.mesh = mesh
        self.http = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=bearer("READER-1", Role.CSO)
        )
        self.seen = 0

    async def register(self, csid: str = CSID) -> None:
        registered = CustomerRegistered(
            given_name="Jordan",
            family_name="Lee",
            is_international=False,
            is_centrelink_customer=True,
            site="Hobart",
            team="Mainstream 12",
        )
        await self.mesh.send(CUSTOMERS_TOPIC, envelope(registered, csid))

        async def known() -> bool:
            return (await self.http.get(f"/customers/{csid}/history")).status_code == 200

        await wait_for(known)

    async def send(self, *messages: Message, csid: str = CSID) -> list[Envelope]:
        sent = []
        for message in messages:
            env = envelope(message, csid)
            await self.mesh.send(COMMANDS, env)
            sent.append(env)
        return sent

    async def events(self, more: int) -> list[Record]:
        """The events published since the last call, once ``more`` new ones came (a record
        published twice — publishing is at least once — counts once, by its message id)."""
        before = self.seen
        self.seen += more

        def distinct(records: list[Record]) -> list[Record]:
            ids = [json.loads(r.value)["message_id"] for r in records]
            return [r for i, r in enumerate(records) if ids[i] not in ids[:i]]

        records = distinct(
            await self.mesh.read(
                EVENTS, self.seen, settle_s=0.5, until=lambda rs: len(distinct(rs)) >= self.seen
            )
        )
        assert len(records) == self.seen, types(records)
        return records[before:]

    async def customer(self, csid: str = CSID) -> dict[str, Any]:
        return dict((await self.http.get(f"/customers/{csid}/history")).json())


@pytest.fixture
async def intake(infra: Infra) -> AsyncIterator[Intake]:
    mesh = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    port = free_port()
    # Issue 20, locks restrict: the specialist's team speaks for the area the COA issue is locked to.
    settings = mesh.settings(
        ReferralsSettings, api_port=port, area_teams={"CHANGE_OF_ASSESSMENT": [SPECIALIST.team]}
    )
    await mesh.start(create_runtime(settings))
    service = Intake(mesh, port)
    yield service
    await service.http.aclose()
    await mesh.close()


def phone(contact_id: uuid.UUID) -> RecordCustomerContact:
    return RecordCustomerContact(
        actor=CSO,
        contact_id=contact_id,
        channel=ContactChannel.PHONE,
        party=ContactParty.CUSTOMER,
        received_in_area="MAINSTREAM",
        summary="Income and assessment query",
    )


def identify(contact_id: uuid.UUID, issue_id: uuid.UUID, code: str) -> IdentifyPresentingIssue:
    return IdentifyPresentingIssue(actor=CSO, contact_id=contact_id, issue_id=issue_id, issue_code=code)


def codes(records: list[Record]) -> list[str]:
    return [p["reason_code"] for p in payloads(records, "ReferralsCommandRejected")]


async def test_a_phone_contact_with_a_common_and_a_specialised_issue_is_handled_to_finalisation(
    intake: Intake,
) -> None:
    await intake.register()
    call, income_issue, coa_issue = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await intake.send(
        phone(call),
        identify(call, income_issue, "INCOME"),
        identify(call, coa_issue, "CHANGE_OF_ASSESSMENT"),
    )
    records = await intake.events(6)
    assert types(records) == [
        "CustomerContactRecorded",
        "PresentingIssueIdentified",
        "PresentingIssueIdentified",
        "SpecialisedIssueReferred",
        "CustomerLocked",
        "CustomerOwnershipAssigned",
    ]
    assert {r.key for r in records} == {CSID.encode()}
    classes = [(p["issue_code"], p["issue_class"]) for p in payloads(records, "PresentingIssueIdentified")]
    assert classes == [("INCOME", "COMMON"), ("CHANGE_OF_ASSESSMENT", "SPECIALISED")]
    assert payloads(records, "CustomerLocked")[0]["lock_to"]["area"] == "CHANGE_OF_ASSESSMENT"

    # The common issue is managed at the point of entry, with the Minimum Collection Activity.
    await intake.send(
        RecordIncomeCheck(actor=CSO, contact_id=call, income_reliable=True),
        RecordPaymentsAndDebtsCheck(
            actor=CSO, contact_id=call, position=PaymentsPosition.PAYEE_OWED, outcome="Collection explained"
        ),
        RecordSelfServicePromotion(actor=CSO, contact_id=call, services=(DigitalService.EXPRESS_PLUS_APP,)),
        FinaliseIssue(actor=CSO, issue_id=income_issue, customer_agrees=True, note="Income confirmed"),
        RecordMinimumCollectionActivityOutcome(
            actor=CSO, contact_id=call, status=MCAStatus.COMPLETED, summary="Income reliable; payee owed"
        ),
        FinaliseInteraction(actor=CSO, contact_id=call),
    )
    records = await intake.events(6)
    assert types(records) == [
        "IncomeCheckRecorded",
        "PaymentsAndDebtsCheckRecorded",
        "SelfServicePromotionRecorded",
        "IssueFinalised",
        "MinimumCollectionActivityOutcomeRecorded",
        "InteractionFinalised",
    ]
    assert payloads(records, "IssueFinalised")[0]["specialised_issues_outstanding"] == 1
    assert payloads(records, "InteractionFinalised")[0]["mca_status"] == "COMPLETED"
    customer = await intake.customer()
    assert customer["locked"] is True and customer["outstanding_issues"] == [str(coa_issue)]

    # The specialist area decides; the customer disagrees and is told their options; unlocked.
    await intake.send(
        FinaliseIssue(
            actor=SPECIALIST,
            issue_id=coa_issue,
            customer_agrees=False,
            options_explained=(DecisionOption.REVIEW, DecisionOption.OBJECTION),
        )
    )
    records = await intake.events(2)
    assert types(records) == ["IssueFinalised", "CustomerUnlocked"]
    finalised = payloads(records, "IssueFinalised")[0]
    assert finalised["options_explained"] == ["REVIEW", "OBJECTION"]
    assert finalised["specialised_issues_outstanding"] == 0
    customer = await intake.customer()
    assert customer["locked"] is False
    assert customer["open_contacts"] == [] and customer["outstanding_issues"] == []


async def test_correspondence_is_refused_closure_while_an_issue_it_raised_is_open_then_closed(
    intake: Intake,
) -> None:
    await intake.register()
    letter, item, coa_issue = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    close = CloseIntrayItem(actor=CSO, intray_item_id=item)
    await intake.send(
        RecordCustomerContact(
            actor=CSO,
            contact_id=letter,
            channel=ContactChannel.EMAIL,
            party=ContactParty.AUTHORISED_REPRESENTATIVE,
            received_in_area="MAINSTREAM",
            intray_item_id=item,
            intray_category="GENERAL",
        ),
        identify(letter, coa_issue, "CHANGE_OF_ASSESSMENT"),
    )
    await intake.events(6)
    (refused,) = await intake.send(close)
    records = await intake.events(1)
    refusal = payloads(records, "ReferralsCommandRejected")[0]
    assert refusal["reason_code"] == "INTRAY_ISSUES_OUTSTANDING"
    assert refusal["rejected_message_id"] == str(refused.message_id)
    assert (await intake.customer())["open_intray_items"] == [str(item)]

    await intake.send(
        RecategoriseIntrayItem(actor=CSO, intray_item_id=item, category="COA", reason="Asks for a COA"),
        # Correspondence with no MCA activity may be finalised without an MCA outcome.
        FinaliseInteraction(actor=CSO, contact_id=letter),
        FinaliseIssue(actor=SPECIALIST, issue_id=coa_issue, customer_agrees=True),
        close,
    )
    records = await intake.events(5)
    assert types(records) == [
        "IntrayItemRecategorised",
        "InteractionFinalised",
        "IssueFinalised",
        "CustomerUnlocked",
        "IntrayItemClosed",
    ]
    recategorised = payloads(records, "IntrayItemRecategorised")[0]
    assert (recategorised["from_category"], recategorised["to_category"], recategorised["reason"]) == (
        "GENERAL",
        "COA",
        "Asks for a COA",
    )
    assert payloads(records, "IntrayItemClosed")[0]["intray_item_id"] == str(item)
    customer = await intake.customer()
    assert customer["open_intray_items"] == []
    audit = [(h["event"], h["officer_id"], h["subject_id"]) for h in customer["history"]]
    assert ("IntrayItemRecategorised", "CSO-1", str(item)) in audit


async def test_a_payment_arrangement_is_refused_for_each_invalid_field(intake: Intake) -> None:
    await intake.register()
    call = uuid.uuid4()
    today = datetime.now(UTC).date()

    def arrangement(amount: int = 12_500, frequency: str = "FORTNIGHTLY", start: date | None = None) -> Any:
        return RecordPaymentArrangement(
            actor=CSO,
            contact_id=call,
            arrangement_id=uuid.uuid4(),
            amount_cents=amount,
            frequency=frequency,
            start_date=start or today + timedelta(days=14),
        )

    await intake.send(
        phone(call),
        arrangement(amount=0),
        arrangement(frequency="EVERY_SECOND_TUESDAY"),
        arrangement(start=today - timedelta(days=7)),
        arrangement(),
    )
    records = await intake.events(5)
    assert codes(records) == ["INVALID_AMOUNT", "UNKNOWN_FREQUENCY", "START_DATE_IN_PAST"]
    recorded = payloads(records, "PaymentArrangementRecorded")
    assert [(r["amount_cents"], r["frequency"]) for r in recorded] == [(12_500, "FORTNIGHTLY")]


async def test_a_call_is_refused_finalisation_without_its_mca_outcome(intake: Intake) -> None:
    await intake.register()
    call = uuid.uuid4()
    finalise = FinaliseInteraction(actor=CSO, contact_id=call)
    await intake.send(
        phone(call),
        finalise,
        RecordMinimumCollectionActivityOutcome(
            actor=CSO, contact_id=call, status=MCAStatus.COMPLETED, summary="Nothing checked"
        ),
        RecordMinimumCollectionActivityOutcome(
            actor=CSO, contact_id=call, status=MCAStatus.NOT_REQUIRED, summary="Private collection case"
        ),
        finalise,
    )
    records = await intake.events(5)
    assert codes(records) == ["MCA_OUTCOME_REQUIRED", "MCA_CHECKS_INCOMPLETE"]
    assert types(records)[-2:] == ["MinimumCollectionActivityOutcomeRecorded", "InteractionFinalised"]
    assert payloads(records, "InteractionFinalised")[0]["mca_status"] == "NOT_REQUIRED"


async def test_an_error_is_recorded_and_feedback_is_sent_to_the_officer_who_made_it(intake: Intake) -> None:
    await intake.register()
    call, error_id = uuid.uuid4(), uuid.uuid4()
    await intake.send(
        phone(call),
        RecordIdentifiedError(
            actor=CSO,
            contact_id=call,
            error_id=error_id,
            description="Income not updated after ATO notice",
            made_by_officer_id="EMP20931",
            feedback="Please check ATO notices at each contact.",
        ),
    )
    records = await intake.events(3)
    assert types(records) == ["CustomerContactRecorded", "IdentifiedErrorRecorded", "OfficerFeedbackSent"]
    feedback = json.loads(records[-1].value)
    assert feedback["producer"] == "referrals" and records[-1].key == CSID.encode()
    assert feedback["payload"]["error_id"] == str(error_id)
    assert feedback["payload"]["to_officer_id"] == "EMP20931"
    assert feedback["payload"]["actor"]["officer_id"] == "CSO-1"
