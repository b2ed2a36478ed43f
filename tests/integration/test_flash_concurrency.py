"""1,000 concurrent buyers (distinct, per-user limit 1) against a flash sale of 100 units.

Three set-ups, three runs each: the in-process stock store on SQLite and on PostgreSQL (through
the app in process), and the Redis stock store with PostgreSQL behind a real
`livecart serve --workers 2` over real HTTP. After each: exactly 100 orders (201) and 900
`sold_out` (409), nothing oversold (the sale's `sold`, its orders, holdings and reservations
all say 100, the SKU's stock only lost the units set aside), no duplicates (no buyer with two
orders, no idempotency key with two reservations), every 201 is an order in the database.

The helpers (bulk buyers, the aiohttp burst, the database audit) are shared by the crash tests.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from sqlalchemy import func, insert, select

from livecart.accounts.models import User
from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.commerce.models import Order
from livecart.core.security import create_access_token, hash_password
from livecart.flashsale import service as flash
from livecart.flashsale.models import FlashHolding, FlashReservation, FlashSale
from livecart.settings import Settings, normalise_database_url
from tests import conftest
from tests.conftest import need
from tests.flash_servers import Phases, delete_prefix, migrated_postgres, served
from tests.integration.test_flash_sales import flash_world
from tests.integration.test_orders_flow import API, stock_of
from tests.support import make_user

BUYERS = 1000
QUANTITY = 100
RUNS = [1, 2, 3]
SPARE = 5  # the SKU's units beyond the sale: they must stay on the SKU


# ---------------------------------------------------------------- shared with the crash tests


@pytest.fixture
async def database_url(db_backend: str, tmp_path: Path) -> str:
    """SQLite as conftest makes it; PostgreSQL migrated by `livecart db upgrade`, then emptied.

    The served variants need a migrated database (the server checks nothing, but an operator
    migrates before `serve`); the in-process ones use the same, so one schema serves both.
    """
    if db_backend == "postgresql":
        need(conftest.PG_URL, "LIVECART_TEST_DATABASE_URL is not set")
        return await migrated_postgres(str(conftest.PG_URL))
    url = normalise_database_url(f"sqlite:///{tmp_path / 'test.db'}")
    await conftest._prepare_sqlite(url)
    return url


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Every buyer of these tests comes from 127.0.0.1: the per-IP limit must not bite."""
    return settings.model_copy(update={"flash_ip_burst": 1_000_000, "flash_ip_per_seconds": 1e6})


@dataclass
class Buyer:
    user_id: int
    headers: dict[str, str]
    key: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class Reply:
    """What one buyer finally got (after retries, where the test retries)."""

    buyer: Buyer
    status: int  # 0: no HTTP answer (connection lost on every attempt)
    code: str = ""  # the error code of a 4xx/5xx
    order_id: int | None = None
    attempts: int = 1
    history: list[str] = field(default_factory=list)  # every attempt's outcome


async def bulk_buyers(container: Container, count: int) -> list[Buyer]:
    """`count` consumers inserted in one statement, each with a bearer token."""
    password_hash = hash_password("correct horse battery")
    now = container.clock.now()
    tag = uuid.uuid4().hex[:8]
    rows = [
        {
            "email": f"flash-{tag}-{i}@example.com",
            "display_name": f"Flash buyer {i}",
            "password_hash": password_hash,
            "is_active": True,
            "created_at": now,
        }
        for i in range(count)
    ]
    async with container.uow() as uow:
        result = await uow.session.execute(
            insert(User).returning(User.id, sort_by_parameter_order=True), rows
        )
        ids = list(result.scalars())
        await uow.commit()
    return [
        Buyer(
            uid,
            {
                "Authorization": "Bearer "
                + create_access_token(secret=container.secret, user_id=uid, now=now, minutes=60)
            },
        )
        for uid in ids
    ]


def _reply(buyer: Buyer, status: int, body: Any, attempts: int, history: list[str]) -> Reply:
    if status == 201:
        return Reply(buyer, status, "", int(body["id"]), attempts, history)
    code = body.get("error", {}).get("code", "") if isinstance(body, dict) else ""
    return Reply(buyer, status, str(code), None, attempts, history)


async def buy_in_process(client: httpx.AsyncClient, sale_id: int, buyer: Buyer) -> Reply:
    r = await client.post(
        f"{API}/flash-sales/{sale_id}/orders",
        json={"quantity": 1},
        headers={**buyer.headers, "Idempotency-Key": buyer.key},
    )
    return _reply(buyer, r.status_code, r.json(), 1, [str(r.status_code)])


async def buy_over_http(
    session: aiohttp.ClientSession,
    url: str,
    sale_id: int,
    buyer: Buyer,
    *,
    retries: int = 0,
    retry_codes: frozenset[str] = frozenset(),
    backoff: float = 0.25,
    on_answer: Callable[[int], None] | None = None,
    retry_session: aiohttp.ClientSession | None = None,
) -> Reply:
    """One purchase over real HTTP. A lost connection (worker killed) or an answer in
    `retry_codes` is retried with the SAME Idempotency-Key, up to `retries` times, with backoff
    (on a new connection when `retry_session` is given): what a real client does."""
    history: list[str] = []
    status, body = 0, None
    for attempt in range(1, retries + 2):
        use = retry_session if attempt > 1 and retry_session is not None else session
        try:
            async with use.post(
                f"{url}{API}/flash-sales/{sale_id}/orders",
                json={"quantity": 1},
                headers={**buyer.headers, "Idempotency-Key": buyer.key},
            ) as r:
                status = r.status
                try:
                    body = await r.json(content_type=None)
                except ValueError:  # not JSON: a bare 500 from the server stack
                    body = {"error": {"code": f"not json: {(await r.text())[:60]}"}}
            if on_answer is not None:
                on_answer(status)
        except (TimeoutError, aiohttp.ClientError) as exc:
            status, body = 0, None
            history.append(type(exc).__name__)
        else:
            reply = _reply(buyer, status, body, attempt, history)
            history.append(f"{status} {reply.code}".strip())
            if status != 201 and reply.code in retry_codes and attempt <= retries:
                await asyncio.sleep(backoff * 2 ** (attempt - 1))
                continue
            return reply
        if attempt <= retries:
            await asyncio.sleep(backoff * 2 ** (attempt - 1))
    return Reply(buyer, status, "", None, retries + 1, history)


def http_session(connections: int = BUYERS, *, fresh: bool = False) -> aiohttp.ClientSession:
    """Keep-alive connections, or (`fresh`) a new connection per request."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections, force_close=fresh),
        timeout=aiohttp.ClientTimeout(total=60),
    )


@dataclass
class Audit:
    """The sale's books in the database after a burst."""

    quantity: int
    sold: int
    returned: int
    status: str
    orders: int  # orders of the sale that are not cancelled
    all_orders: int
    holdings: int  # sum of flash_holdings
    reservations: int  # active reservations
    sku_stock: int
    statuses: Counter[str]


async def audit(
    container: Container, sale_id: int, sku_id: int, replies: list[Reply], *, spare: int = SPARE
) -> Audit:
    """Check what must hold after any burst, crash or not; return the books for more checks.

    - nothing oversold: sold <= quantity, and sold == live orders == units held == active
      reservations; database stock + sold = initial (sold + remaining + returned == quantity,
      and the SKU kept exactly its units beyond the sale);
    - no duplicates: at most one order per buyer (limit 1), one reservation per
      (sale, buyer, key), no key with two orders;
    - every 201 a client received is an order of this sale in the database, of that buyer, the
      one reserved under the key the client sent.
    """
    async with container.uow() as uow:
        session = uow.session
        sale = await session.get(FlashSale, sale_id)
        assert sale is not None
        orders = (
            await session.execute(
                select(Order.id, Order.user_id, Order.status).where(Order.flash_sale_id == sale_id)
            )
        ).all()
        reservations = (
            await session.execute(
                select(
                    FlashReservation.user_id,
                    FlashReservation.idempotency_key,
                    FlashReservation.order_id,
                    FlashReservation.status,
                    FlashReservation.quantity,
                ).where(FlashReservation.sale_id == sale_id)
            )
        ).all()
        holdings = await session.scalar(
            select(func.coalesce(func.sum(FlashHolding.quantity), 0)).where(
                FlashHolding.sale_id == sale_id
            )
        )
        over_limit = (
            await session.execute(
                select(FlashHolding.user_id, FlashHolding.quantity).where(
                    FlashHolding.sale_id == sale_id,
                    FlashHolding.quantity > sale.per_user_limit,
                )
            )
        ).all()
    live = [o for o in orders if o.status != "cancelled"]
    active = [r for r in reservations if r.status == "active"]
    stock = await stock_of(container, sku_id)

    assert sale.sold <= sale.quantity, f"oversold: {sale.sold} of {sale.quantity}"
    assert sale.returned == 0
    assert sale.sold == len(live) == int(holdings or 0) == sum(r.quantity for r in active), (
        sale.sold,
        len(live),
        holdings,
        len(active),
    )
    assert stock == spare, f"the SKU's own stock moved: {stock} != {spare}"
    assert over_limit == [], f"buyers over the per-user limit: {over_limit}"
    buyers = Counter(o.user_id for o in live)
    assert [u for u, n in buyers.items() if n > 1] == [], "a buyer has two orders"
    keys = Counter((r.user_id, r.idempotency_key) for r in reservations)
    assert [k for k, n in keys.items() if n > 1] == [], "two reservations share a key"
    plain_keys = Counter(r.idempotency_key for r in reservations)
    assert [k for k, n in plain_keys.items() if n > 1] == [], "two orders share a key"
    assert len({r.order_id for r in reservations}) == len(reservations) == len(orders)

    by_order = {o.id: o for o in orders}
    reserved = {(r.user_id, r.idempotency_key): r.order_id for r in reservations}
    for reply in replies:
        if reply.status != 201:
            continue
        assert reply.order_id in by_order, f"a 201 the client got is not in the database: {reply}"
        assert by_order[reply.order_id].user_id == reply.buyer.user_id
        assert reserved.get((reply.buyer.user_id, reply.buyer.key)) == reply.order_id, reply
    return Audit(
        quantity=sale.quantity,
        sold=sale.sold,
        returned=sale.returned,
        status=sale.status,
        orders=len(live),
        all_orders=len(orders),
        holdings=int(holdings or 0),
        reservations=len(active),
        sku_stock=stock,
        statuses=Counter(f"{r.status} {r.code}".strip() for r in replies),
    )


def assert_exact(books: Audit, replies: list[Reply]) -> None:
    """The no-crash outcome: exactly 100 orders, 900 sold out, the sale sold out."""
    accepted = [r for r in replies if r.status == 201]
    assert books.statuses == Counter({"201": QUANTITY, "409 sold_out": BUYERS - QUANTITY}), (
        books.statuses
    )
    assert len({r.order_id for r in accepted}) == QUANTITY
    assert (books.sold, books.orders, books.all_orders, books.holdings) == (QUANTITY,) * 4
    assert books.status == "sold_out"


# ---------------------------------------------------------------- the tests


@pytest.mark.parametrize("run", RUNS)
async def test_in_process_store_sells_exactly_the_quantity(
    any_backend: str, run: int, client: httpx.AsyncClient, container: Container
) -> None:
    phases = Phases()
    world = await flash_world(client, container, quantity=QUANTITY, stock=QUANTITY + SPARE)
    buyers = await bulk_buyers(container, BUYERS)
    phases("world")
    replies = await asyncio.gather(*(buy_in_process(client, world.sale_id, b) for b in buyers))
    phases("burst")
    books = await audit(container, world.sale_id, world.sku_id, list(replies))
    print(f"\nin-process store, {any_backend}, run {run}: {dict(books.statuses)}; {phases}")
    assert_exact(books, list(replies))
    sale = (await client.get(f"{API}/flash-sales/{world.sale_id}")).json()
    assert (sale["status"], sale["sold"], sale["remaining"]) == ("sold_out", QUANTITY, 0)
    # The store agrees with the database: nothing left, nothing in flight, no drift.
    store_books = await flash.reconcile_sale(container.flash, world.sale_id)
    assert store_books is not None
    assert (store_books.store_remaining, store_books.in_flight, store_books.drift) == (0, 0, 0)


@pytest.mark.parametrize("run", RUNS)
async def test_redis_store_two_workers_sells_exactly_the_quantity(
    postgres_backend: str,
    run: int,
    redis_url: str,
    client: httpx.AsyncClient,
    container: Container,
    settings: Settings,
    tmp_path: Path,
) -> None:
    # The world is made through the app in process; the server (Redis store, 2 workers) sells.
    phases = Phases()
    world = await flash_world(client, container, quantity=QUANTITY, stock=QUANTITY + SPARE)
    buyers = await bulk_buyers(container, BUYERS)
    operator_id = await make_user(container, Role.operator)
    operator = {
        "Authorization": "Bearer "
        + create_access_token(
            secret=container.secret, user_id=operator_id, now=container.clock.now(), minutes=60
        )
    }
    phases("world")
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    try:
        async with served(
            database_url=str(settings.database_url),
            data_dir=tmp_path / "server",
            workers=2,
            redis_url=redis_url,
            redis_prefix=prefix,
        ) as server:
            phases("server start")
            async with http_session() as http:
                replies = await asyncio.gather(
                    *(buy_over_http(http, server.url, world.sale_id, b) for b in buyers)
                )
                phases("burst")
                async with http.get(f"{server.url}{API}/flash-sales/{world.sale_id}") as r:
                    sale = await r.json()
                async with http.get(
                    f"{server.url}{API}/flash-sales/{world.sale_id}/stock", headers=operator
                ) as r:
                    store_books = await r.json()
    finally:
        await delete_prefix(redis_url, prefix)
    phases("server stop")
    books = await audit(container, world.sale_id, world.sku_id, list(replies))
    print(f"\nRedis store, 2 workers, run {run}: {dict(books.statuses)}; {phases}")
    assert_exact(books, list(replies))
    assert (sale["status"], sale["sold"], sale["remaining"]) == ("sold_out", QUANTITY, 0)
    assert (store_books["store_remaining"], store_books["in_flight"], store_books["drift"]) == (
        0,
        0,
        0,
    ), store_books
