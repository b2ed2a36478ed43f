"""The simulated viewers use the real API and WebSocket: the live room fills with activity."""

from __future__ import annotations

import asyncio

import httpx

from livecart.bootstrap import build_container, running
from livecart.demo import world
from livecart.demo.seed import SMALL, seed
from livecart.demo.simulator import Simulator, SimulatorConfig, demo_consumer_emails
from livecart.events import service as events
from livecart.events.errors import EventLogEmpty
from tests.conftest import LiveServer

API = "/api/v1"


async def _until(check: object, *, tries: int = 200) -> None:
    """Poll a condition (the server writes its event log in the background)."""
    for _ in range(tries):
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition never held")


async def test_simulated_viewers_chat_like_and_buy_in_the_live_session(
    live_server: LiveServer,
) -> None:
    async with running(build_container(live_server.settings)) as container:
        report = await seed(container, SMALL)
    (session_id,) = report.live_session_ids

    async with httpx.AsyncClient(base_url=live_server.url) as client:
        before = (await client.get(f"{API}/sessions/{session_id}/messages")).json()
        simulator = Simulator(
            SimulatorConfig(
                base_url=live_server.url,
                viewers=6,
                consumer_emails=demo_consumer_emails(SMALL.consumers),
                pace=0.01,  # every wait becomes the floor of a tenth of a second
                max_actions=600,
            )
        )

        async def stop_when_everything_happened() -> None:
            while not simulator.stopping.is_set():
                s = simulator.stats
                if (
                    s.chats >= 3
                    and s.likes >= 3
                    and s.payments >= 1
                    and s.pins >= 1
                    and s.flash_orders >= 1
                ):
                    simulator.stop()
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(stop_when_everything_happened())
        stats = await simulator.run()
        await watcher

        assert stats.errors == 0, stats  # every route and frame the simulator uses exists
        assert stats.joins >= 1
        assert stats.payments >= 1, stats
        assert stats.pins >= 1, stats
        assert stats.flash_sales >= 1 and stats.flash_orders >= 1, stats

        after = (await client.get(f"{API}/sessions/{session_id}/messages")).json()
        seeded_ids = {m["id"] for m in before}
        new = [m for m in after if m["id"] not in seeded_ids]
        assert new, "no simulated chat message was stored"
        texts = set(world.CHAT_GREETINGS + world.CHAT_QUESTIONS + world.CHAT_REACTIONS)
        assert all(m["text"] in texts for m in new)

        view = (await client.get(f"{API}/sessions/{session_id}")).json()
        assert view["statistics"]["orders"] >= 1  # paid simulated orders count in the session
        assert view["pinned"] is not None

        token = (
            await client.post(
                f"{API}/auth/token",
                data={"username": world.OPERATOR_EMAIL, "password": world.DEMO_PASSWORD},
            )
        ).json()["access_token"]
        orders = []
        for brand in (await client.get(f"{API}/brands")).json():
            r = await client.get(
                f"{API}/brands/{brand['id']}/orders",
                headers={"Authorization": f"Bearer {token}"},
                params={"limit": 200},
            )
            assert r.status_code == 200, r.text
            orders += [o for o in r.json() if o["session_id"] == session_id]
        assert any(o["status"] == "paid" for o in orders)

    # The server measured the simulated viewers on their sockets: watch time in the log.
    root = live_server.settings.event_log_dir

    async def watched() -> bool:
        try:
            rows = events.watch_time(root, session_id=session_id)
        except EventLogEmpty:
            return False
        return any(r.watch_seconds > 0 for r in rows)

    await _until(watched)
