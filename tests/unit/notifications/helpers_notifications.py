"""Builders for the notifications decider tests (pure: no broker, no store)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from contracts.base import Actor, Message, Role
from contracts.catalogue.approvals import ApprovalAccepted, SubjectType
from contracts.catalogue.channels import (
    Channel,
    DeliveryReceipted,
    DeliveryStatus,
    PhoneOutcome,
    PhoneTaskOutcomeReported,
    Purpose,
)
from contracts.catalogue.customers import (
    CustomerContactDetailsChanged,
    CustomerRegistered,
    PostalAddress,
    Representative,
    RiskFlag,
    RiskFlagRaised,
)
from contracts.catalogue.notifications import (
    CheckDeliveryReceipt,
    ContactCard,
    ContactCardKind,
    RetryDelivery,
    SendSms,
    SmsCircumstance,
    StartMSPContact,
)
from kit.timers import Deferred
from services.notifications.domain import (
    DEFAULT_POLICY,
    NO_SHARED_NUMBERS,
    CustomerState,
    NumberIndexView,
    Output,
    Policy,
)
from services.notifications.spec import decide

NOW = datetime(2026, 3, 12, 9, 30, tzinfo=UTC)
MOBILE = "0412345678"
PHONE = "0361234567"
ADDRESS = PostalAddress(lines=("Unit 4", "12 Example St"), locality="Glenorchy", state="TAS", postcode="7010")
MSP_ID = uuid.UUID("9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a")
REQUEST_ID = uuid.UUID("5f0c7a52-93c4-4d0a-8a8e-2a4c1d7e9b10")


def actor(role: Role = Role.APPROVED_DECISION_MAKER, officer_id: str = "EMP10442") -> Actor:
    return Actor(
        officer_id=officer_id, role=role, first_name="Priya", site="Hobart", team="PS 3", extension="4471"
    )


ADM = actor()
CSO = actor(Role.CSO, "EMP20931")


def registered(centrelink: bool = True) -> CustomerRegistered:
    return CustomerRegistered(
        given_name="Jordan",
        family_name="Lee",
        is_international=False,
        is_centrelink_customer=centrelink,
        site="Hobart",
        team="Mainstream 12",
    )


def details(
    mobile: str | None = MOBILE,
    phone: str | None = PHONE,
    email: str | None = "jordan@example.org",
    address: PostalAddress | None = ADDRESS,
    representatives: tuple[Representative, ...] = (),
) -> CustomerContactDetailsChanged:
    return CustomerContactDetailsChanged(
        mobile_number=mobile,
        phone_number=phone,
        email=email,
        postal_address=address,
        representatives=representatives,
    )


def msp_approved(msp_id: uuid.UUID = MSP_ID, request_id: uuid.UUID = REQUEST_ID) -> ApprovalAccepted:
    return ApprovalAccepted(
        request_id=request_id,
        subject_type=SubjectType.MSP,
        subject_id=str(msp_id),
        chain_id=str(msp_id),
        decided_by=actor(Role.SERVICE_MANAGER, "EMP30117"),
        reason="Behaviour meets the MSP threshold.",
    )


def start_msp(msp_id: uuid.UUID = MSP_ID, **overrides: Any) -> StartMSPContact:
    values: dict[str, Any] = {
        "actor": ADM,
        "msp_id": msp_id,
        "approval_request_id": REQUEST_ID,
        "letter_template_id": "msp-letter",
        "letter_template_version": 2,
        "contact_card": ContactCard(
            kind=ContactCardKind.ONE_MAIN_CONTACT, first_name="Priya", phone_number="1300000000"
        ),
        "reasons_summary": "Repeated threatening calls to the service centre on 3 and 5 March.",
        "duration_days": 180,
        **overrides,
    }
    return StartMSPContact(**values)


def msp_sms(notification_id: uuid.UUID | None = None, **overrides: Any) -> SendSms:
    values: dict[str, Any] = {
        "actor": ADM,
        "notification_id": notification_id or uuid.uuid4(),
        "purpose": Purpose.MSP_SMS,
        "msp_id": MSP_ID,
        "circumstance": SmsCircumstance.CANNOT_CONTACT_BY_PHONE,
        "template_id": "msp-sms",
        "template_version": 1,
        **overrides,
    }
    return SendSms(**values)


def flag(risk: RiskFlag, flag_id: str | None = None) -> RiskFlagRaised:
    return RiskFlagRaised(flag=risk, flag_id=flag_id)


def receipt(
    delivery_id: uuid.UUID, channel: Channel, status: DeliveryStatus, attempt: int = 1
) -> DeliveryReceipted:
    return DeliveryReceipted(delivery_id=delivery_id, attempt=attempt, channel=channel, status=status)


def phone_outcome(
    delivery_id: uuid.UUID, outcome: PhoneOutcome, aggression: bool = False, attempt: int = 1
) -> PhoneTaskOutcomeReported:
    return PhoneTaskOutcomeReported(
        delivery_id=delivery_id,
        attempt=attempt,
        outcome=outcome,
        aggression_displayed=aggression,
        notes="Explained the MSP." if not aggression else "Raised voice, threats.",
        officer_id="EMP30117",
    )


class Run:
    """Feeds messages to the decider one after another, like the handler does."""

    def __init__(self, policy: Policy = DEFAULT_POLICY) -> None:
        self.state: CustomerState | None = None
        self.policy = policy
        self.numbers: NumberIndexView = NO_SHARED_NUMBERS
        self.now = NOW

    def __call__(self, *messages: Message) -> list[Output]:
        out: list[Output] = []
        for message in messages:
            self.state, produced = decide(self.state, message, self.now, self.policy, self.numbers)
            out.extend(produced)
        return out

    def share_mobile_with(self, *csids: str, number: str = MOBILE) -> None:
        self.numbers = NumberIndexView({number: frozenset(csids)})


def customer(centrelink: bool = True, **detail_overrides: Any) -> Run:
    run = Run()
    run(registered(centrelink), details(**detail_overrides))
    return run


T = TypeVar("T")


def of(outputs: Iterable[Output], kind: type[T]) -> list[T]:
    return [o for o in outputs if isinstance(o, kind)]


def kinds(outputs: Iterable[Output]) -> list[str]:
    return [
        o.MESSAGE_TYPE if isinstance(o, Message) else f"Deferred:{o.message.MESSAGE_TYPE}" for o in outputs
    ]


def timers(outputs: Iterable[Output]) -> list[Deferred]:
    return [o for o in outputs if isinstance(o, Deferred)]


def retries(outputs: Iterable[Output]) -> list[Deferred]:
    """The retry timers among the outputs (every dispatch also arms its receipt timeout)."""
    return [o for o in timers(outputs) if isinstance(o.message, RetryDelivery)]


def receipt_checks(outputs: Iterable[Output]) -> list[Deferred]:
    """The receipt-timeout timers among the outputs (issue 18)."""
    return [o for o in timers(outputs) if isinstance(o.message, CheckDeliveryReceipt)]
