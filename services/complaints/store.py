"""Persistence of the complaints service: one document per customer (CSID) in ``customers``."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from kit.store import AggregateStore
from services.complaints.domain import CustomerComplaints

COLLECTION = "customers"


def complaints_store(database: AsyncDatabase[dict[str, Any]]) -> AggregateStore[CustomerComplaints]:
    return AggregateStore(database[COLLECTION], CustomerComplaints)
