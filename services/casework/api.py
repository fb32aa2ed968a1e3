"""Casework's HTTP API for officers (issue 17), on the service's ``api_port`` behind the kit's bearer
token (kit/api.py); the officers' pages (services/casework/web.py) are served beside it under
``/ui``.

Reads: an officer's, a team's and a role's work list (filters ``kind``, ``csid``,
``overdue=true``), a customer's case (timeline newest first, summary, open tasks) and one task
with its history and notes. Writes: each is a casework command published to casework's own
commands topic with the caller's token (services/casework/officers.py) and answered ``202`` with
its message id; casework decides it asynchronously, a refusal being its
``CaseworkCommandRejected`` event. A body that does not validate is ``400`` naming its fields,
never their values. The actor of a write is ``X-Casemesh-Actor``, which must agree with the token.

Who may read what: an officer's list is theirs (or a Team Leader's); a role's queue needs that
role in the token (or Team Leader); a team's list, a case and a task any verified officer.
Reassignment, reassigning an officer's open work and leave cover are a Team Leader's, acting as
one (``403 TEAM_LEADER_REQUIRED``).

``GET /openapi.json`` is generated from :func:`operations` and the request models.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from contracts.base import Role
from contracts.catalogue.casework import AGENCY_CSID, ArrangeLeaveCover, ReassignTask, TaskKind
from kit.api import TOKEN_SCOPE_KEY, ApiError, actor_of, csid_of, endpoint, forbidden
from kit.identity import Identity
from kit.runtime import ServiceRuntime
from services.casework import web
from services.casework.officers import (
    LEADER_ACTIONS,
    TASK_ACTIONS,
    Body,
    Casework,
    Filters,
    LeaveCoverBody,
    NoBody,
    ReassignOpenWorkBody,
    as_leader,
    invalid,
    name_of,
    role_of,
)
from services.casework.settings import CaseworkSettings
from services.casework.store import CaseworkStore

BODY_MAX = 64 * 1024
"""Bytes of a request body read before it is refused 413."""

Serve = Callable[[Request, Identity], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    """One endpoint: what serves it and what the OpenAPI document says of it."""

    method: str
    path: str
    name: str
    summary: str
    serve: Serve
    body: type[Body] | None = None
    filtered: bool = False


def token_of(request: Request) -> str:
    """The verified bearer token (kit/api.py leaves it in the scope), forwarded as the command's identity."""
    token = request.scope.get(TOKEN_SCOPE_KEY)
    if not isinstance(token, str) or not token:
        raise ApiError("UNAUTHENTICATED", "No verified token.", 401)
    return token


async def body_of(request: Request, model: type[Body]) -> Any:
    """The request body as ``model``: JSON, at most :data:`BODY_MAX` bytes; empty counts as ``{}``."""
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > BODY_MAX:
            raise ApiError("BODY_TOO_LARGE", f"The request body exceeds {BODY_MAX} bytes.", 413)
    try:
        return model.model_validate_json(bytes(raw) or b"{}")
    except ValidationError as exc:
        raise invalid(exc) from None


def accepted(message_ids: list[UUID]) -> JSONResponse:
    if len(message_ids) == 1:
        return JSONResponse({"message_id": str(message_ids[0])}, 202)
    return JSONResponse({"message_ids": [str(m) for m in message_ids]}, 202)


class Endpoints:
    """The API's endpoints over one service's reads and sends."""

    def __init__(self, cw: Casework) -> None:
        self.cw = cw

    async def officer_list(self, request: Request, identity: Identity) -> Response:
        officer_id = name_of(str(request.path_params["officer_id"]), "officer_id")
        if officer_id != identity.subject and Role.TEAM_LEADER not in identity.roles:
            raise forbidden("An officer's own list is theirs only (and their Team Leader's).")
        tasks = await self.cw.officer_list(officer_id, Filters.of(request.query_params))
        return JSONResponse({"officer_id": officer_id, "tasks": tasks})

    async def team_list(self, request: Request, identity: Identity) -> Response:
        team = name_of(str(request.path_params["team"]), "team")
        tasks, load = await self.cw.team_list(team, Filters.of(request.query_params))
        return JSONResponse({"team": team, "tasks": tasks, "load": load})

    async def role_list(self, request: Request, identity: Identity) -> Response:
        role = role_of(str(request.path_params["role"]))
        if role not in identity.roles and Role.TEAM_LEADER not in identity.roles:
            raise forbidden(f"The token does not grant the {role.value} role.")
        tasks = await self.cw.role_list(role, Filters.of(request.query_params))
        return JSONResponse({"role": role.value, "tasks": tasks})

    async def case(self, request: Request, identity: Identity) -> Response:
        return JSONResponse(await self.cw.case(csid_of(request)))

    async def task(self, request: Request, identity: Identity) -> Response:
        return JSONResponse(await self.cw.task(str(request.path_params["task_id"])))

    def task_action(self, action: str) -> Serve:
        model, build = TASK_ACTIONS[action]

        async def serve(request: Request, identity: Identity) -> Response:
            actor = actor_of(request, identity)
            if action in LEADER_ACTIONS:
                as_leader(actor, identity.roles)
            body = await body_of(request, model)
            doc = await self.cw.task_doc(str(request.path_params["task_id"]))
            try:
                command = build(UUID(doc["_id"]), actor, body)
            except ValidationError as exc:
                raise invalid(exc) from None
            return accepted([await self.cw.send(command, doc["csid"], token_of(request))])

        serve.__name__ = f"{action}_task"
        return serve

    async def leave_cover(self, request: Request, identity: Identity) -> Response:
        actor = actor_of(request, identity)
        as_leader(actor, identity.roles)
        body: LeaveCoverBody = await body_of(request, LeaveCoverBody)
        try:
            command = ArrangeLeaveCover(actor=actor, cover_id=uuid4(), **body.model_dump())
        except ValidationError as exc:
            raise invalid(exc) from None
        return accepted([await self.cw.send(command, AGENCY_CSID, token_of(request))])

    async def reassign_open_work(self, request: Request, identity: Identity) -> Response:
        officer_id = name_of(str(request.path_params["officer_id"]), "officer_id")
        actor = actor_of(request, identity)
        as_leader(actor, identity.roles)
        body: ReassignOpenWorkBody = await body_of(request, ReassignOpenWorkBody)
        token = token_of(request)
        sent = []
        for doc in await self.cw.open_tasks_of(officer_id):
            command = ReassignTask(actor=actor, task_id=UUID(doc["_id"]), to=body.to, reason=body.reason)
            sent.append(await self.cw.send(command, doc["csid"], token))
        return JSONResponse({"officer_id": officer_id, "message_ids": [str(m) for m in sent]}, 202)


def operations(cw: Casework) -> list[Operation]:
    api = Endpoints(cw)
    summaries = {
        "claim": "Claim a task to work it.",
        "release": "Put a claimed task back in its queue.",
        "complete": "Record a claimed task done, with its outcome.",
        "reassign": "Give a task to another officer, team or role (Team Leader).",
        "notes": "Add a note to a task.",
        "pause": "Stop a task's SLA clock while the customer is awaited.",
        "resume": "Start a paused task's SLA clock again.",
    }
    task_ops = [
        Operation(
            "POST",
            f"/tasks/{{task_id}}/{action}",
            f"{action}_task",
            summaries[action],
            api.task_action(action),
            None if model is NoBody else model,
        )
        for action, (model, _) in TASK_ACTIONS.items()
    ]
    return [
        Operation(
            "GET",
            "/work-lists/officers/{officer_id}",
            "officer_work_list",
            "An officer's open tasks, by due date (the officer, or a Team Leader).",
            api.officer_list,
            filtered=True,
        ),
        Operation(
            "GET",
            "/work-lists/teams/{team}",
            "team_work_list",
            "A team's open tasks and those escalated to it, and open tasks per officer.",
            api.team_list,
            filtered=True,
        ),
        Operation(
            "GET",
            "/work-lists/roles/{role}",
            "role_work_list",
            "A role's queue and the tasks escalated to the role (that role, or a Team Leader).",
            api.role_list,
            filtered=True,
        ),
        Operation("GET", "/cases/{csid}", "case", "A customer's timeline, summary and open tasks.", api.case),
        Operation("GET", "/tasks/{task_id}", "task", "A task with its history and notes.", api.task),
        *task_ops,
        Operation(
            "POST",
            "/leave-covers",
            "arrange_leave_cover",
            "Arrange leave cover: one officer's work goes to another for a period (Team Leader).",
            api.leave_cover,
            LeaveCoverBody,
        ),
        Operation(
            "POST",
            "/officers/{officer_id}/reassign-open-work",
            "reassign_open_work",
            "Reassign every open task of an officer (Team Leader): one command per task.",
            api.reassign_open_work,
            ReassignOpenWorkBody,
        ),
    ]


# -- OpenAPI

_PATH_PARAMETER = re.compile(r"{(\w+)}")
_ERROR = {"$ref": "#/components/schemas/Error"}
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["reason_code", "reason"],
    "properties": {
        "reason_code": {"type": "string"},
        "reason": {"type": "string"},
        "fields": {"type": "array", "items": {"type": "string"}},
    },
}
_FILTERS = [
    {"name": "kind", "in": "query", "schema": {"type": "string", "enum": [k.value for k in TaskKind]}},
    {"name": "csid", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{6,12}$"}},
    {"name": "overdue", "in": "query", "schema": {"type": "string", "enum": ["true", "false"]}},
]
_ACTOR = {
    "name": "X-Casemesh-Actor",
    "in": "header",
    "required": True,
    "description": "The acting officer (an Actor as JSON); must agree with the token.",
    "schema": {"type": "string"},
}


def openapi(ops: list[Operation]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``ops``: paths, parameters and the request models' schemas."""
    schemas: dict[str, Any] = {"Error": _ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PATH_PARAMETER.findall(op.path)
        ]
        if op.filtered:
            parameters += _FILTERS
        if op.method == "POST":
            parameters.append(_ACTOR)
        responses = {
            code: {"description": text, "content": {"application/json": {"schema": _ERROR}}}
            for code, text in (
                ("400", "Invalid input"),
                ("401", "No token, or one that does not verify"),
                ("403", "Not allowed"),
                ("404", "Unknown"),
            )
        }
        good = (
            ("202", "Published; casework applies it asynchronously") if op.method == "POST" else ("200", "OK")
        )
        entry: dict[str, Any] = {
            "operationId": op.name,
            "summary": op.summary,
            "parameters": parameters,
            "security": [{"bearer": []}],
            "responses": {good[0]: {"description": good[1]}, **responses},
        }
        if op.body is not None:
            schema = op.body.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[op.body.__name__] = schema
            ref = {"$ref": f"#/components/schemas/{op.body.__name__}"}
            entry["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref}}}
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "Casemesh casework", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def routes(store: CaseworkStore, runtime: ServiceRuntime, settings: CaseworkSettings) -> list[BaseRoute]:
    cw = Casework(store, runtime, settings)
    ops = operations(cw)
    document = openapi(ops)

    async def spec(request: Request, identity: Identity) -> Response:
        return JSONResponse(document)

    served: list[BaseRoute] = [Route("/openapi.json", endpoint(spec), methods=["GET"])]
    served += [Route(op.path, endpoint(op.serve), methods=[op.method], name=op.name) for op in ops]
    return served + web.routes(cw)
