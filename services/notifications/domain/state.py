"""What notifications knows about one customer (the aggregate, frozen), and the facts its rules
are given besides it: the policy from settings and the customer's view of the number index.

One aggregate per customer (CSID): everything the guard needs (the customer's latest details,
risk flags and MSP letters) is in one document, so the guard is evaluated on the latest state in
the same write that sends (or suppresses) the SMS. The one fact that spans customers, "this
mobile number is recorded on another record" (seed 002 step 2), comes from the number index, a
read model read just before deciding, as a :class:`NumberIndexView`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Message, Role
from contracts.catalogue.channels import Channel, LetterDelivery, Purpose, Recipient
from contracts.catalogue.customers import PostalAddress, Representative, RiskFlag
from contracts.catalogue.notifications import ContactCardKind, SmsCircumstance, SmsSuppressionReason
from kit.timers import Deferred
from services.notifications import templates as tpl
from services.notifications.domain.records import MspRecord

Output = Message | Deferred

# --------------------------------------------------------------------------------------------
# The facts given to the rules
# --------------------------------------------------------------------------------------------


#: Issue 18: how long a dispatch waits for its receipt before it counts as failed
#: (``DeliveryTimedOut``). An SMS gateway and a mail provider report within minutes; a print and
#: mail house reports lodgement within a working day or two (72 h spans a weekend). A phone task is
#: an officer's work, reported when the call is made: it has no timeout unless one is configured.
DEFAULT_RECEIPT_TIMEOUTS: Mapping[Channel, timedelta] = {
    Channel.SMS: timedelta(hours=1),
    Channel.EMAIL: timedelta(hours=4),
    Channel.LETTER: timedelta(hours=72),
}


@dataclass(frozen=True)
class Policy:
    """Retry bounds and backoff (issue 5: "retried with backoff a bounded number of times"),
    templates, and how long each channel's receipt is waited for (issue 18)."""

    max_attempts: int = 3
    backoff_initial: timedelta = timedelta(minutes=5)
    backoff_factor: float = 2.0
    backoff_max: timedelta = timedelta(hours=6)
    templates: tpl.TemplateRegistry = tpl.DEFAULT_REGISTRY
    #: A channel left out waits for its receipt for ever.
    receipt_timeouts: Mapping[Channel, timedelta] = field(
        default_factory=lambda: dict(DEFAULT_RECEIPT_TIMEOUTS)
    )
    #: Issue 20 item 9: how long a request to send waits for the customer fact it depends on
    #: (the customer topic and the commands topic are not ordered); zero: refused at once.
    fact_wait: timedelta = timedelta(minutes=5)

    def backoff(self, failed_attempt: int) -> timedelta:
        """Wait after attempt ``failed_attempt`` failed: initial * factor^(attempt-1), capped."""
        return min(self.backoff_initial * (self.backoff_factor ** (failed_attempt - 1)), self.backoff_max)

    def receipt_timeout(self, channel: Channel) -> timedelta | None:
        """How long a dispatch on ``channel`` waits for its receipt; None: for ever."""
        timeout = self.receipt_timeouts.get(channel)
        return timeout if timeout is not None and timeout > timedelta(0) else None


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


@dataclass(frozen=True)
class Facts:
    """What the rules know besides the state: the policy (from settings) and the number index,
    and the id and type of the message decided (from its envelope; None where not known)."""

    policy: Policy = DEFAULT_POLICY
    numbers: NumberIndexView = NO_SHARED_NUMBERS
    message_id: str | None = None
    message_type: str | None = None


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


class _State(BaseModel):
    model_config = ConfigDict(frozen=True)


class FlagEntry(_State):
    flag: RiskFlag
    flag_id: str | None = None


class ContactCardState(_State):
    kind: ContactCardKind
    first_name: str
    phone_number: str
    urgent_voicemail: str | None = None


class MspContact(_State):
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
    #: Issue 20 item 3: no postal address when the contact started; the letter waits for one.
    letter_waits_for_address: bool = False
    #: The officer who started the contact (asked to obtain an address, or to consider an SMS).
    started_by: str | None = None


class SmsRequest(_State):
    circumstance: SmsCircumstance | None = None
    requested_by: str
    requested_by_role: Role
    template_id: str | None = None
    template_version: int | None = None
    text: str | None = None


class Notification(_State):
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
    deliveries: tuple[str, ...] = ()


class DeliveryState(StrEnum):
    SENT = "SENT"  # dispatched, waiting for the channel's receipt (a CheckDeliveryReceipt timer is set)
    RETRY_SCHEDULED = "RETRY_SCHEDULED"  # failed or timed out; a RetryDelivery timer is set
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


class Delivery(_State):
    delivery_id: str
    notification_id: str
    channel: Channel
    attempt: int
    state: DeliveryState
    #: The last dispatch's payload: a retry sends the same rendered text again.
    dispatch: Mapping[str, Any]
    fallback_from: str | None = None
    #: When the current attempt was dispatched (None in a state stored before it was recorded).
    sent_at: datetime | None = None
    #: The current attempt got no receipt in time (issue 18): its late receipt may still end it.
    timed_out: bool = False

    def awaits_receipt(self, attempt: int) -> bool:
        """Whether a receipt for ``attempt`` is the one this delivery waits for: the attempt in
        flight (issue 5: "a duplicate or late receipt changes nothing")."""
        return self.state is DeliveryState.SENT and attempt == self.attempt

    def late_after_timeout(self, attempt: int) -> bool:
        """Issue 18: the attempt timed out and its retry has not gone out yet — a late report of
        success still ends the delivery (nothing is sent twice); once the retry is out, a receipt
        for the timed-out attempt changes nothing."""
        return self.state is DeliveryState.RETRY_SCHEDULED and self.timed_out and attempt == self.attempt


class WaitingCommand(_State):
    """Issue 20 item 9: a request to send that arrived before the customer fact it depends on."""

    message_id: str
    message_type: str
    #: The command as on the wire (``model_dump(mode="json")``).
    payload: Mapping[str, Any]
    #: Decided then at the latest (a ``DecideWaitingCommand`` timer).
    until: datetime
    #: What it would get now: the awaited fact's refusal (or suppression) code.
    reason_code: str


class CustomerState(_State):
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
    risk_flags: tuple[FlagEntry, ...] = ()
    #: msp_id → approval request id, from ApprovalAccepted (subject MSP).
    approved_msps: Mapping[str, str] = Field(default_factory=dict)
    #: notification ids an approved decision maker authorised (ApprovalAccepted, SMS_AUTHORISATION).
    sms_authorisations: tuple[str, ...] = ()
    msps: Mapping[str, MspContact] = Field(default_factory=dict)
    #: Issue 20 item 1: the MSP records, by msp_id (an MSP approved before records existed has none).
    msp_records: Mapping[str, MspRecord] = Field(default_factory=dict)
    notifications: Mapping[str, Notification] = Field(default_factory=dict)
    deliveries: Mapping[str, Delivery] = Field(default_factory=dict)
    #: message id → a request waiting for a customer fact (issue 20 item 9), oldest first.
    waiting: Mapping[str, WaitingCommand] = Field(default_factory=dict)

    @property
    def active_flags(self) -> frozenset[RiskFlag]:
        return frozenset(entry.flag for entry in self.risk_flags)

    @property
    def full_name(self) -> str | None:
        if self.given_name is None or self.family_name is None:
            return None
        return f"{self.given_name} {self.family_name}"

    def with_msp(self, msp: MspContact) -> CustomerState:
        """This state with ``msp`` added, or replacing the one with its id."""
        return self.model_copy(update={"msps": {**self.msps, msp.msp_id: msp}})

    def with_record(self, record: MspRecord) -> CustomerState:
        """This state with ``record`` added, or replacing the one with its id."""
        return self.model_copy(update={"msp_records": {**self.msp_records, record.msp_id: record}})

    def with_notification(self, notification: Notification) -> CustomerState:
        """This state with ``notification`` added, or replacing the one with its id."""
        notifications = {**self.notifications, notification.notification_id: notification}
        return self.model_copy(update={"notifications": notifications})

    def with_delivery(self, delivery: Delivery) -> CustomerState:
        """This state with ``delivery`` added, or replacing the one with its id."""
        return self.model_copy(update={"deliveries": {**self.deliveries, delivery.delivery_id: delivery}})


Decision = tuple[CustomerState | None, list[Output]]


@dataclass
class Turn:
    """One rule's decision in the making: the state as it is now (frozen, replaced at each
    change), and what to publish, in order. Local to one rule, so the rules stay pure."""

    state: CustomerState
    now: datetime
    facts: Facts
    out: list[Output] = field(default_factory=list)

    @property
    def policy(self) -> Policy:
        return self.facts.policy

    def emit(self, *outputs: Output) -> None:
        self.out.extend(outputs)

    def decision(self) -> Decision:
        return self.state, self.out
