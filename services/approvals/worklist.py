"""The read-only work-list endpoint (issue 4): pending actions per role and officer.

The seeds' *Service Manager Actions List* (seed 000 tables 3, 5, 6) is ``GET /work-lists/SERVICE_MANAGER``;
an officer's own view, ``GET /work-lists/{role}/{officer_id}``, leaves out what segregation of
duties bars that officer from deciding and adds the requests they raised that still await a
decision (their side of the *CSO Actions List*). Escalated requests appear on the Team Leader's
list too.

Served on the service's API port (``api_port``), behind a verified token (kit/api.py): a role's
list needs that role among the token's roles, an officer's list also needs the officer to be the
token's subject (``403 FORBIDDEN``); an unknown role is ``404 UNKNOWN_ROLE``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from contracts.base import Role
from kit.api import ApiError, endpoint, require_officer, require_role
from kit.identity import Identity
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
    def role_of(request: Request, identity: Identity) -> Role:
        raw = str(request.path_params["role"])
        if raw not in Role.__members__:
            raise ApiError("UNKNOWN_ROLE", "No such role.", 404)
        role = Role(raw)
        require_role(identity, role)
        return role

    async def for_role(request: Request, identity: Identity) -> Response:
        role = role_of(request, identity)
        now = clock()
        docs = await store.pending_for(role, limit)
        return JSONResponse(
            {"role": role.value, "officer_id": None, "actions": [_item(d, now) for d in docs]}
        )

    async def for_officer(request: Request, identity: Identity) -> Response:
        role = role_of(request, identity)
        officer_id = str(request.path_params["officer_id"])
        require_officer(identity, officer_id)
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
        Route("/work-lists/{role}", endpoint(for_role), methods=["GET"]),
        Route("/work-lists/{role}/{officer_id}", endpoint(for_officer), methods=["GET"]),
    ]
