"""Seed 001 tables 1-3: the ownership and locking commands on the customer's file (the rules
themselves, on the customer's :class:`~.ownership.Ownership`, are in :mod:`.ownership`)."""

from __future__ import annotations

from datetime import datetime

from contracts.catalogue.referrals import (
    CustomerUnlocked,
    EscalateOwnershipDispute,
    LockCustomer,
    ReferralsReasonCode,
    ReleaseParentLock,
    ResolveOwnershipDispute,
    TransferCustomerOwnership,
    UnlockCustomer,
)
from kit.spec import Refused
from services.referrals.domain import ownership
from services.referrals.domain.base import Output
from services.referrals.domain.state import Context, CustomerFile, Decided


def lock_customer(file: CustomerFile, cmd: LockCustomer, now: datetime, ctx: Context) -> Decided:
    try:
        # A lock concerns a customer the customer system told us about.
        if not file.known:
            raise Refused(ReferralsReasonCode.UNKNOWN_CUSTOMER, "The customer is not known.")
        own, events = ownership.lock(file.ownership, cmd, now, ctx.ownership.priority, ctx.csid)
    except Refused as refused:
        # Seed 001 table 2 step 8: "make sure both customers are locked to the same Service
        # Officer" — both parents or neither: the second parent's lock refused, the first's goes.
        if cmd.first_parent_csid is None or ctx.csid is None:
            raise
        release = ownership.ReleaseFirstParent.for_customer(
            cmd.first_parent_csid, ctx.csid, cmd, refused.code
        )
        raise Refused(refused.code, refused.reason, outputs=[release], **refused.details) from refused
    return file.model_copy(update={"ownership": own}), list(events)


def release_parent_lock(file: CustomerFile, cmd: ReleaseParentLock, now: datetime, ctx: Context) -> Decided:
    own, events = ownership.release(file.ownership, cmd, ctx.ownership.priority)
    outputs: list[Output] = list(events)
    if file.ownership.locked and not own.locked:
        outputs.append(CustomerUnlocked(reason=cmd.reason, actor=cmd.actor))
    return file.model_copy(update={"ownership": own}), outputs


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
    own, events = ownership.unlock(file.ownership, cmd, ctx.ownership)
    return file.model_copy(update={"ownership": own}), list(events)
