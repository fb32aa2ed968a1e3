"""Downstream channels: what notifications dispatches, and what the channels report back.

* Dispatches (``casemesh.notifications.dispatch.<channel>.v1``, written by notifications) are
  events named as nouns: one rendered, addressed item for one channel, with a ``delivery_id``.
  A retry reuses the ``delivery_id`` with a higher ``attempt``; a fallback gets a new one.
* Receipts and phone outcomes (``casemesh.notifications.receipts.v1``, written by the channels)
  are events. A duplicate or late receipt changes nothing (issue 5). A receipt is a record the
  broker lets only the ``channels`` principal write; it has no ``actor`` and needs no identity
  token (issue 16 applies to commands).
* Channel errors (``casemesh.notifications.channel-errors.v1``, written by notifications, read by
  the channels): a receipt notifications could not read is dead-lettered and answered there with a
  :class:`ReceiptDeadLettered` — the coordinates, ids and reason, never a value (issue 18). Like
  ``casemesh.rejections.v1`` the value is bare (not enveloped) and the key is the producer the
  receipt's envelope named, so a channel reads its own key.

Seed 001 table 1 step 6: "customers must not be advised of, or involved in, discussions about
ownership" — nothing sent to a customer carries ownership or locking details; there is no field
for them here, and a unit test keeps it that way.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, Field

from contracts.base import (
    Code,
    EmailAddress,
    Event,
    EventPart,
    LongText,
    MessageTypeName,
    Name,
    PhoneNumber,
    ShortText,
)
from contracts.catalogue.customers import POSTAL_ADDRESS_EXAMPLE, PostalAddress
from contracts.catalogue.rejections import TopicName

DELIVERY_ID = "3b2a1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d"
MSP_ID = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"


class Channel(StrEnum):
    SMS = "SMS"
    EMAIL = "EMAIL"
    LETTER = "LETTER"
    PHONE = "PHONE"


class Purpose(StrEnum):
    """Why something is sent — lets the contacts log and the MSP record file it."""

    MSP_PHONE_CALL = "MSP_PHONE_CALL"  # seed 002 step 1
    MSP_SMS = "MSP_SMS"  # seed 002 step 2
    MSP_LETTER = "MSP_LETTER"  # seed 002 step 3
    COMPLAINT_RESPONSE = "COMPLAINT_RESPONSE"  # issue 6: Level 2 written response
    MEETING_MINUTES = "MEETING_MINUTES"  # issue 7: minutes issued by email
    GENERAL = "GENERAL"


class Recipient(StrEnum):
    """Who a customer-facing item is addressed to."""

    CUSTOMER = "CUSTOMER"
    # Seed 002 step 1: "contact the customer's Power of Attorney, nominee or person permitted to
    # enquire where a decision is made not to contact the customer directly".
    POWER_OF_ATTORNEY = "POWER_OF_ATTORNEY"
    NOMINEE = "NOMINEE"
    PERSON_PERMITTED_TO_ENQUIRE = "PERSON_PERMITTED_TO_ENQUIRE"
    AUTHORISED_REPRESENTATIVE = "AUTHORISED_REPRESENTATIVE"
    OTHER = "OTHER"  # e.g. a meeting attendee who is not the customer


class LetterDelivery(StrEnum):
    """Seed 002 step 3: staff never hand-deliver; in serious cases local police may (noted in the MSP)."""

    POST = "POST"
    POLICE_HAND_DELIVERY = "POLICE_HAND_DELIVERY"


class DeliveryStatus(StrEnum):
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    BOUNCED = "BOUNCED"


class PhoneOutcome(StrEnum):
    """Seed 002 step 1 / issue 5: the result of an MSP phone call."""

    REACHED = "REACHED"
    UNPRODUCTIVE = "UNPRODUCTIVE"
    NOT_REACHED = "NOT_REACHED"
    # "There are limited circumstances where it is not appropriate to phone a customer" — the
    # contact then goes to the POA, nominee or person permitted to enquire, where one is recorded.
    NOT_APPROPRIATE_TO_PHONE = "NOT_APPROPRIATE_TO_PHONE"


class AttachmentLink(EventPart):
    """A reference to a stored attachment — bytes never travel on Kafka (issue 7)."""

    attachment_id: UUID = Field(description="The attachment in the contacts service.", examples=[DELIVERY_ID])
    filename: Name = Field(description="File name to show.", examples=["minutes-2025-03-12.pdf"])
    media_type: Code = Field(description="Detected media type.", examples=["application/pdf"])
    size_bytes: int = Field(ge=0, description="Size in bytes.", examples=[48213])


class _Dispatch(Event):
    delivery_id: UUID = Field(description="Id of this delivery; receipts quote it.", examples=[DELIVERY_ID])
    attempt: int = Field(
        ge=1, description="1 for the first try; retries reuse delivery_id with +1.", examples=[1]
    )
    purpose: Purpose = Field(description="Why it is sent.", examples=["MSP_LETTER"])
    recipient: Recipient = Field(description="Who it is addressed to.", examples=["CUSTOMER"])
    template_id: Code | None = Field(
        default=None, description="Template used; None for a free-form message.", examples=["msp-letter"]
    )
    template_version: int | None = Field(
        default=None, ge=1, description="Template version used, so a reprint is identical.", examples=[2]
    )


class SmsDispatch(_Dispatch):
    """An SMS to send, already rendered — it passed the send-time contact guard (issue 5)."""

    to_mobile: PhoneNumber = Field(description="Destination mobile number.", examples=["0412345678"])
    body: ShortText = Field(
        description="Rendered text. Seed 002 step 2: an SMS complements, never replaces, the letter.",
        examples=["We have sent you a letter about how you can contact us. Your contact: 1300 000 000."],
    )


class EmailDispatch(_Dispatch):
    """An e-mail to send, already rendered."""

    to_email: EmailAddress = Field(description="Destination address.", examples=["jordan@example.org"])
    to_name: Name | None = Field(default=None, description="Display name.", examples=["Jordan"])
    subject: ShortText = Field(description="Subject line.", examples=["Minutes of your meeting on 12 March"])
    body_text: LongText = Field(description="Rendered plain-text body.", examples=["Dear Jordan, …"])
    attachments: tuple[AttachmentLink, ...] = Field(
        default=(),
        max_length=20,
        description="Attachments to fetch from the contacts service by id.",
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


class LetterDispatch(_Dispatch):
    """A letter to print and deliver, already rendered."""

    addressee: Name = Field(description="Name on the envelope.", examples=["Jordan Lee"])
    postal_address: PostalAddress = Field(description="Where to.", examples=[POSTAL_ADDRESS_EXAMPLE])
    body: LongText = Field(description="Rendered letter body.", examples=["Dear Jordan, …"])
    enclosures: tuple[Code, ...] = Field(
        default=(),
        max_length=10,
        description="Enclosures; seed 002 step 3: the MSP letter includes the OMC/PSSO contact card.",
        examples=[["OMC_CONTACT_CARD"]],
    )
    delivery: LetterDelivery = Field(
        default=LetterDelivery.POST, description="Post, or local police in serious cases.", examples=["POST"]
    )


class PhoneTaskDispatch(_Dispatch):
    """A call for an officer to make; the outcome comes back as PhoneTaskOutcomeReported."""

    phone_number: PhoneNumber = Field(description="Number to call.", examples=["0361234567"])
    contact_name: Name = Field(description="Who to ask for.", examples=["Jordan"])
    talking_points: LongText = Field(
        description=(
            "Rendered script. Seed 002 step 1: explain the reasons for the MSP and the behaviours "
            "considered, its duration and how to access services, give contact details, and advise "
            "a letter will follow."
        ),
        examples=["Explain the MSP reasons and duration; give OMC number; advise letter will follow."],
    )
    msp_id: UUID | None = Field(default=None, description="The MSP, for MSP calls.", examples=[MSP_ID])


class DeliveryReceipted(Event):
    """A channel's receipt for a dispatched item (issue 5)."""

    delivery_id: UUID = Field(description="The dispatch's delivery_id.", examples=[DELIVERY_ID])
    attempt: int = Field(ge=1, description="The attempt this receipt is for.", examples=[1])
    channel: Channel = Field(description="The reporting channel.", examples=["SMS"])
    status: DeliveryStatus = Field(description="Delivered, failed or bounced.", examples=["DELIVERED"])
    detail: ShortText | None = Field(
        default=None,
        description="Channel's explanation, free of personal data.",
        examples=["Handset unreachable"],
    )
    provider_reference: Code | None = Field(
        default=None, description="Provider's message id.", examples=["SMSGW-77812"]
    )


class PhoneTaskOutcomeReported(Event):
    """The outcome of a phone task (seed 002 step 1)."""

    delivery_id: UUID = Field(description="The PhoneTaskDispatch's delivery_id.", examples=[DELIVERY_ID])
    attempt: int = Field(ge=1, description="The attempt this outcome is for.", examples=[1])
    outcome: PhoneOutcome = Field(
        description="Reached, unproductive, not reached, not appropriate.", examples=["REACHED"]
    )
    spoke_with: Recipient | None = Field(default=None, description="Who was reached.", examples=["CUSTOMER"])
    aggression_displayed: bool = Field(
        default=False,
        description="Seed 002 step 1: the customer displayed aggression — a linked incident is raised.",
        examples=[False],
    )
    notes: LongText | None = Field(
        default=None, description="Call notes.", examples=["Explained MSP; customer calm."]
    )
    officer_id: Code | None = Field(
        default=None, description="The officer who called.", examples=["EMP30117"]
    )


DISPATCHES: dict[Channel, type[Event]] = {
    Channel.SMS: SmsDispatch,
    Channel.EMAIL: EmailDispatch,
    Channel.LETTER: LetterDispatch,
    Channel.PHONE: PhoneTaskDispatch,
}

RECEIPTS: tuple[type[Event], ...] = (DeliveryReceipted, PhoneTaskOutcomeReported)


class FieldProblem(EventPart):
    """One thing wrong with a record: where, and what kind of error — never the value."""

    field: ShortText = Field(
        description=(
            "Dotted location: envelope fields by name, payload fields under 'payload.'; a name that "
            "is not one of the catalogue's shows as '?'."
        ),
        examples=["payload.status"],
    )
    error: Code = Field(description="The validation error's kind.", examples=["enum"])


class ReceiptDeadLettered(Event):
    """Notifications could not read a channel's receipt and dead-lettered it (issue 18): the
    channel is told here what could be read of it and why, so it can fix and send it again.
    Nothing of the payload's values is repeated."""

    original_topic: TopicName = Field(
        description="The topic the receipt was read from.", examples=["casemesh.notifications.receipts.v1"]
    )
    original_partition: int = Field(ge=0, description="Its partition.", examples=[2])
    original_offset: int = Field(ge=0, description="Its offset in that partition.", examples=[1042])
    message_id: UUID | None = Field(
        default=None,
        description="The receipt envelope's message_id; None when it could not be read.",
        examples=["0b6f1c0e-4a51-4d8e-9a43-64f0a0b4a3b1"],
    )
    message_type: MessageTypeName | None = Field(
        default=None,
        description="The envelope's message_type, when it is one of the catalogue's.",
        examples=["DeliveryReceipted"],
    )
    producer: Name | None = Field(
        default=None,
        description="The envelope's producer (also the record key); None when it could not be read.",
        examples=["channel-sms"],
    )
    delivery_id: UUID | None = Field(
        default=None,
        description="The payload's delivery_id, when it could be read.",
        examples=[DELIVERY_ID],
    )
    attempt: int | None = Field(
        default=None, ge=1, description="The payload's attempt, when it could be read.", examples=[1]
    )
    channel: Channel | None = Field(
        default=None,
        description="The reporting channel, when it could be read (PHONE for a phone outcome).",
        examples=["SMS"],
    )
    reason_code: Code = Field(
        description=(
            "Why, as on the dead letter: malformed_envelope, unknown_message_type, "
            "unsupported_schema_version, schema_violation, key_mismatch, … (read it as a string)."
        ),
        examples=["schema_violation"],
    )
    reason: ShortText = Field(
        description="The kit's value-free explanation: field locations and error kinds only.",
        examples=["DeliveryReceipted payload violates its schema: status: enum"],
    )
    problems: tuple[FieldProblem, ...] = Field(
        default=(),
        max_length=20,
        description="The fields at fault, where the receipt could be parsed.",
        examples=[[{"field": "payload.status", "error": "enum"}]],
    )
    dead_lettered_at: AwareDatetime = Field(
        description="When notifications dead-lettered it.", examples=["2025-03-12T09:30:01Z"]
    )


#: What notifications answers on ``casemesh.notifications.channel-errors.v1``.
CHANNEL_ERRORS: tuple[type[Event], ...] = (ReceiptDeadLettered,)
