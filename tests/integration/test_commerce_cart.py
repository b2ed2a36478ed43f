"""The cart: upsert, remove, and checkout into one order per brand, idempotently."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import select

from livecart.bootstrap import Container
from livecart.commerce.models import CartItem, Order
from tests.integration.test_orders_flow import (
    API,
    consumers,
    live_session,
    make_shop,
    stock_of,
)


async def test_cart_checkout_one_order_per_brand(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    aurora = await make_shop(client, container, 5, 5)
    borealis = await make_shop(client, container, 4)
    (buyer,) = await consumers(container, 1)
    session_id, anchor_id, _ = await live_session(client, container)

    async def put(sku_id: int, quantity: int, **extra: int) -> httpx.Response:
        return await client.post(
            f"{API}/cart/items",
            json={"sku_id": sku_id, "quantity": quantity, **extra},
            headers=buyer,
        )

    empty = (await client.get(f"{API}/cart", headers=buyer)).json()
    assert empty == {"items": [], "total": 0, "currency": None}
    assert (await put(aurora.sku_ids[0], 1)).status_code == 200
    r = await put(aurora.sku_ids[0], 2, session_id=session_id)  # an upsert sets the quantity
    assert r.status_code == 200
    assert [(i["sku_id"], i["quantity"]) for i in r.json()["items"]] == [(aurora.sku_ids[0], 2)]
    await put(aurora.sku_ids[1], 1)
    await put(borealis.sku_ids[0], 3)
    r = await put(borealis.sku_ids[0], 1, price=1)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_field"
    r = await put(10**6, 1)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_sku"
    r = await client.delete(f"{API}/cart/items/{aurora.sku_ids[1]}", headers=buyer)
    assert r.status_code == 200 and len(r.json()["items"]) == 2
    cart = (await client.get(f"{API}/cart", headers=buyer)).json()
    assert cart["currency"] == "CNY"
    assert cart["total"] == 2 * aurora.prices[0] + 3 * borealis.prices[0]
    assert all(i["available"] for i in cart["items"])

    r = await client.post(f"{API}/cart/checkout", headers=buyer)
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_required"
    idem = {"Idempotency-Key": uuid.uuid4().hex}
    first, second = await asyncio.gather(
        client.post(f"{API}/cart/checkout", json={}, headers={**buyer, **idem}),
        client.post(f"{API}/cart/checkout", headers={**buyer, **idem}),
    )
    assert first.status_code == 201 and second.status_code == 201, (first.text, second.text)
    assert first.json() == second.json()
    orders = first.json()["orders"]
    assert sorted((o["brand_id"], o["total"]) for o in orders) == sorted(
        [(aurora.brand_id, 2 * aurora.prices[0]), (borealis.brand_id, 3 * borealis.prices[0])]
    )
    by_brand = {o["brand_id"]: o for o in orders}
    assert by_brand[aurora.brand_id]["session_id"] == session_id
    assert by_brand[aurora.brand_id]["anchor_id"] == anchor_id
    assert by_brand[borealis.brand_id]["session_id"] is None
    assert await stock_of(container, aurora.sku_ids[0]) == 3
    assert await stock_of(container, borealis.sku_ids[0]) == 1
    assert (await client.get(f"{API}/cart", headers=buyer)).json()["items"] == []
    async with container.uow() as uow:
        assert len((await uow.session.scalars(select(Order))).all()) == 2

    # A retry after success gives the same orders; a new checkout of an empty cart is refused.
    r = await client.post(f"{API}/cart/checkout", headers={**buyer, **idem})
    assert r.status_code == 201 and r.json() == first.json()
    r = await client.post(f"{API}/cart/checkout", headers={**buyer, "Idempotency-Key": "new"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "cart_empty"


async def test_checkout_without_stock_changes_nothing(
    client: httpx.AsyncClient, container: Container
) -> None:
    aurora = await make_shop(client, container, 5)
    borealis = await make_shop(client, container, 1)
    buyer, rival = await consumers(container, 2)
    for sku in (aurora.sku_ids[0], borealis.sku_ids[0]):
        r = await client.post(
            f"{API}/cart/items", json={"sku_id": sku, "quantity": 1}, headers=buyer
        )
        assert r.status_code == 200
    r = await client.post(
        f"{API}/orders",
        json={"items": [{"sku_id": borealis.sku_ids[0], "quantity": 1}]},
        headers={**rival, "Idempotency-Key": "rival"},
    )
    assert r.status_code == 201
    cart = (await client.get(f"{API}/cart", headers=buyer)).json()
    assert [i["available"] for i in cart["items"]] == [True, False]

    r = await client.post(f"{API}/cart/checkout", headers={**buyer, "Idempotency-Key": "k1"})
    assert r.status_code == 409 and r.json()["error"]["details"] == {"sku_id": borealis.sku_ids[0]}
    assert await stock_of(container, aurora.sku_ids[0]) == 5
    async with container.uow() as uow:
        assert len((await uow.session.scalars(select(CartItem))).all()) == 2
        assert len((await uow.session.scalars(select(Order))).all()) == 1
    await client.delete(f"{API}/cart/items/{borealis.sku_ids[0]}", headers=buyer)
    r = await client.post(f"{API}/cart/checkout", headers={**buyer, "Idempotency-Key": "k1"})
    assert r.status_code == 201 and len(r.json()["orders"]) == 1
