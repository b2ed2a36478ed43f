"""The privacy page in Chromium, as a consumer uses it: personalisation off and on again, the
download of everything held about them, and account deletion (a wrong password first)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import BrowserContext, expect

from livecart.accounts import service as accounts
from livecart.bootstrap import Container
from tests.conftest import LiveServer
from tests.e2e.conftest import login, on_server_db, screenshot
from tests.e2e.world import build_world
from tests.support import PASSWORD, email_of


def _allowed(user_id: int) -> Callable[[Container], object]:
    async def read(container: Container) -> bool:
        async with container.uow() as uow:
            return await accounts.personalisation_allowed(uow.session, user_id)

    return read


def test_consumer_switches_personalisation_downloads_data_and_deletes_the_account(
    live_server: LiveServer, new_context: Callable[..., BrowserContext], tmp_path: Path
) -> None:
    world = on_server_db(live_server, build_world)
    address = on_server_db(live_server, lambda c: email_of(c, world.alice_id))
    page = new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True).new_page()
    login(page, live_server, world.alice_id, "/orders")

    # Found from the navigation, on by default.
    page.click("nav >> text=Privacy")
    page.wait_for_url("**/account/privacy")
    expect(page.locator("[data-testid=personalisation]")).to_have_text("on")
    page.click("[data-testid=personalisation-off]")
    expect(page.locator("[data-testid=privacy-saved]")).to_contain_text("nothing is chosen")
    expect(page.locator("[data-testid=personalisation]")).to_have_text("off")
    assert on_server_db(live_server, _allowed(world.alice_id)) is False
    screenshot(page, "privacy.png")
    page.click("[data-testid=personalisation-on]")
    expect(page.locator("[data-testid=personalisation]")).to_have_text("on")
    assert on_server_db(live_server, _allowed(world.alice_id)) is True

    # The download is the export: the account's own row, with its e-mail.
    with page.expect_download() as started:
        page.click("[data-testid=export]")
    download = started.value
    assert download.suggested_filename == "livecart-my-data.json"
    saved = tmp_path / "mine.json"
    download.save_as(saved)
    data = json.loads(saved.read_text())
    assert data["user_id"] == world.alice_id
    assert [row["email"] for row in data["tables"]["users"]] == [address]

    # A wrong password deletes nothing; the right one deletes and signs out.
    page.fill("#password", "not my password")
    page.click("[data-testid=delete-account]")
    expect(page.locator("[data-testid=privacy-error]")).to_contain_text("not your password")
    page.fill("#password", PASSWORD)
    page.click("[data-testid=delete-account]")
    expect(page.locator("[data-testid=done] h1")).to_have_text("Your account is deleted")
    expect(page.locator("header a", has_text="Log in")).to_be_visible()
    page.goto("/account/privacy")
    page.wait_for_url("**/login?next=%2Faccount%2Fprivacy")
    page.fill("#email", address)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    expect(page.locator("[data-testid=login-error]")).to_contain_text("Wrong e-mail or password")
