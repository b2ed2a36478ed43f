"""Catalog over HTTP: brands, products, SKUs, price history, visibility and permissions."""

from __future__ import annotations

from typing import Any

import httpx

from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.core.clock import FrozenClock
from tests.support import auth, make_user

API = "/api/v1"


def product_body(brand_id: int, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "brand_id": brand_id,
        "title": "Silk scarf",
        "description": "Hand-rolled edges.",
        "category": "accessories",
        "attributes": {
            "material": "100% mulberry silk",
            "size_chart": {"S": "70x70 cm", "L": "90x90 cm"},
            "usage": ["neck", "hair", "bag"],
            "weight_g": 42,
        },
        "skus": [
            {
                "code": "SCARF-RED-S",
                "price": 12990,
                "currency": "CNY",
                "stock": 5,
                "attributes": {"colour": "red", "size": "S"},
            },
            {
                "code": "SCARF-BLUE-L",
                "price": 15990,
                "currency": "CNY",
                "stock": 3,
                "attributes": {"colour": "blue", "size": "L"},
            },
        ],
    }
    body.update(overrides)
    return body


async def make_brand(client: httpx.AsyncClient, container: Container, name: str = "Aurora") -> int:
    operator = await make_user(container, Role.operator)
    r = await client.post(
        f"{API}/brands",
        json={"name": name, "description": "Silk things"},
        headers=await auth(client, container, operator),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def merchant_headers(
    client: httpx.AsyncClient, container: Container, brand_id: int
) -> dict[str, str]:
    return await auth(
        client, container, await make_user(container, Role.merchant, brand_id=brand_id)
    )


async def test_brands_operator_only_and_unique(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    operator = await auth(client, container, await make_user(container, Role.operator))
    consumer = await auth(client, container, await make_user(container))
    r = await client.post(f"{API}/brands", json={"name": "Aurora"})
    assert r.status_code == 401
    r = await client.post(f"{API}/brands", json={"name": "Aurora"}, headers=consumer)
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    r = await client.post(f"{API}/brands", json={"name": "Aurora"}, headers=operator)
    assert r.status_code == 201, r.text
    brand = r.json()
    assert brand == {"id": brand["id"], "name": "Aurora", "description": ""}
    merchant = await merchant_headers(client, container, brand["id"])
    r = await client.post(f"{API}/brands", json={"name": "Other"}, headers=merchant)
    assert r.status_code == 403
    for name in ("Aurora", "aurora"):
        r = await client.post(f"{API}/brands", json={"name": name}, headers=operator)
        assert r.status_code == 409 and r.json()["error"]["code"] == "brand_name_taken"
    r = await client.post(f"{API}/brands", json={"name": "X", "id": 7}, headers=operator)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_field"
    assert [b["name"] for b in (await client.get(f"{API}/brands")).json()] == ["Aurora"]
    assert (await client.get(f"{API}/brands/{brand['id']}")).json()["name"] == "Aurora"
    r = await client.get(f"{API}/brands/{brand['id'] + 100}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "brand_not_found"


async def test_create_product_permissions(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    brand = await make_brand(client, container)
    other_brand = await make_brand(client, container, "Borealis")
    body = product_body(brand)
    assert (await client.post(f"{API}/products", json=body)).status_code == 401
    consumer = await auth(client, container, await make_user(container))
    r = await client.post(f"{API}/products", json=body, headers=consumer)
    assert r.status_code == 403
    other = await merchant_headers(client, container, other_brand)
    r = await client.post(f"{API}/products", json=body, headers=other)
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    r = await client.post(
        f"{API}/products", json=product_body(brand + other_brand + 10), headers=other
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "brand_not_found"

    merchant = await merchant_headers(client, container, brand)
    r = await client.post(f"{API}/products", json=body, headers=merchant)
    assert r.status_code == 201, r.text
    product = r.json()
    assert product["brand_id"] == brand and product["brand"]["name"] == "Aurora"
    assert product["status"] == "active" and product["media"] == [] and product["image_url"] is None
    assert product["attributes"]["size_chart"] == {"S": "70x70 cm", "L": "90x90 cm"}
    assert [(s["code"], s["price"], s["currency"], s["stock"]) for s in product["skus"]] == [
        ("SCARF-RED-S", 12990, "CNY", 5),
        ("SCARF-BLUE-L", 15990, "CNY", 3),
    ]
    assert product["skus"][0]["attributes"] == {"colour": "red", "size": "S"}
    operator = await auth(client, container, await make_user(container, Role.operator))
    r = await client.post(f"{API}/products", json=body, headers=operator)
    assert r.status_code == 201, r.text
    fetched = (await client.get(f"{API}/products/{product['id']}")).json()
    assert fetched == product


async def test_product_validation(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    brand = await make_brand(client, container)
    merchant = await merchant_headers(client, container, brand)

    async def post(body: dict[str, Any]) -> httpx.Response:
        return await client.post(f"{API}/products", json=body, headers=merchant)

    def with_sku(**changes: Any) -> dict[str, Any]:
        body = product_body(brand)
        body["skus"][0].update(changes)
        return body

    for server_owned in ({"id": 5}, {"status": "delisted"}, {"created_at": "2026-01-01"}):
        r = await post({**product_body(brand), **server_owned})
        assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_field", r.text
    r = await post(with_sku(id=9))
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_field"
    invalid = [
        with_sku(price=12.5),
        with_sku(price=12.0),
        with_sku(price="1299"),
        with_sku(price=-1),
        with_sku(currency="XXX"),
        with_sku(currency="cny"),
        with_sku(stock=-1),
        with_sku(stock=1.5),
        with_sku(code="SCARF-BLUE-L"),  # duplicate code inside the product
        with_sku(currency="USD"),  # mixed currencies
        product_body(brand, skus=[]),
        product_body(brand, title=""),
        product_body(brand, title="x" * 201),
        product_body(brand, category="c" * 81),
        product_body(brand, attributes=["material", "silk"]),
        product_body(brand, attributes={f"k{i}": i for i in range(51)}),
        product_body(brand, attributes={"story": "x" * 21_000}),
    ]
    for body in invalid:
        r = await post(body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] == "invalid_input"
    assert (await client.get(f"{API}/products")).json() == []
    r = await post(product_body(brand, title="x" * 200))
    assert r.status_code == 201


async def test_price_history_on_create_and_change(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    brand = await make_brand(client, container)
    merchant = await merchant_headers(client, container, brand)
    product = (
        await client.post(f"{API}/products", json=product_body(brand), headers=merchant)
    ).json()
    sku = product["skus"][0]
    history = (await client.get(f"{API}/skus/{sku['id']}/price-history")).json()
    assert history == [
        {
            "old_price": None,
            "new_price": 12990,
            "currency": "CNY",
            "changed_at": history[0]["changed_at"],
        }
    ]
    clock.advance(hours=1)
    r = await client.patch(f"{API}/skus/{sku['id']}", json={"price": 9990}, headers=merchant)
    assert r.status_code == 200 and r.json()["price"] == 9990 and r.json()["stock"] == 5
    r = await client.patch(f"{API}/skus/{sku['id']}", json={"stock": 40}, headers=merchant)
    assert r.status_code == 200 and r.json()["stock"] == 40 and r.json()["price"] == 9990
    clock.advance(hours=1)
    r = await client.patch(f"{API}/skus/{sku['id']}", json={"price": 11990}, headers=merchant)
    assert r.status_code == 200
    history = (await client.get(f"{API}/skus/{sku['id']}/price-history")).json()
    assert [(h["old_price"], h["new_price"]) for h in history] == [
        (None, 12990),
        (12990, 9990),
        (9990, 11990),
    ]
    assert history[0]["changed_at"] < history[1]["changed_at"] < history[2]["changed_at"]
    # The other SKU kept its single creation row.
    other = (await client.get(f"{API}/skus/{product['skus'][1]['id']}/price-history")).json()
    assert [(h["old_price"], h["new_price"]) for h in other] == [(None, 15990)]

    r = await client.post(
        f"{API}/products/{product['id']}/skus",
        json={
            "code": "SCARF-GREEN-S",
            "price": 13990,
            "currency": "CNY",
            "stock": 2,
            "attributes": {"colour": "green"},
        },
        headers=merchant,
    )
    assert r.status_code == 201, r.text
    added = r.json()
    history = (await client.get(f"{API}/skus/{added['id']}/price-history")).json()
    assert [(h["old_price"], h["new_price"]) for h in history] == [(None, 13990)]
    r = await client.post(
        f"{API}/products/{product['id']}/skus",
        json={"code": "SCARF-GREEN-S", "price": 1, "currency": "CNY", "stock": 2},
        headers=merchant,
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "sku_code_taken"
    r = await client.post(
        f"{API}/products/{product['id']}/skus",
        json={"code": "SCARF-USD", "price": 1, "currency": "USD", "stock": 2},
        headers=merchant,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "currency_mismatch"
    r = await client.patch(f"{API}/skus/{sku['id']}", json={"price": 12.5}, headers=merchant)
    assert r.status_code == 422
    assert (await client.get(f"{API}/skus/999999/price-history")).status_code == 404


async def test_sku_and_product_edits_need_the_brand(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    brand = await make_brand(client, container)
    other_brand = await make_brand(client, container, "Borealis")
    merchant = await merchant_headers(client, container, brand)
    other = await merchant_headers(client, container, other_brand)
    consumer = await auth(client, container, await make_user(container))
    product = (
        await client.post(f"{API}/products", json=product_body(brand), headers=merchant)
    ).json()
    sku_id = product["skus"][0]["id"]
    for headers, status in ((None, 401), (consumer, 403), (other, 403)):
        r = await client.patch(f"{API}/skus/{sku_id}", json={"price": 1}, headers=headers)
        assert r.status_code == status, r.text
        r = await client.patch(
            f"{API}/products/{product['id']}", json={"title": "Hacked"}, headers=headers
        )
        assert r.status_code == status
        r = await client.post(
            f"{API}/products/{product['id']}/skus",
            json={"code": "X1", "price": 1, "currency": "CNY", "stock": 1},
            headers=headers,
        )
        assert r.status_code == status
    history = (await client.get(f"{API}/skus/{sku_id}/price-history")).json()
    assert len(history) == 1
    fetched = (await client.get(f"{API}/products/{product['id']}")).json()
    assert fetched["title"] == "Silk scarf" and fetched["skus"][0]["price"] == 12990
    r = await client.patch(
        f"{API}/products/{product['id']}",
        json={"title": "Silk scarf, hand-rolled", "attributes": {"material": "silk"}},
        headers=merchant,
    )
    assert r.status_code == 200 and r.json()["title"] == "Silk scarf, hand-rolled"
    assert r.json()["attributes"] == {"material": "silk"}
    r = await client.patch(
        f"{API}/products/{product['id']}", json={"brand_id": other_brand}, headers=merchant
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_field"
    r = await client.patch(f"{API}/skus/{sku_id}", json={"currency": "USD"}, headers=merchant)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_field"


async def test_delisted_products_hidden_from_the_public(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    brand = await make_brand(client, container)
    other_brand = await make_brand(client, container, "Borealis")
    merchant = await merchant_headers(client, container, brand)
    other = await merchant_headers(client, container, other_brand)
    operator = await auth(client, container, await make_user(container, Role.operator))
    consumer = await auth(client, container, await make_user(container))
    scarf = (
        await client.post(f"{API}/products", json=product_body(brand), headers=merchant)
    ).json()
    bag = (
        await client.post(
            f"{API}/products",
            json=product_body(brand, title="Leather Bag_100%", category="bags"),
            headers=merchant,
        )
    ).json()
    r = await client.patch(
        f"{API}/products/{scarf['id']}", json={"status": "delisted"}, headers=operator
    )
    assert r.status_code == 200 and r.json()["status"] == "delisted"
    r = await client.patch(
        f"{API}/products/{scarf['id']}", json={"status": "gone"}, headers=merchant
    )
    assert r.status_code == 422

    def ids(response: httpx.Response) -> list[int]:
        assert response.status_code == 200, response.text
        return [card["id"] for card in response.json()]

    for headers in (None, consumer, other):
        assert ids(await client.get(f"{API}/products", headers=headers)) == [bag["id"]]
        r = await client.get(f"{API}/products/{scarf['id']}", headers=headers)
        assert r.status_code == 404 and r.json()["error"]["code"] == "product_not_found"
    for headers in (merchant, operator):
        assert ids(await client.get(f"{API}/products", headers=headers)) == [bag["id"], scarf["id"]]
        assert (
            await client.get(f"{API}/products/{scarf['id']}", headers=headers)
        ).status_code == 200

    card = (await client.get(f"{API}/products")).json()[0]
    assert card["brand"] == {"id": brand, "name": "Aurora"}
    assert card["price_min"] == 12990 and card["currency"] == "CNY" and card["image_url"] is None
    assert card["status"] == "active" and len(card["skus"]) == 2
    assert ids(await client.get(f"{API}/products", params={"q": "BAG_100%"})) == [bag["id"]]
    for wildcard in ("bag%100", "r_bag"):  # LIKE wildcards in q are taken literally
        assert ids(await client.get(f"{API}/products", params={"q": wildcard})) == []
    assert ids(await client.get(f"{API}/products", params={"category": "bags"})) == [bag["id"]]
    assert ids(await client.get(f"{API}/products", params={"brand_id": other_brand})) == []
    assert ids(
        await client.get(f"{API}/products", params={"brand_id": brand}, headers=merchant)
    ) == [bag["id"], scarf["id"]]
    assert ids(
        await client.get(f"{API}/products", params={"limit": 1, "offset": 1}, headers=merchant)
    ) == [scarf["id"]]

    r = await client.patch(
        f"{API}/products/{scarf['id']}", json={"status": "active"}, headers=merchant
    )
    assert r.status_code == 200
    assert ids(await client.get(f"{API}/products")) == [bag["id"], scarf["id"]]
