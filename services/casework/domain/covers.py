"""Leave cover: "from D1 to D2, work for X goes to Y" (issue 17), arranged by a Team Leader.

A cover is the agency's record, keyed by its id under the agency's key. Timers start and end it.
Starting moves the officer's open tasks, customer by customer (one ``CoverCustomerTasks`` per
customer, each applied in that customer's case file); while it is active, new tasks for the
officer go to the cover officer (:mod:`services.casework.domain.tasks`); ending moves back what
the cover officer has not claimed.
"""

from __future__ import annotations

from datetime import datetime

from contracts.base import Role
from contracts.catalogue.casework import (
    ArrangeLeaveCover,
    CoverCustomerTasks,
    EndLeaveCover,
    LeaveCoverArranged,
    LeaveCoverEnded,
    LeaveCoverStarted,
    StartLeaveCover,
)
from contracts.catalogue.casework import (
    CaseworkReasonCode as Code,
)
from kit.spec import Output, Refused
from kit.timers import Deferred
from services.casework.domain.state import CoverStatus, Facts, LeaveCover, Who
from services.casework.domain.tasks import SYSTEM

Decision = tuple[LeaveCover | None, list[Output]]

# A refusal names the leave cover the command named (``CaseworkCommandRejected.cover_id``).


def arrange(cover: LeaveCover | None, message: ArrangeLeaveCover, now: datetime, facts: Facts) -> Decision:
    if cover is not None:
        raise Refused(
            Code.DUPLICATE_COVER, "A leave cover with this id is already arranged.", cover_id=message.cover_id
        )
    if message.actor.role is not Role.TEAM_LEADER:
        raise Refused(
            Code.TEAM_LEADER_REQUIRED, "Only a Team Leader arranges leave cover.", cover_id=message.cover_id
        )
    if message.ends_at <= message.starts_at:
        raise Refused(Code.INVALID_PERIOD, "A leave cover ends after it starts.", cover_id=message.cover_id)
    if message.officer_id == message.cover_officer_id:
        raise Refused(
            Code.SAME_OFFICER, "An officer cannot cover their own leave.", cover_id=message.cover_id
        )
    arranged = LeaveCover(
        cover_id=message.cover_id,
        officer_id=message.officer_id,
        cover_officer_id=message.cover_officer_id,
        starts_at=message.starts_at,
        ends_at=message.ends_at,
        reason=message.reason,
        arranged_by=Who.of(message.actor),
    )
    start = StartLeaveCover(cover_id=message.cover_id, officer_id=message.officer_id, actor=SYSTEM)
    end = EndLeaveCover(cover_id=message.cover_id, actor=SYSTEM)
    return arranged, [
        LeaveCoverArranged(
            cover_id=message.cover_id,
            officer_id=message.officer_id,
            cover_officer_id=message.cover_officer_id,
            starts_at=message.starts_at,
            ends_at=message.ends_at,
            by=message.actor,
        ),
        Deferred(start, message.starts_at, "start"),
        Deferred(end, message.ends_at, "end"),
    ]


def _moves(cover: LeaveCover, facts: Facts, revert: bool) -> list[Output]:
    return [
        CoverCustomerTasks(
            csid=csid,
            cover_id=cover.cover_id,
            officer_id=cover.officer_id,
            cover_officer_id=cover.cover_officer_id,
            reason=cover.reason,
            revert=revert,
            actor=SYSTEM,
        )
        for csid in facts.customers
    ]


def start(cover: LeaveCover | None, message: StartLeaveCover, now: datetime, facts: Facts) -> Decision:
    if cover is None:
        raise Refused(Code.UNKNOWN_COVER, "No such leave cover.", cover_id=message.cover_id)
    if cover.status != CoverStatus.ARRANGED:
        return cover, []
    started = cover.model_copy(update={"status": CoverStatus.ACTIVE, "customers": facts.customers})
    event = LeaveCoverStarted(cover_id=cover.cover_id, customers=len(facts.customers))
    return started, [event, *_moves(cover, facts, revert=False)]


def end(cover: LeaveCover | None, message: EndLeaveCover, now: datetime, facts: Facts) -> Decision:
    if cover is None:
        raise Refused(Code.UNKNOWN_COVER, "No such leave cover.", cover_id=message.cover_id)
    if cover.status == CoverStatus.ENDED:
        return cover, []
    ended = cover.model_copy(update={"status": CoverStatus.ENDED})
    moves = _moves(cover, facts, revert=True) if cover.status == CoverStatus.ACTIVE else []
    return ended, [LeaveCoverEnded(cover_id=cover.cover_id, customers=len(moves)), *moves]
