"""Wiring of the contacts service: its subscribers, stores, HTTP endpoints and background job.

It reads ``contracts.topics.READS["contacts"]``: its own commands, and the notifications,
referrals and complaints events it keeps the communications log (and MSP incidents) from.
"""

from __future__ import annotations

from faststream import FastStream
from faststream.kafka.annotations import KafkaMessage

from contracts.topics import SENDS_COMMANDS, events_topic, topics_read_by
from kit.processing import Clock
from kit.runtime import Database, ServiceRuntime, Wiring, utc_now
from services.contacts.api import ContactsApi
from services.contacts.handlers import ContactsHandlers
from services.contacts.jobs import QuarantineChecker
from services.contacts.settings import ContactsSettings
from services.contacts.store import ContactsStore

SERVICE = "contacts"


def create_runtime(settings: ContactsSettings | None = None, clock: Clock = utc_now) -> ServiceRuntime:
    settings = settings or ContactsSettings()
    # Its events, and SendEmail on notifications' commands topic (issuing minutes).
    produces = [events_topic(SERVICE), *SENDS_COMMANDS[SERVICE]]

    async def build(db: Database, runtime: ServiceRuntime) -> Wiring:
        store = ContactsStore(db)
        await store.ensure_read_indexes()
        handlers = ContactsHandlers(store, settings)
        checker: QuarantineChecker | None = None

        def changed() -> None:
            if runtime.relay is not None:
                runtime.relay.notify()
            if checker is not None:
                checker.wake()

        checker = QuarantineChecker(store, handlers, clock, settings.quarantine_interval_s, changed)
        api = ContactsApi(store, handlers, settings, clock, changed)
        return Wiring(handle=handlers, stores=store.aggregates, routes=api.routes(), background=[checker.run])

    runtime = ServiceRuntime(
        settings,
        consumes=[t.name for t in topics_read_by(SERVICE)],
        produces=produces,
        build=build,
        clock=clock,
    )

    @runtime.broker.subscriber(*runtime.topics, **runtime.subscription)  # type: ignore[untyped-decorator]
    async def on_contacts_input(message: KafkaMessage) -> None:
        await runtime.consume(message)

    return runtime


def create_app(settings: ContactsSettings | None = None, clock: Clock = utc_now) -> FastStream:
    return create_runtime(settings, clock).app
