"""The referrals service's reads across customers, over the customers' aggregates.

``customers`` holds each customer's :class:`~services.referrals.domain.CustomerFile` (its store
is the kit's, from ``services.referrals.spec.SPEC``). An officer's open PS caseload is counted
straight from the stored states (``state.ps_officer_id`` is set while the customer is in PS and
cleared when they leave), so it can never drift from them.
"""

from __future__ import annotations

from collections.abc import Iterable

from pymongo import ASCENDING

from kit.store import AggregateStore
from services.referrals.domain import CustomerFile


class ReferralsStore:
    def __init__(self, aggregates: AggregateStore[CustomerFile]) -> None:
        self.aggregates = aggregates

    async def ensure_indexes(self) -> None:
        await self.aggregates.collection.create_index([("state.ps_officer_id", ASCENDING)])

    async def open_ps_customers(self, officer_ids: Iterable[str]) -> dict[str, int]:
        """Issue 4: each officer's open PS customers, as stored now."""
        counts: dict[str, int] = {}
        for officer_id in dict.fromkeys(officer_ids):
            counts[officer_id] = await self.aggregates.collection.count_documents(
                {"state.ps_officer_id": officer_id}
            )
        return counts

    async def customer(self, csid: str) -> CustomerFile | None:
        return (await self.aggregates.load(csid)).state

    async def in_ps(self, csid: str) -> bool:
        file = await self.customer(csid)
        return file is not None and file.in_ps
