"""Each service's own HTTP port: liveness, readiness, Prometheus metrics, and its endpoints."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from kit.metrics import Metrics

Check = Callable[[], Awaitable[bool]]


def health_app(metrics: Metrics, ready: Check, routes: Sequence[BaseRoute] = ()) -> Starlette:
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
            *routes,
        ]
    )


class HttpServer:
    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
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
