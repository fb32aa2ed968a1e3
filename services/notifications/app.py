"""Wiring: the notifications runtime and its one subscriber (the only faststream module).

Nothing connects at import time: ``create_runtime`` only builds; the runtime's lifespan opens
the store and the broker.
"""

from __future__ import annotations

from faststream import FastStream
from faststream.kafka.annotations import KafkaMessage

from contracts.topics import CHANNEL_NAMES, READS, commands_topic, dispatch_topic, events_topic
from kit.processing import Clock
from kit.runtime import Database, ServiceRuntime, Wiring, utc_now
from services.notifications.handlers import Handlers
from services.notifications.settings import NotificationsSettings
from services.notifications.store import customer_store, number_index

SERVICE = "notifications"


def create_runtime(settings: NotificationsSettings | None = None, clock: Clock = utc_now) -> ServiceRuntime:
    settings = settings or NotificationsSettings()

    async def build(db: Database, runtime: ServiceRuntime) -> Wiring:
        customers = customer_store(db)
        numbers = number_index(db)
        await numbers.ensure_indexes()
        return Wiring(handle=Handlers(customers, numbers, settings, settings.policy()), stores=[customers])

    runtime = ServiceRuntime(
        settings,
        # Its commands (and its own retry timers), approvals' decisions (an approved MSP), the
        # customer system's details and risk flags, and the channels' receipts.
        consumes=list(READS[SERVICE]),
        produces=[
            events_topic(SERVICE),
            commands_topic(SERVICE),
            *(dispatch_topic(channel) for channel in CHANNEL_NAMES),
        ],
        build=build,
        clock=clock,
    )

    @runtime.broker.subscriber(*runtime.topics, **runtime.subscription)  # type: ignore[untyped-decorator]
    async def on_notifications_input(message: KafkaMessage) -> None:
        await runtime.consume(message)

    return runtime


def create_app(settings: NotificationsSettings | None = None, clock: Clock = utc_now) -> FastStream:
    return create_runtime(settings, clock).app
