"""The migration history builds exactly the schema the models describe."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from livecart.core.db import build_engine
from livecart.core.migrations import current_heads, upgrade
from livecart.settings import normalise_database_url
from livecart.tables import metadata
from tests.conftest import PG_URL, need


async def _diff(url: str) -> list[object]:
    engine = build_engine(url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), metadata()
            )
        )
    await engine.dispose()
    return list(diff)


def test_one_linear_history() -> None:
    assert len(current_heads()) == 1


def test_sqlite_upgrade_matches_models(tmp_path: Path) -> None:
    url = normalise_database_url(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(url)
    assert asyncio.run(_diff(url)) == []


def test_postgres_upgrade_matches_models() -> None:
    need(PG_URL, "LIVECART_TEST_DATABASE_URL is not set")
    admin = normalise_database_url(str(PG_URL))
    name = "livecart_migration_check"

    async def recreate() -> None:
        engine = build_engine(admin, pool_size=1)
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            await conn.execute(text(f"CREATE DATABASE {name}"))
        await engine.dispose()

    asyncio.run(recreate())
    url = admin.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    diff = asyncio.run(_diff(url))
    assert diff == [], diff


@pytest.mark.parametrize("bad", ["mysql://x/y"])
def test_plain_urls_normalised(bad: str) -> None:
    assert normalise_database_url("sqlite:///a/b.db") == "sqlite+aiosqlite:///a/b.db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalise_database_url(bad) == bad
