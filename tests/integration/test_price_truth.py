"""Price truth: an "original price" (a discount claim) is measured from the 7-day lowest."""

from __future__ import annotations

import httpx
import pytest

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.catalog import service as catalog
from livecart.catalog.errors import OriginalPriceNotSupported
from livecart.catalog.schemas import SkuOut
from livecart.core.clock import FrozenClock
from tests.integration.test_orders_flow import API, make_shop
from tests.support import make_user


async def _claim(
    client: httpx.AsyncClient, sku: int, headers: dict[str, str], **body: int | None
) -> httpx.Response:
    return await client.patch(f"{API}/skus/{sku}", json=body, headers=headers)


async def test_original_price_may_not_exceed_the_lowest_price_of_the_previous_7_days(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    shop = await make_shop(client, container, 10, price=10000)
    sku, merchant = shop.sku_ids[0], shop.merchant
    merchant_id = await make_user(container, Role.merchant, brand_id=shop.brand_id)

    # "Was 120, now 100": it never sold at 120.
    r = await _claim(client, sku, merchant, original_price=12000)
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "original_price_not_supported"
    assert error["details"]["lowest_price_7d"] == 10000
    # A claim must be a discount: not at or under the price.
    r = await _claim(client, sku, merchant, original_price=10000)
    assert r.json()["error"]["code"] == "original_price_not_supported"
    # "Was 100, now 80" in one change: it sold at 100 all week.
    r = await _claim(client, sku, merchant, price=8000, original_price=10000)
    assert r.status_code == 200, r.text
    assert (r.json()["price"], r.json()["original_price"]) == (8000, 10000)

    # Days pass: from here the service is called directly (bearer tokens follow the real
    # clock, the price rules the clock of the app, which the test moves).
    async def patch(**changes: int | None) -> SkuOut:
        async with container.uow() as uow:
            actor = await accounts.load_identity(uow.session, merchant_id)
            out = await catalog.update_sku(
                uow.session, clock=container.clock, actor=actor, sku_id=sku, **changes
            )
            await uow.commit()
            return out

    # A day later the price goes back up to 95; a new "was 100" claim is measured from the
    # 80 charged inside the last 7 days, and is refused.
    clock.advance(days=1)
    out = await patch(price=9500, original_price=None)
    assert (out.price, out.original_price) == (9500, None)
    with pytest.raises(OriginalPriceNotSupported) as refused:
        await patch(original_price=10000)
    assert refused.value.details["lowest_price_7d"] == 8000
    assert refused.value.details["lowest_price_30d"] == 8000

    # Eight days on, 95 is the lowest of the week: "was 95, now 70" holds.
    clock.advance(days=8)
    assert (await patch(price=7000, original_price=9500)).original_price == 9500
    product = (await client.get(f"{API}/products/{shop.product_id}")).json()
    assert [(s["price"], s["original_price"]) for s in product["skus"]] == [(7000, 9500)]
