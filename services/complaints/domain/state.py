"""One customer's complaints and compliments: the aggregate's state (frozen), and the facts its
rules are given besides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from contracts.base import Actor, Message, StaffReference
from contracts.catalogue.complaints import (
    ComplaintCategory,
    ComplaintChannel,
    ComplaintIssue,
    ComplaintLevel,
    ComplimentSubject,
    InvestigationStepKind,
    IssueOutcome,
)
from services.complaints.domain.derivation import derive_category


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


@dataclass(frozen=True)
class Facts:
    """What the rules know besides the state: the configured remedies (issue 6)."""

    remedies: frozenset[str]


Decision = tuple[CustomerComplaints | None, list[Message]]
