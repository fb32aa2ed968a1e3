"""Meeting requirement — seed 004 (Riunioni): whether a case needs a meeting with the client."""

from __future__ import annotations

from datetime import datetime

from contracts.base import Actor
from contracts.catalogue.contacts import AssessMeetingRequirement, MeetingReason, MeetingRequirementAssessed
from services.contacts.domain.state import Events, Facts, State


class AssessmentState(State):
    case_id: str
    case_type: str
    meeting_required: bool
    reason: MeetingReason | None = None
    assessed_at: datetime
    assessed_by: Actor


def assess_meeting_requirement(
    state: AssessmentState | None, command: AssessMeetingRequirement, now: datetime, facts: Facts
) -> tuple[AssessmentState | None, Events]:
    # Seed 004 (Riunioni): "For some programmes a meeting with the client may always be required
    # before the programme is authorised. For other programmes a meeting is required only if
    # there are problems, for example missing or conflicting information in the case."
    reason: MeetingReason | None
    if command.case_type in facts.meeting_required_case_types:
        reason = MeetingReason.PROGRAMME_AUTHORISATION
    elif command.conflicting_information:
        reason = MeetingReason.CONFLICTING_INFORMATION
    elif command.missing_information:
        reason = MeetingReason.MISSING_INFORMATION
    else:
        reason = None
    new = AssessmentState(
        case_id=command.case_id,
        case_type=command.case_type,
        meeting_required=reason is not None,
        reason=reason,
        assessed_at=now,
        assessed_by=command.actor,
    )
    return new, [
        MeetingRequirementAssessed(
            case_id=command.case_id,
            case_type=command.case_type,
            meeting_required=reason is not None,
            reason=reason,
        )
    ]
