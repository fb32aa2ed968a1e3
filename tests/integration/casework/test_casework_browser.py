"""Casework's pages in a real Chromium, against the real broker and store: an officer signs in
with a token, sees their tasks, claims one, completes it with an outcome, and finds it on the
customer's timeline. The work list is saved as docs/casework-ui.png for the README."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.async_api import Page

from contracts.base import Role
from kit.identity import development_token
from tests.browser import open_browser, require_browser
from tests.integration.casework.support import OFFICER, feedback_for, mesh, start_casework, wait_for_tasks
from tests.support import Mesh

__all__ = ["mesh"]
CSID = "500100301"
OTHER_CSIDS = ("500100302", "500100303")
TITLE = "Give feedback from a complaint"
SENT = "Sent; it will show once casework has applied it."
SCREENSHOT = Path(__file__).parents[3] / "docs" / "casework-ui.png"


async def reload_until(page: Page, check: Callable[[], Awaitable[bool]], timeout_s: float = 60.0) -> None:
    """Reloads the page until ``check`` holds: the page shows casework's state when it is rendered."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await check():
        assert loop.time() < deadline, "the page did not change in time"
        await asyncio.sleep(0.3)
        await page.reload()


async def sign_in(page: Page, base: str) -> None:
    await page.goto(f"{base}/ui")
    assert page.url == f"{base}/ui/login"
    await page.get_by_label("Identity token").fill(development_token(OFFICER.officer_id, [Role.CSO]))
    await page.get_by_label("First name").fill(OFFICER.first_name)
    await page.get_by_label("Site").fill(OFFICER.site)
    await page.get_by_label("Team").fill(OFFICER.team)
    await page.get_by_label("Extension").fill(OFFICER.extension)
    await page.get_by_label("Role").select_option("CSO")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base}/ui")


async def test_an_officer_signs_in_claims_and_completes_a_task_in_chromium_and_finds_it_on_the_timeline(
    mesh: Mesh,
) -> None:
    require_browser()
    base = await start_casework(mesh)
    await feedback_for(mesh, OFFICER, CSID)
    await feedback_for(mesh, OFFICER, OTHER_CSIDS[0])
    # Opened eleven days ago: past its ten-day SLA, so it is overdue and escalated.
    await feedback_for(mesh, OFFICER, OTHER_CSIDS[1], datetime.now(UTC) - timedelta(days=11))
    async with httpx.AsyncClient(base_url=base) as client:
        await wait_for_tasks(client, OFFICER, 3)

    async with open_browser() as browser:
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        await sign_in(page, base)

        assert await page.get_attribute("html", "lang") == "en"
        assert await page.get_by_role("heading", level=1).inner_text() == "My work"
        assert await page.get_by_role("link", name="Skip to main content").count() == 1
        rows = page.locator("tbody tr")
        assert await rows.count() == 3
        assert await page.locator("tbody tr", has_text=OTHER_CSIDS[1]).locator(".badge.overdue").count() == 1
        unlabelled = await page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                   .filter(e => !(e.labels && e.labels.length)).length"""
        )
        assert unlabelled == 0

        await page.locator("tbody tr", has_text=CSID).get_by_role("link", name=TITLE).click()
        await page.wait_for_url(f"{base}/ui/tasks/*")
        task_url = page.url
        status = page.locator("#task-status")
        assert await status.inner_text() == "Open"

        await page.get_by_role("button", name="Claim").click()
        await page.wait_for_url(f"{task_url}?flash=sent")
        assert await page.get_by_role("status").inner_text() == SENT

        async def claimed() -> bool:
            return await status.inner_text() == "Claimed, claimed by OFF-7"

        await reload_until(page, claimed)
        assert await page.locator("tbody tr", has_text="Claimed").count() == 1

        await page.goto(f"{base}/ui")
        SCREENSHOT.parent.mkdir(exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT), full_page=True)

        await page.goto(task_url)
        await page.get_by_label("Outcome").fill("FEEDBACK_GIVEN")
        await page.get_by_role("button", name="Complete").click()
        await page.wait_for_url(f"{task_url}?flash=sent")

        async def done() -> bool:
            return await status.inner_text() == "Done, claimed by OFF-7"

        await reload_until(page, done)
        assert await page.get_by_role("button", name="Claim").count() == 0
        forged = await page.request.post(f"{task_url}/claim", form={"csrf": "forged"}, max_redirects=0)
        assert forged.status == 403

        await page.get_by_role("link", name=CSID).click()
        await page.wait_for_url(f"{base}/ui/cases/{CSID}")
        assert await page.get_by_role("heading", level=1).inner_text() == f"Customer {CSID}"
        timeline = page.locator("table", has=page.locator("caption", has_text="Newest first"))
        newest = timeline.locator("tbody tr").first
        assert await newest.locator("th").inner_text() == "Task completed"
        assert "feedback given" in await newest.inner_text()
        lines = await timeline.locator("tbody th").all_inner_texts()
        assert lines == ["Task completed", "Task claimed", "Task opened", "Staff feedback prepared"]

        await page.goto(f"{base}/ui")
        assert await page.locator("tbody tr").count() == 2
        await context.close()
