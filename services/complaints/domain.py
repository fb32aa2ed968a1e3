"""Complaints and compliments: the rules (issue 6; seed 003). Pure — no I/O, no clock.

One aggregate per customer (CSID): all of a customer's complaints and compliments. A customer's
messages share one Kafka partition, so they arrive in order, and escalating a Level 1 complaint
can open its linked Level 2 complaint in the same atomic write.

The whole-complaint category is never stored: :func:`derive_category` projects it from the issue
outcomes whenever it is needed, so it can always be rebuilt from them.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from contracts.base import Actor, Message, StaffReference
from contracts.catalogue.channels import Purpose
from contracts.catalogue.complaints import (
    AddInvestigationStep,
    ComplaintCategory,
    ComplaintCategoryDerived,
    ComplaintChannel,
    ComplaintEscalated,
    ComplaintFinalisationSummaryRecorded,
    ComplaintFinalised,
    ComplaintIssue,
    ComplaintIssueOutcomeRecorded,
    ComplaintLevel,
    ComplaintRecorded,
    ComplaintRemedyRecorded,
    ComplaintsCommandRejected,
    ComplaintsReasonCode,
    ComplimentForwarded,
    ComplimentRecorded,
    ComplimentSubject,
    FinaliseComplaint,
    InvestigationStepAdded,
    InvestigationStepKind,
    IssueOutcome,
    RecordComplaint,
    RecordCompliment,
    RecordFinalisationSummary,
    RecordIssueOutcome,
    RecordRemedy,
    RequestWrittenResponse,
    StaffFeedbackPrepared,
    WrittenResponseRequested,
)
from contracts.catalogue.notifications import SendLetter

# --------------------------------------------------------------------------------------------
# The derivation (seed 003 table 2 step 2; issue 6)
# --------------------------------------------------------------------------------------------


def derive_category(outcomes: Sequence[IssueOutcome]) -> ComplaintCategory:
    """The whole-complaint category from the outcome of every issue, by these rules, in order:

    1. any issue escalated → ESCALATED;
    2. else every issue withdrawn → WITHDRAWN;
    3. else, over the issues not withdrawn: all upheld → UPHELD;
    4. none upheld → NOT_UPHELD;
    5. otherwise → PARTIALLY_UPHELD.

    Only defined once every issue has an outcome (seed 003 table 2 step 2: "When all the
    Categories and Issues have been finalised"); a complaint always has at least one issue.
    """
    if not outcomes:
        raise ValueError("a complaint has at least one issue")
    if IssueOutcome.ESCALATED in outcomes:
        return ComplaintCategory.ESCALATED
    considered = [o for o in outcomes if o is not IssueOutcome.WITHDRAWN]
    if not considered:
        return ComplaintCategory.WITHDRAWN
    upheld = sum(1 for o in considered if o is IssueOutcome.UPHELD)
    if upheld == len(considered):
        return ComplaintCategory.UPHELD
    if upheld == 0:
        return ComplaintCategory.NOT_UPHELD
    return ComplaintCategory.PARTIALLY_UPHELD


#: Seed 003 table 2 step 1: Level 1 issues are "upheld, not upheld, withdrawn or escalated";
#: Level 2 issues "upheld, not upheld, withdrawn".
ALLOWED_OUTCOMES: dict[ComplaintLevel, frozenset[IssueOutcome]] = {
    ComplaintLevel.LEVEL_1: frozenset(IssueOutcome),
    ComplaintLevel.LEVEL_2: frozenset(IssueOutcome) - {IssueOutcome.ESCALATED},
}

#: Seed 003 table 1 step 4: feedback for the staff member's Team Leader when the complaint is upheld
#: (issue 6: upheld or partially upheld).
FEEDBACK_CATEGORIES = frozenset({ComplaintCategory.UPHELD, ComplaintCategory.PARTIALLY_UPHELD})

FEEDBACK_SUMMARY_MAX = 500  # StaffFeedbackPrepared.summary is ShortText


def level_2_complaint_id(level_1_complaint_id: UUID) -> UUID:
    """The id of the Level 2 complaint an escalation opens: derived, so deciding again yields the same."""
    return uuid.uuid5(level_1_complaint_id, "level-2")


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


class _State(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Issue(_State):
    """One category and issue of a complaint, with its outcome once recorded."""

    issue_id: UUID
    category: str
    issue: str
    description: str | None = None
    outcome: IssueOutcome | None = None
    outcome_reason: str | None = None

    def as_contract(self) -> ComplaintIssue:
        return ComplaintIssue(
            issue_id=self.issue_id, category=self.category, issue=self.issue, description=self.description
        )


class InvestigationStep(_State):
    """Seed 003 table 1 step 2: one heading of the investigation plan, in the order added."""

    step_id: UUID
    sequence: int
    kind: InvestigationStepKind
    description: str
    staff_referenced: tuple[StaffReference, ...] = ()
    added_by: Actor
    added_at: datetime


class Remedy(_State):
    remedy: str
    details: str | None = None
    recorded_by: Actor
    recorded_at: datetime


class WrittenResponse(_State):
    notification_id: UUID
    template_id: str
    template_version: int
    requested_at: datetime


class Complaint(_State):
    complaint_id: UUID
    level: ComplaintLevel
    channel: ComplaintChannel
    issues: tuple[Issue, ...]
    details: str
    staff_involved: tuple[StaffReference, ...] = ()
    # Seed 003 table 1 step 5: the complaints-handling form text is stored with the complaint.
    handling_form_text: str
    escalated_from_complaint_id: UUID | None = None
    level_2_complaint_id: UUID | None = None
    investigation_plan: tuple[InvestigationStep, ...] = ()
    finalisation_summary: str | None = None
    remedies: tuple[Remedy, ...] = ()
    written_responses: tuple[WrittenResponse, ...] = ()
    recorded_by: Actor
    recorded_at: datetime
    finalised_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.finalised_at is None

    @property
    def outcomes_complete(self) -> bool:
        return all(i.outcome is not None for i in self.issues)

    @property
    def issue_outcomes(self) -> dict[str, IssueOutcome]:
        """issue id → outcome, for the issues that have one."""
        return {str(i.issue_id): i.outcome for i in self.issues if i.outcome is not None}

    @property
    def category(self) -> ComplaintCategory | None:
        """The whole-complaint category — a projection of the outcomes; None until every issue has one."""
        if not self.outcomes_complete:
            return None
        return derive_category([i.outcome for i in self.issues if i.outcome is not None])

    def issue(self, issue_id: UUID) -> Issue | None:
        return next((i for i in self.issues if i.issue_id == issue_id), None)


class Compliment(_State):
    compliment_id: UUID
    about: ComplimentSubject
    staff_member: StaffReference | None = None
    team: str | None = None
    channel: ComplaintChannel
    details: str
    recorded_by: Actor
    recorded_at: datetime


class CustomerComplaints(_State):
    """The aggregate: one customer's complaints and compliments."""

    complaints: tuple[Complaint, ...] = ()
    compliments: tuple[Compliment, ...] = ()

    def complaint(self, complaint_id: UUID) -> Complaint | None:
        return next((c for c in self.complaints if c.complaint_id == complaint_id), None)

    def with_complaint(self, complaint: Complaint) -> CustomerComplaints:
        """This state with ``complaint`` added, or replacing the one with its id."""
        others = [c for c in self.complaints if c.complaint_id != complaint.complaint_id]
        if len(others) == len(self.complaints):
            return self.model_copy(update={"complaints": (*self.complaints, complaint)})
        replaced = tuple(
            complaint if c.complaint_id == complaint.complaint_id else c for c in self.complaints
        )
        return self.model_copy(update={"complaints": replaced})


# --------------------------------------------------------------------------------------------
# The decider
# --------------------------------------------------------------------------------------------

Decision = tuple[CustomerComplaints | None, list[Message]]


class _Refused(Exception):
    def __init__(self, code: ComplaintsReasonCode, reason: str, complaint_id: UUID | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.complaint_id = complaint_id


def decide(
    state: CustomerComplaints | None, message: object, now: datetime, *, remedies: Collection[str]
) -> Decision:
    """The new state and the events for one command; a refusal leaves the state as it was."""
    current = state or CustomerComplaints()
    try:
        match message:
            case RecordComplaint():
                return _record_complaint(current, message, now)
            case AddInvestigationStep():
                return _add_investigation_step(current, message, now)
            case RecordIssueOutcome():
                return _record_issue_outcome(current, message)
            case RecordFinalisationSummary():
                return _record_finalisation_summary(current, message)
            case RecordRemedy():
                return _record_remedy(current, message, now, remedies)
            case RequestWrittenResponse():
                return _request_written_response(current, message, now)
            case FinaliseComplaint():
                return _finalise(current, message, now)
            case RecordCompliment():
                return _record_compliment(current, message, now)
    except _Refused as refused:
        actor = getattr(message, "actor", None)
        return state, [
            ComplaintsCommandRejected(
                reason_code=refused.code,
                reason=refused.reason,
                complaint_id=refused.complaint_id,
                attempted_by=actor if isinstance(actor, Actor) else None,
            )
        ]
    raise TypeError(f"the complaints service has no rule for {type(message).__name__}")


def _known(state: CustomerComplaints, complaint_id: UUID) -> Complaint:
    complaint = state.complaint(complaint_id)
    if complaint is None:
        raise _Refused(
            ComplaintsReasonCode.UNKNOWN_COMPLAINT,
            "No such complaint is recorded for this customer.",
            complaint_id,
        )
    return complaint


def _open(state: CustomerComplaints, complaint_id: UUID) -> Complaint:
    complaint = _known(state, complaint_id)
    if not complaint.is_open:
        raise _Refused(
            ComplaintsReasonCode.COMPLAINT_FINALISED,
            "The complaint is finalised; it changes only while it is open.",
            complaint_id,
        )
    return complaint


def _record_complaint(state: CustomerComplaints, cmd: RecordComplaint, now: datetime) -> Decision:
    if state.complaint(cmd.complaint_id) is not None:
        raise _Refused(
            ComplaintsReasonCode.COMPLAINT_ALREADY_RECORDED,
            "A complaint with this id is already recorded.",
            cmd.complaint_id,
        )
    issue_ids = [i.issue_id for i in cmd.issues]
    if len(set(issue_ids)) != len(issue_ids):
        raise _Refused(
            ComplaintsReasonCode.DUPLICATE_ISSUE, "Two issues of the complaint share an id.", cmd.complaint_id
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


def _add_investigation_step(state: CustomerComplaints, cmd: AddInvestigationStep, now: datetime) -> Decision:
    complaint = _open(state, cmd.complaint_id)
    if any(s.step_id == cmd.step_id for s in complaint.investigation_plan):
        raise _Refused(
            ComplaintsReasonCode.DUPLICATE_INVESTIGATION_STEP,
            "The investigation plan already has a step with this id.",
            cmd.complaint_id,
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


def _record_issue_outcome(state: CustomerComplaints, cmd: RecordIssueOutcome) -> Decision:
    complaint = _open(state, cmd.complaint_id)
    issue = complaint.issue(cmd.issue_id)
    if issue is None:
        raise _Refused(
            ComplaintsReasonCode.UNKNOWN_ISSUE, "The complaint has no issue with this id.", cmd.complaint_id
        )
    if cmd.outcome not in ALLOWED_OUTCOMES[complaint.level]:
        # Seed 003 table 2 step 1: Level 2 issues are upheld, not upheld or withdrawn.
        raise _Refused(
            ComplaintsReasonCode.ESCALATION_NOT_ALLOWED_AT_LEVEL_2,
            "A Level 2 complaint's issues are upheld, not upheld or withdrawn; they cannot be escalated.",
            cmd.complaint_id,
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


def _record_finalisation_summary(state: CustomerComplaints, cmd: RecordFinalisationSummary) -> Decision:
    complaint = _open(state, cmd.complaint_id)
    updated = complaint.model_copy(update={"finalisation_summary": cmd.summary})
    return state.with_complaint(updated), [
        ComplaintFinalisationSummaryRecorded(
            complaint_id=cmd.complaint_id, summary=cmd.summary, actor=cmd.actor
        )
    ]


def _record_remedy(
    state: CustomerComplaints, cmd: RecordRemedy, now: datetime, remedies: Collection[str]
) -> Decision:
    complaint = _open(state, cmd.complaint_id)
    # Seed 003 table 2 step 3 "Select the relevant remedy"; issue 6: from a configurable list.
    if cmd.remedy not in remedies:
        raise _Refused(
            ComplaintsReasonCode.REMEDY_NOT_IN_LIST,
            "The remedy is not one of the configured remedies.",
            cmd.complaint_id,
        )
    remedy = Remedy(remedy=cmd.remedy, details=cmd.details, recorded_by=cmd.actor, recorded_at=now)
    updated = complaint.model_copy(update={"remedies": (*complaint.remedies, remedy)})
    return state.with_complaint(updated), [
        ComplaintRemedyRecorded(
            complaint_id=cmd.complaint_id, remedy=cmd.remedy, details=cmd.details, actor=cmd.actor
        )
    ]


def _request_written_response(
    state: CustomerComplaints, cmd: RequestWrittenResponse, now: datetime
) -> Decision:
    complaint = _known(state, cmd.complaint_id)
    # Seed 003 table 2 step 3: "If a written response is required for a Level 2 complaint".
    if complaint.level is not ComplaintLevel.LEVEL_2:
        raise _Refused(
            ComplaintsReasonCode.WRITTEN_RESPONSE_ONLY_FOR_LEVEL_2,
            "A written response is requested for Level 2 complaints only.",
            cmd.complaint_id,
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


def _finalise(state: CustomerComplaints, cmd: FinaliseComplaint, now: datetime) -> Decision:
    complaint = _open(state, cmd.complaint_id)
    category = complaint.category
    if category is None:
        raise _Refused(
            ComplaintsReasonCode.OUTCOMES_INCOMPLETE,
            "Every category and issue needs an outcome before the complaint is finalised.",
            cmd.complaint_id,
        )
    finalised = complaint.model_copy(update={"finalised_at": now})
    events: list[Message] = [
        ComplaintFinalised(complaint_id=complaint.complaint_id, category=category, actor=cmd.actor)
    ]
    # Seed 003 table 1 step 4 / issue 6: feedback for each staff member's Team Leader.
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


def _record_compliment(state: CustomerComplaints, cmd: RecordCompliment, now: datetime) -> Decision:
    if any(c.compliment_id == cmd.compliment_id for c in state.compliments):
        raise _Refused(
            ComplaintsReasonCode.DUPLICATE_COMPLIMENT, "A compliment with this id is already recorded."
        )
    # Seed 003 table 3 step 1: a compliment about a staff member, team or service.
    if cmd.about is ComplimentSubject.STAFF_MEMBER and cmd.staff_member is None:
        raise _Refused(
            ComplaintsReasonCode.STAFF_MEMBER_REQUIRED, "A compliment about a staff member names them."
        )
    if cmd.about is ComplimentSubject.TEAM and cmd.team is None:
        raise _Refused(ComplaintsReasonCode.TEAM_REQUIRED, "A compliment about a team names the team.")
    compliment = Compliment(
        compliment_id=cmd.compliment_id,
        about=cmd.about,
        staff_member=cmd.staff_member,
        team=cmd.team,
        channel=cmd.channel,
        details=cmd.details,
        recorded_by=cmd.actor,
        recorded_at=now,
    )
    events: list[Message] = [
        # Recorded as a communication: the contacts service logs it from this event.
        ComplimentRecorded(
            compliment_id=cmd.compliment_id,
            about=cmd.about,
            staff_member=cmd.staff_member,
            team=cmd.team,
            channel=cmd.channel,
            details=cmd.details,
            actor=cmd.actor,
        )
    ]
    # Seed 003 table 3 step 2: forwarded to the staff member and their Team Leader.
    if cmd.about is ComplimentSubject.STAFF_MEMBER and cmd.staff_member is not None:
        events.append(
            ComplimentForwarded(
                compliment_id=cmd.compliment_id, staff_member=cmd.staff_member, team=cmd.staff_member.team
            )
        )
    elif cmd.about is ComplimentSubject.TEAM and cmd.team is not None:
        events.append(ComplimentForwarded(compliment_id=cmd.compliment_id, team=cmd.team))
    updated = state.model_copy(update={"compliments": (*state.compliments, compliment)})
    return updated, events
