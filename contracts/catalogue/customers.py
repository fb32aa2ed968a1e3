"""Upstream: the agency's customer system publishes these on ``casemesh.customers.events.v1``.

Casemesh never writes this topic. The customer is always the envelope's ``csid``; payloads do
not repeat it. Details messages are full snapshots (not patches): a ``None`` means "none
recorded", so a consumer replaces what it knew.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from contracts.base import CSID, Code, EmailAddress, Event, EventPart, Name, PhoneNumber, ShortText


class RiskFlag(StrEnum):
    """Risk flags on a customer record that change how Casemesh may contact them."""

    # Seed 002 step 2: "A MSP SMS should not be sent to customers talking about suicide or self-harm".
    SUICIDE_OR_SELF_HARM = "SUICIDE_OR_SELF_HARM"
    # Seed 002 step 2: family and domestic violence involving an immediate threat to safety — no MSP SMS.
    FDV_IMMEDIATE_THREAT = "FDV_IMMEDIATE_THREAT"
    # Seed 002 step 1: aggression or counterproductive behaviour (Customer aggression - Response).
    AGGRESSION = "AGGRESSION"


class RepresentativeKind(StrEnum):
    """Seed 002 step 1: who is contacted when it is not appropriate to phone the customer."""

    POWER_OF_ATTORNEY = "POWER_OF_ATTORNEY"
    NOMINEE = "NOMINEE"
    PERSON_PERMITTED_TO_ENQUIRE = "PERSON_PERMITTED_TO_ENQUIRE"
    AUTHORISED_REPRESENTATIVE = "AUTHORISED_REPRESENTATIVE"  # seed 001 table 1 step 1


class PostalAddress(EventPart):
    """A postal address as the customer system records it."""

    lines: tuple[ShortText, ...] = Field(
        min_length=1,
        max_length=4,
        description="Street lines, in order.",
        examples=[["Unit 4", "12 Example St"]],
    )
    locality: Name = Field(description="Suburb, town or city.", examples=["Glenorchy"])
    state: Code | None = Field(default=None, description="State or territory code.", examples=["TAS"])
    postcode: Code = Field(description="Postcode.", examples=["7010"])
    country: Code = Field(default="AU", description="ISO 3166-1 alpha-2 country code.", examples=["AU"])


POSTAL_ADDRESS_EXAMPLE = {
    "lines": ["Unit 4", "12 Example St"],
    "locality": "Glenorchy",
    "state": "TAS",
    "postcode": "7010",
    "country": "AU",
}


class Representative(EventPart):
    """A Power of Attorney, nominee, person permitted to enquire or authorised representative."""

    kind: RepresentativeKind = Field(description="What authority the person holds.", examples=["NOMINEE"])
    name: Name = Field(description="The representative's name as recorded.", examples=["Alex Citizen"])
    phone_number: PhoneNumber | None = Field(
        default=None, description="Phone number for contact.", examples=["0361234567"]
    )
    email: EmailAddress | None = Field(
        default=None, description="E-mail address.", examples=["alex@example.org"]
    )
    postal_address: PostalAddress | None = Field(
        default=None, description="Postal address for letters.", examples=[POSTAL_ADDRESS_EXAMPLE]
    )


class CustomerRegistered(Event):
    """A customer exists in the customer system (sent once, and again when these facts change)."""

    given_name: Name = Field(
        description="Customer's given name, used to address letters.", examples=["Jordan"]
    )
    family_name: Name = Field(
        description="Customer's family name, used to address letters.", examples=["Lee"]
    )
    is_international: bool = Field(
        description="True when the case is managed with the international system (seed 000 table 4 step 1).",
        examples=[False],
    )
    is_centrelink_customer: bool = Field(
        description="True for Centrelink customers — the only ones an MSP SMS may go to (seed 002 step 2).",
        examples=[True],
    )
    site: Name = Field(description="The site that manages the customer.", examples=["Hobart"])
    team: Name = Field(description="The team that manages the customer.", examples=["Mainstream 12"])
    other_parent_csid: CSID | None = Field(
        default=None,
        description="CSID of the other parent on the case, when known (for locking both parents, seed 001).",
        examples=["987654321"],
    )


class CustomerContactDetailsChanged(Event):
    """The customer's contact details as now recorded (full snapshot)."""

    mobile_number: PhoneNumber | None = Field(
        default=None,
        description="Mobile number on file; the SMS guard indexes which records share it (seed 002 step 2).",
        examples=["0412345678"],
    )
    phone_number: PhoneNumber | None = Field(
        default=None, description="Landline or preferred phone number.", examples=["0361234567"]
    )
    email: EmailAddress | None = Field(
        default=None, description="E-mail address.", examples=["jordan@example.org"]
    )
    postal_address: PostalAddress | None = Field(
        default=None, description="Postal address for letters.", examples=[POSTAL_ADDRESS_EXAMPLE]
    )
    representatives: tuple[Representative, ...] = Field(
        default=(),
        max_length=10,
        description="POA, nominees, persons permitted to enquire and authorised representatives.",
        examples=[[{"kind": "NOMINEE", "name": "Alex Citizen", "phone_number": "0361234567"}]],
    )


class RiskFlagRaised(Event):
    """A risk flag was put on the customer's record."""

    flag: RiskFlag = Field(description="The flag raised.", examples=["SUICIDE_OR_SELF_HARM"])
    flag_id: Code | None = Field(
        default=None, description="The customer system's id of the flag.", examples=["RF-88121"]
    )


class RiskFlagCleared(Event):
    """A risk flag was removed from the customer's record."""

    flag: RiskFlag = Field(description="The flag cleared.", examples=["SUICIDE_OR_SELF_HARM"])
    flag_id: Code | None = Field(
        default=None, description="The customer system's id of the flag.", examples=["RF-88121"]
    )


EVENTS: tuple[type[Event], ...] = (
    CustomerRegistered,
    CustomerContactDetailsChanged,
    RiskFlagRaised,
    RiskFlagCleared,
)
