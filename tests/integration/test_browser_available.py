"""The browser the page tests use is real: Debian's Chromium, driven by Playwright, submits a
server-rendered form to a real HTTP server and shows the page the server rendered in answer."""

from __future__ import annotations

import asyncio
import html
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tests.browser import open_browser

FORM_PAGE = """<!doctype html>
<html><head><title>Referral</title></head><body>
<h1>New referral</h1>
<form method="post" action="/referrals">
  <input type="hidden" name="csid" value="CS-1042">
  <button type="submit" id="submit">Lodge referral</button>
</form>
</body></html>"""


async def form(_: Request) -> Response:
    return HTMLResponse(FORM_PAGE)


async def lodge(request: Request) -> Response:
    fields = await request.form()
    csid = html.escape(str(fields.get("csid", "")))
    return HTMLResponse(
        f"<!doctype html><html><head><title>Lodged</title></head><body>"
        f'<p id="outcome">Referral lodged for {csid}</p></body></html>'
    )


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """The form's app on uvicorn, on a socket bound to a free loopback port before it starts."""
    app = Starlette(routes=[Route("/", form), Route("/referrals", lodge, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]), name="browser-test-site")
    try:
        while not server.started:
            assert not task.done(), "the test site stopped while starting"
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()


async def test_the_system_chromium_clicks_a_button_and_sees_the_page_the_post_rendered(site: str) -> None:
    async with open_browser() as browser:
        page = await browser.new_page()
        await page.goto(site + "/")
        assert await page.title() == "Referral"
        assert await page.locator("#outcome").count() == 0

        await page.get_by_role("button", name="Lodge referral").click()
        await page.wait_for_url(site + "/referrals")

        assert await page.title() == "Lodged"
        assert await page.text_content("#outcome") == "Referral lodged for CS-1042"
        assert await page.locator("#submit").count() == 0
