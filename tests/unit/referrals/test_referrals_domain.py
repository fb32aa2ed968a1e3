"""Personalised Services (seed 000) in the referrals service, decided purely."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from contracts.base import Actor, Message, Role
from contracts.catalogue.approvals import (
    ApprovalAccepted,
    ApprovalRejected,
    CloseApprovalSubject,
    RequestApproval,
    SubjectType,
)
from contracts.catalogue.customers import CustomerRegistered
from contracts.catalogue.referrals import (
    PERSONALISED_SERVICES_AREA,
    ActionTransferOutOfPS,
    AddPSStackingDocumentNote,
    AssignCustomerToPS,
    CMPAccepted,
    CMPMarkedForApproval,
    CMPRecorded,
    CMPReturnedToRecording,
    CoreIssueInput,
    CreatePSStackingDocument,
    CustomerAssignedToPS,
    CustomerOwnershipAssigned,
    CustomerTransferredOutOfPS,
    ExpireTransferMonitoring,
    LockCustomer,
    LockTargetInput,
    LockTargetKind,
    MarkCMPForApproval,
    PSReferralType,
    PSStackingDocumentCreated,
    PSStackingDocumentNoteAdded,
    RecordCMP,
    ReferCustomerForTransferOutOfPS,
    ReferralsCommandRejected,
    ReferralsReasonCode,
    StackingDocumentOrigin,
    TransferMonitoringDeclined,
    TransferMonitoringExpired,
    TransferMonitoringStarted,
    TransferOutOfPSActioned,
    TransferOutOfPSDeclined,
    TransferOutOfPSReferred,
    TriggerDetailsInput,
)
from kit.timers import Deferred
from services.referrals.domain import Context, CustomerFile, Stage, choose_officer
from services.referrals.domain.intake import CMAConfig
from services.referrals.spec import decide

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TEAM = "PS Team 1"
TEAMS = {TEAM: ("EMP1", "EMP2", "EMP3"), "PS Team 2": ("EMP9",), "Empty Team": ()}
CTX = Context(ps_teams=TEAMS, approval_due=timedelta(days=5))
REFERRAL = uuid.UUID("c1a7d3f0-5b8e-4c62-9f0e-7d2b6a9e1c44")


def actor(officer_id: str, role: Role, team: str = TEAM) -> Actor:
    return Actor(
        officer_id=officer_id, role=role, first_name="Alex", site="Hobart", team=team, extension="1234"
    )


MANAGER = actor("SM-1", Role.SERVICE_MANAGER, "PS Managers")
CSO = actor("CSO-1", Role.CSO)
RECORDER = actor("CSO-2", Role.PS_SERVICE_OFFICER)
OUTSIDER = actor("CSO-7", Role.CSO, "Mainstream 12")

Outputs = Sequence[Message | Deferred]


def run(
    state: CustomerFile | None, *messages: Any, now: datetime = NOW, ctx: Context = CTX
) -> tuple[CustomerFile, list[Message | Deferred]]:
    out: list[Message | Deferred] = []
    for message in messages:
        new, events = decide(state, message, now, ctx)
        assert new is not None
        state, out = new, list(events)
    assert state is not None
    return state, out


def kinds(events: Outputs) -> list[str]:
    return [type(e).__name__ for e in events]


def refusal(events: Outputs) -> ReferralsReasonCode:
    assert len(events) == 1 and isinstance(events[0], ReferralsCommandRejected), events
    return events[0].reason_code


def first(events: Outputs, kind: type) -> Any:
    found = [e for e in events if isinstance(e, kind)]
    assert found, events
    return found[0]


def registered(international: bool = False) -> CustomerRegistered:
    return CustomerRegistered(
        given_name="Jordan",
        family_name="Lee",
        is_international=international,
        is_centrelink_customer=True,
        site="Hobart",
        team="Mainstream 12",
    )


def assign(
    officer_id: str | None = None,
    *,
    team: str = TEAM,
    by: Actor = MANAGER,
    referral_id: uuid.UUID = REFERRAL,
    associate_of: str | None = None,
) -> AssignCustomerToPS:
    return AssignCustomerToPS(
        actor=by,
        referral_id=referral_id,
        referral_type=PSReferralType.ASSOCIATE if associate_of else PSReferralType.OTHER,
        associate_of_csid=associate_of,
        team=team,
        officer_id=officer_id,
    )


def record(
    by: Actor = RECORDER,
    referral_id: uuid.UUID = REFERRAL,
    referral_type: PSReferralType = PSReferralType.OTHER,
    stacking_document_date: date | None = None,
) -> RecordCMP:
    return RecordCMP(
        actor=by,
        referral_id=referral_id,
        core_issue=CoreIssueInput(
            description="Disputes every assessment",
            internal_referral_type=referral_type,
            stacking_document_date=stacking_document_date,
        ),
        trigger=TriggerDetailsInput(segment="HIGH_CONFLICT", issue="Repeated escalations across areas"),
    )


def unchanged(before: CustomerFile, after: CustomerFile) -> bool:
    """A refusal changes nothing but the audit history (issue 4)."""
    return before.model_copy(update={"history": []}) == after.model_copy(update={"history": []})


def mark(by: Actor = CSO) -> MarkCMPForApproval:
    return MarkCMPForApproval(actor=by, referral_id=REFERRAL)


def request_of(events: Outputs) -> RequestApproval:
    request = first(events, RequestApproval)
    assert isinstance(request, RequestApproval)
    return request


def accepted(request: RequestApproval, days: int | None = None) -> ApprovalAccepted:
    return ApprovalAccepted(
        request_id=request.request_id,
        subject_type=request.subject_type,
        subject_id=request.subject_id,
        chain_id=request.chain_id,
        decided_by=MANAGER,
        reason="Agreed",
        monitoring_days=days,
    )


def rejected(request: RequestApproval) -> ApprovalRejected:
    return ApprovalRejected(
        request_id=request.request_id,
        subject_type=request.subject_type,
        subject_id=request.subject_id,
        chain_id=request.chain_id,
        decided_by=MANAGER,
        reason="Not yet",
    )


def refer() -> ReferCustomerForTransferOutOfPS:
    return ReferCustomerForTransferOutOfPS(actor=CSO, referral_id=REFERRAL, reason="Issues resolved")


def action() -> ActionTransferOutOfPS:
    return ActionTransferOutOfPS(actor=CSO, referral_id=REFERRAL)


def in_ps() -> CustomerFile:
    state, _ = run(None, registered(), assign("EMP2"))
    return state


def plan_active() -> CustomerFile:
    state, events = run(in_ps(), record(), mark())
    state, _ = run(state, accepted(request_of(events)))
    return state


def monitored(days: int = 90) -> tuple[CustomerFile, list[Message | Deferred]]:
    state, events = run(plan_active(), refer())
    return run(state, accepted(request_of(events), days))


# -- seed 000 table 1: assignment


def test_the_officer_with_the_fewest_open_ps_customers_is_assigned_ties_broken_by_officer_id() -> None:
    assert choose_officer(["EMP3", "EMP1", "EMP2"], {"EMP1": 4, "EMP2": 2, "EMP3": 2}) == "EMP2"
    assert choose_officer(["EMP3", "EMP2"], {}) == "EMP2"
    assert choose_officer([], {}) is None

    ctx = Context(ps_teams=TEAMS, caseloads={"EMP1": 4, "EMP2": 3, "EMP3": 3})
    state, events = run(None, registered(), assign(), ctx=ctx)
    assigned = first(events, CustomerAssignedToPS)
    assert (assigned.officer_id, assigned.auto_assigned, assigned.officer_open_ps_customers) == (
        "EMP2",
        True,
        4,
    )
    assert (
        state.ps_officer_id == "EMP2"
        and state.referral is not None
        and state.referral.stage is Stage.ASSIGNED
    )


def test_the_service_manager_may_name_the_ps_service_officer() -> None:
    ctx = Context(ps_teams=TEAMS, caseloads={"EMP3": 7})
    _, events = run(None, registered(), assign("EMP3"), ctx=ctx)
    assigned = first(events, CustomerAssignedToPS)
    assert (assigned.officer_id, assigned.auto_assigned, assigned.officer_open_ps_customers) == (
        "EMP3",
        False,
        8,
    )


def test_assignment_puts_personalised_services_in_charge_of_the_customer() -> None:
    state, events = run(None, registered(), assign("EMP1"))
    assert kinds(events) == ["CustomerAssignedToPS", "CustomerOwnershipAssigned"]
    owner = first(events, CustomerOwnershipAssigned)
    assert owner.owner_area == PERSONALISED_SERVICES_AREA
    assert state.ownership.owner_area == PERSONALISED_SERVICES_AREA


def test_assigning_an_unknown_customer_is_refused() -> None:
    state, events = run(None, assign())
    assert refusal(events) is ReferralsReasonCode.UNKNOWN_CUSTOMER
    assert state.referral is None


def test_assigning_a_customer_already_in_ps_is_refused() -> None:
    _, events = run(in_ps(), assign(referral_id=uuid.uuid4()))
    assert refusal(events) is ReferralsReasonCode.ALREADY_IN_PS


def test_naming_an_officer_outside_the_team_is_refused() -> None:
    _, events = run(None, registered(), assign("EMP9"))
    assert refusal(events) is ReferralsReasonCode.OFFICER_NOT_IN_TEAM


def test_an_associate_of_a_customer_not_in_ps_is_refused() -> None:
    ctx = Context(ps_teams=TEAMS, associate_in_ps=False)
    _, events = run(None, registered(), assign(associate_of="987654321"), ctx=ctx)
    assert refusal(events) is ReferralsReasonCode.ASSOCIATE_NOT_IN_PS


def test_an_associate_of_a_ps_customer_is_assigned() -> None:
    ctx = Context(ps_teams=TEAMS, associate_in_ps=True)
    _, events = run(None, registered(), assign(associate_of="987654321"), ctx=ctx)
    assigned = first(events, CustomerAssignedToPS)
    assert assigned.referral_type is PSReferralType.ASSOCIATE and assigned.associate_of_csid == "987654321"


def test_only_a_service_manager_assigns() -> None:
    _, events = run(None, registered(), assign(by=CSO))
    assert refusal(events) is ReferralsReasonCode.ROLE_NOT_PERMITTED


def test_auto_assignment_to_a_team_without_officers_is_refused() -> None:
    _, events = run(None, registered(), assign(team="Empty Team"))
    assert refusal(events) is ReferralsReasonCode.NO_OFFICER_AVAILABLE


# -- seed 000 tables 2-3: the CMP


def test_the_cmp_is_recorded_only_after_assignment() -> None:
    _, events = run(None, registered(), record())
    assert refusal(events) is ReferralsReasonCode.NOT_ASSIGNED


def test_the_cmp_is_recorded_only_by_the_assigned_officers_team() -> None:
    _, events = run(in_ps(), record(by=OUTSIDER))
    assert refusal(events) is ReferralsReasonCode.NOT_ASSIGNED_TEAM


def test_the_cmp_names_the_current_referral() -> None:
    _, events = run(in_ps(), record(referral_id=uuid.uuid4()))
    assert refusal(events) is ReferralsReasonCode.UNKNOWN_REFERRAL


def test_recording_the_cmp_keeps_its_core_issue_and_trigger() -> None:
    state, events = run(in_ps(), record())
    recorded = first(events, CMPRecorded)
    assert recorded.cmp_version == 1 and recorded.trigger.segment == "HIGH_CONFLICT"
    assert recorded.core_issue.internal_referral_type is PSReferralType.OTHER
    assert state.referral is not None and state.referral.stage is Stage.CMP_RECORDED


def test_the_cmp_records_the_core_issue_in_its_own_right_beside_the_triggers_segment_and_reason() -> None:
    # Seed 000 table 2 step 1: "Record the Core Issue, and Trigger".
    state, events = run(in_ps(), record())
    recorded = first(events, CMPRecorded)
    assert recorded.core_issue.description == "Disputes every assessment"
    assert (recorded.trigger.segment, recorded.trigger.issue) == (
        "HIGH_CONFLICT",
        "Repeated escalations across areas",
    )
    assert state.referral is not None and state.referral.core_issue == recorded.core_issue


def test_an_associate_cmp_is_refused_on_an_other_referral_and_changes_nothing() -> None:
    before = in_ps()
    after, events = run(before, record(referral_type=PSReferralType.ASSOCIATE))
    assert refusal(events) is ReferralsReasonCode.REFERRAL_TYPE_MISMATCH
    assert unchanged(before, after)


def test_an_other_cmp_is_refused_on_an_associate_referral() -> None:
    ctx = dataclasses.replace(CTX, associate_in_ps=True)
    state, _ = run(None, registered(), assign("EMP2", associate_of="987654321"), ctx=ctx)
    _, events = run(state, record(), ctx=ctx)
    assert refusal(events) is ReferralsReasonCode.REFERRAL_TYPE_MISMATCH
    _, events = run(state, record(referral_type=PSReferralType.ASSOCIATE), ctx=ctx)
    assert first(events, CMPRecorded).core_issue.internal_referral_type is PSReferralType.ASSOCIATE


def test_the_stacking_document_date_must_be_the_date_of_a_stacking_document_of_the_referral() -> None:
    before = in_ps()
    after, events = run(before, record(stacking_document_date=NOW.date()))
    assert refusal(events) is ReferralsReasonCode.UNKNOWN_DOCUMENT
    assert unchanged(before, after)

    state, _ = run(before, stacking(StackingDocumentOrigin.CASEMESH))
    _, events = run(state, record(stacking_document_date=NOW.date() - timedelta(days=1)))
    assert refusal(events) is ReferralsReasonCode.UNKNOWN_DOCUMENT
    _, events = run(state, record(stacking_document_date=NOW.date()))
    assert first(events, CMPRecorded).core_issue.stacking_document_date == NOW.date()


def test_the_stacking_document_date_is_read_on_the_agency_calendar() -> None:
    sydney = dataclasses.replace(CTX, cma=CMAConfig(timezone=ZoneInfo("Australia/Sydney")))
    late = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)  # 3 March, 09:00 in Sydney
    state, _ = run(in_ps(), stacking(StackingDocumentOrigin.CASEMESH), now=late, ctx=sydney)
    _, events = run(state, record(stacking_document_date=date(2026, 3, 2)), now=late, ctx=sydney)
    assert refusal(events) is ReferralsReasonCode.UNKNOWN_DOCUMENT
    _, events = run(state, record(stacking_document_date=date(2026, 3, 3)), now=late, ctx=sydney)
    assert first(events, CMPRecorded).core_issue.stacking_document_date == date(2026, 3, 3)


def test_marking_for_approval_needs_a_recorded_cmp() -> None:
    _, events = run(in_ps(), mark())
    assert refusal(events) is ReferralsReasonCode.INVALID_STATE


def test_marking_the_cmp_asks_approvals_for_the_service_managers_decision() -> None:
    state, events = run(in_ps(), record(), mark())
    assert kinds(events) == ["CMPMarkedForApproval", "RequestApproval"]
    request = request_of(events)
    marked = first(events, CMPMarkedForApproval)
    assert marked.approval_request_id == request.request_id
    assert request.subject_type is SubjectType.CMP and request.required_role is Role.SERVICE_MANAGER
    assert request.subject_id == request.chain_id == str(REFERRAL)
    assert request.actor == CSO and request.earlier_stage_officer_ids == ("CSO-2",)
    assert request.due_at == NOW + timedelta(days=5)
    # Deciding the same message again asks with the same request id (the kit's ids are derived too).
    _, again = decide(run(in_ps(), record())[0], mark(), NOW, CTX)
    assert request_of(again).request_id == request.request_id
    assert state.referral is not None and state.referral.stage is Stage.CMP_PENDING_APPROVAL


def test_an_accepted_cmp_makes_the_ps_plan_active() -> None:
    state, events = run(in_ps(), record(), mark())
    state, events = run(state, accepted(request_of(events)))
    assert kinds(events) == ["CMPAccepted"]
    assert first(events, CMPAccepted).actor == MANAGER
    assert state.referral is not None and state.referral.stage is Stage.PLAN_ACTIVE


def test_a_rejected_cmp_goes_back_to_recording_and_is_approved_as_a_new_version() -> None:
    state, events = run(in_ps(), record(), mark())
    first_request = request_of(events)
    state, events = run(state, rejected(first_request))
    assert first(events, CMPReturnedToRecording).decision_reason == "Not yet"
    assert state.referral is not None and state.referral.stage is Stage.CMP_RETURNED
    _, events = run(state, mark())
    assert refusal(events) is ReferralsReasonCode.INVALID_STATE
    state, events = run(state, record())
    assert first(events, CMPRecorded).cmp_version == 2
    state, events = run(state, mark())
    second_request = request_of(events)
    assert second_request.request_id != first_request.request_id
    state, events = run(state, accepted(second_request))
    assert first(events, CMPAccepted).cmp_version == 2


def test_a_decision_on_a_request_the_referral_is_not_waiting_for_changes_nothing() -> None:
    state, events = run(in_ps(), record(), mark())
    request = request_of(events)
    stale = request.model_copy(update={"request_id": uuid.uuid4()})
    after, events = run(state, accepted(stale))
    assert events == [] and after == state


def test_decisions_on_other_services_subjects_are_not_referrals_business() -> None:
    state = in_ps()
    msp = ApprovalAccepted(
        request_id=uuid.uuid4(),
        subject_type=SubjectType.MSP,
        subject_id="x",
        chain_id="x",
        decided_by=MANAGER,
        reason="ok",
    )
    after, events = decide(state, msp, NOW, CTX)
    assert events == [] and after == state


# -- seed 000 table 4: the stacking document


def stacking(
    origin: StackingDocumentOrigin, document_id: uuid.UUID | None = None
) -> CreatePSStackingDocument:
    international = origin is StackingDocumentOrigin.INTERNATIONAL_NOTES
    return CreatePSStackingDocument(
        actor=CSO,
        referral_id=REFERRAL,
        document_id=document_id or uuid.uuid4(),
        origin=origin,
        origin_record_id="PLT-0042-77" if international else None,
        notes="Customer agreed to PS.",
    )


def test_a_stacking_document_is_a_phone_out_pers_services_communication_record() -> None:
    command = stacking(StackingDocumentOrigin.CASEMESH)
    state, events = run(in_ps(), command)
    created = first(events, PSStackingDocumentCreated)
    assert (created.communication_type, created.communication_reason, created.communication_category) == (
        "PHONE_OUT",
        "PERS SERVICES",
        "PS CUSTOMER CONTACT",
    )
    assert created.communication_issue is None and created.origin is StackingDocumentOrigin.CASEMESH
    state, events = run(
        state, AddPSStackingDocumentNote(actor=CSO, document_id=command.document_id, text="Called")
    )
    note = first(events, PSStackingDocumentNoteAdded)
    assert note.referral_id == REFERRAL and note.text == "Called"
    assert state.documents[str(command.document_id)].notes == ["Customer agreed to PS.", "Called"]


def test_an_international_customers_stacking_document_comes_from_the_international_notes() -> None:
    state, _ = run(None, registered(international=True), assign("EMP1"))
    _, events = run(state, stacking(StackingDocumentOrigin.CASEMESH))
    assert refusal(events) is ReferralsReasonCode.ORIGIN_MISMATCH
    _, events = run(state, stacking(StackingDocumentOrigin.INTERNATIONAL_NOTES))
    created = first(events, PSStackingDocumentCreated)
    assert (
        created.origin is StackingDocumentOrigin.INTERNATIONAL_NOTES
        and created.origin_record_id == "PLT-0042-77"
    )


def test_a_domestic_customers_stacking_document_cannot_claim_an_international_origin() -> None:
    _, events = run(in_ps(), stacking(StackingDocumentOrigin.INTERNATIONAL_NOTES))
    assert refusal(events) is ReferralsReasonCode.ORIGIN_MISMATCH


def test_a_stacking_document_needs_the_customer_in_ps_and_notes_need_the_document() -> None:
    _, events = run(None, registered(), stacking(StackingDocumentOrigin.CASEMESH))
    assert refusal(events) is ReferralsReasonCode.NOT_IN_PS
    _, events = run(in_ps(), AddPSStackingDocumentNote(actor=CSO, document_id=uuid.uuid4(), text="x"))
    assert refusal(events) is ReferralsReasonCode.UNKNOWN_DOCUMENT


# -- seed 000 tables 5-6: transfer out of PS


def test_a_transfer_referral_needs_an_active_plan() -> None:
    state, _ = run(in_ps(), record())
    _, events = run(state, refer())
    assert refusal(events) is ReferralsReasonCode.INVALID_STATE


def test_referring_for_transfer_asks_the_service_manager_to_accept_monitoring() -> None:
    state, events = run(plan_active(), refer())
    assert kinds(events) == ["TransferOutOfPSReferred", "RequestApproval"]
    request = request_of(events)
    assert request.subject_type is SubjectType.MONITORING
    assert first(events, TransferOutOfPSReferred).approval_request_id == request.request_id
    assert set(request.earlier_stage_officer_ids) == {"CSO-2"}  # the recorder; CSO-1 is the requester
    assert state.referral is not None and state.referral.stage is Stage.TRANSFER_REFERRED


def test_accepted_monitoring_keeps_the_customer_in_ps_and_arms_a_durable_timer() -> None:
    state, events = monitored(days=60)
    started = first(events, TransferMonitoringStarted)
    timer = first(events, Deferred)
    assert started.monitoring_days == 60 and started.monitoring_ends_at == NOW + timedelta(days=60)
    assert timer.due_at == started.monitoring_ends_at
    assert isinstance(timer.message, ExpireTransferMonitoring) and timer.message.actor.role is Role.SYSTEM
    assert state.in_ps and state.referral is not None and state.referral.stage is Stage.MONITORING


def test_declined_monitoring_keeps_the_plan_active() -> None:
    state, events = run(plan_active(), refer())
    state, events = run(state, rejected(request_of(events)))
    assert kinds(events) == ["TransferMonitoringDeclined"]
    assert first(events, TransferMonitoringDeclined).decision_reason == "Not yet"
    assert state.referral is not None and state.referral.stage is Stage.PLAN_ACTIVE


def test_the_transfer_is_actioned_only_while_monitored() -> None:
    _, events = run(plan_active(), action())
    assert refusal(events) is ReferralsReasonCode.INVALID_STATE


def test_an_accepted_transfer_takes_the_customer_out_of_ps_and_closes_the_referrals_approvals() -> None:
    state, _ = monitored()
    state, events = run(state, action())
    assert kinds(events) == ["TransferOutOfPSActioned", "RequestApproval"]
    request = request_of(events)
    assert request.subject_type is SubjectType.TRANSFER
    assert first(events, TransferOutOfPSActioned).approval_request_id == request.request_id

    ctx = Context(ps_teams=TEAMS, caseloads={"EMP2": 5})
    state, events = run(state, accepted(request), ctx=ctx)
    out = first(events, CustomerTransferredOutOfPS)
    assert (out.officer_id, out.officer_open_ps_customers) == ("EMP2", 4)
    closes = [e for e in events if isinstance(e, CloseApprovalSubject)]
    assert {c.subject_type for c in closes} == {SubjectType.CMP, SubjectType.MONITORING, SubjectType.TRANSFER}
    assert all(c.subject_id == str(REFERRAL) for c in closes)
    assert not state.in_ps and state.ps_officer_id is None and state.ownership.owner_area is None
    assert [r.stage for r in state.past_referrals] == [Stage.TRANSFERRED_OUT]
    # Out of PS, the customer may be referred again — with a new referral id.
    _, events = run(state, assign("EMP1", referral_id=REFERRAL))
    assert refusal(events) is ReferralsReasonCode.INVALID_STATE
    _, events = run(state, assign("EMP1", referral_id=uuid.uuid4()))
    assert isinstance(events[0], CustomerAssignedToPS)


def test_a_rejected_transfer_keeps_the_customer_active_in_ps() -> None:
    state, _ = monitored()
    state, events = run(state, action())
    state, events = run(state, rejected(request_of(events)))
    assert kinds(events) == ["TransferOutOfPSDeclined"]
    assert first(events, TransferOutOfPSDeclined).decision_reason == "Not yet"
    assert state.in_ps and state.ps_officer_id == "EMP2"
    assert state.referral is not None and state.referral.stage is Stage.PLAN_ACTIVE


# -- issue 4: the monitoring timer


def expiry(state: CustomerFile) -> ExpireTransferMonitoring:
    assert state.referral is not None and state.referral.monitoring_ends_at is not None
    return ExpireTransferMonitoring(
        actor=Actor.system("referrals-monitoring"),
        referral_id=REFERRAL,
        monitoring_ends_at=state.referral.monitoring_ends_at,
    )


def test_monitoring_that_runs_out_puts_the_case_on_the_service_managers_work_list() -> None:
    state, _ = monitored()
    ends = NOW + timedelta(days=90)
    state, events = run(state, expiry(state), now=ends)
    assert kinds(events) == ["TransferMonitoringExpired", "RequestApproval"]
    expired = first(events, TransferMonitoringExpired)
    request = request_of(events)
    assert (
        expired.work_list_role is Role.SERVICE_MANAGER and expired.approval_request_id == request.request_id
    )
    assert request.subject_type is SubjectType.MONITORING_EXPIRY and request.actor.role is Role.SYSTEM
    assert set(request.earlier_stage_officer_ids) == {"CSO-1", "CSO-2"}
    assert state.in_ps and state.referral is not None and state.referral.stage is Stage.MONITORING_EXPIRED
    _, refused = run(state, action())
    assert refusal(refused) is ReferralsReasonCode.INVALID_STATE


@pytest.mark.parametrize("accept", [True, False])
def test_the_service_managers_decision_on_expired_monitoring_transfers_or_keeps_the_customer(
    accept: bool,
) -> None:
    state, _ = monitored()
    state, events = run(state, expiry(state), now=NOW + timedelta(days=91))
    request = request_of(events)
    state, events = run(state, accepted(request) if accept else rejected(request))
    if accept:
        assert isinstance(events[0], CustomerTransferredOutOfPS) and not state.in_ps
        assert SubjectType.MONITORING_EXPIRY in {
            e.subject_type for e in events if isinstance(e, CloseApprovalSubject)
        }
    else:
        assert kinds(events) == ["TransferOutOfPSDeclined"]
        assert state.referral is not None and state.referral.stage is Stage.PLAN_ACTIVE


def test_the_monitoring_timer_changes_nothing_once_the_transfer_was_actioned() -> None:
    state, _ = monitored()
    timer = expiry(state)
    state, _ = run(state, action())
    after, events = run(state, timer, now=NOW + timedelta(days=91))
    assert events == [] and after == state


def test_a_monitoring_timer_firing_early_is_armed_again() -> None:
    state, _ = monitored()
    state, events = run(state, expiry(state), now=NOW + timedelta(days=89))
    timer = first(events, Deferred)
    assert kinds(events) == ["Deferred"] and timer.due_at > NOW + timedelta(days=90)
    assert state.referral is not None and state.referral.stage is Stage.MONITORING


def test_every_event_and_refusal_lands_in_the_customers_audit_history() -> None:
    state, _ = run(in_ps(), record(by=OUTSIDER), record())
    assert [(h.event, h.officer_id, h.reason_code) for h in state.history] == [
        ("CustomerAssignedToPS", "SM-1", None),
        ("CustomerOwnershipAssigned", None, None),
        ("ReferralsCommandRejected", "CSO-7", "NOT_ASSIGNED_TEAM"),
        ("CMPRecorded", "CSO-2", None),
    ]


def test_locking_an_unknown_customer_is_refused() -> None:
    lock = LockCustomer(
        actor=CSO,
        issue_id=uuid.uuid4(),
        lock_to=LockTargetInput(kind=LockTargetKind.OFFICER, officer_id="CSO-1"),
        reason="Awaiting evidence",
    )
    _, events = run(None, lock)
    assert refusal(events) is ReferralsReasonCode.UNKNOWN_CUSTOMER
