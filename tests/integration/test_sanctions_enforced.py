"""Sanctions enforced on the flash purchase path, the catalog, the cart and flash-sale banners.

Over HTTP through the app (SQLite and PostgreSQL): a frozen flash sale refuses purchases with
`flash_sale_frozen` (also when this worker's cached view of the sale predates the freeze: the
writer re-reads the sanctions in its transaction), shows it on the sale and to the room, and
sells again once lifted; a product delisted by an operator leaves the public listings, cannot
be added to a cart, checked out, showcased or sold in a flash sale, and its brand sees it as
delisted with the reason; a flash-sale banner is compliance-scanned and may not claim fewer
units left than the sale has. The same freeze across two real workers sharing Redis is in
`test_sanctions_enforced_workers.py`. Over real WebSockets, a host's "only 3 left" while the
showcased product has 9 is refused with `scarcity_claim_false` and not stored.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.flashsale import service as flash
from livecart.live.models import ChatMessage
from livecart.realtime.broker import session_channel
from livecart.settings import Settings
from livecart.supervision.models import ComplianceHit
from tests.conftest import LiveServer
from tests.integration.test_flash_sales import buy, flash_world
from tests.integration.test_orders_flow import API, consumers, live_session, make_shop
from tests.integration.test_realtime_gateway import chats, frames_until, next_frame, world_on
from tests.support import PASSWORD, auth, make_user


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A roomier buying rate limit: these tests buy one after another on purpose."""
    return settings.model_copy(update={"flash_user_burst": 30})


async def _operator(client: httpx.AsyncClient, container: Container) -> dict[str, str]:
    return await auth(client, container, await make_user(container, Role.operator))


async def _sanction(
    client: httpx.AsyncClient, operator: dict[str, str], **body: Any
) -> dict[str, Any]:
    r = await client.post(f"{API}/supervision/sanctions", json=body, headers=operator)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _lift(client: httpx.AsyncClient, operator: dict[str, str], sanction_id: int) -> None:
    r = await client.post(
        f"{API}/supervision/sanctions/{sanction_id}/lift",
        json={"reason": "checked again"},
        headers=operator,
    )
    assert r.status_code == 200, r.text


def _code(r: httpx.Response) -> str:
    return str(r.json()["error"]["code"])


async def _scarcity_hits(container: Container) -> list[tuple[str, str, int | None]]:
    """(source, words, product) of the fake-scarcity refusals kept for the risk signals."""
    async with container.uow() as uow:
        rows = await uow.session.execute(
            select(ComplianceHit.source, ComplianceHit.excerpt, ComplianceHit.product_id)
            .where(ComplianceHit.rule_id == "fake_scarcity")
            .order_by(ComplianceHit.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


# ---------------------------------------------------------------- freeze_flash_sale


async def test_a_frozen_flash_sale_refuses_purchases_until_the_freeze_is_lifted(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    world = await flash_world(client, container, quantity=5)
    first, second, third = await consumers(container, 3)
    operator = await _operator(client, container)
    subscription = await container.broker.subscribe(session_channel(world.session_id))

    # A purchase before the freeze: this worker now caches the sale as open and unfrozen.
    r = await buy(client, world.sale_id, first)
    assert r.status_code == 201, r.text

    freeze = await _sanction(
        client,
        operator,
        kind="freeze_flash_sale",
        subject_id=world.sale_id,
        reason="banner promised a free gift that is not given",
    )
    # Refused at once, although the cached view is younger than a second: the group-commit
    # writer reads the sanctions in its own transaction.
    r = await buy(client, world.sale_id, second)
    assert r.status_code == 403, r.text
    assert _code(r) == "flash_sale_frozen"
    assert r.json()["error"]["details"]["sanction_id"] == freeze["id"]
    # Nothing was sold and the units taken in the stock store went back.
    sale = (await client.get(f"{API}/flash-sales/{world.sale_id}")).json()
    assert (sale["sold"], sale["remaining"]) == (1, 4)
    assert sale["blocked"]["code"] == "flash_sale_frozen"
    assert sale["blocked"]["reason"] == "banner promised a free gift that is not given"
    assert sale["blocked"]["sanction_id"] == freeze["id"]
    # The seller cannot restart it either, and the room heard that it is frozen.
    r = await client.post(f"{API}/flash-sales/{world.sale_id}/start", headers=world.anchor)
    assert r.status_code == 403 and _code(r) == "flash_sale_frozen"
    async with asyncio.timeout(10):
        async for message in subscription:
            if message.get("type") == "flash_sale" and message["sale"]["blocked"]:
                assert message["sale"]["blocked"]["code"] == "flash_sale_frozen"
                break
    # The room's page lists the sale as frozen (the page's data comes from list_sales).
    async with container.uow() as uow:
        listed = await flash.list_sales(
            uow.session, clock=container.clock, session_id=world.session_id
        )
    assert [(s.id, s.blocked.code if s.blocked else None) for s in listed] == [
        (world.sale_id, "flash_sale_frozen")
    ]

    await _lift(client, operator, freeze["id"])
    r = await buy(client, world.sale_id, third)
    assert r.status_code == 201, r.text
    sale = (await client.get(f"{API}/flash-sales/{world.sale_id}")).json()
    assert (sale["sold"], sale["remaining"], sale["blocked"]) == (2, 3, None)
    async with asyncio.timeout(10):
        async for message in subscription:
            if message.get("type") == "flash_sale" and message["sale"]["blocked"] is None:
                break
    await subscription.close()


# ---------------------------------------------------------------- delist_product


async def test_a_delisted_product_leaves_listings_carts_showcases_and_flash_sales(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    # A flash sale of the product is on before the delisting, and a buyer has it in the cart.
    world = await flash_world(client, container, quantity=3, stock=10)
    product_id = (await client.get(f"{API}/flash-sales/{world.sale_id}")).json()["product_id"]
    buyer, other = await consumers(container, 2)
    operator = await _operator(client, container)
    r = await client.post(
        f"{API}/cart/items", json={"sku_id": world.sku_id, "quantity": 1}, headers=buyer
    )
    assert r.status_code in (200, 201), r.text
    public = (await client.get(f"{API}/products", params={"limit": 200})).json()
    assert product_id in [p["id"] for p in public]

    async def showcased() -> list[int]:
        view = (await client.get(f"{API}/sessions/{world.session_id}")).json()
        return [card["id"] for card in view["showcase"]]

    assert product_id in await showcased()

    delisting = await _sanction(
        client, operator, kind="delist_product", subject_id=product_id, reason="fake silk"
    )

    # Gone from the public listing and the product page.
    public = (await client.get(f"{API}/products", params={"limit": 200})).json()
    assert product_id not in [p["id"] for p in public]
    assert (await client.get(f"{API}/products/{product_id}")).status_code == 404
    assert (await client.get(f"{API}/products/{product_id}", headers=other)).status_code == 404
    # Gone from the room's showcase that held it.
    assert product_id not in await showcased()
    # The brand's merchant sees it as delisted, with the operator's reason.
    mine = (await client.get(f"{API}/products", headers=world.merchant)).json()
    (card,) = [p for p in mine if p["id"] == product_id]
    assert card["status"] == "delisted"
    assert card["delisted"]["code"] == "product_delisted"
    assert card["delisted"]["reason"] == "fake silk"
    assert card["delisted"]["sanction_id"] == delisting["id"]
    page = (await client.get(f"{API}/products/{product_id}", headers=world.merchant)).json()
    assert (page["status"], page["delisted"]["reason"]) == ("delisted", "fake silk")
    # And so does their catalogue page, without the "List again" button the sanction overrides.
    email = (await client.get(f"{API}/me", headers=world.merchant)).json()["email"]
    async with httpx.AsyncClient(transport=client._transport, base_url=client.base_url) as pages:
        login = {"email": email, "password": PASSWORD, "next": "/merchant"}
        assert (await pages.post("/login", data=login)).status_code == 303
        html = (await pages.get("/merchant")).text
    row = html.split(f'data-product-id="{product_id}"')[1].split("</tr>")[0]
    assert "Delisted by the platform: fake silk" in row and "List again" not in row, row

    # Not into a cart, not through checkout, the cart shows it unavailable.
    r = await client.post(
        f"{API}/cart/items", json={"sku_id": world.sku_id, "quantity": 1}, headers=other
    )
    assert r.status_code == 409 and _code(r) == "product_unavailable", r.text
    cart = (await client.get(f"{API}/cart", headers=buyer)).json()
    assert [i["available"] for i in cart["items"]] == [False]
    r = await client.post(
        f"{API}/cart/checkout", headers={**buyer, "Idempotency-Key": "delisted-checkout-1"}
    )
    assert r.status_code == 409 and _code(r) == "product_unavailable", r.text
    # Not into a showcase, not into a new flash sale, not bought from the running one.
    session_id, _anchor_id, anchor = await live_session(client, container)
    r = await client.post(
        f"{API}/sessions/{session_id}/showcase", json={"product_id": product_id}, headers=anchor
    )
    assert r.status_code == 403 and _code(r) == "product_delisted", r.text
    r = await client.post(
        f"{API}/flash-sales",
        json={
            "session_id": world.session_id,
            "sku_id": world.sku_id,
            "price": world.regular_price // 3,
            "quantity": 1,
        },
        headers=world.anchor,
    )
    assert r.status_code == 403 and _code(r) == "product_delisted", r.text
    r = await buy(client, world.sale_id, other)
    assert r.status_code == 403 and _code(r) == "product_delisted", r.text
    sale = (await client.get(f"{API}/flash-sales/{world.sale_id}")).json()
    assert sale["blocked"]["code"] == "product_delisted" and sale["sold"] == 0

    # Lifted: listed, sellable and buyable again.
    await _lift(client, operator, delisting["id"])
    public = (await client.get(f"{API}/products", params={"limit": 200})).json()
    assert product_id in [p["id"] for p in public]
    assert product_id in await showcased()
    r = await client.post(
        f"{API}/cart/items", json={"sku_id": world.sku_id, "quantity": 1}, headers=other
    )
    assert r.status_code in (200, 201), r.text
    r = await buy(client, world.sale_id, other)
    assert r.status_code == 201, r.text


async def test_a_suspended_room_or_anchor_stops_their_flash_sales(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    world = await flash_world(client, container, quantity=3)
    (buyer,) = await consumers(container, 1)
    operator = await _operator(client, container)
    room_id = (await client.get(f"{API}/flash-sales/{world.sale_id}")).json()["room_id"]
    suspension = await _sanction(
        client, operator, kind="suspend_room", subject_id=room_id, reason="repeat offender"
    )
    r = await buy(client, world.sale_id, buyer)
    assert r.status_code == 403 and _code(r) == "room_suspended", r.text
    await _lift(client, operator, suspension["id"])
    anchor_id = (await client.get(f"{API}/me", headers=world.anchor)).json()["id"]
    suspension = await _sanction(
        client, operator, kind="suspend_anchor", subject_id=anchor_id, reason="fake silk"
    )
    r = await buy(client, world.sale_id, buyer)
    assert r.status_code == 403 and _code(r) == "anchor_suspended", r.text
    await _lift(client, operator, suspension["id"])
    assert (await buy(client, world.sale_id, buyer)).status_code == 201


# ---------------------------------------------------------------- flash-sale banners


async def test_flash_sale_banners_are_scanned_and_their_scarcity_claims_checked(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 60)
    session_id, _anchor_id, anchor = await live_session(client, container)
    r = await client.post(
        f"{API}/sessions/{session_id}/showcase",
        json={"product_id": shop.product_id},
        headers=anchor,
    )
    assert r.status_code == 200, r.text
    body = {
        "session_id": session_id,
        "sku_id": shop.sku_ids[0],
        "price": shop.prices[0] // 2,
        "quantity": 20,
        "per_user_limit": 5,
    }

    # 20 units, the banner says 5 are left: fake scarcity, refused, nothing set aside.
    r = await client.post(
        f"{API}/flash-sales", json={**body, "banner": "仅剩最后5件！"}, headers=anchor
    )
    assert r.status_code == 422 and _code(r) == "scarcity_claim_false", r.text
    details = r.json()["error"]["details"]
    assert (details["claimed"], details["stock"], details["field"]) == (5, 20, "banner")
    # Kept as a risk signal of the brand and product (a unit of work of its own).
    assert await _scarcity_hits(container) == [
        ("flash_sale_banner", "仅剩最后5件", shop.product_id)
    ]
    # Absolute terms in a banner: the compliance lexicon blocks it like a product title.
    r = await client.post(
        f"{API}/flash-sales", json={**body, "banner": "全网最低价 国家级"}, headers=anchor
    )
    assert r.status_code == 422 and _code(r) == "compliance_blocked", r.text
    sku = (await client.get(f"{API}/products/{shop.product_id}")).json()["skus"][0]
    assert sku["stock"] == 60
    # A true claim passes and is shown on the sale.
    r = await client.post(
        f"{API}/flash-sales",
        json={**body, "banner": "Last 20 pieces at this price"},
        headers=anchor,
    )
    assert r.status_code == 201, r.text
    sale = r.json()
    assert sale["banner"] == "Last 20 pieces at this price"
    r = await client.post(f"{API}/flash-sales/{sale['id']}/start", headers=anchor)
    assert r.status_code == 200

    # After 5 units sold, "only 3 left" is below the 15 remaining; "只剩15件" is true.
    (buyer,) = await consumers(container, 1)
    assert (await buy(client, sale["id"], buyer, quantity=5)).status_code == 201
    url = f"{API}/flash-sales/{sale['id']}"
    r = await client.patch(url, json={"banner": "Hurry, only 3 left!"}, headers=anchor)
    assert r.status_code == 422 and _code(r) == "scarcity_claim_false", r.text
    assert r.json()["error"]["details"]["stock"] == 15
    # Kept as a risk signal too, like the refusal on create.
    assert await _scarcity_hits(container) == [
        ("flash_sale_banner", "仅剩最后5件", shop.product_id),
        ("flash_sale_banner", "only 3 left", shop.product_id),
    ]
    r = await client.patch(url, json={"banner": "只剩15件"}, headers=anchor)
    assert r.status_code == 200, r.text
    assert r.json()["banner"] == "只剩15件"
    r = await client.patch(url, json={"banner": "mine now"}, headers=buyer)
    assert r.status_code == 403


async def _a_whole_sku_on_sale(
    client: httpx.AsyncClient, container: Container
) -> tuple[int, int, dict[str, str]]:
    """All 20 units of one SKU set aside for a live sale (its own stock 0) beside a SKU with
    60, and 5 of the sale's units sold: 15 left. (session id, anchor id, anchor headers)"""
    world = await flash_world(
        client, container, quantity=20, stock=20, per_user_limit=5, other_skus=(60,)
    )
    (buyer,) = await consumers(container, 1)
    assert (await buy(client, world.sale_id, buyer, quantity=5)).status_code == 201
    return world.session_id, world.anchor_id, world.anchor


async def test_a_hosts_true_claim_about_a_flash_sale_is_not_refused_in_chat(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    """ "only 15 left" is true of the sale, "only 3 left" of nothing; through the process's
    chat writer, as the socket posts."""
    session_id, anchor_id, _anchor = await _a_whole_sku_on_sale(client, container)
    async with container.uow() as uow:
        host = await accounts.load_identity(uow.session, anchor_id)
    assert host is not None

    async def say(text: str) -> Any:
        return await container.hub.chat.submit(actor=host, session_id=session_id, text=text)

    assert (await say("only 15 left at this price")).error is None
    refused = (await say("only 3 left")).error
    assert refused is not None and refused.code == "scarcity_claim_false"
    assert (refused.details["claimed"], refused.details["stock"]) == (3, 15)


async def test_a_scripts_true_claim_about_a_flash_sale_is_saved(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    session_id, _anchor_id, anchor = await _a_whole_sku_on_sale(client, container)
    url = f"{API}/sessions/{session_id}/script"
    r = await client.put(url, json={"text": "Welcome!\nonly 15 left at this price"}, headers=anchor)
    assert r.status_code == 200, r.text
    r = await client.put(url, json={"text": "Welcome!\nonly 3 left"}, headers=anchor)
    assert r.status_code == 422 and _code(r) == "scarcity_claim_false", r.text
    details = r.json()["error"]["details"]
    assert (details["claimed"], details["stock"], details["line"]) == (3, 15, 2)


# ---------------------------------------------------------------- scarcity claims in hosts' chat


async def test_a_hosts_claim_of_fewer_units_left_than_in_stock_is_refused_on_the_socket(
    any_backend: str, live_server: LiveServer
) -> None:
    # The world's showcase holds one product whose one SKU has 9 units.
    async with world_on(live_server) as world:
        host = await world.socket(world.anchor_id)
        alice = await world.socket(world.alice_id)
        bob = await world.socket(world.bob_id)

        await host.send(json.dumps({"type": "chat", "text": "Only 3 left, grab yours"}))
        refusal = (await next_frame(host, "error"))["error"]
        assert refusal["code"] == "scarcity_claim_false"
        assert (refusal["details"]["claimed"], refusal["details"]["stock"]) == (3, 9)
        await host.send(json.dumps({"type": "chat", "text": "仅剩最后2件"}))
        refusal = (await next_frame(host, "error"))["error"]
        assert refusal["code"] == "scarcity_claim_false" and refusal["details"]["claimed"] == 2
        await asyncio.sleep(1.5)  # the chat rate limit (3, then 2 a second) refills
        # True claims, ordinary sentences and viewers' questions pass.
        await alice.send(json.dumps({"type": "chat", "text": "only 3 left?"}))
        assert chats(await frames_until(bob, "only 3 left?")) == ["only 3 left?"]
        await host.send(json.dumps({"type": "chat", "text": "only 9 left in stock"}))
        await host.send(json.dumps({"type": "chat", "text": "5 minutes left, ask away"}))
        seen = await frames_until(bob, "5 minutes left, ask away")
        assert chats(seen) == ["only 9 left in stock", "5 minutes left, ask away"]
        async with world.container.uow() as uow:
            texts = list(
                await uow.session.scalars(
                    select(ChatMessage.text).where(ChatMessage.session_id == world.session_id)
                )
            )
        assert "Only 3 left, grab yours" not in texts and "仅剩最后2件" not in texts
        assert await _scarcity_hits(world.container) == [
            ("chat", "Only 3 left", None),
            ("chat", "仅剩最后2件", None),
        ]
        for ws in (host, alice, bob):
            await ws.close()
