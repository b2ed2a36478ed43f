"""Orders under concurrency: no overselling on PostgreSQL, one order per Idempotency-Key."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from livecart.bootstrap import Container
from livecart.catalog.models import Sku
from livecart.commerce.models import Order, OrderItem
from tests.integration.test_orders_flow import (
    API,
    consumers,
    make_shop,
    order,
    stock_of,
)


async def test_two_hundred_buyers_fifty_units_never_oversell(
    postgres_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 50)
    sku = shop.sku_ids[0]
    buyers = await consumers(container, 200)

    responses = await asyncio.gather(
        *(order(client, b, [{"sku_id": sku, "quantity": 1}]) for b in buyers)
    )

    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 50, sorted(set(statuses))
    assert statuses.count(409) == 150
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "out_of_stock"
    }
    assert await stock_of(container, sku) == 0
    async with container.uow() as uow:
        orders = await uow.session.scalar(select(func.count()).select_from(Order))
        units = await uow.session.scalar(
            select(func.sum(OrderItem.quantity)).where(OrderItem.sku_id == sku)
        )
        buyers_with_orders = await uow.session.scalar(
            select(func.count(func.distinct(Order.user_id)))
        )
    assert (orders, units, buyers_with_orders) == (50, 50, 50)


async def test_stock_can_never_go_negative(
    postgres_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 1)
    async with container.uow() as uow:
        checks = (
            await uow.session.execute(
                text(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = 'skus'::regclass AND contype = 'c'"
                )
            )
        ).scalars()
        assert any("stock >= 0" in c for c in checks)
        with pytest.raises(IntegrityError):
            await uow.session.execute(
                update(Sku).where(Sku.id == shop.sku_ids[0]).values(stock=Sku.stock - 2)
            )
    assert await stock_of(container, shop.sku_ids[0]) == 1


async def test_same_key_ten_times_at_once_makes_one_order(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 20)
    sku = shop.sku_ids[0]
    (buyer,) = await consumers(container, 1)
    idem = uuid.uuid4().hex
    items = [{"sku_id": sku, "quantity": 2}]

    responses = await asyncio.gather(
        *(order(client, buyer, items, idempotency_key=idem) for _ in range(10))
    )

    assert [r.status_code for r in responses] == [201] * 10, [r.text for r in responses]
    bodies = [r.json() for r in responses]
    assert all(b == bodies[0] for b in bodies)
    async with container.uow() as uow:
        stored = (await uow.session.scalars(select(Order))).all()
    assert [o.id for o in stored] == [bodies[0]["id"]]
    assert stored[0].idempotency_key == idem and stored[0].request_hash is not None
    assert len(stored[0].request_hash) == 64
    assert await stock_of(container, sku) == 18  # taken once

    # The same key later: the same order; with another body: refused.
    again = await order(client, buyer, items, idempotency_key=idem)
    assert again.status_code == 201 and again.json() == bodies[0]
    for other in (
        [{"sku_id": sku, "quantity": 3}],
        [{"sku_id": shop.sku_ids[0], "quantity": 1}, {"sku_id": sku, "quantity": 2}],
    ):
        r = await order(client, buyer, other, idempotency_key=idem)
        assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_key_reused"
    assert await stock_of(container, sku) == 18

    # Keys belong to one user: another buyer's identical key is another order.
    (neighbour,) = await consumers(container, 1)
    r = await order(client, neighbour, items, idempotency_key=idem)
    assert r.status_code == 201 and r.json()["id"] != bodies[0]["id"]
    assert await stock_of(container, sku) == 16
    listed = await client.get(f"{API}/orders", headers=buyer)
    assert [o["id"] for o in listed.json()] == [bodies[0]["id"]]


async def test_a_failed_attempt_leaves_the_key_free(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 1)
    (buyer,) = await consumers(container, 1)
    idem = uuid.uuid4().hex
    r = await order(
        client, buyer, [{"sku_id": shop.sku_ids[0], "quantity": 2}], idempotency_key=idem
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "out_of_stock"
    r = await order(
        client, buyer, [{"sku_id": shop.sku_ids[0], "quantity": 1}], idempotency_key=idem
    )
    assert r.status_code == 201, r.text
