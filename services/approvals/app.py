"""Wiring of the approvals service: it reads its commands topic (including its own escalation
timers' commands) and writes its events topic; the work lists are served on its HTTP port."""

from __future__ import annotations

from faststream import FastStream
from faststream.kafka.annotations import KafkaMessage

from contracts.topics import READS, SENDS_COMMANDS, events_topic
from kit.processing import Clock
from kit.runtime import Database, ServiceRuntime, Wiring, utc_now
from services.approvals.handlers import make_handler
from services.approvals.settings import ApprovalsSettings
from services.approvals.store import ApprovalsStore
from services.approvals.worklist import work_list_routes


def create_runtime(settings: ApprovalsSettings | None = None, clock: Clock = utc_now) -> ServiceRuntime:
    settings = settings or ApprovalsSettings()

    async def build(database: Database, runtime: ServiceRuntime) -> Wiring:
        store = ApprovalsStore(database)
        await store.ensure_indexes()
        return Wiring(
            handle=make_handler(store, settings),
            stores=[store.aggregates],
            routes=work_list_routes(store, runtime.clock, settings.work_list_limit),
        )

    runtime = ServiceRuntime(
        settings,
        consumes=READS["approvals"],
        produces=[events_topic("approvals"), *SENDS_COMMANDS["approvals"]],
        build=build,
        clock=clock,
    )

    # The subscription's options come as a dict, so mypy cannot pick the typed overload.
    @runtime.broker.subscriber(*runtime.topics, **runtime.subscription)  # type: ignore[untyped-decorator]
    async def on_approvals_command(message: KafkaMessage) -> None:
        await runtime.consume(message)

    return runtime


def create_app(settings: ApprovalsSettings | None = None, clock: Clock = utc_now) -> FastStream:
    return create_runtime(settings, clock).app
