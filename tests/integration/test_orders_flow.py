"""Orders over HTTP: buy now, pay, ship, deliver, complete; visibility; input rules; expiry.

The helpers at the top (a shop with stock, fast consumers, a live session) are shared by the
other order and commerce tests.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.catalog.models import Sku
from livecart.commerce import service as commerce
from livecart.commerce.models import Order
from livecart.core.clock import FrozenClock
from livecart.core.security import create_access_token, hash_password
from tests.support import approve_for_live, auth, make_user, qualify_anchor

API = "/api/v1"
_names = itertools.count(1)
_HASH: list[str] = []


@dataclass
class Shop:
    brand_id: int
    merchant: dict[str, str]
    product_id: int
    sku_ids: list[int]
    prices: list[int]


async def make_shop(
    client: httpx.AsyncClient,
    container: Container,
    *stocks: int,
    price: int = 12990,
    currency: str = "CNY",
) -> Shop:
    """An operator registers a brand; its merchant lists a product with one SKU per stock."""
    n = next(_names)
    operator = await auth(client, container, await make_user(container, Role.operator))
    r = await client.post(f"{API}/brands", json={"name": f"Brand {n}"}, headers=operator)
    assert r.status_code == 201, r.text
    brand_id = int(r.json()["id"])
    merchant_id = await make_user(container, Role.merchant, brand_id=brand_id)
    merchant = await auth(client, container, merchant_id)
    prices = [price + 1000 * i for i in range(len(stocks))]
    r = await client.post(
        f"{API}/products",
        json={
            "brand_id": brand_id,
            "title": f"Silk scarf {n}",
            "category": "accessories",
            "skus": [
                {
                    "code": f"S{n}-{i}",
                    "price": prices[i],
                    "currency": currency,
                    "stock": stock,
                    "attributes": {"colour": f"c{i}"},
                }
                for i, stock in enumerate(stocks)
            ],
        },
        headers=merchant,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    await approve_for_live(container, int(body["id"]))
    return Shop(brand_id, merchant, body["id"], [s["id"] for s in body["skus"]], prices)


async def consumers(container: Container, count: int) -> list[dict[str, str]]:
    """Bearer headers of `count` fresh consumers (one password hash for all: fast)."""
    if not _HASH:
        _HASH.append(hash_password("correct horse battery"))
    ids: list[int] = []
    async with container.uow() as uow:
        for _ in range(count):
            user = await accounts.register(
                uow.session,
                clock=container.clock,
                email=f"buyer-{uuid.uuid4().hex[:12]}@example.com",
                password="",
                display_name=f"Buyer {next(_names)}",
                password_hash=_HASH[0],
            )
            ids.append(user.id)
        await uow.commit()
    now = container.clock.now()
    return [
        {
            "Authorization": "Bearer "
            + create_access_token(secret=container.secret, user_id=uid, now=now, minutes=60)
        }
        for uid in ids
    ]


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def order(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    items: list[dict[str, Any]],
    *,
    session_id: int | None = None,
    idempotency_key: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"items": items}
    if session_id is not None:
        body["session_id"] = session_id
    hdrs = {**headers, "Idempotency-Key": idempotency_key or uuid.uuid4().hex}
    return await client.post(f"{API}/orders", json=body, headers=hdrs)


async def stock_of(container: Container, sku_id: int) -> int:
    async with container.uow() as uow:
        stock = await uow.session.scalar(select(Sku.stock).where(Sku.id == sku_id))
        assert stock is not None
        return stock


async def live_session(
    client: httpx.AsyncClient, container: Container
) -> tuple[int, int, dict[str, str]]:
    """An anchor's room with a session that is live now: (session id, anchor id, headers)."""
    anchor_id = await make_user(container, Role.anchor)
    await qualify_anchor(container, anchor_id)
    anchor = await auth(client, container, anchor_id)
    r = await client.post(f"{API}/rooms", json={"title": "Silk live"}, headers=anchor)
    assert r.status_code == 201, r.text
    room_id = r.json()["id"]
    r = await client.post(
        f"{API}/rooms/{room_id}/sessions", json={"title": "Spring scarves"}, headers=anchor
    )
    assert r.status_code == 201, r.text
    session_id = int(r.json()["id"])
    r = await client.post(f"{API}/sessions/{session_id}/start", headers=anchor)
    assert r.status_code == 200, r.text
    return session_id, anchor_id, anchor


# ---------------------------------------------------------------- tests


async def test_full_flow_and_wrong_transitions(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    shop = await make_shop(client, container, 5)
    (buyer,) = await consumers(container, 1)
    operator = await auth(client, container, await make_user(container, Role.operator))
    sku = shop.sku_ids[0]

    r = await order(client, buyer, [{"sku_id": sku, "quantity": 2}])
    assert r.status_code == 201, r.text
    placed = r.json()
    assert placed["status"] == "pending_payment"
    assert placed["total"] == 2 * shop.prices[0] and placed["currency"] == "CNY"
    assert placed["items"] == [
        {
            "sku_id": sku,
            "product_id": shop.product_id,
            "title": placed["items"][0]["title"],
            "quantity": 2,
            "unit_price": shop.prices[0],
            "currency": "CNY",
            "discount": 0,
        }
    ]
    assert "Silk scarf" in placed["items"][0]["title"]
    assert placed["session_id"] is None and placed["anchor_id"] is None
    deadline = placed["payment_deadline"].replace("Z", "+00:00")
    expected = clock.now() + timedelta(minutes=container.settings.order_payment_minutes)
    assert deadline == expected.isoformat()
    assert await stock_of(container, sku) == 3
    oid = placed["id"]

    async def step(action: str, headers: dict[str, str]) -> httpx.Response:
        return await client.post(f"{API}/orders/{oid}/{action}", headers=headers)

    # Nothing but paying or cancelling moves an unpaid order.
    for action, who in (("ship", shop.merchant), ("deliver", operator), ("complete", buyer)):
        r = await step(action, who)
        assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition", r.text

    r = await step("pay", buyer)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == oid and r.json()["status"] == "paid"
    r = await step("pay", buyer)
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_paid"
    r = await step("cancel", buyer)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"
    r = await step("complete", buyer)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"
    r = await step("ship", operator)  # operators stand in for carriers, not for merchants
    assert r.status_code == 403

    r = await step("ship", shop.merchant)
    assert r.status_code == 200 and r.json()["status"] == "shipped", r.text
    r = await step("ship", shop.merchant)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"
    r = await step("complete", buyer)
    assert r.status_code == 409
    r = await step("deliver", operator)
    assert r.status_code == 200 and r.json()["status"] == "delivered", r.text
    r = await step("complete", shop.merchant)  # only the buyer confirms receipt
    assert r.status_code == 403
    r = await step("complete", buyer)
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    final = r.json()
    for stamp in ("paid_at", "shipped_at", "delivered_at", "completed_at"):
        assert final[stamp] is not None
    assert final["cancelled_at"] is None
    assert await stock_of(container, sku) == 3  # sold units stay sold


async def test_who_sees_an_order(client: httpx.AsyncClient, container: Container) -> None:
    shop = await make_shop(client, container, 10)
    other_shop = await make_shop(client, container, 10)
    buyer, stranger = await consumers(container, 2)
    operator = await auth(client, container, await make_user(container, Role.operator))
    first = (await order(client, buyer, [{"sku_id": shop.sku_ids[0], "quantity": 1}])).json()
    second = (await order(client, buyer, [{"sku_id": shop.sku_ids[0], "quantity": 2}])).json()
    url = f"{API}/orders/{first['id']}"

    assert (await client.get(url, headers=buyer)).json() == first
    for who in (shop.merchant, operator):
        r = await client.get(url, headers=who)
        assert r.status_code == 200 and r.json()["id"] == first["id"], r.text
    for who in (stranger, other_shop.merchant):
        r = await client.get(url, headers=who)
        assert r.status_code == 404 and r.json()["error"]["code"] == "order_not_found"
        r = await client.post(f"{url}/pay", headers=who)
        assert r.status_code == 404
    assert (await client.get(f"{API}/orders/999999", headers=buyer)).status_code == 404
    r = await client.post(f"{url}/cancel", headers=shop.merchant)
    assert r.status_code == 403  # the merchant sees it, but only the buyer cancels

    mine = (await client.get(f"{API}/orders", headers=buyer)).json()
    assert [o["id"] for o in mine] == [second["id"], first["id"]]  # newest first
    assert (await client.get(f"{API}/orders", headers=stranger)).json() == []
    await client.post(f"{API}/orders/{first['id']}/pay", headers=buyer)
    paid = (await client.get(f"{API}/orders?status=paid", headers=buyer)).json()
    assert [o["id"] for o in paid] == [first["id"]]

    r = await client.get(f"{API}/brands/{shop.brand_id}/orders", headers=shop.merchant)
    assert r.status_code == 200 and {o["id"] for o in r.json()} == {first["id"], second["id"]}
    r = await client.get(f"{API}/brands/{shop.brand_id}/orders?status=paid", headers=operator)
    assert [o["id"] for o in r.json()] == [first["id"]]
    r = await client.get(f"{API}/brands/{shop.brand_id}/orders", headers=other_shop.merchant)
    assert r.status_code == 403
    r = await client.get(f"{API}/brands/{shop.brand_id}/orders", headers=buyer)
    assert r.status_code == 403


async def test_input_rules(client: httpx.AsyncClient, container: Container) -> None:
    shop = await make_shop(client, container, 10, 10)
    other_brand = await make_shop(client, container, 10)
    usd = await make_shop(client, container, 10, currency="USD")
    (buyer,) = await consumers(container, 1)
    sku = shop.sku_ids[0]
    line = {"sku_id": sku, "quantity": 1}

    for body in (
        {"items": [line], "total": 1},
        {"items": [line], "status": "paid"},
        {"items": [{**line, "price": 1}]},
        {"items": [{**line, "unit_price": 1}]},
        {"items": [line], "user_id": 1},
    ):
        r = await client.post(f"{API}/orders", json=body, headers={**buyer, **key()})
        assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_field", body

    r = await client.post(f"{API}/orders", json={"items": [line]}, headers=buyer)
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_required"
    for bad_key in ("x" * 101, "has space"):
        r = await order(client, buyer, [line], idempotency_key=bad_key)
        assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_invalid"
    assert (await order(client, buyer, [line], idempotency_key="k" * 100)).status_code == 201

    for quantity in (0, 100, -1, "2", 1.5):
        r = await order(client, buyer, [{"sku_id": sku, "quantity": quantity}])
        assert r.status_code == 422, quantity
    r = await client.post(f"{API}/orders", json={"items": []}, headers={**buyer, **key()})
    assert r.status_code == 422
    r = await order(client, buyer, [{"sku_id": 10**6, "quantity": 1}])
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_sku"
    r = await order(client, buyer, [line, {"sku_id": other_brand.sku_ids[0], "quantity": 1}])
    assert r.status_code == 422 and r.json()["error"]["code"] == "mixed_order"
    r = await order(client, buyer, [line, {"sku_id": usd.sku_ids[0], "quantity": 1}])
    assert r.status_code == 422 and r.json()["error"]["code"] == "mixed_order"

    # Repeated lines of one SKU become one line; together they still may not pass 99.
    r = await order(client, buyer, [line, {"sku_id": sku, "quantity": 2}])
    assert r.status_code == 201 and [(i["sku_id"], i["quantity"]) for i in r.json()["items"]] == [
        (sku, 3)
    ]
    r = await order(client, buyer, [{"sku_id": sku, "quantity": 60}] * 2)
    assert r.status_code == 422 and r.json()["error"]["code"] == "too_many_units"

    r = await order(client, buyer, [{"sku_id": sku, "quantity": 50}])
    assert r.status_code == 409 and r.json()["error"] == {
        "code": "out_of_stock",
        "message": "not enough stock",
        "details": {"sku_id": sku},
    }
    # A multi-line order missing stock on one line takes nothing at all.
    before = [await stock_of(container, s) for s in shop.sku_ids]
    r = await order(
        client,
        buyer,
        [{"sku_id": shop.sku_ids[0], "quantity": 1}, {"sku_id": shop.sku_ids[1], "quantity": 11}],
    )
    assert r.status_code == 409 and r.json()["error"]["details"] == {"sku_id": shop.sku_ids[1]}
    assert [await stock_of(container, s) for s in shop.sku_ids] == before

    r = await client.patch(
        f"{API}/products/{shop.product_id}", json={"status": "delisted"}, headers=shop.merchant
    )
    assert r.status_code == 200, r.text
    r = await order(client, buyer, [line])
    assert r.status_code == 409 and r.json()["error"]["code"] == "product_unavailable"
    assert r.json()["error"]["details"] == {"sku_id": sku}


async def test_expiry_sweep_cancels_and_restores_stock(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    shop = await make_shop(client, container, 4)
    buyer, other = await consumers(container, 2)
    sku = shop.sku_ids[0]
    due = (await order(client, buyer, [{"sku_id": sku, "quantity": 3}])).json()
    clock.advance(minutes=10)
    fresh = (await order(client, other, [{"sku_id": sku, "quantity": 1}])).json()
    assert await stock_of(container, sku) == 0

    assert await commerce.run_expiry_sweep(container.uow, clock=clock) == 0
    clock.advance(minutes=container.settings.order_payment_minutes - 10, seconds=1)
    assert await commerce.run_expiry_sweep(container.uow, clock=clock) == 1
    assert await commerce.run_expiry_sweep(container.uow, clock=clock) == 0
    assert await stock_of(container, sku) == 3

    r = await client.get(f"{API}/orders/{due['id']}", headers=buyer)
    assert r.json()["status"] == "cancelled" and r.json()["cancel_reason"] == "payment_timeout"
    r = await client.post(f"{API}/orders/{due['id']}/pay", headers=buyer)
    assert r.status_code == 409 and r.json()["error"]["code"] == "order_expired"
    r = await client.get(f"{API}/orders/{fresh['id']}", headers=other)
    assert r.json()["status"] == "pending_payment"
    r = await client.post(f"{API}/orders/{fresh['id']}/pay", headers=other)
    assert r.status_code == 200 and r.json()["status"] == "paid"
    clock.advance(hours=1)
    assert await commerce.run_expiry_sweep(container.uow, clock=clock) == 0  # paid stays paid
    assert await stock_of(container, sku) == 3


async def test_paying_late_expires_the_order_lazily(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    shop = await make_shop(client, container, 2)
    (buyer,) = await consumers(container, 1)
    sku = shop.sku_ids[0]
    placed = (await order(client, buyer, [{"sku_id": sku, "quantity": 2}])).json()
    clock.advance(minutes=container.settings.order_payment_minutes, seconds=1)
    r = await client.post(f"{API}/orders/{placed['id']}/pay", headers=buyer)
    assert r.status_code == 409 and r.json()["error"]["code"] == "order_expired"
    assert await stock_of(container, sku) == 2  # released, and the release was committed
    async with container.uow() as uow:
        stored = await uow.session.get(Order, placed["id"])
        assert stored is not None and stored.status == "cancelled"
        assert stored.cancel_reason == "payment_timeout"

    # Reading an overdue order expires it as well.
    second = (await order(client, buyer, [{"sku_id": sku, "quantity": 1}])).json()
    clock.advance(minutes=container.settings.order_payment_minutes + 1)
    listed = (await client.get(f"{API}/orders?status=pending_payment", headers=buyer)).json()
    assert listed == []
    assert (await client.get(f"{API}/orders/{second['id']}", headers=buyer)).json()[
        "status"
    ] == "cancelled"
    assert await stock_of(container, sku) == 2


async def test_buyer_cancels_and_stock_returns(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 5, 5)
    (buyer,) = await consumers(container, 1)
    items = [{"sku_id": s, "quantity": 2} for s in shop.sku_ids]
    placed = (await order(client, buyer, items)).json()
    assert [await stock_of(container, s) for s in shop.sku_ids] == [3, 3]
    r = await client.post(f"{API}/orders/{placed['id']}/cancel", headers=buyer)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["cancel_reason"] == "buyer"
    assert [await stock_of(container, s) for s in shop.sku_ids] == [5, 5]
    r = await client.post(f"{API}/orders/{placed['id']}/cancel", headers=buyer)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"
    assert [await stock_of(container, s) for s in shop.sku_ids] == [5, 5]  # released once
    r = await client.post(f"{API}/orders/{placed['id']}/pay", headers=buyer)
    assert r.status_code == 409 and r.json()["error"]["code"] == "order_expired"


async def test_order_from_a_live_session_records_session_and_anchor(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 5)
    (buyer,) = await consumers(container, 1)
    session_id, anchor_id, anchor = await live_session(client, container)
    line = [{"sku_id": shop.sku_ids[0], "quantity": 2}]

    r = await order(client, buyer, line, session_id=session_id)
    assert r.status_code == 201, r.text
    placed = r.json()
    assert placed["session_id"] == session_id and placed["anchor_id"] == anchor_id
    async with container.uow() as uow:
        stored = await uow.session.get(Order, placed["id"])
        assert stored is not None
        assert (stored.session_id, stored.anchor_id) == (session_id, anchor_id)
        assert stored.room_id is not None

    r = await client.post(f"{API}/orders/{placed['id']}/pay", headers=buyer)
    assert r.status_code == 200, r.text
    view = (await client.get(f"{API}/sessions/{session_id}")).json()
    assert view["statistics"]["orders"] == 1, view
    assert view["statistics"]["gmv"] == placed["total"]

    r = await order(client, buyer, line, session_id=10**6)
    assert r.status_code == 404 and r.json()["error"]["code"] == "session_not_found"
    r = await client.post(f"{API}/sessions/{session_id}/end", headers=anchor)
    assert r.status_code == 200, r.text
    r = await order(client, buyer, line, session_id=session_id)
    assert r.status_code == 409 and r.json()["error"]["code"] == "session_not_live"
