"""The burst's world: a fresh database, the buyers, the shop and the sale, and what was sold.

The staff and the buyers are written straight into the users table in bulk and their bearer
tokens are minted with the server's secret (registering 20,000 buyers through the API would
hash 20,000 passwords with Argon2). Everything else, from the brand to the flash sale, is
made through the REST API of the running server, as its users would.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select, text

from livecart.accounts.models import RoleGrant, User
from livecart.core.db import build_engine
from livecart.core.security import create_access_token
from livecart.settings import normalise_database_url

SECRET = "bench-burst-secret-key-long-enough-for-hs256-signing"
# Nobody logs in with a password: tokens are minted. Not an Argon2 hash, so no login can work.
NO_PASSWORD = "!bench-no-password"
SKU_PRICE = 19_900
SALE_PRICE = 9_900
CURRENCY = "CNY"
TOKEN_MINUTES = 240
API = "/api/v1"


@dataclass
class Stack:
    """Where the server under test keeps its data."""

    data_dir: Path
    database_url: str | None  # plain postgresql://... ; None = SQLite in data_dir
    redis_url: str | None = None
    redis_prefix: str = "livecart:"
    migrated: bool = False

    @property
    def async_url(self) -> str:
        """The SQLAlchemy URL the bench itself uses."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'livecart.db'}"
        return normalise_database_url(url)

    @property
    def database(self) -> str:
        """sqlite or postgresql."""
        return "sqlite" if self.database_url is None else "postgresql"


@dataclass
class People:
    """Ids and bearer tokens of the staff and of every buyer."""

    operator: str
    merchant_id: int
    merchant: str
    anchor: str
    buyer_ids: list[int] = field(default_factory=list)
    buyer_tokens: list[str] = field(default_factory=list)


@dataclass
class Shop:
    """The SKU on sale and, for livecart, the flash sale holding its units."""

    brand_id: int
    product_id: int
    sku_id: int
    session_id: int
    sale_id: int | None = None


@dataclass
class DbState:
    """The orders of the SKU as the database holds them after the run."""

    orders: int = 0
    units: int = 0
    sku_stock: int = 0
    duplicate_keys: int = 0  # (buyer, Idempotency-Key) pairs with more than one order
    over_limit: int = 0  # buyers holding more units than the per-user limit
    order_ids: set[int] = field(default_factory=set)
    statuses: dict[str, int] = field(default_factory=dict)


def _livecart_cli() -> str:
    return str(Path(sys.executable).with_name("livecart"))


def server_env_base(stack: Stack) -> dict[str, str]:
    """The environment every server and CLI call of this stack shares."""
    env = {
        "LIVECART_DATA_DIR": str(stack.data_dir),
        "LIVECART_SECRET_KEY": SECRET,
        "LIVECART_REDIS_PREFIX": stack.redis_prefix,
    }
    if stack.database_url:
        env["LIVECART_DATABASE_URL"] = stack.database_url
    if stack.redis_url:
        env["LIVECART_REDIS_URL"] = stack.redis_url
    return env


def _cli_env(stack: Stack) -> dict[str, str]:
    import os

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LIVECART_DATABASE_URL", "LIVECART_REDIS_URL")
    }
    env.update(server_env_base(stack))
    return env


async def _ensure_database(url: str) -> None:
    """Create the benchmark's own database when it does not exist yet."""
    import asyncpg

    plain = "postgresql://" + url.split("://", 1)[1]
    try:
        conn = await asyncpg.connect(plain)
    except asyncpg.InvalidCatalogNameError:
        base, name = plain.split("?", 1)[0].rsplit("/", 1)
        admin = await asyncpg.connect(f"{base}/postgres")
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
    else:
        await conn.close()


async def _reset_postgres(url: str) -> None:
    await _ensure_database(url)
    engine = build_engine(url, pool_size=1)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def _truncate_postgres(url: str) -> None:
    engine = build_engine(url, pool_size=1)
    async with engine.begin() as conn:
        names = (
            await conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
        ).scalars()
        quoted = ", ".join(f'"{name}"' for name in names)
        if quoted:
            await conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
    await engine.dispose()


def prepare_database(stack: Stack, template_dir: Path) -> None:
    """An empty, migrated database: the first time from scratch, then emptied or copied."""
    stack.data_dir.mkdir(parents=True, exist_ok=True)
    if stack.database_url is None:
        template = template_dir / "livecart.db"
        if not template.exists():
            template_dir.mkdir(parents=True, exist_ok=True)
            env = _cli_env(stack)
            env["LIVECART_DATA_DIR"] = str(template_dir)
            subprocess.run([_livecart_cli(), "db", "upgrade"], env=env, check=True)
        target = stack.data_dir / "livecart.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(template, target)
        return
    if stack.migrated:
        asyncio.run(_truncate_postgres(stack.async_url))
        return
    asyncio.run(_reset_postgres(stack.async_url))
    subprocess.run(
        [_livecart_cli(), "db", "upgrade"], env=_cli_env(stack), check=True, capture_output=True
    )
    stack.migrated = True


async def _add_users(url: str, buyers: int) -> tuple[list[int], list[int]]:
    """Insert the three staff and the buyers; (staff ids, buyer ids)."""
    now = datetime.now(UTC)
    engine = build_engine(url, pool_size=1)
    users = User.__table__
    grants = RoleGrant.__table__

    def row(email: str, name: str) -> dict[str, Any]:
        return {
            "email": email,
            "display_name": name,
            "password_hash": NO_PASSWORD,
            "is_active": True,
            "created_at": now,
        }

    async with engine.begin() as conn:
        staff_rows = [
            row("operator@bench.example", "bench operator"),
            row("merchant@bench.example", "bench merchant"),
            row("anchor@bench.example", "bench anchor"),
        ]
        await conn.execute(insert(users), staff_rows)
        chunk = 5000
        for start in range(0, buyers, chunk):
            rows = [
                row(f"buyer{i}@bench.example", f"Buyer {i}")
                for i in range(start, min(buyers, start + chunk))
            ]
            await conn.execute(insert(users), rows)
        ids = dict(
            (await conn.execute(select(users.c.email, users.c.id))).tuples().all()  # type: ignore[arg-type]
        )
        staff = [ids[r["email"]] for r in staff_rows]
        await conn.execute(
            insert(grants),
            [
                {"user_id": staff[0], "role": "operator", "created_at": now},
                {"user_id": staff[2], "role": "anchor", "created_at": now},
            ],
        )
    await engine.dispose()
    buyer_ids = [ids[f"buyer{i}@bench.example"] for i in range(buyers)]
    return staff, buyer_ids


def add_people(stack: Stack, buyers: int) -> People:
    """The staff and `buyers` consumers, with bearer tokens signed by the server's secret."""
    staff, buyer_ids = asyncio.run(_add_users(stack.async_url, buyers))
    now = datetime.now(UTC)

    def token(user_id: int) -> str:
        return create_access_token(secret=SECRET, user_id=user_id, now=now, minutes=TOKEN_MINUTES)

    return People(
        operator=token(staff[0]),
        merchant_id=staff[1],
        merchant=token(staff[1]),
        anchor=token(staff[2]),
        buyer_ids=buyer_ids,
        buyer_tokens=[token(uid) for uid in buyer_ids],
    )


def _ok(answer: httpx.Response) -> dict[str, Any]:
    if answer.status_code >= 300:
        raise RuntimeError(f"{answer.request.method} {answer.request.url.path}: {answer.text}")
    data: dict[str, Any] = answer.json()
    return data


def qualify(
    http: httpx.Client,
    *,
    operator: dict[str, str],
    merchant: dict[str, str],
    anchor: dict[str, str],
    brand_id: int,
) -> None:
    """The brand's business licence and the anchor's identity verification, filed and approved
    (the supervision gates of going live and of the showcase)."""
    valid: dict[str, Any] = {
        "valid_from": "2020-01-01",
        "expires_on": "2099-12-31",
        "issuer": "bench",
    }
    filed: list[tuple[dict[str, str], dict[str, Any]]] = [
        (merchant, {"kind": "business_licence", "brand_id": brand_id, "number": "BENCH-BL"}),
        (anchor, {"kind": "identity_verification", "number": "BENCH-ID"}),
    ]
    filed[1][1]["date_of_birth"] = "1990-01-01"
    for who, body in filed:
        record = _ok(http.post("/supervision/qualifications", json={**body, **valid}, headers=who))
        _ok(
            http.post(
                f"/supervision/qualifications/{record['id']}/review",
                json={"decision": "approve"},
                headers=operator,
            )
        )


def approve_for_live(
    http: httpx.Client, *, operator: dict[str, str], merchant: dict[str, str], product_id: int
) -> None:
    """Selection review of the product: submitted, selected, inspected, approved for live."""
    selection = _ok(
        http.post("/supervision/selections", json={"product_id": product_id}, headers=merchant)
    )
    base = f"/supervision/selections/{selection['id']}"
    _ok(http.post(f"{base}/decision", json={"decision": "select"}, headers=operator))
    inspection = {"sample_id": "BENCH", "findings": "as listed", "passed": True}
    _ok(http.post(f"{base}/inspections", json=inspection, headers=operator))
    _ok(http.post(f"{base}/decision", json={"decision": "approve"}, headers=operator))


def open_shop(
    base_url: str, people: People, *, quantity: int, per_user_limit: int, flash_sale: bool
) -> Shop:
    """Brand, merchant, product with one SKU, a live session showing it, and the sale."""
    with httpx.Client(base_url=f"{base_url}{API}", timeout=60) as http:

        def bearer(token: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {token}"}

        operator, merchant, anchor = (
            bearer(people.operator),
            bearer(people.merchant),
            bearer(people.anchor),
        )
        brand = _ok(http.post("/brands", json={"name": "Bench Brand"}, headers=operator))
        _ok(
            http.post(
                f"/users/{people.merchant_id}/roles",
                json={"role": "merchant", "brand_id": brand["id"]},
                headers=operator,
            )
        )
        product = _ok(
            http.post(
                "/products",
                json={
                    "brand_id": brand["id"],
                    "title": "Flash-sale silk scarf",
                    "category": "accessories",
                    "skus": [
                        {
                            "code": "BURST-1",
                            "price": SKU_PRICE,
                            "currency": CURRENCY,
                            "stock": quantity,
                        }
                    ],
                },
                headers=merchant,
            )
        )
        sku_id = int(product["skus"][0]["id"])
        qualify(http, operator=operator, merchant=merchant, anchor=anchor, brand_id=brand["id"])
        approve_for_live(http, operator=operator, merchant=merchant, product_id=product["id"])
        room = _ok(http.post("/rooms", json={"title": "Burst room"}, headers=anchor))
        live = _ok(
            http.post(f"/rooms/{room['id']}/sessions", json={"title": "Burst"}, headers=anchor)
        )
        session_id = int(live["id"])
        _ok(http.post(f"/sessions/{session_id}/start", headers=anchor))
        _ok(
            http.post(
                f"/sessions/{session_id}/showcase",
                json={"product_id": product["id"]},
                headers=anchor,
            )
        )
        shop = Shop(int(brand["id"]), int(product["id"]), sku_id, session_id)
        if flash_sale:
            sale = _ok(
                http.post(
                    "/flash-sales",
                    json={
                        "session_id": session_id,
                        "sku_id": sku_id,
                        "price": SALE_PRICE,
                        "quantity": quantity,
                        "per_user_limit": per_user_limit,
                    },
                    headers=anchor,
                )
            )
            shop.sale_id = int(sale["id"])
            started = _ok(http.post(f"/flash-sales/{shop.sale_id}/start", headers=anchor))
            if started.get("status") != "live":
                raise RuntimeError(f"the flash sale did not start: {started}")
        return shop


def sale_state(base_url: str, sale_id: int) -> dict[str, Any]:
    """GET /flash-sales/{id}: status, sold, remaining."""
    with httpx.Client(base_url=f"{base_url}{API}", timeout=60) as http:
        return _ok(http.get(f"/flash-sales/{sale_id}"))


async def _db_state(url: str, sku_id: int, per_user_limit: int) -> DbState:
    engine = build_engine(url, pool_size=1)
    state = DbState()
    params = {"sku": sku_id, "limit": per_user_limit}
    of_sku = (
        "FROM orders o JOIN order_items i ON i.order_id = o.id "
        "WHERE i.sku_id = :sku AND o.status <> 'cancelled'"
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(text(f"SELECT o.id, i.quantity {of_sku}"), params)).all()
        state.order_ids = {int(r[0]) for r in rows}
        state.orders = len(state.order_ids)
        state.units = sum(int(r[1]) for r in rows)
        for status, count in (
            await conn.execute(
                text(
                    "SELECT o.status, count(DISTINCT o.id) FROM orders o "
                    "JOIN order_items i ON i.order_id = o.id WHERE i.sku_id = :sku "
                    "GROUP BY o.status"
                ),
                params,
            )
        ).all():
            state.statuses[str(status)] = int(count)
        state.duplicate_keys = int(
            await conn.scalar(
                text(
                    "SELECT count(*) FROM (SELECT o.user_id, o.idempotency_key "
                    f"{of_sku} GROUP BY o.user_id, o.idempotency_key "
                    "HAVING count(DISTINCT o.id) > 1) AS d"
                ),
                params,
            )
            or 0
        )
        state.over_limit = int(
            await conn.scalar(
                text(
                    f"SELECT count(*) FROM (SELECT o.user_id {of_sku} "
                    "GROUP BY o.user_id HAVING sum(i.quantity) > :limit) AS d"
                ),
                params,
            )
            or 0
        )
        state.sku_stock = int(
            await conn.scalar(text("SELECT stock FROM skus WHERE id = :sku"), params) or 0
        )
    await engine.dispose()
    return state


def db_state(stack: Stack, sku_id: int, per_user_limit: int) -> DbState:
    """What the database holds for the SKU."""
    return asyncio.run(_db_state(stack.async_url, sku_id, per_user_limit))


def drop_redis_keys(url: str, prefix: str) -> int:
    """Delete this run's Redis keys (only those under its own prefix)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        return len(keys)
    finally:
        client.close()
