"""Health and metrics have their own port, apart from the endpoints that serve personal data."""

from __future__ import annotations

import httpx
from starlette.routing import Route

from kit.http import health_app
from kit.metrics import Metrics


async def always_ready() -> bool:
    return True


async def test_the_health_port_serves_liveness_readiness_and_metrics_and_nothing_else() -> None:
    app = health_app(Metrics("referrals"), always_ready)

    assert len(app.routes) == 3
    assert {route.path for route in app.routes if isinstance(route, Route)} == {
        "/health/live",
        "/health/ready",
        "/metrics",
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://health") as client:
        assert (await client.get("/health/live")).json() == {"status": "live"}
        assert (await client.get("/health/ready")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200
        assert (await client.get("/ui")).status_code == 404
        assert (await client.get("/openapi.json")).status_code == 404
