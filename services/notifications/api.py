"""The MSP record's read API (issue 20 item 1): an MSP with its history, for officers.

``GET /customers/{csid}/msps`` lists the customer's MSPs (id, status, dates);
``GET /customers/{csid}/msps/{msp_id}`` returns one MSP whole: its status, reasons, duration and
review date, service channel restrictions, contact details, approvals, the final approved letter
attached to it, its notes, the result of each customer contact and its history. Served on the
API port behind a verified officer token (kit/api.py); an unknown customer or MSP is ``404``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from kit.api import ApiError, csid_of, endpoint, uuid_value
from kit.identity import Identity
from services.notifications.domain import CustomerState
from services.notifications.domain.records import IN_FORCE, MspRecord
from services.notifications.store import CustomerProjections

PREFIX = "/customers/{csid}/msps"


def summary(record: MspRecord) -> dict[str, Any]:
    return {
        "msp_id": record.msp_id,
        "status": record.status.value,
        "in_force": record.status in IN_FORCE,
        "review_at": record.review_at.isoformat() if record.review_at else None,
        "expires_at": record.expires_at.isoformat() if record.expires_at else None,
        "owner_officer_id": record.owner_officer_id,
    }


def whole(record: MspRecord) -> dict[str, Any]:
    return record.model_dump(mode="json")


def msp_routes(customers: CustomerProjections) -> list[BaseRoute]:
    async def records_of(request: Request) -> dict[str, MspRecord]:
        raw = await customers.state_of(csid_of(request))
        if raw is None:
            raise ApiError("UNKNOWN_CUSTOMER", "No such customer.", 404)
        return dict(CustomerState.model_validate(raw).msp_records)

    async def msps(request: Request, identity: Identity) -> Response:
        records = await records_of(request)
        return JSONResponse({"msps": [summary(r) for r in records.values()]})

    async def msp(request: Request, identity: Identity) -> Response:
        msp_id = str(uuid_value(str(request.path_params["msp_id"]), "msp_id"))
        record = (await records_of(request)).get(msp_id)
        if record is None:
            raise ApiError("UNKNOWN_MSP", "No such MSP is recorded for the customer.", 404)
        return JSONResponse(whole(record))

    return [
        Route(PREFIX, endpoint(msps), methods=["GET"]),
        Route(PREFIX + "/{msp_id}", endpoint(msp), methods=["GET"]),
    ]
