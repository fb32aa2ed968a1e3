"""The MSP record and its lifecycle (issue 20 item 1; seed 002 step 4 and its task cards):
proposed or provisional → approved (through approvals) → active (its contact started) → under
review at its review date → continued, ended, or expired at the end of its duration.

Every rule of the notifications service is wrapped by :func:`recorded`, which writes onto the
record what the MSP's contact workflow published (results, the letter, incidents), so the record
is the one place an officer reads an MSP's story.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from contracts.base import Actor
from contracts.catalogue.approvals import ApprovalAccepted, ApprovalRejected, SubjectType
from contracts.catalogue.channels import Purpose
from contracts.catalogue.msp import (
    AddMSPNote,
    EndMSP,
    ExpireMSP,
    MSPActivated,
    MSPApprovalStageAccepted,
    MSPApproved,
    MSPEnded,
    MSPEndReason,
    MSPExpired,
    MSPNoteAdded,
    MSPProposed,
    MSPReasonCode,
    MSPReviewed,
    MSPReviewOutcome,
    MSPReviewStarted,
    MSPStatus,
    ProposeMSP,
    RecordMSPReview,
    StartMSPReview,
)
from contracts.catalogue.notifications import (
    MSPContactResultRecorded,
    MSPContactStarted,
    MSPIncidentRaised,
    MSPPostalAddressRequired,
    MSPSmsOptionOffered,
    NotificationDispatched,
    SmsSuppressed,
)
from kit.spec import Refused
from kit.timers import Deferred
from services.notifications.domain import customer
from services.notifications.domain.customer import canonical
from services.notifications.domain.records import (
    CLOSED,
    MspApproval,
    MspCard,
    MspContactResult,
    MspLetter,
    MspNote,
    MspRecord,
    MspRestriction,
)
from services.notifications.domain.state import CustomerState, Decision, Facts, Output

Changed = tuple[CustomerState, list[Output]]

TIMER_ACTOR = Actor.system("notifications-msp")

#: Seed 002 step 1: "Do not summarise the customer's behaviours as 'inappropriate' or
#: 'aggressive' without explaining why". A summary whose every meaningful word is one of these
#: explains nothing.
_UNEXPLAINED = frozenset(
    {"aggressive", "aggressively", "aggression", "inappropriate", "inappropriately", "inappropriateness"}
)
_FILLER = frozenset(
    (
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "very",
        "extremely",
        "quite",
        "too",
        "customer",
        "customers",
        "customer's",
        "is",
        "was",
        "were",
        "been",
        "being",
        "be",
        "has",
        "have",
        "had",
        "their",
        "his",
        "her",
        "they",
        "he",
        "she",
        "them",
        "behaviour",
        "behaviours",
        "behavior",
        "behaviors",
        "behaved",
        "conduct",
        "displayed",
        "displaying",
        "display",
        "shown",
        "showed",
        "s",
    )
)


def explains_nothing(summary: str) -> bool:
    words = set(re.findall(r"[a-z']+", summary.lower())) - _FILLER
    return words <= _UNEXPLAINED


def _record(state: CustomerState, msp_id: uuid.UUID) -> MspRecord:
    record = state.msp_records.get(str(msp_id))
    if record is None:
        raise Refused(MSPReasonCode.UNKNOWN_MSP, "No such MSP is recorded for the customer.", msp_id=msp_id)
    return record


def _in_force(record: MspRecord) -> None:
    if record.status in CLOSED:
        raise Refused(
            MSPReasonCode.MSP_NOT_IN_FORCE,
            f"The MSP has {record.status.value.lower()}.",
            msp_id=uuid.UUID(record.msp_id),
        )


# -------------------------------------------------------------------------- proposed, approved


def propose_msp(state: CustomerState, cmd: ProposeMSP, now: datetime, facts: Facts) -> Decision:
    if not state.registered:
        raise Refused(MSPReasonCode.UNKNOWN_CUSTOMER, "The customer is not known.", msp_id=cmd.msp_id)
    if cmd.review_after_days > cmd.duration_days:
        raise Refused(
            MSPReasonCode.REVIEW_AFTER_EXPIRY, "The review date is after the MSP expires.", msp_id=cmd.msp_id
        )
    if explains_nothing(cmd.reasons_summary):
        raise Refused(
            MSPReasonCode.REASONS_NOT_EXPLAINED,
            "The reasons must describe the behaviours considered, not only call them "
            "'inappropriate' or 'aggressive' (seed 002 step 1).",
            msp_id=cmd.msp_id,
        )
    card = cmd.contact_card
    record = MspRecord(
        msp_id=str(cmd.msp_id),
        status=MSPStatus.PROVISIONAL if cmd.provisional else MSPStatus.PROPOSED,
        provisional=cmd.provisional,
        reasons_summary=cmd.reasons_summary,
        duration_days=cmd.duration_days,
        review_after_days=cmd.review_after_days,
        channel_restrictions=tuple(
            MspRestriction(channel=r.channel, access=r.access, conditions=r.conditions)
            for r in cmd.channel_restrictions
        ),
        contact_card=MspCard(
            kind=card.kind,
            first_name=card.first_name,
            phone_number=card.phone_number,
            urgent_voicemail=card.urgent_voicemail,
        ),
        owner_officer_id=cmd.actor.officer_id,
        owner_team=cmd.actor.team,
    )
    # Task card "Approving a Managed Service Plan (MSP) with Service Channel Restrictions": an
    # MSP that restricts a channel is approved in two stages (two approvers, one chain).
    record = record.model_copy(update={"approval_stages": 2 if record.restricts_a_channel else 1})
    earlier = state.msp_records.get(record.msp_id)
    if earlier is not None:
        if earlier.model_copy(update={"status": record.status, "history": ()}) == record:
            return state, []  # the same proposal again
        raise Refused(
            MSPReasonCode.MSP_ALREADY_PROPOSED, "An MSP with this id has other details.", msp_id=cmd.msp_id
        )
    record = record.noted(now, "MSPProposed", cmd.actor.officer_id, record.status.value)
    event = MSPProposed(
        msp_id=cmd.msp_id,
        status=record.status,
        duration_days=record.duration_days,
        review_after_days=record.review_after_days,
        channel_restrictions=cmd.channel_restrictions,
        approval_stages=record.approval_stages,
        proposed_by=cmd.actor,
    )
    return state.with_record(record), [event]


def approval_decided(
    state: CustomerState, event: ApprovalAccepted | ApprovalRejected, now: datetime
) -> Changed:
    """An approvals decision on an MSP the customer has a record of."""
    if event.subject_type is not SubjectType.MSP:
        return state, []
    record = state.msp_records.get(canonical(event.subject_id))
    if record is None or record.status not in (MSPStatus.PROPOSED, MSPStatus.PROVISIONAL):
        return state, []
    request_id, approver = str(event.request_id), event.decided_by.officer_id
    msp_id = uuid.UUID(record.msp_id)
    if isinstance(event, ApprovalRejected):
        record = record.model_copy(update={"status": MSPStatus.ENDED})
        record = record.noted(now, "MSPEnded", approver, MSPEndReason.NOT_APPROVED.value)
        ended = MSPEnded(msp_id=msp_id, reason_code=MSPEndReason.NOT_APPROVED, actor=event.decided_by)
        return state.with_record(record), [ended]
    if any(a.request_id == request_id or a.approved_by == approver for a in record.approvals):
        return state, []  # the same stage again, or one approver for two stages: not a stage
    approvals = (*record.approvals, MspApproval(request_id=request_id, approved_by=approver))
    record = record.model_copy(update={"approvals": approvals})
    if len(approvals) < record.approval_stages:
        record = record.noted(now, "MSPApprovalStageAccepted", approver, f"stage {len(approvals)}")
        accepted = MSPApprovalStageAccepted(
            msp_id=msp_id, request_id=event.request_id, stage=len(approvals), stages=record.approval_stages
        )
        return state.with_record(record), [accepted]
    record = record.model_copy(update={"status": MSPStatus.APPROVED}).noted(now, "MSPApproved", approver)
    return state.with_record(record), [MSPApproved(msp_id=msp_id, request_id=event.request_id)]


def approval_accepted(state: CustomerState, event: ApprovalAccepted, now: datetime, facts: Facts) -> Decision:
    accepted, outputs = customer.approval_accepted(state, event, now, facts)
    assert accepted is not None
    decided, more = approval_decided(accepted, event, now)
    return decided, [*outputs, *more]


def approval_rejected(state: CustomerState, event: ApprovalRejected, now: datetime, facts: Facts) -> Decision:
    return approval_decided(state, event, now)


# -------------------------------------------------------------------------- active, reviewed


def _dates(record: MspRecord, starts: datetime, days: int) -> tuple[MspRecord, list[Output]]:
    """In force from ``starts`` for ``days``: reviewed as many days before it expires as the
    proposal said, and never before the next day; a durable timer for each date."""
    expires_at = starts + timedelta(days=days)
    lead = timedelta(days=record.duration_days - record.review_after_days)
    review_at = min(expires_at, max(starts + timedelta(days=1), expires_at - lead))
    record = record.model_copy(update={"review_at": review_at, "expires_at": expires_at})
    msp_id = uuid.UUID(record.msp_id)
    stamp = expires_at.strftime("%Y%m%dT%H%M%S")
    timers: list[Output] = [
        Deferred(
            StartMSPReview(actor=TIMER_ACTOR, msp_id=msp_id, review_at=review_at),
            review_at,
            f"msp-review:{record.msp_id}:{stamp}",
        ),
        Deferred(
            ExpireMSP(actor=TIMER_ACTOR, msp_id=msp_id, expires_at=expires_at),
            expires_at,
            f"msp-expiry:{record.msp_id}:{stamp}",
        ),
    ]
    return record, timers


def activated(state: CustomerState, record: MspRecord, now: datetime, actor: Actor) -> Changed:
    """Seed 002 "Implementing the Managed Service Plan": the MSP is in force from its contact's start."""
    record, timers = _dates(record, now, record.duration_days)
    record = record.model_copy(update={"status": MSPStatus.ACTIVE}).noted(
        now, "MSPActivated", actor.officer_id
    )
    assert record.review_at is not None and record.expires_at is not None
    event = MSPActivated(
        msp_id=uuid.UUID(record.msp_id), review_at=record.review_at, expires_at=record.expires_at
    )
    return state.with_record(record), [event, *timers]


def start_msp_review(state: CustomerState, cmd: StartMSPReview, now: datetime, facts: Facts) -> Decision:
    record = state.msp_records.get(str(cmd.msp_id))
    if record is None or record.status is not MSPStatus.ACTIVE or record.review_at != cmd.review_at:
        return state, []  # continued, ended or reviewed since the timer was armed
    assert record.expires_at is not None
    record = record.model_copy(update={"status": MSPStatus.UNDER_REVIEW}).noted(now, "MSPReviewStarted")
    due = MSPReviewStarted(
        msp_id=cmd.msp_id,
        officer_id=record.owner_officer_id,
        team=record.owner_team,
        expires_at=record.expires_at,
    )
    return state.with_record(record), [due]


def expire_msp(state: CustomerState, cmd: ExpireMSP, now: datetime, facts: Facts) -> Decision:
    record = state.msp_records.get(str(cmd.msp_id))
    in_force = record is not None and record.status in (MSPStatus.ACTIVE, MSPStatus.UNDER_REVIEW)
    if record is None or not in_force or record.expires_at != cmd.expires_at:
        return state, []
    record = record.model_copy(update={"status": MSPStatus.EXPIRED}).noted(now, "MSPExpired")
    return state.with_record(record), [MSPExpired(msp_id=cmd.msp_id)]


def record_msp_review(state: CustomerState, cmd: RecordMSPReview, now: datetime, facts: Facts) -> Decision:
    record = _record(state, cmd.msp_id)
    _in_force(record)
    if record.status is not MSPStatus.UNDER_REVIEW:
        raise Refused(
            MSPReasonCode.NOT_UNDER_REVIEW, "The MSP's review date has not come.", msp_id=cmd.msp_id
        )
    by = cmd.actor.officer_id
    if cmd.outcome is MSPReviewOutcome.END:
        record = record.model_copy(update={"status": MSPStatus.ENDED}).noted(now, "MSPEnded", by, cmd.reason)
        ended = MSPEnded(msp_id=cmd.msp_id, reason_code=MSPEndReason.ENDED_AT_REVIEW, actor=cmd.actor)
        return state.with_record(record), [ended]
    assert cmd.further_days is not None
    record, timers = _dates(record, now, cmd.further_days)
    record = record.model_copy(update={"status": MSPStatus.ACTIVE}).noted(now, "MSPReviewed", by, cmd.reason)
    assert record.review_at is not None and record.expires_at is not None
    reviewed = MSPReviewed(
        msp_id=cmd.msp_id, review_at=record.review_at, expires_at=record.expires_at, actor=cmd.actor
    )
    return state.with_record(record), [reviewed, *timers]


def end_msp(state: CustomerState, cmd: EndMSP, now: datetime, facts: Facts) -> Decision:
    record = _record(state, cmd.msp_id)
    _in_force(record)
    record = record.model_copy(update={"status": MSPStatus.ENDED})
    record = record.noted(now, "MSPEnded", cmd.actor.officer_id, cmd.reason)
    ended = MSPEnded(msp_id=cmd.msp_id, reason_code=MSPEndReason.ENDED_BY_OFFICER, actor=cmd.actor)
    return state.with_record(record), [ended]


def add_msp_note(state: CustomerState, cmd: AddMSPNote, now: datetime, facts: Facts) -> Decision:
    """Seed 002 step 3: "In some serious cases, the letter may be hand delivered by the local
    Police (where these arrangements exist). Record this in the MSP notes.\""""
    record = _record(state, cmd.msp_id)
    if any(n.note_id == str(cmd.note_id) for n in record.notes):
        return state, []
    note = MspNote(note_id=str(cmd.note_id), at=now, by=cmd.actor.officer_id, text=cmd.text)
    record = record.model_copy(update={"notes": (*record.notes, note)})
    record = record.noted(now, "MSPNoteAdded", cmd.actor.officer_id)
    return state.with_record(record), [MSPNoteAdded(msp_id=cmd.msp_id, note_id=cmd.note_id, actor=cmd.actor)]


# -------------------------------------------------------------------------- the contact, recorded

Rule = Callable[[CustomerState, Any, datetime, Facts], Decision]


def recorded_all(rules: dict[type[Any], Rule]) -> dict[type[Any], Rule]:
    return {message_type: recorded(rule) for message_type, rule in rules.items()}


def recorded(rule: Rule) -> Rule:
    """``rule``, then what it published about an MSP written onto that MSP's record."""

    def decide(state: CustomerState, message: Any, now: datetime, facts: Facts) -> Decision:
        decided, outputs = rule(state, message, now, facts)
        if decided is None or not decided.msp_records:
            return decided, outputs
        outputs = list(outputs)
        for output in list(outputs):
            decided, more = _onto_record(decided, output, now)
            outputs += more
        return decided, outputs

    return decide


def _onto_record(state: CustomerState, output: Output, now: datetime) -> Changed:
    msp_id = getattr(output, "msp_id", None)
    record = state.msp_records.get(str(msp_id)) if msp_id is not None else None
    if record is None:
        return state, []
    if isinstance(output, MSPContactStarted) and record.status is MSPStatus.APPROVED:
        return activated(
            state, record.noted(now, "MSPContactStarted", output.actor.officer_id), now, output.actor
        )
    if isinstance(output, MSPContactResultRecorded):
        outcome = output.phone_outcome or output.delivery_status
        reasons = ", ".join(r.value for r in output.suppression_reasons)
        result = MspContactResult(
            at=now,
            step=output.step,
            contacted=output.contacted,
            outcome=(outcome.value if outcome is not None else reasons or "RECORDED"),
            delivery_id=str(output.delivery_id) if output.delivery_id else None,
            note=output.note,
        )
        record = record.model_copy(update={"results": (*record.results, result)})
        record = record.noted(now, "MSPContactResultRecorded", None, f"{output.step.value}: {result.outcome}")
    elif isinstance(output, NotificationDispatched) and output.purpose is Purpose.MSP_LETTER:
        if output.template_id is not None and output.template_version is not None and output.attempt == 1:
            letter = MspLetter(
                template_id=output.template_id,
                template_version=output.template_version,
                notification_id=str(output.notification_id),
            )
            record = record.model_copy(update={"letter": letter})
        record = record.noted(now, "MSPLetterDispatched", None, f"attempt {output.attempt}")
    elif isinstance(output, NotificationDispatched) and output.purpose is Purpose.MSP_SMS:
        record = record.noted(now, "MSPSmsDispatched", None, f"attempt {output.attempt}")
    elif isinstance(
        output, (MSPIncidentRaised, MSPSmsOptionOffered, MSPPostalAddressRequired, SmsSuppressed)
    ):
        record = record.noted(now, type(output).__name__, getattr(output, "officer_id", None))
    else:
        return state, []
    return state.with_record(record), []
