"""Recommendations: a consumer who bought beauty gets beauty first; anonymous callers and
consumers who switched personalisation off get the same non-personalised list, from the
very next request on."""

from __future__ import annotations

from typing import Any

import httpx

from livecart.bootstrap import Container
from livecart.catalog import service as catalog
from livecart.catalog.schemas import SkuIn
from tests.support import auth, make_user

API = "/api/v1"


async def _product(container: Container, brand_id: int, title: str, category: str) -> int:
    async with container.uow() as uow:
        product = await catalog.create_product(
            uow.session,
            clock=container.clock,
            lexicon=container.lexicon,
            actor=None,
            brand_id=brand_id,
            title=title,
            category=category,
            skus=[SkuIn(code=title.split()[0].upper(), price=5000, currency="CNY", stock=100)],
        )
        await uow.commit()
        return product.skus[0].id


async def _order(client: httpx.AsyncClient, headers: dict[str, str], sku_id: int) -> None:
    placed = await client.post(
        f"{API}/orders",
        json={"items": [{"sku_id": sku_id, "quantity": 1}]},
        headers={**headers, "Idempotency-Key": f"rec-{sku_id}"},
    )
    assert placed.status_code == 201, placed.text


def _titles(body: dict[str, Any]) -> list[str]:
    return [pick["product"]["title"] for pick in body["products"]]


async def test_beauty_buyer_gets_beauty_first_until_personalisation_is_off(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    async with container.uow() as uow:
        brand = await catalog.create_brand(
            uow.session, clock=container.clock, actor=None, name="Glow & Leaf", description=""
        )
        await uow.commit()
    lipstick = await _product(container, brand.id, "Velvet lipstick", "beauty")
    await _product(container, brand.id, "Rose serum", "beauty")
    oolong = await _product(container, brand.id, "Tieguanyin oolong", "tea")
    await _product(container, brand.id, "Jasmine pearls", "tea")
    # Tea is what the shop sells most: three tea buyers; one beauty buyer, Bea.
    for n in range(3):
        tea_buyer = await make_user(container, name=f"Tea {n}")
        await _order(client, await auth(client, container, tea_buyer), oolong)
    bea_id = await make_user(container, name="Bea")
    bea = await auth(client, container, bea_id)
    await _order(client, bea, lipstick)
    await container.events.flush()

    anonymous = await client.get(f"{API}/recommendations")
    assert anonymous.status_code == 200, anonymous.text
    assert anonymous.json()["personalised"] is False
    assert _titles(anonymous.json())[0] == "Tieguanyin oolong"  # the most popular

    mine = (await client.get(f"{API}/recommendations", headers=bea)).json()
    assert mine["personalised"] is True
    first_two = mine["products"][:2]
    assert {p["product"]["category"] for p in first_two} == {"beauty"}
    assert {p["product"]["title"] for p in first_two} == {"Velvet lipstick", "Rose serum"}
    assert all(p["reason"] == "because you like beauty" for p in first_two)
    assert mine != anonymous.json()

    switched = await client.put(f"{API}/me/privacy", json={"personalisation": False}, headers=bea)
    assert switched.status_code == 200, switched.text
    after = await client.get(f"{API}/recommendations", headers=bea)
    assert after.status_code == 200
    assert after.json() == (await client.get(f"{API}/recommendations")).json()
    assert after.json()["personalised"] is False

    # Switched on again, the profile counts again from the next request.
    await client.put(f"{API}/me/privacy", json={"personalisation": True}, headers=bea)
    again = (await client.get(f"{API}/recommendations", headers=bea)).json()
    assert again["personalised"] is True and again["products"][0]["product"]["category"] == "beauty"


async def test_co_purchases_lead_when_no_category_is_shared(
    client: httpx.AsyncClient, container: Container
) -> None:
    async with container.uow() as uow:
        brand = await catalog.create_brand(
            uow.session, clock=container.clock, actor=None, name="Home Goods", description=""
        )
        await uow.commit()
    kettle = await _product(container, brand.id, "Glass kettle", "kitchen")
    await _product(container, brand.id, "Bamboo tray", "home")
    cups = await _product(container, brand.id, "Tea cups", "tableware")
    # Two others bought the kettle and the cups; Kim bought only the kettle.
    for n in range(2):
        other = await auth(client, container, await make_user(container, name=f"Other {n}"))
        await _order(client, other, kettle)
        await _order(client, other, cups)
    kim = await auth(client, container, await make_user(container, name="Kim"))
    await _order(client, kim, kettle)
    await container.events.flush()
    body = (await client.get(f"{API}/recommendations", headers=kim)).json()
    by_title = {p["product"]["title"]: p for p in body["products"]}
    assert by_title["Tea cups"]["reason"] == "often bought with Glass kettle"
    assert by_title["Tea cups"]["score"] > by_title["Bamboo tray"]["score"]
