"""Complaints (seed 003 tables 1 and 2): recording, the investigation plan, issue outcomes, the
finalisation summary, remedies, the Level 2 written response, and finalising with escalation.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from contracts.base import Actor, Message
from contracts.catalogue.channels import Purpose
from contracts.catalogue.complaints import (
    AddInvestigationStep,
    ComplaintCategory,
    ComplaintCategoryDerived,
    ComplaintEscalated,
    ComplaintFinalisationSummaryRecorded,
    ComplaintFinalised,
    ComplaintIssueOutcomeRecorded,
    ComplaintLevel,
    ComplaintRecorded,
    ComplaintRemedyRecorded,
    ComplaintsReasonCode,
    FinaliseComplaint,
    InvestigationStepAdded,
    IssueOutcome,
    RecordComplaint,
    RecordFinalisationSummary,
    RecordIssueOutcome,
    RecordRemedy,
    RequestWrittenResponse,
    StaffFeedbackPrepared,
    WrittenResponseRequested,
)
from contracts.catalogue.notifications import SendLetter
from kit.spec import Refused
from services.complaints.domain.derivation import (
    ALLOWED_OUTCOMES,
    FEEDBACK_CATEGORIES,
    FEEDBACK_SUMMARY_MAX,
    level_2_complaint_id,
)
from services.complaints.domain.state import (
    Complaint,
    CustomerComplaints,
    Decision,
    Facts,
    InvestigationStep,
    Issue,
    Remedy,
    WrittenResponse,
)


def _known(state: CustomerComplaints, complaint_id: UUID) -> Complaint:
    complaint = state.complaint(complaint_id)
    if complaint is None:
        raise Refused(
            ComplaintsReasonCode.UNKNOWN_COMPLAINT,
            "No such complaint is recorded for this customer.",
            complaint_id=complaint_id,
        )
    return complaint


def _open(state: CustomerComplaints, complaint_id: UUID) -> Complaint:
    complaint = _known(state, complaint_id)
    if not complaint.is_open:
        raise Refused(
            ComplaintsReasonCode.COMPLAINT_FINALISED,
            "The complaint is finalised; it changes only while it is open.",
            complaint_id=complaint_id,
        )
    return complaint


def record_complaint(
    state: CustomerComplaints, cmd: RecordComplaint, now: datetime, facts: Facts
) -> Decision:
    if state.complaint(cmd.complaint_id) is not None:
        raise Refused(
            ComplaintsReasonCode.COMPLAINT_ALREADY_RECORDED,
            "A complaint with this id is already recorded.",
            complaint_id=cmd.complaint_id,
        )
    issue_ids = [i.issue_id for i in cmd.issues]
    if len(set(issue_ids)) != len(issue_ids):
        raise Refused(
            ComplaintsReasonCode.DUPLICATE_ISSUE,
            "Two issues of the complaint share an id.",
            complaint_id=cmd.complaint_id,
        )
    complaint = Complaint(
        complaint_id=cmd.complaint_id,
        level=cmd.level,
        channel=cmd.channel,
        issues=tuple(
            Issue(issue_id=i.issue_id, category=i.category, issue=i.issue, description=i.description)
            for i in cmd.issues
        ),
        details=cmd.details,
        staff_involved=cmd.staff_involved,
        handling_form_text=cmd.handling_form_text,
        recorded_by=cmd.actor,
        recorded_at=now,
    )
    return state.with_complaint(complaint), [_recorded(complaint)]


def _recorded(complaint: Complaint) -> ComplaintRecorded:
    return ComplaintRecorded(
        complaint_id=complaint.complaint_id,
        level=complaint.level,
        channel=complaint.channel,
        issues=tuple(i.as_contract() for i in complaint.issues),
        details=complaint.details,
        staff_involved=complaint.staff_involved,
        handling_form_text=complaint.handling_form_text,
        escalated_from_complaint_id=complaint.escalated_from_complaint_id,
        actor=complaint.recorded_by,
    )


def add_investigation_step(
    state: CustomerComplaints, cmd: AddInvestigationStep, now: datetime, facts: Facts
) -> Decision:
    complaint = _open(state, cmd.complaint_id)
    if any(s.step_id == cmd.step_id for s in complaint.investigation_plan):
        raise Refused(
            ComplaintsReasonCode.DUPLICATE_INVESTIGATION_STEP,
            "The investigation plan already has a step with this id.",
            complaint_id=cmd.complaint_id,
        )
    # Seed 003 table 1 step 2: the headings show the steps taken throughout the investigation —
    # kept in the order they were added (one customer's commands arrive in order).
    step = InvestigationStep(
        step_id=cmd.step_id,
        sequence=len(complaint.investigation_plan) + 1,
        kind=cmd.kind,
        description=cmd.description,
        staff_referenced=cmd.staff_referenced,
        added_by=cmd.actor,
        added_at=now,
    )
    updated = complaint.model_copy(update={"investigation_plan": (*complaint.investigation_plan, step)})
    return state.with_complaint(updated), [
        InvestigationStepAdded(
            complaint_id=complaint.complaint_id,
            step_id=step.step_id,
            sequence=step.sequence,
            kind=step.kind,
            description=step.description,
            staff_referenced=step.staff_referenced,
            actor=cmd.actor,
        )
    ]


def record_issue_outcome(
    state: CustomerComplaints, cmd: RecordIssueOutcome, now: datetime, facts: Facts
) -> Decision:
    complaint = _open(state, cmd.complaint_id)
    issue = complaint.issue(cmd.issue_id)
    if issue is None:
        raise Refused(
            ComplaintsReasonCode.UNKNOWN_ISSUE,
            "The complaint has no issue with this id.",
            complaint_id=cmd.complaint_id,
        )
    if cmd.outcome not in ALLOWED_OUTCOMES[complaint.level]:
        # Seed 003 table 2 step 1: Level 2 issues are upheld, not upheld or withdrawn.
        raise Refused(
            ComplaintsReasonCode.ESCALATION_NOT_ALLOWED_AT_LEVEL_2,
            "A Level 2 complaint's issues are upheld, not upheld or withdrawn; they cannot be escalated.",
            complaint_id=cmd.complaint_id,
        )
    changed = issue.model_copy(update={"outcome": cmd.outcome, "outcome_reason": cmd.reason})
    updated = complaint.model_copy(
        update={"issues": tuple(changed if i.issue_id == issue.issue_id else i for i in complaint.issues)}
    )
    events: list[Message] = [
        ComplaintIssueOutcomeRecorded(
            complaint_id=complaint.complaint_id,
            issue_id=issue.issue_id,
            outcome=cmd.outcome,
            previous_outcome=issue.outcome,
            reason=cmd.reason,
            actor=cmd.actor,
        )
    ]
    # Seed 003 table 2 step 2: derived once every issue has an outcome, never before; issue 6:
    # changing an outcome while the complaint is open re-derives it.
    category = updated.category
    if category is not None and updated.issue_outcomes != complaint.issue_outcomes:
        events.append(
            ComplaintCategoryDerived(
                complaint_id=complaint.complaint_id, category=category, issue_outcomes=updated.issue_outcomes
            )
        )
    return state.with_complaint(updated), events


def record_finalisation_summary(
    state: CustomerComplaints, cmd: RecordFinalisationSummary, now: datetime, facts: Facts
) -> Decision:
    complaint = _open(state, cmd.complaint_id)
    updated = complaint.model_copy(update={"finalisation_summary": cmd.summary})
    return state.with_complaint(updated), [
        ComplaintFinalisationSummaryRecorded(
            complaint_id=cmd.complaint_id, summary=cmd.summary, actor=cmd.actor
        )
    ]


def record_remedy(state: CustomerComplaints, cmd: RecordRemedy, now: datetime, facts: Facts) -> Decision:
    complaint = _open(state, cmd.complaint_id)
    # Seed 003 table 2 step 3 "Select the relevant remedy"; issue 6: from a configurable list.
    if cmd.remedy not in facts.remedies:
        raise Refused(
            ComplaintsReasonCode.REMEDY_NOT_IN_LIST,
            "The remedy is not one of the configured remedies.",
            complaint_id=cmd.complaint_id,
        )
    remedy = Remedy(remedy=cmd.remedy, details=cmd.details, recorded_by=cmd.actor, recorded_at=now)
    updated = complaint.model_copy(update={"remedies": (*complaint.remedies, remedy)})
    return state.with_complaint(updated), [
        ComplaintRemedyRecorded(
            complaint_id=cmd.complaint_id, remedy=cmd.remedy, details=cmd.details, actor=cmd.actor
        )
    ]


def request_written_response(
    state: CustomerComplaints, cmd: RequestWrittenResponse, now: datetime, facts: Facts
) -> Decision:
    complaint = _known(state, cmd.complaint_id)
    # Seed 003 table 2 step 3: "If a written response is required for a Level 2 complaint".
    if complaint.level is not ComplaintLevel.LEVEL_2:
        raise Refused(
            ComplaintsReasonCode.WRITTEN_RESPONSE_ONLY_FOR_LEVEL_2,
            "A written response is requested for Level 2 complaints only.",
            complaint_id=cmd.complaint_id,
        )
    if any(w.notification_id == cmd.notification_id for w in complaint.written_responses):
        return state, []  # this letter is already requested: nothing more to do
    response = WrittenResponse(
        notification_id=cmd.notification_id,
        template_id=cmd.template_id,
        template_version=cmd.template_version,
        requested_at=now,
    )
    updated = complaint.model_copy(update={"written_responses": (*complaint.written_responses, response)})
    return state.with_complaint(updated), [
        WrittenResponseRequested(
            complaint_id=cmd.complaint_id,
            notification_id=cmd.notification_id,
            template_id=cmd.template_id,
            template_version=cmd.template_version,
        ),
        # To notifications' commands topic (the kit routes by message type).
        SendLetter(
            actor=cmd.actor,
            notification_id=cmd.notification_id,
            purpose=Purpose.COMPLAINT_RESPONSE,
            template_id=cmd.template_id,
            template_version=cmd.template_version,
            complaint_id=cmd.complaint_id,
        ),
    ]


def finalise_complaint(
    state: CustomerComplaints, cmd: FinaliseComplaint, now: datetime, facts: Facts
) -> Decision:
    complaint = _open(state, cmd.complaint_id)
    category = complaint.category
    if category is None:
        raise Refused(
            ComplaintsReasonCode.OUTCOMES_INCOMPLETE,
            "Every category and issue needs an outcome before the complaint is finalised.",
            complaint_id=cmd.complaint_id,
        )
    finalised = complaint.model_copy(update={"finalised_at": now})
    events: list[Message] = [
        ComplaintFinalised(complaint_id=complaint.complaint_id, category=category, actor=cmd.actor)
    ]
    # Seed 003 table 1 step 4 "Prepare feedback": "If the complaint is upheld" — feedback for the
    # Team Leader of each staff member involved, only when the whole complaint is UPHELD (not
    # partially upheld, not upheld, withdrawn or escalated; see FEEDBACK_CATEGORIES).
    if category in FEEDBACK_CATEGORIES:
        events.extend(
            StaffFeedbackPrepared(
                complaint_id=complaint.complaint_id,
                staff_member=staff,
                category=category,
                summary=_shorten(complaint.finalisation_summary),
            )
            for staff in complaint.staff_involved
        )
    # Issue 6: escalating a Level 1 complaint opens a linked Level 2 complaint — done when the
    # escalated category becomes final, so an outcome changed while open opens nothing.
    if category is ComplaintCategory.ESCALATED and complaint.level is ComplaintLevel.LEVEL_1:
        level_2 = _level_2_for(complaint, cmd.actor, now)
        finalised = finalised.model_copy(update={"level_2_complaint_id": level_2.complaint_id})
        state = state.with_complaint(level_2)
        events.append(
            ComplaintEscalated(complaint_id=complaint.complaint_id, level_2_complaint_id=level_2.complaint_id)
        )
        events.append(_recorded(level_2))
    return state.with_complaint(finalised), events


def _level_2_for(complaint: Complaint, actor: Actor, now: datetime) -> Complaint:
    """The Level 2 complaint opened by escalating ``complaint``: its escalated issues, awaiting outcomes."""
    escalated = tuple(
        Issue(issue_id=i.issue_id, category=i.category, issue=i.issue, description=i.description)
        for i in complaint.issues
        if i.outcome is IssueOutcome.ESCALATED
    )
    return Complaint(
        complaint_id=level_2_complaint_id(complaint.complaint_id),
        level=ComplaintLevel.LEVEL_2,
        channel=complaint.channel,
        issues=escalated,
        details=complaint.details,
        staff_involved=complaint.staff_involved,
        handling_form_text=complaint.handling_form_text,
        escalated_from_complaint_id=complaint.complaint_id,
        recorded_by=actor,
        recorded_at=now,
    )


def _shorten(text: str | None) -> str | None:
    if text is None or len(text) <= FEEDBACK_SUMMARY_MAX:
        return text
    return text[: FEEDBACK_SUMMARY_MAX - 1] + "…"
