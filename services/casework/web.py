"""Casework's pages for officers, server-rendered under ``/ui`` on the service's API port.

Who the officer is: the same bearer token as the API. A browser cannot add an ``Authorization``
header, so ``/ui/login`` takes the token and the officer's staff details (first name, site, team,
extension, role), verifies the token with the service's verifier and that the details agree with
it, then keeps both in HttpOnly, SameSite=Strict cookies (Secure over https); the kit's
``Authenticate`` reads the token cookie under ``/ui`` only. Every POST form carries a CSRF token:
an HMAC of the session token under a key derived from the mesh's service secret (the login form,
before any session, a double-submit cookie). A POST publishes the command as the API does and
answers ``303`` back to the page with a flash; the new state shows once casework has applied it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from uuid import UUID

from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from contracts.base import Actor, Role
from contracts.catalogue.casework import TaskKind
from kit.api import IDENTITY_SCOPE_KEY, SESSION_COOKIE, TOKEN_SCOPE_KEY, UI_LOGIN_PATH, ApiError, csid_of
from kit.identity import Identity, Unauthenticated, service_secret
from kit.logs import log_limited
from services.casework.officers import (
    LEADER_ACTIONS,
    TASK_ACTIONS,
    Casework,
    Filters,
    as_leader,
    invalid,
    name_of,
)

HERE = Path(__file__).parent
ACTOR_COOKIE = "casemesh_actor"
LOGIN_CSRF_COOKIE = "casemesh_login_csrf"
CSRF_FIELD = "csrf"
FORM_MAX_FIELDS = 20
ROLES = [r.value for r in Role if r is not Role.SYSTEM]
FLASH = {
    "sent": "Sent; it will show once casework has applied it.",
    "invalid": "Not sent: check the fields marked below.",
}

ACRONYM_MAX = 3


def words(code: Any) -> str:
    """``STAFF_FEEDBACK`` → ``Staff feedback``; short acronyms stay (``CSO``, ``MSP``)."""
    parts = str(code).split("_")
    said = [p if p.isupper() and len(p) <= ACRONYM_MAX else p.lower() for p in parts]
    text = " ".join(said)
    return text[:1].upper() + text[1:]


def when(value: Any) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def assignee(value: dict[str, Any] | None) -> str:
    if not value:
        return ""
    role = words(value["role"]) if value.get("role") else None
    return " / ".join(p for p in (value.get("officer_id"), value.get("team"), role) if p)


_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]), auto_reload=False
)
_templates.filters.update(words=words, when=when, assignee=assignee)


def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_templates.get_template(name).render(**context), status_code=status)


@dataclass(frozen=True)
class Session:
    identity: Identity
    actor: Actor
    token: str
    csrf: str

    @property
    def leader(self) -> bool:
        return Role.TEAM_LEADER in self.identity.roles and self.actor.role is Role.TEAM_LEADER


def _encode_actor(actor: Actor) -> str:
    return base64.urlsafe_b64encode(actor.model_dump_json().encode()).decode()


def _decode_actor(raw: str | None) -> Actor | None:
    if not raw or len(raw) > 4096:
        return None
    try:
        return Actor.model_validate_json(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, ValidationError):
        return None


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int, path: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _context(request: Request, session: Session, **more: Any) -> dict[str, Any]:
    flash = FLASH.get(request.query_params.get("flash", ""))
    kinds = [k.value for k in TaskKind]
    return {"session": session, "flash": flash, "roles": ROLES, "kinds": kinds, **more}


Page = Callable[[Request, Session], Awaitable[Response]]


class Pages:
    """The officers' pages over one service's reads and sends."""

    def __init__(self, cw: Casework) -> None:
        self.cw = cw
        self.key = hashlib.sha256(b"casework-ui-csrf:" + service_secret(cw.settings)).digest()

    def csrf_for(self, token: str) -> str:
        return hmac.new(self.key, token.encode(), hashlib.sha256).hexdigest()

    def page(self, serve: Page) -> Callable[[Request], Awaitable[Response]]:
        """``serve`` for a signed-in officer (else the login page), a POST only with its CSRF token."""
        name = getattr(serve, "__name__", "page")

        async def wrapper(request: Request) -> Response:
            session = self.session(request)
            if session is None:
                return RedirectResponse(UI_LOGIN_PATH, 303)
            try:
                if request.method == "POST":
                    form = await request.form(max_fields=FORM_MAX_FIELDS, max_files=0)
                    if not hmac.compare_digest(str(form.get(CSRF_FIELD, "")), session.csrf):
                        raise ApiError(
                            "CSRF", "The form is stale or not from this site; reload the page.", 403
                        )
                return await serve(request, session)
            except ApiError as exc:
                return render(
                    "error.html", exc.status, session=session, title="Not possible", reason=exc.reason
                )
            except Exception as exc:
                log_limited("page_failed", key=name, endpoint=name, error_class=type(exc).__name__)
                return render("error.html", 500, session=session, title="Error", reason="The page failed.")

        return wrapper

    def session(self, request: Request) -> Session | None:
        identity = request.scope.get(IDENTITY_SCOPE_KEY)
        token = request.scope.get(TOKEN_SCOPE_KEY)
        actor = _decode_actor(request.cookies.get(ACTOR_COOKIE))
        if not isinstance(identity, Identity) or not isinstance(token, str) or actor is None:
            return None
        if identity.mismatch(actor) is not None:
            return None
        return Session(identity, actor, token, self.csrf_for(token))

    # -- signing in and out

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            nonce = secrets.token_urlsafe(24)
            response: Response = render("login.html", csrf=nonce, roles=ROLES, title="Sign in")
            _cookie(response, request, LOGIN_CSRF_COOKIE, nonce, 3600, UI_LOGIN_PATH)
            return response
        form = await request.form(max_fields=FORM_MAX_FIELDS, max_files=0)
        nonce = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        fields = {
            f: str(form.get(f, "")).strip() for f in ("first_name", "site", "team", "extension", "role")
        }

        def refuse(reason: str, status: int) -> Response:
            return render(
                "login.html", status, csrf=nonce, roles=ROLES, title="Sign in", error=reason, **fields
            )

        if not nonce or not hmac.compare_digest(str(form.get(CSRF_FIELD, "")), nonce):
            return refuse("The form is stale; reload the page.", 403)
        token = str(form.get("token", "")).strip()
        identity, reason = self.verified(token)
        if identity is None:
            return refuse(f"Not signed in: {reason}.", 401)
        try:
            actor = Actor.model_validate({**fields, "officer_id": identity.subject})
        except ValidationError as exc:
            bad = ", ".join(sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]}))
            return refuse(f"Check: {bad}.", 400)
        mismatch = identity.mismatch(actor)
        if mismatch is not None:
            return refuse(f"The details do not agree with the token: {mismatch}.", 403)
        response = RedirectResponse("/ui", 303)
        max_age = max(1, int(identity.expires_at - time.time()))
        _cookie(response, request, SESSION_COOKIE, token, max_age, "/ui")
        _cookie(response, request, ACTOR_COOKIE, _encode_actor(actor), max_age, "/ui")
        response.delete_cookie(LOGIN_CSRF_COOKIE, path=UI_LOGIN_PATH)
        return response

    def verified(self, token: str) -> tuple[Identity | None, str]:
        """The officer the token proves, or None and why not."""
        verifier = self.cw.runtime.verifier
        if verifier is None:
            return None, "the service is still starting"
        try:
            identity = verifier.verify(token)
        except Unauthenticated as exc:
            return None, exc.reason
        except Exception:  # whatever a hostile token makes the JWT library raise
            return None, "the identity token does not verify"
        if identity.service is not None:
            return None, "the pages serve officers, not services"
        return identity, ""

    async def logout(self, request: Request, session: Session) -> Response:
        response = RedirectResponse(UI_LOGIN_PATH, 303)
        for name in (SESSION_COOKIE, ACTOR_COOKIE):
            response.delete_cookie(name, path="/ui", httponly=True, samesite="strict")
        return response

    # -- pages

    async def my_work(self, request: Request, session: Session) -> Response:
        filters = Filters.of(request.query_params)
        tasks = await self.cw.officer_list(session.identity.subject, filters)
        return render(
            "worklist.html", **_context(request, session, title="My work", tasks=tasks, filters=filters)
        )

    async def team(self, request: Request, session: Session) -> Response:
        name = name_of(str(request.path_params["team"]), "team")
        filters = Filters.of(request.query_params)
        tasks, load = await self.cw.team_list(name, filters)
        ctx = _context(
            request, session, title=f"Team {name}", team=name, tasks=tasks, load=load, filters=filters
        )
        return render("team.html", **ctx)

    async def case(self, request: Request, session: Session) -> Response:
        found = await self.cw.case(csid_of(request))
        return render(
            "case.html", **_context(request, session, title=f"Customer {found['csid']}", case=found)
        )

    async def task(self, request: Request, session: Session) -> Response:
        found = await self.cw.task(str(request.path_params["task_id"]))
        bad = [f for f in request.query_params.get("fields", "").split(",") if f.isidentifier()]
        ctx = _context(request, session, title=found["title"], task=found, invalid_fields=bad)
        return render("task.html", **ctx)

    async def act(self, request: Request, session: Session) -> Response:
        """A task's button: the command published, then back to the task with a flash."""
        action = str(request.path_params["action"])
        if action not in TASK_ACTIONS:
            raise ApiError("UNKNOWN_ACTION", "No such action.", 404)
        if action in LEADER_ACTIONS:
            as_leader(session.actor, session.identity.roles)
        doc = await self.cw.task_doc(str(request.path_params["task_id"]))
        back = f"/ui/tasks/{quote(doc['_id'])}"
        model, build = TASK_ACTIONS[action]
        try:
            body = model.model_validate(_body(action, await request.form()))
            command = build(UUID(doc["_id"]), session.actor, body)
        except ValidationError as exc:
            fields = ",".join(f.replace(".", "_") for f in invalid(exc).extra["fields"])
            return RedirectResponse(f"{back}?{urlencode({'flash': 'invalid', 'fields': fields})}", 303)
        await self.cw.send(command, doc["csid"], session.token)
        return RedirectResponse(f"{back}?flash=sent", 303)


def routes(cw: Casework) -> list[BaseRoute]:
    pages = Pages(cw)
    return [
        Route(UI_LOGIN_PATH, pages.login, methods=["GET", "POST"]),
        Route("/ui/logout", pages.page(pages.logout), methods=["POST"]),
        Route("/ui", pages.page(pages.my_work), methods=["GET"]),
        Route("/ui/team/{team}", pages.page(pages.team), methods=["GET"]),
        Route("/ui/cases/{csid}", pages.page(pages.case), methods=["GET"]),
        Route("/ui/tasks/{task_id}", pages.page(pages.task), methods=["GET"]),
        Route("/ui/tasks/{task_id}/{action}", pages.page(pages.act), methods=["POST"]),
        Mount("/ui/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]


def _body(action: str, form: FormData) -> dict[str, Any]:
    """A form's fields as the action's request body; empty fields are left out."""
    values = {k: str(v).strip() for k, v in form.items() if k != CSRF_FIELD and str(v).strip()}
    if action == "reassign":
        to: dict[str, Any] = {
            k.removeprefix("to_"): values.pop(k) for k in list(values) if k.startswith("to_")
        }
        if to.get("role") in Role.__members__:
            to["role"] = Role(to["role"])
        return {**values, "to": to}
    return values
