"""Issue 18: a dispatch whose receipt does not come in time becomes a DeliveryTimedOut that feeds
the retry and fallback path; a late success before the retry goes out still ends the delivery."""

from __future__ import annotations

import uuid
from datetime import timedelta

from helpers_notifications import (
    NOW,
    Run,
    customer,
    details,
    kinds,
    msp_approved,
    msp_sms,
    of,
    phone_outcome,
    receipt,
    receipt_checks,
    registered,
    retries,
    start_msp,
)

from contracts.base import Actor
from contracts.catalogue.channels import (
    Channel,
    DeliveryStatus,
    LetterDispatch,
    PhoneOutcome,
    PhoneTaskDispatch,
    SmsDispatch,
)
from contracts.catalogue.notifications import (
    CheckDeliveryReceipt,
    DeliveryTimedOut,
    MSPContactResultRecorded,
    NotificationDelivered,
    NotificationDeliveryFailed,
    NotificationsCommandRejected,
    NotificationsReasonCode,
)
from kit.timers import Deferred
from services.notifications.domain import DeliveryState, Policy
from services.notifications.settings import NotificationsSettings


def msp_with_sms(run: Run | None = None) -> tuple[Run, SmsDispatch, Deferred]:
    """An MSP started and its SMS dispatched: the SMS and its receipt-timeout timer."""
    run = run or customer()
    run(msp_approved(), start_msp())
    out = run(msp_sms())
    [sms] = of(out, SmsDispatch)
    [check] = receipt_checks(out)
    return run, sms, check


def timed_out(run: Run, check: Deferred) -> list[object]:
    run.now = check.due_at
    return list(run(check.message))


def delivery_state(run: Run, delivery_id: uuid.UUID) -> DeliveryState:
    assert run.state is not None
    return run.state.deliveries[str(delivery_id)].state


def test_every_dispatch_waits_for_its_receipt_for_its_channels_timeout_and_a_phone_task_for_ever() -> None:
    run = customer()
    run(msp_approved())
    started = run(start_msp())
    [letter] = of(started, LetterDispatch)
    [letter_check] = receipt_checks(started)
    assert of(started, PhoneTaskDispatch), "the call is dispatched, with no receipt timeout"
    assert letter_check.message == CheckDeliveryReceipt(
        actor=Actor.system("notifications-receipt-timeout"), delivery_id=letter.delivery_id, attempt=1
    )
    assert letter_check.due_at == NOW + timedelta(hours=72)
    [sms_check] = receipt_checks(run(msp_sms()))
    assert sms_check.due_at == NOW + timedelta(hours=1)


def test_a_receipt_that_came_in_time_leaves_nothing_for_its_timeout_to_do() -> None:
    run, sms, check = msp_with_sms()
    run(receipt(sms.delivery_id, Channel.SMS, DeliveryStatus.DELIVERED))
    assert timed_out(run, check) == []
    assert delivery_state(run, sms.delivery_id) is DeliveryState.DELIVERED


def test_an_sms_without_a_receipt_in_time_times_out_and_is_retried_like_a_failed_one() -> None:
    run, sms, check = msp_with_sms()
    out = timed_out(run, check)
    assert kinds(out) == ["DeliveryTimedOut", "NotificationDeliveryFailed", "Deferred:RetryDelivery"]
    [timeout] = of(out, DeliveryTimedOut)
    assert (timeout.delivery_id, timeout.channel, timeout.attempt) == (sms.delivery_id, Channel.SMS, 1)
    assert timeout.dispatched_at == NOW
    [failed] = of(out, NotificationDeliveryFailed)
    [retry] = retries(out)
    assert failed.status is DeliveryStatus.FAILED
    assert failed.next_attempt_at == check.due_at + timedelta(minutes=5) == retry.due_at
    assert timed_out(run, check) == [], "the same timer again changes nothing"

    run.now = retry.due_at
    again = run(retry.message)
    [second] = of(again, SmsDispatch)
    [second_check] = receipt_checks(again)
    assert (second.delivery_id, second.attempt) == (sms.delivery_id, 2)
    assert second_check.message == check.message.model_copy(update={"attempt": 2})
    assert second_check.due_at == retry.due_at + timedelta(hours=1)


def test_an_sms_that_never_gets_a_receipt_falls_back_to_a_letter_after_its_last_attempt() -> None:
    run = Run(Policy(max_attempts=1))
    run(registered(), details())
    run, sms, check = msp_with_sms(run)
    out = timed_out(run, check)
    assert kinds(out) == [
        "DeliveryTimedOut",
        "NotificationDeliveryFailed",
        "MSPContactResultRecorded",
        "NotificationFellBack",
        "NotificationDispatched",
        "LetterDispatch",
        "Deferred:CheckDeliveryReceipt",
    ]
    assert of(out, NotificationDeliveryFailed)[0].next_attempt_at is None
    assert of(out, MSPContactResultRecorded)[0].delivery_status is DeliveryStatus.FAILED
    assert delivery_state(run, sms.delivery_id) is DeliveryState.FELL_BACK
    late = receipt(sms.delivery_id, Channel.SMS, DeliveryStatus.DELIVERED)
    assert run(late) == [], "the fallback letter has gone: a late receipt changes nothing"


def test_a_letter_that_never_gets_a_receipt_is_abandoned_because_nothing_comes_after_a_letter() -> None:
    run = Run(Policy(max_attempts=1))
    run(registered(), details(), msp_approved())
    [check] = receipt_checks(run(start_msp()))
    out = timed_out(run, check)
    assert kinds(out) == [
        "DeliveryTimedOut",
        "NotificationDeliveryFailed",
        "MSPContactResultRecorded",
        "NotificationDeliveryAbandoned",
    ]


def test_a_late_success_before_the_retry_goes_out_ends_the_delivery_and_the_retry_changes_nothing() -> None:
    run, sms, check = msp_with_sms()
    [retry] = retries(timed_out(run, check))
    out = run(receipt(sms.delivery_id, Channel.SMS, DeliveryStatus.DELIVERED))
    assert kinds(out) == ["NotificationDelivered", "MSPContactResultRecorded"]
    assert of(out, NotificationDelivered)[0].attempt == 1
    assert run(receipt(sms.delivery_id, Channel.SMS, DeliveryStatus.DELIVERED)) == [], "a duplicate"
    run.now = retry.due_at
    assert run(retry.message) == [], "not sent twice, and not refused either"
    assert delivery_state(run, sms.delivery_id) is DeliveryState.DELIVERED


def test_a_late_failure_changes_nothing_because_the_timeout_already_counted_it() -> None:
    run, sms, check = msp_with_sms()
    timed_out(run, check)
    assert run(receipt(sms.delivery_id, Channel.SMS, DeliveryStatus.FAILED)) == []
    assert run(receipt(sms.delivery_id, Channel.SMS, DeliveryStatus.BOUNCED)) == []
    assert delivery_state(run, sms.delivery_id) is DeliveryState.RETRY_SCHEDULED


def test_once_the_retry_is_out_a_late_receipt_for_the_timed_out_attempt_changes_nothing() -> None:
    run, sms, check = msp_with_sms()
    [retry] = retries(timed_out(run, check))
    run.now = retry.due_at
    run(retry.message)
    assert run(receipt(sms.delivery_id, Channel.SMS, DeliveryStatus.DELIVERED, attempt=1)) == []
    out = run(receipt(sms.delivery_id, Channel.SMS, DeliveryStatus.DELIVERED, attempt=2))
    assert of(out, NotificationDelivered)[0].attempt == 2


def test_a_receipt_check_for_an_unknown_delivery_is_refused_and_one_for_another_attempt_changes_nothing() -> (
    None
):
    run, sms, check = msp_with_sms()
    assert isinstance(check.message, CheckDeliveryReceipt)
    unknown = check.message.model_copy(update={"delivery_id": uuid.uuid4()})
    [rejected] = of(run(unknown), NotificationsCommandRejected)
    assert rejected.reason_code is NotificationsReasonCode.UNKNOWN_DELIVERY
    assert run(check.message.model_copy(update={"attempt": 2})) == []
    assert delivery_state(run, sms.delivery_id) is DeliveryState.SENT


def test_a_phone_task_with_a_configured_timeout_is_set_again_and_a_late_outcome_is_still_recorded() -> None:
    run = Run(Policy(receipt_timeouts={Channel.PHONE: timedelta(days=2)}))
    run(registered(), details(), msp_approved())
    started = run(start_msp())
    [call] = of(started, PhoneTaskDispatch)
    [check] = receipt_checks(started)
    assert check.due_at == NOW + timedelta(days=2), "only the phone channel has a timeout here"
    out = timed_out(run, check)
    assert kinds(out) == ["DeliveryTimedOut", "NotificationDeliveryFailed", "Deferred:RetryDelivery"]
    [retry] = retries(out)
    reported = run(phone_outcome(call.delivery_id, PhoneOutcome.REACHED))
    assert of(reported, MSPContactResultRecorded)[0].phone_outcome is PhoneOutcome.REACHED
    run.now = retry.due_at
    assert run(retry.message) == []
    assert delivery_state(run, call.delivery_id) is DeliveryState.COMPLETED


def test_the_receipt_timeouts_are_settings_and_zero_waits_for_ever() -> None:
    policy = NotificationsSettings().policy()
    assert policy.receipt_timeout(Channel.SMS) == timedelta(hours=1)
    assert policy.receipt_timeout(Channel.EMAIL) == timedelta(hours=4)
    assert policy.receipt_timeout(Channel.LETTER) == timedelta(hours=72)
    assert policy.receipt_timeout(Channel.PHONE) is None
    never = NotificationsSettings(receipt_timeout_sms_s=0).policy()
    assert never.receipt_timeout(Channel.SMS) is None
    run = Run(never)
    run(registered(), details())
    run(msp_approved(), start_msp())
    out = run(msp_sms())
    assert of(out, SmsDispatch) and receipt_checks(out) == []
