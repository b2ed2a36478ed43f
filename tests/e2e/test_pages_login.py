"""Logging in and out through the pages: session cookie, CSRF, throttling, `next`."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Browser, BrowserContext

from livecart.accounts.schemas import Role
from tests.conftest import LiveServer
from tests.e2e.conftest import login, on_server_db
from tests.support import make_user


def test_login_sets_an_httponly_session_cookie_and_logout_clears_it(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    user_id = on_server_db(live_server, lambda c: make_user(c, Role.anchor, name="Ann Anchor"))
    context = new_context()
    page = context.new_page()
    page.goto("/console")
    assert "/login?next=%2Fconsole" in page.url
    login(page, live_server, user_id, "/orders")
    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies[live_server.settings.session_cookie_name]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert page.locator("[data-testid=me]").inner_text() == "Ann Anchor"
    assert page.locator("nav a[href='/console']").count() == 1
    assert page.evaluate("document.cookie") == ""  # not readable by scripts
    page.click("text=Log out")
    page.wait_for_url(f"{live_server.url}/")
    assert live_server.settings.session_cookie_name not in {c["name"] for c in context.cookies()}


def test_chromium_keeps_a_secure_session_cookie_on_plain_http_loopback(
    live_server: LiveServer, browser: Browser
) -> None:
    """The default cookie_secure=True works for `make run` on http://127.0.0.1 (and localhost),
    which Chromium treats as a secure context; other hosts need https."""
    user_id = on_server_db(live_server, lambda c: make_user(c, name="Sue Secure"))
    secure = LiveServer(live_server.settings.model_copy(update={"cookie_secure": True}))
    secure.start()
    try:
        context = browser.new_context(base_url=secure.url)
        page = context.new_page()
        login(page, secure, user_id, "/orders")
        cookie = next(
            c for c in context.cookies() if c["name"] == secure.settings.session_cookie_name
        )
        assert cookie["secure"] is True
        assert page.locator("[data-testid=me]").inner_text() == "Sue Secure"
        context.close()
    finally:
        secure.stop()
