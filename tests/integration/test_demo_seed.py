"""The demo world seeds through the services, is usable through the API, and seeds only once."""

from __future__ import annotations

import httpx
import pytest

from livecart.accounts import service as accounts
from livecart.bootstrap import Container
from livecart.catalog import service as catalog
from livecart.core.clock import FrozenClock
from livecart.demo import world
from livecart.demo.seed import SMALL, SYSTEM, accounts_table, is_seeded, seed


async def _login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    r = await client.post(
        "/api/v1/auth/token", data={"username": email, "password": world.DEMO_PASSWORD}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_world_is_big_and_varied_enough() -> None:
    products = [p for b in world.BRANDS for p in b.products]
    assert len(world.BRANDS) >= 3
    assert len(products) >= 40
    assert len(world.ANCHORS) >= 5
    assert all(p.skus and p.attributes for p in products)
    codes = [s.code for p in products for s in p.skus]
    assert len(codes) == len(set(codes))
    assert world.product_png("#112233", "#445566").startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.usefixtures("any_backend")
async def test_seed_small_world_through_services(
    container: Container, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    assert not await is_seeded(container)
    report = await seed(container, SMALL, clock=clock)
    assert report.seeded
    assert report.counts["brands"] == 3
    assert report.counts["products"] == 12
    assert report.counts["consumers"] == 30

    async with container.uow() as uow:
        brands = await catalog.list_brands(uow.session)
        products = await catalog.list_products(uow.session, actor=None, limit=100)
        users = await accounts.list_users(uow.session, actor=SYSTEM, limit=500)
        first = await catalog.get_product(
            uow.session, lexicon=container.lexicon, actor=None, product_id=products[0].id
        )
    assert len(brands) == 3
    assert len(products) == 12
    assert all(p.skus and p.image_url for p in products)
    assert first.created_at < clock.now()  # the catalogue has a past
    assert first.attributes
    emails = {u.email for u in users}
    assert {a.email for a in accounts_table(SMALL)} <= emails
    assert len(users) == 1 + 3 + 2 + 30  # operator, merchants, anchors, consumers

    # The documented demo password works for every role, and merchants manage their brand.
    for account in accounts_table(SMALL):
        me = await client.get("/api/v1/me", headers=await _login(client, account.email))
        assert me.status_code == 200
        assert account.role in me.json()["roles"]
    image = await client.get(products[0].image_url or "")
    assert image.status_code == 200
    assert image.headers["content-type"].startswith("image/png")


async def test_seeding_twice_is_skipped(container: Container, clock: FrozenClock) -> None:
    first = await seed(container, SMALL, clock=clock)
    second = await seed(container, SMALL, clock=clock)
    assert first.seeded and not second.seeded
    async with container.uow() as uow:
        assert len(await catalog.list_brands(uow.session)) == 3
