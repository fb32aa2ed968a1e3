"""Load, decide, save: every message is applied to its customer's aggregate (the CSID).

Before deciding, the handler brings the number index up to date (for a contact-details change)
and reads, for this customer, which other records share their mobile number: the guard's one
cross-customer fact, handed to the pure decider as a ``NumberIndexView``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.catalogue.approvals import ApprovalAccepted, SubjectType
from contracts.catalogue.customers import CustomerContactDetailsChanged
from contracts.envelope import Envelope
from kit.handling import apply
from kit.processing import Outcome
from kit.store import AggregateStore
from services.notifications import domain
from services.notifications.domain import CustomerState, Output, Policy
from services.notifications.settings import NotificationsSettings
from services.notifications.store import MobileNumberIndex

#: Approval decisions notifications acts on (seed 002): an approved MSP, an authorised SMS.
APPROVAL_SUBJECTS = frozenset({SubjectType.MSP, SubjectType.SMS_AUTHORISATION})


class Handlers:
    def __init__(
        self,
        customers: AggregateStore[CustomerState],
        numbers: MobileNumberIndex,
        settings: NotificationsSettings,
        policy: Policy,
    ) -> None:
        self.customers = customers
        self.numbers = numbers
        self.settings = settings
        self.policy = policy

    async def __call__(self, envelope: Envelope, message: Any, now: datetime) -> Outcome:
        if type(message) not in domain.HANDLED:
            return Outcome.IGNORED
        if isinstance(message, ApprovalAccepted) and message.subject_type not in APPROVAL_SUBJECTS:
            return Outcome.IGNORED
        if isinstance(message, CustomerContactDetailsChanged):
            await self.numbers.record(envelope.csid, message.mobile_number)
        numbers = await self.numbers.view(envelope.csid)
        policy = self.policy

        def decide(
            state: CustomerState | None, msg: Any, at: datetime
        ) -> tuple[CustomerState | None, list[Output]]:
            return domain.decide(state, msg, at, policy, numbers)

        return await apply(self.customers, envelope.csid, envelope, message, decide, now, self.settings)
