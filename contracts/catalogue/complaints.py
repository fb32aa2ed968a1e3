"""complaints service: complaints and compliments (issue 6; seed 003).

Staff are referenced only by first name, site, team and extension at the time of the
interaction (seed 003 table 1 step 2) — see :class:`~contracts.base.StaffReference`.
A Level 2 written response is requested from notifications with
:class:`~contracts.catalogue.notifications.SendLetter` (purpose COMPLAINT_RESPONSE).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any, ClassVar
from uuid import UUID

from pydantic import Field

from contracts.base import (
    ACTOR_EXAMPLE,
    COMMAND_CONFIG,
    STAFF_EXAMPLE,
    Actor,
    Code,
    Command,
    Event,
    EventPart,
    LongText,
    Name,
    Rejection,
    ShortText,
    StaffReference,
)

COMPLAINT_ID = "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"
ISSUE_ID = "2e3d4c5b-6a79-4887-96a5-b4c3d2e1f0a9"
STEP_ID = "3d4c5b6a-7988-4796-a5b4-c3d2e1f0a9b8"
COMPLIMENT_ID = "4c5b6a79-8897-46a5-b4c3-d2e1f0a9b8c7"
NOTIFICATION_ID = "6c5b4a39-2817-4f06-95e4-d3c2b1a09f8e"


class ComplaintsReasonCode(StrEnum):
    """Why the complaints service refused a command."""

    # Issue 16: the command's actor is not a verified identity (kit/identity.py): no valid token
    # from the identity provider in the x-casemesh-identity header, or one naming someone else.
    UNAUTHENTICATED = "UNAUTHENTICATED"
    ACTOR_MISMATCH = "ACTOR_MISMATCH"
    UNKNOWN_COMPLAINT = "UNKNOWN_COMPLAINT"
    COMPLAINT_ALREADY_RECORDED = "COMPLAINT_ALREADY_RECORDED"
    UNKNOWN_ISSUE = "UNKNOWN_ISSUE"
    DUPLICATE_ISSUE = "DUPLICATE_ISSUE"
    # Seed 003 table 2 step 1: Level 2 issues are "upheld, not upheld, withdrawn" — no escalation.
    ESCALATION_NOT_ALLOWED_AT_LEVEL_2 = "ESCALATION_NOT_ALLOWED_AT_LEVEL_2"
    COMPLAINT_FINALISED = "COMPLAINT_FINALISED"  # outcomes change only while the complaint is open
    # Seed 003 table 2 step 2: the whole complaint is categorised only "when all the Categories and
    # Issues have been finalised".
    OUTCOMES_INCOMPLETE = "OUTCOMES_INCOMPLETE"
    REMEDY_NOT_IN_LIST = "REMEDY_NOT_IN_LIST"  # issue 6: remedies come from a configurable list
    # Seed 003 table 2 step 3: "If a written response is required for a Level 2 complaint".
    WRITTEN_RESPONSE_ONLY_FOR_LEVEL_2 = "WRITTEN_RESPONSE_ONLY_FOR_LEVEL_2"
    DUPLICATE_INVESTIGATION_STEP = "DUPLICATE_INVESTIGATION_STEP"
    STAFF_MEMBER_REQUIRED = "STAFF_MEMBER_REQUIRED"  # a compliment about a staff member names them
    TEAM_REQUIRED = "TEAM_REQUIRED"  # a compliment about a team names the team (its Team Leader receives it)
    DUPLICATE_COMPLIMENT = "DUPLICATE_COMPLIMENT"


class ComplaintLevel(IntEnum):
    LEVEL_1 = 1
    LEVEL_2 = 2


class ComplaintChannel(StrEnum):
    PHONE = "PHONE"
    EMAIL = "EMAIL"
    LETTER = "LETTER"
    ONLINE_FORM = "ONLINE_FORM"
    IN_PERSON = "IN_PERSON"


class IssueOutcome(StrEnum):
    """Seed 003 table 2 step 1: per category and issue. ESCALATED only at Level 1."""

    UPHELD = "UPHELD"
    NOT_UPHELD = "NOT_UPHELD"
    WITHDRAWN = "WITHDRAWN"
    ESCALATED = "ESCALATED"


class ComplaintCategory(StrEnum):
    """Seed 003 table 2 step 2: the whole-complaint category, derived from the issue outcomes.

    Issue 6, in order: any issue escalated → ESCALATED; else every issue withdrawn → WITHDRAWN;
    else over the issues not withdrawn: all upheld → UPHELD; none upheld → NOT_UPHELD;
    otherwise → PARTIALLY_UPHELD.
    """

    UPHELD = "UPHELD"
    PARTIALLY_UPHELD = "PARTIALLY_UPHELD"
    NOT_UPHELD = "NOT_UPHELD"
    WITHDRAWN = "WITHDRAWN"
    ESCALATED = "ESCALATED"


class InvestigationStepKind(StrEnum):
    """Seed 003 table 1 step 2: the headings of the investigation plan."""

    CALL_RECORDINGS_ACCESSED = "CALL_RECORDINGS_ACCESSED"
    CONSULTED_SERVICE_SUPPORT_OFFICER = "CONSULTED_SERVICE_SUPPORT_OFFICER"
    CONSULTED_TEAM_LEADER = "CONSULTED_TEAM_LEADER"
    CONSULTED_SPECIALIST_AREA = "CONSULTED_SPECIALIST_AREA"
    CUSTOMER_CONTACT = "CUSTOMER_CONTACT"
    CASE_SYSTEM_INVESTIGATION = "CASE_SYSTEM_INVESTIGATION"


class ComplimentSubject(StrEnum):
    """Seed 003 table 3 step 1: "A customer may give a compliment about" a staff member, team or service."""

    STAFF_MEMBER = "STAFF_MEMBER"
    TEAM = "TEAM"
    SERVICE = "SERVICE"


class ComplaintIssue(EventPart):
    """One category and issue raised by the complaint (seed 003 table 2 step 1)."""

    issue_id: UUID = Field(description="Id of the issue within the complaint.", examples=[ISSUE_ID])
    category: Code = Field(description="Complaint category code.", examples=["SERVICE_QUALITY"])
    issue: Code = Field(description="Complaint issue code.", examples=["CALL_NOT_RETURNED"])
    description: ShortText | None = Field(
        default=None, description="What the customer says about it.", examples=["Promised call-back not made"]
    )


class ComplaintIssueInput(ComplaintIssue):
    """:class:`ComplaintIssue` as a command accepts it (strict, closed)."""

    model_config = COMMAND_CONFIG


ISSUE_EXAMPLE = {"issue_id": ISSUE_ID, "category": "SERVICE_QUALITY", "issue": "CALL_NOT_RETURNED"}

# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


class RecordComplaint(Command):
    """Seed 003 table 1 steps 1 and 5: record the complaint with its details captured in real time."""

    complaint_id: UUID = Field(description="New id for the complaint.", examples=[COMPLAINT_ID])
    level: ComplaintLevel = Field(description="Level 1 or 2.", examples=[1])
    channel: ComplaintChannel = Field(description="How the complaint was made.", examples=["PHONE"])
    issues: tuple[ComplaintIssueInput, ...] = Field(
        min_length=1, max_length=20, description="Each category and issue raised.", examples=[[ISSUE_EXAMPLE]]
    )
    details: LongText = Field(
        description="Seed 003 table 1 step 1: the initial investigation/response, captured in real time.",
        examples=["Customer says a call-back promised on 3 March was not made."],
    )
    staff_involved: tuple[StaffReference, ...] = Field(
        default=(),
        max_length=10,
        description="Staff the complaint is about: first name, site, team, extension only (seed 003).",
        examples=[[STAFF_EXAMPLE]],
    )
    handling_form_text: LongText = Field(
        description="Seed 003 table 1 step 5: the complaints-handling macro text, stored with the complaint.",
        examples=["COMPLAINT HANDLING\nIssue: call-back …"],
    )


class AddInvestigationStep(Command):
    """Seed 003 table 1 step 2: one step of the investigation plan; steps are kept in order."""

    complaint_id: UUID = Field(description="The complaint.", examples=[COMPLAINT_ID])
    step_id: UUID = Field(description="New id for the step.", examples=[STEP_ID])
    kind: InvestigationStepKind = Field(description="The heading.", examples=["CALL_RECORDINGS_ACCESSED"])
    description: LongText = Field(
        description="What was done and found.", examples=["Listened to call of 3 March."]
    )
    staff_referenced: tuple[StaffReference, ...] = Field(
        default=(), max_length=10, description="Staff mentioned (no surnames).", examples=[[STAFF_EXAMPLE]]
    )


class RecordIssueOutcome(Command):
    """Seed 003 table 2 step 1: set (or change, while open) one issue's outcome."""

    complaint_id: UUID = Field(description="The complaint.", examples=[COMPLAINT_ID])
    issue_id: UUID = Field(description="The issue.", examples=[ISSUE_ID])
    outcome: IssueOutcome = Field(
        description="The outcome; ESCALATED is refused at Level 2.", examples=["UPHELD"]
    )
    reason: ShortText | None = Field(
        default=None, description="Why.", examples=["Call-back was promised and missed"]
    )


class RecordFinalisationSummary(Command):
    """Seed 003 table 1 step 3: a separate summary of the complaint."""

    complaint_id: UUID = Field(description="The complaint.", examples=[COMPLAINT_ID])
    summary: LongText = Field(
        description="The summary.", examples=["Apologised; call-back process explained."]
    )


class RecordRemedy(Command):
    """Seed 003 table 2 step 3: the remedy, from the configurable list."""

    complaint_id: UUID = Field(description="The complaint.", examples=[COMPLAINT_ID])
    remedy: Code = Field(
        description=(
            "Remedy code from the configurable list, e.g. APOLOGY, EXPLANATION, DECISION_REVIEWED, "
            "ACTION_EXPEDITED, FINANCIAL_REMEDY."
        ),
        examples=["APOLOGY"],
    )
    details: ShortText | None = Field(default=None, description="Details.", examples=["Verbal apology given"])


class RequestWrittenResponse(Command):
    """Seed 003 table 2 step 3: a Level 2 complaint needing a written response asks for a letter."""

    complaint_id: UUID = Field(description="The complaint (must be Level 2).", examples=[COMPLAINT_ID])
    notification_id: UUID = Field(
        description="Id for the SendLetter to notifications.", examples=[NOTIFICATION_ID]
    )
    template_id: Code = Field(description="Letter template.", examples=["complaint-l2-response"])
    template_version: int = Field(ge=1, description="Template version.", examples=[1])


class FinaliseComplaint(Command):
    """Close the complaint; refused until every issue has an outcome."""

    complaint_id: UUID = Field(description="The complaint.", examples=[COMPLAINT_ID])


class RecordCompliment(Command):
    """Seed 003 table 3: record a compliment (logged as a communication, forwarded to staff and TL)."""

    compliment_id: UUID = Field(description="New id for the compliment.", examples=[COMPLIMENT_ID])
    about: ComplimentSubject = Field(description="Staff member, team or service.", examples=["STAFF_MEMBER"])
    staff_member: StaffReference | None = Field(
        default=None, description="For STAFF_MEMBER: who (no surname).", examples=[STAFF_EXAMPLE]
    )
    team: Name | None = Field(default=None, description="For TEAM: which team.", examples=["Mainstream 12"])
    channel: ComplaintChannel = Field(description="How it was given.", examples=["PHONE"])
    details: LongText = Field(description="What the customer said.", examples=["Sam was patient and clear."])


COMMANDS: tuple[type[Command], ...] = (
    RecordComplaint,
    AddInvestigationStep,
    RecordIssueOutcome,
    RecordFinalisationSummary,
    RecordRemedy,
    RequestWrittenResponse,
    FinaliseComplaint,
    RecordCompliment,
)

# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


class ComplaintRecorded(Event):
    """A complaint was recorded (directly, or as the Level 2 opened by an escalation)."""

    complaint_id: UUID = Field(description="The complaint.", examples=[COMPLAINT_ID])
    level: ComplaintLevel = Field(description="Level 1 or 2.", examples=[1])
    channel: ComplaintChannel = Field(description="How it was made.", examples=["PHONE"])
    issues: tuple[ComplaintIssue, ...] = Field(
        max_length=20, description="Issues raised.", examples=[[ISSUE_EXAMPLE]]
    )
    details: LongText = Field(description="Details captured in real time.", examples=["Customer says …"])
    staff_involved: tuple[StaffReference, ...] = Field(
        default=(), max_length=10, description="Staff referenced (no surnames).", examples=[[STAFF_EXAMPLE]]
    )
    handling_form_text: LongText = Field(
        description="The complaints-handling form text.", examples=["COMPLAINT HANDLING …"]
    )
    escalated_from_complaint_id: UUID | None = Field(
        default=None,
        description="For a Level 2 opened by escalation: the Level 1 complaint.",
        examples=[COMPLAINT_ID],
    )
    actor: Actor = Field(description="Who recorded it.", examples=[ACTOR_EXAMPLE])


class InvestigationStepAdded(Event):
    """Seed 003 table 1 step 2."""

    complaint_id: UUID = Field(description="The complaint.", examples=[COMPLAINT_ID])
    step_id: UUID = Field(description="The step.", examples=[STEP_ID])
    sequence: int = Field(ge=1, description="Position in the plan (1, 2, …).", examples=[1])
    kind: InvestigationStepKind = Field(description="The heading.", examples=["CALL_RECORDINGS_ACCESSED"])
    description: LongText = Field(
        description="What was done and found.", examples=["Listened to call of 3 March."]
    )
    staff_referenced: tuple[StaffReference, ...] = Field(
        default=(), max_length=10, description="Staff mentioned.", examples=[[STAFF_EXAMPLE]]
    )
    actor: Actor = Field(description="Who added it.", examples=[ACTOR_EXAMPLE])


class ComplaintIssueOutcomeRecorded(Event):
    """Seed 003 table 2 step 1."""

    complaint_id: UUID = Field(description="The complaint.", examples=[COMPLAINT_ID])
    issue_id: UUID = Field(description="The issue.", examples=[ISSUE_ID])
    outcome: IssueOutcome = Field(description="The outcome.", examples=["UPHELD"])
    previous_outcome: IssueOutcome | None = Field(default=None, description="When changed.", examples=[None])
    reason: ShortText | None = Field(default=None, description="Why.", examples=["Call-back was missed"])
    actor: Actor = Field(description="Who recorded it.", examples=[ACTOR_EXAMPLE])


class ComplaintCategoryDerived(Event):
    """Seed 003 table 2 step 2: derived once every issue has an outcome, and re-derived on each change.

    A projection of ``issue_outcomes`` — it can be rebuilt from them (rules on ComplaintCategory).
    """

    complaint_id: UUID = Field(description="The complaint.", examples=[COMPLAINT_ID])
    category: ComplaintCategory = Field(
        description="The whole-complaint category.", examples=["PARTIALLY_UPHELD"]
    )
    issue_outcomes: dict[str, IssueOutcome] = Field(
        max_length=20,
        description="issue_id → outcome, the inputs of the derivation.",
        examples=[{ISSUE_ID: "UPHELD", "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a": "NOT_UPHELD"}],
    )


class ComplaintEscalated(Event):
    """Issue 6: escalating a Level 1 complaint opens a linked Level 2 complaint."""

    complaint_id: UUID = Field(description="The Level 1 complaint.", examples=[COMPLAINT_ID])
    level_2_complaint_id: UUID = Field(description="The new Level 2 complaint.", examples=[STEP_ID])


class ComplaintFinalisationSummaryRecorded(Event):
    """Seed 003 table 1 step 3."""

    complaint_id: UUID = Field(description="The complaint.", examples=[COMPLAINT_ID])
    summary: LongText = Field(
        description="The summary.", examples=["Apologised; call-back process explained."]
    )
    actor: Actor = Field(description="Who recorded it.", examples=[ACTOR_EXAMPLE])


class ComplaintRemedyRecorded(Event):
    """Seed 003 table 2 step 3."""

    complaint_id: UUID = Field(description="The complaint.", examples=[COMPLAINT_ID])
    remedy: Code = Field(description="Remedy code.", examples=["APOLOGY"])
    details: ShortText | None = Field(default=None, description="Details.", examples=["Verbal apology given"])
    actor: Actor = Field(description="Who recorded it.", examples=[ACTOR_EXAMPLE])


class WrittenResponseRequested(Event):
    """A SendLetter was sent to notifications for a Level 2 written response."""

    complaint_id: UUID = Field(description="The complaint.", examples=[COMPLAINT_ID])
    notification_id: UUID = Field(description="The SendLetter's notification id.", examples=[NOTIFICATION_ID])
    template_id: Code = Field(description="Letter template.", examples=["complaint-l2-response"])
    template_version: int = Field(ge=1, description="Template version.", examples=[1])


class StaffFeedbackPrepared(Event):
    """Seed 003 table 1 step 4: feedback for the staff member's Team Leader, "If the complaint is upheld"."""

    complaint_id: UUID = Field(description="The complaint.", examples=[COMPLAINT_ID])
    staff_member: StaffReference = Field(
        description="Who the feedback is about (no surname).", examples=[STAFF_EXAMPLE]
    )
    category: ComplaintCategory = Field(
        description="The complaint's category: UPHELD (the only one that prepares feedback).",
        examples=["UPHELD"],
    )
    summary: ShortText | None = Field(
        default=None, description="Feedback summary.", examples=["Missed call-back"]
    )


class ComplaintFinalised(Event):
    """The complaint is closed with its final category."""

    complaint_id: UUID = Field(description="The complaint.", examples=[COMPLAINT_ID])
    category: ComplaintCategory = Field(description="Final category.", examples=["UPHELD"])
    actor: Actor = Field(description="Who finalised it.", examples=[ACTOR_EXAMPLE])


class ComplimentRecorded(Event):
    """Seed 003 table 3 step 1: recorded as a communication (the contacts service logs it)."""

    compliment_id: UUID = Field(description="The compliment.", examples=[COMPLIMENT_ID])
    about: ComplimentSubject = Field(description="Staff member, team or service.", examples=["STAFF_MEMBER"])
    staff_member: StaffReference | None = Field(
        default=None, description="For STAFF_MEMBER.", examples=[STAFF_EXAMPLE]
    )
    team: Name | None = Field(default=None, description="For TEAM.", examples=["Mainstream 12"])
    channel: ComplaintChannel = Field(description="How it was given.", examples=["PHONE"])
    details: LongText = Field(description="What the customer said.", examples=["Sam was patient and clear."])
    actor: Actor = Field(description="Who recorded it.", examples=[ACTOR_EXAMPLE])


class ComplimentForwarded(Event):
    """Seed 003 table 3 step 2: forwarded to the staff member and their Team Leader."""

    compliment_id: UUID = Field(description="The compliment.", examples=[COMPLIMENT_ID])
    staff_member: StaffReference | None = Field(
        default=None, description="The staff member.", examples=[STAFF_EXAMPLE]
    )
    team: Name = Field(description="The team whose Team Leader receives it.", examples=["Mainstream 12"])


class ComplaintsCommandRejected(Rejection):
    """A complaints command was refused."""

    # 2: reason_code gained UNAUTHENTICATED and ACTOR_MISMATCH (issue 16); a version 1 payload is
    # a valid version 2 one.
    SCHEMA_VERSION: ClassVar[int] = 2

    @classmethod
    def upgrade_payload(cls, from_version: int, payload: dict[str, Any]) -> dict[str, Any] | None:
        return payload if from_version == 1 else None

    reason_code: ComplaintsReasonCode = Field(
        description="Why it was refused.", examples=["ESCALATION_NOT_ALLOWED_AT_LEVEL_2"]
    )
    complaint_id: UUID | None = Field(
        default=None, description="The complaint concerned.", examples=[COMPLAINT_ID]
    )


EVENTS: tuple[type[Event], ...] = (
    ComplaintRecorded,
    InvestigationStepAdded,
    ComplaintIssueOutcomeRecorded,
    ComplaintCategoryDerived,
    ComplaintEscalated,
    ComplaintFinalisationSummaryRecorded,
    ComplaintRemedyRecorded,
    WrittenResponseRequested,
    StaffFeedbackPrepared,
    ComplaintFinalised,
    ComplimentRecorded,
    ComplimentForwarded,
    ComplaintsCommandRejected,
)
