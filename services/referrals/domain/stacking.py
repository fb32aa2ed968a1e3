"""Seed 000 table 4: the PS stacking document (a communication record) and its notes."""

from __future__ import annotations

from datetime import datetime

from contracts.catalogue.referrals import (
    AddPSStackingDocumentNote,
    CreatePSStackingDocument,
    PSStackingDocumentCreated,
    PSStackingDocumentNoteAdded,
    ReferralsReasonCode,
    StackingDocumentOrigin,
)
from kit.spec import Refused
from services.referrals.domain.referral import current
from services.referrals.domain.state import Context, CustomerFile, Decided, StackingDocument, Stage


def create_ps_stacking_document(
    file: CustomerFile, cmd: CreatePSStackingDocument, now: datetime, ctx: Context
) -> Decided:
    found = current(file, cmd.referral_id, cmd.actor, stages=tuple(Stage), same_team=False)
    if str(cmd.document_id) in file.documents:
        raise Refused(ReferralsReasonCode.INVALID_STATE, "The document already exists.")
    # Seed 000 table 4 step 1: "For international customers this process is required to be
    # completed in [the international system] under the Notes section … this will copy across" —
    # an international customer's document comes from there, a domestic one from Casemesh.
    international = file.facts is not None and file.facts.is_international
    expected = (
        StackingDocumentOrigin.INTERNATIONAL_NOTES if international else StackingDocumentOrigin.CASEMESH
    )
    if cmd.origin is not expected:
        raise Refused(
            ReferralsReasonCode.ORIGIN_MISMATCH,
            f"This customer's stacking document must originate in {expected.value}.",
        )
    document = StackingDocument(
        document_id=cmd.document_id,
        referral_id=found.referral_id,
        origin=cmd.origin,
        origin_record_id=cmd.origin_record_id,
        notes=[cmd.notes] if cmd.notes else [],
        created_at=now,
    )
    # Type 'Phone Out', Reason 'PERS SERVICES', Category 'PS CUSTOMER CONTACT', Issue blank:
    # the event's fixed fields; the origin is kept on the record.
    created = PSStackingDocumentCreated(
        referral_id=found.referral_id,
        actor=cmd.actor,
        document_id=cmd.document_id,
        origin=cmd.origin,
        origin_record_id=cmd.origin_record_id,
        notes=cmd.notes,
    )
    documents = {**file.documents, str(cmd.document_id): document}
    return file.model_copy(update={"documents": documents}), [created]


def add_ps_stacking_document_note(
    file: CustomerFile, cmd: AddPSStackingDocumentNote, now: datetime, ctx: Context
) -> Decided:
    # Seed 000 table 4 step 2: add notes to the stacking document.
    document = file.documents.get(str(cmd.document_id))
    if document is None:
        raise Refused(ReferralsReasonCode.UNKNOWN_DOCUMENT, "No such stacking document.")
    noted = document.model_copy(update={"notes": [*document.notes, cmd.text]})
    added = PSStackingDocumentNoteAdded(
        referral_id=document.referral_id, actor=cmd.actor, document_id=cmd.document_id, text=cmd.text
    )
    return file.model_copy(update={"documents": {**file.documents, str(cmd.document_id): noted}}), [added]
