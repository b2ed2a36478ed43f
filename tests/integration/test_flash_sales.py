"""Flash sales over HTTP: creation rules, buying, limits, idempotency, expiry, ending.

The helpers at the top (a live session with a showcased SKU and a sale) are shared by the
concurrency and crash tests.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select

from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.commerce.models import Order
from livecart.core.clock import FrozenClock
from livecart.flashsale import service as flash
from livecart.flashsale.models import FlashHolding, FlashReservation, FlashSale
from livecart.flashsale.stock import Released
from livecart.realtime.broker import session_channel
from livecart.settings import Settings
from tests.integration.test_orders_flow import API, consumers, live_session, make_shop, stock_of
from tests.support import auth, make_user


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A roomier buying rate limit: these tests buy fast on purpose."""
    return settings.model_copy(update={"flash_user_burst": 30})


@dataclass
class World:
    sale_id: int
    session_id: int
    sku_id: int
    anchor: dict[str, str]
    merchant: dict[str, str]
    regular_price: int
    anchor_id: int


async def flash_world(
    client: httpx.AsyncClient,
    container: Container,
    *,
    quantity: int,
    per_user_limit: int = 1,
    stock: int | None = None,
    start: bool = True,
    other_skus: tuple[int, ...] = (),
) -> World:
    """A live session showcasing a SKU, and a flash sale of it (started unless told not to);
    `other_skus` are the stocks of more SKUs of the same product, not on sale."""
    first = stock if stock is not None else quantity + 5
    shop = await make_shop(client, container, first, *other_skus)
    session_id, anchor_id, anchor = await live_session(client, container)
    r = await client.post(
        f"{API}/sessions/{session_id}/showcase",
        json={"product_id": shop.product_id},
        headers=anchor,
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"{API}/flash-sales",
        json={
            "session_id": session_id,
            "sku_id": shop.sku_ids[0],
            "price": shop.prices[0] // 2,
            "quantity": quantity,
            "per_user_limit": per_user_limit,
        },
        headers=anchor,
    )
    assert r.status_code == 201, r.text
    sale_id = int(r.json()["id"])
    if start:
        r = await client.post(f"{API}/flash-sales/{sale_id}/start", headers=anchor)
        assert r.status_code == 200, r.text
        assert r.json() == {"id": sale_id, "status": "live"}
    return World(
        sale_id, session_id, shop.sku_ids[0], anchor, shop.merchant, shop.prices[0], anchor_id
    )


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def buy(
    client: httpx.AsyncClient,
    sale_id: int,
    headers: dict[str, str],
    *,
    quantity: int = 1,
    idempotency_key: str | None = None,
) -> httpx.Response:
    return await client.post(
        f"{API}/flash-sales/{sale_id}/orders",
        json={"quantity": quantity},
        headers={**headers, "Idempotency-Key": idempotency_key or uuid.uuid4().hex},
    )


async def books(container: Container, sale_id: int) -> tuple[int, int, int, int, int]:
    """(quantity, sold, returned, live orders, units held) of a sale in the database."""
    async with container.uow() as uow:
        sale = await uow.session.get(FlashSale, sale_id)
        assert sale is not None
        orders = await uow.session.scalar(
            select(func.count())
            .select_from(Order)
            .where(Order.flash_sale_id == sale_id, Order.status != "cancelled")
        )
        held = await uow.session.scalar(
            select(func.coalesce(func.sum(FlashHolding.quantity), 0)).where(
                FlashHolding.sale_id == sale_id
            )
        )
        return sale.quantity, sale.sold, sale.returned, int(orders or 0), int(held or 0)


# ---------------------------------------------------------------- creating


async def test_creating_a_sale_checks_seller_showcase_price_and_stock(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 10)
    session_id, _, anchor = await live_session(client, container)
    (consumer,) = await consumers(container, 1)
    sku = shop.sku_ids[0]
    body = {"session_id": session_id, "sku_id": sku, "price": 5000, "quantity": 4}

    r = await client.post(f"{API}/flash-sales", json=body, headers=consumer)
    assert r.status_code == 403
    r = await client.post(f"{API}/flash-sales", json=body, headers=anchor)
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_in_showcase", r.text

    r = await client.post(
        f"{API}/sessions/{session_id}/showcase",
        json={"product_id": shop.product_id},
        headers=anchor,
    )
    assert r.status_code == 200
    # Not below the lowest price of 30 days: refused, with the lowest price in the details.
    r = await client.post(
        f"{API}/flash-sales", json={**body, "price": shop.prices[0]}, headers=anchor
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "price_not_lowest"
    assert r.json()["error"]["details"]["lowest_price_30d"] == shop.prices[0]
    assert r.json()["error"]["details"]["lowest_price_7d"] == shop.prices[0]
    # The merchant raises the price: "half off" the new price is still not below last week's.
    r = await client.patch(
        f"{API}/skus/{sku}", json={"price": shop.prices[0] * 3}, headers=shop.merchant
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"{API}/flash-sales", json={**body, "price": shop.prices[0] * 3 // 2}, headers=anchor
    )
    assert r.json()["error"]["code"] == "price_not_lowest"

    r = await client.post(f"{API}/flash-sales", json={**body, "quantity": 11}, headers=anchor)
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_enough_stock"
    r = await client.post(f"{API}/flash-sales", json={**body, "price": 5000.0}, headers=anchor)
    assert r.status_code == 422
    r = await client.post(f"{API}/flash-sales", json={**body, "sold": 3}, headers=anchor)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_field"

    # The brand's merchant may create one too; the units leave the SKU's stock.
    r = await client.post(f"{API}/flash-sales", json=body, headers=shop.merchant)
    assert r.status_code == 201, r.text
    sale = r.json()
    assert (sale["status"], sale["quantity"], sale["remaining"], sale["sold"]) == (
        "scheduled",
        4,
        4,
        0,
    )
    assert await stock_of(container, sku) == 6
    r = await client.get(f"{API}/flash-sales/{sale['id']}")
    assert r.status_code == 200 and r.json()["price"] == 5000
    r = await buy(client, sale["id"], consumer)
    assert r.status_code == 409 and r.json()["error"]["code"] == "sale_not_live"


# ---------------------------------------------------------------- buying


async def test_buy_replay_limit_pending_and_sold_out(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    world = await flash_world(client, container, quantity=3, per_user_limit=2)
    a, b, c = await consumers(container, 3)

    r = await buy(client, world.sale_id, a, idempotency_key="a-1")
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "pending_payment"
    assert order["total"] == world.regular_price // 2
    assert order["flash_sale_id"] == world.sale_id
    again = await buy(client, world.sale_id, a, idempotency_key="a-1")
    assert again.status_code == 201 and again.json()["id"] == order["id"]
    other_body = await buy(client, world.sale_id, a, quantity=2, idempotency_key="a-1")
    assert other_body.status_code == 409
    assert other_body.json()["error"]["code"] == "idempotency_key_reused"
    # One unpaid order per buyer per sale, even under the limit.
    r = await buy(client, world.sale_id, a)
    assert r.status_code == 409 and r.json()["error"]["code"] == "pending_order_exists"
    r = await client.post(f"{API}/orders/{order['id']}/pay", headers=a)
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text
    r = await buy(client, world.sale_id, a, quantity=2)
    assert r.status_code == 409 and r.json()["error"]["code"] == "limit_exceeded"
    r = await buy(client, world.sale_id, a)
    assert r.status_code == 201, r.text

    r = await buy(client, world.sale_id, b, quantity=2)
    assert r.status_code == 409 and r.json()["error"]["code"] == "sold_out"
    r = await buy(client, world.sale_id, b)
    assert r.status_code == 201
    r = await buy(client, world.sale_id, c)
    assert r.status_code == 409 and r.json()["error"]["code"] == "sold_out"
    sale = (await client.get(f"{API}/flash-sales/{world.sale_id}")).json()
    assert (sale["status"], sale["sold"], sale["remaining"]) == ("sold_out", 3, 0)
    assert await books(container, world.sale_id) == (3, 3, 0, 3, 3)


async def test_ten_retries_of_one_key_at_once_make_one_order(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    world = await flash_world(client, container, quantity=5)
    (a,) = await consumers(container, 1)
    responses = await asyncio.gather(
        *(buy(client, world.sale_id, a, idempotency_key="same") for _ in range(10))
    )
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await books(container, world.sale_id) == (5, 1, 0, 1, 1)


async def test_rate_limit_answers_429_with_retry_after(
    client: httpx.AsyncClient, container: Container
) -> None:
    world = await flash_world(client, container, quantity=5)
    (a,) = await consumers(container, 1)
    burst = container.settings.flash_user_burst
    statuses = [(await buy(client, world.sale_id, a)).status_code for _ in range(burst)]
    assert statuses[0] == 201
    assert 429 not in statuses[:burst]  # the burst itself passes (409: one unpaid order)
    r = await buy(client, world.sale_id, a)
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) >= 1


# ---------------------------------------------------------------- expiry and ending


async def test_unpaid_reservation_is_released_after_its_ttl_and_sold_again(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    world = await flash_world(client, container, quantity=1)
    a, b, c = await consumers(container, 3)
    first = await buy(client, world.sale_id, a)
    assert first.status_code == 201
    r = await buy(client, world.sale_id, b)
    assert r.json()["error"]["code"] == "sold_out"

    clock.advance(minutes=container.settings.flash_reservation_minutes, seconds=1)
    # Lazily: reading the sale releases what is overdue.
    sale = (await client.get(f"{API}/flash-sales/{world.sale_id}")).json()
    assert (sale["status"], sale["remaining"]) == ("live", 1)
    r = await client.get(f"{API}/orders/{first.json()['id']}", headers=a)
    assert r.json()["status"] == "cancelled"
    second = await buy(client, world.sale_id, b)
    assert second.status_code == 201, second.text

    # By the sweep, with nobody reading the sale.
    clock.advance(minutes=container.settings.flash_reservation_minutes, seconds=1)
    assert await flash.run_sweep(container.flash) == 1
    assert (await buy(client, world.sale_id, c)).status_code == 201
    assert await books(container, world.sale_id) == (1, 1, 0, 1, 1)
    async with container.uow() as uow:
        statuses = (
            await uow.session.scalars(select(FlashReservation.status).order_by(FlashReservation.id))
        ).all()
    assert statuses == ["released", "released", "active"]


async def test_ending_a_sale_returns_unsold_units_to_the_sku(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    world = await flash_world(client, container, quantity=5, stock=8)
    assert await stock_of(container, world.sku_id) == 3
    a, b = await consumers(container, 2)
    assert (await buy(client, world.sale_id, a)).status_code == 201
    r = await client.post(f"{API}/flash-sales/{world.sale_id}/end", headers=world.anchor)
    assert r.status_code == 200 and r.json()["status"] == "ended"
    assert await stock_of(container, world.sku_id) == 7
    r = await buy(client, world.sale_id, b)
    assert r.status_code == 409 and r.json()["error"]["code"] == "sale_ended"
    # The unpaid order expires after the end: its unit goes back to the SKU as well.
    clock.advance(minutes=container.settings.flash_reservation_minutes, seconds=1)
    await flash.run_sweep(container.flash)
    assert await stock_of(container, world.sku_id) == 8
    assert await books(container, world.sale_id) == (5, 0, 5, 0, 0)


# ---------------------------------------------------------------- reconciliation


async def test_reconciliation_finds_and_corrects_drift_and_shows_it_as_a_metric(
    client: httpx.AsyncClient, container: Container
) -> None:
    world = await flash_world(client, container, quantity=10)
    (a,) = await consumers(container, 1)
    operator = await auth(client, container, await make_user(container, Role.operator))
    assert (await buy(client, world.sale_id, a)).status_code == 201
    r = await client.get(f"{API}/flash-sales/{world.sale_id}/stock", headers=operator)
    assert r.status_code == 200, r.text
    assert (r.json()["database_remaining"], r.json()["store_remaining"], r.json()["drift"]) == (
        9,
        9,
        0,
    )
    # The store gains 2 units the database never had (as a lost Redis update would leave it).
    await container.flash.store.release(
        world.sale_id, [Released(user_id=0, quantity=2, order_id=0)]
    )
    r = await client.get(f"{API}/flash-sales/{world.sale_id}/stock", headers=operator)
    assert (r.json()["store_remaining"], r.json()["drift"]) == (11, 2)
    r = await client.get(f"{API}/flash-sales/{world.sale_id}/stock", headers=operator)
    assert (r.json()["store_remaining"], r.json()["drift"]) == (9, 0)
    (consumer,) = await consumers(container, 1)
    r = await client.get(f"{API}/flash-sales/{world.sale_id}/stock", headers=consumer)
    assert r.status_code == 403

    text = (await client.get("/metrics")).text
    assert f'livecart_flash_stock_drift_units{{sale_id="{world.sale_id}",store="memory"' in text
    assert "livecart_flash_stock_drift_corrected_units_total" in text
    corrected = [
        line
        for line in text.splitlines()
        if line.startswith("livecart_flash_stock_drift_corrected")
    ]
    assert corrected and corrected[0].endswith(" 2.0"), corrected


async def test_remaining_stock_frames_are_coalesced_to_one_per_push_interval(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    quantity = 12
    world = await flash_world(client, container, quantity=quantity)
    buyers = await consumers(container, quantity)
    subscription = await container.broker.subscribe(session_channel(world.session_id))
    loop = asyncio.get_running_loop()
    frames: list[tuple[float, int]] = []

    async def listen() -> None:
        async for message in subscription:
            if message.get("type") == "flash_stock" and message["sale_id"] == world.sale_id:
                frames.append((loop.time(), message["remaining"]))
                if message["remaining"] == 0:
                    return

    listener = asyncio.create_task(listen())
    for headers in buyers:  # one purchase after another, each answered before the next
        assert (await buy(client, world.sale_id, headers)).status_code == 201
    async with asyncio.timeout(10):
        await listener
    await subscription.close()

    interval = container.settings.flash_stock_push_seconds
    remaining = [r for _, r in frames]
    assert remaining[-1] == 0
    assert remaining == sorted(remaining, reverse=True)
    # Fewer frames than purchases, and never two within one push interval.
    assert len(frames) < quantity
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(frames)]
    assert all(gap >= interval * 0.95 for gap in gaps), gaps
