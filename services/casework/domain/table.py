"""The task table, in one place: which fact asks whom to do what, by when, and which later fact
makes the task moot (issue 17).

Each row maps an event another service publishes to a task: its kind, its subject (what a later
fact names to close it), who it waits for, and its due time — the event's own where it names one
(an approval's due time, a meeting action's due date, the end of monitoring), else the SLA
configured for the kind (``CASEMESH_CASEWORK_SLAS``; defaults in :data:`DEFAULT_SLAS`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from contracts.base import Message, Role
from contracts.catalogue import EVENTS, approvals, complaints, contacts, msp, notifications, referrals
from contracts.catalogue.casework import Assignee, TaskKind

#: SLA per kind where the fact names no due time of its own.
DEFAULT_SLAS: dict[TaskKind, timedelta] = {
    TaskKind.APPROVAL_DECISION: timedelta(days=5),
    TaskKind.OWNERSHIP_DISPUTE: timedelta(days=2),
    TaskKind.MEETING_ACTION: timedelta(days=10),
    TaskKind.STAFF_FEEDBACK: timedelta(days=10),
    TaskKind.COMPLIMENT_TO_STAFF: timedelta(days=5),
    TaskKind.OFFICER_FEEDBACK: timedelta(days=5),
    TaskKind.DELIVERY_ABANDONED: timedelta(days=1),
    TaskKind.MONITORING_REVIEW: timedelta(days=90),
    TaskKind.MONITORING_EXPIRED: timedelta(days=2),
    TaskKind.MSP_REVIEW: timedelta(days=90),
    TaskKind.MSP_INCIDENT: timedelta(days=1),
    TaskKind.INTRAY_ITEM: timedelta(days=2),
    TaskKind.SPECIALISED_ISSUE: timedelta(days=5),
    TaskKind.COMPLAINT_INVESTIGATION: timedelta(days=20),
}


@dataclass(frozen=True)
class Row:
    """One fact that opens a task."""

    kind: TaskKind
    title: str
    subject: Callable[[Any], str]
    assignee: Callable[[Any], Assignee]
    due: Callable[[Any], datetime | None] = lambda message: None


@dataclass(frozen=True)
class Closer:
    """A fact that makes the open tasks of ``kind`` about ``subject`` moot."""

    kind: TaskKind
    subject: Callable[[Any], str]


def _queue(role: Role, team: str | None = None) -> Assignee:
    return Assignee(role=role, team=team)


def _officer(officer_id: str | None, team: str | None, otherwise: Role) -> Assignee:
    """The officer when the fact names one; else their team's Team Leader or the role's queue."""
    if officer_id:
        return Assignee(officer_id=officer_id, team=team)
    return Assignee(team=team, role=otherwise)


def _area_queue(area: str) -> Assignee:
    """An area's queue: PS Service Officers for Personalised Services ("where a customer is managed
    by PS, PS will always co-ordinate", seed 001 table 1 step 7), else its Specialist Officers."""
    if area == referrals.PERSONALISED_SERVICES_AREA:
        return _queue(Role.PS_SERVICE_OFFICER, area)
    return _queue(Role.SPECIALIST_OFFICER, area)


def _end_of(day: Any) -> datetime:
    return datetime.combine(day, time(23, 59, 59), UTC)


TASKS: dict[type[Message], Row] = {
    # Approvals' requests wait for the role that decides them (seed 000 tables 3, 5, 6).
    approvals.ApprovalRequested: Row(
        TaskKind.APPROVAL_DECISION,
        "Decide an approval request",
        subject=lambda m: str(m.request_id),
        assignee=lambda m: _queue(m.required_role),
        due=lambda m: m.due_at,
    ),
    # Seed 001: an ownership dispute the areas cannot settle goes to the Team Leader.
    referrals.OwnershipDisputeEscalated: Row(
        TaskKind.OWNERSHIP_DISPUTE,
        "Resolve an ownership dispute",
        subject=lambda m: "ownership",
        assignee=lambda m: _queue(Role.TEAM_LEADER, m.actor.team),
    ),
    # Seed 004 (Riunioni): each action item of the minutes is a task for its owner, by its date.
    contacts.MeetingActionTaskCreated: Row(
        TaskKind.MEETING_ACTION,
        "Carry out a meeting action",
        subject=lambda m: str(m.action_id),
        assignee=lambda m: Assignee(officer_id=m.owner),
        due=lambda m: _end_of(m.due_date),
    ),
    # Seed 003: feedback to the staff member a complaint concerned, through their team.
    complaints.StaffFeedbackPrepared: Row(
        TaskKind.STAFF_FEEDBACK,
        "Give feedback from a complaint",
        subject=lambda m: f"{m.complaint_id}:{m.staff_member.officer_id or m.staff_member.first_name}",
        assignee=lambda m: _officer(m.staff_member.officer_id, m.staff_member.team, Role.TEAM_LEADER),
    ),
    # Seed 003: a compliment is forwarded to the staff member and their Team Leader.
    complaints.ComplimentForwarded: Row(
        TaskKind.COMPLIMENT_TO_STAFF,
        "Pass on a compliment",
        subject=lambda m: str(m.compliment_id),
        assignee=lambda m: _officer(
            m.staff_member.officer_id if m.staff_member else None, m.team, Role.TEAM_LEADER
        ),
    ),
    # Seed 001: the officer whose error was identified receives feedback.
    referrals.OfficerFeedbackSent: Row(
        TaskKind.OFFICER_FEEDBACK,
        "Read feedback on an identified error",
        subject=lambda m: str(m.error_id),
        assignee=lambda m: Assignee(officer_id=m.to_officer_id),
    ),
    # Issue 5: a notification abandoned after every retry and fallback — officers must act.
    notifications.NotificationDeliveryAbandoned: Row(
        TaskKind.DELIVERY_ABANDONED,
        "Contact the customer another way: a notification could not be delivered",
        subject=lambda m: str(m.notification_id),
        assignee=lambda m: _queue(Role.CSO),
    ),
    # Seed 002 step 1: "where phone contact is unsuccessful, consider sending an MSP SMS" — on
    # the officer's work list (issue 20 item 3). A contact that did not reach the customer, so it
    # shares DELIVERY_ABANDONED until the casework contracts name their own kind (a major version).
    notifications.MSPSmsOptionOffered: Row(
        TaskKind.DELIVERY_ABANDONED,
        "Phone contact for the MSP was unsuccessful: consider sending an MSP SMS",
        subject=lambda m: str(m.msp_id),
        assignee=lambda m: _officer(m.officer_id, None, Role.APPROVED_DECISION_MAKER),
    ),
    # Seed 002 step 3: "Customers must be advised of their MSP in writing" — with no postal
    # address the letter cannot go; the officer is asked to obtain one (issue 20 item 3).
    notifications.MSPPostalAddressRequired: Row(
        TaskKind.DELIVERY_ABANDONED,
        "Obtain a postal address: the MSP letter waits for one",
        subject=lambda m: str(m.msp_id),
        assignee=lambda m: _officer(m.officer_id, None, Role.CSO),
    ),
    # Seed 000 table 5 step 2: monitoring ends at its date; the transfer is actioned before then.
    referrals.TransferMonitoringStarted: Row(
        TaskKind.MONITORING_REVIEW,
        "Review the customer before monitoring ends",
        subject=lambda m: str(m.referral_id),
        assignee=lambda m: _queue(Role.PS_SERVICE_OFFICER),
        due=lambda m: m.monitoring_ends_at,
    ),
    referrals.TransferMonitoringExpired: Row(
        TaskKind.MONITORING_EXPIRED,
        "Monitoring expired without the transfer being actioned",
        subject=lambda m: str(m.referral_id),
        assignee=lambda m: _queue(m.work_list_role),
    ),
    # Issue 20 item 1: the MSP record's review date came; its owner reviews it before it expires.
    # Seed 002 step 4's task cards: "Task card: Recording Managed Service Plan (MSP)", and "For
    # Child Support customers, see the Proposing/reviewing an MSP to include service channel
    # restriction table in Personalised Services."
    msp.MSPReviewStarted: Row(
        TaskKind.MSP_REVIEW,
        "Review the Managed Service Plan",
        subject=lambda m: str(m.msp_id),
        assignee=lambda m: _officer(m.officer_id, m.team, Role.TEAM_LEADER),
        due=lambda m: m.expires_at,
    ),
    notifications.MSPIncidentRaised: Row(
        TaskKind.MSP_INCIDENT,
        "Follow up an incident raised during MSP contact",
        subject=lambda m: str(m.incident_id),
        assignee=lambda m: _officer(m.officer_id, None, Role.TEAM_LEADER),
    ),
    # Seed 001 table 1 step 1: correspondence waits in an intray until every issue is addressed.
    referrals.IntrayItemOpened: Row(
        TaskKind.INTRAY_ITEM,
        "Work an intray item",
        subject=lambda m: str(m.intray_item_id),
        assignee=lambda m: _queue(Role.CSO, m.actor.team),
    ),
    # Seed 001: a specialised issue is referred to its specialist area.
    referrals.SpecialisedIssueReferred: Row(
        TaskKind.SPECIALISED_ISSUE,
        "Work a referred specialised issue",
        subject=lambda m: str(m.issue_id),
        assignee=lambda m: _queue(Role.SPECIALIST_OFFICER, m.specialist_area),
    ),
    # Seed 001 table 1 step 7: "When retaining customer ownership and a second (or subsequent)
    # specialised issue arises, tell the customers" — the owning area tells them …
    referrals.SpecialisedIssueNoticeRequired: Row(
        TaskKind.SPECIALISED_ISSUE,
        "Tell the customer about their other specialised issue",
        subject=lambda m: str(m.issue_id),
        assignee=lambda m: _area_queue(m.owner_area),
    ),
    # … and "consult with the other specialist area to determine the best way to manage the
    # customer": a task on the consulted area's list.
    referrals.SpecialistAreaConsultationRequested: Row(
        TaskKind.SPECIALISED_ISSUE,
        "Consult the owning area on the best way to manage the customer",
        subject=lambda m: str(m.issue_id),
        assignee=lambda m: _area_queue(m.consulted_area),
    ),
    # Seed 003: a complaint is investigated until it is finalised.
    complaints.ComplaintRecorded: Row(
        TaskKind.COMPLAINT_INVESTIGATION,
        "Investigate a complaint",
        subject=lambda m: str(m.complaint_id),
        assignee=lambda m: _queue(Role.COMPLAINTS_OFFICER),
    ),
}

CLOSERS: dict[type[Message], tuple[Closer, ...]] = {
    # "A decision on the approval closes the approval task" (issue 17).
    approvals.ApprovalAccepted: (Closer(TaskKind.APPROVAL_DECISION, lambda m: str(m.request_id)),),
    approvals.ApprovalRejected: (Closer(TaskKind.APPROVAL_DECISION, lambda m: str(m.request_id)),),
    approvals.ApprovalWithdrawn: (Closer(TaskKind.APPROVAL_DECISION, lambda m: str(m.request_id)),),
    referrals.OwnershipDisputeResolved: (Closer(TaskKind.OWNERSHIP_DISPUTE, lambda m: "ownership"),),
    referrals.IntrayItemClosed: (Closer(TaskKind.INTRAY_ITEM, lambda m: str(m.intray_item_id)),),
    referrals.IssueFinalised: (Closer(TaskKind.SPECIALISED_ISSUE, lambda m: str(m.issue_id)),),
    complaints.ComplaintFinalised: (Closer(TaskKind.COMPLAINT_INVESTIGATION, lambda m: str(m.complaint_id)),),
    referrals.TransferOutOfPSActioned: (
        Closer(TaskKind.MONITORING_REVIEW, lambda m: str(m.referral_id)),
        Closer(TaskKind.MONITORING_EXPIRED, lambda m: str(m.referral_id)),
    ),
    referrals.TransferMonitoringExpired: (Closer(TaskKind.MONITORING_REVIEW, lambda m: str(m.referral_id)),),
    referrals.CustomerTransferredOutOfPS: (
        Closer(TaskKind.MONITORING_REVIEW, lambda m: str(m.referral_id)),
        Closer(TaskKind.MONITORING_EXPIRED, lambda m: str(m.referral_id)),
    ),
    # Issue 20 item 1: the review is recorded, or the MSP ended or expired.
    msp.MSPReviewed: (Closer(TaskKind.MSP_REVIEW, lambda m: str(m.msp_id)),),
    msp.MSPEnded: (Closer(TaskKind.MSP_REVIEW, lambda m: str(m.msp_id)),),
    msp.MSPExpired: (Closer(TaskKind.MSP_REVIEW, lambda m: str(m.msp_id)),),
}


@dataclass(frozen=True)
class Reroute:
    """A fact that moves an open task to another queue with a new due time."""

    kind: TaskKind
    subject: Callable[[Any], str]
    assignee: Callable[[Any], Assignee]
    due: Callable[[Any], datetime]
    reason: str


REROUTES: dict[type[Message], Reroute] = {
    # Approvals escalate an overdue request to the next role (seed 000 table 3).
    approvals.ApprovalEscalated: Reroute(
        TaskKind.APPROVAL_DECISION,
        subject=lambda m: str(m.request_id),
        assignee=lambda m: _queue(m.escalated_to_role),
        due=lambda m: m.due_at,
        reason="The approval request was escalated as overdue.",
    ),
}


#: The service that publishes each fact (the MSP record's events are the notifications service's).
_PUBLISHER: dict[type[Message], str] = {cls: service for service, events in EVENTS.items() for cls in events}


def source_service(message: Message) -> str:
    return _PUBLISHER.get(type(message)) or type(message).__module__.rsplit(".", 1)[-1]
