"""Seed 001 table 1 step 1: intake — a contact is recorded, correspondence opens an intray item,
a caller is warm-transferred, an intray item is re-categorised or closed."""

from __future__ import annotations

from datetime import datetime

from contracts.catalogue.referrals import (
    CloseIntrayItem,
    ContactChannel,
    ContactWarmTransferred,
    CustomerContactRecorded,
    IntrayItemClosed,
    IntrayItemOpened,
    IntrayItemRecategorised,
    RecategoriseIntrayItem,
    RecordCustomerContact,
    ReferralsReasonCode,
    WarmTransferContact,
)
from kit.spec import Refused
from services.referrals.domain.base import Output
from services.referrals.domain.intake import (
    Contact,
    IntrayItem,
    Recategorisation,
    WarmTransfer,
    by,
    open_contact,
    open_intray_item,
    pruned,
    with_contact,
    with_intray_item,
)
from services.referrals.domain.state import Context, CustomerFile, Decided


def record_customer_contact(
    file: CustomerFile, cmd: RecordCustomerContact, now: datetime, ctx: Context
) -> Decided:
    # A contact concerns a customer the customer system told us about (as a lock does).
    if not file.known:
        raise Refused(ReferralsReasonCode.UNKNOWN_CUSTOMER, "The customer is not known.")
    if str(cmd.contact_id) in file.intake.contacts:
        raise Refused(ReferralsReasonCode.INVALID_STATE, "The contact id was used before.")
    if cmd.intray_item_id is not None and str(cmd.intray_item_id) in file.intake.intray_items:
        raise Refused(ReferralsReasonCode.INVALID_STATE, "The intray item id was used before.")
    contact = Contact(
        contact_id=cmd.contact_id,
        channel=cmd.channel,
        party=cmd.party,
        received_in_area=cmd.received_in_area,
        current_area=cmd.received_in_area,
        misdirected=cmd.misdirected,
        intray_item_id=cmd.intray_item_id,
        summary=cmd.summary,
        opened_by=cmd.actor.officer_id,
        opened_at=now,
    )
    intake = with_contact(file.intake, contact)
    events: list[Output] = [
        CustomerContactRecorded(
            contact_id=cmd.contact_id,
            actor=cmd.actor,
            channel=cmd.channel,
            party=cmd.party,
            received_in_area=cmd.received_in_area,
            misdirected=cmd.misdirected,
            summary=cmd.summary,
        )
    ]
    if cmd.intray_item_id is not None:
        # "When a customer or representative sends written correspondence via fax, email or post":
        # it is worked from an intray item.
        item = IntrayItem(
            intray_item_id=cmd.intray_item_id,
            contact_id=cmd.contact_id,
            channel=cmd.channel,
            category=cmd.intray_category,
            opened_at=now,
        )
        intake = with_intray_item(intake, item)
        events.append(
            IntrayItemOpened(
                contact_id=cmd.contact_id,
                actor=cmd.actor,
                intray_item_id=cmd.intray_item_id,
                channel=cmd.channel,
                category=cmd.intray_category,
            )
        )
    return file.with_intake(intake), events


def warm_transfer_contact(
    file: CustomerFile, cmd: WarmTransferContact, now: datetime, ctx: Context
) -> Decided:
    contact = open_contact(file.intake, cmd.contact_id)
    # A warm transfer hands a caller over in person; correspondence is re-categorised instead.
    if contact.channel is not ContactChannel.PHONE:
        raise Refused(ReferralsReasonCode.INVALID_STATE, "Only a phone contact is warm-transferred.")
    if cmd.to_area == contact.current_area:
        raise Refused(ReferralsReasonCode.INVALID_STATE, "The contact is already in that area.")
    # The interaction continues in the receiving area, which completes it (its MCA included).
    transfer = WarmTransfer(
        from_area=contact.current_area, to_area=cmd.to_area, reason=cmd.reason, **by(cmd.actor, now)
    )
    moved = contact.model_copy(
        update={"current_area": cmd.to_area, "transfers": [*contact.transfers, transfer]}
    )
    transferred = ContactWarmTransferred(
        contact_id=cmd.contact_id,
        actor=cmd.actor,
        from_area=contact.current_area,
        to_area=cmd.to_area,
        reason=cmd.reason,
    )
    return file.with_intake(with_contact(file.intake, moved)), [transferred]


def recategorise_intray_item(
    file: CustomerFile, cmd: RecategoriseIntrayItem, now: datetime, ctx: Context
) -> Decided:
    # "Do not re categorise … correspondence received intrays inappropriately": a reason is
    # required (by the command) and every change stays on the item's audit trail.
    item = open_intray_item(file.intake, cmd.intray_item_id)
    if cmd.category == item.category:
        raise Refused(ReferralsReasonCode.INVALID_STATE, "The intray item already has that category.")
    change = Recategorisation(
        from_category=item.category, to_category=cmd.category, reason=cmd.reason, **by(cmd.actor, now)
    )
    changed = item.model_copy(
        update={"category": cmd.category, "recategorisations": [*item.recategorisations, change]}
    )
    recategorised = IntrayItemRecategorised(
        intray_item_id=cmd.intray_item_id,
        from_category=item.category,
        to_category=cmd.category,
        reason=cmd.reason,
        actor=cmd.actor,
    )
    return file.with_intake(with_intray_item(file.intake, changed)), [recategorised]


def close_intray_item(file: CustomerFile, cmd: CloseIntrayItem, now: datetime, ctx: Context) -> Decided:
    item = open_intray_item(file.intake, cmd.intray_item_id)
    # "Delete intray after all issues raised have been addressed": closing correspondence no
    # issue was identified from would be an inappropriate deletion.
    if not item.issue_ids:
        raise Refused(
            ReferralsReasonCode.NO_ISSUES_IDENTIFIED, "No issue has been identified from this correspondence."
        )
    # An issue no longer in the document was finalised long ago (only finalised ones are dropped).
    outstanding = [
        issue_id
        for issue_id in item.issue_ids
        if (issue := file.intake.issues.get(str(issue_id))) is not None and not issue.finalised
    ]
    if outstanding:
        raise Refused(
            ReferralsReasonCode.INTRAY_ISSUES_OUTSTANDING,
            f"{len(outstanding)} issue(s) raised by this correspondence are not finalised yet.",
        )
    closed = item.model_copy(update={"closed_at": now, "closed_by": cmd.actor.officer_id})
    intake = pruned(with_intray_item(file.intake, closed))
    return file.with_intake(intake), [IntrayItemClosed(intray_item_id=cmd.intray_item_id, actor=cmd.actor)]
