"""The communications log — seed 004 (Comunicazioni), seed 000 table 4, seed 003 table 3.

Seed 004 (Comunicazioni): phone calls, e-mails and letters, incoming and outgoing, free-form or
from a template, listed per customer and case. Each entry is published as ``CommunicationLogged``
when it is first logged and again each time its status changes (consumers keep the latest by
``communication_id``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from contracts.base import Actor, Message
from contracts.catalogue.channels import Channel, Purpose
from contracts.catalogue.complaints import ComplimentRecorded, ComplimentSubject
from contracts.catalogue.contacts import (
    CommunicationKind,
    CommunicationLogged,
    CommunicationSource,
    CommunicationStatus,
    Direction,
    RecordCommunication,
)
from contracts.catalogue.notifications import (
    NotificationDelivered,
    NotificationDeliveryFailed,
    NotificationDispatched,
    SmsSuppressed,
)
from contracts.catalogue.referrals import PSStackingDocumentCreated
from services.contacts.domain.state import CONTACTS_NAMESPACE, Events, Facts, State, order_key, short


class StatusChange(State):
    status: CommunicationStatus
    at: datetime
    source_message_id: UUID | None = None
    attempt: int | None = None


class CommunicationState(State):
    communication_id: UUID
    csid: str
    case_id: str | None = None
    kind: CommunicationKind
    direction: Direction
    source: CommunicationSource
    status: CommunicationStatus
    subject: str | None = None
    body: str | None = None
    template_id: str | None = None
    template_version: int | None = None
    reference_id: UUID | None = None
    source_message_id: UUID | None = None
    channel: str | None = None
    attempt: int | None = None
    meeting_id: UUID | None = None
    msp_id: UUID | None = None
    complaint_id: UUID | None = None
    communication_type: str | None = None
    communication_reason: str | None = None
    communication_category: str | None = None
    communication_issue: str | None = None
    origin: str | None = None
    origin_record_id: str | None = None
    recorded_by: Actor | None = None
    logged_at: datetime
    updated_at: datetime
    order_key: str
    history: tuple[StatusChange, ...] = ()


Decision = tuple[CommunicationState | None, Events]
Delivery = NotificationDispatched | NotificationDelivered | NotificationDeliveryFailed

CHANNEL_KIND: dict[Channel, CommunicationKind] = {
    Channel.SMS: CommunicationKind.SMS,
    Channel.EMAIL: CommunicationKind.EMAIL,
    Channel.LETTER: CommunicationKind.LETTER,
    Channel.PHONE: CommunicationKind.PHONE_CALL,
}

PURPOSE_SUBJECT: dict[Purpose, str] = {
    Purpose.MSP_PHONE_CALL: "MSP phone call",
    Purpose.MSP_SMS: "MSP SMS",
    Purpose.MSP_LETTER: "MSP letter",
    Purpose.COMPLAINT_RESPONSE: "Complaint response",
    Purpose.MEETING_MINUTES: "Meeting minutes",
    Purpose.GENERAL: "General",
}

# Seed 000 table 4 step 1: "Create a record in the Communication window with the following
# details: Type 'Phone Out', Reason 'PERS SERVICES', Category 'PS CUSTOMER CONTACT', Issue 'Blank'".
PS_STACKING_TYPE = "PHONE_OUT"
PS_STACKING_REASON = "PERS SERVICES"
PS_STACKING_CATEGORY = "PS CUSTOMER CONTACT"


def _derived(kind: str, source_id: UUID) -> UUID:
    return uuid.uuid5(CONTACTS_NAMESPACE, f"{kind}:{source_id}")


#: The log entry each source concerns. Notifications' events of one delivery update one entry
#: (dispatched → delivered or failed); a retry reuses it, a fallback is a new delivery.
ENTRY_ID: Mapping[type[Message], Callable[[Any], UUID]] = {
    RecordCommunication: lambda m: m.communication_id,
    NotificationDispatched: lambda m: _derived("delivery", m.delivery_id),
    NotificationDelivered: lambda m: _derived("delivery", m.delivery_id),
    NotificationDeliveryFailed: lambda m: _derived("delivery", m.delivery_id),
    SmsSuppressed: lambda m: _derived("suppressed-sms", m.notification_id),
    PSStackingDocumentCreated: lambda m: _derived("ps-stacking-document", m.document_id),
    ComplimentRecorded: lambda m: _derived("compliment", m.compliment_id),
}


def communication_id_for(message: Message) -> UUID:
    """The id of the log entry ``message`` concerns (derived from its source, so a redelivered
    source is logged once)."""
    entry_id = ENTRY_ID.get(type(message))
    if entry_id is None:
        raise TypeError(f"{message.MESSAGE_TYPE} is not logged")
    return entry_id(message)


def logged_event(state: CommunicationState) -> CommunicationLogged:
    """The entry as published: metadata only (an officer's free-form body stays in the store)."""
    return CommunicationLogged(
        communication_id=state.communication_id,
        kind=state.kind,
        direction=state.direction,
        source=state.source,
        status=state.status,
        case_id=state.case_id,
        subject=state.subject,
        template_id=state.template_id,
        template_version=state.template_version,
        source_message_id=state.source_message_id,
        reference_id=state.reference_id,
        communication_type=state.communication_type,
        communication_reason=state.communication_reason,
        communication_category=state.communication_category,
        communication_issue=state.communication_issue,
        origin=state.origin,
        origin_record_id=state.origin_record_id,
    )


def _entry(message: Message, now: datetime, facts: Facts, **fields: Any) -> CommunicationState:
    """A new entry for ``message``, first in its history."""
    communication_id = communication_id_for(message)
    new = CommunicationState(
        communication_id=communication_id,
        csid=facts.csid,
        source_message_id=facts.message_id,
        logged_at=now,
        updated_at=now,
        order_key=order_key(now, communication_id),
        **fields,
    )
    return new.model_copy(
        update={"history": (StatusChange(status=new.status, at=now, source_message_id=facts.message_id),)}
    )


def record_communication(
    state: CommunicationState | None, message: RecordCommunication, now: datetime, facts: Facts
) -> Decision:
    if state is not None:
        return state, []  # an entry is logged once; the same fact again changes nothing
    new = _entry(
        message,
        now,
        facts,
        case_id=message.case_id,
        kind=message.kind,
        direction=message.direction,
        source=CommunicationSource.OFFICER,
        status=CommunicationStatus.RECORDED,
        subject=message.subject,
        body=message.body,
        template_id=message.template_id,
        template_version=message.template_version,
        recorded_by=message.actor,
    )
    return new, [logged_event(new)]


def log_suppressed_sms(
    state: CommunicationState | None, message: SmsSuppressed, now: datetime, facts: Facts
) -> Decision:
    if state is not None:
        return state, []  # an entry is logged once; the same fact again changes nothing
    # Issue 5: nothing is dropped silently — a suppressed SMS is logged with its reasons.
    reasons = ", ".join(r.value for r in message.reasons)
    new = _entry(
        message,
        now,
        facts,
        kind=CommunicationKind.SMS,
        direction=Direction.OUTGOING,
        source=CommunicationSource.NOTIFICATIONS,
        status=CommunicationStatus.SUPPRESSED,
        subject=short(f"SMS not sent: {reasons}"),
        reference_id=message.notification_id,
        msp_id=message.msp_id,
    )
    return new, [logged_event(new)]


def log_stacking_document(
    state: CommunicationState | None, message: PSStackingDocumentCreated, now: datetime, facts: Facts
) -> Decision:
    if state is not None:
        return state, []  # an entry is logged once; the same fact again changes nothing
    # Seed 000 table 4 step 1: the stacking document is a communication record Phone Out /
    # PERS SERVICES / PS CUSTOMER CONTACT / Issue blank. "For international customers this
    # process is required to be completed in [the international system] under the Notes
    # section … this will copy across": the origin and its record id are kept.
    new = _entry(
        message,
        now,
        facts,
        kind=CommunicationKind.PHONE_CALL,
        direction=Direction.OUTGOING,
        source=CommunicationSource.REFERRALS,
        status=CommunicationStatus.RECORDED,
        subject="Personalised Services stacking document",
        body=message.notes,
        reference_id=message.document_id,
        communication_type=PS_STACKING_TYPE,
        communication_reason=PS_STACKING_REASON,
        communication_category=PS_STACKING_CATEGORY,
        communication_issue=None,
        origin=message.origin.value,
        origin_record_id=message.origin_record_id,
        recorded_by=message.actor,
    )
    return new, [logged_event(new)]


def log_compliment(
    state: CommunicationState | None, message: ComplimentRecorded, now: datetime, facts: Facts
) -> Decision:
    if state is not None:
        return state, []  # an entry is logged once; the same fact again changes nothing
    # Seed 003 table 3 step 1: "Record the compliment in the Communication window". Staff are
    # referred to by first name, site and team only (seed 003 table 1 step 2).
    about = {
        ComplimentSubject.STAFF_MEMBER: "a staff member",
        ComplimentSubject.TEAM: "a team",
        ComplimentSubject.SERVICE: "the service",
    }[message.about]
    if message.staff_member is not None:
        s = message.staff_member
        about = f"{s.first_name} ({s.site}, {s.team})"
    elif message.team is not None:
        about = f"team {message.team}"
    new = _entry(
        message,
        now,
        facts,
        kind=CommunicationKind.COMPLIMENT,
        direction=Direction.INCOMING,
        source=CommunicationSource.COMPLAINTS,
        status=CommunicationStatus.RECORDED,
        subject=short(f"Compliment about {about} ({message.channel.value.lower().replace('_', ' ')})"),
        body=message.details,
        reference_id=message.compliment_id,
        channel=message.channel.value,
        recorded_by=message.actor,
    )
    return new, [logged_event(new)]


# -- deliveries: one entry per delivery, its status following notifications' events (issue 5)


def _with_status(
    state: CommunicationState,
    status: CommunicationStatus,
    now: datetime,
    source_message_id: UUID | None,
    attempt: int | None,
    **changes: object,
) -> CommunicationState:
    change = StatusChange(status=status, at=now, source_message_id=source_message_id, attempt=attempt)
    return state.model_copy(
        update={
            "status": status,
            "updated_at": now,
            "source_message_id": source_message_id,
            "attempt": attempt if attempt is not None else state.attempt,
            "history": (*state.history, change),
            **changes,
        }
    )


def _new_delivery_entry(
    message: Delivery, status: CommunicationStatus, now: datetime, facts: Facts
) -> CommunicationState:
    communication_id = communication_id_for(message)
    return CommunicationState(
        communication_id=communication_id,
        csid=facts.csid,
        kind=CHANNEL_KIND[message.channel],
        direction=Direction.OUTGOING,
        source=CommunicationSource.NOTIFICATIONS,
        status=status,
        reference_id=message.notification_id,
        source_message_id=facts.message_id,
        channel=message.channel.value,
        attempt=message.attempt,
        logged_at=now,
        updated_at=now,
        order_key=order_key(now, communication_id),
        history=(
            StatusChange(status=status, at=now, source_message_id=facts.message_id, attempt=message.attempt),
        ),
    )


def log_dispatch(
    state: CommunicationState | None, message: NotificationDispatched, now: datetime, facts: Facts
) -> Decision:
    details = {
        "subject": PURPOSE_SUBJECT.get(message.purpose, message.purpose.value),
        "template_id": message.template_id,
        "template_version": message.template_version,
        "meeting_id": message.meeting_id,
        "msp_id": message.msp_id,
        "complaint_id": message.complaint_id,
    }
    if state is None:
        new = _new_delivery_entry(message, CommunicationStatus.DISPATCHED, now, facts)
        new = new.model_copy(update=details)
        return new, [logged_event(new)]
    # A retry reuses the delivery with a higher attempt; an older or repeated attempt is stale.
    if state.attempt is not None and message.attempt <= state.attempt:
        if state.subject is None:  # the outcome came first: fill in what the dispatch tells
            new = state.model_copy(update=details)
            return new, [logged_event(new)]
        return state, []
    new = _with_status(
        state, CommunicationStatus.DISPATCHED, now, facts.message_id, message.attempt, **details
    )
    return new, [logged_event(new)]


def _delivery_outcome(
    state: CommunicationState | None,
    message: NotificationDelivered | NotificationDeliveryFailed,
    status: CommunicationStatus,
    now: datetime,
    facts: Facts,
) -> Decision:
    if state is None:
        new = _new_delivery_entry(message, status, now, facts)
        return new, [logged_event(new)]
    # Issue 5: a duplicate or late receipt changes nothing — a delivered item stays delivered,
    # and an outcome for an earlier attempt than the latest dispatch is stale.
    if state.status is CommunicationStatus.DELIVERED or state.status is status:
        return state, []
    if state.attempt is not None and message.attempt < state.attempt:
        return state, []
    new = _with_status(state, status, now, facts.message_id, message.attempt)
    return new, [logged_event(new)]


def log_delivered(
    state: CommunicationState | None, message: NotificationDelivered, now: datetime, facts: Facts
) -> Decision:
    return _delivery_outcome(state, message, CommunicationStatus.DELIVERED, now, facts)


def log_delivery_failed(
    state: CommunicationState | None, message: NotificationDeliveryFailed, now: datetime, facts: Facts
) -> Decision:
    return _delivery_outcome(state, message, CommunicationStatus.FAILED, now, facts)
