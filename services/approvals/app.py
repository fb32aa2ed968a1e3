"""The approvals service: its spec, run by the kit (topics from the contracts' registry), with the
work-list projection rewritten after every handled message and served on its HTTP port."""

from __future__ import annotations

from faststream import FastStream

from kit.processing import Clock
from kit.runtime import Database, ServiceRuntime, Wiring, utc_now
from kit.spec import handler
from services.approvals.settings import ApprovalsSettings
from services.approvals.spec import COLLECTION, SPEC
from services.approvals.store import ApprovalsStore
from services.approvals.worklist import work_list_routes


def create_runtime(settings: ApprovalsSettings | None = None, clock: Clock = utc_now) -> ServiceRuntime:
    settings = settings or ApprovalsSettings()

    async def build(database: Database, runtime: ServiceRuntime) -> Wiring:
        stores = SPEC.stores(database)
        work_list = ApprovalsStore(stores[COLLECTION], database)
        await work_list.ensure_indexes()
        return Wiring(
            handle=handler(SPEC, stores, settings, after=[work_list.project]),
            stores=list(stores.values()),
            routes=work_list_routes(work_list, runtime.clock, settings.work_list_limit),
        )

    return ServiceRuntime.for_service(settings, build=build, clock=clock)


def create_app(settings: ApprovalsSettings | None = None, clock: Clock = utc_now) -> FastStream:
    return create_runtime(settings, clock).app
