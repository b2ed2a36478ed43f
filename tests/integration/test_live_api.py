"""Live over HTTP: rooms, session lifecycle, co-hosts, showcase and pin, moderation, reservations."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx

from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.core.clock import FrozenClock
from livecart.live import service as live
from livecart.realtime.broker import session_channel
from tests.support import approve_for_live, auth, make_user, qualify_anchor

API = "/api/v1"


async def make_product(
    client: httpx.AsyncClient, container: Container, *, title: str = "Silk scarf"
) -> int:
    """A brand (operator) and an active product (merchant) through the catalog API."""
    operator = await auth(client, container, await make_user(container, Role.operator))
    r = await client.post(f"{API}/brands", json={"name": f"Brand of {title}"}, headers=operator)
    assert r.status_code == 201, r.text
    brand_id = r.json()["id"]
    merchant = await auth(
        client, container, await make_user(container, Role.merchant, brand_id=brand_id)
    )
    body = {
        "brand_id": brand_id,
        "title": title,
        "category": "accessories",
        "skus": [{"code": "S-1", "price": 12990, "currency": "CNY", "stock": 5}],
    }
    r = await client.post(f"{API}/products", json=body, headers=merchant)
    assert r.status_code == 201, r.text
    await approve_for_live(container, int(r.json()["id"]))
    return int(r.json()["id"])


async def anchor_with_session(
    client: httpx.AsyncClient, container: Container
) -> tuple[dict[str, str], int, int]:
    """(anchor headers, room id, scheduled session id); the anchor is qualified to go live."""
    anchor_id = await make_user(container, Role.anchor)
    await qualify_anchor(container, anchor_id)
    anchor = await auth(client, container, anchor_id)
    r = await client.post(f"{API}/rooms", json={"title": "Silk house"}, headers=anchor)
    assert r.status_code == 201, r.text
    room_id = r.json()["id"]
    r = await client.post(
        f"{API}/rooms/{room_id}/sessions", json={"title": "Spring silk"}, headers=anchor
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "scheduled"
    return anchor, room_id, int(r.json()["id"])


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


async def test_rooms_and_session_lifecycle(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    consumer = await auth(client, container, await make_user(container))
    r = await client.post(f"{API}/rooms", json={"title": "Mine"}, headers=consumer)
    assert r.status_code == 403
    anchor_id = await make_user(container, Role.anchor, name="Mia")
    await qualify_anchor(container, anchor_id)
    anchor = await auth(client, container, anchor_id)
    r = await client.post(f"{API}/rooms", json={"title": "Mine", "anchor_id": 9}, headers=anchor)
    assert r.status_code == 422 and error_code(r) == "unknown_field"
    r = await client.post(
        f"{API}/rooms", json={"title": "Tea room", "description": "Leaves"}, headers=anchor
    )
    assert r.status_code == 201, r.text
    room = r.json()
    assert room["anchor_id"] == anchor_id and room["title"] == "Tea room"
    assert (await client.get(f"{API}/rooms/{room['id']}")).json()["id"] == room["id"]
    listed = (await client.get(f"{API}/rooms", params={"anchor_id": anchor_id})).json()
    assert [x["id"] for x in listed] == [room["id"]]

    other = await auth(client, container, await make_user(container, Role.anchor))
    url = f"{API}/rooms/{room['id']}/sessions"
    r = await client.post(url, json={"title": "Not yours"}, headers=other)
    assert r.status_code == 403
    past = (clock.now() - timedelta(minutes=1)).isoformat()
    r = await client.post(url, json={"title": "Late", "scheduled_at": past}, headers=anchor)
    assert r.status_code == 422 and error_code(r) == "scheduled_in_past"
    r = await client.post(url, json={"title": "Evening", "status": "live"}, headers=anchor)
    assert r.status_code == 422 and error_code(r) == "unknown_field"
    soon = (clock.now() + timedelta(hours=1)).isoformat()
    r = await client.post(url, json={"title": "Evening", "scheduled_at": soon}, headers=anchor)
    assert r.status_code == 201
    first = r.json()["id"]
    second = (await client.post(url, json={"title": "Later"}, headers=anchor)).json()["id"]

    upcoming = (await client.get(f"{API}/sessions", params={"status": "scheduled"})).json()
    assert {s["id"] for s in upcoming} == {first, second}

    r = await client.post(f"{API}/sessions/{first}/start", headers=other)
    assert r.status_code == 403
    r = await client.post(f"{API}/sessions/{first}/end", headers=anchor)
    assert r.status_code == 409 and error_code(r) == "invalid_transition"
    r = await client.post(f"{API}/sessions/{first}/start", headers=anchor)
    assert r.status_code == 200 and r.json() == {"id": first, "status": "live"}
    r = await client.post(f"{API}/sessions/{first}/start", headers=anchor)
    assert r.status_code == 409 and error_code(r) == "invalid_transition"
    r = await client.post(f"{API}/sessions/{second}/start", headers=anchor)
    assert r.status_code == 409 and error_code(r) == "room_already_live"

    view = (await client.get(f"{API}/sessions/{first}")).json()
    assert view["status"] == "live" and view["anchor"] == {"id": anchor_id, "display_name": "Mia"}
    assert view["started_at"] is not None and view["pinned"] is None
    assert view["statistics"]["messages"] == 0
    live_now = (await client.get(f"{API}/sessions", params={"status": "live"})).json()
    assert [s["id"] for s in live_now] == [first]

    clock.advance(minutes=30)
    r = await client.post(f"{API}/sessions/{first}/end", headers=anchor)
    assert r.json() == {"id": first, "status": "ended"}
    r = await client.post(f"{API}/sessions/{second}/start", headers=anchor)
    assert r.status_code == 200
    assert (await client.get(f"{API}/sessions/999")).status_code == 404


async def test_cohosts_showcase_and_pin(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    anchor, _room_id, session_id = await anchor_with_session(client, container)
    product = await make_product(client, container)
    spare = await make_product(client, container, title="Wool hat")
    base = f"{API}/sessions/{session_id}"

    cohost_id = await make_user(container, Role.anchor, name="Co")
    cohost = await auth(client, container, cohost_id)
    r = await client.post(f"{base}/showcase", json={"product_id": product}, headers=cohost)
    assert r.status_code == 403
    plain = await make_user(container)
    r = await client.post(f"{base}/cohosts", json={"anchor_id": plain}, headers=anchor)
    assert r.status_code == 422 and error_code(r) == "not_an_anchor"
    r = await client.post(f"{base}/cohosts", json={"anchor_id": cohost_id}, headers=cohost)
    assert r.status_code == 403
    r = await client.post(f"{base}/cohosts", json={"anchor_id": cohost_id}, headers=anchor)
    assert r.status_code == 200 and r.json() == [{"id": cohost_id, "display_name": "Co"}]

    r = await client.post(f"{base}/showcase", json={"product_id": 99999}, headers=anchor)
    assert r.status_code == 404 and error_code(r) == "product_not_found"
    r = await client.post(f"{base}/showcase", json={"product_id": product}, headers=cohost)
    assert r.status_code == 200 and [c["id"] for c in r.json()] == [product]
    r = await client.post(f"{base}/pin", json={"product_id": spare}, headers=anchor)
    assert r.status_code == 409 and error_code(r) == "not_in_showcase"
    r = await client.post(f"{base}/pin", json={"product_id": product, "x": 1}, headers=anchor)
    assert r.status_code == 422 and error_code(r) == "unknown_field"
    r = await client.post(f"{base}/pin", json={"product_id": product}, headers=cohost)
    assert r.status_code == 200 and r.json()["id"] == product

    view = (await client.get(base)).json()
    assert view["pinned"]["id"] == product and view["pinned"]["brand"]["name"]
    assert [c["id"] for c in view["showcase"]] == [product]
    assert [c["id"] for c in view["cohosts"]] == [cohost_id]

    r = await client.delete(f"{base}/pin", headers=anchor)
    assert r.status_code == 204
    assert (await client.get(base)).json()["pinned"] is None
    await client.post(f"{base}/pin", json={"product_id": product}, headers=anchor)
    r = await client.delete(f"{base}/showcase/{product}", headers=anchor)
    assert r.status_code == 200 and r.json() == []
    view = (await client.get(base)).json()
    assert view["pinned"] is None and view["showcase"] == []

    r = await client.delete(f"{base}/cohosts/{cohost_id}", headers=anchor)
    assert r.json() == []
    r = await client.post(f"{base}/start", headers=cohost)
    assert r.status_code == 403


async def test_moderation_needs_room_staff(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    anchor, room_id, session_id = await anchor_with_session(client, container)
    base = f"{API}/sessions/{session_id}"
    viewer = await make_user(container)
    consumer = await auth(client, container, await make_user(container))
    r = await client.post(
        f"{base}/moderation", json={"action": "mute", "user_id": viewer}, headers=consumer
    )
    assert r.status_code == 403 and error_code(r) == "not_room_staff"
    moderator = await auth(
        client, container, await make_user(container, Role.moderator, room_id=room_id)
    )
    r = await client.post(
        f"{base}/moderation",
        json={"action": "mute", "user_id": viewer, "minutes": 10},
        headers=moderator,
    )
    assert r.status_code == 200, r.text
    assert r.json()["until"] is not None and r.json()["room_id"] == room_id
    r = await client.post(
        f"{base}/moderation", json={"action": "slow_mode", "seconds": 5}, headers=moderator
    )
    assert r.json()["slow_mode_seconds"] == 5
    assert (await client.get(f"{API}/rooms/{room_id}")).json()["slow_mode_seconds"] == 5
    r = await client.post(f"{base}/moderation", json={"action": "ban"}, headers=anchor)
    assert r.status_code == 422
    me = (await client.get(f"{API}/me", headers=anchor)).json()["id"]
    r = await client.post(
        f"{base}/moderation", json={"action": "ban", "user_id": me}, headers=moderator
    )
    assert r.status_code == 409 and error_code(r) == "cannot_sanction_staff"
    r = await client.delete(f"{base}/messages/1", headers=consumer)
    assert r.status_code == 403
    r = await client.delete(f"{base}/messages/1", headers=anchor)
    assert r.status_code == 404 and error_code(r) == "message_not_found"
    assert (await client.get(f"{base}/messages")).json() == []


async def test_reservations_only_for_upcoming_sessions(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    anchor, _room_id, session_id = await anchor_with_session(client, container)
    base = f"{API}/sessions/{session_id}"
    assert (await client.post(f"{base}/reservation")).status_code == 401
    fan = await auth(client, container, await make_user(container))
    for _ in range(2):
        r = await client.post(f"{base}/reservation", headers=fan)
        assert r.json() == {"session_id": session_id, "reserved": True, "reservations": 1}
    r = await client.delete(f"{base}/reservation", headers=fan)
    assert r.json()["reservations"] == 0 and r.json()["reserved"] is False
    await client.post(f"{base}/start", headers=anchor)
    r = await client.post(f"{base}/reservation", headers=fan)
    assert r.status_code == 409 and error_code(r) == "session_not_scheduled"


async def test_record_sale_counts_and_publishes_an_anonymous_ticker(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    anchor, room_id, session_id = await anchor_with_session(client, container)
    await client.post(f"{API}/sessions/{session_id}/start", headers=anchor)
    subscription = await container.broker.subscribe(session_channel(session_id))
    async with container.uow() as uow:
        origin = await live.session_origin(uow.session, session_id)
        assert (origin.room_id, origin.status) == (room_id, "live")
        for order_id, amount in ((1, 12990), (2, 5000)):
            await live.record_sale(
                uow,
                session_id=session_id,
                order_id=order_id,
                amount=amount,
                currency="CNY",
                buyer_name="alice",
                product_title="Silk scarf",
                quantity=2,
            )
        await uow.commit()
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(5):
        async for message in subscription:
            frames.append(message)
            if len(frames) == 2:
                break
    await subscription.close()
    assert frames[0]["type"] == "purchase" and frames[0]["buyer"] == "A***"
    assert frames[0]["product_title"] == "Silk scarf" and frames[0]["quantity"] == 2
    assert "alice" not in str(frames)
    stats = (await client.get(f"{API}/sessions/{session_id}")).json()["statistics"]
    assert (stats["orders"], stats["gmv"], stats["currency"]) == (2, 17990, "CNY")

    async with container.uow() as uow:
        rolled_back = await container.broker.subscribe(session_channel(session_id))
        await live.record_sale(
            uow,
            session_id=session_id,
            order_id=3,
            amount=1,
            currency="CNY",
            buyer_name="bob",
            product_title="Hat",
            quantity=1,
        )
        await uow.rollback()
    await container.broker.publish(session_channel(session_id), {"type": "marker"})
    async with asyncio.timeout(5):
        first = await anext(aiter(rolled_back))
    assert first == {"type": "marker"}
    await rolled_back.close()
