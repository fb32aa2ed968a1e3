"""A real headless browser for tests: Debian's Chromium driven by Playwright.

Playwright never downloads a browser here (no network but the package registries): it launches the
system Chromium by ``executable_path``. ``make browser-install`` (a prerequisite of ``make test``)
installs Debian's ``chromium`` where none is found; the ``playwright`` pin in ``constraints.txt`` is
the release built against the same Chromium major, so the DevTools protocol matches.

Where to find the browser, in this order: ``CASEMESH_CHROMIUM`` (a path or a command name), then
``chromium``, ``chromium-browser`` and ``google-chrome`` on ``PATH``.

A test that needs the browser calls ``require_browser()`` (``open_browser()`` does it too): without
Chromium or Playwright it is skipped, except under ``CI=true``, where it fails — the project's rule
for every test that needs infrastructure.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser

CHROMIUM_VARIABLE = "CASEMESH_CHROMIUM"
CHROMIUM_COMMANDS = ("chromium", "chromium-browser", "google-chrome")

# Root runs the browser (here and in CI), and Chromium's sandbox refuses root. Playwright adds its
# own switches that keep Chromium off the network (no background networking, component updates or
# sync) and gives every launch a new, empty profile.
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def chromium_path() -> str | None:
    """The Chromium to launch: ``CASEMESH_CHROMIUM``, else the first of ``CHROMIUM_COMMANDS`` on
    ``PATH``; None when there is none."""
    configured = os.environ.get(CHROMIUM_VARIABLE)
    if configured:
        return shutil.which(configured)
    for command in CHROMIUM_COMMANDS:
        found = shutil.which(command)
        if found:
            return found
    return None


def require_browser() -> str:
    """The Chromium's path, once both it and Playwright are known to be here; otherwise the test
    fails under ``CI=true`` and is skipped elsewhere."""
    missing: list[str] = []
    path = chromium_path()
    if path is None:
        configured = os.environ.get(CHROMIUM_VARIABLE)
        where = f"{CHROMIUM_VARIABLE}={configured!r} is no executable" if configured else "none on PATH"
        missing.append(f"no Chromium ({where}; `make browser-install` installs Debian's chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("no playwright package (`make venv` installs the test extra)")
    if path is None or missing:
        reason = "a browser test needs Chromium and Playwright: " + "; ".join(missing)
        if _in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@contextlib.asynccontextmanager
async def open_browser() -> AsyncIterator[Browser]:
    """A headless Chromium for the test, closed (with every page it opened) afterwards."""
    path = require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=path, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            await browser.close()
