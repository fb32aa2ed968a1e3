"""The complaints rules as pure decisions (issue 6; seed 003): no broker, no store, no clock."""

from __future__ import annotations

import pytest
from helpers_complaints import (
    ALEX,
    NOW,
    OFFICER,
    SAM,
    Run,
    an_id,
    finalise,
    of_type,
    outcome,
    record_complaint,
    refusal,
)
from pydantic import ValidationError

from contracts.catalogue.channels import Purpose
from contracts.catalogue.complaints import (
    AddInvestigationStep,
    ComplaintCategory,
    ComplaintCategoryDerived,
    ComplaintChannel,
    ComplaintEscalated,
    ComplaintFinalisationSummaryRecorded,
    ComplaintFinalised,
    ComplaintIssueInput,
    ComplaintIssueOutcomeRecorded,
    ComplaintLevel,
    ComplaintRecorded,
    ComplaintRemedyRecorded,
    ComplaintsReasonCode,
    ComplimentForwarded,
    ComplimentRecorded,
    ComplimentSubject,
    InvestigationStepAdded,
    InvestigationStepKind,
    IssueOutcome,
    RecordComplaint,
    RecordCompliment,
    RecordFinalisationSummary,
    RecordRemedy,
    RequestWrittenResponse,
    StaffFeedbackPrepared,
    WrittenResponseRequested,
)
from contracts.catalogue.notifications import SendLetter
from contracts.topics import topic_of
from services.complaints.domain import level_2_complaint_id
from services.complaints.settings import DEFAULT_REMEDIES, ComplaintsSettings
from services.complaints.spec import decide

U, N, W, E = IssueOutcome.UPHELD, IssueOutcome.NOT_UPHELD, IssueOutcome.WITHDRAWN, IssueOutcome.ESCALATED


def step(complaint: RecordComplaint, name: str, kind: InvestigationStepKind) -> AddInvestigationStep:
    return AddInvestigationStep(
        actor=OFFICER,
        complaint_id=complaint.complaint_id,
        step_id=an_id(name),
        kind=kind,
        description=f"{name}: done",
        staff_referenced=(ALEX,),
    )


def remedy(complaint: RecordComplaint, code: str) -> RecordRemedy:
    return RecordRemedy(actor=OFFICER, complaint_id=complaint.complaint_id, remedy=code)


def written_response(complaint_id: object, notification: str = "letter") -> RequestWrittenResponse:
    return RequestWrittenResponse(
        actor=OFFICER,
        complaint_id=complaint_id,  # type: ignore[arg-type]
        notification_id=an_id(notification),
        template_id="complaint-l2-response",
        template_version=1,
    )


def compliment(about: ComplimentSubject, **fields: object) -> RecordCompliment:
    return RecordCompliment(
        actor=OFFICER,
        compliment_id=fields.pop("compliment_id", an_id("compliment")),  # type: ignore[arg-type]
        about=about,
        channel=ComplaintChannel.PHONE,
        details="Sam was patient and clear.",
        **fields,  # type: ignore[arg-type]
    )


def decided(run: Run, complaint: RecordComplaint, *outcomes: IssueOutcome) -> None:
    run(*(outcome(complaint, n, value) for n, value in enumerate(outcomes)))


# --------------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------------


def test_a_recorded_complaint_keeps_its_details_issues_staff_and_handling_form_text() -> None:
    run = Run()
    complaint = record_complaint(issues=3, staff=(SAM, ALEX))

    (event,) = run(complaint)

    assert isinstance(event, ComplaintRecorded)
    assert event.level is ComplaintLevel.LEVEL_1 and event.escalated_from_complaint_id is None
    assert [i.issue_id for i in event.issues] == [i.issue_id for i in complaint.issues]
    assert (
        event.handling_form_text
        == complaint.handling_form_text
        == run.current.complaints[0].handling_form_text
    )
    assert run.current.complaints[0].staff_involved == (SAM, ALEX)
    assert run.current.complaints[0].recorded_by == event.actor == OFFICER
    assert run.current.complaints[0].recorded_at == run.clock, "stamped with the time it was decided"


def test_staff_are_referenced_without_a_surname() -> None:
    body = record_complaint().model_dump(mode="json")
    body["staff_involved"][0]["surname"] = "Nguyen"
    with pytest.raises(ValidationError):
        RecordComplaint.model_validate(body)


def test_a_complaint_id_is_recorded_once() -> None:
    run = Run()
    run(record_complaint())
    assert refusal(run(record_complaint())).reason_code is ComplaintsReasonCode.COMPLAINT_ALREADY_RECORDED
    assert len(run.current.complaints) == 1


def test_two_issues_with_one_id_are_refused() -> None:
    complaint = record_complaint(issues=1)
    twice = complaint.model_copy(update={"issues": (*complaint.issues, complaint.issues[0])})
    run = Run()
    rejected = refusal(run(twice))
    assert rejected.reason_code is ComplaintsReasonCode.DUPLICATE_ISSUE
    assert rejected.complaint_id == complaint.complaint_id and rejected.attempted_by == OFFICER
    assert run.state is None, "a refusal changes nothing"


def test_the_investigation_plan_keeps_its_steps_in_the_order_they_were_added() -> None:
    run = Run()
    complaint = record_complaint()
    run(complaint)
    kinds = [
        InvestigationStepKind.CALL_RECORDINGS_ACCESSED,
        InvestigationStepKind.CONSULTED_SERVICE_SUPPORT_OFFICER,
        InvestigationStepKind.CONSULTED_TEAM_LEADER,
        InvestigationStepKind.CONSULTED_SPECIALIST_AREA,
        InvestigationStepKind.CUSTOMER_CONTACT,
        InvestigationStepKind.CASE_SYSTEM_INVESTIGATION,
    ]
    run(*(step(complaint, f"step-{n}", kind) for n, kind in enumerate(kinds)))

    added = of_type(run.events, InvestigationStepAdded)
    assert [(e.sequence, e.kind) for e in added] == list(enumerate(kinds, start=1))
    plan = run.current.complaints[0].investigation_plan
    assert [s.kind for s in plan] == kinds and plan[0].staff_referenced == (ALEX,)
    again = refusal(run(step(complaint, "step-0", InvestigationStepKind.CUSTOMER_CONTACT)))
    assert again.reason_code is ComplaintsReasonCode.DUPLICATE_INVESTIGATION_STEP


def test_commands_about_an_unknown_complaint_or_issue_are_refused() -> None:
    run = Run()
    stranger = record_complaint(an_id("never recorded"))
    assert refusal(run(outcome(stranger, 0, U))).reason_code is ComplaintsReasonCode.UNKNOWN_COMPLAINT
    assert refusal(run(finalise(stranger.complaint_id))).reason_code is ComplaintsReasonCode.UNKNOWN_COMPLAINT
    complaint = record_complaint(issues=1)
    run(complaint)
    other_issue = outcome(complaint, 0, U).model_copy(update={"issue_id": an_id("no such issue")})
    assert refusal(run(other_issue)).reason_code is ComplaintsReasonCode.UNKNOWN_ISSUE


# --------------------------------------------------------------------------------------------
# Outcomes and the category
# --------------------------------------------------------------------------------------------


def test_the_category_is_derived_once_every_issue_has_an_outcome_never_before() -> None:
    run = Run()
    complaint = record_complaint(issues=3)
    run(complaint)

    first = run(outcome(complaint, 0, U, "call-back was promised and missed"))
    second = run(outcome(complaint, 1, N))
    third = run(outcome(complaint, 2, W))

    assert [type(e) for e in first] == [ComplaintIssueOutcomeRecorded]
    assert [type(e) for e in second] == [ComplaintIssueOutcomeRecorded]
    recorded, derived = third
    assert isinstance(recorded, ComplaintIssueOutcomeRecorded) and recorded.previous_outcome is None
    assert isinstance(derived, ComplaintCategoryDerived)
    assert derived.category is ComplaintCategory.PARTIALLY_UPHELD
    assert list(derived.issue_outcomes.values()) == [U, N, W]
    assert run.current.complaints[0].issues[0].outcome_reason == "call-back was promised and missed"


def test_changing_an_outcome_while_open_re_derives_the_category() -> None:
    run = Run()
    complaint = record_complaint(issues=2)
    run(complaint)
    decided(run, complaint, U, N)

    recorded, derived = run(outcome(complaint, 1, U))

    assert isinstance(recorded, ComplaintIssueOutcomeRecorded) and recorded.previous_outcome is N
    assert isinstance(derived, ComplaintCategoryDerived) and derived.category is ComplaintCategory.UPHELD
    assert [type(e) for e in run(outcome(complaint, 1, U))] == [ComplaintIssueOutcomeRecorded], (
        "the same outcome again gives nothing new to derive"
    )


def test_a_level_2_complaint_refuses_an_escalated_outcome() -> None:
    run = Run()
    complaint = record_complaint(issues=1, level=2)
    run(complaint)
    before = run.state

    rejected = refusal(run(outcome(complaint, 0, E)))

    assert rejected.reason_code is ComplaintsReasonCode.ESCALATION_NOT_ALLOWED_AT_LEVEL_2
    assert rejected.complaint_id == complaint.complaint_id
    assert run.state is before


def test_a_complaint_is_finalised_only_once_every_issue_has_an_outcome() -> None:
    run = Run()
    complaint = record_complaint(issues=2)
    run(complaint, outcome(complaint, 0, U))
    assert (
        refusal(run(finalise(complaint.complaint_id))).reason_code is ComplaintsReasonCode.OUTCOMES_INCOMPLETE
    )

    run(outcome(complaint, 1, N))
    finalised, *_ = run(finalise(complaint.complaint_id))

    assert (
        isinstance(finalised, ComplaintFinalised) and finalised.category is ComplaintCategory.PARTIALLY_UPHELD
    )
    assert not run.current.complaints[0].is_open


def test_a_finalised_complaint_changes_no_more() -> None:
    run = Run()
    complaint = record_complaint(issues=1)
    run(complaint, outcome(complaint, 0, N), finalise(complaint.complaint_id))

    for command in (
        outcome(complaint, 0, U),
        finalise(complaint.complaint_id),
        step(complaint, "late", InvestigationStepKind.CUSTOMER_CONTACT),
        RecordFinalisationSummary(actor=OFFICER, complaint_id=complaint.complaint_id, summary="late"),
        remedy(complaint, "APOLOGY"),
    ):
        assert refusal(run(command)).reason_code is ComplaintsReasonCode.COMPLAINT_FINALISED
    assert run.current.complaints[0].category is ComplaintCategory.NOT_UPHELD


# --------------------------------------------------------------------------------------------
# Escalation
# --------------------------------------------------------------------------------------------


def test_finalising_an_escalated_level_1_complaint_opens_a_linked_level_2_complaint() -> None:
    run = Run()
    complaint = record_complaint(issues=3)
    run(complaint)
    decided(run, complaint, U, E, E)

    finalised, escalated, opened = run(finalise(complaint.complaint_id))

    assert isinstance(finalised, ComplaintFinalised) and finalised.category is ComplaintCategory.ESCALATED
    level_2_id = level_2_complaint_id(complaint.complaint_id)
    assert isinstance(escalated, ComplaintEscalated)
    assert (escalated.complaint_id, escalated.level_2_complaint_id) == (complaint.complaint_id, level_2_id)
    assert isinstance(opened, ComplaintRecorded)
    assert opened.complaint_id == level_2_id and opened.level is ComplaintLevel.LEVEL_2
    assert opened.escalated_from_complaint_id == complaint.complaint_id
    assert [i.issue_id for i in opened.issues] == [i.issue_id for i in complaint.issues[1:]], (
        "the Level 2 complaint takes the escalated issues"
    )
    level_1, level_2 = run.current.complaints
    assert level_1.level_2_complaint_id == level_2_id and level_2.category is None and level_2.is_open
    assert level_2.handling_form_text == complaint.handling_form_text


def test_the_level_2_complaint_opened_by_escalation_is_decided_as_level_2() -> None:
    run = Run()
    complaint = record_complaint(issues=1)
    run(complaint, outcome(complaint, 0, E), finalise(complaint.complaint_id))
    level_2_id = level_2_complaint_id(complaint.complaint_id)
    issue_id = complaint.issues[0].issue_id
    as_level_2 = complaint.model_copy(update={"complaint_id": level_2_id})

    assert refusal(run(outcome(as_level_2, 0, E))).reason_code is (
        ComplaintsReasonCode.ESCALATION_NOT_ALLOWED_AT_LEVEL_2
    )
    _, derived = run(outcome(as_level_2, 0, U))
    assert isinstance(derived, ComplaintCategoryDerived) and derived.issue_outcomes == {str(issue_id): U}
    events = run(finalise(level_2_id))
    assert [type(e) for e in events] == [ComplaintFinalised, StaffFeedbackPrepared]


def test_an_escalated_outcome_changed_before_finalising_opens_nothing() -> None:
    run = Run()
    complaint = record_complaint(issues=1, staff=())
    run(complaint, outcome(complaint, 0, E), outcome(complaint, 0, N))

    events = run(finalise(complaint.complaint_id))

    assert [type(e) for e in events] == [ComplaintFinalised]
    assert len(run.current.complaints) == 1


# --------------------------------------------------------------------------------------------
# Feedback, remedies, written responses
# --------------------------------------------------------------------------------------------


def finalised_with(*outcomes: IssueOutcome) -> tuple[ComplaintCategory, list[StaffFeedbackPrepared]]:
    """The category and the feedback when a complaint about Sam and Alex is finalised with ``outcomes``."""
    run = Run()
    complaint = record_complaint(issues=len(outcomes), staff=(SAM, ALEX))
    run(
        complaint,
        RecordFinalisationSummary(actor=OFFICER, complaint_id=complaint.complaint_id, summary="x" * 900),
    )
    decided(run, complaint, *outcomes)
    events = run(finalise(complaint.complaint_id))
    assert isinstance(events[0], ComplaintFinalised)
    return events[0].category, of_type(events, StaffFeedbackPrepared)


# Seed 003 table 1 step 4 "Prepare feedback": "If the complaint is upheld".
@pytest.mark.parametrize("outcomes", [(U, U), (U, W), (U,)])
def test_an_upheld_complaint_prepares_feedback_for_each_staff_members_team_leader(
    outcomes: tuple[IssueOutcome, ...],
) -> None:
    category, prepared = finalised_with(*outcomes)

    assert category is ComplaintCategory.UPHELD
    assert [p.staff_member for p in prepared] == [SAM, ALEX]
    assert {p.category for p in prepared} == {ComplaintCategory.UPHELD}
    assert prepared[0].summary is not None and len(prepared[0].summary) == 500, "shortened to fit"


@pytest.mark.parametrize(
    ("outcomes", "category"),
    [
        ((N, N), ComplaintCategory.NOT_UPHELD),
        ((N, W), ComplaintCategory.NOT_UPHELD),
        ((W, W), ComplaintCategory.WITHDRAWN),
        ((U, E), ComplaintCategory.ESCALATED),
    ],
)
def test_a_complaint_not_upheld_withdrawn_or_escalated_prepares_no_feedback(
    outcomes: tuple[IssueOutcome, ...], category: ComplaintCategory
) -> None:
    assert finalised_with(*outcomes) == (category, [])


@pytest.mark.parametrize("outcomes", [(U, N), (U, N, W), (N, U, U)])
def test_a_partially_upheld_complaint_prepares_no_feedback_because_the_seed_asks_only_when_upheld(
    outcomes: tuple[IssueOutcome, ...],
) -> None:
    assert finalised_with(*outcomes) == (ComplaintCategory.PARTIALLY_UPHELD, [])


def test_the_finalisation_summary_is_recorded_and_can_be_replaced_while_open() -> None:
    run = Run()
    complaint = record_complaint()
    run(complaint)
    for text in ("first", "Apologised; call-back process explained."):
        (event,) = run(
            RecordFinalisationSummary(actor=OFFICER, complaint_id=complaint.complaint_id, summary=text)
        )
        assert isinstance(event, ComplaintFinalisationSummaryRecorded) and event.summary == text
    assert run.current.complaints[0].finalisation_summary == "Apologised; call-back process explained."


def test_a_remedy_comes_from_the_configured_list() -> None:
    run = Run(remedies=("APOLOGY", "GOODWILL_GESTURE"))
    complaint = record_complaint()
    run(complaint)

    (apology,) = run(remedy(complaint, "APOLOGY"))
    (gesture,) = run(remedy(complaint, "GOODWILL_GESTURE"))
    refused = refusal(run(remedy(complaint, "FINANCIAL_REMEDY")))  # in the default list, not this one

    assert isinstance(apology, ComplaintRemedyRecorded) and isinstance(gesture, ComplaintRemedyRecorded)
    assert refused.reason_code is ComplaintsReasonCode.REMEDY_NOT_IN_LIST
    assert [r.remedy for r in run.current.complaints[0].remedies] == ["APOLOGY", "GOODWILL_GESTURE"]


def test_the_default_remedies_are_the_issues_examples_and_the_list_is_configurable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (
        ComplaintsSettings().remedies
        == DEFAULT_REMEDIES
        == (
            "APOLOGY",
            "EXPLANATION",
            "DECISION_REVIEWED",
            "ACTION_EXPEDITED",
            "FINANCIAL_REMEDY",
        )
    )
    monkeypatch.setenv("CASEMESH_COMPLAINTS_REMEDIES", '["APOLOGY", "REFUND_OF_FEE"]')
    assert ComplaintsSettings().remedies == ("APOLOGY", "REFUND_OF_FEE")
    monkeypatch.setenv("CASEMESH_COMPLAINTS_REMEDIES", '["APOLOGY", "APOLOGY"]')
    with pytest.raises(ValidationError):
        ComplaintsSettings()


def test_a_level_2_complaint_needing_a_written_response_asks_notifications_for_a_letter() -> None:
    run = Run()
    complaint = record_complaint(level=2)
    run(complaint)

    requested, letter = run(written_response(complaint.complaint_id))

    assert isinstance(requested, WrittenResponseRequested) and requested.notification_id == an_id("letter")
    assert isinstance(letter, SendLetter)
    assert topic_of(letter).name == "casemesh.notifications.commands.v1"
    assert letter.purpose is Purpose.COMPLAINT_RESPONSE and letter.complaint_id == complaint.complaint_id
    assert (letter.notification_id, letter.template_id, letter.template_version) == (
        an_id("letter"),
        "complaint-l2-response",
        1,
    )
    assert letter.actor == OFFICER
    assert run(written_response(complaint.complaint_id)) == [], "the same letter is asked for once"


def test_a_written_response_is_refused_for_a_level_1_complaint() -> None:
    run = Run()
    complaint = record_complaint(level=1)
    run(complaint)
    rejected = refusal(run(written_response(complaint.complaint_id)))
    assert rejected.reason_code is ComplaintsReasonCode.WRITTEN_RESPONSE_ONLY_FOR_LEVEL_2


def test_a_finalised_level_2_complaint_can_still_ask_for_its_written_response() -> None:
    run = Run()
    complaint = record_complaint(issues=1, level=2)
    run(complaint, outcome(complaint, 0, N), finalise(complaint.complaint_id))
    assert [type(e) for e in run(written_response(complaint.complaint_id))] == [
        WrittenResponseRequested,
        SendLetter,
    ]


# --------------------------------------------------------------------------------------------
# Compliments
# --------------------------------------------------------------------------------------------


def test_a_compliment_about_a_staff_member_is_recorded_and_forwarded_to_them_and_their_team_leader() -> None:
    run = Run()
    recorded, forwarded = run(compliment(ComplimentSubject.STAFF_MEMBER, staff_member=SAM))
    assert isinstance(recorded, ComplimentRecorded) and recorded.staff_member == SAM
    assert isinstance(forwarded, ComplimentForwarded)
    assert (forwarded.staff_member, forwarded.team) == (SAM, SAM.team)
    assert run.current.compliments[0].details == "Sam was patient and clear."


def test_a_compliment_about_a_team_goes_to_its_team_leader_and_one_about_the_service_is_recorded_only() -> (
    None
):
    run = Run()
    _, forwarded = run(compliment(ComplimentSubject.TEAM, team="Mainstream 12"))
    assert isinstance(forwarded, ComplimentForwarded)
    assert (forwarded.staff_member, forwarded.team) == (None, "Mainstream 12")
    service = run(compliment(ComplimentSubject.SERVICE, compliment_id=an_id("service")))
    assert [type(e) for e in service] == [ComplimentRecorded]


def test_a_compliment_names_who_it_is_about_and_is_recorded_once() -> None:
    run = Run()
    no_staff = refusal(run(compliment(ComplimentSubject.STAFF_MEMBER)))
    no_team = refusal(run(compliment(ComplimentSubject.TEAM)))
    run(compliment(ComplimentSubject.SERVICE))
    twice = refusal(run(compliment(ComplimentSubject.SERVICE)))
    assert no_staff.reason_code is ComplaintsReasonCode.STAFF_MEMBER_REQUIRED
    assert no_team.reason_code is ComplaintsReasonCode.TEAM_REQUIRED
    assert twice.reason_code is ComplaintsReasonCode.DUPLICATE_COMPLIMENT
    assert len(run.current.compliments) == 1


# --------------------------------------------------------------------------------------------
# Purity
# --------------------------------------------------------------------------------------------


def test_deciding_the_same_command_on_the_same_state_gives_the_same_result() -> None:
    complaint = record_complaint(issues=2)
    first = decide(None, complaint, NOW, remedies=DEFAULT_REMEDIES)
    again = decide(None, complaint, NOW, remedies=DEFAULT_REMEDIES)
    assert first == again
    state = first[0]
    assert decide(state, finalise(complaint.complaint_id), NOW, remedies=()) == decide(
        state, finalise(complaint.complaint_id), NOW, remedies=()
    )


def test_a_level_2_complaint_can_be_recorded_directly() -> None:
    run = Run()
    complaint = RecordComplaint(
        actor=OFFICER,
        complaint_id=an_id("direct level 2"),
        level=ComplaintLevel.LEVEL_2,
        channel=ComplaintChannel.LETTER,
        issues=(ComplaintIssueInput(issue_id=an_id("i"), category="DECISION", issue="ASSESSMENT"),),
        details="Asks for a review of the Level 1 outcome.",
        handling_form_text="COMPLAINT HANDLING",
    )
    (event,) = run(complaint)
    assert isinstance(event, ComplaintRecorded) and event.level is ComplaintLevel.LEVEL_2
