"""Downstream channels: what notifications dispatches, and what the channels report back.

* Dispatches (``casemesh.notifications.dispatch.<channel>.v1``, written by notifications) are
  events named as nouns: one rendered, addressed item for one channel, with a ``delivery_id``.
  A retry reuses the ``delivery_id`` with a higher ``attempt``; a fallback gets a new one.
* Receipts and phone outcomes (``casemesh.notifications.receipts.v1``, written by the channels)
  are events. A duplicate or late receipt changes nothing (issue 5).

Seed 001 table 1 step 6: "customers must not be advised of, or involved in, discussions about
ownership" — nothing sent to a customer carries ownership or locking details; there is no field
for them here, and a unit test keeps it that way.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from contracts.base import (
    Code,
    EmailAddress,
    Event,
    EventPart,
    LongText,
    Name,
    PhoneNumber,
    ShortText,
)
from contracts.catalogue.customers import POSTAL_ADDRESS_EXAMPLE, PostalAddress

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
