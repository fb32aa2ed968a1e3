"""What other services and officers ask to send: an SMS (through the guard, seed 002 step 2), a
letter (seed 002 step 3; complaints' written responses) and an e-mail (seed 004).

The same notification asked for again changes nothing; its id reused for other content is
refused. A refusal names the notification.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from contracts.base import Command
from contracts.catalogue.channels import AttachmentLink, Channel, Purpose
from contracts.catalogue.notifications import (
    NotificationsReasonCode,
    SendEmail,
    SendLetter,
    SendSms,
    SmsRequested,
    SmsSuppressionReason,
)
from kit.spec import Refused
from services.notifications.domain.customer import email_for, postal_or_refuse
from services.notifications.domain.guard import check_sms
from services.notifications.domain.rendering import (
    customer_values,
    free_form,
    placeholder_values,
    render,
    template,
)
from services.notifications.domain.sending import dispatch, send_sms, sms_facts
from services.notifications.domain.state import CustomerState, Decision, Facts, Notification, SmsRequest, Turn


def send_sms_command(state: CustomerState, cmd: SendSms, now: datetime, facts: Facts) -> Decision:
    with _naming(cmd.notification_id):
        if _repeated(state, cmd):
            return state, []
        if not state.registered:
            raise Refused(NotificationsReasonCode.UNKNOWN_CUSTOMER, "The customer is not known.")
        if cmd.purpose is Purpose.MSP_SMS and cmd.msp_id is None:
            raise Refused(NotificationsReasonCode.UNKNOWN_MSP, "An MSP SMS must name its MSP.")
        request = SmsRequest(
            circumstance=cmd.circumstance,
            requested_by=cmd.actor.officer_id,
            requested_by_role=cmd.actor.role,
            text=cmd.text,
        )
        if cmd.template_id is not None:
            sms_template = template(
                facts.policy.templates, cmd.template_id, cmd.template_version, Channel.SMS
            )
            request = request.model_copy(
                update={"template_id": sms_template.template_id, "template_version": sms_template.version}
            )
            # Checked now with the longest possible values, so it cannot fail when sent later.
            render(sms_template, placeholder_values(cmd.text))
        elif cmd.text is None:
            raise Refused(NotificationsReasonCode.CONTENT_REQUIRED, "Neither a template nor a text.")
        notification = Notification(
            notification_id=str(cmd.notification_id),
            channel=Channel.SMS,
            purpose=cmd.purpose,
            fingerprint=_fingerprint(cmd),
            msp_id=str(cmd.msp_id) if cmd.msp_id is not None else None,
            sms=request,
        )
        t = Turn(state.with_notification(notification), now, facts)
        t.emit(
            SmsRequested(
                notification_id=cmd.notification_id,
                purpose=cmd.purpose,
                msp_id=cmd.msp_id,
                circumstance=cmd.circumstance,
                actor=cmd.actor,
            )
        )
        reasons = check_sms(sms_facts(t, notification))
        if (
            reasons == (SmsSuppressionReason.LETTER_NOT_DISPATCHED,)
            and notification.msp_id in state.approved_msps
        ):
            # Seed 002 step 2: the SMS complements the letter; the MSP is approved, so its letter is
            # coming: the SMS waits for it and meets the guard again at the moment of sending.
            t.state = t.state.with_notification(notification.model_copy(update={"held": True}))
            return t.decision()
        send_sms(t, notification, at_send_time=False)
        return t.decision()


def send_letter(state: CustomerState, cmd: SendLetter, now: datetime, facts: Facts) -> Decision:
    with _naming(cmd.notification_id):
        if _repeated(state, cmd):
            return state, []
        if not state.registered:
            raise Refused(NotificationsReasonCode.UNKNOWN_CUSTOMER, "The customer is not known.")
        addressee, postal_address = postal_or_refuse(state, cmd.recipient)
        if cmd.template_id is not None:
            letter_template = template(
                facts.policy.templates, cmd.template_id, cmd.template_version, Channel.LETTER
            )
            values = {**customer_values(state), "addressee": addressee, "body": cmd.body}
            rendered = render(letter_template, values)
        elif cmd.purpose is Purpose.MSP_LETTER:
            # Seed 002 step 3: an MSP letter is always the approved template, never free-form.
            raise Refused(NotificationsReasonCode.TEMPLATE_REQUIRED, "An MSP letter must use its template.")
        elif cmd.body is not None:
            rendered = free_form(Channel.LETTER, cmd.body)
        else:
            raise Refused(NotificationsReasonCode.CONTENT_REQUIRED, "Neither a template nor a body.")
        notification = Notification(
            notification_id=str(cmd.notification_id),
            channel=Channel.LETTER,
            purpose=cmd.purpose,
            recipient=cmd.recipient,
            fingerprint=_fingerprint(cmd),
            complaint_id=str(cmd.complaint_id) if cmd.complaint_id is not None else None,
        )
        t = Turn(state, now, facts)
        dispatch(
            t,
            notification,
            Channel.LETTER,
            rendered,
            addressee=addressee,
            postal_address=postal_address.model_dump(mode="json"),
            body=rendered.body,
            delivery=cmd.delivery,
        )
        return t.decision()


def send_email(state: CustomerState, cmd: SendEmail, now: datetime, facts: Facts) -> Decision:
    with _naming(cmd.notification_id):
        if _repeated(state, cmd):
            return state, []
        to_email, to_name = cmd.to_email, cmd.to_name
        if to_email is None:
            if not state.registered:
                raise Refused(NotificationsReasonCode.UNKNOWN_CUSTOMER, "The customer is not known.")
            found = email_for(state, cmd.recipient)
            if found is None:
                raise Refused(NotificationsReasonCode.NO_EMAIL_ADDRESS, "No e-mail address is recorded.")
            to_email, recorded_name = found
            to_name = to_name or recorded_name
        if cmd.template_id is not None:
            email_template = template(
                facts.policy.templates, cmd.template_id, cmd.template_version, Channel.EMAIL
            )
            values = {
                **customer_values(state),
                "recipient_name": to_name or state.given_name or "there",
                "body": cmd.body,
                "data": dict(cmd.template_data),
            }
            rendered = render(email_template, values)
            subject = rendered.subject or cmd.subject
        elif cmd.body is not None:
            rendered = free_form(Channel.EMAIL, cmd.body)
            subject = cmd.subject
        else:
            raise Refused(NotificationsReasonCode.CONTENT_REQUIRED, "Neither a template nor a body.")
        if subject is None:
            raise Refused(NotificationsReasonCode.CONTENT_REQUIRED, "The e-mail has no subject.")
        notification = Notification(
            notification_id=str(cmd.notification_id),
            channel=Channel.EMAIL,
            purpose=cmd.purpose,
            recipient=cmd.recipient,
            fingerprint=_fingerprint(cmd),
            meeting_id=str(cmd.meeting_id) if cmd.meeting_id is not None else None,
        )
        attachments = [
            AttachmentLink(
                attachment_id=a.attachment_id,
                filename=a.filename,
                media_type=a.media_type,
                size_bytes=a.size_bytes,
            ).model_dump(mode="json")
            for a in cmd.attachments
        ]
        t = Turn(state, now, facts)
        dispatch(
            t,
            notification,
            Channel.EMAIL,
            rendered,
            to_email=to_email,
            to_name=to_name,
            subject=subject,
            body_text=rendered.body,
            attachments=attachments,
        )
        return t.decision()


@contextmanager
def _naming(notification_id: uuid.UUID) -> Iterator[None]:
    """A refusal of a request names the notification it concerns."""
    try:
        yield
    except Refused as refused:
        refused.details.setdefault("notification_id", notification_id)
        raise


def _repeated(state: CustomerState, cmd: SendSms | SendLetter | SendEmail) -> bool:
    """The same notification asked for again changes nothing; its id reused for other content is refused."""
    existing = state.notifications.get(str(cmd.notification_id))
    if existing is None:
        return False
    if existing.fingerprint == _fingerprint(cmd):
        return True
    raise Refused(
        NotificationsReasonCode.DUPLICATE_NOTIFICATION, "This notification id was used for other content."
    )


def _fingerprint(cmd: Command) -> str:
    content = cmd.model_dump_json(exclude={"actor"})
    return hashlib.sha256(f"{cmd.MESSAGE_TYPE}:{content}".encode()).hexdigest()
