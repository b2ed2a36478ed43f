"""The seeded demo world has a past: sessions with statistics, orders, and a behaviour log."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import duckdb
import httpx
import pytest

from livecart.bootstrap import Container
from livecart.core.clock import FrozenClock
from livecart.demo import world
from livecart.demo.seed import SMALL, seed
from livecart.events import service as events
from livecart.events.sink import events_view_sql

API = "/api/v1"


async def _login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    r = await client.post(
        f"{API}/auth/token", data={"username": email, "password": world.DEMO_PASSWORD}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.mark.usefixtures("any_backend")
async def test_small_world_has_past_sessions_orders_and_sessions_now(
    container: Container, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    report = await seed(container, SMALL, clock=clock)
    now = clock.now()
    assert report.counts["sessions"] >= 3
    assert report.counts["orders"] >= 1

    ended = (await client.get(f"{API}/sessions", params={"status": "ended", "limit": 200})).json()
    assert len(ended) == report.counts["sessions"]
    views = [(await client.get(f"{API}/sessions/{s['id']}")).json() for s in ended]
    for view in views:
        assert datetime.fromisoformat(view["ended_at"]) < now
        assert datetime.fromisoformat(view["started_at"]) < datetime.fromisoformat(view["ended_at"])
        assert view["showcase"]
    stats = [v["statistics"] for v in views]
    assert sum(s["watch_seconds"] for s in stats) == sum(report.watch_seconds.values()) > 0
    assert any(s["peak_viewers"] > 0 and s["likes"] > 0 for s in stats)
    assert sum(s["orders"] for s in stats) >= 1  # paid orders count in their session

    on_air = (await client.get(f"{API}/sessions", params={"status": "live"})).json()
    assert [s["id"] for s in on_air] == report.live_session_ids
    assert len(on_air) == SMALL.live_now
    room = (await client.get(f"{API}/sessions/{on_air[0]['id']}")).json()
    assert len(room["showcase"]) >= 5
    assert room["pinned"] is not None
    assert room["pinned"]["id"] in {c["id"] for c in room["showcase"]}
    chat = (await client.get(f"{API}/sessions/{on_air[0]['id']}/messages")).json()
    assert len(chat) >= 5

    upcoming = (await client.get(f"{API}/sessions", params={"status": "scheduled"})).json()
    assert len(upcoming) == SMALL.upcoming
    assert all(datetime.fromisoformat(s["scheduled_at"]) > now for s in upcoming)

    # Orders of every brand, seen by its merchant: placed in past sessions, moved on by age.
    statuses: Counter[str] = Counter()
    brands = (await client.get(f"{API}/brands")).json()
    for brand in brands:
        spec = next(b for b in world.BRANDS if b.name == brand["name"])
        orders = (
            await client.get(
                f"{API}/brands/{brand['id']}/orders",
                params={"limit": 200},
                headers=await _login(client, spec.merchant_email),
            )
        ).json()
        for order in orders:
            statuses[order["status"]] += 1
            assert order["session_id"] is not None
            assert datetime.fromisoformat(order["created_at"]) < now
            if order["status"] == "completed":
                assert order["paid_at"] < order["shipped_at"] < order["delivered_at"]
                assert order["delivered_at"] < order["completed_at"]
    assert sum(statuses.values()) == report.counts["orders"]
    assert statuses["pending_payment"] == 0  # every past order was paid or cancelled
    assert set(statuses) <= {"paid", "shipped", "delivered", "completed", "cancelled"}


async def test_event_log_has_the_past_and_watch_time_matches_the_seeded_viewing(
    container: Container, clock: FrozenClock
) -> None:
    report = await seed(container, SMALL, clock=clock)
    root = container.settings.event_log_dir
    today = clock.now().date()

    with duckdb.connect() as db:
        db.execute(events_view_sql(root))
        days = db.execute(
            "SELECT count(DISTINCT date), max(date), epoch(max(occurred_at)) FROM events "
            "WHERE source = 'demo'"
        ).fetchone()
        types = {t for (t,) in db.execute("SELECT DISTINCT event_type FROM events").fetchall()}
        beats = db.execute(
            "SELECT count(*), sum(watch_seconds) FROM events "
            "WHERE event_type = 'heartbeat' AND consumer_id IS NOT NULL"
        ).fetchone()
        leaves_without_time = db.execute(
            "SELECT count(*) FROM events WHERE event_type = 'leave' AND watch_seconds IS NULL"
        ).fetchone()
    # Spread over past days; a session that ended earlier today (UTC) counts as past too.
    assert days is not None and days[0] >= 3 and days[1] <= today
    assert days[2] <= clock.now().timestamp(), (days[2], clock.now())
    assert types >= {
        "join",
        "heartbeat",
        "leave",
        "chat",
        "like",
        "product_click",
        "detail_view",
        "add_to_cart",
        "order",
        "payment",
    }
    assert leaves_without_time == (0,)

    # The documented watch-time query agrees with what the seeder had viewers watch.
    watched = {w.consumer_id: w.watch_seconds for w in events.watch_time(root)}
    assert watched == {k: float(v) for k, v in report.watch_seconds.items()}
    assert all(seconds > 0 for seconds in watched.values())
    assert beats is not None and beats[0] > 0
    # Heartbeats are a minute apart; each viewing adds at most one shorter leave.
    assert beats[1] == 60.0 * beats[0] <= sum(watched.values())
