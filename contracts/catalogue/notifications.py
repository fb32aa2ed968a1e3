"""notifications service: the MSP contact workflow, the send-time SMS guard, channels with
receipts, retries and fallback, and templates (issue 5; seeds 002 and 004).

Other services ask for a communication with :class:`SendLetter` / :class:`SendEmail` /
:class:`SendSms` on ``casemesh.notifications.commands.v1``. Notifications decides whether and how
it may be sent, renders it, dispatches it on a per-channel dispatch topic, and publishes what
happened on ``casemesh.notifications.events.v1`` (from which the contacts service keeps the
communications log). Nothing is dropped silently: a suppressed SMS is an event with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from contracts.base import (
    ACTOR_EXAMPLE,
    Actor,
    Code,
    Command,
    CommandPart,
    EmailAddress,
    Event,
    LongText,
    Name,
    PhoneNumber,
    Rejection,
    ShortText,
)
from contracts.catalogue.channels import (
    Channel,
    DeliveryStatus,
    LetterDelivery,
    PhoneOutcome,
    Purpose,
    Recipient,
)
from contracts.rules import NOT_NULL, NULL, present, published, when

MSP_ID = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
REQUEST_ID = "5f0c7a52-93c4-4d0a-8a8e-2a4c1d7e9b10"
DELIVERY_ID = "3b2a1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d"
NOTIFICATION_ID = "6c5b4a39-2817-4f06-95e4-d3c2b1a09f8e"


class NotificationsReasonCode(StrEnum):
    """Why the notifications service refused a command (SMS guard outcomes are suppressions, not refusals)."""

    # Issue 16: the command's actor is not a verified identity (kit/identity.py): no valid token
    # from the identity provider in the x-casemesh-identity header, or one naming someone else.
    UNAUTHENTICATED = "UNAUTHENTICATED"
    ACTOR_MISMATCH = "ACTOR_MISMATCH"
    UNKNOWN_CUSTOMER = "UNKNOWN_CUSTOMER"
    MSP_NOT_APPROVED = "MSP_NOT_APPROVED"  # no ApprovalAccepted(subject MSP) for the msp_id
    MSP_ALREADY_STARTED = "MSP_ALREADY_STARTED"
    UNKNOWN_MSP = "UNKNOWN_MSP"
    TEMPLATE_NOT_FOUND = "TEMPLATE_NOT_FOUND"
    # Seed 002 step 3: "Ensure that only the final approved letter is attached to the MSP" —
    # an MSP letter is always from its approved template, never free-form.
    TEMPLATE_REQUIRED = "TEMPLATE_REQUIRED"
    TEMPLATE_NOT_APPROVED = "TEMPLATE_NOT_APPROVED"
    CONTENT_REQUIRED = "CONTENT_REQUIRED"  # neither a template nor free-form content
    NO_POSTAL_ADDRESS = "NO_POSTAL_ADDRESS"
    NO_EMAIL_ADDRESS = "NO_EMAIL_ADDRESS"
    NO_REPRESENTATIVE = "NO_REPRESENTATIVE"  # addressed to a representative the customer has not got
    UNKNOWN_DELIVERY = "UNKNOWN_DELIVERY"
    DELIVERY_ALREADY_FINAL = "DELIVERY_ALREADY_FINAL"  # retry of a delivered or abandoned item
    DUPLICATE_NOTIFICATION = "DUPLICATE_NOTIFICATION"  # notification_id reused with other content


class SmsCircumstance(StrEnum):
    """Seed 002 step 2: "SMS can only be sent by approved decision makers in the following circumstances"."""

    CANNOT_CONTACT_BY_PHONE = "CANNOT_CONTACT_BY_PHONE"
    PHONE_DISCUSSION_UNPRODUCTIVE = "PHONE_DISCUSSION_UNPRODUCTIVE"
    CONFIRMATION_AFTER_SUCCESSFUL_CALL = "CONFIRMATION_AFTER_SUCCESSFUL_CALL"
    PRELIMINARY_BEFORE_NEXT_DAY_CALL = "PRELIMINARY_BEFORE_NEXT_DAY_CALL"
    CAPTURE_OMC_PSSO_NUMBER = "CAPTURE_OMC_PSSO_NUMBER"


class SmsSuppressionReason(StrEnum):
    """Why the send-time contact guard stopped an SMS (issue 5; checked when sending, not only when asked)."""

    NOT_CENTRELINK_CUSTOMER = "NOT_CENTRELINK_CUSTOMER"  # seed 002 step 2 "(Centrelink customers only)"
    NOT_APPROVED_DECISION_MAKER = "NOT_APPROVED_DECISION_MAKER"  # "only be sent by approved decision makers"
    NO_CIRCUMSTANCE = "NO_CIRCUMSTANCE"  # none of the seed's five circumstances given
    NO_MOBILE_NUMBER = "NO_MOBILE_NUMBER"
    # "make sure the mobile number on file is not recorded on multiple records. Where this does
    # occur, the SMS must not be sent and existing phone and letter notification provisions apply."
    SHARED_MOBILE_NUMBER = "SHARED_MOBILE_NUMBER"
    RISK_SUICIDE_OR_SELF_HARM = (
        "RISK_SUICIDE_OR_SELF_HARM"  # "should not be sent to customers talking about suicide or self-harm"
    )
    RISK_FDV_IMMEDIATE_THREAT = "RISK_FDV_IMMEDIATE_THREAT"  # FDV involving an immediate threat to safety
    # "Sending an SMS will complement, not replace the corresponding letter."
    LETTER_NOT_DISPATCHED = "LETTER_NOT_DISPATCHED"


class MSPContactStep(StrEnum):
    """Seed 002 steps 1-3."""

    PHONE = "PHONE"
    SMS = "SMS"
    LETTER = "LETTER"


class ContactCardKind(StrEnum):
    ONE_MAIN_CONTACT = "ONE_MAIN_CONTACT"
    PS_SERVICE_OFFICER = "PS_SERVICE_OFFICER"


class ContactCard(CommandPart):
    """Seed 002 steps 1 and 3: the OMC / PSSO contact card sent with the MSP letter."""

    kind: ContactCardKind = Field(description="OMC or PS Service Officer.", examples=["ONE_MAIN_CONTACT"])
    first_name: Name = Field(
        description="The contact officer's first name (no surname, seed 003).", examples=["Priya"]
    )
    phone_number: PhoneNumber = Field(
        description="Direct number to give the customer.", examples=["1300000000"]
    )
    urgent_voicemail: PhoneNumber | None = Field(
        default=None, description="Urgent query voicemail number.", examples=["1300000001"]
    )


CONTACT_CARD_EXAMPLE = {"kind": "ONE_MAIN_CONTACT", "first_name": "Priya", "phone_number": "1300000000"}


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedTemplate:
    """A template the notifications service ships, and which of its versions may be sent."""

    template_id: str
    channel: Channel
    approved_versions: tuple[int, ...]
    draft_versions: tuple[int, ...]
    used_for: str

    @property
    def final_approved(self) -> int:
        """Seed 002 step 3: the MSP letter is always the final (highest) approved version."""
        return max(self.approved_versions)


#: The templates of the notifications service (``services/notifications/templates.py``), for
#: senders: a command names ``(template_id, version)``; a draft version is refused
#: ``TEMPLATE_NOT_APPROVED``, an unknown one ``TEMPLATE_NOT_FOUND``. StartMSPContact needs the
#: final approved version of ``msp-letter``.
TEMPLATES: tuple[PublishedTemplate, ...] = (
    PublishedTemplate("msp-letter", Channel.LETTER, (1, 2), (3,), "StartMSPContact (the MSP letter)"),
    # Issue 20 item 2: version 2 says the letter is on its way (the SMS goes ahead of it).
    PublishedTemplate("msp-sms", Channel.SMS, (1, 2), (), "SendSms with purpose MSP_SMS"),
    PublishedTemplate("call-back-sms", Channel.SMS, (1,), (), "SendSms with purpose GENERAL"),
    PublishedTemplate(
        "complaint-l2-response", Channel.LETTER, (1,), (), "SendLetter with purpose COMPLAINT_RESPONSE"
    ),
    PublishedTemplate("meeting-minutes", Channel.EMAIL, (1,), (), "SendEmail with purpose MEETING_MINUTES"),
    PublishedTemplate("msp-phone-script", Channel.PHONE, (1,), (), "rendered by the service (MSP call)"),
    PublishedTemplate("sms-fallback-letter", Channel.LETTER, (1,), (), "rendered by the service (fallback)"),
    PublishedTemplate(
        "email-fallback-letter", Channel.LETTER, (1,), (), "rendered by the service (fallback)"
    ),
)


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


class StartMSPContact(Command):
    """Start the seed 002 contact workflow for an approved MSP (phone → SMS if allowed → letter, always)."""

    msp_id: UUID = Field(description="The Managed Service Plan.", examples=[MSP_ID])
    approval_request_id: UUID = Field(
        description="The approvals request (subject MSP) that accepted it.", examples=[REQUEST_ID]
    )
    letter_template_id: Code = Field(description="The approved MSP letter template.", examples=["msp-letter"])
    letter_template_version: int = Field(
        ge=1,
        description=(
            "Seed 002 step 3: only the final approved version is sent — msp-letter version 2 today "
            "(version 3 is a draft and is refused TEMPLATE_NOT_APPROVED; see TEMPLATES)."
        ),
        examples=[2],
    )
    contact_card: ContactCard = Field(
        description="The OMC/PSSO contact card.", examples=[CONTACT_CARD_EXAMPLE]
    )
    letter_delivery: LetterDelivery = Field(
        default=LetterDelivery.POST,
        description="POST, or POLICE_HAND_DELIVERY where arranged (recorded in the MSP notes). Never staff.",
        examples=["POST"],
    )
    reasons_summary: ShortText = Field(
        description=(
            "Seed 002 step 1: the reasons, with the behaviours considered — not just 'inappropriate' or "
            "'aggressive' without explaining why."
        ),
        examples=["Repeated threatening calls to the service centre on 3 and 5 March."],
    )
    duration_days: int = Field(ge=1, le=730, description="How long the MSP lasts.", examples=[180])


class SendSms(Command):
    """Ask for an SMS. The contact guard runs again at send time; a stopped SMS is SmsSuppressed."""

    notification_id: UUID = Field(description="New id for this notification.", examples=[NOTIFICATION_ID])
    purpose: Purpose = Field(description="MSP_SMS or GENERAL.", examples=["MSP_SMS"])
    msp_id: UUID | None = Field(default=None, description="The MSP, for MSP SMS.", examples=[MSP_ID])
    circumstance: SmsCircumstance | None = Field(
        default=None,
        description="Seed 002 step 2 circumstance; an MSP SMS without one is suppressed (NO_CIRCUMSTANCE).",
        examples=["CANNOT_CONTACT_BY_PHONE"],
    )
    template_id: Code | None = Field(default=None, description="Template to render.", examples=["msp-sms"])
    template_version: int | None = Field(default=None, ge=1, description="Template version.", examples=[1])
    text: ShortText | None = Field(
        default=None,
        description="Free-form text where no template is required.",
        examples=["Please call us."],
    )


class SendLetter(Command):
    """Ask for a letter (e.g. complaints' Level 2 written response — issue 6)."""

    notification_id: UUID = Field(description="New id for this notification.", examples=[NOTIFICATION_ID])
    purpose: Purpose = Field(description="Why it is sent.", examples=["COMPLAINT_RESPONSE"])
    recipient: Recipient = Field(
        default=Recipient.CUSTOMER,
        description="CUSTOMER, or a recorded representative (their address from the customer system).",
        examples=["CUSTOMER"],
    )
    template_id: Code | None = Field(
        default=None, description="Template to render.", examples=["complaint-l2-response"]
    )
    template_version: int | None = Field(default=None, ge=1, description="Template version.", examples=[1])
    body: LongText | None = Field(
        default=None, description="Free-form body where no template is required.", examples=["Dear Jordan, …"]
    )
    complaint_id: UUID | None = Field(
        default=None, description="The complaint answered.", examples=[REQUEST_ID]
    )
    delivery: LetterDelivery = Field(
        default=LetterDelivery.POST, description="Post or police.", examples=["POST"]
    )


class EmailAttachmentRef(CommandPart):
    """An attachment stored by the contacts service (bytes never travel on Kafka)."""

    attachment_id: UUID = Field(description="Attachment id in the contacts service.", examples=[DELIVERY_ID])
    filename: Name = Field(description="File name to show.", examples=["minutes.pdf"])
    media_type: Code = Field(description="Detected media type.", examples=["application/pdf"])
    size_bytes: int = Field(ge=0, description="Size in bytes.", examples=[48213])


class SendEmail(Command):
    """Ask for an e-mail to one recipient (e.g. contacts issuing meeting minutes — issue 7)."""

    model_config = ConfigDict(
        json_schema_extra=published(
            when(
                {"required": ["body"], "properties": {"template_id": NULL, "body": NOT_NULL}},
                then=present("subject"),
                rule_id="free-form-email-has-a-subject",
                description="A free-form e-mail (a body and no template_id) has a subject.",
            )
        )
    )

    notification_id: UUID = Field(description="New id for this notification.", examples=[NOTIFICATION_ID])
    purpose: Purpose = Field(description="Why it is sent.", examples=["MEETING_MINUTES"])
    recipient: Recipient = Field(default=Recipient.CUSTOMER, description="Who it is for.", examples=["OTHER"])
    to_email: EmailAddress | None = Field(
        default=None,
        description="Explicit address (attendees, interested people); None = the customer's recorded e-mail.",
        examples=["sam@example.org"],
    )
    to_name: Name | None = Field(default=None, description="Display name.", examples=["Sam"])
    subject: ShortText | None = Field(
        default=None, description="Subject when free-form.", examples=["Meeting minutes"]
    )
    template_id: Code | None = Field(
        default=None, description="Template to render.", examples=["meeting-minutes"]
    )
    template_version: int | None = Field(default=None, ge=1, description="Template version.", examples=[1])
    body: LongText | None = Field(default=None, description="Free-form body.", examples=["Minutes attached."])
    template_data: dict[Code, ShortText] = Field(
        default_factory=dict,
        max_length=50,
        description="Extra values for the template (no nesting).",
        examples=[{"meeting_date": "2025-03-12"}],
    )
    attachments: tuple[EmailAttachmentRef, ...] = Field(
        default=(),
        max_length=20,
        description="Attachments by reference.",
        examples=[
            [
                {
                    "attachment_id": DELIVERY_ID,
                    "filename": "minutes.pdf",
                    "media_type": "application/pdf",
                    "size_bytes": 48213,
                }
            ]
        ],
    )
    meeting_id: UUID | None = Field(
        default=None, description="The meeting, for minutes.", examples=[REQUEST_ID]
    )

    @model_validator(mode="after")
    def _free_form_needs_a_subject(self) -> SendEmail:
        if self.template_id is None and self.body is not None and self.subject is None:
            raise ValueError("a free-form e-mail needs a subject")
        return self


class RetryDelivery(Command):
    """Durable-timer command (actor ``Actor.system``): retry a failed delivery after its backoff."""

    delivery_id: UUID = Field(description="The failed delivery.", examples=[DELIVERY_ID])
    attempt: int = Field(ge=2, le=20, description="The attempt to make now.", examples=[2])


class CheckDeliveryReceipt(Command):
    """Durable-timer command (actor ``Actor.system``): has the channel's receipt for this attempt come?

    Issue 18: armed with every dispatch for the channel's receipt timeout; if the attempt is still
    waiting for its receipt it becomes a ``DeliveryTimedOut`` and takes the path of a failed
    delivery (retry with backoff, then fallback). Otherwise it changes nothing.
    """

    delivery_id: UUID = Field(description="The delivery waiting for a receipt.", examples=[DELIVERY_ID])
    attempt: int = Field(ge=1, le=20, description="The attempt whose receipt is awaited.", examples=[1])


class DecideWaitingCommand(Command):
    """Durable-timer command (actor ``Actor.system``): the wait of a command for its fact is over.

    Issue 20 item 9: a ``SendSms`` / ``SendLetter`` / ``SendEmail`` that arrived before the fact it
    depends on (``NotificationRequestParked``) is decided one last time: sent, or refused with the
    reason it would have got (``rejected_message_id`` = the waiting command's). A command no longer
    waiting changes nothing.
    """

    message_id: UUID = Field(
        description="message_id of the waiting command.", examples=["0b6f1c0e-4a51-4d8e-9a43-64f0a0b4a3b1"]
    )


COMMANDS: tuple[type[Command], ...] = (
    StartMSPContact,
    SendSms,
    SendLetter,
    SendEmail,
    RetryDelivery,
    CheckDeliveryReceipt,
    DecideWaitingCommand,
)


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


class MSPContactStarted(Event):
    """The seed 002 workflow started for an approved MSP."""

    msp_id: UUID = Field(description="The MSP.", examples=[MSP_ID])
    approval_request_id: UUID = Field(description="The approval that accepted it.", examples=[REQUEST_ID])
    letter_template_id: Code = Field(description="Approved letter template.", examples=["msp-letter"])
    letter_template_version: int = Field(ge=1, description="Its final approved version.", examples=[2])
    actor: Actor = Field(description="Who started it.", examples=[ACTOR_EXAMPLE])


class SmsRequested(Event):
    """An SMS was asked for; it is sent only if the guard passes at send time."""

    notification_id: UUID = Field(description="The notification.", examples=[NOTIFICATION_ID])
    purpose: Purpose = Field(description="Why.", examples=["MSP_SMS"])
    msp_id: UUID | None = Field(default=None, description="The MSP.", examples=[MSP_ID])
    circumstance: SmsCircumstance | None = Field(
        default=None, description="Seed 002 step 2.", examples=["CANNOT_CONTACT_BY_PHONE"]
    )
    actor: Actor = Field(
        description="Who asked (must be an approved decision maker).", examples=[ACTOR_EXAMPLE]
    )


class SmsSuppressed(Event):
    """The contact guard stopped an SMS (issue 5: recorded with its reason, never dropped silently)."""

    notification_id: UUID = Field(description="The notification.", examples=[NOTIFICATION_ID])
    msp_id: UUID | None = Field(default=None, description="The MSP.", examples=[MSP_ID])
    reasons: tuple[SmsSuppressionReason, ...] = Field(
        min_length=1,
        max_length=8,
        description="Every guard rule that failed.",
        examples=[["SHARED_MOBILE_NUMBER"]],
    )
    checked_at_send_time: bool = Field(
        description="True when it passed on request but failed at the moment of sending.", examples=[True]
    )


class NotificationRequestParked(Event):
    """Issue 20 item 9: a request to send arrived before the customer fact it depends on (the
    registration, a postal or e-mail address, a mobile number): it waits for that fact until
    ``until``, then is sent, or refused (``NotificationsCommandRejected``) with the reason it
    would have got. Nothing is refused for a fact merely late on the customer topic.
    """

    notification_id: UUID = Field(description="The notification that waits.", examples=[NOTIFICATION_ID])
    awaiting: Code = Field(
        description=(
            "What it would be refused (or suppressed) with now: UNKNOWN_CUSTOMER, NO_POSTAL_ADDRESS, "
            "NO_EMAIL_ADDRESS or NO_MOBILE_NUMBER."
        ),
        examples=["NO_POSTAL_ADDRESS"],
    )
    until: AwareDatetime = Field(
        description="When it is decided at the latest, with what is known then.",
        examples=["2025-03-12T09:35:00Z"],
    )


class NotificationDispatched(Event):
    """An item went to a channel's dispatch topic (the contacts service logs it)."""

    notification_id: UUID = Field(description="The notification.", examples=[NOTIFICATION_ID])
    delivery_id: UUID = Field(description="The delivery.", examples=[DELIVERY_ID])
    channel: Channel = Field(description="The channel.", examples=["LETTER"])
    attempt: int = Field(ge=1, description="Attempt number.", examples=[1])
    purpose: Purpose = Field(description="Why.", examples=["MSP_LETTER"])
    recipient: Recipient = Field(description="To whom.", examples=["CUSTOMER"])
    template_id: Code | None = Field(default=None, description="Template used.", examples=["msp-letter"])
    template_version: int | None = Field(
        default=None, ge=1, description="Template version used.", examples=[2]
    )
    msp_id: UUID | None = Field(default=None, description="The MSP, if any.", examples=[MSP_ID])
    complaint_id: UUID | None = Field(
        default=None, description="The complaint, if any.", examples=[REQUEST_ID]
    )
    meeting_id: UUID | None = Field(default=None, description="The meeting, if any.", examples=[REQUEST_ID])
    fallback_from: UUID | None = Field(
        default=None, description="The failed delivery this one replaces.", examples=[DELIVERY_ID]
    )


class NotificationDelivered(Event):
    """A channel confirmed delivery."""

    notification_id: UUID = Field(description="The notification.", examples=[NOTIFICATION_ID])
    delivery_id: UUID = Field(description="The delivery.", examples=[DELIVERY_ID])
    channel: Channel = Field(description="The channel.", examples=["LETTER"])
    attempt: int = Field(ge=1, description="The successful attempt.", examples=[1])


class NotificationDeliveryFailed(Event):
    """A channel reported failure or bounce, or its receipt did not come in time (``DeliveryTimedOut``,
    status FAILED); retried with backoff up to a bound, then fallback."""

    notification_id: UUID = Field(description="The notification.", examples=[NOTIFICATION_ID])
    delivery_id: UUID = Field(description="The delivery.", examples=[DELIVERY_ID])
    channel: Channel = Field(description="The channel.", examples=["SMS"])
    attempt: int = Field(ge=1, description="The failed attempt.", examples=[1])
    status: DeliveryStatus = Field(description="FAILED or BOUNCED.", examples=["FAILED"])
    next_attempt_at: AwareDatetime | None = Field(
        default=None,
        description="When it is retried; None when retries are exhausted.",
        examples=["2025-03-12T10:05:00Z"],
    )


class DeliveryTimedOut(Event):
    """Issue 18: no receipt came from the channel within its receipt timeout. The attempt counts as
    failed: ``NotificationDeliveryFailed`` (status FAILED) follows, then a retry or the fallback."""

    notification_id: UUID = Field(description="The notification.", examples=[NOTIFICATION_ID])
    delivery_id: UUID = Field(description="The delivery.", examples=[DELIVERY_ID])
    channel: Channel = Field(description="The channel that did not answer.", examples=["SMS"])
    attempt: int = Field(ge=1, description="The attempt that got no receipt.", examples=[1])
    dispatched_at: AwareDatetime | None = Field(
        default=None,
        description="When the attempt was dispatched (None for one dispatched before this was recorded).",
        examples=["2025-03-12T09:05:00Z"],
    )


class NotificationFellBack(Event):
    """Retries exhausted: sent on the next allowed channel instead (SMS → letter, email → letter)."""

    notification_id: UUID = Field(description="The notification.", examples=[NOTIFICATION_ID])
    from_delivery_id: UUID = Field(description="The failed delivery.", examples=[DELIVERY_ID])
    from_channel: Channel = Field(description="The failed channel.", examples=["SMS"])
    to_delivery_id: UUID = Field(
        description="The new delivery.", examples=["4c3b2a1d-0e9f-4b8a-9d7c-6f5e4d3c2b1a"]
    )
    to_channel: Channel = Field(description="The fallback channel.", examples=["LETTER"])


class NotificationDeliveryAbandoned(Event):
    """Retries and fallbacks exhausted — officers must act."""

    notification_id: UUID = Field(description="The notification.", examples=[NOTIFICATION_ID])
    last_delivery_id: UUID = Field(description="The last delivery tried.", examples=[DELIVERY_ID])
    last_channel: Channel = Field(description="The last channel tried.", examples=["LETTER"])


class MSPContactResultRecorded(Event):
    """Seed 002 step 4: the result of each contact is recorded on the MSP record."""

    msp_id: UUID = Field(description="The MSP.", examples=[MSP_ID])
    step: MSPContactStep = Field(description="Phone, SMS or letter.", examples=["PHONE"])
    delivery_id: UUID | None = Field(
        default=None, description="The delivery concerned.", examples=[DELIVERY_ID]
    )
    contacted: Recipient = Field(description="Customer or representative.", examples=["CUSTOMER"])
    phone_outcome: PhoneOutcome | None = Field(default=None, description="For PHONE.", examples=["REACHED"])
    delivery_status: DeliveryStatus | None = Field(
        default=None, description="For SMS/LETTER.", examples=["DELIVERED"]
    )
    suppression_reasons: tuple[SmsSuppressionReason, ...] = Field(
        default=(), max_length=8, description="For a suppressed SMS.", examples=[[]]
    )
    delivered_by_police: bool = Field(
        default=False, description="Seed 002 step 3: letter hand-delivered by local police.", examples=[False]
    )
    note: ShortText | None = Field(
        default=None, description="Result note.", examples=["Explained MSP; calm."]
    )


class MSPIncidentRaised(Event):
    """Seed 002 step 1: "If the customer displays aggression … Record a new incident and link it to the MSP"
    (published here; the contacts service records it).
    """

    incident_id: UUID = Field(
        description="New incident id.", examples=["2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d"]
    )
    msp_id: UUID = Field(description="The linked MSP.", examples=[MSP_ID])
    delivery_id: UUID | None = Field(
        default=None, description="The contact during which it happened.", examples=[DELIVERY_ID]
    )
    description: ShortText | None = Field(
        default=None, description="What happened.", examples=["Raised voice, threats"]
    )
    officer_id: Code | None = Field(
        default=None, description="Officer who witnessed it.", examples=["EMP30117"]
    )


class MSPSmsOptionOffered(Event):
    """Seed 002 step 1: "where phone contact is unsuccessful, consider sending an MSP SMS" — the
    MSP phone call was not reached or unproductive (or no phone number is recorded), so the MSP
    SMS (step 2) is an option for the officer to consider (issue 20 item 3; casework lists it).
    """

    msp_id: UUID = Field(description="The MSP.", examples=[MSP_ID])
    phone_outcome: PhoneOutcome = Field(description="NOT_REACHED or UNPRODUCTIVE.", examples=["NOT_REACHED"])
    delivery_id: UUID | None = Field(
        default=None, description="The phone task; none when no number is recorded.", examples=[DELIVERY_ID]
    )
    officer_id: Code | None = Field(
        default=None, description="Officer who made the call, or started the contact.", examples=["EMP30117"]
    )


class MSPPostalAddressRequired(Event):
    """Seed 002 step 3: "Customers must be advised of their MSP in writing" — no postal address is
    recorded, so the MSP letter waits for one (the phone call goes ahead); the officer is asked
    to obtain it (issue 20 item 3; casework lists it). The letter is sent once one is recorded.
    """

    msp_id: UUID = Field(description="The MSP whose letter waits.", examples=[MSP_ID])
    officer_id: Code | None = Field(
        default=None, description="Officer who started the contact.", examples=["EMP10442"]
    )


class NotificationsCommandRejected(Rejection):
    """A notifications command was refused."""

    # 2: reason_code gained UNAUTHENTICATED and ACTOR_MISMATCH (issue 16); a version 1 payload is
    # a valid version 2 one.
    SCHEMA_VERSION: ClassVar[int] = 2

    @classmethod
    def upgrade_payload(cls, from_version: int, payload: dict[str, Any]) -> dict[str, Any] | None:
        return payload if from_version == 1 else None

    reason_code: NotificationsReasonCode = Field(
        description="Why it was refused.", examples=["TEMPLATE_REQUIRED"]
    )
    notification_id: UUID | None = Field(
        default=None, description="The notification concerned.", examples=[NOTIFICATION_ID]
    )


EVENTS: tuple[type[Event], ...] = (
    MSPContactStarted,
    SmsRequested,
    SmsSuppressed,
    NotificationRequestParked,
    NotificationDispatched,
    NotificationDelivered,
    NotificationDeliveryFailed,
    DeliveryTimedOut,
    NotificationFellBack,
    NotificationDeliveryAbandoned,
    MSPContactResultRecorded,
    MSPIncidentRaised,
    MSPSmsOptionOffered,
    MSPPostalAddressRequired,
    NotificationsCommandRejected,
)
