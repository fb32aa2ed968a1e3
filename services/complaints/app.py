"""The complaints service: its spec, run by the kit (topics from the contracts' registry)."""

from __future__ import annotations

from typing import Any

from faststream import FastStream

from contracts.envelope import Envelope
from kit.processing import Clock
from kit.runtime import Database, ServiceRuntime, Wiring, utc_now
from kit.spec import handler
from services.complaints.domain.state import Facts
from services.complaints.settings import ComplaintsSettings
from services.complaints.spec import SPEC


def create_runtime(settings: ComplaintsSettings | None = None, clock: Clock = utc_now) -> ServiceRuntime:
    settings = settings or ComplaintsSettings()
    facts = Facts(frozenset(settings.remedies))

    async def configured(envelope: Envelope, message: Any) -> Facts:
        return facts

    async def build(database: Database, runtime: ServiceRuntime) -> Wiring:
        stores = SPEC.stores(database)
        return Wiring(handle=handler(SPEC, stores, settings, configured), stores=list(stores.values()))

    return ServiceRuntime.for_service(settings, build=build, clock=clock)


def create_app(settings: ComplaintsSettings | None = None, clock: Clock = utc_now) -> FastStream:
    return create_runtime(settings, clock).app
