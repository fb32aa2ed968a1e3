"""The notifications service: its spec, run by the kit (topics from the contracts' registry).

What is particular to it: before deciding, the number index is brought up to date for a
contact-details change, and the customer's view of it is read (seed 002 step 2: "make sure the
mobile number on file is not recorded on multiple records"); the rules get it with the policy.
A receipt it cannot read is answered on the channel-errors topic (issue 18,
``services/notifications/channel_errors.py``).
"""

from __future__ import annotations

from typing import Any

from faststream import FastStream

from contracts.catalogue.customers import CustomerContactDetailsChanged
from contracts.envelope import Envelope
from kit.processing import Clock
from kit.runtime import Database, ServiceRuntime, Wiring, utc_now
from kit.spec import handler
from services.notifications.api import msp_routes
from services.notifications.channel_errors import channel_error_answer
from services.notifications.domain import Facts
from services.notifications.settings import NotificationsSettings
from services.notifications.spec import COLLECTION, SPEC
from services.notifications.store import CustomerProjections, number_index


def create_runtime(settings: NotificationsSettings | None = None, clock: Clock = utc_now) -> ServiceRuntime:
    settings = settings or NotificationsSettings()
    policy = settings.policy()

    async def build(database: Database, runtime: ServiceRuntime) -> Wiring:
        stores = SPEC.stores(database)
        numbers = number_index(database)
        await numbers.ensure_indexes()

        async def customer_facts(envelope: Envelope, message: Any) -> Facts:
            # Idempotent, and before the event is applied: a redelivered change changes nothing.
            if isinstance(message, CustomerContactDetailsChanged):
                await numbers.record(envelope.csid, message.mobile_number)
            view = await numbers.view(envelope.csid)
            return Facts(policy, view, str(envelope.message_id), envelope.message_type)

        handle = handler(SPEC, stores, settings, customer_facts)
        # Issue 18: a receipt it cannot read is answered to the channel on the channel-errors topic.
        return Wiring(
            handle=handle,
            stores=list(stores.values()),
            answer_dead_letter=channel_error_answer(settings),
            # Issue 20 item 1: the MSP record, read by officers.
            routes=msp_routes(CustomerProjections(database[COLLECTION])),
        )

    return ServiceRuntime.for_service(settings, build=build, clock=clock)


def create_app(settings: NotificationsSettings | None = None, clock: Clock = utc_now) -> FastStream:
    return create_runtime(settings, clock).app
