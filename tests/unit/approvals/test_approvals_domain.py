"""The approvals service's rules, decided purely: requests, segregation of duties, refusals, due times."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from contracts.base import Actor, Message, Role
from contracts.catalogue.approvals import (
    ApprovalAccepted,
    ApprovalEscalated,
    ApprovalRejected,
    ApprovalRequested,
    ApprovalRequestRejected,
    ApprovalsReasonCode,
    ApprovalSubjectClosed,
    ApprovalWithdrawn,
    CloseApprovalSubject,
    Decision,
    DecisionRejected,
    EscalateOverdueApproval,
    RecordApprovalDecision,
    RequestApproval,
    SubjectType,
    WithdrawApprovalRequest,
)
from kit.timers import Deferred
from services.approvals.domain import CustomerApprovals, RequestStatus
from services.approvals.spec import decide

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DUE = NOW + timedelta(days=5)
REFERRAL = "c1a7d3f0-5b8e-4c62-9f0e-7d2b6a9e1c44"


def actor(officer_id: str, role: Role) -> Actor:
    return Actor(
        officer_id=officer_id, role=role, first_name="Alex", site="Hobart", team="PS Team 1", extension="1234"
    )


CSO = actor("CSO-1", Role.CSO)
OTHER_CSO = actor("CSO-2", Role.CSO)
MANAGER = actor("SM-1", Role.SERVICE_MANAGER)
LEADER = actor("TL-1", Role.TEAM_LEADER)


def request(
    subject_type: SubjectType = SubjectType.CMP,
    *,
    by: Actor = CSO,
    request_id: uuid.UUID | None = None,
    subject_id: str = REFERRAL,
    earlier: tuple[str, ...] = (),
    role: Role = Role.SERVICE_MANAGER,
) -> RequestApproval:
    return RequestApproval(
        actor=by,
        request_id=request_id or uuid.uuid4(),
        subject_type=subject_type,
        subject_id=subject_id,
        chain_id=REFERRAL,
        earlier_stage_officer_ids=earlier,
        required_role=role,
        due_at=DUE,
        summary="CMP ready for Service Manager approval",
    )


def decision(
    request_id: uuid.UUID, by: Actor = MANAGER, accept: bool = True, days: int | None = None
) -> RecordApprovalDecision:
    return RecordApprovalDecision(
        actor=by,
        request_id=request_id,
        decision=Decision.ACCEPT if accept else Decision.REJECT,
        reason="Looks right",
        monitoring_days=days,
    )


def run(
    state: CustomerApprovals | None, *messages: object, now: datetime = NOW
) -> tuple[CustomerApprovals, list[Message | Deferred]]:
    out: list[Message | Deferred] = []
    for message in messages:
        new, events = decide(state, message, now)
        assert new is not None
        state = new
        out = list(events)
    assert state is not None
    return state, out


def only(events: Sequence[Message | Deferred], kind: type) -> object:
    found = [e for e in events if isinstance(e, kind)]
    assert len(found) == 1, events
    return found[0]


def refused(events: Sequence[Message | Deferred]) -> ApprovalsReasonCode:
    assert len(events) >= 1
    first = events[0]
    assert isinstance(first, (DecisionRejected, ApprovalRequestRejected)), events
    return first.reason_code


# -- requests


def test_a_request_is_pending_on_the_required_roles_list_and_arms_a_due_time_timer() -> None:
    cmd = request()
    state, events = run(None, cmd)

    requested = only(events, ApprovalRequested)
    timer = only(events, Deferred)
    assert isinstance(requested, ApprovalRequested) and isinstance(timer, Deferred)
    assert requested.required_role is Role.SERVICE_MANAGER and requested.requested_by == CSO
    assert timer.due_at == DUE
    assert isinstance(timer.message, EscalateOverdueApproval) and timer.message.request_id == cmd.request_id
    assert timer.message.actor.role is Role.SYSTEM
    assert state.requests[str(cmd.request_id)].status is RequestStatus.PENDING


def test_a_second_request_with_the_same_id_is_refused_as_a_duplicate() -> None:
    cmd = request()
    state, _ = run(None, cmd)
    again = request(SubjectType.MONITORING, request_id=cmd.request_id)
    new, events = run(state, again)
    assert refused(events) is ApprovalsReasonCode.DUPLICATE_REQUEST
    assert new == state


def test_a_second_open_request_for_the_same_subject_is_refused_as_a_duplicate() -> None:
    state, _ = run(None, request())
    _, events = run(state, request())
    assert refused(events) is ApprovalsReasonCode.DUPLICATE_REQUEST


def test_a_request_on_a_closed_subject_is_refused() -> None:
    close = CloseApprovalSubject(
        actor=CSO, subject_type=SubjectType.TRANSFER, subject_id=REFERRAL, reason="Left PS"
    )
    state, _ = run(None, close)
    _, events = run(state, request(SubjectType.TRANSFER))
    assert refused(events) is ApprovalsReasonCode.SUBJECT_CLOSED


# -- decisions


def test_the_service_manager_accepts_a_cmp_marked_by_a_cso() -> None:
    cmd = request()
    state, events = run(None, cmd, decision(cmd.request_id))
    accepted = only(events, ApprovalAccepted)
    assert isinstance(accepted, ApprovalAccepted)
    assert (
        accepted.decided_by == MANAGER
        and accepted.subject_id == REFERRAL
        and accepted.reason == "Looks right"
    )
    assert state.requests[str(cmd.request_id)].status is RequestStatus.ACCEPTED


def test_the_service_manager_rejects_with_a_reason() -> None:
    cmd = request()
    state, events = run(None, cmd, decision(cmd.request_id, accept=False))
    rejected = only(events, ApprovalRejected)
    assert isinstance(rejected, ApprovalRejected) and rejected.reason == "Looks right"
    assert state.requests[str(cmd.request_id)].status is RequestStatus.REJECTED


def test_an_approver_without_the_required_role_is_refused_role_not_held_and_audited() -> None:
    cmd = request()
    state, events = run(None, cmd, decision(cmd.request_id, by=OTHER_CSO))
    assert refused(events) is ApprovalsReasonCode.ROLE_NOT_HELD
    rejection = events[0]
    assert isinstance(rejection, DecisionRejected) and rejection.attempted_by == OTHER_CSO
    assert state.requests[str(cmd.request_id)].status is RequestStatus.PENDING
    assert [(a.officer_id, a.reason_code) for a in state.audit] == [
        ("CSO-2", ApprovalsReasonCode.ROLE_NOT_HELD)
    ]


def test_the_cso_who_marked_the_cmp_cannot_accept_it_as_service_manager() -> None:
    cmd = request()
    as_manager = actor("CSO-1", Role.SERVICE_MANAGER)
    state, events = run(None, cmd, decision(cmd.request_id, by=as_manager))
    assert refused(events) is ApprovalsReasonCode.SELF_APPROVAL
    assert state.audit[-1].reason_code is ApprovalsReasonCode.SELF_APPROVAL
    assert state.requests[str(cmd.request_id)].status is RequestStatus.PENDING


def test_an_officer_named_as_acting_on_an_earlier_stage_cannot_decide() -> None:
    cmd = request(earlier=("CSO-9",))
    _, events = run(None, cmd, decision(cmd.request_id, by=actor("CSO-9", Role.SERVICE_MANAGER)))
    assert refused(events) is ApprovalsReasonCode.ACTED_ON_EARLIER_STAGE


def test_the_requester_of_an_earlier_stage_of_the_chain_cannot_decide_a_later_stage() -> None:
    cmp = request(by=CSO)
    monitoring = request(SubjectType.MONITORING, by=OTHER_CSO)
    state, _ = run(None, cmp, decision(cmp.request_id), monitoring)
    _, events = run(state, decision(monitoring.request_id, by=actor("CSO-1", Role.SERVICE_MANAGER), days=90))
    assert refused(events) is ApprovalsReasonCode.ACTED_ON_EARLIER_STAGE


def test_the_service_manager_who_decided_an_earlier_stage_may_decide_the_next() -> None:
    cmp = request(by=CSO)
    monitoring = request(SubjectType.MONITORING, by=CSO)
    _, events = run(None, cmp, decision(cmp.request_id), monitoring, decision(monitoring.request_id, days=90))
    accepted = only(events, ApprovalAccepted)
    assert isinstance(accepted, ApprovalAccepted) and accepted.monitoring_days == 90


def test_accepting_monitoring_needs_the_days() -> None:
    cmd = request(SubjectType.MONITORING)
    _, events = run(None, cmd, decision(cmd.request_id))
    assert refused(events) is ApprovalsReasonCode.MONITORING_DAYS_REQUIRED


@pytest.mark.parametrize(("subject", "accept"), [(SubjectType.CMP, True), (SubjectType.MONITORING, False)])
def test_monitoring_days_are_refused_anywhere_but_an_acceptance_of_monitoring(
    subject: SubjectType, accept: bool
) -> None:
    cmd = request(subject)
    _, events = run(None, cmd, decision(cmd.request_id, accept=accept, days=30))
    assert refused(events) is ApprovalsReasonCode.MONITORING_DAYS_NOT_ALLOWED


def test_a_decision_on_an_unknown_request_is_refused() -> None:
    _, events = run(None, decision(uuid.uuid4()))
    assert refused(events) is ApprovalsReasonCode.UNKNOWN_REQUEST


def test_a_second_decision_changes_nothing_and_is_refused_already_decided() -> None:
    cmd = request()
    state, _ = run(None, cmd, decision(cmd.request_id))
    new, events = run(state, decision(cmd.request_id, by=actor("SM-2", Role.SERVICE_MANAGER), accept=False))
    assert refused(events) is ApprovalsReasonCode.ALREADY_DECIDED
    assert new.requests == state.requests


def test_a_decision_on_a_withdrawn_request_is_refused_withdrawn() -> None:
    cmd = request()
    withdraw = WithdrawApprovalRequest(actor=CSO, request_id=cmd.request_id, reason="Entered in error")
    state, events = run(None, cmd, withdraw)
    assert isinstance(only(events, ApprovalWithdrawn), ApprovalWithdrawn)
    new, events = run(state, decision(cmd.request_id))
    assert refused(events) is ApprovalsReasonCode.WITHDRAWN
    assert new.requests == state.requests


def test_a_decision_on_a_request_whose_subject_is_closed_is_refused_subject_closed() -> None:
    cmd = request(SubjectType.TRANSFER)
    close = CloseApprovalSubject(
        actor=CSO, subject_type=SubjectType.TRANSFER, subject_id=REFERRAL, reason="Left PS"
    )
    state, events = run(None, cmd, close)
    assert [type(e) for e in events] == [ApprovalWithdrawn, ApprovalSubjectClosed]
    assert state.requests[str(cmd.request_id)].status is RequestStatus.WITHDRAWN
    _, events = run(state, decision(cmd.request_id))
    assert refused(events) is ApprovalsReasonCode.SUBJECT_CLOSED


def test_closing_a_subject_twice_is_refused() -> None:
    close = CloseApprovalSubject(
        actor=CSO, subject_type=SubjectType.CMP, subject_id=REFERRAL, reason="Left PS"
    )
    _, events = run(None, close, close)
    assert refused(events) is ApprovalsReasonCode.SUBJECT_CLOSED


def test_closing_one_subject_type_leaves_the_others_of_the_same_referral_open() -> None:
    cmd = request(SubjectType.CMP)
    close = CloseApprovalSubject(
        actor=CSO, subject_type=SubjectType.TRANSFER, subject_id=REFERRAL, reason="x"
    )
    _, events = run(None, cmd, close, decision(cmd.request_id))
    assert isinstance(only(events, ApprovalAccepted), ApprovalAccepted)


# -- withdrawing


def test_only_the_requester_may_withdraw() -> None:
    cmd = request()
    _, events = run(
        None, cmd, WithdrawApprovalRequest(actor=OTHER_CSO, request_id=cmd.request_id, reason="No")
    )
    assert refused(events) is ApprovalsReasonCode.NOT_REQUESTER


def test_the_requesting_service_may_withdraw_on_the_requesters_behalf() -> None:
    cmd = request()
    system = Actor.system("referrals")
    _, events = run(
        None, cmd, WithdrawApprovalRequest(actor=system, request_id=cmd.request_id, reason="Closed")
    )
    assert isinstance(only(events, ApprovalWithdrawn), ApprovalWithdrawn)


def test_withdrawing_a_decided_request_is_refused() -> None:
    cmd = request()
    _, events = run(
        None,
        cmd,
        decision(cmd.request_id),
        WithdrawApprovalRequest(actor=CSO, request_id=cmd.request_id, reason="x"),
    )
    assert refused(events) is ApprovalsReasonCode.ALREADY_DECIDED


# -- due times


def escalate(cmd: RequestApproval) -> EscalateOverdueApproval:
    return EscalateOverdueApproval(
        actor=Actor.system("approvals-due-time"), request_id=cmd.request_id, due_at=DUE
    )


def test_an_overdue_request_is_escalated_to_a_team_leader_who_may_then_decide_it() -> None:
    cmd = request()
    state, events = run(None, cmd, escalate(cmd), now=DUE + timedelta(minutes=1))
    escalated = only(events, ApprovalEscalated)
    assert isinstance(escalated, ApprovalEscalated) and escalated.escalated_to_role is Role.TEAM_LEADER
    request_state = state.requests[str(cmd.request_id)]
    assert request_state.escalated and request_state.deciding_roles == (
        Role.SERVICE_MANAGER,
        Role.TEAM_LEADER,
    )
    _, events = run(state, decision(cmd.request_id, by=LEADER))
    assert isinstance(only(events, ApprovalAccepted), ApprovalAccepted)


def test_a_team_leader_may_not_decide_a_request_that_is_not_escalated() -> None:
    cmd = request()
    _, events = run(None, cmd, decision(cmd.request_id, by=LEADER))
    assert refused(events) is ApprovalsReasonCode.ROLE_NOT_HELD


def test_the_due_time_timer_of_a_decided_request_changes_nothing() -> None:
    cmd = request()
    state, _ = run(None, cmd, decision(cmd.request_id))
    new, events = run(state, escalate(cmd), now=DUE + timedelta(hours=1))
    assert events == [] and new == state


def test_a_timer_for_another_due_time_is_stale_and_changes_nothing() -> None:
    cmd = request()
    state, _ = run(None, cmd)
    stale = EscalateOverdueApproval(
        actor=Actor.system("t"), request_id=cmd.request_id, due_at=DUE - timedelta(days=1)
    )
    new, events = run(state, stale, now=DUE + timedelta(hours=1))
    assert events == [] and new == state


def test_an_escalation_before_the_due_time_is_refused_not_overdue_and_the_timer_is_armed_again() -> None:
    cmd = request()
    state, events = run(None, cmd, escalate(cmd), now=DUE - timedelta(seconds=5))
    assert refused(events) is ApprovalsReasonCode.NOT_OVERDUE
    timer = only(events, Deferred)
    assert isinstance(timer, Deferred) and timer.due_at > DUE and timer.timer_id.endswith(":1")
    assert not state.requests[str(cmd.request_id)].escalated


def test_escalating_twice_is_refused_already_escalated() -> None:
    cmd = request()
    _, events = run(None, cmd, escalate(cmd), escalate(cmd), now=DUE + timedelta(minutes=1))
    assert refused(events) is ApprovalsReasonCode.ALREADY_ESCALATED


def test_may_decide_summarises_the_segregation_of_duties_checks() -> None:
    cmp = request(by=CSO, earlier=("REC-1",))
    state, _ = run(None, cmp)
    pending = state.requests[str(cmp.request_id)]
    assert state.may_decide(pending, "SM-1", Role.SERVICE_MANAGER)
    assert not state.may_decide(pending, "SM-1", Role.CSO)
    assert not state.may_decide(pending, "CSO-1", Role.SERVICE_MANAGER)
    assert not state.may_decide(pending, "REC-1", Role.SERVICE_MANAGER)
