"""A flash sale in the browser: countdown, buying, and sold out pushed to another viewer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from playwright.sync_api import BrowserContext, Page, expect

from livecart.bootstrap import Container
from tests.conftest import LiveServer
from tests.e2e.conftest import login, on_server_db, screenshot
from tests.e2e.world import World, anchor_creates_sale, build_world

COUNTDOWN_SECONDS = 8


def open_room(
    server: LiveServer, new_context: Callable[..., BrowserContext], user_id: int, world: World
) -> Page:
    page = new_context().new_page()
    login(page, server, user_id, f"/live/{world.session_id}")
    expect(page.locator("#chat-input")).to_be_enabled()
    return page


def test_viewer_sees_countdown_buys_and_the_other_sees_sold_out(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)

    async def schedule(container: Container) -> int:
        return await anchor_creates_sale(
            container,
            world,
            price=4500,
            quantity=1,
            per_user_limit=1,
            starts_at=container.clock.now() + timedelta(seconds=COUNTDOWN_SECONDS),
        )

    on_server_db(live_server, schedule)
    alice = open_room(live_server, new_context, world.alice_id, world)
    bob = open_room(live_server, new_context, world.bob_id, world)

    for page in (alice, bob):
        banner = page.locator("[data-testid=flash]")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("CNY 45.00")
        expect(page.locator("[data-testid=flash-countdown]")).to_contain_text("starts in 00:0")
        expect(page.locator("[data-testid=flash-buy]")).to_be_disabled()
    screenshot(alice, "flash-countdown.png")

    # When the countdown runs out the sale opens for everyone.
    wait_ms = (COUNTDOWN_SECONDS + 5) * 1000
    for page in (alice, bob):
        expect(page.locator("[data-testid=flash-status]")).to_have_text(
            "1 of 1 left", timeout=wait_ms
        )
        expect(page.locator("[data-testid=flash-buy]")).to_be_enabled()

    alice.locator("[data-testid=flash-buy]").click()
    expect(alice.locator("[data-testid=flash]")).to_contain_text("Got it! Order #")
    # Bob's page hears it within a second, without reloading.
    expect(bob.locator("[data-testid=flash-status]")).to_have_text("Sold out", timeout=1000)
    expect(bob.locator("[data-testid=flash-buy]")).to_be_disabled()
    screenshot(bob, "flash-sold-out.png")

    alice.locator("[data-testid=flash-pay]").click()
    expect(alice.locator("[data-testid=flash]")).to_contain_text("Paid. Thank you!")


def test_anchor_creates_and_starts_a_flash_sale_from_the_console(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)
    console = new_context(viewport={"width": 1360, "height": 900}).new_page()
    login(console, live_server, world.anchor_id, f"/console/sessions/{world.session_id}")
    viewer = open_room(live_server, new_context, world.alice_id, world)
    expect(viewer.locator("[data-testid=flash]")).to_be_hidden()

    form = console.locator("[data-testid=flash-form]")
    form.locator("select[name=sku_id]").select_option(str(world.sku_ids[0]))
    form.locator("input[name=price]").fill("89.00")  # not below the lowest of 30 days
    form.locator("input[name=quantity]").fill("3")
    form.get_by_role("button", name="Create flash sale").click()
    expect(console.locator("[data-testid=flash-panel] .flash-slot")).to_contain_text(
        "below the lowest price"
    )
    form.locator("input[name=price]").fill("59.00")
    form.get_by_role("button", name="Create flash sale").click()
    row = console.locator("[data-testid=flash-panel] .product-row")
    expect(row).to_contain_text("scheduled")
    # The viewer sees the announced sale appear without reloading.
    expect(viewer.locator("[data-testid=flash]")).to_contain_text("CNY 59.00")
    row.get_by_role("button", name="Start").click()
    expect(console.locator("[data-testid=flash-panel] .product-row")).to_contain_text("live")
    expect(viewer.locator("[data-testid=flash-status]")).to_have_text("3 of 3 left")
    expect(viewer.locator("[data-testid=flash-buy]")).to_be_enabled()
