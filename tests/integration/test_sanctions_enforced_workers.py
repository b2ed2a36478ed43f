"""A flash-sale freeze issued on one worker stops purchases on every worker at once.

A real `livecart serve --workers 2` with the Redis stock store and PostgreSQL: both workers
have the sale cached as open (a burst of purchases over fresh connections), an operator freezes
it through the server, and every purchase after that, on either worker, is refused with
`flash_sale_frozen` although the workers' cached views of the sale are younger than the
freeze: the group-commit writer reads the sanctions in its transaction. Nothing is sold while
frozen, the stock store keeps no drift, and after the lift both workers sell again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path

import httpx

from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.core.security import create_access_token
from livecart.flashsale.models import FlashSale
from livecart.settings import Settings
from tests.flash_servers import delete_prefix, served
from tests.integration.test_flash_concurrency import (  # noqa: F401 (fixtures)
    bulk_buyers,
    buy_over_http,
    database_url,
    http_session,
    settings,
)
from tests.integration.test_flash_sales import flash_world
from tests.integration.test_orders_flow import API
from tests.support import make_user


async def _sold(container: Container, sale_id: int) -> int:
    async with container.uow() as uow:
        sale = await uow.session.get(FlashSale, sale_id)
        assert sale is not None
        return sale.sold


async def test_a_freeze_on_one_worker_stops_purchases_on_both(
    postgres_backend: str,
    redis_url: str,
    client: httpx.AsyncClient,
    container: Container,
    settings: Settings,  # noqa: F811
    tmp_path: Path,
) -> None:
    world = await flash_world(client, container, quantity=60, stock=65)
    before, frozen, after = (
        await bulk_buyers(container, 12),
        await bulk_buyers(container, 24),
        await bulk_buyers(container, 8),
    )
    operator_id = await make_user(container, Role.operator)
    operator = {
        "Authorization": "Bearer "
        + create_access_token(
            secret=container.secret, user_id=operator_id, now=container.clock.now(), minutes=60
        )
    }
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    try:
        async with (
            served(
                database_url=str(settings.database_url),
                data_dir=tmp_path / "server",
                workers=2,
                redis_url=redis_url,
                redis_prefix=prefix,
            ) as server,
            http_session(fresh=True) as http,
        ):
            # New connections spread over both workers: each caches the sale as open.
            replies = await asyncio.gather(
                *(buy_over_http(http, server.url, world.sale_id, b) for b in before)
            )
            assert Counter(r.status for r in replies) == Counter({201: len(before)})

            async with http.post(
                f"{server.url}{API}/supervision/sanctions",
                json={
                    "kind": "freeze_flash_sale",
                    "subject_id": world.sale_id,
                    "reason": "complaints about the gift",
                },
                headers=operator,
            ) as r:
                assert r.status == 201, await r.text()
                freeze = await r.json()
            replies = await asyncio.gather(
                *(buy_over_http(http, server.url, world.sale_id, b) for b in frozen)
            )
            assert Counter((r.status, r.code) for r in replies) == Counter(
                {(403, "flash_sale_frozen"): len(frozen)}
            )
            assert await _sold(container, world.sale_id) == len(before)
            async with http.get(f"{server.url}{API}/flash-sales/{world.sale_id}") as r:
                sale = await r.json()
            assert sale["blocked"]["code"] == "flash_sale_frozen"
            assert sale["remaining"] == 60 - len(before)
            async with http.get(
                f"{server.url}{API}/flash-sales/{world.sale_id}/stock", headers=operator
            ) as r:
                books = await r.json()
            assert (books["store_remaining"], books["in_flight"], books["drift"]) == (
                60 - len(before),
                0,
                0,
            ), books

            async with http.post(
                f"{server.url}{API}/supervision/sanctions/{freeze['id']}/lift",
                json={"reason": "gift shipped"},
                headers=operator,
            ) as r:
                assert r.status == 200, await r.text()
            replies = await asyncio.gather(
                *(buy_over_http(http, server.url, world.sale_id, b) for b in after)
            )
            assert Counter(r.status for r in replies) == Counter({201: len(after)}), [
                r.code for r in replies
            ]
    finally:
        await delete_prefix(redis_url, prefix)
    assert await _sold(container, world.sale_id) == len(before) + len(after)
