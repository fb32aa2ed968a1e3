"""referrals service: Personalised Services (seed 000), ownership and locking (seed 001 tables 1
and 3), and the Customer Management Approach intake (seed 001 tables 1-3, issue 9).

The CMA intake lives here because the referrals service owns a customer's issues and their
ownership/locking: a specialised issue identified at intake is exactly what drives locking, and
"unlock only when no specialised issue remains outstanding" needs both in one aggregate.

Every message concerns the customer named by the envelope's ``csid``. Creating commands carry
the new entity's id (chosen by the sender) so later commands can refer to it at once.
Approvals: referrals sends :class:`~contracts.catalogue.approvals.RequestApproval` (subject id and
chain id = the referral id) and reacts to the approvals service's decision events.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from contracts.base import (
    ACTOR_EXAMPLE,
    COMMAND_CONFIG,
    CSID,
    STAFF_EXAMPLE,
    Actor,
    Code,
    Command,
    Event,
    EventPart,
    LongText,
    Name,
    Rejection,
    Role,
    ShortText,
    StaffReference,
)
from contracts.rules import absent, present, published, when

REFERRAL_ID = "c1a7d3f0-5b8e-4c62-9f0e-7d2b6a9e1c44"
REQUEST_ID = "5f0c7a52-93c4-4d0a-8a8e-2a4c1d7e9b10"
DOCUMENT_ID = "7e3b1f9a-2c4d-4e5f-8a6b-9c0d1e2f3a4b"
ISSUE_ID = "a3c9e2d1-7b6f-4a58-9e0d-1c2b3a4f5e6d"
CONTACT_ID = "d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70"
INTRAY_ID = "e5f6a7b8-c9d0-4e1f-8a2b-3c4d5e6f7a81"

#: The area code of Personalised Services. Seed 001 table 1 step 7: "where a customer is
#: managed by PS, PS will always co-ordinate" — it heads the (configurable) ownership priority list.
PERSONALISED_SERVICES_AREA = "PERSONALISED_SERVICES"


class ReferralsReasonCode(StrEnum):
    """Why the referrals service refused a command."""

    # Issue 16: the command's actor is not a verified identity (kit/identity.py): no valid token
    # from the identity provider in the x-casemesh-identity header, or one naming someone else.
    UNAUTHENTICATED = "UNAUTHENTICATED"
    ACTOR_MISMATCH = "ACTOR_MISMATCH"
    # Seed 000 table 1 (assignment) — issue 4's named refusals
    UNKNOWN_CUSTOMER = "UNKNOWN_CUSTOMER"  # no CustomerRegistered seen for the CSID
    ALREADY_IN_PS = "ALREADY_IN_PS"
    OFFICER_NOT_IN_TEAM = "OFFICER_NOT_IN_TEAM"  # the named PS Service Officer is not in the team
    ASSOCIATE_NOT_IN_PS = (
        "ASSOCIATE_NOT_IN_PS"  # seed 000 table 1 step 3: associate of an *existing* PS customer
    )
    NO_OFFICER_AVAILABLE = "NO_OFFICER_AVAILABLE"  # no officer to auto-assign in the team
    NOT_IN_PS = "NOT_IN_PS"
    # Seed 000 table 2: the CMP is recorded only after assignment, only by the assigned officer's team
    NOT_ASSIGNED = "NOT_ASSIGNED"
    NOT_ASSIGNED_TEAM = "NOT_ASSIGNED_TEAM"
    ROLE_NOT_PERMITTED = "ROLE_NOT_PERMITTED"  # e.g. only a Service Manager assigns (seed 000 table 1)
    INVALID_STATE = (
        "INVALID_STATE"  # the step does not fit where the referral is (e.g. transfer before CMP accepted)
    )
    UNKNOWN_REFERRAL = "UNKNOWN_REFERRAL"  # referral_id is not the customer's current PS referral
    # Seed 000 table 2 step 2: "Record internal referral type" — the CMP's is the referral's own
    REFERRAL_TYPE_MISMATCH = "REFERRAL_TYPE_MISMATCH"
    # Seed 000 table 4 step 1: an international customer's stacking document originates in the
    # international system's notes; a domestic one in Casemesh.
    ORIGIN_MISMATCH = "ORIGIN_MISMATCH"
    UNKNOWN_DOCUMENT = "UNKNOWN_DOCUMENT"
    # Seed 001 tables 1 and 3: locking, ownership, unlocking
    ALREADY_LOCKED = "ALREADY_LOCKED"
    NOT_LOCKED = "NOT_LOCKED"
    # Only the owning area may agree a transfer of ownership; only the officer or area a customer
    # is locked to (or the Team Leader in a recorded escalation) finalises or unlocks (issue 20)
    NOT_OWNER = "NOT_OWNER"
    NO_DISPUTE = "NO_DISPUTE"
    SPECIALISED_ISSUES_OUTSTANDING = "SPECIALISED_ISSUES_OUTSTANDING"  # seed 001 table 3 step 3
    # Issue 9 (CMA intake)
    UNKNOWN_CONTACT = "UNKNOWN_CONTACT"
    CONTACT_FINALISED = "CONTACT_FINALISED"
    UNKNOWN_ISSUE = "UNKNOWN_ISSUE"
    UNKNOWN_ISSUE_CODE = "UNKNOWN_ISSUE_CODE"  # not in the configurable presenting-issue catalogue
    UNKNOWN_AREA = "UNKNOWN_AREA"
    ISSUE_ALREADY_FINALISED = "ISSUE_ALREADY_FINALISED"
    UNKNOWN_INTRAY_ITEM = "UNKNOWN_INTRAY_ITEM"
    # Seed 001 table 1 step 1: "Delete intray after all issues raised have been addressed"
    INTRAY_ISSUES_OUTSTANDING = "INTRAY_ISSUES_OUTSTANDING"
    INTRAY_ITEM_CLOSED = "INTRAY_ITEM_CLOSED"
    # Seed 001 table 2 step 6: a negotiated payment arrangement (issue 9's field rules)
    INVALID_AMOUNT = "INVALID_AMOUNT"
    UNKNOWN_FREQUENCY = "UNKNOWN_FREQUENCY"
    START_DATE_IN_PAST = "START_DATE_IN_PAST"
    # Seed 001 table 2 step 2: unreliable income needs the commitment to lodge a tax return recorded
    TAX_RETURN_COMMITMENT_REQUIRED = "TAX_RETURN_COMMITMENT_REQUIRED"
    MCA_OUTCOME_REQUIRED = "MCA_OUTCOME_REQUIRED"  # issue 9: interaction cannot be finalised without it
    OPTIONS_NOT_EXPLAINED = "OPTIONS_NOT_EXPLAINED"  # seed 001 table 3 step 1
    # Seed 001 table 2 step 1: MCA is COMPLETED only once income and payments/debts were checked
    MCA_CHECKS_INCOMPLETE = "MCA_CHECKS_INCOMPLETE"
    # Seed 001 table 1 step 1: correspondence is closed only once the issues it raised are identified
    NO_ISSUES_IDENTIFIED = "NO_ISSUES_IDENTIFIED"
    FEEDBACK_NEEDS_OFFICER = "FEEDBACK_NEEDS_OFFICER"  # seed 001 table 1 step 3: feedback goes to an officer
    # Seed 001 table 1 step 2: an option of the (configurable) Customer Support/Referral Guide
    UNKNOWN_REFERRAL_TYPE = "UNKNOWN_REFERRAL_TYPE"


# --------------------------------------------------------------------------------------------
# Personalised Services — seed 000
# --------------------------------------------------------------------------------------------


class PSReferralType(StrEnum):
    """Seed 000 table 1 step 3: the PS internal referral type."""

    OTHER = "OTHER"  # "Other - for all personalised services referrals"
    ASSOCIATE = "ASSOCIATE"  # "Associate - for associates of an existing personalised services customer"


class StackingDocumentOrigin(StrEnum):
    """Seed 000 table 4 step 1: where a PS stacking document was created."""

    CASEMESH = "CASEMESH"
    # "For international customers this process is required to be completed in [the international
    # system] under the Notes section … this will copy across."
    INTERNATIONAL_NOTES = "INTERNATIONAL_NOTES"


class CoreIssue(EventPart):
    """Seed 000 table 2 steps 1-2: the CMP's core issue ("Record the Core Issue, and Trigger")."""

    description: ShortText | None = Field(
        default=None,
        description=(
            "The core issue itself, a field of the CMP in its own right (seed 000 table 2 step 1: "
            '"Record the Core Issue"). Optional on the wire for producers older than 3.0.0.'
        ),
        examples=["Customer disputes every assessment and escalates across areas"],
    )
    internal_referral_type: PSReferralType = Field(
        description="The PS internal referral type.", examples=["OTHER"]
    )
    stacking_document_date: dt.date | None = Field(
        default=None,
        description=(
            "Date of the PS stacking document, when one exists (often created after the CMP): "
            "it must be the creation date (agency calendar) of a stacking document of the referral."
        ),
        examples=["2025-03-03"],
    )


class TriggerDetails(EventPart):
    """Seed 000 table 2 step 3: the CMP's trigger details."""

    segment: Code = Field(description="The customer segment.", examples=["HIGH_CONFLICT"])
    issue: ShortText = Field(
        description="The issue — the reason for the PS referral.",
        examples=["Repeated escalations across areas"],
    )


class CoreIssueInput(CoreIssue):
    """:class:`CoreIssue` as a command accepts it (strict, closed)."""

    model_config = COMMAND_CONFIG


class TriggerDetailsInput(TriggerDetails):
    """:class:`TriggerDetails` as a command accepts it (strict, closed)."""

    model_config = COMMAND_CONFIG


CORE_ISSUE_EXAMPLE = {
    "description": "Customer disputes every assessment and escalates across areas",
    "internal_referral_type": "OTHER",
    "stacking_document_date": None,
}
TRIGGER_EXAMPLE = {"segment": "HIGH_CONFLICT", "issue": "Repeated escalations across areas"}


class AssignCustomerToPS(Command):
    """Seed 000 table 1: internal referral and assignment to a PS Service Officer.

    Sent by a Service Manager. When ``officer_id`` is None, the service assigns the officer of
    ``team`` with the fewest open PS customers (ties broken by officer id) — issue 4.
    """

    EXAMPLE: ClassVar[dict[str, Any]] = {
        "actor": {**ACTOR_EXAMPLE, "officer_id": "EMP40001", "role": "SERVICE_MANAGER", "first_name": "Ana"},
        "referral_type": "OTHER",
        "associate_of_csid": None,
    }

    model_config = ConfigDict(
        json_schema_extra=published(
            when(
                ("referral_type", "ASSOCIATE"),
                then=present("associate_of_csid"),
                otherwise=absent("associate_of_csid"),
                rule_id="associate-names-its-customer",
                description=(
                    "associate_of_csid is given for an ASSOCIATE referral and only for it "
                    "(seed 000 table 1 step 3)."
                ),
            )
        )
    )

    referral_id: UUID = Field(description="New id for this PS referral.", examples=[REFERRAL_ID])
    referral_type: PSReferralType = Field(description="Seed 000 table 1 step 3.", examples=["ASSOCIATE"])
    associate_of_csid: CSID | None = Field(
        default=None,
        description="For ASSOCIATE referrals (and only then): the existing PS customer, who must be in PS.",
        examples=["987654321"],
    )
    team: Name = Field(description="The PS team taking the customer.", examples=["PS Team 3"])
    officer_id: Code | None = Field(
        default=None,
        description="The PS Service Officer named by the Service Manager; None = auto-assign.",
        examples=["EMP30117"],
    )

    @model_validator(mode="after")
    def _associate_needs_its_customer(self) -> AssignCustomerToPS:
        # Seed 000 table 1 step 3: an associate referral names an existing PS customer.
        if (self.referral_type is PSReferralType.ASSOCIATE) != (self.associate_of_csid is not None):
            raise ValueError("associate_of_csid is required for ASSOCIATE referrals and only for them")
        return self


class RecordCMP(Command):
    """Seed 000 table 2: record (or, after a rejection, re-record) the Customer Management Plan."""

    referral_id: UUID = Field(description="The customer's current PS referral.", examples=[REFERRAL_ID])
    core_issue: CoreIssueInput = Field(
        description="Seed 000 table 2 steps 1-2.", examples=[CORE_ISSUE_EXAMPLE]
    )
    trigger: TriggerDetailsInput = Field(description="Seed 000 table 2 step 3.", examples=[TRIGGER_EXAMPLE])


class MarkCMPForApproval(Command):
    """Seed 000 table 3 step 1: the CSO ticks *CMP Approval*; referrals then asks approvals."""

    referral_id: UUID = Field(description="The customer's current PS referral.", examples=[REFERRAL_ID])
    note: ShortText | None = Field(
        default=None, description="Note for the Service Manager.", examples=["Ready"]
    )


class CreatePSStackingDocument(Command):
    """Seed 000 table 4 step 1: create the PS stacking document (a communication record)."""

    EXAMPLE: ClassVar[dict[str, Any]] = {
        "origin": "CASEMESH",
        "origin_record_id": None,
    }  # a domestic customer

    model_config = ConfigDict(
        json_schema_extra=published(
            when(
                ("origin", "INTERNATIONAL_NOTES"),
                then=present("origin_record_id"),
                otherwise=absent("origin_record_id"),
                rule_id="international-origin-names-its-record",
                description="origin_record_id is given for INTERNATIONAL_NOTES and only for it.",
            )
        )
    )

    referral_id: UUID = Field(description="The customer's current PS referral.", examples=[REFERRAL_ID])
    document_id: UUID = Field(description="New id for the document.", examples=[DOCUMENT_ID])
    origin: StackingDocumentOrigin = Field(
        description="Where it was created: an international customer's comes from the international notes.",
        examples=["INTERNATIONAL_NOTES"],
    )
    origin_record_id: Code | None = Field(
        default=None,
        description="Id of the note in the international system (required for INTERNATIONAL_NOTES).",
        examples=["PLT-0042-77"],
    )
    notes: LongText | None = Field(
        default=None,
        description="Initial notes (seed 000 table 4 step 2).",
        examples=["Customer agreed to PS."],
    )

    @model_validator(mode="after")
    def _international_origin_needs_its_record(self) -> CreatePSStackingDocument:
        if (self.origin is StackingDocumentOrigin.INTERNATIONAL_NOTES) != (self.origin_record_id is not None):
            raise ValueError("origin_record_id is required for INTERNATIONAL_NOTES and only for it")
        return self


class AddPSStackingDocumentNote(Command):
    """Seed 000 table 4 step 2: add notes to the stacking document."""

    document_id: UUID = Field(description="The stacking document.", examples=[DOCUMENT_ID])
    text: LongText = Field(description="The note.", examples=["Called customer, discussed plan."])


class ReferCustomerForTransferOutOfPS(Command):
    """Seed 000 table 5 step 1: the CSO refers the customer for transfer out of PS.

    Referrals then asks approvals for MONITORING (Service Manager, table 5 step 2).
    """

    referral_id: UUID = Field(description="The customer's current PS referral.", examples=[REFERRAL_ID])
    reason: ShortText = Field(description="Why the customer can leave PS.", examples=["Issues resolved"])


class ActionTransferOutOfPS(Command):
    """Seed 000 table 5 step 3: the CSO actions the transfer (after monitoring was accepted).

    Referrals then asks approvals for TRANSFER (Service Manager, table 6).
    """

    referral_id: UUID = Field(description="The customer's current PS referral.", examples=[REFERRAL_ID])
    note: ShortText | None = Field(
        default=None, description="Note for the Service Manager.", examples=["Stable"]
    )


class ExpireTransferMonitoring(Command):
    """Durable-timer command (actor ``Actor.system``): the monitoring period ended.

    Seed 000 table 5 step 2 / issue 4: if the monitoring period (≤ 90 days) passes without the
    transfer being actioned, see :class:`TransferMonitoringExpired` for the outcome.
    """

    referral_id: UUID = Field(description="The referral being monitored.", examples=[REFERRAL_ID])
    monitoring_ends_at: AwareDatetime = Field(
        description="The end of monitoring the timer was set for (lets a stale timer be told apart).",
        examples=["2025-06-01T00:00:00+10:00"],
    )


# --------------------------------------------------------------------------------------------
# Ownership and locking — seed 001 tables 1 and 3
# --------------------------------------------------------------------------------------------


class LockTargetKind(StrEnum):
    OFFICER = "OFFICER"
    SPECIALIST_AREA = "SPECIALIST_AREA"


class OwnershipBasis(StrEnum):
    """Why an area owns the customer (seed 001 table 1 steps 5-6)."""

    PRIORITY_AREA = "PRIORITY_AREA"  # highest area on the configurable priority list (PS first)
    FIRST_SPECIALISED_ISSUE = (
        "FIRST_SPECIALISED_ISSUE"  # "locked to the area where the first specialised issue was received"
    )
    AGREEMENT = "AGREEMENT"  # "transferred by agreement"
    TEAM_LEADER_DECISION = (
        "TEAM_LEADER_DECISION"  # "If agreement … cannot be reached, escalate … to the Team Leader"
    )


class LockTarget(EventPart):
    """To whom a customer is locked."""

    model_config = ConfigDict(
        json_schema_extra=published(
            when(
                ("kind", "OFFICER"),
                then=present("officer_id") | absent("area"),
                rule_id="officer-lock-names-an-officer",
                description="An OFFICER lock names officer_id and no area.",
            ),
            when(
                ("kind", "SPECIALIST_AREA"),
                then=present("area") | absent("officer_id"),
                rule_id="area-lock-names-an-area",
                description="A SPECIALIST_AREA lock names area and no officer_id.",
            ),
        )
    )

    kind: LockTargetKind = Field(description="An officer or a specialist area.", examples=["OFFICER"])
    officer_id: Code | None = Field(default=None, description="When kind is OFFICER.", examples=["EMP30117"])
    area: Code | None = Field(
        default=None,
        description="When kind is SPECIALIST_AREA: the area code.",
        examples=["CHANGE_OF_ASSESSMENT"],
    )

    @model_validator(mode="after")
    def _one_target(self) -> LockTarget:
        if self.kind is LockTargetKind.OFFICER and (self.officer_id is None or self.area is not None):
            raise ValueError("an OFFICER lock names officer_id only")
        if self.kind is LockTargetKind.SPECIALIST_AREA and (self.area is None or self.officer_id is not None):
            raise ValueError("a SPECIALIST_AREA lock names area only")
        return self


class LockTargetInput(LockTarget):
    """:class:`LockTarget` as a command accepts it (strict, closed)."""

    model_config = COMMAND_CONFIG


LOCK_TARGET_EXAMPLE = {"kind": "OFFICER", "officer_id": "EMP30117"}


class LockCustomer(Command):
    """Seed 001 table 2 step 8: lock the customer when an issue can't be resolved in real time.

    "If the issue requires interaction with both customers to make a decision, make sure both
    customers are locked to the same Service Officer": give ``other_parent_csid``; the service
    then locks that customer too (a LockCustomer keyed by the other CSID, caused by this one, with
    ``first_parent_csid``); if that lock is refused, the first parent's lock is released.
    """

    EXAMPLE: ClassVar[dict[str, Any]] = {"first_parent_csid": None}

    issue_id: UUID = Field(description="The issue that needs the lock.", examples=[ISSUE_ID])
    lock_to: LockTargetInput = Field(
        description="Officer or specialist area.", examples=[LOCK_TARGET_EXAMPLE]
    )
    reason: ShortText = Field(
        description="Why it can't be resolved in real time.", examples=["Awaiting payer evidence"]
    )
    other_parent_csid: CSID | None = Field(
        default=None, description="Lock the other parent to the same target too.", examples=["987654321"]
    )
    first_parent_csid: CSID | None = Field(
        default=None,
        description=(
            "Set by the service on the lock it sends the other parent: the parent locked first, "
            "whose lock is released (ReleaseParentLock) when this one is refused."
        ),
        examples=["123456789"],
    )


class ReleaseParentLock(Command):
    """Seed 001 table 2 step 8 ("make sure both customers are locked to the same Service Officer"):
    the other parent's lock for the same issue was refused, so this parent's lock is released.

    Sent by the referrals service to itself (the compensation of a both-parents lock), keyed by
    the parent locked first; the actor is the officer who asked for the lock.
    """

    issue_id: UUID = Field(description="The issue both parents were to be locked for.", examples=[ISSUE_ID])
    other_parent_csid: CSID = Field(description="The parent whose lock was refused.", examples=["987654321"])
    reason: ShortText = Field(
        description="Why the lock goes: the other parent's refusal.",
        examples=["The other parent's lock was refused: ALREADY_LOCKED"],
    )


class TransferCustomerOwnership(Command):
    """Seed 001 table 1 step 6: ownership moves between specialist areas by agreement.

    Sent by an officer of the owning area (their ``actor.team`` belongs to it).
    """

    EXAMPLE: ClassVar[dict[str, Any]] = {
        "actor": {**ACTOR_EXAMPLE, "role": "SPECIALIST_OFFICER", "team": "COA Team 1"}
    }

    to_area: Code = Field(description="The area taking ownership.", examples=["OBJECTIONS"])
    agreed_with: StaffReference = Field(
        description="The officer of the other area who agreed (staff referencing, no surname).",
        examples=[STAFF_EXAMPLE],
    )
    reason: ShortText = Field(
        description="Why this gives a better outcome.", examples=["Objection drives the case"]
    )


class EscalateOwnershipDispute(Command):
    """Seed 001 table 1 step 6: the areas could not agree — escalate to the Team Leader."""

    areas: tuple[Code, ...] = Field(
        min_length=2,
        max_length=10,
        description="The areas in dispute.",
        examples=[["CHANGE_OF_ASSESSMENT", "OBJECTIONS"]],
    )
    summary: ShortText = Field(description="What is disputed.", examples=["Both areas claim ownership"])


class ResolveOwnershipDispute(Command):
    """A Team Leader decides which area owns the customer."""

    EXAMPLE: ClassVar[dict[str, Any]] = {
        "actor": {**ACTOR_EXAMPLE, "officer_id": "EMP40002", "role": "TEAM_LEADER", "first_name": "Lee"}
    }

    owner_area: Code = Field(description="The area that will own the customer.", examples=["OBJECTIONS"])
    reason: ShortText = Field(description="Why.", examples=["Objection due date is earliest"])


class UnlockCustomer(Command):
    """Seed 001 table 3 step 4: unlock — refused while a specialised issue is outstanding (step 3).

    Sent by the officer the customer is locked to, or by a Team Leader while an ownership dispute
    is escalated (issue 20: locks restrict).
    """

    EXAMPLE: ClassVar[dict[str, Any]] = {"actor": {**ACTOR_EXAMPLE, "officer_id": "EMP30117"}}

    reason: ShortText = Field(description="Why the lock can go.", examples=["All issues finalised"])


# --------------------------------------------------------------------------------------------
# Customer Management Approach intake — seed 001 tables 1-3, issue 9
# --------------------------------------------------------------------------------------------


class ContactChannel(StrEnum):
    """Seed 001 table 1 step 1: by phone, or as correspondence via fax, email or post."""

    PHONE = "PHONE"
    FAX = "FAX"
    EMAIL = "EMAIL"
    POST = "POST"


class ContactParty(StrEnum):
    CUSTOMER = "CUSTOMER"
    AUTHORISED_REPRESENTATIVE = "AUTHORISED_REPRESENTATIVE"


class IssueClass(StrEnum):
    """Seed 001 table 1 step 2: common issues are managed at the point of entry; specialised are referred."""

    COMMON = "COMMON"
    SPECIALISED = "SPECIALISED"


class PaymentsPosition(StrEnum):
    """Seed 001 table 2 step 3: whose payments/debts position is checked."""

    PAYER_WITH_DEBT = "PAYER_WITH_DEBT"
    PAYER_WITH_OVERPAYMENT = "PAYER_WITH_OVERPAYMENT"
    PAYEE_OWED = "PAYEE_OWED"
    NOT_APPLICABLE = "NOT_APPLICABLE"


class PaymentFrequency(StrEnum):
    """The frequencies the referrals service knows (others are refused with UNKNOWN_FREQUENCY)."""

    WEEKLY = "WEEKLY"
    FORTNIGHTLY = "FORTNIGHTLY"
    MONTHLY = "MONTHLY"


class DigitalService(StrEnum):
    """Seed 001 table 2 step 1: "MyGov, CS Online, Child Support Express Plus app and Infoserv"."""

    MYGOV = "MYGOV"
    CS_ONLINE = "CS_ONLINE"
    EXPRESS_PLUS_APP = "EXPRESS_PLUS_APP"
    INFOSERV = "INFOSERV"


class MCAStatus(StrEnum):
    COMPLETED = "COMPLETED"
    NOT_REQUIRED = "NOT_REQUIRED"  # the summary must say why


class DecisionOption(StrEnum):
    """Seed 001 table 3 step 1: options for a customer who disagrees with a decision."""

    REVIEW = "REVIEW"
    OBJECTION = "OBJECTION"
    OTHER = "OTHER"


class RecordCustomerContact(Command):
    """Seed 001 table 1 step 1: a contact arrives. Correspondence (fax, email, post) opens an intray item."""

    model_config = ConfigDict(
        json_schema_extra=published(
            when(
                ("channel", "PHONE"),
                then=absent("intray_item_id", "intray_category"),
                otherwise=present("intray_item_id"),
                rule_id="correspondence-opens-an-intray-item",
                description=(
                    "intray_item_id is given for correspondence (FAX, EMAIL, POST) and only for it; "
                    "intray_category only with an intray item (seed 001 table 1 step 1)."
                ),
            )
        )
    )

    contact_id: UUID = Field(description="New id for this contact (interaction).", examples=[CONTACT_ID])
    channel: ContactChannel = Field(description="Phone or correspondence channel.", examples=["POST"])
    party: ContactParty = Field(
        description="The customer or an authorised representative.", examples=["CUSTOMER"]
    )
    received_in_area: Code = Field(description="The business area where it landed.", examples=["MAINSTREAM"])
    misdirected: bool = Field(
        default=False,
        description="Delivered to the wrong business area (e.g. the customer did not enter their CSRN).",
        examples=[False],
    )
    intray_item_id: UUID | None = Field(
        default=None,
        description="New id for the intray item; required for correspondence (FAX, EMAIL, POST), else None.",
        examples=[INTRAY_ID],
    )
    summary: ShortText | None = Field(
        default=None, description="Why the customer made contact.", examples=["Income query"]
    )
    intray_category: Code | None = Field(
        default=None,
        description="For correspondence: the category the intray item arrived under (only for it).",
        examples=["COA"],
    )

    @model_validator(mode="after")
    def _correspondence_opens_an_intray_item(self) -> RecordCustomerContact:
        # Seed 001 table 1 step 1: written correspondence is worked from an intray item.
        if (self.channel is not ContactChannel.PHONE) != (self.intray_item_id is not None):
            raise ValueError("intray_item_id is required for correspondence and only for it")
        if self.intray_category is not None and self.intray_item_id is None:
            raise ValueError("intray_category is only for correspondence")
        return self


class WarmTransferContact(Command):
    """Seed 001 table 1 step 1: a misdirected contact warm-transferred to another area."""

    contact_id: UUID = Field(description="The contact.", examples=[CONTACT_ID])
    to_area: Code = Field(description="The receiving area.", examples=["NEW_CUSTOMERS"])
    reason: ShortText = Field(
        description="Why a warm transfer suits better.", examples=["Registration query"]
    )


class IdentifyPresentingIssue(Command):
    """Seed 001 table 1 step 2: an issue raised by the contact, classified from the catalogue."""

    contact_id: UUID = Field(description="The contact that raised it.", examples=[CONTACT_ID])
    issue_id: UUID = Field(description="New id for the issue.", examples=[ISSUE_ID])
    issue_code: Code = Field(
        description="Code in the presenting-issue catalogue.", examples=["CHANGE_OF_ASSESSMENT"]
    )
    note: ShortText | None = Field(default=None, description="Short description.", examples=["Wants a COA"])


class RecordExternalReferral(Command):
    """Seed 001 table 1 step 2: a non-child-support issue referred outside the agency."""

    contact_id: UUID = Field(description="The contact.", examples=[CONTACT_ID])
    referral_type: Code = Field(
        description="Option from the Customer Support/Referral Guide.", examples=["FINANCIAL_COUNSELLING"]
    )
    note: ShortText | None = Field(default=None, description="Details.", examples=["Given hotline number"])


class RecategoriseIntrayItem(Command):
    """Seed 001 table 1 step 1: re-categorising correspondence needs a reason and is audited."""

    intray_item_id: UUID = Field(description="The intray item.", examples=[INTRAY_ID])
    category: Code = Field(description="The new category.", examples=["OBJECTION"])
    reason: ShortText = Field(
        description="Why (required — seed: 'Do not re categorise … inappropriately').",
        examples=["Objection, not COA"],
    )


class CloseIntrayItem(Command):
    """Seed 001 table 1 step 1: close (delete) the intray item, once every issue it raised is addressed."""

    intray_item_id: UUID = Field(description="The intray item.", examples=[INTRAY_ID])


class RecordIdentifiedError(Command):
    """Seed 001 table 1 step 3: an earlier error found; optional feedback to the officer who made it."""

    contact_id: UUID = Field(description="The contact during which it was found.", examples=[CONTACT_ID])
    error_id: UUID = Field(
        description="New id for the error record.", examples=["f6a7b8c9-d0e1-4f2a-9b3c-4d5e6f7a8b92"]
    )
    description: ShortText = Field(
        description="What was wrong.", examples=["Income not updated after ATO notice"]
    )
    made_by_officer_id: Code | None = Field(
        default=None, description="Officer who made it, if known.", examples=["EMP20931"]
    )
    feedback: ShortText | None = Field(
        default=None,
        description="Feedback to send that officer (seed: only if it will improve future service).",
        examples=["Please check ATO notices at each contact."],
    )


class RecordIncomeCheck(Command):
    """Seed 001 table 2 step 2: income is reliable when issued by the tax office (ATO)."""

    contact_id: UUID = Field(description="The interaction.", examples=[CONTACT_ID])
    income_reliable: bool = Field(description="True when the income is ATO-issued.", examples=[False])
    tax_return_commitment: bool | None = Field(
        default=None,
        description="When not reliable: the customer committed to lodge their tax return (required then).",
        examples=[True],
    )
    income_updated: bool = Field(
        default=False, description="An income update was recorded.", examples=[False]
    )


class RecordPaymentsAndDebtsCheck(Command):
    """Seed 001 table 2 step 3: the payments/debts position checked and the outcome recorded."""

    contact_id: UUID = Field(description="The interaction.", examples=[CONTACT_ID])
    position: PaymentsPosition = Field(description="The customer's position.", examples=["PAYER_WITH_DEBT"])
    outcome: ShortText = Field(
        description="What was done or agreed.", examples=["Explained debt; arrangement made"]
    )


class RecordPaymentArrangement(Command):
    """Seed 001 table 2 step 6: a negotiated payment arrangement.

    Deliberately permissive: a non-positive amount, an unknown frequency or a start date in
    the past are *business* refusals (INVALID_AMOUNT, UNKNOWN_FREQUENCY, START_DATE_IN_PAST)
    so the officer learns which field is wrong — issue 9.
    """

    contact_id: UUID = Field(description="The interaction.", examples=[CONTACT_ID])
    arrangement_id: UUID = Field(
        description="New id for the arrangement.", examples=["0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"]
    )
    amount_cents: int = Field(description="Instalment amount in cents; must be positive.", examples=[12_500])
    frequency: Code = Field(description="A PaymentFrequency value.", examples=["FORTNIGHTLY"])
    start_date: dt.date = Field(description="First instalment; not in the past.", examples=["2025-04-01"])


class RecordSelfServicePromotion(Command):
    """Seed 001 table 2 step 1: digital self-service was promoted."""

    contact_id: UUID = Field(description="The interaction.", examples=[CONTACT_ID])
    services: tuple[DigitalService, ...] = Field(
        min_length=1, max_length=4, description="Services promoted.", examples=[["MYGOV", "EXPRESS_PLUS_APP"]]
    )


class RecordMinimumCollectionActivityOutcome(Command):
    """Seed 001 table 2 step 6: "Document the outcome of Minimum Collection"."""

    contact_id: UUID = Field(description="The interaction.", examples=[CONTACT_ID])
    status: MCAStatus = Field(description="Completed, or not required (say why).", examples=["COMPLETED"])
    summary: ShortText = Field(description="The outcome.", examples=["Income ok; debt arrangement recorded"])


class FinaliseInteraction(Command):
    """End the interaction; refused with MCA_OUTCOME_REQUIRED where the rules require one (issue 9)."""

    contact_id: UUID = Field(description="The interaction.", examples=[CONTACT_ID])


class FinaliseIssue(Command):
    """Seed 001 table 3 steps 1-2: finalise an issue; a customer who disagrees is told their options.

    A locked issue is finalised by the officer or an officer of the area it is locked to, or by a
    Team Leader while an ownership dispute is escalated (issue 20: locks restrict).
    """

    EXAMPLE: ClassVar[dict[str, Any]] = {
        "actor": {**ACTOR_EXAMPLE, "role": "SPECIALIST_OFFICER", "team": "COA Team 1"}
    }

    issue_id: UUID = Field(description="The issue.", examples=[ISSUE_ID])
    customer_agrees: bool = Field(
        description="Whether the customer agrees with the decision.", examples=[False]
    )
    options_explained: tuple[DecisionOption, ...] = Field(
        default=(),
        max_length=3,
        description="Options discussed (required when the customer disagrees).",
        examples=[["REVIEW", "OBJECTION"]],
    )
    note: ShortText | None = Field(
        default=None, description="Finalisation note.", examples=["COA decision explained"]
    )


COMMANDS: tuple[type[Command], ...] = (
    AssignCustomerToPS,
    RecordCMP,
    MarkCMPForApproval,
    CreatePSStackingDocument,
    AddPSStackingDocumentNote,
    ReferCustomerForTransferOutOfPS,
    ActionTransferOutOfPS,
    ExpireTransferMonitoring,
    LockCustomer,
    ReleaseParentLock,
    TransferCustomerOwnership,
    EscalateOwnershipDispute,
    ResolveOwnershipDispute,
    UnlockCustomer,
    RecordCustomerContact,
    WarmTransferContact,
    IdentifyPresentingIssue,
    RecordExternalReferral,
    RecategoriseIntrayItem,
    CloseIntrayItem,
    RecordIdentifiedError,
    RecordIncomeCheck,
    RecordPaymentsAndDebtsCheck,
    RecordPaymentArrangement,
    RecordSelfServicePromotion,
    RecordMinimumCollectionActivityOutcome,
    FinaliseInteraction,
    FinaliseIssue,
)

# --------------------------------------------------------------------------------------------
# Events — PS
# --------------------------------------------------------------------------------------------


class _ReferralFact(Event):
    referral_id: UUID = Field(description="The PS referral.", examples=[REFERRAL_ID])
    actor: Actor = Field(
        description="Who did it (from the command, or Actor.system for timers).", examples=[ACTOR_EXAMPLE]
    )


class CustomerAssignedToPS(_ReferralFact):
    """Seed 000 table 1 step 4: the customer is on the PS Service Officer's customer list."""

    referral_type: PSReferralType = Field(description="Seed 000 table 1 step 3.", examples=["OTHER"])
    associate_of_csid: CSID | None = Field(
        default=None, description="For ASSOCIATE referrals.", examples=["987654321"]
    )
    team: Name = Field(description="The PS team.", examples=["PS Team 3"])
    officer_id: Code = Field(description="The assigned PS Service Officer.", examples=["EMP30117"])
    auto_assigned: bool = Field(
        description="True when chosen by the fewest-open-customers rule (ties by officer id).",
        examples=[True],
    )
    officer_open_ps_customers: int = Field(description="The officer's open PS customers now.", examples=[14])


class CMPRecorded(_ReferralFact):
    """Seed 000 table 2: the CMP was recorded (version 1) or re-recorded after a rejection."""

    cmp_version: int = Field(
        ge=1, description="1 for the first recording, +1 for each re-recording.", examples=[1]
    )
    core_issue: CoreIssue = Field(description="Seed 000 table 2 steps 1-2.", examples=[CORE_ISSUE_EXAMPLE])
    trigger: TriggerDetails = Field(description="Seed 000 table 2 step 3.", examples=[TRIGGER_EXAMPLE])


class CMPMarkedForApproval(_ReferralFact):
    """Seed 000 table 3 step 1: on the Service Manager Actions List via the approvals service."""

    cmp_version: int = Field(ge=1, description="The CMP version to be approved.", examples=[1])
    approval_request_id: UUID = Field(description="The RequestApproval sent.", examples=[REQUEST_ID])


class CMPAccepted(_ReferralFact):
    """Seed 000 table 3 step 2: the Service Manager accepted — the PS plan is active."""

    approval_request_id: UUID = Field(description="The approval decided.", examples=[REQUEST_ID])
    cmp_version: int = Field(ge=1, description="The CMP version accepted.", examples=[1])


class CMPReturnedToRecording(_ReferralFact):
    """The Service Manager rejected the CMP: it goes back to recording (issue 4)."""

    approval_request_id: UUID = Field(description="The approval decided.", examples=[REQUEST_ID])
    decision_reason: ShortText = Field(
        description="The Service Manager's reason.", examples=["Trigger unclear"]
    )


class PSStackingDocumentCreated(_ReferralFact):
    """Seed 000 table 4 step 1: a communication record Phone Out / PERS SERVICES / PS CUSTOMER CONTACT."""

    document_id: UUID = Field(description="The document.", examples=[DOCUMENT_ID])
    communication_type: Literal["PHONE_OUT"] = Field(
        default="PHONE_OUT", description="Seed 000 table 4: Type 'Phone Out'.", examples=["PHONE_OUT"]
    )
    communication_reason: Literal["PERS SERVICES"] = Field(
        default="PERS SERVICES",
        description="Seed 000 table 4: Reason 'PERS SERVICES'.",
        examples=["PERS SERVICES"],
    )
    communication_category: Literal["PS CUSTOMER CONTACT"] = Field(
        default="PS CUSTOMER CONTACT",
        description="Seed 000 table 4: Category 'PS CUSTOMER CONTACT'.",
        examples=["PS CUSTOMER CONTACT"],
    )
    communication_issue: None = Field(
        default=None, description="Seed 000 table 4: Issue 'Blank'.", examples=[None]
    )
    origin: StackingDocumentOrigin = Field(
        description="Where it was created (kept on the record).", examples=["CASEMESH"]
    )
    origin_record_id: Code | None = Field(
        default=None, description="Id in the international system's notes.", examples=["PLT-0042-77"]
    )
    notes: LongText | None = Field(
        default=None, description="Initial notes.", examples=["Customer agreed to PS."]
    )


class PSStackingDocumentNoteAdded(_ReferralFact):
    """Seed 000 table 4 step 2."""

    document_id: UUID = Field(description="The document.", examples=[DOCUMENT_ID])
    text: LongText = Field(description="The note.", examples=["Called customer, discussed plan."])


class TransferOutOfPSReferred(_ReferralFact):
    """Seed 000 table 5 step 1: referred for transfer; MONITORING approval requested."""

    reason: ShortText = Field(description="Why.", examples=["Issues resolved"])
    approval_request_id: UUID = Field(
        description="The MONITORING RequestApproval sent.", examples=[REQUEST_ID]
    )


class TransferMonitoringStarted(_ReferralFact):
    """Seed 000 table 5 step 2: monitoring accepted; the customer stays in PS while monitored."""

    approval_request_id: UUID = Field(description="The approval decided.", examples=[REQUEST_ID])
    monitoring_days: int = Field(ge=1, le=90, description="Accepted days (≤ 90).", examples=[90])
    monitoring_ends_at: AwareDatetime = Field(
        description="When the durable timer fires.", examples=["2025-06-01T00:00:00+10:00"]
    )


class TransferMonitoringDeclined(_ReferralFact):
    """The Service Manager did not accept monitoring: the customer stays active in PS."""

    approval_request_id: UUID = Field(description="The approval decided.", examples=[REQUEST_ID])
    decision_reason: ShortText = Field(description="The Service Manager's reason.", examples=["Too early"])


class TransferOutOfPSActioned(_ReferralFact):
    """Seed 000 table 5 step 3: the CSO actioned the transfer; TRANSFER approval requested."""

    approval_request_id: UUID = Field(description="The TRANSFER RequestApproval sent.", examples=[REQUEST_ID])


class CustomerTransferredOutOfPS(_ReferralFact):
    """Seed 000 table 6: transfer accepted — the customer leaves PS and the officer's caseload drops."""

    approval_request_id: UUID = Field(description="The approval decided.", examples=[REQUEST_ID])
    officer_id: Code = Field(description="The PS Service Officer released.", examples=["EMP30117"])
    officer_open_ps_customers: int = Field(description="The officer's open PS customers now.", examples=[13])


class TransferOutOfPSDeclined(_ReferralFact):
    """Seed 000 table 6: transfer rejected — the customer stays active in PS."""

    approval_request_id: UUID = Field(description="The approval decided.", examples=[REQUEST_ID])
    decision_reason: ShortText = Field(
        description="The Service Manager's reason.", examples=["Needs more monitoring"]
    )


class TransferMonitoringExpired(_ReferralFact):
    """The monitoring period passed without the transfer being actioned (issue 4).

    Outcome: monitoring ends; the customer stays active in PS (nothing is transferred
    automatically); a MONITORING_EXPIRY approval is requested so the case appears on the Service
    Manager's work list, where they decide whether the transfer proceeds.
    """

    monitoring_ends_at: AwareDatetime = Field(
        description="The end of monitoring.", examples=["2025-06-01T00:00:00+10:00"]
    )
    approval_request_id: UUID = Field(
        description="The MONITORING_EXPIRY RequestApproval sent.", examples=[REQUEST_ID]
    )
    work_list_role: Role = Field(description="Whose work list it is on.", examples=["SERVICE_MANAGER"])


# --------------------------------------------------------------------------------------------
# Events — ownership and locking
# --------------------------------------------------------------------------------------------


class CustomerLocked(Event):
    """Seed 001 table 2 step 8: the customer is locked to an officer or specialist area."""

    issue_id: UUID = Field(description="The issue that needs the lock.", examples=[ISSUE_ID])
    lock_to: LockTarget = Field(description="Officer or specialist area.", examples=[LOCK_TARGET_EXAMPLE])
    reason: ShortText = Field(description="Why.", examples=["Awaiting payer evidence"])
    other_parent_csid: CSID | None = Field(
        default=None, description="Locked to the same target.", examples=["987654321"]
    )
    actor: Actor = Field(description="Who locked.", examples=[ACTOR_EXAMPLE])


class CustomerLockReleased(Event):
    """Seed 001 table 2 step 8: both parents are locked for the issue or neither is — the other
    parent's lock was refused, so this parent's lock for the issue is released (compensation)."""

    issue_id: UUID = Field(description="The issue.", examples=[ISSUE_ID])
    other_parent_csid: CSID = Field(description="The parent whose lock was refused.", examples=["987654321"])
    reason: ShortText = Field(
        description="Why it was released.", examples=["The other parent's lock was refused: ALREADY_LOCKED"]
    )
    actor: Actor = Field(description="The officer who asked for the lock.", examples=[ACTOR_EXAMPLE])


class SpecialisedIssueNoticeRequired(Event):
    """Seed 001 table 1 step 7: "When retaining customer ownership and a second (or subsequent)
    specialised issue arises, tell the customers" — a communication task for the owning area."""

    issue_id: UUID = Field(description="The newly arisen specialised issue.", examples=[ISSUE_ID])
    specialist_area: Code = Field(description="The area of the new issue.", examples=["OBJECTIONS"])
    owner_area: Code = Field(
        description="The area that owns the customer and tells them.", examples=["CHANGE_OF_ASSESSMENT"]
    )
    actor: Actor = Field(description="Who raised the issue's lock.", examples=[ACTOR_EXAMPLE])


class SpecialistAreaConsultationRequested(Event):
    """Seed 001 table 1 step 7: "consult with the other specialist area to determine the best way to
    manage the customer" — a task on the consulted area's list."""

    issue_id: UUID = Field(description="The newly arisen specialised issue.", examples=[ISSUE_ID])
    consulted_area: Code = Field(description="The area consulted.", examples=["OBJECTIONS"])
    owner_area: Code = Field(
        description="The area that owns the customer (PS co-ordinates a PS customer).",
        examples=["CHANGE_OF_ASSESSMENT"],
    )
    actor: Actor = Field(description="Who raised the issue's lock.", examples=[ACTOR_EXAMPLE])


class CustomerOwnershipAssigned(Event):
    """Seed 001 table 1 step 5: which area owns the customer when several specialised issues exist."""

    owner_area: Code = Field(description="The owning area.", examples=[PERSONALISED_SERVICES_AREA])
    basis: OwnershipBasis = Field(description="Which rule decided.", examples=["PRIORITY_AREA"])
    previous_owner_area: Code | None = Field(default=None, description="Previous owner.", examples=["DEBT"])


class CustomerOwnershipTransferred(Event):
    """Seed 001 table 1 step 6: moved by agreement or by the Team Leader's decision."""

    from_area: Code = Field(description="Previous owner.", examples=["DEBT"])
    to_area: Code = Field(description="New owner.", examples=["OBJECTIONS"])
    basis: OwnershipBasis = Field(description="AGREEMENT or TEAM_LEADER_DECISION.", examples=["AGREEMENT"])
    reason: ShortText = Field(description="Why.", examples=["Objection drives the case"])
    actor: Actor = Field(description="Who recorded it.", examples=[ACTOR_EXAMPLE])


class OwnershipDisputeEscalated(Event):
    """Seed 001 table 1 step 6: on the Team Leader's work list."""

    areas: tuple[Code, ...] = Field(
        max_length=10, description="Areas in dispute.", examples=[["OBJECTIONS", "DEBT"]]
    )
    summary: ShortText = Field(description="What is disputed.", examples=["Both areas claim ownership"])
    actor: Actor = Field(description="Who escalated.", examples=[ACTOR_EXAMPLE])


class OwnershipDisputeResolved(Event):
    """The Team Leader decided."""

    owner_area: Code = Field(description="The area that owns the customer.", examples=["OBJECTIONS"])
    reason: ShortText = Field(description="Why.", examples=["Objection due date is earliest"])
    actor: Actor = Field(description="The Team Leader.", examples=[ACTOR_EXAMPLE])


class CustomerUnlocked(Event):
    """Seed 001 table 3 step 4: no specialised issue remains outstanding."""

    reason: ShortText = Field(description="Why.", examples=["All issues finalised"])
    actor: Actor = Field(description="Who unlocked.", examples=[ACTOR_EXAMPLE])


# --------------------------------------------------------------------------------------------
# Events — CMA intake
# --------------------------------------------------------------------------------------------


class _ContactFact(Event):
    contact_id: UUID = Field(description="The contact (interaction).", examples=[CONTACT_ID])
    actor: Actor = Field(description="Who recorded it.", examples=[ACTOR_EXAMPLE])


class CustomerContactRecorded(_ContactFact):
    """Seed 001 table 1 step 1."""

    channel: ContactChannel = Field(description="Phone or correspondence channel.", examples=["PHONE"])
    party: ContactParty = Field(description="Customer or authorised representative.", examples=["CUSTOMER"])
    received_in_area: Code = Field(description="Where it landed.", examples=["MAINSTREAM"])
    misdirected: bool = Field(description="Delivered to the wrong business area.", examples=[False])
    summary: ShortText | None = Field(
        default=None, description="Why the customer made contact.", examples=["Income query"]
    )


class IntrayItemOpened(_ContactFact):
    """Seed 001 table 1 step 1: correspondence opens an intray item."""

    intray_item_id: UUID = Field(description="The intray item.", examples=[INTRAY_ID])
    channel: ContactChannel = Field(description="FAX, EMAIL or POST.", examples=["POST"])
    category: Code | None = Field(
        default=None, description="The category it arrived under, if any.", examples=["COA"]
    )


class ContactWarmTransferred(_ContactFact):
    """Seed 001 table 1 step 1: a misdirected contact was warm-transferred (the transfer is recorded)."""

    from_area: Code = Field(description="Where it landed.", examples=["MAINSTREAM"])
    to_area: Code = Field(description="Where it went.", examples=["NEW_CUSTOMERS"])
    reason: ShortText = Field(description="Why.", examples=["Registration query"])


class PresentingIssueIdentified(_ContactFact):
    """Seed 001 table 1 step 2: an issue, classified from the configurable catalogue."""

    issue_id: UUID = Field(description="The issue.", examples=[ISSUE_ID])
    issue_code: Code = Field(description="Catalogue code.", examples=["CHANGE_OF_ASSESSMENT"])
    issue_class: IssueClass = Field(description="Common or specialised.", examples=["SPECIALISED"])
    specialist_area: Code | None = Field(
        default=None,
        description="For specialised issues: the area it is referred to.",
        examples=["CHANGE_OF_ASSESSMENT"],
    )
    intray_item_id: UUID | None = Field(
        default=None, description="The intray item that raised it.", examples=[INTRAY_ID]
    )


class SpecialisedIssueReferred(_ContactFact):
    """Seed 001 table 1 step 2: referred to its specialist area — feeds ownership and locking."""

    issue_id: UUID = Field(description="The issue.", examples=[ISSUE_ID])
    issue_code: Code = Field(description="Catalogue code.", examples=["CHANGE_OF_ASSESSMENT"])
    specialist_area: Code = Field(description="The receiving area.", examples=["CHANGE_OF_ASSESSMENT"])


class ExternalReferralRecorded(_ContactFact):
    """Seed 001 table 1 step 2: a non-child-support issue referred externally, with its type."""

    referral_type: Code = Field(description="Referral Guide option.", examples=["FINANCIAL_COUNSELLING"])
    note: ShortText | None = Field(default=None, description="Details.", examples=["Given hotline number"])


class IntrayItemRecategorised(Event):
    """Seed 001 table 1 step 1: audited re-categorisation."""

    intray_item_id: UUID = Field(description="The intray item.", examples=[INTRAY_ID])
    from_category: Code | None = Field(default=None, description="Previous category.", examples=["COA"])
    to_category: Code = Field(description="New category.", examples=["OBJECTION"])
    reason: ShortText = Field(description="Why.", examples=["Objection, not COA"])
    actor: Actor = Field(description="Who re-categorised.", examples=[ACTOR_EXAMPLE])


class IntrayItemClosed(Event):
    """Seed 001 table 1 step 1: every issue it raised is addressed."""

    intray_item_id: UUID = Field(description="The intray item.", examples=[INTRAY_ID])
    actor: Actor = Field(description="Who closed it.", examples=[ACTOR_EXAMPLE])


class IdentifiedErrorRecorded(_ContactFact):
    """Seed 001 table 1 step 3."""

    error_id: UUID = Field(description="The error record.", examples=["f6a7b8c9-d0e1-4f2a-9b3c-4d5e6f7a8b92"])
    description: ShortText = Field(
        description="What was wrong.", examples=["Income not updated after ATO notice"]
    )
    made_by_officer_id: Code | None = Field(default=None, description="Who made it.", examples=["EMP20931"])


class OfficerFeedbackSent(Event):
    """Seed 001 table 1 step 3: feedback to the officer who made an error ("Internal Feedback")."""

    error_id: UUID = Field(description="The error record.", examples=["f6a7b8c9-d0e1-4f2a-9b3c-4d5e6f7a8b92"])
    to_officer_id: Code = Field(description="The officer receiving the feedback.", examples=["EMP20931"])
    feedback: ShortText = Field(
        description="The feedback.", examples=["Please check ATO notices at each contact."]
    )
    actor: Actor = Field(description="Who sent it.", examples=[ACTOR_EXAMPLE])


class IncomeCheckRecorded(_ContactFact):
    """Seed 001 table 2 step 2."""

    income_reliable: bool = Field(description="ATO-issued income.", examples=[False])
    tax_return_commitment: bool | None = Field(
        default=None, description="Commitment to lodge.", examples=[True]
    )
    income_updated: bool = Field(description="An income update was recorded.", examples=[False])


class PaymentsAndDebtsCheckRecorded(_ContactFact):
    """Seed 001 table 2 step 3."""

    position: PaymentsPosition = Field(description="The position checked.", examples=["PAYER_WITH_DEBT"])
    outcome: ShortText = Field(description="Outcome.", examples=["Explained debt; arrangement made"])


class PaymentArrangementRecorded(_ContactFact):
    """Seed 001 table 2 step 6: amount, frequency and start date."""

    arrangement_id: UUID = Field(
        description="The arrangement.", examples=["0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"]
    )
    amount_cents: int = Field(gt=0, description="Instalment in cents.", examples=[12_500])
    frequency: PaymentFrequency = Field(description="Frequency.", examples=["FORTNIGHTLY"])
    start_date: dt.date = Field(description="First instalment.", examples=["2025-04-01"])


class SelfServicePromotionRecorded(_ContactFact):
    """Seed 001 table 2 step 1."""

    services: tuple[DigitalService, ...] = Field(max_length=4, description="Promoted.", examples=[["MYGOV"]])


class MinimumCollectionActivityOutcomeRecorded(_ContactFact):
    """Seed 001 table 2 step 6."""

    status: MCAStatus = Field(description="Completed or not required.", examples=["COMPLETED"])
    summary: ShortText = Field(description="The outcome.", examples=["Income ok; debt arrangement recorded"])


class InteractionFinalised(_ContactFact):
    """The interaction ended (with its MCA outcome where required)."""

    mca_status: MCAStatus | None = Field(
        default=None, description="The MCA outcome recorded, if any.", examples=["COMPLETED"]
    )


class IssueFinalised(Event):
    """Seed 001 table 3 steps 1-2."""

    issue_id: UUID = Field(description="The issue.", examples=[ISSUE_ID])
    customer_agrees: bool = Field(description="Agrees with the decision.", examples=[False])
    options_explained: tuple[DecisionOption, ...] = Field(
        max_length=3, description="Options discussed.", examples=[["REVIEW", "OBJECTION"]]
    )
    note: ShortText | None = Field(
        default=None, description="Finalisation note.", examples=["COA decision explained"]
    )
    specialised_issues_outstanding: int = Field(
        ge=0, description="Specialised issues still outstanding (seed 001 table 3 step 3).", examples=[0]
    )
    actor: Actor = Field(description="Who finalised.", examples=[ACTOR_EXAMPLE])


class ReferralsCommandRejected(Rejection):
    """A referrals command was refused."""

    # 2: reason_code gained UNAUTHENTICATED and ACTOR_MISMATCH (issue 16); 3: it gained
    # REFERRAL_TYPE_MISMATCH (issue 20). A version 1 or 2 payload is a valid version 3 one.
    SCHEMA_VERSION: ClassVar[int] = 3

    @classmethod
    def upgrade_payload(cls, from_version: int, payload: dict[str, Any]) -> dict[str, Any] | None:
        return payload if from_version in (1, 2) else None

    reason_code: ReferralsReasonCode = Field(description="Why it was refused.", examples=["ALREADY_IN_PS"])


EVENTS: tuple[type[Event], ...] = (
    CustomerAssignedToPS,
    CMPRecorded,
    CMPMarkedForApproval,
    CMPAccepted,
    CMPReturnedToRecording,
    PSStackingDocumentCreated,
    PSStackingDocumentNoteAdded,
    TransferOutOfPSReferred,
    TransferMonitoringStarted,
    TransferMonitoringDeclined,
    TransferOutOfPSActioned,
    CustomerTransferredOutOfPS,
    TransferOutOfPSDeclined,
    TransferMonitoringExpired,
    CustomerLocked,
    CustomerLockReleased,
    SpecialisedIssueNoticeRequired,
    SpecialistAreaConsultationRequested,
    CustomerOwnershipAssigned,
    CustomerOwnershipTransferred,
    OwnershipDisputeEscalated,
    OwnershipDisputeResolved,
    CustomerUnlocked,
    CustomerContactRecorded,
    IntrayItemOpened,
    ContactWarmTransferred,
    PresentingIssueIdentified,
    SpecialisedIssueReferred,
    ExternalReferralRecorded,
    IntrayItemRecategorised,
    IntrayItemClosed,
    IdentifiedErrorRecorded,
    OfficerFeedbackSent,
    IncomeCheckRecorded,
    PaymentsAndDebtsCheckRecorded,
    PaymentArrangementRecorded,
    SelfServicePromotionRecorded,
    MinimumCollectionActivityOutcomeRecorded,
    InteractionFinalised,
    IssueFinalised,
    ReferralsCommandRejected,
)
