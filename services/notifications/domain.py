"""Notifications rules: the MSP contact workflow, the send-time SMS guard, deliveries with
receipts, retries and fallback (issue 5; seed 002 steps 1-4; seed 004 "Comunicazioni").

One aggregate per customer (CSID): everything the guard needs — the customer's latest details,
risk flags and MSP letters — is in one document, so the guard is evaluated on the latest state
in the same write that sends (or suppresses) the SMS. The one fact that spans customers, "this
mobile number is recorded on another record", comes from the number index (a read model the
handler reads just before deciding) as a :class:`NumberIndexView`.

**The moment of sending.** An SMS is checked when requested and again whenever it would be
sent later:

* an MSP SMS asked for before its letter is dispatched *waits* (``held``) — if the MSP is
  approved, its letter is coming — and is released in the same decision that dispatches the
  MSP letter (``StartMSPContact``), after the letter, so the SMS is never ahead of it;
* a retry of a failed SMS (``RetryDelivery``, a durable timer) is sent again only if the guard
  still passes.

Each time the guard runs on the state as it is *then*; a failure is published as
``SmsSuppressed`` with every failing rule (``checked_at_send_time`` = it passed when asked).

Pure: no I/O and no clock reads — ``now`` is given; ids are derived (uuid5) so deciding the
same message again gives the same ids.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from contracts.base import Actor, Command, Message, Role
from contracts.catalogue.approvals import ApprovalAccepted, SubjectType
from contracts.catalogue.channels import (
    DISPATCHES,
    AttachmentLink,
    Channel,
    DeliveryReceipted,
    DeliveryStatus,
    LetterDelivery,
    PhoneOutcome,
    PhoneTaskOutcomeReported,
    Purpose,
    Recipient,
)
from contracts.catalogue.customers import (
    CustomerContactDetailsChanged,
    CustomerRegistered,
    PostalAddress,
    Representative,
    RepresentativeKind,
    RiskFlag,
    RiskFlagCleared,
    RiskFlagRaised,
)
from contracts.catalogue.notifications import (
    ContactCardKind,
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
    SmsCircumstance,
    SmsRequested,
    SmsSuppressed,
    SmsSuppressionReason,
    StartMSPContact,
)
from kit.timers import Deferred
from services.notifications import templates as tpl
from services.notifications.guard import SmsFacts, check_sms

Output = Message | Deferred

# --------------------------------------------------------------------------------------------
# Policy and the number index, given to the decider
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """Retry bounds and backoff (issue 5: "retried with backoff a bounded number of times") and templates."""

    max_attempts: int = 3
    backoff_initial: timedelta = timedelta(minutes=5)
    backoff_factor: float = 2.0
    backoff_max: timedelta = timedelta(hours=6)
    templates: tpl.TemplateRegistry = tpl.DEFAULT_REGISTRY

    def backoff(self, failed_attempt: int) -> timedelta:
        """Wait after attempt ``failed_attempt`` failed: initial * factor^(attempt-1), capped."""
        return min(self.backoff_initial * (self.backoff_factor ** (failed_attempt - 1)), self.backoff_max)


@dataclass(frozen=True)
class NumberIndexView:
    """For each mobile number this customer is recorded with, the *other* records that have it."""

    others: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def others_on(self, number: str | None) -> frozenset[str]:
        if number is None:
            return frozenset()
        return self.others.get(number, frozenset())


DEFAULT_POLICY = Policy()
NO_SHARED_NUMBERS = NumberIndexView()

# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


class FlagEntry(BaseModel):
    flag: RiskFlag
    flag_id: str | None = None


class ContactCardState(BaseModel):
    kind: ContactCardKind
    first_name: str
    phone_number: str
    urgent_voicemail: str | None = None


class MspContact(BaseModel):
    """Seed 002: one MSP's contact workflow for this customer."""

    msp_id: str
    approval_request_id: str
    letter_template_id: str
    letter_template_version: int
    contact_card: ContactCardState
    letter_delivery: LetterDelivery
    reasons_summary: str
    duration_days: int
    letter_notification_id: str
    phone_notification_id: str | None = None
    representative_notification_id: str | None = None


class SmsRequest(BaseModel):
    circumstance: SmsCircumstance | None = None
    requested_by: str
    requested_by_role: Role
    template_id: str | None = None
    template_version: int | None = None
    text: str | None = None


class Notification(BaseModel):
    """One thing to communicate; its deliveries are the attempts on one channel each."""

    notification_id: str
    channel: Channel
    purpose: Purpose
    recipient: Recipient = Recipient.CUSTOMER
    fingerprint: str | None = None
    msp_id: str | None = None
    complaint_id: str | None = None
    meeting_id: str | None = None
    sms: SmsRequest | None = None
    #: An MSP SMS waiting for its letter (the moment of sending has not come yet).
    held: bool = False
    suppressed: tuple[SmsSuppressionReason, ...] = ()
    deliveries: list[str] = Field(default_factory=list)


class DeliveryState(StrEnum):
    SENT = "SENT"  # dispatched, waiting for the channel's receipt
    RETRY_SCHEDULED = "RETRY_SCHEDULED"  # failed; a RetryDelivery timer is set
    DELIVERED = "DELIVERED"
    COMPLETED = "COMPLETED"  # a phone task whose outcome was reported
    FELL_BACK = "FELL_BACK"  # retries exhausted; replaced by a delivery on the next channel
    ABANDONED = "ABANDONED"  # retries and fallbacks exhausted
    SUPPRESSED = "SUPPRESSED"  # an SMS retry stopped by the guard


FINAL_STATES = frozenset(
    {
        DeliveryState.DELIVERED,
        DeliveryState.COMPLETED,
        DeliveryState.FELL_BACK,
        DeliveryState.ABANDONED,
        DeliveryState.SUPPRESSED,
    }
)


class Delivery(BaseModel):
    delivery_id: str
    notification_id: str
    channel: Channel
    attempt: int
    state: DeliveryState
    #: The last dispatch's payload: a retry sends the same rendered text again.
    dispatch: dict[str, Any]
    fallback_from: str | None = None


class CustomerState(BaseModel):
    """Everything notifications knows about one customer (aggregate id = CSID)."""

    registered: bool = False
    given_name: str | None = None
    family_name: str | None = None
    is_centrelink_customer: bool = False
    mobile_number: str | None = None
    phone_number: str | None = None
    email: str | None = None
    postal_address: PostalAddress | None = None
    representatives: tuple[Representative, ...] = ()
    risk_flags: list[FlagEntry] = Field(default_factory=list)
    #: msp_id → approval request id, from ApprovalAccepted (subject MSP).
    approved_msps: dict[str, str] = Field(default_factory=dict)
    #: notification ids an approved decision maker authorised (ApprovalAccepted, SMS_AUTHORISATION).
    sms_authorisations: list[str] = Field(default_factory=list)
    msps: dict[str, MspContact] = Field(default_factory=dict)
    notifications: dict[str, Notification] = Field(default_factory=dict)
    deliveries: dict[str, Delivery] = Field(default_factory=dict)

    @property
    def active_flags(self) -> frozenset[RiskFlag]:
        return frozenset(entry.flag for entry in self.risk_flags)

    @property
    def full_name(self) -> str | None:
        if self.given_name is None or self.family_name is None:
            return None
        return f"{self.given_name} {self.family_name}"


# --------------------------------------------------------------------------------------------
# The decider
# --------------------------------------------------------------------------------------------


class _Refusal(Exception):
    """Raised inside the decider only; ``decide`` turns it into NotificationsCommandRejected."""

    def __init__(self, code: NotificationsReasonCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class _Turn:
    state: CustomerState
    now: datetime
    policy: Policy
    numbers: NumberIndexView
    out: list[Output] = field(default_factory=list)

    def emit(self, *outputs: Output) -> None:
        self.out.extend(outputs)


def decide(
    state: CustomerState | None,
    message: Any,
    now: datetime,
    policy: Policy = DEFAULT_POLICY,
    numbers: NumberIndexView = NO_SHARED_NUMBERS,
) -> tuple[CustomerState | None, list[Output]]:
    """The new state and what to publish, for any message notifications consumes."""
    handler = _HANDLERS.get(type(message))
    if handler is None:
        return state, []
    current = state.model_copy(deep=True) if state is not None else CustomerState()
    turn = _Turn(current, now, policy, numbers)
    try:
        handler(turn, message)
    except _Refusal as refusal:
        return state, [
            NotificationsCommandRejected(
                reason_code=refusal.code,
                reason=refusal.reason,
                notification_id=getattr(message, "notification_id", None),
                attempted_by=message.actor if isinstance(message, Command) else None,
            )
        ]
    return current, turn.out


# -------------------------------------------------------------------- upstream customer facts


def _registered(t: _Turn, event: CustomerRegistered) -> None:
    s = t.state
    s.registered = True
    s.given_name = event.given_name
    s.family_name = event.family_name
    s.is_centrelink_customer = event.is_centrelink_customer


def _contact_details(t: _Turn, event: CustomerContactDetailsChanged) -> None:
    # A full snapshot: None means "none recorded", so it replaces what was known.
    s = t.state
    s.mobile_number = event.mobile_number
    s.phone_number = event.phone_number
    s.email = event.email
    s.postal_address = event.postal_address
    s.representatives = event.representatives


def _flag_raised(t: _Turn, event: RiskFlagRaised) -> None:
    entry = FlagEntry(flag=event.flag, flag_id=event.flag_id)
    if entry not in t.state.risk_flags:
        t.state.risk_flags.append(entry)


def _flag_cleared(t: _Turn, event: RiskFlagCleared) -> None:
    def clears(entry: FlagEntry) -> bool:
        if entry.flag is not event.flag:
            return False
        return event.flag_id is None or entry.flag_id in (None, event.flag_id)

    t.state.risk_flags = [e for e in t.state.risk_flags if not clears(e)]


def _approval_accepted(t: _Turn, event: ApprovalAccepted) -> None:
    if event.subject_type is SubjectType.MSP:
        # Seed 002: the contact workflow starts only for an approved MSP.
        t.state.approved_msps[_canonical(event.subject_id)] = str(event.request_id)
    elif event.subject_type is SubjectType.SMS_AUTHORISATION:
        # Seed 002 step 2: "SMS can only be sent by approved decision makers" — one may
        # authorise a particular SMS (subject = its notification id).
        subject = _canonical(event.subject_id)
        approver_is_adm = event.decided_by.role is Role.APPROVED_DECISION_MAKER
        if approver_is_adm and subject not in t.state.sms_authorisations:
            t.state.sms_authorisations.append(subject)


def _canonical(identifier: str) -> str:
    try:
        return str(uuid.UUID(identifier))
    except ValueError:
        return identifier


# -------------------------------------------------------------------- the MSP contact workflow

ENCLOSURE = {
    ContactCardKind.ONE_MAIN_CONTACT: "OMC_CONTACT_CARD",
    ContactCardKind.PS_SERVICE_OFFICER: "PSSO_CONTACT_CARD",
}
CARD_TITLE = {
    ContactCardKind.ONE_MAIN_CONTACT: "One Main Contact",
    ContactCardKind.PS_SERVICE_OFFICER: "PS Service Officer",
}
#: Seed 002 step 1: "contact the customer's Power of Attorney, nominee or person permitted to
#: enquire" — in that order of preference.
REPRESENTATIVES_TO_CALL = (
    RepresentativeKind.POWER_OF_ATTORNEY,
    RepresentativeKind.NOMINEE,
    RepresentativeKind.PERSON_PERMITTED_TO_ENQUIRE,
)


def _start_msp_contact(t: _Turn, cmd: StartMSPContact) -> None:
    s = t.state
    msp_id = str(cmd.msp_id)
    if not s.registered:
        raise _Refusal(NotificationsReasonCode.UNKNOWN_CUSTOMER, "The customer is not known.")
    if msp_id in s.msps:
        raise _Refusal(NotificationsReasonCode.MSP_ALREADY_STARTED, "Contact for this MSP has started.")
    if s.approved_msps.get(msp_id) != str(cmd.approval_request_id):
        raise _Refusal(NotificationsReasonCode.MSP_NOT_APPROVED, "No accepted approval for this MSP.")
    # Seed 002 step 3: "Ensure that only the final approved letter is attached to the MSP".
    template = _template(t, cmd.letter_template_id, cmd.letter_template_version, Channel.LETTER)
    final = t.policy.templates.final_approved(cmd.letter_template_id)
    if final is None or final.version != template.version:
        raise _Refusal(
            NotificationsReasonCode.TEMPLATE_NOT_APPROVED,
            "Only the final approved version of the MSP letter may be sent.",
        )
    # Seed 002 step 3: "Customers must be advised of their MSP in writing" — no address, no start.
    address = _postal_for(s, Recipient.CUSTOMER)
    if address is None:
        raise _Refusal(NotificationsReasonCode.NO_POSTAL_ADDRESS, "No postal address for the MSP letter.")

    card = cmd.contact_card
    msp = MspContact(
        msp_id=msp_id,
        approval_request_id=str(cmd.approval_request_id),
        letter_template_id=template.template_id,
        letter_template_version=template.version,
        contact_card=ContactCardState(
            kind=card.kind,
            first_name=card.first_name,
            phone_number=card.phone_number,
            urgent_voicemail=card.urgent_voicemail,
        ),
        letter_delivery=cmd.letter_delivery,
        reasons_summary=cmd.reasons_summary,
        duration_days=cmd.duration_days,
        letter_notification_id=str(uuid.uuid5(cmd.msp_id, "msp-letter")),
    )
    letter = _render(template, {**_customer_values(s), **_msp_values(msp)})
    t.emit(
        MSPContactStarted(
            msp_id=cmd.msp_id,
            approval_request_id=cmd.approval_request_id,
            letter_template_id=template.template_id,
            letter_template_version=template.version,
            actor=cmd.actor,
        )
    )
    s.msps[msp_id] = msp

    # Seed 002 step 1: "Phone the customer".
    number = s.phone_number or s.mobile_number
    if number is not None and s.given_name is not None:
        msp.phone_notification_id = str(uuid.uuid5(cmd.msp_id, "msp-phone"))
        _phone_task(t, msp, msp.phone_notification_id, Recipient.CUSTOMER, s.given_name, number)
    else:
        t.emit(
            MSPContactResultRecorded(
                msp_id=cmd.msp_id,
                step=MSPContactStep.PHONE,
                contacted=Recipient.CUSTOMER,
                phone_outcome=PhoneOutcome.NOT_REACHED,
                note="No phone number is recorded for the customer.",
            )
        )

    # Seed 002 step 3: the letter, always, with the OMC/PSSO contact card; posted, or hand
    # delivered by local police where arranged — never by staff (LetterDelivery has no such value).
    addressee, postal_address = address
    notification = Notification(
        notification_id=msp.letter_notification_id,
        channel=Channel.LETTER,
        purpose=Purpose.MSP_LETTER,
        msp_id=msp_id,
    )
    s.notifications[notification.notification_id] = notification
    _dispatch(
        t,
        notification,
        Channel.LETTER,
        letter,
        addressee=addressee,
        postal_address=postal_address.model_dump(mode="json"),
        body=letter.body,
        enclosures=[ENCLOSURE[card.kind]],
        delivery=cmd.letter_delivery,
    )

    # Seed 002 step 2: the moment of sending for every MSP SMS that waited for this letter —
    # right after it, on the customer's state as it is now.
    for waiting in list(s.notifications.values()):
        if waiting.held and waiting.msp_id == msp_id:
            waiting.held = False
            _send_sms(t, waiting, at_send_time=True)


def _phone_task(
    t: _Turn, msp: MspContact, notification_id: str, recipient: Recipient, name: str, number: str
) -> None:
    template = _service_template(t, tpl.PHONE_SCRIPT)
    script = _render(template, {**_customer_values(t.state), **_msp_values(msp), "contact_name": name})
    notification = Notification(
        notification_id=notification_id,
        channel=Channel.PHONE,
        purpose=Purpose.MSP_PHONE_CALL,
        recipient=recipient,
        msp_id=msp.msp_id,
    )
    t.state.notifications[notification_id] = notification
    _dispatch(
        t,
        notification,
        Channel.PHONE,
        script,
        phone_number=number,
        contact_name=name,
        talking_points=script.body,
        msp_id=msp.msp_id,
    )


def _phone_outcome(t: _Turn, report: PhoneTaskOutcomeReported) -> None:
    s = t.state
    delivery = s.deliveries.get(str(report.delivery_id))
    if delivery is None or delivery.channel is not Channel.PHONE:
        return
    if delivery.state is not DeliveryState.SENT or report.attempt != delivery.attempt:
        return  # issue 5: a duplicate or late report changes nothing
    delivery.state = DeliveryState.COMPLETED
    notification = s.notifications[delivery.notification_id]
    msp = s.msps.get(notification.msp_id or "")
    if msp is None:
        return
    msp_uuid = uuid.UUID(msp.msp_id)
    note = report.notes[:500] if report.notes else None
    representative: Representative | None = None
    not_appropriate = report.outcome is PhoneOutcome.NOT_APPROPRIATE_TO_PHONE
    if not_appropriate and notification.recipient is Recipient.CUSTOMER:
        # Seed 002 step 1: "Wherever possible contact the customer's Power of Attorney, nominee
        # or person permitted to enquire where a decision is made not to contact the customer".
        representative = _representative_to_call(s)
        if representative is None:
            note = (
                "No Power of Attorney, nominee or person permitted to enquire with a phone number "
                "is recorded."
            )
    # Seed 002 step 4: record the result of the contact on the MSP record.
    t.emit(
        MSPContactResultRecorded(
            msp_id=msp_uuid,
            step=MSPContactStep.PHONE,
            delivery_id=report.delivery_id,
            contacted=report.spoke_with or notification.recipient,
            phone_outcome=report.outcome,
            note=note,
        )
    )
    if report.aggression_displayed:
        # Seed 002 step 1: "If the customer displays aggression … Record a new incident and
        # link it to the MSP."
        t.emit(
            MSPIncidentRaised(
                incident_id=uuid.uuid5(report.delivery_id, f"incident-{report.attempt}"),
                msp_id=msp_uuid,
                delivery_id=report.delivery_id,
                description="Aggression or counterproductive behaviour displayed during the MSP phone call.",
                officer_id=report.officer_id,
            )
        )
    if representative is not None and representative.phone_number is not None:
        if msp.representative_notification_id is None:  # once per MSP
            msp.representative_notification_id = str(uuid.uuid5(msp_uuid, "msp-phone-representative"))
            _phone_task(
                t,
                msp,
                msp.representative_notification_id,
                Recipient(representative.kind.value),
                representative.name,
                representative.phone_number,
            )


def _representative_to_call(s: CustomerState) -> Representative | None:
    for kind in REPRESENTATIVES_TO_CALL:
        for rep in s.representatives:
            if rep.kind is kind and rep.phone_number is not None:
                return rep
    return None


# -------------------------------------------------------------------- SMS and the guard


def _send_sms_command(t: _Turn, cmd: SendSms) -> None:
    s = t.state
    if _repeated(t, cmd):
        return
    if not s.registered:
        raise _Refusal(NotificationsReasonCode.UNKNOWN_CUSTOMER, "The customer is not known.")
    if cmd.purpose is Purpose.MSP_SMS and cmd.msp_id is None:
        raise _Refusal(NotificationsReasonCode.UNKNOWN_MSP, "An MSP SMS must name its MSP.")
    request = SmsRequest(
        circumstance=cmd.circumstance,
        requested_by=cmd.actor.officer_id,
        requested_by_role=cmd.actor.role,
        text=cmd.text,
    )
    if cmd.template_id is not None:
        template = _template(t, cmd.template_id, cmd.template_version, Channel.SMS)
        request.template_id, request.template_version = template.template_id, template.version
        # Checked now with the longest possible values, so it cannot fail when sent later.
        _render(template, _placeholder_values(cmd.text))
    elif cmd.text is None:
        raise _Refusal(NotificationsReasonCode.CONTENT_REQUIRED, "Neither a template nor a text.")
    notification = Notification(
        notification_id=str(cmd.notification_id),
        channel=Channel.SMS,
        purpose=cmd.purpose,
        fingerprint=_fingerprint(cmd),
        msp_id=str(cmd.msp_id) if cmd.msp_id is not None else None,
        sms=request,
    )
    s.notifications[notification.notification_id] = notification
    t.emit(
        SmsRequested(
            notification_id=cmd.notification_id,
            purpose=cmd.purpose,
            msp_id=cmd.msp_id,
            circumstance=cmd.circumstance,
            actor=cmd.actor,
        )
    )
    reasons = check_sms(_sms_facts(t, notification))
    if reasons == (SmsSuppressionReason.LETTER_NOT_DISPATCHED,) and notification.msp_id in s.approved_msps:
        # Seed 002 step 2: the SMS complements the letter; the MSP is approved, so its letter is
        # coming — the SMS waits for it and meets the guard again at the moment of sending.
        notification.held = True
        return
    _send_sms(t, notification, at_send_time=False)


def _send_sms(t: _Turn, notification: Notification, *, at_send_time: bool) -> None:
    """The moment of sending: the guard on the latest state, then the dispatch or a suppression."""
    reasons = check_sms(_sms_facts(t, notification))
    if reasons:
        _suppress(t, notification, reasons, at_send_time=at_send_time)
        return
    assert t.state.mobile_number is not None  # the guard checked it
    rendered = _render_sms(t, notification)
    _dispatch(t, notification, Channel.SMS, rendered, to_mobile=t.state.mobile_number, body=rendered.body)


def _sms_facts(t: _Turn, notification: Notification) -> SmsFacts:
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
        other_records_on_number=t.numbers.others_on(s.mobile_number),
        risk_flags=s.active_flags,
        # Started ⇒ its letter was dispatched in the same write as MSPContactStarted.
        msp_letter_on_its_way=notification.msp_id is not None and notification.msp_id in s.msps,
    )


def _suppress(
    t: _Turn,
    notification: Notification,
    reasons: tuple[SmsSuppressionReason, ...],
    *,
    at_send_time: bool,
    delivery: Delivery | None = None,
) -> None:
    # Issue 5: "A suppressed SMS is recorded with its reason and published as an event".
    notification.held = False
    notification.suppressed = reasons
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
        t.emit(
            MSPContactResultRecorded(
                msp_id=msp_uuid,
                step=MSPContactStep.SMS,
                delivery_id=uuid.UUID(delivery.delivery_id) if delivery is not None else None,
                contacted=notification.recipient,
                suppression_reasons=reasons,
            )
        )


def _render_sms(t: _Turn, notification: Notification) -> tpl.Rendered:
    request = notification.sms
    assert request is not None
    if request.template_id is None or request.template_version is None:
        assert request.text is not None
        return _free_form(Channel.SMS, request.text)
    template = t.policy.templates.get(request.template_id, request.template_version)
    assert template is not None, "a template version never disappears"
    msp = t.state.msps.get(notification.msp_id or "")
    values = {**_customer_values(t.state), **(_msp_values(msp) if msp else {}), "text": request.text}
    return _render(template, values)


# -------------------------------------------------------------------- letters and e-mails


def _send_letter(t: _Turn, cmd: SendLetter) -> None:
    s = t.state
    if _repeated(t, cmd):
        return
    if not s.registered:
        raise _Refusal(NotificationsReasonCode.UNKNOWN_CUSTOMER, "The customer is not known.")
    addressee, postal_address = _postal_or_refuse(s, cmd.recipient)
    if cmd.template_id is not None:
        template = _template(t, cmd.template_id, cmd.template_version, Channel.LETTER)
        values = {**_customer_values(s), "addressee": addressee, "body": cmd.body}
        rendered = _render(template, values)
    elif cmd.purpose is Purpose.MSP_LETTER:
        # Seed 002 step 3: an MSP letter is always the approved template, never free-form.
        raise _Refusal(NotificationsReasonCode.TEMPLATE_REQUIRED, "An MSP letter must use its template.")
    elif cmd.body is not None:
        rendered = _free_form(Channel.LETTER, cmd.body)
    else:
        raise _Refusal(NotificationsReasonCode.CONTENT_REQUIRED, "Neither a template nor a body.")
    notification = Notification(
        notification_id=str(cmd.notification_id),
        channel=Channel.LETTER,
        purpose=cmd.purpose,
        recipient=cmd.recipient,
        fingerprint=_fingerprint(cmd),
        complaint_id=str(cmd.complaint_id) if cmd.complaint_id is not None else None,
    )
    s.notifications[notification.notification_id] = notification
    _dispatch(
        t,
        notification,
        Channel.LETTER,
        rendered,
        addressee=addressee,
        postal_address=postal_address.model_dump(mode="json"),
        body=rendered.body,
        delivery=cmd.delivery,
    )


def _send_email(t: _Turn, cmd: SendEmail) -> None:
    s = t.state
    if _repeated(t, cmd):
        return
    to_email, to_name = cmd.to_email, cmd.to_name
    if to_email is None:
        if not s.registered:
            raise _Refusal(NotificationsReasonCode.UNKNOWN_CUSTOMER, "The customer is not known.")
        found = _email_for(s, cmd.recipient)
        if found is None:
            raise _Refusal(NotificationsReasonCode.NO_EMAIL_ADDRESS, "No e-mail address is recorded.")
        to_email, recorded_name = found
        to_name = to_name or recorded_name
    if cmd.template_id is not None:
        template = _template(t, cmd.template_id, cmd.template_version, Channel.EMAIL)
        values = {
            **_customer_values(s),
            "recipient_name": to_name or s.given_name or "there",
            "body": cmd.body,
            "data": dict(cmd.template_data),
        }
        rendered = _render(template, values)
        subject = rendered.subject or cmd.subject
    elif cmd.body is not None:
        rendered = _free_form(Channel.EMAIL, cmd.body)
        subject = cmd.subject
    else:
        raise _Refusal(NotificationsReasonCode.CONTENT_REQUIRED, "Neither a template nor a body.")
    if subject is None:
        raise _Refusal(NotificationsReasonCode.CONTENT_REQUIRED, "The e-mail has no subject.")
    notification = Notification(
        notification_id=str(cmd.notification_id),
        channel=Channel.EMAIL,
        purpose=cmd.purpose,
        recipient=cmd.recipient,
        fingerprint=_fingerprint(cmd),
        meeting_id=str(cmd.meeting_id) if cmd.meeting_id is not None else None,
    )
    s.notifications[notification.notification_id] = notification
    attachments = [
        AttachmentLink(
            attachment_id=a.attachment_id,
            filename=a.filename,
            media_type=a.media_type,
            size_bytes=a.size_bytes,
        ).model_dump(mode="json")
        for a in cmd.attachments
    ]
    _dispatch(
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


# -------------------------------------------------------------------- receipts, retries, fallback


def _receipt(t: _Turn, receipt: DeliveryReceipted) -> None:
    s = t.state
    delivery = s.deliveries.get(str(receipt.delivery_id))
    if delivery is None or delivery.channel is not receipt.channel:
        return
    # Issue 5: "A duplicate or late receipt changes nothing" — only the first receipt for the
    # attempt in flight counts.
    if delivery.state is not DeliveryState.SENT or receipt.attempt != delivery.attempt:
        return
    notification = s.notifications[delivery.notification_id]
    if receipt.status is DeliveryStatus.DELIVERED:
        if delivery.channel is Channel.PHONE:
            return  # a phone task completes with its outcome report, not a receipt
        delivery.state = DeliveryState.DELIVERED
        t.emit(
            NotificationDelivered(
                notification_id=uuid.UUID(notification.notification_id),
                delivery_id=receipt.delivery_id,
                channel=delivery.channel,
                attempt=delivery.attempt,
            )
        )
        _record_msp_result(t, notification, delivery, DeliveryStatus.DELIVERED)
        return
    _failed(t, notification, delivery, receipt.status)


def _failed(t: _Turn, notification: Notification, delivery: Delivery, status: DeliveryStatus) -> None:
    # A bounce (the address is wrong) is not cured by trying again: it falls back at once.
    if status is DeliveryStatus.FAILED and delivery.attempt < t.policy.max_attempts:
        due = t.now + t.policy.backoff(delivery.attempt)
        delivery.state = DeliveryState.RETRY_SCHEDULED
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


#: Issue 5: "falls back to the next channel the rules allow (SMS → letter, email → letter)".
FALLBACK_TEMPLATE: Mapping[Channel, tuple[str, int]] = {
    Channel.SMS: tpl.SMS_FALLBACK_LETTER,
    Channel.EMAIL: tpl.EMAIL_FALLBACK_LETTER,
}


def _fall_back(t: _Turn, notification: Notification, delivery: Delivery) -> None:
    s = t.state
    address = _postal_for(s, notification.recipient)
    key = FALLBACK_TEMPLATE.get(delivery.channel)
    letter: tpl.Rendered | None = None
    if address is not None and key is not None:
        template = _service_template(t, key)
        text = delivery.dispatch.get("body") or delivery.dispatch.get("body_text")
        values = {"addressee": address[0], "text": text, "subject": delivery.dispatch.get("subject")}
        try:
            letter = tpl.render(template, values)
        except tpl.RenderError:
            letter = None
    if address is None or letter is None:
        delivery.state = DeliveryState.ABANDONED
        t.emit(
            NotificationDeliveryAbandoned(
                notification_id=uuid.UUID(notification.notification_id),
                last_delivery_id=uuid.UUID(delivery.delivery_id),
                last_channel=delivery.channel,
            )
        )
        return
    delivery.state = DeliveryState.FELL_BACK
    addressee, postal_address = address
    t.emit(
        NotificationFellBack(
            notification_id=uuid.UUID(notification.notification_id),
            from_delivery_id=uuid.UUID(delivery.delivery_id),
            from_channel=delivery.channel,
            to_delivery_id=_next_delivery_id(notification),
            to_channel=Channel.LETTER,
        )
    )
    _dispatch(
        t,
        notification,
        Channel.LETTER,
        letter,
        fallback_from=delivery.delivery_id,
        addressee=addressee,
        postal_address=postal_address.model_dump(mode="json"),
        body=letter.body,
    )


def _retry(t: _Turn, cmd: RetryDelivery) -> None:
    s = t.state
    delivery = s.deliveries.get(str(cmd.delivery_id))
    if delivery is None:
        raise _Refusal(NotificationsReasonCode.UNKNOWN_DELIVERY, "No such delivery.")
    if delivery.state in FINAL_STATES:
        raise _Refusal(NotificationsReasonCode.DELIVERY_ALREADY_FINAL, "The delivery is already final.")
    if delivery.state is not DeliveryState.RETRY_SCHEDULED or cmd.attempt != delivery.attempt + 1:
        return  # a timer whose reason has passed changes nothing
    notification = s.notifications[delivery.notification_id]
    changes: dict[str, Any] = {}
    if delivery.channel is Channel.SMS:
        # Issue 5: a retry is a moment of sending — the guard runs again on the latest state.
        reasons = check_sms(_sms_facts(t, notification))
        if reasons:
            delivery.state = DeliveryState.SUPPRESSED
            _suppress(t, notification, reasons, at_send_time=True, delivery=delivery)
            return
        changes["to_mobile"] = s.mobile_number
    payload = {**delivery.dispatch, **changes, "attempt": cmd.attempt}
    dispatch = DISPATCHES[delivery.channel].model_validate(payload)
    delivery.attempt = cmd.attempt
    delivery.state = DeliveryState.SENT
    delivery.dispatch = dispatch.model_dump(mode="json")
    t.emit(_dispatched(notification, delivery), dispatch)


def _record_msp_result(
    t: _Turn, notification: Notification, delivery: Delivery, status: DeliveryStatus
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


# -------------------------------------------------------------------- helpers


def _dispatch(
    t: _Turn,
    notification: Notification,
    channel: Channel,
    rendered: tpl.Rendered,
    *,
    fallback_from: str | None = None,
    **fields: Any,
) -> None:
    """A new delivery on ``channel``: NotificationDispatched, then the channel's dispatch."""
    delivery_id = _next_delivery_id(notification)
    dispatch = DISPATCHES[channel].model_validate(
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
        dispatch=dispatch.model_dump(mode="json"),
        fallback_from=fallback_from,
    )
    notification.deliveries.append(delivery.delivery_id)
    t.state.deliveries[delivery.delivery_id] = delivery
    t.emit(_dispatched(notification, delivery), dispatch)


def _dispatched(notification: Notification, delivery: Delivery) -> NotificationDispatched:
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
        msp_id=_uuid_or_none(notification.msp_id),
        complaint_id=_uuid_or_none(notification.complaint_id),
        meeting_id=_uuid_or_none(notification.meeting_id),
        fallback_from=_uuid_or_none(delivery.fallback_from),
    )


def _next_delivery_id(notification: Notification) -> uuid.UUID:
    return uuid.uuid5(uuid.UUID(notification.notification_id), f"delivery-{len(notification.deliveries) + 1}")


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value is not None else None


def _repeated(t: _Turn, cmd: SendSms | SendLetter | SendEmail) -> bool:
    """The same notification asked for again changes nothing; its id reused for other content is refused."""
    existing = t.state.notifications.get(str(cmd.notification_id))
    if existing is None:
        return False
    if existing.fingerprint == _fingerprint(cmd):
        return True
    raise _Refusal(
        NotificationsReasonCode.DUPLICATE_NOTIFICATION, "This notification id was used for other content."
    )


def _fingerprint(cmd: Command) -> str:
    content = cmd.model_dump_json(exclude={"actor"})
    return hashlib.sha256(f"{cmd.MESSAGE_TYPE}:{content}".encode()).hexdigest()


def _template(t: _Turn, template_id: str, version: int | None, channel: Channel) -> tpl.Template:
    """The template version a sender named (or the final approved one); refuses drafts."""
    registry = t.policy.templates
    template = registry.final_approved(template_id) if version is None else registry.get(template_id, version)
    if template is None or template.channel is not channel:
        raise _Refusal(
            NotificationsReasonCode.TEMPLATE_NOT_FOUND, f"No such {channel.value.lower()} template version."
        )
    if not template.approved:
        raise _Refusal(NotificationsReasonCode.TEMPLATE_NOT_APPROVED, "That template version is a draft.")
    return template


def _service_template(t: _Turn, key: tuple[str, int]) -> tpl.Template:
    template = t.policy.templates.get(*key)
    if template is None:
        raise _Refusal(NotificationsReasonCode.TEMPLATE_NOT_FOUND, f"The {key[0]} template is missing.")
    return template


def _render(template: tpl.Template, values: Mapping[str, Any]) -> tpl.Rendered:
    try:
        return tpl.render(template, values)
    except tpl.RenderError as exc:
        raise _Refusal(NotificationsReasonCode.CONTENT_REQUIRED, f"No sendable content: {exc}") from None


def _free_form(channel: Channel, text: str) -> tpl.Rendered:
    # Seed 004: communications may be free-form where no template is required.
    try:
        tpl.check(channel, text)
    except tpl.RenderError as exc:
        raise _Refusal(NotificationsReasonCode.CONTENT_REQUIRED, f"No sendable content: {exc}") from None
    return tpl.Rendered(body=text)


def _customer_values(s: CustomerState) -> dict[str, Any]:
    # Only what addresses the customer: nothing about ownership or locking (seed 001 table 1 step 6).
    return {"given_name": s.given_name, "family_name": s.family_name, "addressee": s.full_name}


def _msp_values(msp: MspContact) -> dict[str, Any]:
    card = msp.contact_card
    return {
        "msp_reasons": msp.reasons_summary,
        "msp_duration_days": msp.duration_days,
        "contact_kind": CARD_TITLE[card.kind],
        "contact_first_name": card.first_name,
        "contact_phone": card.phone_number,
        "contact_urgent_voicemail": card.urgent_voicemail,
    }


def _placeholder_values(text: str | None) -> dict[str, Any]:
    """The longest values a later send may bring, to check a template before it waits."""
    name, phone = "X" * 100, "9" * 16
    return {
        "given_name": name,
        "family_name": name,
        "addressee": f"{name} {name}",
        "msp_reasons": "X" * 500,
        "msp_duration_days": 730,
        "contact_kind": CARD_TITLE[ContactCardKind.PS_SERVICE_OFFICER],
        "contact_first_name": name,
        "contact_phone": phone,
        "contact_urgent_voicemail": phone,
        "text": text,
    }


def _postal_for(s: CustomerState, recipient: Recipient) -> tuple[str, PostalAddress] | None:
    if recipient is Recipient.CUSTOMER:
        if s.postal_address is None or s.full_name is None:
            return None
        return s.full_name, s.postal_address
    for rep in s.representatives:
        if rep.kind.value == recipient.value and rep.postal_address is not None:
            return rep.name, rep.postal_address
    return None


def _postal_or_refuse(s: CustomerState, recipient: Recipient) -> tuple[str, PostalAddress]:
    found = _postal_for(s, recipient)
    if found is not None:
        return found
    if recipient not in (Recipient.CUSTOMER, Recipient.OTHER) and not any(
        rep.kind.value == recipient.value for rep in s.representatives
    ):
        raise _Refusal(NotificationsReasonCode.NO_REPRESENTATIVE, "No such representative is recorded.")
    raise _Refusal(NotificationsReasonCode.NO_POSTAL_ADDRESS, "No postal address is recorded.")


def _email_for(s: CustomerState, recipient: Recipient) -> tuple[str, str | None] | None:
    if recipient is Recipient.CUSTOMER:
        return (s.email, s.given_name) if s.email is not None else None
    for rep in s.representatives:
        if rep.kind.value == recipient.value and rep.email is not None:
            return rep.email, rep.name
    return None


_HANDLERS: dict[type[Message], Callable[[_Turn, Any], None]] = {
    CustomerRegistered: _registered,
    CustomerContactDetailsChanged: _contact_details,
    RiskFlagRaised: _flag_raised,
    RiskFlagCleared: _flag_cleared,
    ApprovalAccepted: _approval_accepted,
    StartMSPContact: _start_msp_contact,
    SendSms: _send_sms_command,
    SendLetter: _send_letter,
    SendEmail: _send_email,
    DeliveryReceipted: _receipt,
    PhoneTaskOutcomeReported: _phone_outcome,
    RetryDelivery: _retry,
}

#: Messages the decider acts on (anything else is of no interest).
HANDLED: frozenset[type[Message]] = frozenset(_HANDLERS)
