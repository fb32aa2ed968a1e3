"""The kit's HTTP server against slow clients (kit/http.py), on a real uvicorn and real sockets:
a request's headers must be complete in time, a body must not stall, and a slow endpoint is not
cut short by either."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from deploy.local.localinfra import free_port
from kit.http import HttpServer

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0
MARGIN_S = 2.0


async def live(_: Request) -> Response:
    return JSONResponse({"status": "live"})


async def echo(request: Request) -> Response:
    try:
        return JSONResponse({"received": len(await request.body())})
    except ClientDisconnect:  # what the endpoint sees once the server answered 408
        return Response(status_code=400)


async def slow(_: Request) -> Response:
    await asyncio.sleep(HEADER_TIMEOUT_S + BODY_TIMEOUT_S)
    return JSONResponse({"status": "done"})


@pytest.fixture
async def server() -> AsyncIterator[int]:
    app = Starlette(
        routes=[Route("/live", live), Route("/echo", echo, methods=["POST"]), Route("/slow", slow)]
    )
    port = free_port()
    http = HttpServer(
        app, "127.0.0.1", port, header_timeout_s=HEADER_TIMEOUT_S, body_timeout_s=BODY_TIMEOUT_S
    )
    await http.start()
    try:
        yield port
    finally:
        await http.stop()


async def closed_after(reader: asyncio.StreamReader, limit_s: float) -> tuple[bytes, float]:
    """Everything the server sent until it closed the connection, and when it closed it."""
    started = time.monotonic()
    received = b""
    while True:
        chunk = await asyncio.wait_for(reader.read(4096), timeout=limit_s)
        if not chunk:
            return received, time.monotonic() - started
        received += chunk


async def test_forty_half_open_connections_are_closed_by_the_header_timeout_while_a_request_answers(
    server: int,
) -> None:
    opened = time.monotonic()
    connections = [await asyncio.open_connection("127.0.0.1", server) for _ in range(40)]
    for _, writer in connections:
        writer.write(b"GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # never finished
        await writer.drain()

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server}", timeout=5) as client:
        answer = await client.get("/live")
    assert answer.status_code == 200

    closed = await asyncio.gather(
        *(closed_after(reader, HEADER_TIMEOUT_S + MARGIN_S) for reader, _ in connections)
    )
    assert all(received == b"" for received, _ in closed)
    assert time.monotonic() - opened < HEADER_TIMEOUT_S + MARGIN_S
    for _, writer in connections:
        writer.close()


async def test_headers_trickled_a_byte_at_a_time_do_not_extend_the_deadline(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    started = time.monotonic()

    async def trickle() -> None:
        for byte in b"GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa":
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.1)

    trickling = asyncio.create_task(trickle())
    received, _ = await closed_after(reader, HEADER_TIMEOUT_S + MARGIN_S)
    trickling.cancel()
    assert received == b""
    assert time.monotonic() - started < HEADER_TIMEOUT_S + MARGIN_S
    writer.close()


async def test_a_connection_that_sends_nothing_is_closed_by_the_header_timeout(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    received, elapsed = await closed_after(reader, HEADER_TIMEOUT_S + MARGIN_S)
    assert received == b"" and elapsed >= HEADER_TIMEOUT_S * 0.8
    writer.close()


async def test_a_stalled_body_is_answered_408_and_the_connection_closed(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
    await writer.drain()
    received, elapsed = await closed_after(reader, BODY_TIMEOUT_S + MARGIN_S)
    assert received.startswith(b"HTTP/1.1 408 ")
    assert b'"reason_code":"REQUEST_TIMEOUT"' in received
    assert elapsed >= BODY_TIMEOUT_S * 0.8
    writer.close()


async def test_a_body_sent_in_time_and_a_slow_endpoint_are_answered(server: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server}", timeout=10) as client:
        posted = await client.post("/echo", content=b"y" * 200_000)
        waited = await client.get("/slow")
        again = await client.get("/live")  # the same kept-alive connection, still served
    assert posted.json() == {"received": 200_000}
    assert waited.json() == {"status": "done"}
    assert again.status_code == 200
