"""The moment of sending, which every workflow shares: a new delivery dispatched on a channel,
and an SMS that meets the guard first (issue 5; seed 002 step 2).

The guard runs when an SMS is requested and again whenever it would be sent later: when a held
MSP SMS is released by its letter, and before a retry. Each time it runs on the state as it is
*then*; a failure is published as ``SmsSuppressed`` with every failing rule
(``checked_at_send_time`` = it passed when asked).

Every dispatch waits for its channel's receipt for the channel's receipt timeout, on a durable
timer (issue 18): :func:`await_receipt`.

Ids are derived (uuid5), so deciding the same message again gives the same ids. A function that
changes a notification is given its latest version and puts the changed one into the state.
"""

from __future__ import annotations

import uuid
from typing import Any

from contracts.base import Actor, Role
from contracts.catalogue.channels import DISPATCHES, Channel, Purpose
from contracts.catalogue.notifications import (
    CheckDeliveryReceipt,
    MSPContactResultRecorded,
    MSPContactStep,
    NotificationDispatched,
    SmsSuppressed,
    SmsSuppressionReason,
)
from kit.timers import Deferred
from services.notifications import templates as tpl
from services.notifications.domain.guard import SmsFacts, check_sms
from services.notifications.domain.rendering import customer_values, free_form, msp_values, render
from services.notifications.domain.state import Delivery, DeliveryState, Notification, Turn


def dispatch(
    t: Turn,
    notification: Notification,
    channel: Channel,
    rendered: tpl.Rendered,
    *,
    fallback_from: str | None = None,
    **fields: Any,
) -> None:
    """A new delivery on ``channel``: NotificationDispatched, then the channel's dispatch."""
    delivery_id = next_delivery_id(notification)
    payload = DISPATCHES[channel].model_validate(
        {
            "delivery_id": str(delivery_id),
            "attempt": 1,
            "purpose": notification.purpose,
            "recipient": notification.recipient,
            # Issue 5: each dispatch records the template version used, so a reprint is identical.
            "template_id": rendered.template_id,
            "template_version": rendered.template_version,
            **fields,
        }
    )
    delivery = Delivery(
        delivery_id=str(delivery_id),
        notification_id=notification.notification_id,
        channel=channel,
        attempt=1,
        state=DeliveryState.SENT,
        dispatch=payload.model_dump(mode="json"),
        fallback_from=fallback_from,
        sent_at=t.now,
    )
    notification = notification.model_copy(
        update={"deliveries": (*notification.deliveries, delivery.delivery_id)}
    )
    t.state = t.state.with_notification(notification).with_delivery(delivery)
    t.emit(dispatched(notification, delivery), payload)
    await_receipt(t, delivery)


def await_receipt(t: Turn, delivery: Delivery) -> None:
    """Issue 18: "A dispatch whose receipt does not come within a configurable time becomes a
    DeliveryTimedOut that feeds the retry and fallback path" — a timer per attempt, checking then
    whether that attempt still waits for its receipt (a channel without a timeout waits for ever)."""
    timeout = t.policy.receipt_timeout(delivery.channel)
    if timeout is None:
        return
    check = CheckDeliveryReceipt(
        actor=Actor.system("notifications-receipt-timeout"),
        delivery_id=uuid.UUID(delivery.delivery_id),
        attempt=delivery.attempt,
    )
    t.emit(Deferred(check, t.now + timeout, f"receipt:{delivery.delivery_id}:{delivery.attempt}"))


def dispatched(notification: Notification, delivery: Delivery) -> NotificationDispatched:
    d = delivery.dispatch
    return NotificationDispatched(
        notification_id=uuid.UUID(notification.notification_id),
        delivery_id=uuid.UUID(delivery.delivery_id),
        channel=delivery.channel,
        attempt=delivery.attempt,
        purpose=notification.purpose,
        recipient=notification.recipient,
        template_id=d.get("template_id"),
        template_version=d.get("template_version"),
        msp_id=uuid_or_none(notification.msp_id),
        complaint_id=uuid_or_none(notification.complaint_id),
        meeting_id=uuid_or_none(notification.meeting_id),
        fallback_from=uuid_or_none(delivery.fallback_from),
    )


def next_delivery_id(notification: Notification) -> uuid.UUID:
    return uuid.uuid5(uuid.UUID(notification.notification_id), f"delivery-{len(notification.deliveries) + 1}")


def uuid_or_none(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value is not None else None


# -------------------------------------------------------------------- SMS and the guard


def send_sms(t: Turn, notification: Notification, *, at_send_time: bool) -> None:
    """The moment of sending: the guard on the latest state, then the dispatch or a suppression."""
    reasons = check_sms(sms_facts(t, notification))
    if reasons:
        suppress(t, notification, reasons, at_send_time=at_send_time)
        return
    mobile_number = t.state.mobile_number
    assert mobile_number is not None  # the guard checked it
    rendered = render_sms(t, notification)
    dispatch(t, notification, Channel.SMS, rendered, to_mobile=mobile_number, body=rendered.body)


def sms_facts(t: Turn, notification: Notification) -> SmsFacts:
    s = t.state
    request = notification.sms
    assert request is not None
    return SmsFacts(
        purpose=notification.purpose,
        is_centrelink_customer=s.is_centrelink_customer,
        approved_decision_maker=(
            request.requested_by_role is Role.APPROVED_DECISION_MAKER
            or notification.notification_id in s.sms_authorisations
        ),
        circumstance=request.circumstance,
        mobile_number=s.mobile_number,
        other_records_on_number=t.facts.numbers.others_on(s.mobile_number),
        risk_flags=s.active_flags,
        # Issue 20 item 2: started ⇒ its letter is requested and on its way (dispatched in the
        # same write, or waiting for a postal address with a task to obtain one): the SMS may go
        # ahead of it.
        msp_letter_on_its_way=notification.msp_id is not None and notification.msp_id in s.msps,
    )


def suppress(
    t: Turn,
    notification: Notification,
    reasons: tuple[SmsSuppressionReason, ...],
    *,
    at_send_time: bool,
    delivery: Delivery | None = None,
) -> None:
    # Issue 5: "A suppressed SMS is recorded with its reason and published as an event".
    notification = notification.model_copy(update={"held": False, "suppressed": reasons})
    t.state = t.state.with_notification(notification)
    msp_uuid = uuid.UUID(notification.msp_id) if notification.msp_id is not None else None
    t.emit(
        SmsSuppressed(
            notification_id=uuid.UUID(notification.notification_id),
            msp_id=msp_uuid,
            reasons=reasons,
            checked_at_send_time=at_send_time,
        )
    )
    if notification.purpose is Purpose.MSP_SMS and msp_uuid is not None:
        # Seed 002 step 4: a suppressed MSP SMS is recorded on the MSP, with the reasons.
        t.emit(
            MSPContactResultRecorded(
                msp_id=msp_uuid,
                step=MSPContactStep.SMS,
                delivery_id=uuid.UUID(delivery.delivery_id) if delivery is not None else None,
                contacted=notification.recipient,
                suppression_reasons=reasons,
            )
        )


def render_sms(t: Turn, notification: Notification) -> tpl.Rendered:
    request = notification.sms
    assert request is not None
    if request.template_id is None or request.template_version is None:
        assert request.text is not None
        return free_form(Channel.SMS, request.text)
    template = t.policy.templates.get(request.template_id, request.template_version)
    assert template is not None, "a template version never disappears"
    msp = t.state.msps.get(notification.msp_id or "")
    values = {**customer_values(t.state), **(msp_values(msp) if msp else {}), "text": request.text}
    return render(template, values)
