"""The notifications service declared: one aggregate per customer (CSID) and its rules (issue 5;
seed 002 steps 1-4; seed 004).

Every message is keyed by the customer's CSID, so details, risk flags, approved MSPs, MSP
contacts, notifications and deliveries live in one document, and the guard always reads the
customer's latest state in the same write that sends or suppresses an SMS.
"""

from __future__ import annotations

from datetime import datetime

from contracts.catalogue.approvals import ApprovalAccepted
from contracts.catalogue.channels import DeliveryReceipted, PhoneTaskOutcomeReported
from contracts.catalogue.customers import (
    CustomerContactDetailsChanged,
    CustomerRegistered,
    RiskFlagCleared,
    RiskFlagRaised,
)
from contracts.catalogue.notifications import (
    CheckDeliveryReceipt,
    NotificationsCommandRejected,
    RetryDelivery,
    SendEmail,
    SendLetter,
    SendSms,
    StartMSPContact,
)
from kit.spec import Aggregate, ServiceSpec
from services.notifications.domain import customer, deliveries, msp, requests
from services.notifications.domain.state import (
    DEFAULT_POLICY,
    NO_SHARED_NUMBERS,
    CustomerState,
    Decision,
    Facts,
    NumberIndexView,
    Policy,
)

COLLECTION = "customers"

CUSTOMER = Aggregate(
    collection=COLLECTION,
    state=CustomerState,
    initial=CustomerState,
    # Approvals' decisions only for an approved MSP or an authorised SMS (seed 002).
    accepts=customer.acted_on,
    rules={
        CustomerRegistered: customer.registered,
        CustomerContactDetailsChanged: msp.contact_details_changed_then_letters,
        RiskFlagRaised: customer.risk_flag_raised,
        RiskFlagCleared: customer.risk_flag_cleared,
        ApprovalAccepted: customer.approval_accepted,
        StartMSPContact: msp.start_msp_contact,
        PhoneTaskOutcomeReported: msp.phone_task_outcome,
        SendSms: requests.send_sms_command,
        SendLetter: requests.send_letter,
        SendEmail: requests.send_email,
        DeliveryReceipted: deliveries.delivery_receipted,
        RetryDelivery: deliveries.retry_delivery,
        CheckDeliveryReceipt: deliveries.check_delivery_receipt,
    },
)

SPEC = ServiceSpec("notifications", [CUSTOMER], NotificationsCommandRejected)


def decide(
    state: CustomerState | None,
    message: object,
    now: datetime,
    policy: Policy = DEFAULT_POLICY,
    numbers: NumberIndexView = NO_SHARED_NUMBERS,
) -> Decision:
    """The new state and what to publish, for any message notifications consumes (anything the
    spec leaves alone changes nothing); a refusal leaves the state as it was."""
    if SPEC.aggregate_for(message) is None:
        return state, []
    new_state, outputs = SPEC.decide(state, message, now, Facts(policy, numbers))
    return new_state, list(outputs)
