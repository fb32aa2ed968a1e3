"""Deliveries after dispatch (issue 5): the channels' receipts, retries with backoff on a durable
timer, fallback to a letter, and each MSP result recorded on the MSP (seed 002 step 4).

"A duplicate or late receipt changes nothing": only the first receipt for the attempt in flight
counts. A retry of an SMS is a moment of sending, so the guard runs again before it.

Issue 18: a receipt that does not come within the channel's receipt timeout is a
``DeliveryTimedOut``, and the attempt then takes the path of a FAILED receipt (retry with backoff,
then fallback, then abandoned). A report of success for the timed-out attempt that arrives before
its retry has gone out still ends the delivery — nothing is sent twice; the retry's timer then
changes nothing. Once the retry is out it changes nothing, as any late receipt.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contracts.base import Actor
from contracts.catalogue.channels import (
    DISPATCHES,
    Channel,
    DeliveryReceipted,
    DeliveryStatus,
    LetterDelivery,
    Purpose,
)
from contracts.catalogue.notifications import (
    CheckDeliveryReceipt,
    DeliveryTimedOut,
    MSPContactResultRecorded,
    MSPContactStep,
    NotificationDelivered,
    NotificationDeliveryAbandoned,
    NotificationDeliveryFailed,
    NotificationFellBack,
    NotificationsReasonCode,
    RetryDelivery,
)
from kit.spec import Refused
from kit.timers import Deferred
from services.notifications import templates as tpl
from services.notifications.domain.customer import postal_for
from services.notifications.domain.guard import check_sms
from services.notifications.domain.rendering import service_template
from services.notifications.domain.sending import (
    await_receipt,
    dispatch,
    dispatched,
    next_delivery_id,
    sms_facts,
    suppress,
)
from services.notifications.domain.state import (
    FINAL_STATES,
    CustomerState,
    Decision,
    Delivery,
    DeliveryState,
    Facts,
    Notification,
    Turn,
)

#: Issue 5: "falls back to the next channel the rules allow (SMS → letter, email → letter)".
FALLBACK_TEMPLATE: Mapping[Channel, tuple[str, int]] = {
    Channel.SMS: tpl.SMS_FALLBACK_LETTER,
    Channel.EMAIL: tpl.EMAIL_FALLBACK_LETTER,
}


def delivery_receipted(
    state: CustomerState, receipt: DeliveryReceipted, now: datetime, facts: Facts
) -> Decision:
    delivery = state.deliveries.get(str(receipt.delivery_id))
    if delivery is None or delivery.channel is not receipt.channel:
        return state, []
    # Issue 5: "A duplicate or late receipt changes nothing": only the first receipt for the
    # attempt in flight counts — and (issue 18) a success for an attempt that timed out, before its
    # retry goes out: its failure was already decided by the timeout.
    late = delivery.late_after_timeout(receipt.attempt) and receipt.status is DeliveryStatus.DELIVERED
    if not (delivery.awaits_receipt(receipt.attempt) or late):
        return state, []
    notification = state.notifications[delivery.notification_id]
    t = Turn(state, now, facts)
    if receipt.status is DeliveryStatus.DELIVERED:
        if delivery.channel is Channel.PHONE:
            return state, []  # a phone task completes with its outcome report, not a receipt
        delivery = _moved(t, delivery, DeliveryState.DELIVERED)
        t.emit(
            NotificationDelivered(
                notification_id=uuid.UUID(notification.notification_id),
                delivery_id=receipt.delivery_id,
                channel=delivery.channel,
                attempt=delivery.attempt,
            )
        )
        _record_msp_result(t, notification, delivery, DeliveryStatus.DELIVERED)
        return t.decision()
    _failed(t, notification, delivery, receipt.status)
    return t.decision()


def check_delivery_receipt(
    state: CustomerState, cmd: CheckDeliveryReceipt, now: datetime, facts: Facts
) -> Decision:
    """Issue 18: the receipt timeout of an attempt is up. Still waiting: ``DeliveryTimedOut``, and
    the attempt has failed. Otherwise its receipt came (or the delivery moved on): nothing."""
    delivery = state.deliveries.get(str(cmd.delivery_id))
    if delivery is None:
        raise Refused(NotificationsReasonCode.UNKNOWN_DELIVERY, "No such delivery.")
    if not delivery.awaits_receipt(cmd.attempt):
        return state, []  # a timer whose reason has passed changes nothing
    notification = state.notifications[delivery.notification_id]
    t = Turn(state, now, facts)
    delivery = delivery.model_copy(update={"timed_out": True})
    t.state = t.state.with_delivery(delivery)
    t.emit(
        DeliveryTimedOut(
            notification_id=uuid.UUID(notification.notification_id),
            delivery_id=cmd.delivery_id,
            channel=delivery.channel,
            attempt=delivery.attempt,
            dispatched_at=delivery.sent_at,
        )
    )
    # "feeds the retry and fallback path": as a FAILED receipt — a silent channel may recover, so
    # it is retried (a bounce, which a retry cannot cure, is only ever reported by a channel).
    _failed(t, notification, delivery, DeliveryStatus.FAILED)
    return t.decision()


def retry_delivery(state: CustomerState, cmd: RetryDelivery, now: datetime, facts: Facts) -> Decision:
    delivery = state.deliveries.get(str(cmd.delivery_id))
    if delivery is None:
        raise Refused(NotificationsReasonCode.UNKNOWN_DELIVERY, "No such delivery.")
    if delivery.state in FINAL_STATES:
        if delivery.timed_out and cmd.attempt == delivery.attempt + 1:
            return state, []  # issue 18: a late success ended the timed-out attempt before its retry
        raise Refused(NotificationsReasonCode.DELIVERY_ALREADY_FINAL, "The delivery is already final.")
    if delivery.state is not DeliveryState.RETRY_SCHEDULED or cmd.attempt != delivery.attempt + 1:
        return state, []  # a timer whose reason has passed changes nothing
    notification = state.notifications[delivery.notification_id]
    t = Turn(state, now, facts)
    changes: dict[str, Any] = {}
    if delivery.channel is Channel.SMS:
        # Issue 5: a retry is a moment of sending: the guard runs again on the latest state.
        reasons = check_sms(sms_facts(t, notification))
        if reasons:
            delivery = _moved(t, delivery, DeliveryState.SUPPRESSED)
            suppress(t, notification, reasons, at_send_time=True, delivery=delivery)
            return t.decision()
        changes["to_mobile"] = state.mobile_number
    payload = DISPATCHES[delivery.channel].model_validate(
        {**delivery.dispatch, **changes, "attempt": cmd.attempt}
    )
    delivery = delivery.model_copy(
        update={
            "attempt": cmd.attempt,
            "state": DeliveryState.SENT,
            "dispatch": payload.model_dump(mode="json"),
            "sent_at": now,
            "timed_out": False,
        }
    )
    t.state = t.state.with_delivery(delivery)
    t.emit(dispatched(notification, delivery), payload)
    await_receipt(t, delivery)
    return t.decision()


def _moved(t: Turn, delivery: Delivery, to: DeliveryState) -> Delivery:
    """The delivery in its new state, put into the state."""
    moved = delivery.model_copy(update={"state": to})
    t.state = t.state.with_delivery(moved)
    return moved


def _failed(t: Turn, notification: Notification, delivery: Delivery, status: DeliveryStatus) -> None:
    # A bounce (the address is wrong) is not cured by trying again: it falls back at once.
    policy = t.policy
    if status is DeliveryStatus.FAILED and delivery.attempt < policy.max_attempts:
        due = t.now + policy.backoff(delivery.attempt)
        delivery = _moved(t, delivery, DeliveryState.RETRY_SCHEDULED)
        t.emit(_failure(notification, delivery, status, due))
        retry = RetryDelivery(
            actor=Actor.system("notifications-retry"),
            delivery_id=uuid.UUID(delivery.delivery_id),
            attempt=delivery.attempt + 1,
        )
        t.emit(Deferred(retry, due, f"retry:{delivery.delivery_id}:{delivery.attempt + 1}"))
        return
    t.emit(_failure(notification, delivery, status, None))
    _record_msp_result(t, notification, delivery, status)
    _fall_back(t, notification, delivery)


def _failure(
    notification: Notification, delivery: Delivery, status: DeliveryStatus, due: datetime | None
) -> NotificationDeliveryFailed:
    return NotificationDeliveryFailed(
        notification_id=uuid.UUID(notification.notification_id),
        delivery_id=uuid.UUID(delivery.delivery_id),
        channel=delivery.channel,
        attempt=delivery.attempt,
        status=status,
        next_attempt_at=due,
    )


def _fall_back(t: Turn, notification: Notification, delivery: Delivery) -> None:
    address = postal_for(t.state, notification.recipient)
    key = FALLBACK_TEMPLATE.get(delivery.channel)
    letter: tpl.Rendered | None = None
    if address is not None and key is not None:
        letter_template = service_template(t.policy.templates, key)
        text = delivery.dispatch.get("body") or delivery.dispatch.get("body_text")
        values = {"addressee": address[0], "text": text, "subject": delivery.dispatch.get("subject")}
        try:
            letter = tpl.render(letter_template, values)
        except tpl.RenderError:
            letter = None
    if address is None or letter is None:
        _moved(t, delivery, DeliveryState.ABANDONED)
        t.emit(
            NotificationDeliveryAbandoned(
                notification_id=uuid.UUID(notification.notification_id),
                last_delivery_id=uuid.UUID(delivery.delivery_id),
                last_channel=delivery.channel,
            )
        )
        return
    _moved(t, delivery, DeliveryState.FELL_BACK)
    addressee, postal_address = address
    t.emit(
        NotificationFellBack(
            notification_id=uuid.UUID(notification.notification_id),
            from_delivery_id=uuid.UUID(delivery.delivery_id),
            from_channel=delivery.channel,
            to_delivery_id=next_delivery_id(notification),
            to_channel=Channel.LETTER,
        )
    )
    dispatch(
        t,
        notification,
        Channel.LETTER,
        letter,
        fallback_from=delivery.delivery_id,
        addressee=addressee,
        postal_address=postal_address.model_dump(mode="json"),
        body=letter.body,
    )


def _record_msp_result(
    t: Turn, notification: Notification, delivery: Delivery, status: DeliveryStatus
) -> None:
    """Seed 002 step 4: the result of each MSP SMS and letter on the MSP record."""
    step = {Purpose.MSP_SMS: MSPContactStep.SMS, Purpose.MSP_LETTER: MSPContactStep.LETTER}.get(
        notification.purpose
    )
    if step is None or notification.msp_id is None:
        return
    police = delivery.dispatch.get("delivery") == LetterDelivery.POLICE_HAND_DELIVERY.value
    t.emit(
        MSPContactResultRecorded(
            msp_id=uuid.UUID(notification.msp_id),
            step=step,
            delivery_id=uuid.UUID(delivery.delivery_id),
            contacted=notification.recipient,
            delivery_status=status,
            # Seed 002 step 3: a letter hand delivered by local police is recorded in the MSP notes.
            delivered_by_police=police,
        )
    )
