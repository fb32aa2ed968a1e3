"""A customer's story across services, in plain words: one line per fact, and the case summary
(owner, lock, open issues, complaints, MSP) the facts keep current.

Only what the source event says goes in, and of that only codes, statuses and who acted: free
text that events carry (a dispute's summary, feedback, a note) stays out of the timeline.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from contracts.base import Actor, Message, Rejection
from contracts.catalogue import approvals, casework, complaints, contacts, msp, notifications, referrals
from services.casework.domain.state import TIMELINE_LIMIT, CaseFile, Facts, Lock, TimelineEntry, Who

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z]|$)|[A-Z][a-z]*|[0-9]+")
_ACTOR_FIELDS = ("actor", "decided_by", "requested_by", "withdrawn_by", "by")


def in_words(code: str) -> str:
    """``NO_POSTAL_ADDRESS`` → ``no postal address``."""
    return code.replace("_", " ").lower()


#: Acronyms that message type names write as words (``TaskSlaBreached``, ``SmsSuppressed``).
_ACRONYMS = frozenset({"Sla", "Sms"})


def type_in_words(message_type: str) -> str:
    """``ComplaintFinalised`` → ``Complaint finalised``; acronyms are kept (``MSP contact started``,
    ``Task SLA breached``)."""
    words = _WORD.findall(message_type)
    text = " ".join(
        w.upper() if w in _ACRONYMS else w if w.isupper() and len(w) > 1 else w.lower() for w in words
    )
    return text[:1].upper() + text[1:]


def _who(message: Any) -> str | None:
    for name in _ACTOR_FIELDS:
        actor = getattr(message, name, None)
        if isinstance(actor, Actor):
            return Who.of(actor).words
    return None


def _value(value: Any) -> str:
    return in_words(value.value if hasattr(value, "value") else str(value))


def _day(at: Any) -> str:
    return f"{at:%Y-%m-%d}"


# What each fact says beyond its name: codes and statuses only (never free text).
_OUTCOMES: dict[type[Message], Callable[[Any], str]] = {
    approvals.ApprovalRequested: lambda m: f"{_value(m.subject_type)}, for {_value(m.required_role)}",
    approvals.ApprovalAccepted: lambda m: f"{_value(m.subject_type)} accepted",
    approvals.ApprovalRejected: lambda m: f"{_value(m.subject_type)} rejected",
    approvals.ApprovalEscalated: lambda m: f"escalated to {_value(m.escalated_to_role)}",
    referrals.CustomerOwnershipAssigned: lambda m: f"owner {m.owner_area}",
    referrals.CustomerOwnershipTransferred: lambda m: f"from {m.from_area} to {m.to_area}",
    referrals.OwnershipDisputeResolved: lambda m: f"owner {m.owner_area}",
    referrals.CustomerLocked: lambda m: f"locked to {m.lock_to.officer_id or m.lock_to.area}",
    referrals.PresentingIssueIdentified: lambda m: f"{in_words(m.issue_code)} ({_value(m.issue_class)})",
    referrals.SpecialisedIssueReferred: lambda m: f"{in_words(m.issue_code)} to {m.specialist_area}",
    referrals.IssueFinalised: lambda m: "customer agrees" if m.customer_agrees else "customer does not agree",
    complaints.ComplaintRecorded: lambda m: f"level {int(m.level)}, {len(m.issues)} issue(s)",
    complaints.ComplaintIssueOutcomeRecorded: lambda m: _value(m.outcome),
    complaints.ComplaintCategoryDerived: lambda m: _value(m.category),
    complaints.ComplaintFinalised: lambda m: _value(m.category),
    notifications.NotificationDispatched: lambda m: f"{_value(m.channel)}, {_value(m.purpose)}",
    notifications.NotificationDelivered: lambda m: _value(m.channel),
    notifications.NotificationDeliveryFailed: lambda m: _value(m.channel),
    notifications.SmsSuppressed: lambda m: ", ".join(_value(r) for r in m.reasons),
    notifications.MSPContactResultRecorded: lambda m: (
        _value(m.step)
        + (f": {_value(m.phone_outcome)}" if m.phone_outcome else "")
        + (f": {_value(m.delivery_status)}" if m.delivery_status else "")
    ),
    # The MSP record's lifecycle (issue 20 item 1): statuses, stages, dates; a note's text never.
    msp.MSPProposed: lambda m: (
        f"{_value(m.status)}, {m.approval_stages} approval stage(s); "
        + ", ".join(f"{_value(r.channel)} {_value(r.access)}" for r in m.channel_restrictions)
    ),
    msp.MSPApprovalStageAccepted: lambda m: f"stage {m.stage} of {m.stages} accepted",
    msp.MSPApproved: lambda m: "approved",
    msp.MSPActivated: lambda m: f"active: review {_day(m.review_at)}, expires {_day(m.expires_at)}",
    msp.MSPReviewStarted: lambda m: f"under review until it expires {_day(m.expires_at)}",
    msp.MSPReviewed: lambda m: f"continued: review {_day(m.review_at)}, expires {_day(m.expires_at)}",
    msp.MSPExpired: lambda m: "expired",
    msp.MSPEnded: lambda m: f"ended: {_value(m.reason_code)}",
    contacts.MeetingScheduled: lambda m: "meeting scheduled",
    casework.TaskOpened: lambda m: f"{m.title}",
    casework.TaskCompleted: lambda m: in_words(m.outcome),
    casework.TaskReassigned: lambda m: _assignee_words(m.assignee),
    casework.TaskSlaBreached: lambda m: f"escalated to {_assignee_words(m.escalated_to)}",
}


def _assignee_words(assignee: casework.Assignee) -> str:
    parts = [assignee.officer_id, assignee.team, in_words(assignee.role.value) if assignee.role else None]
    return " / ".join(p for p in parts if p)


def describe(message: Message) -> tuple[str, str | None]:
    """The fact's line and its outcome in words."""
    words = type_in_words(type(message).MESSAGE_TYPE)
    if isinstance(message, Rejection):
        return words, f"refused: {in_words(message.reason_code)}"
    outcome = _OUTCOMES.get(type(message))
    return words, outcome(message) if outcome else None


def timeline_entry(message: Message, facts: Facts, service: str) -> TimelineEntry:
    words, outcome = describe(message)
    return TimelineEntry(
        at=facts.at,
        service=service,
        message_type=facts.message_type,
        message_id=facts.message_id,
        words=words,
        who=_who(message),
        outcome=outcome,
    )


def with_line(case: CaseFile, entry: TimelineEntry) -> CaseFile:
    return case.model_copy(update={"timeline": (*case.timeline, entry)[-TIMELINE_LIMIT:]})


def _issue(case: CaseFile, m: Any) -> dict[str, Any]:
    area = f" ({m.specialist_area})" if m.specialist_area else ""
    return {"open_issues": {**case.open_issues, str(m.issue_id): f"{in_words(m.issue_code)}{area}"}}


def _lock(case: CaseFile, m: Any) -> dict[str, Any]:
    target = m.lock_to
    return {
        "lock": Lock(
            kind=_value(target.kind), officer_id=target.officer_id, area=target.area, reason=m.reason
        )
    }


def _complaint(status: Callable[[Any], str]) -> Callable[[CaseFile, Any], dict[str, Any]]:
    return lambda case, m: {"complaints": {**case.complaints, str(m.complaint_id): status(m)}}


#: An MSP's summary: its status, then its contact's last result (``active; last result: …``).
_LAST_RESULT = "; last result: "


def _msp(status: Callable[[Any], str]) -> Callable[[CaseFile, Any], dict[str, Any]]:
    """The MSP's new status, keeping its contact's last result."""

    def change(case: CaseFile, m: Any) -> dict[str, Any]:
        _, found, result = case.msp.get(str(m.msp_id), "").partition(_LAST_RESULT)
        return {"msp": {**case.msp, str(m.msp_id): status(m) + found + result}}

    return change


def _msp_contact(case: CaseFile, m: Any) -> dict[str, Any]:
    """The contact started: an MSP without a record (or status) yet reads "contact started"."""
    if case.msp.get(str(m.msp_id)):
        return {}
    return {"msp": {**case.msp, str(m.msp_id): "contact started"}}


def _msp_result(case: CaseFile, m: Any) -> dict[str, Any]:
    status = case.msp.get(str(m.msp_id), "").partition(_LAST_RESULT)[0] or "contact started"
    return {"msp": {**case.msp, str(m.msp_id): f"{status}{_LAST_RESULT}{describe(m)[1]}"}}


#: What each fact changes of the case summary.
_SUMMARY: dict[type[Message], Callable[[CaseFile, Any], dict[str, Any]]] = {
    referrals.CustomerOwnershipAssigned: lambda case, m: {"owner_area": m.owner_area},
    referrals.OwnershipDisputeResolved: lambda case, m: {"owner_area": m.owner_area},
    referrals.CustomerOwnershipTransferred: lambda case, m: {"owner_area": m.to_area},
    referrals.CustomerLocked: _lock,
    referrals.CustomerUnlocked: lambda case, m: {"lock": None},
    referrals.CustomerAssignedToPS: lambda case, m: {"in_ps": True},
    referrals.CustomerTransferredOutOfPS: lambda case, m: {"in_ps": False},
    referrals.PresentingIssueIdentified: _issue,
    referrals.IssueFinalised: lambda case, m: {
        "open_issues": {k: v for k, v in case.open_issues.items() if k != str(m.issue_id)}
    },
    complaints.ComplaintRecorded: _complaint(lambda m: f"open at level {int(m.level)}"),
    complaints.ComplaintEscalated: _complaint(lambda m: "escalated to level 2"),
    complaints.ComplaintFinalised: _complaint(lambda m: f"finalised: {_value(m.category)}"),
    notifications.MSPContactStarted: _msp_contact,
    notifications.MSPContactResultRecorded: _msp_result,
    msp.MSPProposed: _msp(lambda m: _value(m.status)),
    msp.MSPApproved: _msp(lambda m: "approved"),
    msp.MSPActivated: _msp(lambda m: "active"),
    msp.MSPReviewStarted: _msp(lambda m: "under review"),
    msp.MSPReviewed: _msp(lambda m: "active"),
    msp.MSPExpired: _msp(lambda m: "expired"),
    msp.MSPEnded: _msp(lambda m: f"ended: {_value(m.reason_code)}"),
}


def summarised(case: CaseFile, message: Message) -> CaseFile:
    """The case summary after ``message``: owner, lock, PS, open issues, complaints, MSP."""
    change = _SUMMARY.get(type(message))
    return case if change is None else case.model_copy(update=change(case, message))
