"""The burst benchmark's routes: the authenticated no-op and the FOR UPDATE baseline.

The baseline is what livecart's flash sales are measured against, so it must be right: one
order per buyer, never more units sold than the stock held, one order per Idempotency-Key.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from livecart.app import create_app
from livecart.bootstrap import Container
from livecart.commerce.models import Order, OrderItem
from livecart.settings import Settings
from tests.integration.test_orders_flow import API, consumers, make_shop, stock_of


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The usual test settings with the benchmark routes mounted."""
    return settings.model_copy(update={"bench_routes": True})


def _buy(
    client: httpx.AsyncClient,
    buyer: dict[str, str],
    sku_id: int,
    *,
    key: str | None = None,
    quantity: int = 1,
    limit: int | None = None,
) -> asyncio.Future[httpx.Response]:
    headers = {**buyer, "Idempotency-Key": key or uuid.uuid4().hex}
    params = {} if limit is None else {"limit": limit}
    return asyncio.ensure_future(
        client.post(
            f"{API}/bench/baseline/skus/{sku_id}/orders",
            json={"quantity": quantity},
            headers=headers,
            params=params,
        )
    )


async def _orders_of_sku(container: Container, sku_id: int) -> list[tuple[int, str, int, str]]:
    """(user_id, idempotency_key, quantity, status) of every order holding the SKU."""
    async with container.uow() as uow:
        rows = await uow.session.execute(
            select(Order.user_id, Order.idempotency_key, OrderItem.quantity, Order.status)
            .join(OrderItem, OrderItem.order_id == Order.id)
            .where(OrderItem.sku_id == sku_id)
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]


async def test_the_routes_are_mounted_only_when_asked(settings: Settings, tmp_path: Path) -> None:
    def bench_paths(app: FastAPI) -> set[str]:
        return {p for p in app.openapi()["paths"] if p.startswith(f"{API}/bench")}

    assert bench_paths(create_app(Settings(data_dir=tmp_path / "plain"))) == set()
    assert bench_paths(create_app(settings)) == {
        f"{API}/bench/noop",
        f"{API}/bench/baseline/skus/{{sku_id}}/orders",
    }


async def test_noop_needs_a_signed_in_caller_and_answers_with_their_id(
    client: httpx.AsyncClient, container: Container
) -> None:
    anonymous = await client.post(f"{API}/bench/noop")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    bad = await client.post(f"{API}/bench/noop", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_token"
    (buyer,) = await consumers(container, 1)
    me = await client.get(f"{API}/me", headers=buyer)
    answer = await client.post(f"{API}/bench/noop", headers=buyer)
    assert answer.status_code == 200
    assert answer.json() == {"user_id": me.json()["id"]}


async def test_baseline_order_limit_replay_and_sold_out(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 2)
    sku = shop.sku_ids[0]
    first, second, third = await consumers(container, 3)

    r = await _buy(client, first, sku, key="k-1")
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "pending_payment"
    assert (order["sku_id"], order["quantity"], order["total"]) == (sku, 1, shop.prices[0])
    assert await stock_of(container, sku) == 1

    # The same key again is the same order; a new key is over the per-user limit of 1.
    again = await _buy(client, first, sku, key="k-1")
    assert again.status_code == 201 and again.json() == order
    over = await _buy(client, first, sku, key="k-2")
    assert over.status_code == 409
    assert over.json()["error"]["code"] == "limit_exceeded"
    assert over.json()["error"]["details"] == {"limit": 1, "bought": 1}
    too_many = await _buy(client, second, sku, quantity=2)
    assert too_many.status_code == 409 and too_many.json()["error"]["code"] == "limit_exceeded"

    # A higher limit lets a buyer take both; then the stock is gone.
    both = await _buy(client, second, sku, quantity=1, limit=2)
    assert both.status_code == 201, both.text
    assert await stock_of(container, sku) == 0
    gone = await _buy(client, third, sku)
    assert gone.status_code == 409
    assert gone.json()["error"] == {
        "code": "sold_out",
        "message": "sold out",
        "details": {"remaining": 0},
    }

    # Input rules: a key is required, unknown SKUs and fields are refused.
    no_key = await client.post(
        f"{API}/bench/baseline/skus/{sku}/orders", json={"quantity": 1}, headers=third
    )
    assert no_key.status_code == 422
    assert no_key.json()["error"]["code"] == "idempotency_key_required"
    unknown = await _buy(client, third, 999_999)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "sku_not_found"
    extra = await client.post(
        f"{API}/bench/baseline/skus/{sku}/orders",
        json={"quantity": 1, "price": 1},
        headers={**third, "Idempotency-Key": "k-3"},
    )
    assert extra.status_code == 422 and extra.json()["error"]["code"] == "unknown_field"

    stored = await _orders_of_sku(container, sku)
    assert len(stored) == 2
    assert {(qty, status) for _, _, qty, status in stored} == {(1, "pending_payment")}
    assert "k-1" in {key for _, key, _, _ in stored}


async def test_a_burst_of_buyers_never_oversells(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    stock = 30
    shop = await make_shop(client, container, stock)
    sku = shop.sku_ids[0]
    buyers = await consumers(container, 80)

    # Every buyer sends one attempt twice at once (a retry) and a second attempt with a new key.
    attempts: list[asyncio.Future[httpx.Response]] = []
    for buyer in buyers:
        key = uuid.uuid4().hex
        attempts += [_buy(client, buyer, sku, key=key), _buy(client, buyer, sku, key=key)]
        attempts.append(_buy(client, buyer, sku))
    responses = await asyncio.gather(*attempts)

    statuses = {r.status_code for r in responses}
    assert statuses <= {201, 409}, [r.text for r in responses if r.status_code not in (201, 409)]
    accepted = {r.json()["id"] for r in responses if r.status_code == 201}
    codes = {r.json()["error"]["code"] for r in responses if r.status_code == 409}
    assert codes <= {"sold_out", "limit_exceeded"}
    assert len(accepted) == stock
    stored = await _orders_of_sku(container, sku)
    assert len(stored) == stock
    assert sum(qty for _, _, qty, _ in stored) == stock
    assert len({user for user, _, _, _ in stored}) == stock  # one order per buyer
    assert len({(user, key) for user, key, _, _ in stored}) == stock
    assert await stock_of(container, sku) == 0
    async with container.uow() as uow:
        ids = set(
            (
                await uow.session.scalars(
                    select(Order.id).join(OrderItem).where(OrderItem.sku_id == sku)
                )
            ).all()
        )
        total = await uow.session.scalar(select(func.count()).select_from(Order))
    assert ids == accepted and total == stock
