"""Coupons at checkout: issued by a coupon campaign, listed at /me/coupons, redeemed once
(atomically, also under two concurrent checkouts on PostgreSQL), given back by cancelled or
expired orders, refunds of what was paid, and the campaign report's redemption counts."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from livecart.accounts.schemas import Identity, Role
from livecart.bootstrap import Container
from livecart.commerce import service as commerce
from livecart.commerce.models import Order, OrderItem, Payment
from livecart.core.clock import FrozenClock
from livecart.marketing import coupons
from livecart.marketing import service as marketing
from livecart.marketing.errors import CouponAlreadyUsed
from livecart.marketing.schemas import Arm
from tests.integration.test_orders_flow import API, Shop, make_shop, stock_of
from tests.support import PASSWORD, auth, make_user


@dataclass
class Buyer:
    id: int
    headers: dict[str, str]


async def buyers(client: httpx.AsyncClient, container: Container, n: int) -> list[Buyer]:
    out = []
    for _ in range(n):
        uid = await make_user(container)
        out.append(Buyer(uid, await auth(client, container, uid)))
    return out


async def coupon_campaign(
    client: httpx.AsyncClient, container: Container, people: list[Buyer], **terms: Any
) -> int:
    """An operator sends a coupon campaign to these consumers (1% holdout); returns its id."""
    operator_id = await make_user(container, Role.operator)
    op = await auth(client, container, operator_id)
    body = {
        "name": "coupons",
        "action": "coupon",
        "track": "lifecycle",
        "stage": "new",
        "subject": "A coupon for you",
        "coupon_code": "SAVE",
        "holdout_percent": 1,
        **terms,
    }
    r = await client.post(f"{API}/marketing/campaigns", json=body, headers=op)
    assert r.status_code == 201, r.text
    campaign_id = int(r.json()["id"])
    async with container.uow() as uow:
        await marketing.run_campaign(
            uow,
            clock=container.clock,
            actor=Identity(
                id=operator_id,
                email="operator@example.com",
                display_name="Operator",
                roles=frozenset({Role.operator}),
            ),
            campaign_id=campaign_id,
            outbox=None,
            base_url="http://testserver",
            audience=[p.id for p in people],
        )
        await uow.commit()
    return campaign_id


def treated(campaign_id: int, people: list[Buyer]) -> list[Buyer]:
    return [p for p in people if marketing.arm_of(campaign_id, p.id, 1) is Arm.treated]


async def my_coupon(client: httpx.AsyncClient, buyer: Buyer) -> dict[str, Any]:
    r = await client.get(f"{API}/me/coupons", headers=buyer.headers)
    assert r.status_code == 200, r.text
    (coupon,) = r.json()
    return dict(coupon)


async def buy(
    client: httpx.AsyncClient,
    buyer: Buyer,
    items: list[tuple[int, int]],
    coupon_id: int | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"items": [{"sku_id": s, "quantity": q} for s, q in items]}
    if coupon_id is not None:
        body["coupon_id"] = coupon_id
    headers = {**buyer.headers, "Idempotency-Key": uuid.uuid4().hex}
    return await client.post(f"{API}/orders", json=body, headers=headers)


def code(r: httpx.Response) -> str:
    return str(r.json()["error"]["code"])


async def test_fixed_coupon_is_used_once_and_the_payment_is_the_discounted_total(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 10)  # 129.90 CNY
    people = await buyers(client, container, 3)
    campaign_id = await coupon_campaign(
        client, container, people, coupon_amount=2000, coupon_min_spend=10000
    )
    first, second = treated(campaign_id, people)[:2]
    coupon = await my_coupon(client, first)
    assert coupon["state"] == "available" and coupon["code"] == "SAVE"
    assert (coupon["kind"], coupon["amount"], coupon["min_spend"]) == ("fixed", 2000, 10000)

    # Someone else's coupon is refused, and takes nothing.
    r = await buy(client, second, [(shop.sku_ids[0], 1)], coupon["id"])
    assert r.status_code == 403 and code(r) == "coupon_not_yours"

    r = await buy(client, first, [(shop.sku_ids[0], 1)], coupon["id"])
    assert r.status_code == 201, r.text
    placed = r.json()
    assert (placed["subtotal"], placed["discount"], placed["total"]) == (12990, 2000, 10990)
    assert placed["coupon_id"] == coupon["id"] and placed["items"][0]["discount"] == 2000
    used = await my_coupon(client, first)
    assert used["state"] == "redeemed" and used["order_id"] == placed["id"]
    assert used["discount"] == 2000
    r = await client.get(f"{API}/me/coupons?usable=true", headers=first.headers)
    assert r.json() == []

    r = await buy(client, first, [(shop.sku_ids[0], 1)], coupon["id"])
    assert r.status_code == 409 and code(r) == "coupon_already_used"
    assert await stock_of(container, shop.sku_ids[0]) == 9  # the refused order took no stock

    # The brand's merchant sees the discount on their orders page.
    email = (await client.get(f"{API}/me", headers=shop.merchant)).json()["email"]
    async with httpx.AsyncClient(transport=client._transport, base_url=client.base_url) as pages:
        login = {"email": email, "password": PASSWORD, "next": "/merchant/orders"}
        assert (await pages.post("/login", data=login)).status_code == 303
        html = (await pages.get("/merchant/orders")).text
    assert "CNY 109.90" in html and "coupon −CNY 20.00 (of CNY 129.90)" in html, html

    r = await client.post(f"{API}/orders/{placed['id']}/pay", headers=first.headers)
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text
    async with container.uow() as uow:
        paid = await uow.session.scalar(
            select(Payment.amount).where(Payment.order_id == placed["id"])
        )
    assert paid == 10990

    operator = await auth(client, container, await make_user(container, Role.operator))
    r = await client.get(f"{API}/marketing/campaigns/{campaign_id}/report", headers=operator)
    assert r.status_code == 200, r.text
    counts = r.json()["coupons"]
    assert counts["issued"] == len(treated(campaign_id, people))
    assert (counts["redeemed"], counts["discount"]) == (1, 2000)


async def test_rules_min_spend_scope_percent_rounding_and_expiry(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    # Tokens refuse an issue time in the future: start in the past, so the clock can go on.
    clock.advance(days=-4)
    shop = await make_shop(client, container, 10, 10)  # 129.90 and 139.90 CNY
    elsewhere = await make_shop(client, container, 10)
    people = await buyers(client, container, 2)
    # 15% off this brand's lines from 200.00 CNY, valid 3 days.
    campaign_id = await coupon_campaign(
        client,
        container,
        people,
        coupon_percent=15,
        coupon_min_spend=20000,
        coupon_brand_id=shop.brand_id,
        coupon_valid_days=3,
    )
    (buyer, *_) = treated(campaign_id, people)
    coupon = await my_coupon(client, buyer)

    r = await buy(client, buyer, [(shop.sku_ids[0], 1)], coupon["id"])
    assert r.status_code == 409 and code(r) == "coupon_not_applicable"
    assert r.json()["error"]["details"]["reason"] == "min_spend"
    r = await buy(client, buyer, [(elsewhere.sku_ids[0], 2)], coupon["id"])
    assert r.status_code == 409 and r.json()["error"]["details"]["reason"] == "scope"
    r = await client.post(
        f"{API}/marketing/campaigns",
        json={
            "name": "x",
            "action": "coupon",
            "track": "lifecycle",
            "stage": "new",
            "subject": "s",
            "coupon_code": "BOTH",
            "coupon_amount": 1,
            "coupon_percent": 5,
        },
        headers=await auth(client, container, await make_user(container, Role.operator)),
    )
    assert r.status_code == 422  # an amount or a percent, not both

    # 3 x 129.90 + 139.90 = 529.60; 15% = 79.44 (79.440, rounded down to the fen).
    r = await buy(client, buyer, [(shop.sku_ids[0], 3), (shop.sku_ids[1], 1)], coupon["id"])
    assert r.status_code == 201, r.text
    placed = r.json()
    assert placed["discount"] == (3 * 12990 + 13990) * 15 // 100 == 7944
    assert placed["total"] == 3 * 12990 + 13990 - 7944
    shares = {i["sku_id"]: i["discount"] for i in placed["items"]}
    assert sum(shares.values()) == 7944
    # In proportion to the lines: 7944 x 38970/52960 = 5845.58 and 7944 x 13990/52960 =
    # 2098.42; floors 5845 + 2098 = 7943, the last fen to the larger remainder.
    assert shares == {shop.sku_ids[0]: 5846, shop.sku_ids[1]: 2098}

    # Cancelling gives it back; after its expiry (from the clock) it is refused.
    r = await client.post(f"{API}/orders/{placed['id']}/cancel", headers=buyer.headers)
    assert r.status_code == 200, r.text
    assert (await my_coupon(client, buyer))["state"] == "available"
    clock.advance(days=3)
    buyer.headers = await auth(client, container, buyer.id)
    assert (await my_coupon(client, buyer))["state"] == "expired"
    r = await buy(client, buyer, [(shop.sku_ids[0], 3)], coupon["id"])
    assert r.status_code == 409 and code(r) == "coupon_expired"


async def test_an_order_expired_unpaid_gives_the_coupon_back(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    clock.advance(days=-1)  # tokens refuse an issue time in the future
    shop = await make_shop(client, container, 5)
    people = await buyers(client, container, 2)
    campaign_id = await coupon_campaign(client, container, people, coupon_amount=500)
    (buyer, *_) = treated(campaign_id, people)
    coupon = await my_coupon(client, buyer)
    r = await buy(client, buyer, [(shop.sku_ids[0], 1)], coupon["id"])
    assert r.status_code == 201, r.text
    assert (await my_coupon(client, buyer))["state"] == "redeemed"
    clock.advance(minutes=container.settings.order_payment_minutes, seconds=1)
    assert await commerce.run_expiry_sweep(container.uow, clock=clock) == 1
    buyer.headers = await auth(client, container, buyer.id)
    again = await my_coupon(client, buyer)
    assert again["state"] == "available" and again["order_id"] is None
    r = await buy(client, buyer, [(shop.sku_ids[0], 1)], coupon["id"])
    assert r.status_code == 201 and r.json()["discount"] == 500, r.text


async def test_cart_checkout_puts_the_coupon_on_the_order_it_fits(
    client: httpx.AsyncClient, container: Container
) -> None:
    small = await make_shop(client, container, 5, price=3000)
    big = await make_shop(client, container, 5, price=9000)
    people = await buyers(client, container, 2)
    campaign_id = await coupon_campaign(
        client, container, people, coupon_percent=10, coupon_min_spend=5000
    )
    (buyer, *_) = treated(campaign_id, people)
    coupon = await my_coupon(client, buyer)
    for sku in (small.sku_ids[0], big.sku_ids[0]):
        r = await client.post(
            f"{API}/cart/items", json={"sku_id": sku, "quantity": 1}, headers=buyer.headers
        )
        assert r.status_code in (200, 201), r.text
    headers = {**buyer.headers, "Idempotency-Key": uuid.uuid4().hex}
    r = await client.post(f"{API}/cart/checkout", json={"coupon_id": coupon["id"]}, headers=headers)
    assert r.status_code == 201, r.text
    by_brand = {o["brand_id"]: o for o in r.json()["orders"]}
    assert by_brand[big.brand_id]["discount"] == 900
    assert by_brand[big.brand_id]["coupon_id"] == coupon["id"]
    assert by_brand[small.brand_id]["discount"] == 0  # 30.00 is below the minimum anyway
    assert by_brand[small.brand_id]["coupon_id"] is None
    # The replay of the same key returns the same orders and redeems nothing more.
    r = await client.post(f"{API}/cart/checkout", json={"coupon_id": coupon["id"]}, headers=headers)
    assert r.status_code == 201 and len(r.json()["orders"]) == 2


async def test_refunds_give_back_what_was_paid(
    client: httpx.AsyncClient, container: Container
) -> None:
    shop: Shop = await make_shop(client, container, 5)
    people = await buyers(client, container, 2)
    campaign_id = await coupon_campaign(client, container, people, coupon_amount=1001)
    (buyer, *_) = treated(campaign_id, people)
    coupon = await my_coupon(client, buyer)
    placed = (await buy(client, buyer, [(shop.sku_ids[0], 3)], coupon["id"])).json()
    assert placed["total"] == 3 * 12990 - 1001
    r = await client.post(f"{API}/orders/{placed['id']}/pay", headers=buyer.headers)
    assert r.status_code == 200, r.text
    amounts = []
    for quantity in (1, 2):
        r = await client.post(
            f"{API}/orders/{placed['id']}/after-sales",
            json={"sku_id": shop.sku_ids[0], "quantity": quantity, "reason": "other"},
            headers=buyer.headers,
        )
        assert r.status_code == 201, r.text
        request = r.json()
        r = await client.post(
            f"{API}/after-sales/{request['id']}/answer",
            json={"approve": True},
            headers=shop.merchant,
        )
        assert r.status_code == 200 and r.json()["status"] == "refunded", r.text
        amounts.append(request["amount"])
    # 37969 paid for 3 units: 12656 for the first, 25313 for the other two; all of it back.
    assert amounts == [37969 // 3, 37969 - 37969 // 3]
    r = await client.get(f"{API}/orders/{placed['id']}/refunds", headers=buyer.headers)
    assert sum(x["amount"] for x in r.json()) == placed["total"]


async def test_two_concurrent_checkouts_cannot_both_use_one_coupon(
    postgres_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 10)
    people = await buyers(client, container, 2)
    campaign_id = await coupon_campaign(client, container, people, coupon_amount=1500)
    (buyer, *_) = treated(campaign_id, people)
    coupon = await my_coupon(client, buyer)
    responses = await asyncio.gather(
        buy(client, buyer, [(shop.sku_ids[0], 1)], coupon["id"]),
        buy(client, buyer, [(shop.sku_ids[0], 1)], coupon["id"]),
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409], [r.text for r in responses]
    (lost,) = [r for r in responses if r.status_code == 409]
    assert code(lost) == "coupon_already_used"
    async with container.uow() as uow:
        with_coupon = await uow.session.scalar(
            select(func.count()).select_from(Order).where(Order.coupon_id == coupon["id"])
        )
        units = await uow.session.scalar(
            select(func.sum(OrderItem.quantity)).where(OrderItem.sku_id == shop.sku_ids[0])
        )
    assert with_coupon == 1
    assert await stock_of(container, shop.sku_ids[0]) == 10 - int(units or 0)


async def test_campaign_gmv_counts_the_paid_amount_after_discount(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    clock.advance(minutes=-10)  # tokens refuse an issue time in the future
    shop = await make_shop(client, container, 5)
    people = await buyers(client, container, 3)
    campaign_id = await coupon_campaign(client, container, people, coupon_amount=2990)
    (buyer, *_) = treated(campaign_id, people)
    coupon = await my_coupon(client, buyer)
    clock.advance(minutes=1)
    placed = (await buy(client, buyer, [(shop.sku_ids[0], 1)], coupon["id"])).json()
    r = await client.post(f"{API}/orders/{placed['id']}/pay", headers=buyer.headers)
    assert r.status_code == 200, r.text
    await container.events.flush()
    clock.advance(minutes=1)
    operator = await auth(client, container, await make_user(container, Role.operator))
    r = await client.post(f"{API}/marketing/campaigns/{campaign_id}/measure", headers=operator)
    assert r.status_code == 200, r.text
    treated_arm = next(a for a in r.json()["arms"] if a["arm"] == "treated")
    assert (treated_arm["converted"], treated_arm["gmv"]) == (1, 12990 - 2990)
    assert r.json()["coupons"]["redeemed"] == 1


async def test_the_second_redeemer_waits_for_the_first_and_loses(
    postgres_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    """Both transactions pass the first look; the conditional UPDATE lets only one win."""
    shop = await make_shop(client, container, 10)
    people = await buyers(client, container, 2)
    campaign_id = await coupon_campaign(client, container, people, coupon_amount=1500)
    (buyer, *_) = treated(campaign_id, people)
    coupon = await my_coupon(client, buyer)
    now = container.clock.now()
    first = await buy(client, buyer, [(shop.sku_ids[0], 1)])
    second = await buy(client, buyer, [(shop.sku_ids[0], 1)])
    async with container.uow() as a, container.uow() as b:
        for uow in (a, b):  # each sees the coupon available
            terms = await coupons.coupon_for_checkout(
                uow.session, user_id=buyer.id, coupon_id=coupon["id"], now=now
            )
            assert terms.id == coupon["id"]
        await coupons.redeem(
            a.session,
            coupon_id=coupon["id"],
            user_id=buyer.id,
            order_id=first.json()["id"],
            discount=1500,
            now=now,
        )
        loser = asyncio.create_task(
            coupons.redeem(
                b.session,
                coupon_id=coupon["id"],
                user_id=buyer.id,
                order_id=second.json()["id"],
                discount=1500,
                now=now,
            )
        )
        await asyncio.sleep(0.5)
        assert not loser.done()  # blocked on the row the first transaction updated
        await a.commit()
        with pytest.raises(CouponAlreadyUsed):
            await loser
    used = await my_coupon(client, buyer)
    assert used["state"] == "redeemed" and used["order_id"] == first.json()["id"]
