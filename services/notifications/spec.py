"""The notifications service declared: one aggregate per customer (CSID) and its rules (issue 5;
seed 002 steps 1-4; seed 004).

Every message is keyed by the customer's CSID, so details, risk flags, approved MSPs, MSP
contacts, notifications and deliveries live in one document, and the guard always reads the
customer's latest state in the same write that sends or suppresses an SMS.
"""

from __future__ import annotations

from datetime import datetime

from contracts.catalogue.approvals import ApprovalAccepted, ApprovalRejected
from contracts.catalogue.channels import DeliveryReceipted, PhoneTaskOutcomeReported
from contracts.catalogue.customers import (
    CustomerContactDetailsChanged,
    CustomerRegistered,
    RiskFlagCleared,
    RiskFlagRaised,
)
from contracts.catalogue.msp import (
    AddMSPNote,
    EndMSP,
    ExpireMSP,
    MSPCommandRejected,
    ProposeMSP,
    RecordMSPReview,
    StartMSPReview,
)
from contracts.catalogue.notifications import (
    CheckDeliveryReceipt,
    DecideWaitingCommand,
    NotificationsCommandRejected,
    RetryDelivery,
    SendEmail,
    SendLetter,
    SendSms,
    StartMSPContact,
)
from kit.spec import Aggregate, ServiceSpec
from services.notifications.domain import customer, deliveries, msp, msp_record, requests
from services.notifications.domain.state import (
    DEFAULT_POLICY,
    NO_SHARED_NUMBERS,
    CustomerState,
    Decision,
    Facts,
    NumberIndexView,
    Policy,
)
from services.notifications.domain.waiting import decide_waiting_command, then_waiting, waits

COLLECTION = "customers"

CUSTOMER = Aggregate(
    collection=COLLECTION,
    state=CustomerState,
    initial=CustomerState,
    # Approvals' decisions only for an approved MSP or an authorised SMS (seed 002).
    accepts=customer.acted_on,
    rules=msp_record.recorded_all(
        {
            # Issue 20 item 9: a customer fact decides again the requests that waited for it.
            CustomerRegistered: then_waiting(customer.registered),
            CustomerContactDetailsChanged: then_waiting(msp.contact_details_changed_then_letters),
            RiskFlagRaised: customer.risk_flag_raised,
            RiskFlagCleared: customer.risk_flag_cleared,
            ApprovalAccepted: msp_record.approval_accepted,
            ApprovalRejected: msp_record.approval_rejected,
            # Issue 20 item 1: the MSP record's own commands and timers.
            ProposeMSP: msp_record.propose_msp,
            AddMSPNote: msp_record.add_msp_note,
            RecordMSPReview: msp_record.record_msp_review,
            EndMSP: msp_record.end_msp,
            StartMSPReview: msp_record.start_msp_review,
            ExpireMSP: msp_record.expire_msp,
            StartMSPContact: msp.start_msp_contact,
            PhoneTaskOutcomeReported: msp.phone_task_outcome,
            SendSms: waits(requests.send_sms_command),
            SendLetter: waits(requests.send_letter),
            SendEmail: waits(requests.send_email),
            DeliveryReceipted: deliveries.delivery_receipted,
            RetryDelivery: deliveries.retry_delivery,
            CheckDeliveryReceipt: deliveries.check_delivery_receipt,
            DecideWaitingCommand: decide_waiting_command,
        }
    ),
)

#: Issue 20 item 1: the MSP record's commands are refused with their own event.
_MSP_RECORD_COMMANDS = (ProposeMSP, AddMSPNote, RecordMSPReview, EndMSP, StartMSPReview, ExpireMSP)

SPEC = ServiceSpec(
    "notifications",
    [CUSTOMER],
    NotificationsCommandRejected,
    rejected_for=dict.fromkeys(_MSP_RECORD_COMMANDS, MSPCommandRejected),
)


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
