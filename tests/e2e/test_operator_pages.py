"""An operator finds a user by e-mail and grants and revokes roles with the page's buttons."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import BrowserContext, Dialog, expect

from tests.conftest import LiveServer
from tests.e2e.conftest import login, on_server_db
from tests.e2e.world import build_world, click_and_reload
from tests.support import email_of, make_user


def test_operator_grants_anchor_and_merchant_then_revokes_anchor(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)
    nina_id = on_server_db(live_server, lambda c: make_user(c, name="Nina Newcomer"))
    nina_email = on_server_db(live_server, lambda c: email_of(c, nina_id))
    page = new_context(viewport={"width": 1360, "height": 900}).new_page()
    login(page, live_server, world.operator_id, "/operator")

    page.get_by_label("Search users").fill(nina_email)
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/operator?q=*")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    row = page.locator(f"tr[data-user-id='{nina_id}']")
    expect(row).to_contain_text("Nina Newcomer")
    expect(row).to_contain_text(nina_email)
    chips = row.locator(".chip")
    expect(chips).to_have_text(["consumer"])

    row.get_by_label("Role", exact=True).select_option("anchor")
    click_and_reload(page, row.get_by_role("button", name="Grant"))
    expect(chips).to_have_text(["consumer", "anchor"])

    row.get_by_label("Role", exact=True).select_option("merchant")
    row.get_by_label("Brand (merchants)").select_option(label="Lumen Tea")
    click_and_reload(page, row.get_by_role("button", name="Grant"))
    expect(chips).to_have_text(["consumer", "anchor", "merchant · brand Lumen Tea"])

    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    click_and_reload(page, row.get_by_role("button", name="Revoke anchor"))
    assert asked == ["Revoke anchor from Nina Newcomer?"]
    expect(chips).to_have_text(["consumer", "merchant · brand Lumen Tea"])

    # The API says the same, and Nina's own pages follow her new roles.
    response = page.request.get("/api/v1/users", params={"q": nina_email})
    assert response.ok, response.text()
    (found,) = [u for u in response.json() if u["id"] == nina_id]
    assert sorted(found["roles"]) == ["consumer", "merchant"]
    assert found["grants"] == [{"role": "merchant", "brand_id": world.brand_id, "room_id": None}]

    nina = new_context().new_page()
    login(nina, live_server, nina_id, "/merchant")
    expect(nina.locator(f"[data-testid=brand-{world.brand_id}] h2")).to_have_text("Lumen Tea")
    expect(nina.locator("nav a[href='/console']")).to_have_count(0)
    nina.goto("/console")
    expect(nina.locator("h1")).to_have_text("Not allowed")


def test_a_refused_grant_shows_why_and_changes_nothing(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)
    page = new_context().new_page()
    login(page, live_server, world.operator_id, "/operator?q=Alice")
    row = page.locator(f"tr[data-user-id='{world.alice_id}']")
    row.get_by_label("Role", exact=True).select_option("merchant")  # but no brand chosen
    row.get_by_role("button", name="Grant").click()
    flash = page.locator(".flash-slot")
    expect(flash).to_be_visible()
    expect(flash).to_have_class("flash-slot flash error")
    expect(flash).to_contain_text("brand")
    page.reload()
    expect(row.locator(".chip")).to_have_text(["consumer"])
