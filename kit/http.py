"""Each service's two HTTP ports, and the server both run on.

``http_port`` serves liveness, readiness and Prometheus metrics, open to the platform (no personal
data). ``api_port`` serves the service's endpoints (``Wiring.routes``), every request behind a
verified bearer token (kit/api.py). Both bind ``http_host`` (127.0.0.1 unless configured; the
containers set 0.0.0.0).

uvicorn has no timeout on receiving a request (its issue 157: ``timeout_keep_alive`` applies only
between requests and is reset by every byte), so a client trickling a request line holds a
connection for ever. :class:`GuardedH11Protocol` adds the two missing ones: a connection that has
not sent a request's complete headers ``http_header_timeout_s`` after it opened (or after the
request's first byte, on a kept-alive connection) is closed; a body that stalls longer than
``http_body_timeout_s`` between chunks is answered ``408`` and the connection closed. Besides,
connections beyond ``LIMIT_CONCURRENCY`` are answered ``503`` and the listen backlog is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import h11
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from kit.api import Authenticate
from kit.identity import Verifier
from kit.metrics import Metrics

LIMIT_CONCURRENCY = 256
"""Open connections (or requests in progress) beyond which a request is answered 503."""
BACKLOG = 128
"""Connections the kernel queues before the server accepts them."""
KEEP_ALIVE_S = 5

Check = Callable[[], Awaitable[bool]]


def health_app(metrics: Metrics, ready: Check) -> Starlette:
    """Liveness, readiness and metrics: open, with no personal data (``http_port``)."""

    async def live(_: Request) -> Response:
        return JSONResponse({"status": "live"})

    async def readiness(_: Request) -> Response:
        ok = await ready()
        return JSONResponse({"status": "ready" if ok else "not ready"}, status_code=200 if ok else 503)

    async def prometheus(_: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return Starlette(
        routes=[
            Route("/health/live", live),
            Route("/health/ready", readiness),
            Route("/metrics", prometheus),
        ]
    )


def api_app(routes: Sequence[BaseRoute], verifier: Verifier) -> Starlette:
    """The service's endpoints, every request authenticated before routing (``api_port``)."""
    return Starlette(routes=list(routes), middleware=[Middleware(Authenticate, verifier=verifier)])


TIMEOUT_BODY = json.dumps(
    {"reason_code": "REQUEST_TIMEOUT", "reason": "The request body stalled; the connection is closed."},
    separators=(",", ":"),
).encode()


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-header and a request-body timeout."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._headers_due: asyncio.TimerHandle | None = None
        self._body_due: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._headers_due = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_headers()
        self._cancel_body()
        super().connection_lost(exc)

    def _watch(self) -> None:
        """After each chunk: which deadline applies, from the state of the client's request."""
        state = self.conn.their_state
        if self.transport.is_closing():
            self._cancel_headers()
            self._cancel_body()
        elif state is h11.IDLE:
            # Headers incomplete: the deadline runs from the connection's (or request's) start,
            # whatever trickles in meanwhile.
            self._cancel_body()
            if self._headers_due is None:
                self._headers_due = self.loop.call_later(self.header_timeout_s, self._headers_late)
        elif state is h11.SEND_BODY:
            self._cancel_headers()
            self._cancel_body()
            self._body_due = self.loop.call_later(self.body_timeout_s, self._body_late)
        else:
            self._cancel_headers()
            self._cancel_body()

    def _cancel_headers(self) -> None:
        if self._headers_due is not None:
            self._headers_due.cancel()
            self._headers_due = None

    def _cancel_body(self) -> None:
        if self._body_due is not None:
            self._body_due.cancel()
            self._body_due = None

    def _headers_late(self) -> None:
        self._headers_due = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            # h11 answers only a request it has read: the connection is closed without one.
            self.transport.close()

    def _body_late(self) -> None:
        self._body_due = None
        if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            return
        cycle = self.cycle
        if self.flow.read_paused or (cycle is not None and cycle.waiting_for_100_continue):
            # The server is not reading (yet): that is no stall of the client's.
            self._body_due = self.loop.call_later(self.body_timeout_s, self._body_late)
            return
        if cycle is not None and not cycle.response_started:
            self._answer_timeout(cycle)
        self.transport.close()

    def _answer_timeout(self, cycle: Any) -> None:
        """408 in place of the endpoint's answer; the endpoint's next receive is a disconnect."""
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(TIMEOUT_BODY)).encode()),
            (b"connection", b"close"),
        ]
        with contextlib.suppress(h11.LocalProtocolError):
            for event in (
                h11.Response(status_code=408, headers=headers, reason=b"Request Timeout"),
                h11.Data(data=TIMEOUT_BODY),
                h11.EndOfMessage(),
            ):
                self.transport.write(self.conn.send(event) or b"")
        cycle.response_started = True
        cycle.response_complete = True
        cycle.disconnected = True
        cycle.message_event.set()


def guarded_protocol(header_timeout_s: float, body_timeout_s: float) -> type[GuardedH11Protocol]:
    class Guarded(GuardedH11Protocol):
        pass

    Guarded.header_timeout_s = header_timeout_s
    Guarded.body_timeout_s = body_timeout_s
    return Guarded


class HttpServer:
    def __init__(
        self,
        app: Starlette,
        host: str,
        port: int,
        *,
        header_timeout_s: float = 10.0,
        body_timeout_s: float = 30.0,
    ) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_level="warning",
                # uvicorn's own configuration would give its loggers plain-text handlers: without
                # one they go to the root logger's JSON handler (kit/logs.py).
                log_config=None,
                lifespan="off",
                http=guarded_protocol(header_timeout_s, body_timeout_s),
                limit_concurrency=LIMIT_CONCURRENCY,
                backlog=BACKLOG,
                timeout_keep_alive=KEEP_ALIVE_S,
                server_header=False,
            )
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve(), name="http")
        while not self.server.started:
            if self._task.done():
                await self._task
                raise RuntimeError("HTTP server stopped during start")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, timeout=5)
