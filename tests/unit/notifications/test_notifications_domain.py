"""The notifications decider: MSP contact, the guard at request and at send time, receipts,
retries with backoff, fallback, letters and e-mails. Pure: no broker, no store."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from helpers_notifications import (
    ADDRESS,
    ADM,
    CSO,
    MOBILE,
    MSP_ID,
    NOW,
    PHONE,
    REQUEST_ID,
    Run,
    actor,
    customer,
    details,
    flag,
    kinds,
    msp_approved,
    msp_sms,
    of,
    phone_outcome,
    receipt,
    registered,
    retries,
    start_msp,
)

from contracts.base import Actor, Role
from contracts.catalogue.approvals import ApprovalAccepted, SubjectType
from contracts.catalogue.channels import (
    Channel,
    DeliveryStatus,
    EmailDispatch,
    LetterDelivery,
    LetterDispatch,
    PhoneOutcome,
    PhoneTaskDispatch,
    Purpose,
    Recipient,
    SmsDispatch,
)
from contracts.catalogue.customers import (
    PostalAddress,
    Representative,
    RepresentativeKind,
    RiskFlag,
    RiskFlagCleared,
)
from contracts.catalogue.notifications import (
    EmailAttachmentRef,
    MSPContactResultRecorded,
    MSPContactStarted,
    MSPContactStep,
    MSPIncidentRaised,
    NotificationDelivered,
    NotificationDeliveryAbandoned,
    NotificationDeliveryFailed,
    NotificationDispatched,
    NotificationFellBack,
    NotificationsCommandRejected,
    NotificationsReasonCode,
    RetryDelivery,
    SendEmail,
    SendLetter,
    SendSms,
    SmsRequested,
    SmsSuppressed,
    SmsSuppressionReason,
)
from services.notifications.domain import DeliveryState, Policy
from services.notifications.spec import decide

R = SmsSuppressionReason
Code = NotificationsReasonCode


def refused(outputs: list[object]) -> NotificationsReasonCode:
    assert len(outputs) == 1 and isinstance(outputs[0], NotificationsCommandRejected), outputs
    return outputs[0].reason_code


def started(run: Run | None = None) -> tuple[Run, list[object]]:
    run = run or customer()
    out = run(msp_approved(), start_msp())
    return run, list(out)


# ------------------------------------------------------------------------------ MSP contact


def test_an_approved_msp_starts_with_a_phone_task_and_the_final_approved_letter_with_the_contact_card() -> (
    None
):
    _, out = started()
    assert kinds(out) == [
        "MSPContactStarted",
        "NotificationDispatched",
        "PhoneTaskDispatch",
        "NotificationDispatched",
        "LetterDispatch",
        "Deferred:CheckDeliveryReceipt",  # issue 18: the letter's receipt timeout (a call has none)
    ]
    [phone] = of(out, PhoneTaskDispatch)
    [letter] = of(out, LetterDispatch)
    assert phone.phone_number == PHONE and phone.msp_id == MSP_ID and phone.purpose is Purpose.MSP_PHONE_CALL
    assert "letter" in phone.talking_points and "Repeated threatening calls" in phone.talking_points
    assert (letter.template_id, letter.template_version) == ("msp-letter", 2)
    assert letter.enclosures == ("OMC_CONTACT_CARD",) and letter.delivery is LetterDelivery.POST
    assert letter.addressee == "Jordan Lee" and letter.postal_address == ADDRESS
    assert "Priya" in letter.body and "1300000000" in letter.body and "180 days" in letter.body
    dispatched = of(out, NotificationDispatched)
    assert [(d.channel, d.msp_id) for d in dispatched] == [(Channel.PHONE, MSP_ID), (Channel.LETTER, MSP_ID)]
    assert dispatched[1].template_version == 2
    [started_event] = of(out, MSPContactStarted)
    assert started_event.actor == ADM and started_event.letter_template_version == 2


def test_msp_contact_is_refused_without_an_accepted_approval_for_that_msp_and_request() -> None:
    run = customer()
    assert refused(run(start_msp())) is Code.MSP_NOT_APPROVED
    run(msp_approved(request_id=uuid.uuid4()))
    assert refused(run(start_msp())) is Code.MSP_NOT_APPROVED


def test_an_approval_for_another_subject_changes_nothing() -> None:
    run = customer()
    before = run.state
    accepted = msp_approved().model_copy(update={"subject_type": SubjectType.CMP})
    assert run(accepted) == [] and run.state == before


def test_msp_contact_for_an_unknown_customer_is_refused() -> None:
    run = Run()
    run(msp_approved())
    assert refused(run(start_msp())) is Code.UNKNOWN_CUSTOMER


@pytest.mark.parametrize(
    ("template_id", "version", "code"),
    [
        ("msp-letter", 3, Code.TEMPLATE_NOT_APPROVED),  # a draft
        ("msp-letter", 1, Code.TEMPLATE_NOT_APPROVED),  # approved once, but not the final version
        ("msp-letter", 9, Code.TEMPLATE_NOT_FOUND),
        ("msp-sms", 1, Code.TEMPLATE_NOT_FOUND),  # not a letter template
    ],
)
def test_only_the_final_approved_msp_letter_may_be_sent(template_id: str, version: int, code: Code) -> None:
    run = customer()
    run(msp_approved())
    out = run(start_msp(letter_template_id=template_id, letter_template_version=version))
    assert refused(out) is code


def test_the_same_msp_cannot_be_started_twice() -> None:
    run, _ = started()
    assert refused(run(start_msp())) is Code.MSP_ALREADY_STARTED


def test_without_any_phone_number_the_phone_step_is_recorded_and_the_letter_still_goes() -> None:
    _, out = started(customer(mobile=None, phone=None))
    assert of(out, PhoneTaskDispatch) == []
    [result] = of(out, MSPContactResultRecorded)
    assert result.step is MSPContactStep.PHONE and result.phone_outcome is PhoneOutcome.NOT_REACHED
    assert len(of(out, LetterDispatch)) == 1


def test_the_mobile_is_phoned_when_no_other_phone_number_is_recorded() -> None:
    _, out = started(customer(phone=None))
    assert of(out, PhoneTaskDispatch)[0].phone_number == MOBILE


def test_a_letter_hand_delivered_by_police_is_recorded_in_the_msp_notes_when_delivered() -> None:
    run = customer()
    out = run(msp_approved(), start_msp(letter_delivery=LetterDelivery.POLICE_HAND_DELIVERY))
    [letter] = of(out, LetterDispatch)
    assert letter.delivery is LetterDelivery.POLICE_HAND_DELIVERY
    out = run(receipt(letter.delivery_id, Channel.LETTER, DeliveryStatus.DELIVERED))
    [result] = of(out, MSPContactResultRecorded)
    assert result.step is MSPContactStep.LETTER and result.delivered_by_police
    assert result.delivery_status is DeliveryStatus.DELIVERED


@pytest.mark.parametrize(
    "outcome", [PhoneOutcome.REACHED, PhoneOutcome.UNPRODUCTIVE, PhoneOutcome.NOT_REACHED]
)
def test_each_phone_outcome_is_recorded_on_the_msp(outcome: PhoneOutcome) -> None:
    run, out = started()
    [phone] = of(out, PhoneTaskDispatch)
    out = run(phone_outcome(phone.delivery_id, outcome))
    [result] = of(out, MSPContactResultRecorded)
    assert (result.step, result.phone_outcome, result.contacted) == (
        MSPContactStep.PHONE,
        outcome,
        Recipient.CUSTOMER,
    )
    assert result.delivery_id == phone.delivery_id and result.note == "Explained the MSP."
    assert of(out, MSPIncidentRaised) == []


def test_aggression_during_the_call_raises_an_incident_linked_to_the_msp_once() -> None:
    run, out = started()
    [phone] = of(out, PhoneTaskDispatch)
    report = phone_outcome(phone.delivery_id, PhoneOutcome.UNPRODUCTIVE, aggression=True)
    out = run(report)
    [incident] = of(out, MSPIncidentRaised)
    assert incident.msp_id == MSP_ID and incident.delivery_id == phone.delivery_id
    assert incident.officer_id == "EMP30117"
    assert run(report) == [], "a duplicate report changes nothing"


def test_when_it_is_not_appropriate_to_phone_the_power_of_attorney_is_called_before_a_nominee() -> None:
    reps = (
        Representative(kind=RepresentativeKind.NOMINEE, name="Nora Nominee", phone_number="0361111111"),
        Representative(
            kind=RepresentativeKind.POWER_OF_ATTORNEY, name="Alex Citizen", phone_number="0362222222"
        ),
        Representative(kind=RepresentativeKind.POWER_OF_ATTORNEY, name="No Phone"),
    )
    run, out = started(customer(representatives=reps))
    [phone] = of(out, PhoneTaskDispatch)
    out = run(phone_outcome(phone.delivery_id, PhoneOutcome.NOT_APPROPRIATE_TO_PHONE))
    [result] = of(out, MSPContactResultRecorded)
    assert result.phone_outcome is PhoneOutcome.NOT_APPROPRIATE_TO_PHONE
    [call] = of(out, PhoneTaskDispatch)
    assert (call.contact_name, call.phone_number) == ("Alex Citizen", "0362222222")
    assert call.recipient is Recipient.POWER_OF_ATTORNEY and "Alex Citizen" in call.talking_points
    out = run(phone_outcome(call.delivery_id, PhoneOutcome.REACHED))
    [result] = of(out, MSPContactResultRecorded)
    assert result.contacted is Recipient.POWER_OF_ATTORNEY and of(out, PhoneTaskDispatch) == []


def test_when_it_is_not_appropriate_to_phone_and_no_representative_is_recorded_the_result_says_so() -> None:
    run, out = started()
    [phone] = of(out, PhoneTaskDispatch)
    out = run(phone_outcome(phone.delivery_id, PhoneOutcome.NOT_APPROPRIATE_TO_PHONE))
    [result] = of(out, MSPContactResultRecorded)
    assert result.note is not None and "Power of Attorney" in result.note
    assert of(out, PhoneTaskDispatch) == []


# ------------------------------------------------------------------------------ the guard at request time


def test_an_msp_sms_after_the_letter_passing_the_guard_is_sent_with_the_contact_number() -> None:
    run, _ = started()
    out = run(msp_sms())
    assert kinds(out) == [
        "SmsRequested",
        "NotificationDispatched",
        "SmsDispatch",
        "Deferred:CheckDeliveryReceipt",
    ]
    [sms] = of(out, SmsDispatch)
    assert sms.to_mobile == MOBILE and "Priya" in sms.body and "1300000000" in sms.body
    assert (sms.template_id, sms.template_version, sms.purpose) == ("msp-sms", 1, Purpose.MSP_SMS)


def _request_time_setups() -> dict[R, tuple[Run, SendSms]]:
    setups: dict[R, tuple[Run, SendSms]] = {}

    def after_start(run: Run) -> Run:
        run(msp_approved(), start_msp())
        return run

    setups[R.NOT_CENTRELINK_CUSTOMER] = (after_start(customer(centrelink=False)), msp_sms())
    setups[R.NOT_APPROVED_DECISION_MAKER] = (after_start(customer()), msp_sms(actor=CSO))
    setups[R.NO_CIRCUMSTANCE] = (after_start(customer()), msp_sms(circumstance=None))
    setups[R.NO_MOBILE_NUMBER] = (after_start(customer(mobile=None)), msp_sms())
    shared = after_start(customer())
    shared.share_mobile_with("987654321")
    setups[R.SHARED_MOBILE_NUMBER] = (shared, msp_sms())
    suicide = after_start(customer())
    suicide(flag(RiskFlag.SUICIDE_OR_SELF_HARM))
    setups[R.RISK_SUICIDE_OR_SELF_HARM] = (suicide, msp_sms())
    fdv = after_start(customer())
    fdv(flag(RiskFlag.FDV_IMMEDIATE_THREAT))
    setups[R.RISK_FDV_IMMEDIATE_THREAT] = (fdv, msp_sms())
    # Neither approved nor started: no letter is coming, so the SMS cannot wait for one.
    setups[R.LETTER_NOT_DISPATCHED] = (customer(), msp_sms())
    return setups


@pytest.mark.parametrize("reason", list(SmsSuppressionReason))
def test_each_guard_rule_suppresses_an_msp_sms_when_requested_with_its_reason(reason: R) -> None:
    run, request = _request_time_setups()[reason]
    out = run(request)
    assert of(out, SmsDispatch) == []
    [suppressed] = of(out, SmsSuppressed)
    assert suppressed.reasons == (reason,) and not suppressed.checked_at_send_time
    assert suppressed.notification_id == request.notification_id
    [result] = of(out, MSPContactResultRecorded)
    assert result.step is MSPContactStep.SMS and result.suppression_reasons == (reason,)
    assert kinds(out)[0] == "SmsRequested"


def test_a_failing_sms_lists_every_rule_it_breaks() -> None:
    run = customer(centrelink=False, mobile=None)
    run(flag(RiskFlag.SUICIDE_OR_SELF_HARM))
    [suppressed] = of(run(msp_sms(actor=CSO, circumstance=None)), SmsSuppressed)
    assert suppressed.reasons == (
        R.NOT_CENTRELINK_CUSTOMER,
        R.NOT_APPROVED_DECISION_MAKER,
        R.NO_CIRCUMSTANCE,
        R.NO_MOBILE_NUMBER,
        R.RISK_SUICIDE_OR_SELF_HARM,
        R.LETTER_NOT_DISPATCHED,
    )


def test_an_sms_authorised_by_an_approved_decision_maker_may_be_requested_by_another_officer() -> None:
    def authorisation(notification_id: uuid.UUID, by: Actor) -> ApprovalAccepted:
        return ApprovalAccepted(
            request_id=uuid.uuid4(),
            subject_type=SubjectType.SMS_AUTHORISATION,
            subject_id=str(notification_id),
            chain_id=str(MSP_ID),
            decided_by=by,
            reason="Customer could not be reached.",
        )

    run, _ = started()
    by_team_leader, by_adm = uuid.uuid4(), uuid.uuid4()
    run(authorisation(by_team_leader, actor(Role.TEAM_LEADER, "EMP1")))  # not a decision maker
    [suppressed] = of(run(msp_sms(by_team_leader, actor=CSO)), SmsSuppressed)
    assert suppressed.reasons == (R.NOT_APPROVED_DECISION_MAKER,)
    run(authorisation(by_adm, ADM))
    assert len(of(run(msp_sms(by_adm, actor=CSO)), SmsDispatch)) == 1


def test_a_general_sms_does_not_wait_for_an_msp_letter_but_meets_the_rest_of_the_guard() -> None:
    run = customer()
    out = run(msp_sms(purpose=Purpose.GENERAL, msp_id=None, template_id=None, text="Please call us today."))
    [sms] = of(out, SmsDispatch)
    assert sms.body == "Please call us today." and sms.template_id is None
    run(flag(RiskFlag.FDV_IMMEDIATE_THREAT))
    out = run(msp_sms(purpose=Purpose.GENERAL, msp_id=None, template_id=None, text="Please call us."))
    assert of(out, SmsSuppressed)[0].reasons == (R.RISK_FDV_IMMEDIATE_THREAT,)
    assert of(out, MSPContactResultRecorded) == []


def test_a_general_sms_to_a_non_centrelink_customer_from_any_officer_without_a_circumstance_is_sent() -> None:
    run = customer(centrelink=False)
    out = run(
        msp_sms(
            purpose=Purpose.GENERAL,
            msp_id=None,
            template_id=None,
            text="Please call us.",
            actor=CSO,
            circumstance=None,
        )
    )
    assert of(out, SmsSuppressed) == [] and len(of(out, SmsDispatch)) == 1


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"msp_id": None}, Code.UNKNOWN_MSP),
        ({"template_id": None, "template_version": None}, Code.CONTENT_REQUIRED),
        ({"template_id": "msp-letter", "template_version": 2}, Code.TEMPLATE_NOT_FOUND),
        ({"template_id": "no-such", "template_version": None}, Code.TEMPLATE_NOT_FOUND),
        ({"template_id": "call-back-sms", "template_version": 1, "text": "x" * 480}, Code.CONTENT_REQUIRED),
    ],
)
def test_an_sms_request_that_cannot_be_sent_is_refused(overrides: dict[str, object], code: Code) -> None:
    run, _ = started()
    assert refused(run(msp_sms(**overrides))) is code


def test_an_sms_for_an_unknown_customer_is_refused() -> None:
    assert refused(Run()(msp_sms())) is Code.UNKNOWN_CUSTOMER


def test_the_same_sms_asked_for_twice_changes_nothing_but_its_id_reused_for_other_content_is_refused() -> (
    None
):
    run, _ = started()
    request = msp_sms()
    assert len(of(run(request), SmsDispatch)) == 1
    again = request.model_copy(update={"actor": actor(officer_id="EMP99")})
    assert run(again) == []
    other = request.model_copy(update={"circumstance": None})
    assert refused(run(other)) is Code.DUPLICATE_NOTIFICATION


# ------------------------------------------------------------------------------ the moment of sending


def held(run: Run | None = None) -> tuple[Run, SendSms]:
    """An approved MSP, not started: its SMS waits for the letter."""
    run = run or customer()
    run(msp_approved())
    request = msp_sms()
    out = run(request)
    assert kinds(out) == ["SmsRequested"], "the SMS waits for its letter"
    return run, request


def test_an_sms_requested_before_its_letter_waits_and_is_sent_right_after_the_letter() -> None:
    run, request = held()
    out = run(start_msp())
    assert kinds(out)[-6:] == [
        "NotificationDispatched",
        "LetterDispatch",
        "Deferred:CheckDeliveryReceipt",
        "NotificationDispatched",
        "SmsDispatch",
        "Deferred:CheckDeliveryReceipt",
    ]
    [sms] = of(out, SmsDispatch)
    assert of(out, NotificationDispatched)[-1].notification_id == request.notification_id
    assert "1300000000" in sms.body


def test_a_risk_flag_raised_after_the_request_but_before_sending_suppresses_the_sms_at_send_time() -> None:
    for risk, reason in [
        (RiskFlag.SUICIDE_OR_SELF_HARM, R.RISK_SUICIDE_OR_SELF_HARM),
        (RiskFlag.FDV_IMMEDIATE_THREAT, R.RISK_FDV_IMMEDIATE_THREAT),
    ]:
        run, request = held()
        run(flag(risk))
        out = run(start_msp())
        assert of(out, SmsDispatch) == [] and len(of(out, LetterDispatch)) == 1
        [suppressed] = of(out, SmsSuppressed)
        assert suppressed.reasons == (reason,) and suppressed.checked_at_send_time
        assert suppressed.notification_id == request.notification_id


def test_a_shared_mobile_number_arriving_after_the_request_but_before_sending_suppresses_the_sms() -> None:
    run, _ = held()
    run.share_mobile_with("987654321")
    out = run(start_msp())
    [suppressed] = of(out, SmsSuppressed)
    assert suppressed.reasons == (R.SHARED_MOBILE_NUMBER,) and suppressed.checked_at_send_time
    [result] = [r for r in of(out, MSPContactResultRecorded) if r.step is MSPContactStep.SMS]
    assert result.suppression_reasons == (R.SHARED_MOBILE_NUMBER,)


def test_a_mobile_number_removed_or_changed_before_sending_is_what_the_guard_sees() -> None:
    run, _ = held()
    run(details(mobile=None))
    assert of(run(start_msp()), SmsSuppressed)[0].reasons == (R.NO_MOBILE_NUMBER,)
    run, _ = held()
    run(details(mobile="0499999999"))
    assert of(run(start_msp()), SmsDispatch)[0].to_mobile == "0499999999"


def test_a_risk_flag_raised_and_cleared_before_sending_does_not_stop_the_sms() -> None:
    run, _ = held()
    run(
        flag(RiskFlag.SUICIDE_OR_SELF_HARM, "RF-1"),
        RiskFlagCleared(flag=RiskFlag.SUICIDE_OR_SELF_HARM, flag_id="RF-1"),
    )
    assert len(of(run(start_msp()), SmsDispatch)) == 1


def test_a_cleared_flag_without_an_id_clears_every_flag_of_that_kind_and_only_that_kind() -> None:
    run = customer()
    run(
        flag(RiskFlag.SUICIDE_OR_SELF_HARM, "RF-1"),
        flag(RiskFlag.SUICIDE_OR_SELF_HARM, "RF-2"),
        flag(RiskFlag.FDV_IMMEDIATE_THREAT, "RF-3"),
        RiskFlagCleared(flag=RiskFlag.SUICIDE_OR_SELF_HARM, flag_id="RF-1"),
    )
    assert run.state is not None
    assert run.state.active_flags == {RiskFlag.SUICIDE_OR_SELF_HARM, RiskFlag.FDV_IMMEDIATE_THREAT}
    run(RiskFlagCleared(flag=RiskFlag.SUICIDE_OR_SELF_HARM))
    assert run.state.active_flags == {RiskFlag.FDV_IMMEDIATE_THREAT}


# ------------------------------------------------------------------------------ receipts, retries, fallback


def sent_sms(run: Run | None = None) -> tuple[Run, SmsDispatch]:
    run, _ = started(run)
    [sms] = of(run(msp_sms()), SmsDispatch)
    return run, sms


def test_a_delivered_sms_is_published_and_recorded_once_however_often_the_receipt_comes() -> None:
    run, sms = sent_sms()
    out = run(receipt(sms.delivery_id, Channel.SMS, DeliveryStatus.DELIVERED))
    assert kinds(out) == ["NotificationDelivered", "MSPContactResultRecorded"]
    assert of(out, MSPContactResultRecorded)[0].delivery_status is DeliveryStatus.DELIVERED
    assert run(receipt(sms.delivery_id, Channel.SMS, DeliveryStatus.DELIVERED)) == []
    assert run(receipt(sms.delivery_id, Channel.SMS, DeliveryStatus.FAILED)) == []


def test_a_receipt_for_an_unknown_delivery_or_the_wrong_channel_changes_nothing() -> None:
    run, sms = sent_sms()
    assert run(receipt(uuid.uuid4(), Channel.SMS, DeliveryStatus.DELIVERED)) == []
    assert run(receipt(sms.delivery_id, Channel.EMAIL, DeliveryStatus.DELIVERED)) == []
    assert run(receipt(sms.delivery_id, Channel.SMS, DeliveryStatus.DELIVERED, attempt=2)) == []


def test_a_failed_sms_is_retried_with_growing_backoff_then_falls_back_to_a_letter() -> None:
    run, sms = sent_sms()
    out = run(receipt(sms.delivery_id, Channel.SMS, DeliveryStatus.FAILED))
    [failed] = of(out, NotificationDeliveryFailed)
    [timer] = retries(out)
    assert failed.next_attempt_at == NOW + timedelta(minutes=5) == timer.due_at
    assert timer.message == RetryDelivery(
        actor=Actor.system("notifications-retry"), delivery_id=sms.delivery_id, attempt=2
    )

    run.now = timer.due_at
    [retry] = of(run(timer.message), SmsDispatch)
    assert (retry.delivery_id, retry.attempt, retry.body) == (sms.delivery_id, 2, sms.body)
    assert run(timer.message) == [], "the same timer again changes nothing"

    out = run(receipt(sms.delivery_id, Channel.SMS, DeliveryStatus.FAILED, attempt=2))
    [timer] = retries(out)
    assert timer.due_at == run.now + timedelta(minutes=10)
    run.now = timer.due_at
    run(timer.message)

    out = run(receipt(sms.delivery_id, Channel.SMS, DeliveryStatus.FAILED, attempt=3))
    assert kinds(out) == [
        "NotificationDeliveryFailed",
        "MSPContactResultRecorded",
        "NotificationFellBack",
        "NotificationDispatched",
        "LetterDispatch",
        "Deferred:CheckDeliveryReceipt",
    ]
    assert of(out, NotificationDeliveryFailed)[0].next_attempt_at is None
    [fell_back] = of(out, NotificationFellBack)
    [letter] = of(out, LetterDispatch)
    assert (fell_back.from_channel, fell_back.to_channel) == (Channel.SMS, Channel.LETTER)
    assert fell_back.from_delivery_id == sms.delivery_id and fell_back.to_delivery_id == letter.delivery_id
    assert of(out, NotificationDispatched)[0].fallback_from == sms.delivery_id
    assert (letter.template_id, letter.template_version) == ("sms-fallback-letter", 1)
    assert sms.body in letter.body and letter.addressee == "Jordan Lee"
    assert run(receipt(sms.delivery_id, Channel.SMS, DeliveryStatus.DELIVERED, attempt=3)) == [], "late"


def test_a_bounced_sms_falls_back_at_once_because_retrying_cannot_cure_a_bad_number() -> None:
    run, sms = sent_sms()
    out = run(receipt(sms.delivery_id, Channel.SMS, DeliveryStatus.BOUNCED))
    assert retries(out) == [] and len(of(out, NotificationFellBack)) == 1
    assert of(out, NotificationDeliveryFailed)[0].status is DeliveryStatus.BOUNCED


def test_a_retry_is_a_moment_of_sending_so_a_flag_raised_meanwhile_suppresses_it() -> None:
    run, sms = sent_sms()
    [timer] = retries(run(receipt(sms.delivery_id, Channel.SMS, DeliveryStatus.FAILED)))
    run(flag(RiskFlag.SUICIDE_OR_SELF_HARM))
    out = run(timer.message)
    assert of(out, SmsDispatch) == []
    [suppressed] = of(out, SmsSuppressed)
    assert suppressed.reasons == (R.RISK_SUICIDE_OR_SELF_HARM,) and suppressed.checked_at_send_time
    assert of(out, MSPContactResultRecorded)[0].delivery_id == sms.delivery_id
    assert run.state is not None
    assert run.state.deliveries[str(sms.delivery_id)].state is DeliveryState.SUPPRESSED
    assert refused(run(timer.message.model_copy(update={"attempt": 3}))) is Code.DELIVERY_ALREADY_FINAL


def test_a_retry_for_an_unknown_delivery_is_refused_and_a_stale_one_changes_nothing() -> None:
    run, sms = sent_sms()
    unknown = RetryDelivery(actor=Actor.system("t"), delivery_id=uuid.uuid4(), attempt=2)
    assert refused(run(unknown)) is Code.UNKNOWN_DELIVERY
    early = RetryDelivery(actor=Actor.system("t"), delivery_id=sms.delivery_id, attempt=2)
    assert run(early) == [], "no retry is due while the first attempt waits for its receipt"


def test_a_letter_that_keeps_failing_is_abandoned_because_nothing_comes_after_a_letter() -> None:
    run = Run(Policy(max_attempts=1))
    run(registered(), details())
    run, out = started(run)
    [letter] = of(out, LetterDispatch)
    out = run(receipt(letter.delivery_id, Channel.LETTER, DeliveryStatus.FAILED))
    assert kinds(out) == [
        "NotificationDeliveryFailed",
        "MSPContactResultRecorded",
        "NotificationDeliveryAbandoned",
    ]
    assert of(out, NotificationDeliveryAbandoned)[0].last_channel is Channel.LETTER


def test_the_backoff_grows_by_its_factor_and_is_capped() -> None:
    policy = Policy(backoff_initial=timedelta(minutes=5), backoff_factor=3, backoff_max=timedelta(minutes=30))
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(minutes=30),
        timedelta(minutes=30),
    ]


# ------------------------------------------------------------------------------ letters and e-mails


def letter_request(**overrides: object) -> SendLetter:
    values: dict[str, object] = {
        "actor": CSO,
        "notification_id": uuid.uuid4(),
        "purpose": Purpose.COMPLAINT_RESPONSE,
        "template_id": "complaint-l2-response",
        "template_version": 1,
        "body": "We have reviewed your complaint and corrected the assessment.",
        "complaint_id": REQUEST_ID,
        **overrides,
    }
    return SendLetter(**values)  # type: ignore[arg-type]


def test_a_complaint_response_letter_is_rendered_from_its_template_and_dispatched() -> None:
    run = customer()
    request = letter_request()
    out = run(request)
    assert kinds(out) == ["NotificationDispatched", "LetterDispatch", "Deferred:CheckDeliveryReceipt"]
    [letter] = of(out, LetterDispatch)
    assert letter.addressee == "Jordan Lee" and "corrected the assessment" in letter.body
    assert (letter.template_id, letter.template_version) == ("complaint-l2-response", 1)
    assert of(out, NotificationDispatched)[0].complaint_id == REQUEST_ID


def test_a_reprint_from_the_same_template_version_is_identical() -> None:
    run = customer()
    [first] = of(run(letter_request()), LetterDispatch)
    [second] = of(run(letter_request()), LetterDispatch)
    assert first.delivery_id != second.delivery_id
    assert first.body.encode() == second.body.encode()


def test_without_a_version_the_final_approved_one_is_used_and_recorded() -> None:
    run = customer()
    [letter] = of(run(letter_request(template_version=None)), LetterDispatch)
    assert letter.template_version == 1


@pytest.mark.parametrize(
    ("overrides", "details_overrides", "code"),
    [
        (
            {"purpose": Purpose.MSP_LETTER, "template_id": None, "template_version": None},
            {},
            Code.TEMPLATE_REQUIRED,
        ),
        ({"template_id": None, "template_version": None, "body": None}, {}, Code.CONTENT_REQUIRED),
        ({"template_id": "msp-letter", "template_version": 3}, {}, Code.TEMPLATE_NOT_APPROVED),
        ({}, {"address": None}, Code.NO_POSTAL_ADDRESS),
        ({"recipient": Recipient.NOMINEE}, {}, Code.NO_REPRESENTATIVE),
        ({"recipient": Recipient.OTHER}, {}, Code.NO_POSTAL_ADDRESS),
    ],
)
def test_a_letter_that_cannot_be_sent_is_refused(
    overrides: dict[str, object], details_overrides: dict[str, object], code: Code
) -> None:
    run = customer(**details_overrides)
    assert refused(run(letter_request(**overrides))) is code


def test_a_free_form_letter_to_a_representative_goes_to_their_address() -> None:
    address = PostalAddress(lines=("1 Other St",), locality="Hobart", postcode="7000")
    rep = Representative(kind=RepresentativeKind.NOMINEE, name="Nora Nominee", postal_address=address)
    run = customer(representatives=(rep,))
    out = run(letter_request(recipient=Recipient.NOMINEE, template_id=None, template_version=None))
    [letter] = of(out, LetterDispatch)
    assert (letter.addressee, letter.postal_address, letter.template_id) == ("Nora Nominee", address, None)
    assert letter.recipient is Recipient.NOMINEE


def minutes(**overrides: object) -> SendEmail:
    values: dict[str, object] = {
        "actor": CSO,
        "notification_id": uuid.uuid4(),
        "purpose": Purpose.MEETING_MINUTES,
        "recipient": Recipient.OTHER,
        "to_email": "sam@example.org",
        "to_name": "Sam",
        "template_id": "meeting-minutes",
        "template_version": 1,
        "template_data": {"meeting_date": "12 March 2026"},
        "attachments": (
            EmailAttachmentRef(
                attachment_id=REQUEST_ID, filename="minutes.pdf", media_type="application/pdf", size_bytes=10
            ),
        ),
        "meeting_id": MSP_ID,
        **overrides,
    }
    return SendEmail(**values)  # type: ignore[arg-type]


def test_meeting_minutes_are_e_mailed_from_their_template_with_the_attachments() -> None:
    out = Run()(minutes())
    [email] = of(out, EmailDispatch)
    assert email.to_email == "sam@example.org" and email.subject == "Minutes of your meeting on 12 March 2026"
    assert email.body_text.startswith("Dear Sam,") and [a.filename for a in email.attachments] == [
        "minutes.pdf"
    ]
    assert of(out, NotificationDispatched)[0].meeting_id == MSP_ID


def test_an_e_mail_to_the_customer_uses_their_recorded_address_or_is_refused_without_one() -> None:
    run = customer()
    free_form = minutes(
        recipient=Recipient.CUSTOMER,
        to_email=None,
        to_name=None,
        template_id=None,
        subject="Hello",
        body="Hi.",
    )
    [email] = of(run(free_form), EmailDispatch)
    assert (email.to_email, email.subject, email.body_text) == ("jordan@example.org", "Hello", "Hi.")
    assert refused(customer(email=None)(free_form)) is Code.NO_EMAIL_ADDRESS
    assert refused(Run()(free_form)) is Code.UNKNOWN_CUSTOMER


def test_a_failed_e_mail_falls_back_to_a_letter_to_the_customer_but_not_for_another_recipient() -> None:
    run = Run(Policy(max_attempts=1))
    run(registered(), details())
    to_customer = minutes(recipient=Recipient.CUSTOMER, to_email=None)
    [email] = of(run(to_customer), EmailDispatch)
    out = run(receipt(email.delivery_id, Channel.EMAIL, DeliveryStatus.FAILED))
    [letter] = of(out, LetterDispatch)
    assert letter.template_id == "email-fallback-letter" and email.subject in letter.body
    [other] = of(run(minutes()), EmailDispatch)
    out = run(receipt(other.delivery_id, Channel.EMAIL, DeliveryStatus.FAILED))
    assert of(out, LetterDispatch) == [] and len(of(out, NotificationDeliveryAbandoned)) == 1


# ------------------------------------------------------------------------------ purity


def test_deciding_never_changes_the_state_it_was_given_and_gives_the_same_answer_twice() -> None:
    run, _ = held()
    before = run.state
    assert before is not None
    snapshot = before.model_dump()
    first = decide(before, start_msp(), NOW)
    second = decide(before, start_msp(), NOW)
    assert before.model_dump() == snapshot
    assert first == second
    assert isinstance(first[1][0], MSPContactStarted)


def test_the_sms_requested_event_names_the_officer_and_circumstance() -> None:
    run, _ = started()
    [requested] = of(run(msp_sms()), SmsRequested)
    assert requested.actor == ADM and requested.msp_id == MSP_ID
    assert requested.circumstance is not None


def test_delivered_letters_are_published_once() -> None:
    run, out = started()
    [letter] = of(out, LetterDispatch)
    first = run(receipt(letter.delivery_id, Channel.LETTER, DeliveryStatus.DELIVERED))
    assert len(of(first, NotificationDelivered)) == 1
    assert run(receipt(letter.delivery_id, Channel.LETTER, DeliveryStatus.DELIVERED)) == []
