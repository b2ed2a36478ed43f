"""`/healthz` and `/readyz`: readiness fails, with a reason, for each thing a worker needs and
cannot fix by itself (an unmigrated or outdated schema, Redis away), and passes when all is
there."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from livecart.app import create_app
from livecart.core.db import build_engine
from livecart.core.migrations import current_heads, downgrade, upgrade
from livecart.settings import Settings, normalise_database_url
from livecart.tables import metadata
from tests.conftest import free_port
from tests.support import fresh_postgres_database


@asynccontextmanager
async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def _ready(settings: Settings) -> tuple[int, dict[str, Any]]:
    async with _client(settings) as client:
        r = await client.get("/readyz")
        body: dict[str, Any] = r.json()
        return r.status_code, body


async def _unmigrated(settings: Settings) -> str:
    """The test's database, or on PostgreSQL a database of this test's own: the shared one
    may have been migrated by another test (tests/flash_servers.py)."""
    url = settings.async_database_url
    if not url.startswith("postgresql"):
        return url
    own = await fresh_postgres_database(url, "livecart_health_check")
    engine = build_engine(own, pool_size=1)
    async with engine.begin() as conn:
        await conn.run_sync(metadata().create_all)
    await engine.dispose()
    return own


async def test_liveness_asks_nothing(settings: Settings) -> None:
    async with _client(settings) as client:
        r = await client.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})


async def test_readiness_checks_the_schema_redis_and_the_event_log(
    any_backend: str, settings: Settings, tmp_path: Path, redis_url: str
) -> None:
    # A database (SQLite, then PostgreSQL) built from the models, with no migration recorded.
    status, body = await _ready(
        settings.model_copy(update={"database_url": await _unmigrated(settings)})
    )
    assert status == 503 and body["status"] == "not_ready"
    assert body["checks"]["database"]["ok"] is False
    assert "livecart db upgrade" in body["checks"]["database"]["detail"]
    assert body["checks"]["event_log"]["ok"] is True
    assert "redis" not in body["checks"]  # not configured, not asked

    # A database migrated to the newest revision, and Redis: ready.
    url = normalise_database_url(f"sqlite:///{tmp_path / 'migrated.db'}")
    await asyncio.to_thread(upgrade, url)
    migrated = settings.model_copy(update={"database_url": url, "redis_url": redis_url})
    status, body = await _ready(migrated)
    assert status == 200, body
    assert body["status"] == "ready"
    assert {name for name, check in body["checks"].items() if check["ok"]} == {
        "database",
        "event_log",
        "redis",
    }
    (head,) = current_heads()
    assert body["checks"]["database"]["detail"] == f"schema at {head}"
    assert body["checks"]["event_log"]["detail"].endswith("MiB free")

    # Redis away: not ready, and the answer names the failure, not the address.
    port = free_port()
    away = f"redis://127.0.0.1:{port}/0"
    status, body = await _ready(migrated.model_copy(update={"redis_url": away}))
    assert status == 503
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert str(port) not in str(body) and "127.0.0.1" not in str(body)

    # A schema one migration behind the code (a deploy that skipped `db upgrade`).
    await asyncio.to_thread(downgrade, url, "-1")
    status, body = await _ready(migrated)
    assert status == 503
    detail = body["checks"]["database"]["detail"]
    assert detail.startswith("schema at ") and f"code needs {head}" in detail
    assert not detail.startswith(f"schema at {head}")
