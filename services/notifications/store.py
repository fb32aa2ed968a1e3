"""Persistence: the mobile-number index (the only pymongo module; the kit stores the customer
aggregates from ``services.notifications.spec``)."""

from __future__ import annotations

import contextlib
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.notifications.domain import NumberIndexView

Document = dict[str, Any]


class MobileNumberIndex:
    """Which customer records each mobile number is recorded on (seed 002 step 2).

    A read model kept from ``CustomerContactDetailsChanged``: one document per pair,
    ``{_id: "<number>|<csid>", number, csid}``. Pairs are only inserted and deleted, never
    updated, so two customers recording one number at once cannot lose each other's write (a
    FerretDB update is not atomic; decision 0005). Both writes are idempotent, so a redelivered
    event changes nothing.
    """

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.collection = collection

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("csid", ASCENDING)])
        await self.collection.create_index([("number", ASCENDING)])

    async def record(self, csid: str, mobile_number: str | None) -> None:
        """The customer's mobile number is now ``mobile_number`` (None: none recorded)."""
        elsewhere: Document = {"csid": csid}
        if mobile_number is not None:
            elsewhere["number"] = {"$ne": mobile_number}
        await self.collection.delete_many(elsewhere)
        if mobile_number is not None:
            with contextlib.suppress(DuplicateKeyError):
                await self.collection.insert_one(
                    {"_id": f"{mobile_number}|{csid}", "number": mobile_number, "csid": csid}
                )

    async def records_on(self, mobile_number: str) -> set[str]:
        return {str(d["csid"]) async for d in self.collection.find({"number": mobile_number})}

    async def view(self, csid: str) -> NumberIndexView:
        """For each number the customer is recorded with, the other records that have it too."""
        numbers = [str(d["number"]) async for d in self.collection.find({"csid": csid})]
        others: dict[str, set[str]] = {n: set() for n in numbers}
        if numbers:
            async for doc in self.collection.find({"number": {"$in": numbers}}):
                if doc["csid"] != csid:
                    others[str(doc["number"])].add(str(doc["csid"]))
        return NumberIndexView({n: frozenset(c) for n, c in others.items()})


def number_index(db: AsyncDatabase[Document]) -> MobileNumberIndex:
    return MobileNumberIndex(db["mobile_number_records"])


class CustomerProjections:
    """The customers' projections (``{_id: csid, version, state}``), read by the MSP record API."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.collection = collection

    async def state_of(self, csid: str) -> Document | None:
        doc = await self.collection.find_one({"_id": csid}, {"state": 1})
        state = doc.get("state") if doc is not None else None
        return state if isinstance(state, dict) else None
