"""The complaints service declared: one aggregate per customer (CSID) and its rules (seed 003).

A customer's messages share one Kafka partition, so they arrive in order, and escalating a
Level 1 complaint can open its linked Level 2 complaint in the same commit.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from contracts.catalogue.complaints import (
    AddInvestigationStep,
    ComplaintsCommandRejected,
    FinaliseComplaint,
    RecordComplaint,
    RecordCompliment,
    RecordFinalisationSummary,
    RecordIssueOutcome,
    RecordRemedy,
    RequestWrittenResponse,
)
from kit.spec import Aggregate, ServiceSpec
from services.complaints.domain import complaints, compliments
from services.complaints.domain.state import CustomerComplaints, Decision, Facts

COLLECTION = "customers"

CUSTOMER = Aggregate(
    collection=COLLECTION,
    state=CustomerComplaints,
    initial=CustomerComplaints,
    rules={
        RecordComplaint: complaints.record_complaint,
        AddInvestigationStep: complaints.add_investigation_step,
        RecordIssueOutcome: complaints.record_issue_outcome,
        RecordFinalisationSummary: complaints.record_finalisation_summary,
        RecordRemedy: complaints.record_remedy,
        RequestWrittenResponse: complaints.request_written_response,
        FinaliseComplaint: complaints.finalise_complaint,
        RecordCompliment: compliments.record_compliment,
    },
)

SPEC = ServiceSpec("complaints", [CUSTOMER], ComplaintsCommandRejected)


def decide(
    state: CustomerComplaints | None, message: object, now: datetime, *, remedies: Collection[str]
) -> Decision:
    """The new state and the events for one command; a refusal leaves the state as it was."""
    new_state, events = SPEC.decide(state, message, now, Facts(frozenset(remedies)))
    return new_state, list(events)  # type: ignore[arg-type]
