"""Wiring of the referrals service: it reads its commands topic (and its own monitoring timers'
commands), the approvals' events and the customer system's events; it writes its events topic and
approvals' commands topic (``RequestApproval``, ``CloseApprovalSubject``)."""

from __future__ import annotations

from faststream import FastStream
from faststream.kafka.annotations import KafkaMessage

from contracts.topics import READS, SENDS_COMMANDS, events_topic
from kit.processing import Clock
from kit.runtime import Database, ServiceRuntime, Wiring, utc_now
from services.referrals.handlers import make_handler
from services.referrals.routes import history_routes
from services.referrals.settings import ReferralsSettings
from services.referrals.store import ReferralsStore


def create_runtime(settings: ReferralsSettings | None = None, clock: Clock = utc_now) -> ServiceRuntime:
    settings = settings or ReferralsSettings()

    async def build(database: Database, runtime: ServiceRuntime) -> Wiring:
        store = ReferralsStore(database)
        await store.ensure_indexes()
        return Wiring(
            handle=make_handler(store, settings), stores=[store.aggregates], routes=history_routes(store)
        )

    runtime = ServiceRuntime(
        settings,
        consumes=READS["referrals"],
        produces=[events_topic("referrals"), *SENDS_COMMANDS["referrals"]],
        build=build,
        clock=clock,
    )

    # The subscription's options come as a dict, so mypy cannot pick the typed overload.
    @runtime.broker.subscriber(*runtime.topics, **runtime.subscription)  # type: ignore[untyped-decorator]
    async def on_referrals_input(message: KafkaMessage) -> None:
        await runtime.consume(message)

    return runtime


def create_app(settings: ReferralsSettings | None = None, clock: Clock = utc_now) -> FastStream:
    return create_runtime(settings, clock).app
