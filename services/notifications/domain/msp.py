"""The MSP contact workflow (seed 002 steps 1-4): phone the customer, send the letter with the
contact card, release the MSP SMS that waited for it, and record each result on the MSP.

Issue 20 item 3: the phone call comes first and an unsuccessful one offers the MSP SMS; a missing
postal address holds only the letter (the officer is asked to obtain one) until one is recorded.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from contracts.catalogue.channels import Channel, PhoneOutcome, PhoneTaskOutcomeReported, Purpose, Recipient
from contracts.catalogue.customers import CustomerContactDetailsChanged, Representative
from contracts.catalogue.msp import MSPStatus
from contracts.catalogue.notifications import (
    MSPContactResultRecorded,
    MSPContactStarted,
    MSPContactStep,
    MSPIncidentRaised,
    MSPPostalAddressRequired,
    MSPSmsOptionOffered,
    NotificationsReasonCode,
    StartMSPContact,
)
from kit.spec import Refused
from services.notifications import templates as tpl
from services.notifications.domain.customer import contact_details_changed, postal_for, representative_to_call
from services.notifications.domain.rendering import (
    ENCLOSURE,
    customer_values,
    msp_values,
    render,
    service_template,
    template,
)
from services.notifications.domain.sending import dispatch, send_sms
from services.notifications.domain.state import (
    ContactCardState,
    CustomerState,
    Decision,
    DeliveryState,
    Facts,
    MspContact,
    Notification,
    Turn,
)


def start_msp_contact(state: CustomerState, cmd: StartMSPContact, now: datetime, facts: Facts) -> Decision:
    s = state
    msp_id = str(cmd.msp_id)
    if not s.registered:
        raise Refused(NotificationsReasonCode.UNKNOWN_CUSTOMER, "The customer is not known.")
    if msp_id in s.msps:
        raise Refused(NotificationsReasonCode.MSP_ALREADY_STARTED, "Contact for this MSP has started.")
    if s.approved_msps.get(msp_id) != str(cmd.approval_request_id):
        raise Refused(NotificationsReasonCode.MSP_NOT_APPROVED, "No accepted approval for this MSP.")
    record = s.msp_records.get(msp_id)
    if record is not None and record.status is not MSPStatus.APPROVED:
        # Issue 20 item 1: a recorded MSP's contact starts once every approval stage is accepted.
        raise Refused(
            NotificationsReasonCode.MSP_NOT_APPROVED, "The MSP's approval stages are not all accepted."
        )
    # Seed 002 step 3: "Ensure that only the final approved letter is attached to the MSP".
    templates = facts.policy.templates
    letter_template = template(templates, cmd.letter_template_id, cmd.letter_template_version, Channel.LETTER)
    final = templates.final_approved(cmd.letter_template_id)
    if final is None or final.version != letter_template.version:
        raise Refused(
            NotificationsReasonCode.TEMPLATE_NOT_APPROVED,
            "Only the final approved version of the MSP letter may be sent.",
        )
    t = Turn(state, now, facts)
    # Issue 20 item 1: a recorded MSP's letter says what was approved: the record's reasons,
    # duration and contact card (the command's copies serve MSPs approved without a record).
    card = record.contact_card if record is not None else cmd.contact_card
    msp = MspContact(
        msp_id=msp_id,
        approval_request_id=str(cmd.approval_request_id),
        letter_template_id=letter_template.template_id,
        letter_template_version=letter_template.version,
        contact_card=ContactCardState(
            kind=card.kind,
            first_name=card.first_name,
            phone_number=card.phone_number,
            urgent_voicemail=card.urgent_voicemail,
        ),
        letter_delivery=cmd.letter_delivery,
        reasons_summary=record.reasons_summary if record is not None else cmd.reasons_summary,
        duration_days=record.duration_days if record is not None else cmd.duration_days,
        letter_notification_id=str(uuid.uuid5(cmd.msp_id, "msp-letter")),
        started_by=cmd.actor.officer_id,
    )
    # Checked now, so a letter that waits for an address cannot fail to render later.
    render(letter_template, {**customer_values(s), **msp_values(msp)})
    t.emit(
        MSPContactStarted(
            msp_id=cmd.msp_id,
            approval_request_id=cmd.approval_request_id,
            letter_template_id=letter_template.template_id,
            letter_template_version=letter_template.version,
            actor=cmd.actor,
        )
    )
    t.state = t.state.with_msp(msp)

    # Seed 002 step 1: "Phone the customer".
    number = s.phone_number or s.mobile_number
    if number is not None and s.given_name is not None:
        phone_notification_id = str(uuid.uuid5(cmd.msp_id, "msp-phone"))
        msp = msp.model_copy(update={"phone_notification_id": phone_notification_id})
        t.state = t.state.with_msp(msp)
        phone_task(t, msp, phone_notification_id, Recipient.CUSTOMER, s.given_name, number)
    else:
        t.emit(
            MSPContactResultRecorded(
                msp_id=cmd.msp_id,
                step=MSPContactStep.PHONE,
                contacted=Recipient.CUSTOMER,
                phone_outcome=PhoneOutcome.NOT_REACHED,
                note="No phone number is recorded for the customer.",
            )
        )
        # Seed 002 step 1: "where phone contact is unsuccessful, consider sending an MSP SMS".
        t.emit(
            MSPSmsOptionOffered(
                msp_id=cmd.msp_id, phone_outcome=PhoneOutcome.NOT_REACHED, officer_id=cmd.actor.officer_id
            )
        )

    # Seed 002 step 3: "Customers must be advised of their MSP in writing". Issue 20 item 3: a
    # missing postal address does not stop the phone call; only the letter waits, and the officer
    # is asked to obtain one.
    if postal_for(t.state, Recipient.CUSTOMER) is None:
        t.state = t.state.with_msp(msp.model_copy(update={"letter_waits_for_address": True}))
        t.emit(MSPPostalAddressRequired(msp_id=cmd.msp_id, officer_id=cmd.actor.officer_id))
    else:
        send_msp_letter(t, t.state.msps[msp_id])

    # Seed 002 step 2: "prompt message delivery with limited text is warranted ahead of sending
    # more detailed information in an MSP letter". The letter is now requested, so every MSP SMS
    # that waited for it meets the guard again, on the customer's state as it is now (issue 20
    # item 2: ahead of the letter where it waits for an address, never instead of it).
    for waiting in list(t.state.notifications.values()):
        if waiting.held and waiting.msp_id == msp_id:
            send_sms(t, waiting.model_copy(update={"held": False}), at_send_time=True)
    return t.decision()


def send_msp_letter(t: Turn, msp: MspContact) -> None:
    """Seed 002 step 3: the MSP letter, at the start or once a postal address is recorded."""
    address = postal_for(t.state, Recipient.CUSTOMER)
    assert address is not None  # checked by the caller
    msp = msp.model_copy(update={"letter_waits_for_address": False})
    t.state = t.state.with_msp(msp)
    letter_template = template(
        t.policy.templates, msp.letter_template_id, msp.letter_template_version, Channel.LETTER
    )
    letter = render(letter_template, {**customer_values(t.state), **msp_values(msp)})
    # Seed 002 step 3: the letter, always, with the OMC/PSSO contact card; posted, or hand
    # delivered by local police where arranged; never by staff (LetterDelivery has no such value).
    addressee, postal_address = address
    notification = Notification(
        notification_id=msp.letter_notification_id,
        channel=Channel.LETTER,
        purpose=Purpose.MSP_LETTER,
        msp_id=msp.msp_id,
    )
    dispatch(
        t,
        notification,
        Channel.LETTER,
        letter,
        addressee=addressee,
        postal_address=postal_address.model_dump(mode="json"),
        body=letter.body,
        enclosures=[ENCLOSURE[msp.contact_card.kind]],
        delivery=msp.letter_delivery,
    )


def contact_details_changed_then_letters(
    state: CustomerState, event: CustomerContactDetailsChanged, now: datetime, facts: Facts
) -> Decision:
    """The new contact details; then (issue 20 item 3) every MSP letter that waited for a postal
    address goes out once one is recorded."""
    changed, _ = contact_details_changed(state, event, now, facts)
    assert changed is not None
    state = changed
    waiting = [m for m in state.msps.values() if m.letter_waits_for_address]
    if not waiting or postal_for(state, Recipient.CUSTOMER) is None:
        return state, []
    t = Turn(state, now, facts)
    for msp in waiting:
        send_msp_letter(t, msp)
    return t.decision()


def phone_task(
    t: Turn, msp: MspContact, notification_id: str, recipient: Recipient, name: str, number: str
) -> None:
    script_template = service_template(t.policy.templates, tpl.PHONE_SCRIPT)
    script = render(script_template, {**customer_values(t.state), **msp_values(msp), "contact_name": name})
    notification = Notification(
        notification_id=notification_id,
        channel=Channel.PHONE,
        purpose=Purpose.MSP_PHONE_CALL,
        recipient=recipient,
        msp_id=msp.msp_id,
    )
    dispatch(
        t,
        notification,
        Channel.PHONE,
        script,
        phone_number=number,
        contact_name=name,
        talking_points=script.body,
        msp_id=msp.msp_id,
    )


def phone_task_outcome(
    state: CustomerState, report: PhoneTaskOutcomeReported, now: datetime, facts: Facts
) -> Decision:
    delivery = state.deliveries.get(str(report.delivery_id))
    if delivery is None or delivery.channel is not Channel.PHONE:
        return state, []
    if not (delivery.awaits_receipt(report.attempt) or delivery.late_after_timeout(report.attempt)):
        # Issue 5: a duplicate or late report changes nothing — but (issue 18) a call made after
        # its task timed out, before the task went out again, is the call that was asked for.
        return state, []
    t = Turn(state.with_delivery(delivery.model_copy(update={"state": DeliveryState.COMPLETED})), now, facts)
    notification = state.notifications[delivery.notification_id]
    msp = state.msps.get(notification.msp_id or "")
    if msp is None:
        return t.decision()
    msp_uuid = uuid.UUID(msp.msp_id)
    note = report.notes[:500] if report.notes else None
    representative: Representative | None = None
    not_appropriate = report.outcome is PhoneOutcome.NOT_APPROPRIATE_TO_PHONE
    if not_appropriate and notification.recipient is Recipient.CUSTOMER:
        # Seed 002 step 1: "Wherever possible contact the customer's Power of Attorney, nominee
        # or person permitted to enquire where a decision is made not to contact the customer".
        representative = representative_to_call(state)
        if representative is None:
            note = (
                "No Power of Attorney, nominee or person permitted to enquire with a phone number "
                "is recorded."
            )
    # Seed 002 step 4: record the result of the contact on the MSP record.
    t.emit(
        MSPContactResultRecorded(
            msp_id=msp_uuid,
            step=MSPContactStep.PHONE,
            delivery_id=report.delivery_id,
            contacted=report.spoke_with or notification.recipient,
            phone_outcome=report.outcome,
            note=note,
        )
    )
    unsuccessful = report.outcome in (PhoneOutcome.NOT_REACHED, PhoneOutcome.UNPRODUCTIVE)
    if unsuccessful and notification.recipient is Recipient.CUSTOMER:
        # Seed 002 step 1: "where phone contact is unsuccessful, consider sending an MSP SMS";
        # step 2: "customer cannot be contacted by phone" / "telephone discussion with the
        # customer was unproductive". Offered to the officer, on their work list (casework).
        t.emit(
            MSPSmsOptionOffered(
                msp_id=msp_uuid,
                phone_outcome=report.outcome,
                delivery_id=report.delivery_id,
                officer_id=report.officer_id or msp.started_by,
            )
        )
    if report.aggression_displayed:
        # Seed 002 step 1: "If the customer displays aggression … Record a new incident and
        # link it to the MSP."
        t.emit(
            MSPIncidentRaised(
                incident_id=uuid.uuid5(report.delivery_id, f"incident-{report.attempt}"),
                msp_id=msp_uuid,
                delivery_id=report.delivery_id,
                description="Aggression or counterproductive behaviour displayed during the MSP phone call.",
                officer_id=report.officer_id,
            )
        )
    if (
        representative is not None
        and representative.phone_number is not None
        and msp.representative_notification_id is None  # once per MSP
    ):
        representative_notification_id = str(uuid.uuid5(msp_uuid, "msp-phone-representative"))
        msp = msp.model_copy(update={"representative_notification_id": representative_notification_id})
        t.state = t.state.with_msp(msp)
        phone_task(
            t,
            msp,
            representative_notification_id,
            Recipient(representative.kind.value),
            representative.name,
            representative.phone_number,
        )
    return t.decision()
