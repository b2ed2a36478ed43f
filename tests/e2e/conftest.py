"""Browser fixtures: Debian's Chromium driven by Playwright's sync API (tests are plain `def`).

Data is set up on the running server's database through a second, short-lived container on
the test thread's own event loop, or through the HTTP API.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from livecart.bootstrap import Container, build_container
from tests.conftest import LiveServer
from tests.support import PASSWORD, email_of

T = TypeVar("T")

CHROMIUM = os.environ.get("LIVECART_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def playwright(live_server: LiveServer) -> Iterator[Playwright]:
    """Playwright's sync driver; started after the server because while it runs the test
    thread counts as inside an event loop, and async fixtures can no longer be set up."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield launched
    launched.close()


@pytest.fixture
def new_context(
    browser: Browser, live_server: LiveServer
) -> Iterator[Callable[..., BrowserContext]]:
    """Open isolated browser contexts (one per user) against the live server."""
    opened: list[BrowserContext] = []

    def make(**options: object) -> BrowserContext:
        # Charts drawn at once, not grown into place: a screenshot or a reading of the canvas
        # then sees the finished chart (the pages honour the reader's reduced-motion setting).
        options.setdefault("reduced_motion", "reduce")
        context = browser.new_context(base_url=live_server.url, **options)  # type: ignore[arg-type]
        context.set_default_timeout(10_000)
        opened.append(context)
        return context

    yield make
    for context in opened:
        context.close()


def on_server_db(server: LiveServer, work: Callable[[Container], Awaitable[T]]) -> T:
    """Run `work` against the live server's database with a container of its own."""

    async def go() -> T:
        container = build_container(server.settings)
        try:
            return await work(container)
        finally:
            await container.engine.dispose()

    # A thread of its own: while Playwright runs, this thread counts as inside an event loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, go()).result()


def login(page: Page, server: LiveServer, user_id: int, next_path: str = "/") -> None:
    """Log a browser page in through the login form."""
    email = on_server_db(server, lambda c: email_of(c, user_id))
    page.goto(f"/login?next={next_path}")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"**{next_path}")


def screenshot(page: Page, name: str) -> None:
    """Save a documentation screenshot when LIVECART_SCREENSHOTS=1 (CI leaves docs alone)."""
    if os.environ.get("LIVECART_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name), full_page=False)
