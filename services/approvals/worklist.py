"""The read-only work-list endpoint (issue 4): pending actions per role and officer.

The seeds' *Service Manager Actions List* (seed 000 tables 3, 5, 6) is ``GET /work-lists/SERVICE_MANAGER``;
an officer's own view, ``GET /work-lists/{role}/{officer_id}``, leaves out what segregation of
duties bars that officer from deciding and adds the requests they raised that still await a
decision (their side of the *CSO Actions List*). Escalated requests appear on the Team Leader's
list too. Served on the service's HTTP port, bound to 127.0.0.1 unless configured otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from contracts.base import Role
from services.approvals.store import ApprovalsStore, Document, is_overdue


def _item(doc: Document, now: datetime) -> dict[str, Any]:
    due: datetime = doc["due_at"]
    return {
        "request_id": doc["_id"],
        "csid": doc["csid"],
        "subject_type": doc["subject_type"],
        "subject_id": doc["subject_id"],
        "chain_id": doc["chain_id"],
        "summary": doc["summary"],
        "required_role": doc["required_role"],
        "requested_by": doc["requested_by"],
        "due_at": due.isoformat(),
        "overdue": is_overdue(doc, now),
        "escalated": doc["escalated"],
    }


def work_list_routes(store: ApprovalsStore, clock: Callable[[], datetime], limit: int) -> list[BaseRoute]:
    def role_of(request: Request) -> Role | None:
        try:
            return Role(request.path_params["role"])
        except ValueError:
            return None

    async def for_role(request: Request) -> Response:
        role = role_of(request)
        if role is None:
            return JSONResponse({"error": "unknown role"}, status_code=404)
        now = clock()
        docs = await store.pending_for(role, limit)
        return JSONResponse(
            {"role": role.value, "officer_id": None, "actions": [_item(d, now) for d in docs]}
        )

    async def for_officer(request: Request) -> Response:
        role = role_of(request)
        if role is None:
            return JSONResponse({"error": "unknown role"}, status_code=404)
        officer_id = request.path_params["officer_id"]
        now = clock()
        docs = await store.pending_for(role, limit)
        mine = [d for d in docs if officer_id not in d["barred_officer_ids"]]
        awaiting = await store.requested_by(officer_id, limit)
        return JSONResponse(
            {
                "role": role.value,
                "officer_id": officer_id,
                "actions": [_item(d, now) for d in mine],
                "awaiting_decision": [_item(d, now) for d in awaiting],
            }
        )

    return [
        Route("/work-lists/{role}", for_role, methods=["GET"]),
        Route("/work-lists/{role}/{officer_id}", for_officer, methods=["GET"]),
    ]
