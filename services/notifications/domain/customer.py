"""The customer's facts as the customer system and approvals tell them (seed 002), and what the
other rules look up in them: addresses, e-mail addresses, the representative to call.

Each message here is a full fact, so applying it again changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from contracts.base import Role
from contracts.catalogue.approvals import ApprovalAccepted, ApprovalRejected, SubjectType
from contracts.catalogue.channels import Recipient
from contracts.catalogue.customers import (
    CustomerContactDetailsChanged,
    CustomerRegistered,
    PostalAddress,
    Representative,
    RepresentativeKind,
    RiskFlagCleared,
    RiskFlagRaised,
)
from contracts.catalogue.notifications import NotificationsReasonCode
from kit.spec import Refused
from services.notifications.domain.state import CustomerState, Decision, Facts, FlagEntry

#: Approval decisions notifications acts on (seed 002): an approved MSP, an authorised SMS.
APPROVAL_SUBJECTS = frozenset({SubjectType.MSP, SubjectType.SMS_AUTHORISATION})

#: Seed 002 step 1: "contact the customer's Power of Attorney, nominee or person permitted to
#: enquire" (in that order of preference).
REPRESENTATIVES_TO_CALL = (
    RepresentativeKind.POWER_OF_ATTORNEY,
    RepresentativeKind.NOMINEE,
    RepresentativeKind.PERSON_PERMITTED_TO_ENQUIRE,
)


def acted_on(message: Any) -> bool:
    """Whether notifications acts on this message: an approval only for the subjects above."""
    if isinstance(message, ApprovalRejected):
        return message.subject_type is SubjectType.MSP  # issue 20 item 1: a proposal not approved
    return not isinstance(message, ApprovalAccepted) or message.subject_type in APPROVAL_SUBJECTS


# -------------------------------------------------------------------- the rules


def registered(state: CustomerState, event: CustomerRegistered, now: datetime, facts: Facts) -> Decision:
    changes = {
        "registered": True,
        "given_name": event.given_name,
        "family_name": event.family_name,
        "is_centrelink_customer": event.is_centrelink_customer,
    }
    return state.model_copy(update=changes), []


def contact_details_changed(
    state: CustomerState, event: CustomerContactDetailsChanged, now: datetime, facts: Facts
) -> Decision:
    # A full snapshot: None means "none recorded", so it replaces what was known.
    changes = {
        "mobile_number": event.mobile_number,
        "phone_number": event.phone_number,
        "email": event.email,
        "postal_address": event.postal_address,
        "representatives": event.representatives,
    }
    return state.model_copy(update=changes), []


def risk_flag_raised(state: CustomerState, event: RiskFlagRaised, now: datetime, facts: Facts) -> Decision:
    entry = FlagEntry(flag=event.flag, flag_id=event.flag_id)
    if entry in state.risk_flags:
        return state, []
    return state.model_copy(update={"risk_flags": (*state.risk_flags, entry)}), []


def risk_flag_cleared(state: CustomerState, event: RiskFlagCleared, now: datetime, facts: Facts) -> Decision:
    def clears(entry: FlagEntry) -> bool:
        if entry.flag is not event.flag:
            return False
        return event.flag_id is None or entry.flag_id in (None, event.flag_id)

    kept = tuple(e for e in state.risk_flags if not clears(e))
    return state.model_copy(update={"risk_flags": kept}), []


def approval_accepted(state: CustomerState, event: ApprovalAccepted, now: datetime, facts: Facts) -> Decision:
    if event.subject_type is SubjectType.MSP:
        # Seed 002: the contact workflow starts only for an approved MSP.
        approved = {**state.approved_msps, canonical(event.subject_id): str(event.request_id)}
        return state.model_copy(update={"approved_msps": approved}), []
    if event.subject_type is SubjectType.SMS_AUTHORISATION:
        # Seed 002 step 2: "SMS can only be sent by approved decision makers": one may
        # authorise a particular SMS (subject = its notification id).
        subject = canonical(event.subject_id)
        approver_is_adm = event.decided_by.role is Role.APPROVED_DECISION_MAKER
        if approver_is_adm and subject not in state.sms_authorisations:
            authorised = (*state.sms_authorisations, subject)
            return state.model_copy(update={"sms_authorisations": authorised}), []
    return state, []


def canonical(identifier: str) -> str:
    try:
        return str(uuid.UUID(identifier))
    except ValueError:
        return identifier


# -------------------------------------------------------------------- looked up by the other rules


def postal_for(s: CustomerState, recipient: Recipient) -> tuple[str, PostalAddress] | None:
    if recipient is Recipient.CUSTOMER:
        if s.postal_address is None or s.full_name is None:
            return None
        return s.full_name, s.postal_address
    for rep in s.representatives:
        if rep.kind.value == recipient.value and rep.postal_address is not None:
            return rep.name, rep.postal_address
    return None


def postal_or_refuse(s: CustomerState, recipient: Recipient) -> tuple[str, PostalAddress]:
    found = postal_for(s, recipient)
    if found is not None:
        return found
    if recipient not in (Recipient.CUSTOMER, Recipient.OTHER) and not any(
        rep.kind.value == recipient.value for rep in s.representatives
    ):
        raise Refused(NotificationsReasonCode.NO_REPRESENTATIVE, "No such representative is recorded.")
    raise Refused(NotificationsReasonCode.NO_POSTAL_ADDRESS, "No postal address is recorded.")


def email_for(s: CustomerState, recipient: Recipient) -> tuple[str, str | None] | None:
    if recipient is Recipient.CUSTOMER:
        return (s.email, s.given_name) if s.email is not None else None
    for rep in s.representatives:
        if rep.kind.value == recipient.value and rep.email is not None:
            return rep.email, rep.name
    return None


def representative_to_call(s: CustomerState) -> Representative | None:
    for kind in REPRESENTATIVES_TO_CALL:
        for rep in s.representatives:
            if rep.kind is kind and rep.phone_number is not None:
                return rep
    return None
