"""The SMS contact guard as one pure function (issue 5; seed 002 step 2).

The guard runs when an SMS is requested *and again at the moment it is sent* (when a held MSP
SMS is released by its letter, and before every retry), always on the customer's latest state:
a risk flag or a shared mobile number that arrives in between stops the SMS.

It returns every rule that fails, in a stable order; an empty tuple means the SMS may go.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.catalogue.channels import Purpose
from contracts.catalogue.customers import RiskFlag
from contracts.catalogue.notifications import SmsCircumstance, SmsSuppressionReason


@dataclass(frozen=True)
class SmsFacts:
    """What the guard looks at, taken from the request and the customer's latest state."""

    purpose: Purpose
    is_centrelink_customer: bool
    #: The requester is an approved decision maker, or one authorised this very SMS.
    approved_decision_maker: bool
    circumstance: SmsCircumstance | None
    mobile_number: str | None
    #: Other customer records the mobile number is recorded on (from the number index).
    other_records_on_number: frozenset[str]
    risk_flags: frozenset[RiskFlag]
    #: For an MSP SMS: the MSP letter is dispatched, or goes out in the same write.
    msp_letter_on_its_way: bool


def check_sms(facts: SmsFacts) -> tuple[SmsSuppressionReason, ...]:
    """Every guard rule the SMS fails; ``()`` when it may be sent.

    Issue 5 applies the guard "for every SMS"; issue 20 item 4 splits it per message kind: an MSP
    SMS meets every rule, a general SMS only the general ones (a mobile number, not shared, no
    self-harm or FDV-threat flag).
    """
    reasons: list[SmsSuppressionReason] = []
    msp = facts.purpose is Purpose.MSP_SMS
    # Issue 20 item 4: the Centrelink-only, decision-maker and circumstance rules are for an MSP
    # SMS, as the seed words them; a general SMS meets the general rules below only.
    # Seed 002 step 2: "Send an MSP SMS via desktop messaging (Centrelink customers only)".
    if msp and not facts.is_centrelink_customer:
        reasons.append(SmsSuppressionReason.NOT_CENTRELINK_CUSTOMER)
    # Seed 002 step 2: "SMS can only be sent by approved decision makers …
    if msp and not facts.approved_decision_maker:
        reasons.append(SmsSuppressionReason.NOT_APPROVED_DECISION_MAKER)
    # … in the following circumstances" (the five of SmsCircumstance).
    if msp and facts.circumstance is None:
        reasons.append(SmsSuppressionReason.NO_CIRCUMSTANCE)
    # The general rules, for every SMS:
    if facts.mobile_number is None:
        reasons.append(SmsSuppressionReason.NO_MOBILE_NUMBER)
    # Seed 002 step 2: "make sure the mobile number on file is not recorded on multiple records.
    # Where this does occur, the SMS must not be sent and existing phone and letter notification
    # provisions apply."
    elif facts.other_records_on_number:
        reasons.append(SmsSuppressionReason.SHARED_MOBILE_NUMBER)
    # Seed 002 step 2: "A MSP SMS should not be sent to customers talking about suicide or self-harm".
    if RiskFlag.SUICIDE_OR_SELF_HARM in facts.risk_flags:
        reasons.append(SmsSuppressionReason.RISK_SUICIDE_OR_SELF_HARM)
    # Seed 002 step 2: family and domestic violence involving an immediate threat to safety —
    # "An MSP SMS should not be sent".
    if RiskFlag.FDV_IMMEDIATE_THREAT in facts.risk_flags:
        reasons.append(SmsSuppressionReason.RISK_FDV_IMMEDIATE_THREAT)
    # Seed 002 step 2: "Sending an SMS will complement, not replace the corresponding letter."
    if msp and not facts.msp_letter_on_its_way:
        reasons.append(SmsSuppressionReason.LETTER_NOT_DISPATCHED)
    return tuple(reasons)
