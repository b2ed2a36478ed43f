"""A burst of negative chat from viewers' sockets raises the overturn alert on the anchor console."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
from playwright.sync_api import BrowserContext, expect
from websockets.asyncio.client import connect

from livecart.bootstrap import Container
from tests.conftest import LiveServer
from tests.e2e.conftest import login, on_server_db, screenshot
from tests.e2e.world import World, build_world
from tests.support import token_for

BURST = {
    "alice": ["this tea is fake", "总之是假货", "I want a refund"],
    "bob": ["scam!!", "质量差, 垃圾", "what a rip-off"],
}


def _burst(server: LiveServer, world: World) -> list[str]:
    """Alice and Bob, each on a socket of their own, send three negative messages each; returns
    the texts that came back as chat (shown to the room)."""

    async def work(container: Container) -> list[str]:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            tokens = {
                "alice": await token_for(http, container, world.alice_id),
                "bob": await token_for(http, container, world.bob_id),
            }
        base = f"ws://127.0.0.1:{server.port}/ws/sessions/{world.session_id}?batch=1&token="
        sockets = {
            name: await connect(base + token, origin=server.url) for name, token in tokens.items()
        }
        for round_ in range(3):
            for name, ws in sockets.items():
                await ws.send(json.dumps({"type": "chat", "text": BURST[name][round_]}))
        wanted = {text for texts in BURST.values() for text in texts}
        shown: list[str] = []
        ws = sockets["alice"]
        async with asyncio.timeout(10):
            while not wanted <= set(shown):
                message = json.loads(await ws.recv())
                for frame in message if isinstance(message, list) else [message]:
                    assert frame["type"] != "alert", "a viewer received a staff alert"
                    if frame["type"] == "chat":
                        shown.append(frame["text"])
        for ws in sockets.values():
            await ws.close()
        return shown

    return on_server_db(server, work)


def test_negative_chat_burst_shows_the_overturn_alert_on_the_console(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)
    console = new_context(viewport={"width": 1360, "height": 900}).new_page()
    login(console, live_server, world.anchor_id, f"/console/sessions/{world.session_id}")
    expect(console.locator("[data-testid=session-status]")).to_have_text("live")
    alert = console.locator("[data-testid=overturn-alert]")
    expect(alert).to_be_hidden()
    # The alert's socket is open (an alert is pushed, not replayed, so it must listen first).
    expect(alert).to_have_attribute("data-socket", "open")

    shown = _burst(live_server, world)
    assert len(shown) == 6

    # The 5-second requirement: from the last message of the burst to the alert on screen.
    expect(alert).to_be_visible(timeout=5000)
    expect(console.locator("[data-testid=overturn-alert-message]")).to_contain_text(
        "negative messages or complaints in the last 30 s"
    )
    screenshot(console, "overturn-alert.png")
    console.get_by_role("button", name="Dismiss").click()
    expect(alert).to_be_hidden()
