"""Compliments (seed 003 table 3): recorded, and forwarded to the staff member and their Team Leader."""

from __future__ import annotations

from datetime import datetime

from contracts.base import Message
from contracts.catalogue.complaints import (
    ComplaintsReasonCode,
    ComplimentForwarded,
    ComplimentRecorded,
    ComplimentSubject,
    RecordCompliment,
)
from kit.spec import Refused
from services.complaints.domain.state import Compliment, CustomerComplaints, Decision, Facts


def record_compliment(
    state: CustomerComplaints, cmd: RecordCompliment, now: datetime, facts: Facts
) -> Decision:
    if any(c.compliment_id == cmd.compliment_id for c in state.compliments):
        raise Refused(
            ComplaintsReasonCode.DUPLICATE_COMPLIMENT, "A compliment with this id is already recorded."
        )
    # Seed 003 table 3 step 1: a compliment about a staff member, team or service.
    if cmd.about is ComplimentSubject.STAFF_MEMBER and cmd.staff_member is None:
        raise Refused(
            ComplaintsReasonCode.STAFF_MEMBER_REQUIRED, "A compliment about a staff member names them."
        )
    if cmd.about is ComplimentSubject.TEAM and cmd.team is None:
        raise Refused(ComplaintsReasonCode.TEAM_REQUIRED, "A compliment about a team names the team.")
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
