"""The services' own endpoints: who may call them, and answers that never leak nor crash.

A service's endpoints (``Wiring.routes``) are served on its ``api_port`` only (kit/http.py), behind
:class:`Authenticate`: every request carries ``Authorization: Bearer <JWT>``, verified by
:class:`kit.identity.Verifier` (the identity provider's keys, issuer, audience, expiry) before any
route is matched. Without a token, or with one that does not verify, the answer is ``401`` with
``WWW-Authenticate: Bearer``; a service's own token (its timers') is refused ``403``: the endpoints
serve officers. An endpoint is written as ``async def endpoint(request, identity) -> Response``
and wrapped with :func:`endpoint`, which hands it the verified :class:`~kit.identity.Identity`
(its subject is the officer id, its roles and privilege come from the token's claims, never from
a header the caller sets).

A browser cannot set that header, so under :data:`UI_PREFIX` (a service's server-rendered pages)
the token may come instead in the HttpOnly :data:`SESSION_COOKIE` the page's login sets; there a
request without a token that verifies is sent to the login page (``303``), and the login page and
the static files (:data:`UI_OPEN_PATHS`) are served without one. Elsewhere the cookie is ignored.
The pages' forms carry a CSRF token, checked by the service on every POST.

Every error is JSON ``{"reason_code": …, "reason": …}`` without personal data. An endpoint
refuses by raising :class:`ApiError`; the parsing helpers here raise it for malformed input (only
ASCII digits make a number, a CSID or UUID must match whole, with no trailing newline), so bad
input is a 4xx, never a 500. Anything else an endpoint raises is answered ``500 INTERNAL_ERROR``
with no detail, and logged by its class only.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request, cookie_parser
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from contracts.base import Actor, Role
from kit.identity import Identity, Unauthenticated, Verifier
from kit.logs import log_limited

IDENTITY_SCOPE_KEY = "casemesh.identity"
"""Where :class:`Authenticate` leaves the verified identity in the request's ASGI scope."""
TOKEN_SCOPE_KEY = "casemesh.token"
"""Where :class:`Authenticate` leaves the verified token itself (a service publishing an officer's
command forwards it as the record's identity header)."""
UI_PREFIX = "/ui"
"""Paths of a service's pages for browsers, where the bearer token may come in a cookie."""
UI_LOGIN_PATH = "/ui/login"
UI_OPEN_PATHS = (UI_LOGIN_PATH, "/ui/static/")
"""Served without a token: the login page (exactly) and the static files (by prefix)."""
SESSION_COOKIE = "casemesh_session"
"""The cookie holding a browser's bearer token, read under :data:`UI_PREFIX` only."""
ACTOR_HEADER = "x-casemesh-actor"
"""The staff-referencing details of an actor (an ``Actor`` as JSON); it must agree with the token."""

CSID_PATTERN = re.compile(r"[0-9]{6,12}")
UUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
NUMBER_PATTERN = re.compile(r"[0-9]{1,18}")
"""A whole number as ASCII digits: ``"²".isdigit()`` is True but ``int("²")`` fails."""
CODE_MAX = 64


class ApiError(Exception):
    """A refusal an endpoint answers with ``status`` and the JSON error shape."""

    def __init__(self, reason_code: str, reason: str, status: int = 400, **extra: Any) -> None:
        super().__init__(reason)
        self.reason_code = reason_code
        self.reason = reason
        self.status = status
        self.extra = extra

    def response(self) -> JSONResponse:
        return error(self.reason_code, self.reason, self.status, **self.extra)


def error(
    reason_code: str, reason: str, status: int, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"reason_code": reason_code, "reason": reason, **extra}, status, headers=headers)


def unauthenticated(reason: str) -> JSONResponse:
    return error(Unauthenticated.code, reason, 401, headers={"WWW-Authenticate": "Bearer"})


def forbidden(reason: str, reason_code: str = "FORBIDDEN") -> ApiError:
    return ApiError(reason_code, reason, 403)


# -- who is calling


class Authenticate:
    """ASGI middleware: the request's bearer token is verified before anything else runs."""

    def __init__(self, app: ASGIApp, verifier: Verifier) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # no endpoint is a websocket
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        ui = path == UI_PREFIX or path.startswith(UI_PREFIX + "/")
        if ui and (path == UI_LOGIN_PATH or path.startswith(UI_OPEN_PATHS[1])):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        authorization = headers.get("authorization")
        if ui and authorization is None:
            session = cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
            authorization = f"Bearer {session}" if session else None
        try:
            identity = self.verifier.bearer(authorization)
        except Exception as exc:
            # Whatever a hostile token makes the JWT library raise, it does not verify.
            reason = exc.reason if isinstance(exc, Unauthenticated) else "the identity token does not verify"
            refusal = RedirectResponse(UI_LOGIN_PATH, 303) if ui else unauthenticated(reason)
            await refusal(scope, receive, send)
            return
        if identity.service is not None:
            await error("FORBIDDEN", "The endpoints serve officers, not services.", 403)(scope, receive, send)
            return
        scope[IDENTITY_SCOPE_KEY] = identity
        scope[TOKEN_SCOPE_KEY] = str(authorization).partition(" ")[2].strip()
        await self.app(scope, receive, send)


Endpoint = Callable[[Request, Identity], Awaitable[Response]]


def endpoint(serve: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint calling ``serve`` with the verified identity; refusals become their
    JSON answer and anything unexpected a ``500`` without detail."""

    async def wrapper(request: Request) -> Response:
        identity = request.scope.get(IDENTITY_SCOPE_KEY)
        if not isinstance(identity, Identity):
            # Never served without a verified identity, even if mounted without Authenticate.
            return unauthenticated("an Authorization: Bearer token is required")
        try:
            return await serve(request, identity)
        except ApiError as exc:
            return exc.response()
        except ClientDisconnect:
            return error("REQUEST_INCOMPLETE", "The request ended before its body was complete.", 400)
        except Exception as exc:
            # Logged by the endpoint's name and the error's class: the message may hold personal data.
            log_limited("endpoint_failed", key=name, endpoint=name, error_class=type(exc).__name__)
            return error("INTERNAL_ERROR", "The request could not be completed.", 500)

    name = getattr(serve, "__name__", "endpoint")
    wrapper.__name__ = name
    return wrapper


def require_role(identity: Identity, role: Role) -> None:
    if role not in identity.roles:
        raise forbidden(f"The token does not grant the {role.value} role.")


def require_officer(identity: Identity, officer_id: str) -> None:
    if officer_id != identity.subject:
        raise forbidden("An officer's own list is theirs only.")


def actor_of(request: Request, identity: Identity) -> Actor:
    """The ``X-Casemesh-Actor`` header's actor, which must be the token's officer in one of its roles."""
    # The raw bytes, read as UTF-8 JSON (Starlette would decode a header as Latin-1).
    raw = next((value for name, value in request.headers.raw if name == ACTOR_HEADER.encode()), None)
    if raw is None:
        raise ApiError("ACTOR_REQUIRED", "The X-Casemesh-Actor header (an Actor as JSON) is required.")
    try:
        actor = Actor.model_validate_json(raw)
    except ValidationError:
        raise ApiError("INVALID_ACTOR", "X-Casemesh-Actor is not a valid Actor.") from None
    mismatch = identity.mismatch(actor)
    if mismatch is not None:
        raise forbidden(f"X-Casemesh-Actor does not agree with the token: {mismatch}.", "ACTOR_MISMATCH")
    return actor


# -- parsing what the caller sent


def csid_of(request: Request, name: str = "csid") -> str:
    """The path's CSID: 6-12 ASCII digits, the whole value (a trailing newline is refused)."""
    raw = str(request.path_params.get(name, ""))
    if not CSID_PATTERN.fullmatch(raw):
        raise ApiError("INVALID_CSID", "A CSID is 6-12 digits.")
    return raw


def whole_number(raw: str, name: str, low: int, high: int, reason_code: str = "INVALID_PARAMETER") -> int:
    """``raw`` as an int from ``low`` to ``high``: ASCII digits only."""
    if not NUMBER_PATTERN.fullmatch(raw) or not low <= int(raw) <= high:
        raise ApiError(reason_code, f"{name} must be a whole number from {low} to {high}.")
    return int(raw)


def int_query(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    return default if raw is None else whole_number(raw, name, low, high)


def uuid_value(raw: str, name: str) -> UUID:
    """A UUID in its canonical hyphenated form (``UUID()`` alone also takes braces, ``urn:uuid:``
    and other digits)."""
    if not UUID_PATTERN.fullmatch(raw):
        raise ApiError("INVALID_PARAMETER", f"{name} must be a UUID.")
    return UUID(raw)


def uuid_query(request: Request, name: str) -> UUID | None:
    raw = request.query_params.get(name)
    return None if raw is None else uuid_value(raw, name)


def code_query(request: Request, name: str, max_chars: int = CODE_MAX) -> str | None:
    """A short code (a case id): 1-``max_chars`` printable characters."""
    value = request.query_params.get(name)
    if value is None:
        return None
    if not 1 <= len(value) <= max_chars or not value.isprintable():
        raise ApiError("INVALID_PARAMETER", f"{name} must be 1-{max_chars} printable characters.")
    return value
