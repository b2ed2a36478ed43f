"""Money columns hold the largest amounts input allows (10**12 minor units), on both backends."""

from __future__ import annotations

import httpx

from livecart.bootstrap import Container
from livecart.core.money import MINOR_UNITS_MAX
from tests.integration.test_catalog_api import make_brand, merchant_headers, product_body
from tests.support import auth, make_user


async def test_largest_price_and_order_total_round_trip(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    brand = await make_brand(client, container)
    merchant = await merchant_headers(client, container, brand)
    body = product_body(brand)
    body["skus"] = [{**body["skus"][0], "price": MINOR_UNITS_MAX, "stock": 10}]
    r = await client.post("/api/v1/products", json=body, headers=merchant)
    assert r.status_code == 201, r.text
    sku = r.json()["skus"][0]
    assert sku["price"] == MINOR_UNITS_MAX

    r = await client.post(
        "/api/v1/products",
        json={**body, "skus": [{**body["skus"][0], "price": MINOR_UNITS_MAX + 1}]},
        headers=merchant,
    )
    assert r.status_code == 422

    buyer = await auth(client, container, await make_user(container))
    r = await client.post(
        "/api/v1/orders",
        json={"items": [{"sku_id": sku["id"], "quantity": 3}]},
        headers={**buyer, "Idempotency-Key": "big-order"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["total"] == 3 * MINOR_UNITS_MAX
    r = await client.get(f"/api/v1/skus/{sku['id']}/price-history")
    assert r.json()[0]["new_price"] == MINOR_UNITS_MAX
