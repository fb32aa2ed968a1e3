"""Load, decide, save: every message about a customer changes that customer's aggregate (by CSID).

Assignment reads two things from other customers' aggregates first — the team's caseloads and,
for an associate referral, whether the named customer is in PS — and hands them to the pure
decider; so does a transfer out of PS (the officer's caseload after the customer leaves).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from contracts.catalogue.approvals import ApprovalAccepted, ApprovalRejected, SubjectType
from contracts.catalogue.customers import CustomerRegistered
from contracts.catalogue.referrals import (
    ActionTransferOutOfPS,
    AddPSStackingDocumentNote,
    AssignCustomerToPS,
    CreatePSStackingDocument,
    EscalateOwnershipDispute,
    ExpireTransferMonitoring,
    LockCustomer,
    MarkCMPForApproval,
    RecordCMP,
    ReferCustomerForTransferOutOfPS,
    ResolveOwnershipDispute,
    TransferCustomerOwnership,
    UnlockCustomer,
)
from contracts.envelope import Envelope
from kit.handling import apply
from kit.processing import Handler, Outcome
from services.referrals import domain_cma
from services.referrals.domain import PS_SUBJECTS, Context, CustomerFile, Output, decide
from services.referrals.domain_cma import CMAConfig
from services.referrals.domain_ownership import OwnershipConfig
from services.referrals.settings import ReferralsSettings
from services.referrals.store import ReferralsStore

#: What this service decides, the CMA intake's commands (issue 9) included; anything else is IGNORED.
HANDLED: tuple[type, ...] = (
    CustomerRegistered,
    AssignCustomerToPS,
    RecordCMP,
    MarkCMPForApproval,
    CreatePSStackingDocument,
    AddPSStackingDocumentNote,
    ReferCustomerForTransferOutOfPS,
    ActionTransferOutOfPS,
    ExpireTransferMonitoring,
    LockCustomer,
    TransferCustomerOwnership,
    EscalateOwnershipDispute,
    ResolveOwnershipDispute,
    UnlockCustomer,
    *domain_cma.COMMANDS,
)
LEAVING_PS = frozenset({SubjectType.TRANSFER, SubjectType.MONITORING_EXPIRY})


def context_of(settings: ReferralsSettings) -> Context:
    return Context(
        ps_teams=settings.ps_teams,
        ownership=OwnershipConfig(priority=settings.ownership_priority, area_teams=settings.teams_of_area()),
        approval_due=timedelta(days=settings.approval_due_days),
        cma=CMAConfig(
            catalogue=settings.presenting_issues,
            external_referral_types=frozenset(settings.external_referral_types),
            timezone=ZoneInfo(settings.agency_timezone),
        ),
    )


def make_handler(store: ReferralsStore, settings: ReferralsSettings) -> Handler:
    base = context_of(settings)

    async def context_for(envelope: Envelope, message: Any) -> Context:
        if isinstance(message, AssignCustomerToPS):
            caseloads = await store.open_ps_customers(settings.ps_teams.get(message.team, ()))
            associate = message.associate_of_csid
            in_ps = await store.in_ps(associate) if associate is not None else None
            return dataclasses.replace(base, caseloads=caseloads, associate_in_ps=in_ps)
        if isinstance(message, ApprovalAccepted) and message.subject_type in LEAVING_PS:
            file = await store.customer(envelope.csid)
            if file is not None and file.ps_officer_id is not None:
                caseloads = await store.open_ps_customers([file.ps_officer_id])
                return dataclasses.replace(base, caseloads=caseloads)
        return base

    async def handle(envelope: Envelope, message: Any, now: datetime) -> Outcome:
        is_ps_decision = isinstance(message, ApprovalAccepted | ApprovalRejected) and (
            message.subject_type in PS_SUBJECTS
        )
        if not (isinstance(message, HANDLED) or is_ps_decision):
            return Outcome.IGNORED
        context = await context_for(envelope, message)

        def decider(
            state: CustomerFile | None, msg: Any, at: datetime
        ) -> tuple[CustomerFile | None, Sequence[Output]]:
            return decide(state, msg, at, context)

        return await apply(store.aggregates, envelope.csid, envelope, message, decider, now, settings)

    return handle
