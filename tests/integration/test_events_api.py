"""POST /api/v1/events: the validated endpoint for client-side behaviour events."""

from __future__ import annotations

import uuid
from typing import Any

import duckdb
import httpx
import pytest

from livecart.bootstrap import Container
from livecart.core.clock import FrozenClock
from livecart.events.sink import events_view_sql, log_files
from livecart.settings import Settings
from tests.conftest import LiveServer
from tests.support import auth, make_user

ANON = str(uuid.uuid4())


def click(**extra: Any) -> dict[str, Any]:
    return {"type": "product_click", "session_id": 3, "product_id": 41, **extra}


async def logged(container: Container) -> list[tuple[Any, ...]]:
    await container.events.flush()
    with duckdb.connect() as db:
        db.execute(events_view_sql(container.settings.event_log_dir))
        return db.execute(
            "SELECT event_type, consumer_id, anonymous_id, session_id, product_id, sku_id,"
            " source, properties, epoch(occurred_at) FROM events ORDER BY event_type"
        ).fetchall()


async def test_anonymous_events_are_accepted_and_logged_at_server_time(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    body = {
        "events": [
            click(anonymous_id=ANON, properties={"position": 2, "from": "showcase", "hd": True}),
            {"type": "detail_view", "product_id": 41, "sku_id": 77, "anonymous_id": ANON},
            {"type": "heartbeat", "session_id": 3, "anonymous_id": ANON},
        ]
    }
    r = await client.post("/api/v1/events", json=body)
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 3}

    now = clock.now().timestamp()
    assert await logged(container) == [
        ("detail_view", None, ANON, None, 41, 77, "client", None, now),
        ("heartbeat", None, ANON, 3, None, None, "client", None, now),
        (
            "product_click",
            None,
            ANON,
            3,
            41,
            None,
            "client",
            '{"position": 2, "from": "showcase", "hd": true}',
            now,
        ),
    ]


async def test_signed_in_events_carry_the_caller_as_consumer(
    client: httpx.AsyncClient, container: Container, any_backend: str
) -> None:
    user = await make_user(container)
    r = await client.post(
        "/api/v1/events", json={"events": [click()]}, headers=await auth(client, container, user)
    )
    assert r.status_code == 202, r.text
    rows = await logged(container)
    assert [(row[0], row[1], row[2]) for row in rows] == [("product_click", user, None)]


@pytest.mark.parametrize(
    ("events", "code"),
    [
        ([click(anonymous_id=ANON, type="join")], "invalid_input"),
        ([click(anonymous_id=ANON, type="order")], "invalid_input"),
        ([click(anonymous_id=ANON, type="payment")], "invalid_input"),
        ([click(anonymous_id=ANON, type="leave")], "invalid_input"),
        ([click(anonymous_id=ANON, type="teleport")], "invalid_input"),
        ([click(anonymous_id=ANON)] * 50, "invalid_input"),  # 51 with the valid one
        ([], "invalid_input"),
        ([click(anonymous_id=ANON, occurred_at="2020-01-01T00:00:00Z")], "unknown_field"),
        ([click(anonymous_id=ANON, consumer_id=1)], "unknown_field"),
        ([click(anonymous_id=ANON, watch_seconds=9999)], "unknown_field"),
        ([click(anonymous_id="not-a-uuid")], "invalid_input"),
        ([click()], "anonymous_id_required"),
        ([click(anonymous_id=ANON, properties={"nested": {"a": 1}})], "invalid_input"),
        ([click(anonymous_id=ANON, properties={"list": [1, 2]})], "invalid_input"),
        ([click(anonymous_id=ANON, properties={f"k{i}": i for i in range(21)})], "invalid_input"),
        ([click(anonymous_id=ANON, properties={"long": "x" * 201})], "invalid_input"),
        ([click(anonymous_id=ANON, properties={"bad key!": 1})], "invalid_input"),
        ([click(anonymous_id=ANON, product_id=0)], "invalid_input"),
    ],
)
async def test_invalid_batches_are_rejected_whole(
    client: httpx.AsyncClient, container: Container, events: list[Any], code: str
) -> None:
    good = click(anonymous_id=ANON)
    batch = [good, *events] if events else []
    r = await client.post("/api/v1/events", json={"events": batch})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code
    assert (await client.post("/api/v1/events", json={"events": [good]})).status_code == 202
    assert len(await logged(container)) == 1  # nothing of the rejected batch was recorded


async def test_fifty_events_is_the_limit(client: httpx.AsyncClient, container: Container) -> None:
    r = await client.post("/api/v1/events", json={"events": [click(anonymous_id=ANON)] * 50})
    assert r.status_code == 202 and r.json() == {"accepted": 50}
    assert len(await logged(container)) == 50


async def test_server_only_types_say_why(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/events", json={"events": [click(type="join")]})
    assert r.status_code == 422
    [error] = r.json()["error"]["details"]["errors"]
    assert error["field"] == "events.0.type" and "server only" in error["message"]


async def test_rate_limited_per_client(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    burst = container.settings.events_client_burst
    body = {"events": [click(anonymous_id=ANON)]}
    for _ in range(burst):
        assert (await client.post("/api/v1/events", json=body)).status_code == 202
    r = await client.post("/api/v1/events", json=body)
    assert r.status_code == 429 and r.json()["error"]["code"] == "events_rate_limited"
    assert int(r.headers["Retry-After"]) >= 1

    # Another client (a signed-in user) has its own bucket.
    user = await make_user(container)
    headers = await auth(client, container, user)
    assert (await client.post("/api/v1/events", json=body, headers=headers)).status_code == 202

    clock.advance(seconds=container.settings.events_client_per_seconds)
    assert (await client.post("/api/v1/events", json=body)).status_code == 202
    assert len(await logged(container)) == burst + 2


def test_events_posted_to_a_running_server_are_written_when_it_stops(settings: Settings) -> None:
    # The timer is an hour and the batch far from full: only the shutdown flush writes them.
    server = LiveServer(settings.model_copy(update={"events_flush_seconds": 3600.0}))
    server.start()
    try:
        body = {"events": [click(anonymous_id=ANON), click(anonymous_id=ANON, product_id=42)]}
        r = httpx.post(f"{server.url}/api/v1/events", json=body, timeout=10)
        assert r.status_code == 202, r.text
        assert log_files(settings.event_log_dir) == []
    finally:
        server.stop()
    assert not server.thread.is_alive()
    with duckdb.connect() as db:
        db.execute(events_view_sql(settings.event_log_dir))
        got = db.execute("SELECT product_id FROM events ORDER BY product_id").fetchall()
    assert got == [(41,), (42,)]
