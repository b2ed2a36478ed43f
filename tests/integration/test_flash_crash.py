"""Flash sales survive crashes: a worker killed mid-burst, Redis emptied mid-sale.

Both run a real `livecart serve --workers 2` (Redis stock store, PostgreSQL) and 1,000 buyers
(distinct, per-user limit 1) against 100 units over real HTTP, arriving over two seconds. A
buyer whose connection dies (or who is told the purchase is still being placed, or to try
again) retries with the SAME Idempotency-Key a few times, as a real client would.

After each: orders <= 100; the database's books add up (sold + remaining = quantity, sold ==
live orders == units held == active reservations, the SKU kept its own units); every 201 a
client received is that buyer's order in the database under the key it sent; no key has two
orders and no buyer is over the limit. Then reconciliation (GET /flash-sales/{id}/stock as an
operator) must bring the store back in line with the database (drift 0), and fresh buyers
must be able to buy whatever units are left: nothing is lost, nothing oversold.

A third test pins down what a buyer whose purchase died with its worker is told afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.core.security import create_access_token
from livecart.flashsale import service as flash
from livecart.flashsale.stock import RedisStockStore
from livecart.settings import Settings
from tests.flash_servers import SECRET, Phases, Server, delete_prefix, served
from tests.integration.test_flash_concurrency import (
    BUYERS,
    QUANTITY,
    SPARE,
    Buyer,
    Reply,
    audit,
    bulk_buyers,
    buy_over_http,
    http_session,
)
from tests.integration.test_flash_concurrency import (
    database_url as database_url,
)
from tests.integration.test_flash_sales import World, flash_world
from tests.integration.test_orders_flow import API
from tests.support import make_user

SPREAD_SECONDS = 2.0  # the 1,000 buyers arrive over this long
CRASH_AFTER = 30  # orders accepted before the crash
RETRIES = 3
RETRY_CODES = frozenset({"purchase_in_progress", "try_again", "pending_order_exists"})
FOLLOW_UP = 150  # fresh buyers after recovery, to sell whatever is left
SETTLE_SECONDS = 45.0  # how long reconciliation may take to bring the store in line
# Reconciliation runs when the test asks (GET /stock), so its readings show the store as the
# crash left it; the start-up check still runs (a restarted worker reconciles).
QUIET_RECONCILE = {"LIVECART_FLASH_RECONCILE_SECONDS": "3600"}


@pytest.fixture
async def redis_store_prefix(redis_url: str) -> Any:
    prefix = f"tapp{uuid.uuid4().hex[:8]}:"
    yield prefix
    await delete_prefix(redis_url, prefix)


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """A roomy per-IP limit (every buyer is 127.0.0.1); the in-process app uses the Redis
    store only in the test that asks for it (the others only make their world with it)."""
    update: dict[str, Any] = {"flash_ip_burst": 1_000_000, "flash_ip_per_seconds": 1e6}
    if "redis_store_prefix" in request.fixturenames:
        update |= {
            "flash_stock_store": "redis",
            "redis_url": request.getfixturevalue("redis_url"),
            "redis_prefix": request.getfixturevalue("redis_store_prefix"),
        }
    return settings.model_copy(update=update)


def _operator_headers(container: Container, user_id: int) -> dict[str, str]:
    token = create_access_token(
        secret=SECRET, user_id=user_id, now=container.clock.now(), minutes=60
    )
    return {"Authorization": f"Bearer {token}"}


async def _crash_world(
    client: httpx.AsyncClient, container: Container
) -> tuple[World, list[Buyer], list[Buyer], dict[str, str]]:
    """A live sale of QUANTITY, the burst's buyers, the follow-up buyers and an operator."""
    world = await flash_world(client, container, quantity=QUANTITY, stock=QUANTITY + SPARE)
    everyone = await bulk_buyers(container, BUYERS + FOLLOW_UP)
    operator = _operator_headers(container, await make_user(container, Role.operator))
    return world, everyone[:BUYERS], everyone[BUYERS:], operator


def _two_workers(
    settings: Settings, tmp_path: Path, redis_url: str, prefix: str
) -> AbstractAsyncContextManager[Server]:
    """`livecart serve --workers 2` with the Redis store, reconciling only when asked."""
    return served(
        database_url=str(settings.database_url),
        data_dir=tmp_path / "server",
        workers=2,
        redis_url=redis_url,
        redis_prefix=prefix,
        extra=QUIET_RECONCILE,
    )


async def _staged_burst(
    http: aiohttp.ClientSession,
    server: Server,
    sale_id: int,
    buyers: list[Buyer],
    crash: Callable[[], Awaitable[None]],
) -> tuple[list[Reply], float]:
    """The buyers arrive over SPREAD_SECONDS; `crash` runs once CRASH_AFTER orders were
    accepted (or after a second, whichever comes first). Returns the replies and when (since
    the burst began) the crash happened."""
    accepted = 0
    enough = asyncio.Event()

    def count(status: int) -> None:
        nonlocal accepted
        if status == 201:
            accepted += 1
            if accepted >= CRASH_AFTER:
                enough.set()

    async def one(i: int, buyer: Buyer) -> Reply:
        await asyncio.sleep(SPREAD_SECONDS * i / len(buyers))
        return await buy_over_http(
            http,
            server.url,
            sale_id,
            buyer,
            retries=RETRIES,
            retry_codes=RETRY_CODES,
            backoff=0.3,
            on_answer=count,
            retry_session=retry_http,
        )

    began = time.monotonic()
    retry_http = http_session(fresh=True)  # a retry opens a new connection, as browsers do

    async def crash_mid_burst() -> float:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(enough.wait(), timeout=1.0)
        at = time.monotonic() - began
        await crash()
        return at

    async with retry_http:
        crash_task = asyncio.create_task(crash_mid_burst())
        replies = await asyncio.gather(*(one(i, b) for i, b in enumerate(buyers)))
        return list(replies), await crash_task


async def _books_until_in_line(
    http: aiohttp.ClientSession, server: Server, sale_id: int, operator: dict[str, str]
) -> list[dict[str, Any]]:
    """GET /stock (which reconciles) until the store is in line with the database: no drift,
    nothing in flight, the same remaining. Returns every reading."""
    readings: list[dict[str, Any]] = []
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        async with http.get(
            f"{server.url}{API}/flash-sales/{sale_id}/stock", headers=operator
        ) as r:
            assert r.status == 200, await r.text()
            books = await r.json()
        readings.append(books)
        if (
            books["drift"] == 0
            and books["in_flight"] == 0
            and books["store_remaining"] == books["database_remaining"]
        ):
            return readings
        assert time.monotonic() < deadline, f"the store never came back in line: {readings}"
        await asyncio.sleep(1.0)


async def _follow_up(
    http: aiohttp.ClientSession, server: Server, sale_id: int, buyers: list[Buyer]
) -> list[Reply]:
    """Fresh buyers after recovery: they must get exactly the units the database has left."""
    return list(
        await asyncio.gather(
            *(
                buy_over_http(
                    http, server.url, sale_id, b, retries=RETRIES, retry_codes=RETRY_CODES
                )
                for b in buyers
            )
        )
    )


def _summary(replies: list[Reply]) -> Counter[str]:
    return Counter(f"{r.status} {r.code}".strip() for r in replies)


def _log_lines(server: Server, pattern: str) -> list[str]:
    return [line for line in server.log().splitlines() if re.search(pattern, line)]


async def _wait_restarted(server: Server, killed: int, timeout: float = 40.0) -> list[int]:
    """Until uvicorn's supervisor has replaced the killed worker and the new one started."""
    deadline = time.monotonic() + timeout
    while True:
        pids = server.worker_pids()
        if killed not in pids and len(pids) == server.workers and server.started() > 2:
            return pids
        assert time.monotonic() < deadline, f"the killed worker was not restarted:\n{server.log()}"
        await asyncio.sleep(0.2)


# ---------------------------------------------------------------- kill -9 a worker


async def test_a_worker_killed_mid_burst_loses_nothing_and_oversells_nothing(
    postgres_backend: str,
    redis_url: str,
    client: httpx.AsyncClient,
    container: Container,
    settings: Settings,
    tmp_path: Path,
) -> None:
    phases = Phases()
    world, buyers, late, operator = await _crash_world(client, container)
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    killed: list[int] = []
    try:
        async with _two_workers(settings, tmp_path, redis_url, prefix) as server:
            phases("world and server start")
            first_workers = server.worker_pids()

            async def kill_a_worker() -> None:
                victim = first_workers[0]
                os.kill(victim, signal.SIGKILL)  # a worker of the server this test started
                killed.append(victim)

            async with http_session() as http:
                replies, crash_at = await _staged_burst(
                    http, server, world.sale_id, buyers, kill_a_worker
                )
                phases("burst")
                restarted = await _wait_restarted(server, killed[0])
                burst = await audit(container, world.sale_id, world.sku_id, replies)
                readings = await _books_until_in_line(http, server, world.sale_id, operator)
                phases("restart and reconciliation")
                left = QUANTITY - burst.sold
                more = await _follow_up(http, server, world.sale_id, late)
                final_books = await _books_until_in_line(http, server, world.sale_id, operator)
                phases("follow-up")
            drift_logs = _log_lines(server, r"drift|dead worker")
    finally:
        await delete_prefix(redis_url, prefix)

    final = await audit(container, world.sale_id, world.sku_id, replies + more)
    lost = [r for r in replies if r.status == 0]
    replayed = [r for r in replies if r.status == 201 and r.attempts > 1]
    print(
        f"\nkill -9 at {crash_at:.2f} s into the burst (worker {killed[0]}, restarted as "
        f"{sorted(set(restarted) - set(first_workers))}); burst: {dict(_summary(replies))}; "
        f"sold {burst.sold}; retried {sum(r.attempts > 1 for r in replies)}, "
        f"201 after a retry {len(replayed)}, no answer {len(lost)}; "
        f"drift readings {[(b['drift'], b['store_remaining'], b['in_flight'], b['database_remaining']) for b in readings]}; "
        f"follow-up: {dict(_summary(more))}; server log: {drift_logs}; {phases}"
    )
    assert burst.sold <= QUANTITY
    assert [r for r in replies if r.status >= 500 and r.code != "try_again"] == []
    # Nothing was lost: the units the burst did not sell went to the fresh buyers, exactly.
    assert sum(r.status == 201 for r in more) == left
    assert (final.sold, final.orders, final.holdings) == (QUANTITY, QUANTITY, QUANTITY)
    assert final.status == "sold_out"
    assert final_books[-1]["database_remaining"] == 0


# ---------------------------------------------------------------- Redis emptied mid-sale


async def test_redis_emptied_mid_sale_is_rebuilt_and_the_sale_goes_on(
    postgres_backend: str,
    redis_url: str,
    client: httpx.AsyncClient,
    container: Container,
    settings: Settings,
    tmp_path: Path,
) -> None:
    phases = Phases()
    world, buyers, late, operator = await _crash_world(client, container)
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    flushed: list[int] = []
    try:
        async with _two_workers(settings, tmp_path, redis_url, prefix) as server:
            phases("world and server start")

            async def empty_redis() -> None:
                # Redis "restarted empty": every key of this server's prefix, nothing else.
                flushed.append(await delete_prefix(redis_url, prefix))

            async with http_session() as http:
                replies, crash_at = await _staged_burst(
                    http, server, world.sale_id, buyers, empty_redis
                )
                phases("burst")
                burst = await audit(container, world.sale_id, world.sku_id, replies)
                readings = await _books_until_in_line(http, server, world.sale_id, operator)
                phases("reconciliation")
                left = QUANTITY - burst.sold
                more = await _follow_up(http, server, world.sale_id, late)
                final_books = await _books_until_in_line(http, server, world.sale_id, operator)
                phases("follow-up")
            logs = _log_lines(server, r"drift|dead worker|loaded into")
    finally:
        await delete_prefix(redis_url, prefix)

    final = await audit(container, world.sale_id, world.sku_id, replies + more)
    print(
        f"\nRedis emptied at {crash_at:.2f} s into the burst ({flushed[0]} keys); burst: "
        f"{dict(_summary(replies))}; sold {burst.sold}; "
        f"drift readings {[(b['drift'], b['store_remaining'], b['in_flight'], b['database_remaining']) for b in readings]}; "
        f"follow-up: {dict(_summary(more))}; server log: {logs}; {phases}"
    )
    assert flushed[0] > 0
    assert burst.sold <= QUANTITY
    assert [r for r in replies if r.status == 0 or r.status >= 500] == []
    assert sum(r.status == 201 for r in more) == left
    assert (final.sold, final.orders, final.holdings) == (QUANTITY, QUANTITY, QUANTITY)
    assert final.status == "sold_out"
    assert final_books[-1]["database_remaining"] == 0
    # The rebuilt store agreed with the database once the burst was over: purchases taken
    # before the flush and settled after the rebuild were counted once, not twice.
    assert readings[0]["drift"] == 0, readings


# ---------------------------------------------------------------- the buyer of a dead worker


async def test_a_buyer_whose_purchase_died_with_its_worker_may_buy_again(
    postgres_backend: str,
    redis_url: str,
    redis_store_prefix: str,
    client: httpx.AsyncClient,
    container: Container,
) -> None:
    """A worker took a unit for a buyer and was killed before writing the order. Past the
    stale-mark window the buyer's retry is given up (409 purchase_in_progress, the mark
    cleared), and the next retry must be free to buy: the buyer holds nothing in the database
    and the dead worker's unit went back to the stock."""
    world = await flash_world(client, container, quantity=5)
    (buyer,) = await bulk_buyers(container, 1)
    runtime = container.flash
    assert runtime.store_kind == "redis"
    assert await flash.ensure_loaded(runtime, world.sale_id)
    dead = RedisStockStore(redis_url, redis_store_prefix)  # never sends a heartbeat
    took = await dead.take(
        world.sale_id,
        user_id=buyer.user_id,
        key=buyer.key,
        quantity=1,
        limit=1,
        now=time.time() - 2 * flash.STALE_MARK_SECONDS,  # killed a while ago
    )
    assert took.remaining == 4
    await dead.close()
    books = await flash.reconcile_sale(runtime, world.sale_id)  # gives the dead unit back
    assert books is not None and (books.store_remaining, books.in_flight) == (5, 0)

    async def again() -> httpx.Response:
        return await client.post(
            f"{API}/flash-sales/{world.sale_id}/orders",
            json={"quantity": 1},
            headers={**buyer.headers, "Idempotency-Key": buyer.key},
        )

    r = await again()
    assert r.status_code == 409 and r.json()["error"]["code"] == "purchase_in_progress", r.text
    r = await again()
    assert r.status_code == 201, r.text
