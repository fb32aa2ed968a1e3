"""The complaints service through the real broker and the real store (issue 6; seed 003).

Each test starts the service on fresh topics and its own database, sends commands as an upstream
system would, and reads what the service published — events on its events topic, ``SendLetter``
on notifications' commands topic — and what it stored.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from contracts.base import Message
from contracts.catalogue.complaints import (
    AddInvestigationStep,
    ComplaintCategory,
    ComplaintChannel,
    ComplimentSubject,
    InvestigationStepKind,
    IssueOutcome,
    RecordCompliment,
    RecordFinalisationSummary,
    RecordRemedy,
    RequestWrittenResponse,
)
from contracts.envelope import Envelope
from contracts.topics import commands_topic, deadletter_topic, events_topic
from services.complaints.app import create_runtime
from services.complaints.domain import derive_category, level_2_complaint_id
from services.complaints.settings import ComplaintsSettings
from services.complaints.spec import COLLECTION
from tests.conftest import Infra
from tests.support import Mesh, Record, envelope, payloads, types
from tests.unit.complaints.helpers_complaints import (
    ALEX,
    CSID,
    OFFICER,
    SAM,
    an_id,
    finalise,
    outcome,
    record_complaint,
)

U, N, W, E = IssueOutcome.UPHELD, IssueOutcome.NOT_UPHELD, IssueOutcome.WITHDRAWN, IssueOutcome.ESCALATED
COMMANDS = commands_topic("complaints")
EVENTS = events_topic("complaints")


class Complaints:
    """The complaints service in a mesh of one, with a client that speaks for one customer."""

    def __init__(self, mesh: Mesh, mongo: AsyncMongoClient[dict[str, Any]]) -> None:
        self.mesh = mesh
        self.mongo = mongo
        self.settings: ComplaintsSettings = mesh.settings(ComplaintsSettings)

    async def start(self, **overrides: Any) -> Complaints:
        for name, value in overrides.items():
            setattr(self.settings, name, value)
        self.runtime = await self.mesh.start(create_runtime(self.settings))
        return self

    async def send(self, *commands: Message) -> list[Envelope]:
        sent = [envelope(command, CSID) for command in commands]
        for env in sent:
            await self.mesh.send(COMMANDS, env)
        return sent

    async def events(self, count: int) -> list[Record]:
        """The first ``count`` distinct events, in order (more would fail the tests' comparisons)."""
        return await self.read(EVENTS, count)

    async def read(self, topic: str, count: int) -> list[Record]:
        """Distinct records of a topic: publishing is at least once, so a consumer drops an event
        whose message id it has seen — and so do these tests."""
        records = await self.mesh.read(topic, count, until=lambda got: len(distinct(got)) >= count)
        return distinct(records)

    async def stored(self) -> dict[str, Any]:
        doc = await self.mongo[self.settings.mongodb_database][COLLECTION].find_one({"_id": CSID})
        assert doc is not None
        state: dict[str, Any] = doc["state"]
        return state


@pytest.fixture
async def complaints(infra: Infra, mongo: AsyncMongoClient[dict[str, Any]]) -> AsyncIterator[Complaints]:
    mesh = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    try:
        yield Complaints(mesh, mongo)
    finally:
        await mesh.close()


def distinct(records: list[Record]) -> list[Record]:
    seen: set[str] = set()
    out = []
    for record in records:
        message_id = body(record)["message_id"]
        if message_id not in seen:
            seen.add(message_id)
            out.append(record)
    return out


def body(record: Record) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(record.value)
    return value


async def test_a_complaint_is_recorded_with_its_plan_in_order_and_its_handling_form_text_stored(
    complaints: Complaints,
) -> None:
    await complaints.start()
    complaint = record_complaint(issues=2, staff=(SAM,))
    kinds = [
        InvestigationStepKind.CALL_RECORDINGS_ACCESSED,
        InvestigationStepKind.CONSULTED_TEAM_LEADER,
        InvestigationStepKind.CASE_SYSTEM_INVESTIGATION,
    ]
    steps = [
        AddInvestigationStep(
            actor=OFFICER,
            complaint_id=complaint.complaint_id,
            step_id=an_id(f"step {n}"),
            kind=kind,
            description=f"step {n}",
            staff_referenced=(ALEX,),
        )
        for n, kind in enumerate(kinds)
    ]
    summary = RecordFinalisationSummary(
        actor=OFFICER, complaint_id=complaint.complaint_id, summary="Apologised."
    )
    (recorded, *_) = await complaints.send(complaint, *steps, summary)
    # Staff are referenced by first name, site, team and extension only: a surname is refused
    # at the door and the record goes to dead letters.
    with_surname = json.loads(envelope(record_complaint(an_id("surname")), CSID).to_bytes())
    with_surname["payload"]["staff_involved"][0]["surname"] = "Nguyen"
    await complaints.mesh.send(COMMANDS, json.dumps(with_surname).encode(), key=CSID)

    events = await complaints.events(5)
    (dead,) = await complaints.mesh.read(deadletter_topic("complaints"), 1)

    assert types(events) == [
        "ComplaintRecorded",
        "InvestigationStepAdded",
        "InvestigationStepAdded",
        "InvestigationStepAdded",
        "ComplaintFinalisationSummaryRecorded",
    ]
    assert [(p["sequence"], p["kind"]) for p in payloads(events, "InvestigationStepAdded")] == [
        (n, kind.value) for n, kind in enumerate(kinds, start=1)
    ]
    first = body(events[0])
    assert events[0].key == CSID.encode() and first["causation_id"] == str(recorded.message_id)
    assert first["producer"] == "complaints"
    assert dict(dead.headers)["x-reason-code"] == b"schema_violation"
    stored = await complaints.stored()
    (kept,) = stored["complaints"]
    assert kept["handling_form_text"] == complaint.handling_form_text
    assert [s["kind"] for s in kept["investigation_plan"]] == [k.value for k in kinds]
    assert kept["staff_involved"] == [SAM.model_dump(mode="json")]
    assert kept["finalisation_summary"] == "Apologised."


async def test_the_category_is_derived_once_every_issue_has_an_outcome_and_re_derived_when_one_changes(
    complaints: Complaints,
) -> None:
    await complaints.start()
    complaint = record_complaint(issues=3)
    sent = await complaints.send(
        complaint,
        outcome(complaint, 0, U),
        outcome(complaint, 1, N),
        outcome(complaint, 2, W),
        outcome(complaint, 1, U),
    )
    await complaints.mesh.send(COMMANDS, sent[-1])  # delivered twice: applied once

    events = await complaints.events(7)

    assert types(events) == [
        "ComplaintRecorded",
        "ComplaintIssueOutcomeRecorded",
        "ComplaintIssueOutcomeRecorded",
        "ComplaintIssueOutcomeRecorded",
        "ComplaintCategoryDerived",
        "ComplaintIssueOutcomeRecorded",
        "ComplaintCategoryDerived",
    ]
    derived = payloads(events, "ComplaintCategoryDerived")
    assert [d["category"] for d in derived] == ["PARTIALLY_UPHELD", "UPHELD"]
    assert list(derived[-1]["issue_outcomes"].values()) == ["UPHELD", "UPHELD", "WITHDRAWN"]
    assert payloads(events, "ComplaintIssueOutcomeRecorded")[-1]["previous_outcome"] == "NOT_UPHELD"
    # The category is not stored: rebuilt from the stored outcomes, it is the last one derived.
    (kept,) = (await complaints.stored())["complaints"]
    assert "category" not in kept
    rebuilt = derive_category([IssueOutcome(i["outcome"]) for i in kept["issues"]])
    assert rebuilt.value == derived[-1]["category"]
    assert complaints.runtime.metrics.duplicates._value.get() == 1


async def test_refusals_come_back_with_their_reason_codes_and_change_nothing(complaints: Complaints) -> None:
    await complaints.start(remedies=("APOLOGY", "GOODWILL_GESTURE"))
    level_2 = record_complaint(an_id("level 2"), issues=1, level=2)
    level_1 = record_complaint(an_id("level 1"), issues=2)
    sent = await complaints.send(
        level_2,
        outcome(level_2, 0, E),  # Level 2 issues cannot be escalated
        level_1,
        outcome(level_1, 0, U),
        finalise(level_1.complaint_id),  # one issue has no outcome yet
        RecordRemedy(actor=OFFICER, complaint_id=level_1.complaint_id, remedy="FINANCIAL_REMEDY"),
        RecordRemedy(actor=OFFICER, complaint_id=level_1.complaint_id, remedy="GOODWILL_GESTURE"),
    )

    events = await complaints.events(7)

    assert types(events) == [
        "ComplaintRecorded",
        "ComplaintsCommandRejected",
        "ComplaintRecorded",
        "ComplaintIssueOutcomeRecorded",
        "ComplaintsCommandRejected",
        "ComplaintsCommandRejected",
        "ComplaintRemedyRecorded",
    ]
    refused = payloads(events, "ComplaintsCommandRejected")
    assert [r["reason_code"] for r in refused] == [
        "ESCALATION_NOT_ALLOWED_AT_LEVEL_2",
        "OUTCOMES_INCOMPLETE",
        "REMEDY_NOT_IN_LIST",  # in the default list, not in this service's configured one
    ]
    assert [(r["rejected_message_id"], r["rejected_message_type"]) for r in refused] == [
        (str(sent[1].message_id), "RecordIssueOutcome"),
        (str(sent[4].message_id), "FinaliseComplaint"),
        (str(sent[5].message_id), "RecordRemedy"),
    ]
    kept = {c["complaint_id"]: c for c in (await complaints.stored())["complaints"]}
    assert kept[str(level_2.complaint_id)]["issues"][0]["outcome"] is None
    assert kept[str(level_1.complaint_id)]["finalised_at"] is None
    assert [r["remedy"] for r in kept[str(level_1.complaint_id)]["remedies"]] == ["GOODWILL_GESTURE"]


async def test_escalating_a_level_1_complaint_opens_a_linked_level_2_whose_written_response_is_a_letter(
    complaints: Complaints,
) -> None:
    await complaints.start()
    complaint = record_complaint(issues=2)
    level_2_id = level_2_complaint_id(complaint.complaint_id)
    level_2 = complaint.model_copy(update={"complaint_id": level_2_id, "issues": complaint.issues[1:]})

    def letter(complaint_id: object, name: str) -> RequestWrittenResponse:
        return RequestWrittenResponse(
            actor=OFFICER,
            complaint_id=complaint_id,  # type: ignore[arg-type]
            notification_id=an_id(name),
            template_id="complaint-l2-response",
            template_version=2,
        )

    sent = await complaints.send(
        complaint,
        outcome(complaint, 0, N),
        outcome(complaint, 1, E),
        finalise(complaint.complaint_id),
        letter(complaint.complaint_id, "level 1 letter"),  # refused: Level 1
        outcome(level_2, 0, E),  # refused: the opened complaint is Level 2
        outcome(level_2, 0, N),
        letter(level_2_id, "level 2 letter"),
    )

    events = await complaints.events(12)
    (send_letter,) = await complaints.read(commands_topic("notifications"), 1)

    assert (
        types(events)
        == [
            "ComplaintRecorded",
            "ComplaintIssueOutcomeRecorded",
            "ComplaintIssueOutcomeRecorded",
            "ComplaintCategoryDerived",
            "ComplaintFinalised",
            "ComplaintEscalated",
            "ComplaintRecorded",
            "ComplaintsCommandRejected",
            "ComplaintsCommandRejected",
            "ComplaintIssueOutcomeRecorded",
            "ComplaintCategoryDerived",
            "WrittenResponseRequested",
        ][: len(events)]
        and len(events) == 12
    )
    (escalated,) = payloads(events, "ComplaintEscalated")
    assert escalated == {"complaint_id": str(complaint.complaint_id), "level_2_complaint_id": str(level_2_id)}
    opened = payloads(events, "ComplaintRecorded")[1]
    assert (opened["complaint_id"], opened["level"], opened["escalated_from_complaint_id"]) == (
        str(level_2_id),
        2,
        str(complaint.complaint_id),
    )
    assert [i["issue_id"] for i in opened["issues"]] == [str(complaint.issues[1].issue_id)]
    assert [r["reason_code"] for r in payloads(events, "ComplaintsCommandRejected")] == [
        "WRITTEN_RESPONSE_ONLY_FOR_LEVEL_2",
        "ESCALATION_NOT_ALLOWED_AT_LEVEL_2",
    ]
    assert payloads(events, "ComplaintCategoryDerived")[-1]["category"] == "NOT_UPHELD"
    # The letter is asked of notifications on its commands topic, in the same flow.
    request = body(send_letter)
    assert request["message_type"] == "SendLetter" and request["producer"] == "complaints"
    assert request["causation_id"] == str(sent[-1].message_id) and send_letter.key == CSID.encode()
    assert {
        k: request["payload"][k] for k in ("notification_id", "purpose", "complaint_id", "template_id")
    } == {
        "notification_id": str(an_id("level 2 letter")),
        "purpose": "COMPLAINT_RESPONSE",
        "complaint_id": str(level_2_id),
        "template_id": "complaint-l2-response",
    }
    kept = {c["complaint_id"]: c for c in (await complaints.stored())["complaints"]}
    assert kept[str(complaint.complaint_id)]["level_2_complaint_id"] == str(level_2_id)
    assert kept[str(level_2_id)]["escalated_from_complaint_id"] == str(complaint.complaint_id)


async def test_feedback_is_prepared_for_each_staff_members_team_leader_only_when_the_complaint_is_upheld(
    complaints: Complaints,
) -> None:
    # Seed 003 table 1 step 4 "Prepare feedback": "If the complaint is upheld" — not when it is
    # partially upheld or not upheld. The upheld complaint comes last, so feedback from either of
    # the others would show in the sequence of types.
    await complaints.start()
    partly = record_complaint(an_id("partly upheld"), issues=2, staff=(SAM, ALEX))
    not_upheld = record_complaint(an_id("not upheld"), issues=1, staff=(SAM,))
    upheld = record_complaint(an_id("upheld"), issues=2, staff=(SAM, ALEX))
    await complaints.send(
        partly,
        outcome(partly, 0, U),
        outcome(partly, 1, N),
        finalise(partly.complaint_id),
        not_upheld,
        outcome(not_upheld, 0, N),
        finalise(not_upheld.complaint_id),
        upheld,
        outcome(upheld, 0, U),
        outcome(upheld, 1, W),
        finalise(upheld.complaint_id),
    )

    events = await complaints.events(16)

    assert types(events) == [
        "ComplaintRecorded",
        "ComplaintIssueOutcomeRecorded",
        "ComplaintIssueOutcomeRecorded",
        "ComplaintCategoryDerived",
        "ComplaintFinalised",
        "ComplaintRecorded",
        "ComplaintIssueOutcomeRecorded",
        "ComplaintCategoryDerived",
        "ComplaintFinalised",
        "ComplaintRecorded",
        "ComplaintIssueOutcomeRecorded",
        "ComplaintIssueOutcomeRecorded",
        "ComplaintCategoryDerived",
        "ComplaintFinalised",
        "StaffFeedbackPrepared",
        "StaffFeedbackPrepared",
    ]
    finalised = payloads(events, "ComplaintFinalised")
    assert [(f["complaint_id"], f["category"]) for f in finalised] == [
        (str(partly.complaint_id), ComplaintCategory.PARTIALLY_UPHELD.value),
        (str(not_upheld.complaint_id), ComplaintCategory.NOT_UPHELD.value),
        (str(upheld.complaint_id), ComplaintCategory.UPHELD.value),
    ]
    feedback = payloads(events, "StaffFeedbackPrepared")
    assert [(f["complaint_id"], f["staff_member"]["first_name"], f["category"]) for f in feedback] == [
        (str(upheld.complaint_id), "Sam", "UPHELD"),
        (str(upheld.complaint_id), "Alex", "UPHELD"),
    ]
    assert feedback[0]["staff_member"] == SAM.model_dump(mode="json")


async def test_compliments_are_recorded_as_communications_and_forwarded_to_the_staff_member_and_team_leader(
    complaints: Complaints,
) -> None:
    await complaints.start()

    def compliment(name: str, about: ComplimentSubject, **fields: Any) -> RecordCompliment:
        return RecordCompliment(
            actor=OFFICER,
            compliment_id=an_id(name),
            about=about,
            channel=ComplaintChannel.PHONE,
            details="Thank you.",
            **fields,
        )

    await complaints.send(
        compliment("staff", ComplimentSubject.STAFF_MEMBER, staff_member=SAM),
        compliment("team", ComplimentSubject.TEAM, team="Mainstream 4"),
        compliment("service", ComplimentSubject.SERVICE),
        compliment("nobody", ComplimentSubject.STAFF_MEMBER),
    )

    events = await complaints.events(6)

    assert types(events) == [
        "ComplimentRecorded",
        "ComplimentForwarded",
        "ComplimentRecorded",
        "ComplimentForwarded",
        "ComplimentRecorded",
        "ComplaintsCommandRejected",
    ]
    forwarded = payloads(events, "ComplimentForwarded")
    assert [(f["staff_member"], f["team"]) for f in forwarded] == [
        (SAM.model_dump(mode="json"), "Mainstream 12"),
        (None, "Mainstream 4"),
    ]
    assert payloads(events, "ComplaintsCommandRejected")[0]["reason_code"] == "STAFF_MEMBER_REQUIRED"
    assert [c["about"] for c in (await complaints.stored())["compliments"]] == [
        "STAFF_MEMBER",
        "TEAM",
        "SERVICE",
    ]
