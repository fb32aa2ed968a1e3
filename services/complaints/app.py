"""Wiring of the complaints service: it reads its commands topic and writes its events topic and
notifications' commands topic (``SendLetter`` for a Level 2 written response)."""

from __future__ import annotations

from faststream import FastStream
from faststream.kafka.annotations import KafkaMessage

from contracts.topics import READS, SENDS_COMMANDS, events_topic
from kit.processing import Clock
from kit.runtime import Database, ServiceRuntime, Wiring, utc_now
from services.complaints.handlers import make_handler
from services.complaints.settings import ComplaintsSettings
from services.complaints.store import complaints_store


def create_runtime(settings: ComplaintsSettings | None = None, clock: Clock = utc_now) -> ServiceRuntime:
    settings = settings or ComplaintsSettings()

    async def build(database: Database, runtime: ServiceRuntime) -> Wiring:
        store = complaints_store(database)
        return Wiring(handle=make_handler(store, settings), stores=[store])

    runtime = ServiceRuntime(
        settings,
        consumes=READS["complaints"],
        produces=[events_topic("complaints"), *SENDS_COMMANDS["complaints"]],
        build=build,
        clock=clock,
    )

    # The subscription's options come as a dict, so mypy cannot pick the typed overload.
    @runtime.broker.subscriber(*runtime.topics, **runtime.subscription)  # type: ignore[untyped-decorator]
    async def on_complaints_command(message: KafkaMessage) -> None:
        await runtime.consume(message)

    return runtime


def create_app(settings: ComplaintsSettings | None = None, clock: Clock = utc_now) -> FastStream:
    return create_runtime(settings, clock).app
