"""The referrals service: its spec, run by the kit (topics from the contracts' registry), plus
what is its own — the caseload reads its rules are given as facts, and the history endpoint."""

from __future__ import annotations

import dataclasses
from typing import Any

from faststream import FastStream

from contracts.catalogue.approvals import ApprovalAccepted
from contracts.catalogue.referrals import AssignCustomerToPS, LockCustomer
from contracts.envelope import Envelope
from kit.processing import Clock
from kit.runtime import Database, ServiceRuntime, Wiring, utc_now
from kit.spec import handler
from services.referrals.domain.state import LEAVING_PS, Context
from services.referrals.routes import history_routes
from services.referrals.settings import ReferralsSettings
from services.referrals.spec import COLLECTION, SPEC, context_of
from services.referrals.store import ReferralsStore


class ReferralsFacts:
    """The facts of one message: the configured rules, plus what is read from other customers'
    aggregates first — for an assignment, the team's caseloads and whether the associate named is
    in PS; for a transfer out of PS accepted, the officer's caseload; for a lock, the customer's
    own CSID (a both-parents lock names it to the other parent)."""

    def __init__(self, store: ReferralsStore, settings: ReferralsSettings) -> None:
        self.store = store
        self.settings = settings
        self.configured = context_of(settings)

    @staticmethod
    def reads_aggregates(message: Any) -> bool:
        """Assignments and transfers out of PS read caseloads, which earlier messages may change."""
        return isinstance(message, (AssignCustomerToPS, ApprovalAccepted))

    async def __call__(self, envelope: Envelope, message: Any) -> Context:
        if isinstance(message, AssignCustomerToPS):
            caseloads = await self.store.open_ps_customers(self.settings.ps_teams.get(message.team, ()))
            associate = message.associate_of_csid
            in_ps = await self.store.in_ps(associate) if associate is not None else None
            return dataclasses.replace(self.configured, caseloads=caseloads, associate_in_ps=in_ps)
        if isinstance(message, ApprovalAccepted) and message.subject_type in LEAVING_PS:
            file = await self.store.customer(envelope.csid)
            if file is not None and file.ps_officer_id is not None:
                caseloads = await self.store.open_ps_customers([file.ps_officer_id])
                return dataclasses.replace(self.configured, caseloads=caseloads)
        if isinstance(message, LockCustomer):
            # Seed 001 table 2 step 8: a both-parents lock names this customer to the other parent.
            return dataclasses.replace(self.configured, csid=envelope.csid)
        return self.configured


def create_runtime(settings: ReferralsSettings | None = None, clock: Clock = utc_now) -> ServiceRuntime:
    settings = settings or ReferralsSettings()

    async def build(database: Database, runtime: ServiceRuntime) -> Wiring:
        stores = SPEC.stores(database)
        store = ReferralsStore(stores[COLLECTION])
        await store.ensure_indexes()
        return Wiring(
            handle=handler(
                SPEC,
                stores,
                settings,
                ReferralsFacts(store, settings),
                barrier=ReferralsFacts.reads_aggregates,
            ),
            stores=list(stores.values()),
            routes=history_routes(store),
        )

    return ServiceRuntime.for_service(settings, build=build, clock=clock)


def create_app(settings: ReferralsSettings | None = None, clock: Clock = utc_now) -> FastStream:
    return create_runtime(settings, clock).app
