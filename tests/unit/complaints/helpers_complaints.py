"""Builders for the complaints tests: commands with sensible defaults, and a decider to run them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from uuid import UUID

from contracts.base import Actor, Message, Role, StaffReference
from contracts.catalogue.complaints import (
    ComplaintChannel,
    ComplaintIssueInput,
    ComplaintLevel,
    ComplaintsCommandRejected,
    FinaliseComplaint,
    IssueOutcome,
    RecordComplaint,
    RecordIssueOutcome,
)
from services.complaints.domain import CustomerComplaints
from services.complaints.settings import DEFAULT_REMEDIES
from services.complaints.spec import decide

CSID = "123456789"
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
OFFICER = Actor(
    officer_id="EMP10442",
    role=Role.COMPLAINTS_OFFICER,
    first_name="Priya",
    site="Hobart",
    team="PS 3",
    extension="4471",
)
SAM = StaffReference(
    officer_id="EMP20931", first_name="Sam", site="Parramatta", team="Mainstream 12", extension="3310"
)
ALEX = StaffReference(first_name="Alex", site="Hobart", team="Mainstream 4", extension="2210")


def an_id(name: str) -> UUID:
    """A stable id per name, so tests read well and repeat exactly."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"casemesh-test:{name}")


def issue_ids(complaint_id: UUID, count: int) -> list[UUID]:
    return [uuid.uuid5(complaint_id, f"issue-{n}") for n in range(count)]


def record_complaint(
    complaint_id: UUID | None = None,
    *,
    issues: int = 2,
    level: int = 1,
    staff: Sequence[StaffReference] = (SAM,),
) -> RecordComplaint:
    complaint_id = complaint_id or an_id("complaint")
    return RecordComplaint(
        actor=OFFICER,
        complaint_id=complaint_id,
        level=ComplaintLevel(level),
        channel=ComplaintChannel.PHONE,
        issues=tuple(
            ComplaintIssueInput(issue_id=i, category="SERVICE_QUALITY", issue=f"ISSUE_{n}")
            for n, i in enumerate(issue_ids(complaint_id, issues))
        ),
        details="Customer says a call-back promised on 3 March was not made.",
        staff_involved=tuple(staff),
        handling_form_text="COMPLAINT HANDLING\nIssue: call-back not made",
    )


def outcome(
    cmd: RecordComplaint, index: int, value: IssueOutcome, reason: str | None = None
) -> RecordIssueOutcome:
    return RecordIssueOutcome(
        actor=OFFICER,
        complaint_id=cmd.complaint_id,
        issue_id=cmd.issues[index].issue_id,
        outcome=value,
        reason=reason,
    )


def finalise(complaint_id: UUID) -> FinaliseComplaint:
    return FinaliseComplaint(actor=OFFICER, complaint_id=complaint_id)


class Run:
    """Feeds commands through the pure decider, keeping the state and every event, a minute apart."""

    def __init__(self, remedies: Iterable[str] = DEFAULT_REMEDIES) -> None:
        self.state: CustomerComplaints | None = None
        self.remedies = frozenset(remedies)
        self.events: list[Message] = []
        self.clock = NOW

    def __call__(self, *commands: object) -> list[Message]:
        """Decides each command in turn; returns the events of the last one."""
        out: list[Message] = []
        for command in commands:
            self.clock += timedelta(minutes=1)
            self.state, out = decide(self.state, command, self.clock, remedies=self.remedies)
            self.events.extend(out)
        return out

    @property
    def current(self) -> CustomerComplaints:
        assert self.state is not None
        return self.state


def refusal(events: Sequence[Message]) -> ComplaintsCommandRejected:
    (event,) = events
    assert isinstance(event, ComplaintsCommandRejected), event
    return event


M = TypeVar("M", bound=Message)


def of_type(events: Sequence[Message], cls: type[M]) -> list[M]:
    return [e for e in events if isinstance(e, cls)]
