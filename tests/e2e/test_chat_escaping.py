"""HTML typed into the chat is shown as text and never runs, for the sender and for others."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import BrowserContext, expect

from tests.conftest import LiveServer
from tests.e2e.conftest import login, on_server_db
from tests.e2e.world import build_world

PAYLOAD = '<img src=x onerror="window.__xss=1"><b>bold</b><script>window.__xss=2</script>'


def test_html_in_chat_is_literal_text_and_runs_nothing(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)
    room_path = f"/live/{world.session_id}"
    sender = new_context().new_page()
    login(sender, live_server, world.alice_id, room_path)
    reader = new_context().new_page()
    login(reader, live_server, world.bob_id, room_path)
    console = new_context().new_page()
    login(console, live_server, world.anchor_id, f"/console/sessions/{world.session_id}")

    expect(sender.locator("#chat-input")).to_be_enabled()
    sender.fill("#chat-input", PAYLOAD)
    sender.press("#chat-input", "Enter")

    for page, selector in (
        (reader, "[data-testid=chat]"),
        (sender, "[data-testid=chat]"),
        (console, "[data-testid=console-chat]"),
    ):
        chat = page.locator(selector)
        expect(chat.locator("li").last).to_contain_text(PAYLOAD)
        assert chat.locator("b, img, script").count() == 0
        assert page.evaluate("window.__xss") is None
    # Reloading renders the history from the hello frame the same safe way.
    reader.reload()
    expect(reader.locator("[data-testid=chat] li").last).to_contain_text(PAYLOAD)
    assert reader.locator("[data-testid=chat] b, [data-testid=chat] img").count() == 0
    assert reader.evaluate("window.__xss") is None
