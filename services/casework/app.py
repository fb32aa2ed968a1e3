"""The casework service: its spec, run by the kit, with the facts its rules read (the SLA policy,
the officer's leave cover, the customers a cover moves), the work-list projection, the officers'
API and web page on its API port, and the task counts by state as a metric."""

from __future__ import annotations

from typing import Any

from faststream import FastStream
from prometheus_client import Gauge

from contracts.base import Message
from contracts.catalogue.casework import ArrangeLeaveCover, EndLeaveCover, StartLeaveCover, TaskStatus
from contracts.envelope import Envelope
from kit.batch import Facts as Facts_
from kit.loops import Periodic
from kit.processing import Clock, Outcome
from kit.runtime import Database, ServiceRuntime, Wiring, utc_now
from kit.spec import handler
from services.casework import api
from services.casework.domain.state import ActiveCover, Facts, Policy
from services.casework.domain.table import CLOSERS, REROUTES, TASKS
from services.casework.settings import CaseworkSettings
from services.casework.spec import CASE_FILES, LEAVE_COVERS, SPEC, TASK_MESSAGES
from services.casework.store import CaseworkStore

_COVER_MESSAGES = (ArrangeLeaveCover, StartLeaveCover, EndLeaveCover)
_CASE_MESSAGES = frozenset({*TASKS, *CLOSERS, *REROUTES, *TASK_MESSAGES})


def create_runtime(settings: CaseworkSettings | None = None, clock: Clock = utc_now) -> ServiceRuntime:
    settings = settings or CaseworkSettings()
    policy = settings.policy()

    async def build(database: Database, runtime: ServiceRuntime) -> Wiring:
        stores = SPEC.stores(database)
        store = CaseworkStore(stores[CASE_FILES.collection], stores[LEAVE_COVERS.collection], database)
        await store.ensure_indexes()

        facts = _facts_reader(store, policy)

        async def project(envelope: Envelope, message: Message, outcome: Outcome) -> None:
            if isinstance(message, _COVER_MESSAGES):
                await store.project_cover(str(message.cover_id))
            elif type(message) in _CASE_MESSAGES:
                await store.project_case(envelope.csid)

        counts = Gauge(
            "casemesh_casework_tasks",
            "Tasks by state (BREACHED: open or claimed past their SLA)",
            ["state"],
            registry=runtime.metrics.registry,
        )

        async def count_tasks() -> None:
            found = await store.counts_by_status()
            for state in [*TaskStatus, "BREACHED"]:
                counts.labels(str(state)).set(found.get(str(state), 0))

        counter = Periodic("casework_task_counts", count_tasks, settings.task_count_interval_s)
        return Wiring(
            handle=handler(
                SPEC,
                stores,
                settings,
                facts,
                after=[project],
                barrier=lambda message: isinstance(message, (StartLeaveCover, EndLeaveCover)),
            ),
            stores=list(stores.values()),
            routes=api.routes(store, runtime, settings),
            background=[counter.run],
        )

    return ServiceRuntime.for_service(settings, build=build, clock=clock)


def create_app(settings: CaseworkSettings | None = None, clock: Clock = utc_now) -> FastStream:
    return create_runtime(settings, clock).app


def _facts_reader(store: CaseworkStore, policy: Policy) -> Facts_:
    """What a rule needs besides the state: the message's time and ids, the policy, the leave cover
    of the officer a new task would go to, and the customers a leave cover moves."""

    async def facts(envelope: Envelope, message: Any) -> Facts:
        covers: tuple[ActiveCover, ...] = ()
        customers: tuple[str, ...] = ()
        row = TASKS.get(type(message))
        officer_id = row.assignee(message).officer_id if row is not None else None
        if officer_id is not None:
            covers = await store.active_covers(officer_id)
        if isinstance(message, StartLeaveCover):
            customers = await store.customers_with_tasks_of(message.officer_id)
        elif isinstance(message, EndLeaveCover):
            customers = await store.customers_covered_by(str(message.cover_id))
        return Facts(
            policy=policy,
            at=envelope.occurred_at,
            message_id=envelope.message_id,
            message_type=envelope.message_type,
            producer=envelope.producer,
            csid=envelope.csid,
            covers=covers,
            customers=customers,
        )

    return facts
