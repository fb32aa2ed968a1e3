"""Persistence: the customer aggregates and the mobile-number index (the only pymongo module)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from kit.store import AggregateStore
from services.notifications.domain import CustomerState, NumberIndexView

Document = dict[str, Any]


def customer_store(db: AsyncDatabase[Document]) -> AggregateStore[CustomerState]:
    """One document per customer (CSID): details, flags, MSPs, notifications and deliveries."""
    return AggregateStore(db["customers"], CustomerState)


class MobileNumberIndex:
    """Which customer records each mobile number is recorded on (seed 002 step 2).

    A read model kept from ``CustomerContactDetailsChanged``: one document per number,
    ``{_id: number, records: [csid, …]}``. Both writes are idempotent (``$pullAll`` the CSID from
    every other number, ``$addToSet`` it to its number), so a redelivered event changes nothing.
    """

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.collection = collection

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("records", ASCENDING)])

    async def record(self, csid: str, mobile_number: str | None) -> None:
        """The customer's mobile number is now ``mobile_number`` (None: none recorded)."""
        elsewhere: Document = {"records": csid}
        if mobile_number is not None:
            elsewhere["_id"] = {"$ne": mobile_number}
        # $pullAll with the exact value: FerretDB 1.24 honours it (see decision 0002).
        await self.collection.update_many(elsewhere, {"$pullAll": {"records": [csid]}})
        if mobile_number is not None:
            await self.collection.update_one(
                {"_id": mobile_number}, {"$addToSet": {"records": csid}}, upsert=True
            )

    async def view(self, csid: str) -> NumberIndexView:
        """For each number the customer is recorded with, the other records that have it too."""
        others: dict[str, frozenset[str]] = {}
        async for doc in self.collection.find({"records": csid}):
            others[str(doc["_id"])] = frozenset(str(r) for r in doc.get("records", []) if r != csid)
        return NumberIndexView(others)


def number_index(db: AsyncDatabase[Document]) -> MobileNumberIndex:
    return MobileNumberIndex(db["mobile_numbers"])
