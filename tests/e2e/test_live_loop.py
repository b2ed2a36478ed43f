"""The whole loop in Chromium: log in, watch, chat, see the anchor's pin, buy, pay, find the order."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import BrowserContext, expect

from tests.conftest import LiveServer
from tests.e2e.conftest import PHONE, login, on_server_db, screenshot
from tests.e2e.world import build_world


def test_consumer_chats_sees_the_pin_buys_pays_and_finds_the_order(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)
    room_path = f"/live/{world.session_id}"

    anchor = new_context(viewport={"width": 1360, "height": 900}).new_page()
    login(anchor, live_server, world.anchor_id, f"/console/sessions/{world.session_id}")
    expect(anchor.locator("[data-testid=session-status]")).to_have_text("live")

    alice = new_context(viewport={"width": 1280, "height": 800}).new_page()
    login(alice, live_server, world.alice_id, room_path)
    bob = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    login(bob, live_server, world.bob_id, room_path)

    # Chat: Bob sees what Alice says, and so does the anchor's console.
    expect(alice.locator("#chat-input")).to_be_enabled()
    alice.fill("#chat-input", "Is the jasmine tea organic?")
    alice.press("#chat-input", "Enter")
    expect(bob.locator("[data-testid=chat] li")).to_contain_text(["Is the jasmine tea organic?"])
    expect(anchor.locator("[data-testid=console-chat]")).to_contain_text(
        "Is the jasmine tea organic?"
    )
    expect(bob.locator("[data-testid=pinned]")).to_contain_text("Nothing pinned")

    # The anchor pins the product from the console; both viewers see the card at once.
    anchor.click(f"[data-testid=pin-{world.product_id}]")
    expect(alice.locator("[data-testid=pinned-title]")).to_have_text("Jasmine pearl green tea")
    expect(bob.locator("[data-testid=pinned-title]")).to_have_text("Jasmine pearl green tea")
    expect(bob.locator("[data-testid=pinned-price]")).to_have_text("CNY 89.00")

    bob.fill("#chat-input", "Pinned! buying now")
    bob.press("#chat-input", "Enter")
    expect(alice.locator("[data-testid=chat]")).to_contain_text("Pinned! buying now")
    screenshot(bob, "viewer-room-phone.png")

    # Alice buys the bigger pack without leaving the room, then pays in the drawer.
    alice.select_option("#sku-select", str(world.sku_ids[1]))
    expect(alice.locator("[data-testid=pinned-price]")).to_have_text("CNY 199.00")
    alice.fill("#qty", "2")
    screenshot(alice, "viewer-room.png")
    alice.click("#buy-now")
    expect(alice.locator("[data-testid=drawer]")).to_contain_text("CNY 398.00")
    alice.click("[data-testid=pay]")
    expect(alice.locator("[data-testid=paid]")).to_contain_text("Paid")
    assert alice.url.endswith(room_path)  # never left the room

    # The purchase shows in Bob's ticker (anonymised) and in the console's statistics.
    expect(bob.locator("[data-testid=ticker]")).to_contain_text("Jasmine pearl green tea")
    expect(anchor.locator("[data-stat=orders]")).to_have_text("1", timeout=10_000)
    screenshot(anchor, "anchor-console.png")

    alice.goto("/orders")
    row = alice.locator("[data-testid=orders] tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Jasmine pearl green tea")
    expect(row).to_contain_text("CNY 398.00")
    expect(row.locator("[data-testid=order-status]")).to_have_text("paid")
