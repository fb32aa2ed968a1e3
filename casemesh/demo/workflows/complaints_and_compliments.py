"""A complaint with mixed issue outcomes, and a compliment (seed 003 tables 1-3): complaints only.

A CSO records a Level 1 complaint with two issues about a staff member, documents the
investigation plan, and records one issue upheld and one not upheld; the complaints service
derives the whole-complaint category from them (partially upheld). The CSO records the
finalisation summary and the remedy and finalises the complaint; it prepares no staff feedback,
which seed 003 asks for only "If the complaint is upheld".
Another customer compliments a staff member: the compliment is recorded, forwarded to them and
their Team Leader, and logged in the communications window.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from casemesh.demo.driver import Mesh, Story, StoryResult
from casemesh.demo.runner import Chapter
from contracts.base import Actor, Role, StaffReference
from contracts.catalogue.complaints import (
    AddInvestigationStep,
    ComplaintChannel,
    ComplaintIssueInput,
    ComplaintLevel,
    ComplimentSubject,
    FinaliseComplaint,
    InvestigationStepKind,
    IssueOutcome,
    RecordComplaint,
    RecordCompliment,
    RecordFinalisationSummary,
    RecordIssueOutcome,
    RecordRemedy,
)

COMPLAINT_CSID = "300000012"
COMPLIMENT_CSID = "300000013"

CSO = Actor(
    officer_id="CSO-31",
    role=Role.CSO,
    first_name="Mel",
    site="Hobart",
    team="Mainstream 7",
    extension="4310",
)
# Seed 003 table 1 step 2: "When referring to a staff member, use their first name, site, team
# and extension at the time of the interaction" — never a surname.
SAM = StaffReference(
    officer_id="CSO-32", first_name="Sam", site="Hobart", team="Mainstream 7", extension="4320"
)
KAI = StaffReference(
    officer_id="CSO-33", first_name="Kai", site="Launceston", team="Mainstream 9", extension="5330"
)


async def complaint(mesh: Mesh) -> StoryResult:
    story = Story(mesh, "Complaint with mixed issue outcomes", COMPLAINT_CSID)
    complaint_id = uuid.uuid4()
    call_back, assessment = uuid.uuid4(), uuid.uuid4()
    # Seed 003 table 1 steps 1 and 5: the details are captured in real time with the complaints
    # handling macro, whose text is stored with the complaint; table 2 step 1: each category and
    # issue is recorded separately.
    await story.send(
        RecordComplaint(
            actor=CSO,
            complaint_id=complaint_id,
            level=ComplaintLevel.LEVEL_1,
            channel=ComplaintChannel.PHONE,
            issues=(
                ComplaintIssueInput(
                    issue_id=call_back,
                    category="SERVICE_QUALITY",
                    issue="CALL_NOT_RETURNED",
                    description="A call-back promised on 16 November was not made",
                ),
                ComplaintIssueInput(
                    issue_id=assessment,
                    category="ASSESSMENT",
                    issue="INCORRECT_ASSESSMENT",
                    description="The customer believes the assessment used the wrong income",
                ),
            ),
            details="The customer says Sam promised a call-back on 16 November that never came, "
            "and that the assessment used last year's income.",
            staff_involved=(SAM,),
            handling_form_text="COMPLAINT HANDLING\nIssue 1: call-back not made\nIssue 2: income used",
        ),
        "The CSO records the complaint with two issues",
        expect=["ComplaintRecorded"],
    )
    # Seed 003 table 1 step 2: the investigation plan's headings show the steps taken, in order.
    await story.send(
        AddInvestigationStep(
            actor=CSO,
            complaint_id=complaint_id,
            step_id=uuid.uuid4(),
            kind=InvestigationStepKind.CALL_RECORDINGS_ACCESSED,
            description="Listened to the call of 16 November: a call-back by the 17th was promised.",
            staff_referenced=(SAM,),
        ),
        "The CSO listens to the call recording and adds it to the investigation plan",
        expect=["InvestigationStepAdded"],
        pause=timedelta(hours=1),
    )
    await story.send(
        AddInvestigationStep(
            actor=CSO,
            complaint_id=complaint_id,
            step_id=uuid.uuid4(),
            kind=InvestigationStepKind.CASE_SYSTEM_INVESTIGATION,
            description="Checked the assessment: it used the income the tax office reported this year.",
        ),
        "The CSO checks the assessment in the case system and adds it to the plan",
        expect=["InvestigationStepAdded"],
        pause=timedelta(minutes=30),
    )
    # Seed 003 table 2 step 1: each issue is upheld, not upheld, withdrawn or escalated (Level 1).
    # Step 2: the whole complaint is categorised only "when all the Categories and Issues have
    # been finalised" — so nothing is derived after the first outcome.
    await story.send(
        RecordIssueOutcome(
            actor=CSO,
            complaint_id=complaint_id,
            issue_id=call_back,
            outcome=IssueOutcome.UPHELD,
            reason="The promised call-back was missed",
        ),
        "The CSO upholds the missed call-back",
        expect=["ComplaintIssueOutcomeRecorded"],
        pause=timedelta(minutes=10),
    )
    await story.send(
        RecordIssueOutcome(
            actor=CSO,
            complaint_id=complaint_id,
            issue_id=assessment,
            outcome=IssueOutcome.NOT_UPHELD,
            reason="The assessment used the correct income",
        ),
        "The CSO finds the assessment correct and does not uphold that issue",
        expect=["ComplaintIssueOutcomeRecorded", "ComplaintCategoryDerived"],
        pause=timedelta(minutes=5),
    )
    # Seed 003 table 1 step 3: a separate summary of the complaint.
    await story.send(
        RecordFinalisationSummary(
            actor=CSO,
            complaint_id=complaint_id,
            summary="Apologised for the missed call-back; explained the income used in the assessment.",
        ),
        "The CSO records the finalisation summary",
        expect=["ComplaintFinalisationSummaryRecorded"],
        pause=timedelta(minutes=15),
    )
    # Seed 003 table 2 step 3: the remedy comes from the configured list.
    await story.send(
        RecordRemedy(actor=CSO, complaint_id=complaint_id, remedy="APOLOGY", details="Verbal apology given"),
        "The CSO records an apology as the remedy",
        expect=["ComplaintRemedyRecorded"],
    )
    # Seed 003 table 1 step 4 "Prepare feedback": "If the complaint is upheld" — feedback for the
    # Team Leader of each staff member involved. This complaint is partially upheld: no feedback.
    finalised = await story.send(
        FinaliseComplaint(actor=CSO, complaint_id=complaint_id),
        "The CSO finalises the complaint",
        expect=["ComplaintFinalised"],
        pause=timedelta(minutes=5),
    )
    derivation = story.last("ComplaintCategoryDerived")
    derived = derivation.payload if derivation is not None else {}
    final = story.last("ComplaintFinalised")
    category = final.payload.get("category") if final is not None else None
    feedback = story.events("StaffFeedbackPrepared")
    names = {str(call_back): "missed call-back", str(assessment): "assessment"}
    outcomes = derived.get("issue_outcomes", {})
    return story.result(
        f"finalised: {category}" if final is not None else f"open ({finalised.decision.value})",
        derived_category=derived.get("category"),
        issue_outcomes={names.get(k, k): v for k, v in outcomes.items()},
        remedies=[e.payload.get("remedy") for e in story.events("ComplaintRemedyRecorded")],
        feedback_about=sorted({str(e.payload["staff_member"]["first_name"]) for e in feedback}),
    )


async def compliment(mesh: Mesh) -> StoryResult:
    story = Story(mesh, "Compliment about a staff member", COMPLIMENT_CSID)
    # Seed 003 table 3 step 1: "A customer may give a compliment about" a staff member, recorded
    # in the Communication window; step 2: forwarded to the staff member and their Team Leader.
    recorded = await story.send(
        RecordCompliment(
            actor=CSO,
            compliment_id=uuid.uuid4(),
            about=ComplimentSubject.STAFF_MEMBER,
            staff_member=KAI,
            channel=ComplaintChannel.PHONE,
            details="Kai explained the new assessment patiently and rang back exactly when promised.",
        ),
        "The CSO records the customer's compliment about Kai",
        expect=["ComplimentRecorded", "ComplimentForwarded", "CommunicationLogged"],
    )
    kept = story.last("ComplimentRecorded")
    forwarded = story.last("ComplimentForwarded")
    logged = story.last("CommunicationLogged")
    if forwarded is not None:
        member = forwarded.payload.get("staff_member") or {}
        to = f"{member['first_name']} and " if member else ""
        outcome = f"forwarded to {to}the {forwarded.payload.get('team')} Team Leader"
    else:
        outcome = f"not forwarded ({recorded.decision.value})"
    return story.result(
        outcome,
        about=kept.payload.get("about") if kept is not None else None,
        logged_as=(
            f"{logged.payload.get('kind')} {logged.payload.get('direction')} {logged.payload.get('status')}"
            if logged is not None
            else None
        ),
    )


COMPLAINT_CHAPTER = Chapter(complaint)
COMPLIMENT_CHAPTER = Chapter(compliment)
