"""Load, decide, save: every approvals command changes its customer's aggregate (keyed by CSID),
then the customer's work items are rewritten from the saved state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.catalogue.approvals import COMMANDS
from contracts.envelope import Envelope
from kit.handling import apply
from kit.processing import Handler, Outcome
from services.approvals.domain import decide
from services.approvals.settings import ApprovalsSettings
from services.approvals.store import ApprovalsStore


def make_handler(store: ApprovalsStore, settings: ApprovalsSettings) -> Handler:
    async def handle(envelope: Envelope, message: Any, now: datetime) -> Outcome:
        if not isinstance(message, COMMANDS):
            return Outcome.IGNORED
        outcome = await apply(store.aggregates, envelope.csid, envelope, message, decide, now, settings)
        await store.project(envelope.csid)
        return outcome

    return handle
