"""Incidents — seed 002 step 1, raised by notifications' MSPIncidentRaised (issue 7)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from contracts.catalogue.contacts import IncidentRecorded
from contracts.catalogue.notifications import MSPIncidentRaised
from services.contacts.domain.state import Events, Facts, State


class IncidentState(State):
    incident_id: UUID
    msp_id: UUID
    csid: str
    description: str | None = None
    delivery_id: UUID | None = None
    officer_id: str | None = None
    recorded_at: datetime


def record_incident(
    state: IncidentState | None, message: MSPIncidentRaised, now: datetime, facts: Facts
) -> tuple[IncidentState | None, Events]:
    # Seed 002 step 1: "If the customer displays aggression … record a new incident and link it
    # to the MSP" — notifications raises it, the contacts service records it (once per incident).
    if state is not None:
        return state, []
    new = IncidentState(
        incident_id=message.incident_id,
        msp_id=message.msp_id,
        csid=facts.csid,
        description=message.description,
        delivery_id=message.delivery_id,
        officer_id=message.officer_id,
        recorded_at=now,
    )
    return new, [
        IncidentRecorded(
            incident_id=message.incident_id, msp_id=message.msp_id, description=message.description
        )
    ]
