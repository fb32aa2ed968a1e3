"""Issue 20 item 1, seed 002 step 4 and its task cards: the MSP is a record with a lifecycle —
proposed or provisional, approved (two stages when it restricts a channel), active, under review,
expired or ended — holding its restrictions, reasons, dates, contact details, notes, the final
approved letter and the result of each customer contact."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from helpers_notifications import (
    ADM,
    CSO,
    MSP_ID,
    NOW,
    REQUEST_ID,
    Run,
    actor,
    customer,
    msp_approved,
    msp_sms,
    of,
    phone_outcome,
    receipt,
    start_msp,
    timers,
)

from contracts.base import Role
from contracts.catalogue.approvals import ApprovalRejected, SubjectType
from contracts.catalogue.channels import (
    Channel,
    DeliveryStatus,
    LetterDispatch,
    PhoneOutcome,
    PhoneTaskDispatch,
)
from contracts.catalogue.msp import (
    AddMSPNote,
    ChannelAccess,
    ChannelRestriction,
    EndMSP,
    ExpireMSP,
    MSPActivated,
    MSPApprovalStageAccepted,
    MSPApproved,
    MSPCommandRejected,
    MSPEnded,
    MSPEndReason,
    MSPExpired,
    MSPNoteAdded,
    MSPProposed,
    MSPReasonCode,
    MSPReviewed,
    MSPReviewOutcome,
    MSPReviewStarted,
    MSPStatus,
    ProposeMSP,
    RecordMSPReview,
    ServiceChannel,
    StartMSPReview,
)
from contracts.catalogue.notifications import (
    ContactCard,
    ContactCardKind,
    NotificationsCommandRejected,
    NotificationsReasonCode,
)
from services.notifications.domain import CustomerState
from services.notifications.domain.msp_record import explains_nothing
from services.notifications.domain.records import MspRecord

FIRST_REQUEST = uuid.UUID("0e9d8c7b-6a5f-4e4d-8c2b-1a0f9e8d7c6b")
PHONE_ONLY_THROUGH_OMC = ChannelRestriction(
    channel=ServiceChannel.PHONE, access=ChannelAccess.RESTRICTED, conditions="Only through the OMC."
)
NO_RESTRICTION = ChannelRestriction(channel=ServiceChannel.ONLINE, access=ChannelAccess.ALLOWED)


def propose(**overrides: Any) -> ProposeMSP:
    values: dict[str, Any] = {
        "actor": actor(Role.ONE_MAIN_CONTACT, "EMP30117"),
        "msp_id": MSP_ID,
        "reasons_summary": "Repeated threatening calls to the service centre on 3 and 5 March.",
        "duration_days": 180,
        "review_after_days": 150,
        "channel_restrictions": (PHONE_ONLY_THROUGH_OMC,),
        "contact_card": ContactCard(
            kind=ContactCardKind.ONE_MAIN_CONTACT,
            first_name="Priya",
            phone_number="1300000000",
            urgent_voicemail="1300000001",
        ),
        **overrides,
    }
    return ProposeMSP(**values)


def approved(request_id: uuid.UUID, officer_id: str) -> Any:
    accepted = msp_approved(request_id=request_id)
    return accepted.model_copy(update={"decided_by": actor(Role.SERVICE_MANAGER, officer_id)})


def record(run: Run) -> MspRecord:
    assert run.state is not None
    return run.state.msp_records[str(MSP_ID)]


def active(run: Run | None = None) -> Run:
    run = run or customer()
    run(propose(), approved(FIRST_REQUEST, "EMP40001"), approved(REQUEST_ID, "EMP40002"), start_msp())
    return run


def under_review(run: Run | None = None) -> Run:
    run = active(run)
    current = record(run)
    assert current.review_at is not None
    run(StartMSPReview(actor=ADM, msp_id=MSP_ID, review_at=current.review_at))
    return run


def rejection(outputs: list[Any]) -> MSPReasonCode:
    [refused] = of(outputs, MSPCommandRejected)
    assert refused.msp_id is not None, "the refusal names the MSP"
    return refused.reason_code


# ---------------------------------------------------------------------------- proposed


def test_a_proposed_msp_that_restricts_a_channel_needs_two_approval_stages() -> None:
    run = customer()
    [proposed] = of(run(propose()), MSPProposed)
    assert (proposed.status, proposed.approval_stages) == (MSPStatus.PROPOSED, 2)
    [restriction] = record(run).channel_restrictions
    assert (restriction.channel, restriction.access) == (ServiceChannel.PHONE, ChannelAccess.RESTRICTED)
    assert record(run).contact_card.urgent_voicemail == "1300000001"


def test_an_msp_that_restricts_no_channel_needs_one_approval_stage() -> None:
    run = customer()
    [proposed] = of(run(propose(channel_restrictions=(NO_RESTRICTION,))), MSPProposed)
    assert proposed.approval_stages == 1


def test_a_provisional_msp_is_recorded_as_provisional() -> None:
    run = customer()
    [proposed] = of(run(propose(provisional=True)), MSPProposed)
    assert proposed.status is MSPStatus.PROVISIONAL and record(run).provisional


@pytest.mark.parametrize(
    "summary",
    ["Aggressive.", "The customer was aggressive and inappropriate", "Inappropriate behaviour", "aggression"],
)
def test_reasons_that_only_say_aggressive_or_inappropriate_are_refused(summary: str) -> None:
    run = customer()
    assert rejection(run(propose(reasons_summary=summary))) is MSPReasonCode.REASONS_NOT_EXPLAINED
    assert run.state is not None and not run.state.msp_records


def test_reasons_that_describe_the_behaviour_are_accepted_even_when_they_say_aggressive() -> None:
    assert not explains_nothing("Aggressive phone calls threatening staff at the Hobart centre")


def test_a_review_after_the_msp_expires_is_refused() -> None:
    run = customer()
    assert rejection(run(propose(review_after_days=200))) is MSPReasonCode.REVIEW_AFTER_EXPIRY


def test_the_same_proposal_again_changes_nothing_and_other_details_under_its_id_are_refused() -> None:
    run = customer()
    run(propose())
    assert run(propose()) == []
    assert rejection(run(propose(duration_days=160))) is MSPReasonCode.MSP_ALREADY_PROPOSED


# ---------------------------------------------------------------------------- approved


def test_the_first_of_two_stages_is_recorded_and_the_second_approves_the_msp() -> None:
    run = customer()
    run(propose())
    [stage] = of(run(approved(FIRST_REQUEST, "EMP40001")), MSPApprovalStageAccepted)
    assert (stage.stage, stage.stages) == (1, 2) and record(run).status is MSPStatus.PROPOSED
    [done] = of(run(approved(REQUEST_ID, "EMP40002")), MSPApproved)
    assert done.request_id == REQUEST_ID and record(run).status is MSPStatus.APPROVED


def test_one_officer_cannot_approve_both_stages() -> None:
    run = customer()
    run(propose(), approved(FIRST_REQUEST, "EMP40001"))
    assert run(approved(REQUEST_ID, "EMP40001")) == []
    assert record(run).status is MSPStatus.PROPOSED


def test_contact_cannot_start_before_every_stage_is_approved() -> None:
    run = customer()
    run(propose(), approved(REQUEST_ID, "EMP40001"))
    [refused] = of(run(start_msp()), NotificationsCommandRejected)
    assert refused.reason_code is NotificationsReasonCode.MSP_NOT_APPROVED


def test_a_rejected_proposal_ends_the_msp() -> None:
    run = customer()
    run(propose())
    decision = ApprovalRejected(
        request_id=FIRST_REQUEST,
        subject_type=SubjectType.MSP,
        subject_id=str(MSP_ID),
        chain_id=str(MSP_ID),
        decided_by=actor(Role.SERVICE_MANAGER, "EMP40001"),
        reason="Behaviours do not meet the threshold.",
    )
    [ended] = of(run(decision), MSPEnded)
    assert ended.reason_code is MSPEndReason.NOT_APPROVED and record(run).status is MSPStatus.ENDED


# ---------------------------------------------------------------------------- active


def test_starting_the_contact_activates_the_msp_with_its_review_date_and_expiry_as_timers() -> None:
    run = customer()
    run(propose(), approved(FIRST_REQUEST, "EMP40001"), approved(REQUEST_ID, "EMP40002"))
    outputs = run(start_msp(duration_days=180))
    [activated] = of(outputs, MSPActivated)
    assert activated.review_at == NOW + timedelta(days=150)
    assert activated.expires_at == NOW + timedelta(days=180)
    armed = {type(t.message): t.due_at for t in timers(outputs)}
    assert armed[StartMSPReview] == activated.review_at and armed[ExpireMSP] == activated.expires_at
    assert record(run).status is MSPStatus.ACTIVE


def test_a_recorded_msp_sends_the_letter_with_the_approved_reasons_and_attaches_only_that_letter() -> None:
    run = customer()
    run(propose(), approved(FIRST_REQUEST, "EMP40001"), approved(REQUEST_ID, "EMP40002"))
    [letter] = of(run(start_msp(reasons_summary="Other words than those approved.")), LetterDispatch)
    assert "3 and 5 March" in letter.body
    attached = record(run).letter
    assert attached is not None and (attached.template_id, attached.template_version) == ("msp-letter", 2)


def test_each_customer_contact_result_is_recorded_on_the_msp() -> None:
    run = active()
    assert run.state is not None
    [phone] = [d for d in run.state.deliveries.values() if d.channel is Channel.PHONE]
    run(phone_outcome(uuid.UUID(phone.delivery_id), PhoneOutcome.REACHED))
    [letter] = [d for d in run.state.deliveries.values() if d.channel is Channel.LETTER]
    run(receipt(uuid.UUID(letter.delivery_id), Channel.LETTER, DeliveryStatus.DELIVERED))
    results = {(r.step.value, r.outcome) for r in record(run).results}
    assert results == {("PHONE", "REACHED"), ("LETTER", "DELIVERED")}
    assert [h.what for h in record(run).history][:4] == [
        "MSPProposed",
        "MSPApprovalStageAccepted",
        "MSPApproved",
        "MSPContactStarted",
    ]


def test_the_msp_sms_goes_out_ahead_of_the_letter_and_is_on_the_record() -> None:
    run = active()
    run(msp_sms())
    assert "MSPSmsDispatched" in [h.what for h in record(run).history]
    assert run.state is not None
    assert {d.channel for d in run.state.deliveries.values()} >= {Channel.SMS, Channel.LETTER, Channel.PHONE}


def test_a_note_is_kept_on_the_record_and_its_text_stays_off_the_topic() -> None:
    run = active()
    note_id = uuid.uuid4()
    text = "Letter hand-delivered by local police on 12 March."
    [added] = of(run(AddMSPNote(actor=CSO, msp_id=MSP_ID, note_id=note_id, text=text)), MSPNoteAdded)
    assert text not in added.model_dump_json()
    assert [n.text for n in record(run).notes] == [text]
    assert run(AddMSPNote(actor=CSO, msp_id=MSP_ID, note_id=note_id, text=text)) == []


def test_a_note_on_an_msp_the_customer_has_not_got_is_refused() -> None:
    run = customer()
    refused = run(AddMSPNote(actor=CSO, msp_id=uuid.uuid4(), note_id=uuid.uuid4(), text="Note."))
    assert rejection(refused) is MSPReasonCode.UNKNOWN_MSP


# ---------------------------------------------------------------------------- review, expiry, end


def test_the_review_date_puts_the_msp_under_review_on_its_owners_work_list() -> None:
    run = active()
    current = record(run)
    assert current.review_at is not None
    [due] = of(run(StartMSPReview(actor=ADM, msp_id=MSP_ID, review_at=current.review_at)), MSPReviewStarted)
    assert (due.officer_id, due.expires_at) == ("EMP30117", current.expires_at)
    assert record(run).status is MSPStatus.UNDER_REVIEW


def test_a_review_timer_for_an_earlier_date_changes_nothing() -> None:
    run = active()
    assert run(StartMSPReview(actor=ADM, msp_id=MSP_ID, review_at=NOW)) == []


def test_a_review_outcome_before_the_review_date_is_refused() -> None:
    run = active()
    review = RecordMSPReview(
        actor=CSO, msp_id=MSP_ID, outcome=MSPReviewOutcome.END, reason="Behaviour improved."
    )
    assert rejection(run(review)) is MSPReasonCode.NOT_UNDER_REVIEW


def test_a_review_that_continues_the_msp_sets_new_dates_and_the_old_expiry_changes_nothing() -> None:
    run = under_review()
    old_expiry = record(run).expires_at
    assert old_expiry is not None
    run.now = NOW + timedelta(days=151)
    review = RecordMSPReview(
        actor=CSO, msp_id=MSP_ID, outcome=MSPReviewOutcome.CONTINUE, further_days=90, reason="Still needed."
    )
    [reviewed] = of(run(review), MSPReviewed)
    assert reviewed.expires_at == run.now + timedelta(days=90)
    assert record(run).status is MSPStatus.ACTIVE
    assert run(ExpireMSP(actor=ADM, msp_id=MSP_ID, expires_at=old_expiry)) == []


def test_an_msp_not_continued_expires_at_the_end_of_its_duration() -> None:
    run = under_review()
    expiry = record(run).expires_at
    assert expiry is not None
    assert of(run(ExpireMSP(actor=ADM, msp_id=MSP_ID, expires_at=expiry)), MSPExpired) != []
    assert record(run).status is MSPStatus.EXPIRED
    refused = run(EndMSP(actor=CSO, msp_id=MSP_ID, reason="Too late."))
    assert rejection(refused) is MSPReasonCode.MSP_NOT_IN_FORCE


def test_a_review_can_end_the_msp() -> None:
    run = under_review()
    review = RecordMSPReview(
        actor=CSO, msp_id=MSP_ID, outcome=MSPReviewOutcome.END, reason="Behaviour improved."
    )
    [ended] = of(run(review), MSPEnded)
    assert ended.reason_code is MSPEndReason.ENDED_AT_REVIEW and record(run).status is MSPStatus.ENDED


def test_an_officer_can_end_an_active_msp() -> None:
    run = active()
    [ended] = of(run(EndMSP(actor=CSO, msp_id=MSP_ID, reason="Customer moved overseas.")), MSPEnded)
    assert ended.reason_code is MSPEndReason.ENDED_BY_OFFICER and record(run).status is MSPStatus.ENDED


def test_an_msp_approved_without_a_record_still_starts_its_contact() -> None:
    run = customer()
    outputs = run(msp_approved(), start_msp())
    assert of(outputs, PhoneTaskDispatch) and not of(outputs, MSPActivated)


def test_the_record_survives_the_store_as_json() -> None:
    run = under_review()
    assert run.state is not None
    stored = run.state.model_dump(mode="json")
    assert CustomerState.model_validate(stored) == run.state
