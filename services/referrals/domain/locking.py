"""Seed 001 tables 1-3: the ownership and locking commands on the customer's file (the rules
themselves, on the customer's :class:`~.ownership.Ownership`, are in :mod:`.ownership`)."""

from __future__ import annotations

from datetime import datetime

from contracts.catalogue.referrals import (
    EscalateOwnershipDispute,
    LockCustomer,
    ReferralsReasonCode,
    ResolveOwnershipDispute,
    TransferCustomerOwnership,
    UnlockCustomer,
)
from kit.spec import Refused
from services.referrals.domain import ownership
from services.referrals.domain.state import Context, CustomerFile, Decided


def lock_customer(file: CustomerFile, cmd: LockCustomer, now: datetime, ctx: Context) -> Decided:
    # A lock concerns a customer the customer system told us about.
    if not file.known:
        raise Refused(ReferralsReasonCode.UNKNOWN_CUSTOMER, "The customer is not known.")
    own, events = ownership.lock(file.ownership, cmd, now, ctx.ownership.priority)
    return file.model_copy(update={"ownership": own}), list(events)


def transfer_customer_ownership(
    file: CustomerFile, cmd: TransferCustomerOwnership, now: datetime, ctx: Context
) -> Decided:
    own, events = ownership.transfer(file.ownership, cmd, ctx.ownership)
    return file.model_copy(update={"ownership": own}), list(events)


def escalate_ownership_dispute(
    file: CustomerFile, cmd: EscalateOwnershipDispute, now: datetime, ctx: Context
) -> Decided:
    own, events = ownership.escalate(file.ownership, cmd)
    return file.model_copy(update={"ownership": own}), list(events)


def resolve_ownership_dispute(
    file: CustomerFile, cmd: ResolveOwnershipDispute, now: datetime, ctx: Context
) -> Decided:
    own, events = ownership.resolve(file.ownership, cmd)
    return file.model_copy(update={"ownership": own}), list(events)


def unlock_customer(file: CustomerFile, cmd: UnlockCustomer, now: datetime, ctx: Context) -> Decided:
    own, events = ownership.unlock(file.ownership, cmd, ctx.ownership.priority)
    return file.model_copy(update={"ownership": own}), list(events)
