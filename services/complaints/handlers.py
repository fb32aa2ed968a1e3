"""Load, decide, save: every complaints command changes its customer's aggregate (keyed by CSID)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from contracts.base import Message
from contracts.catalogue.complaints import COMMANDS
from contracts.envelope import Envelope
from kit.handling import apply
from kit.processing import Handler, Outcome
from kit.store import AggregateStore
from services.complaints.domain import CustomerComplaints, decide
from services.complaints.settings import ComplaintsSettings


def make_handler(store: AggregateStore[CustomerComplaints], settings: ComplaintsSettings) -> Handler:
    remedies = frozenset(settings.remedies)

    def decider(
        state: CustomerComplaints | None, message: Any, now: datetime
    ) -> tuple[CustomerComplaints | None, Sequence[Message]]:
        return decide(state, message, now, remedies=remedies)

    async def handle(envelope: Envelope, message: Any, now: datetime) -> Outcome:
        if not isinstance(message, COMMANDS):
            return Outcome.IGNORED
        return await apply(store, envelope.csid, envelope, message, decider, now, settings)

    return handle
