"""The migration history builds exactly the schema the models describe."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, text
from sqlalchemy.ext.asyncio import AsyncConnection

from livecart.core.db import build_engine
from livecart.core.migrations import current_heads, downgrade, upgrade
from livecart.settings import normalise_database_url
from livecart.tables import metadata
from tests.conftest import PG_URL, need
from tests.support import fresh_postgres_database


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
    url = asyncio.run(fresh_postgres_database(admin, "livecart_migration_check"))
    upgrade(url)
    diff = asyncio.run(_diff(url))
    assert diff == [], diff


@pytest.mark.parametrize("bad", ["mysql://x/y"])
def test_plain_urls_normalised(bad: str) -> None:
    assert normalise_database_url("sqlite:///a/b.db") == "sqlite+aiosqlite:///a/b.db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalise_database_url(bad) == bad


def _dummy(column: Column[Any]) -> object:
    """A value a NOT NULL column accepts (foreign keys are off while the rows are made)."""
    kind = column.type
    if isinstance(kind, sa.TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, sa.Enum):
        return kind.enums[0]
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer | sa.Numeric):
        return 1
    if isinstance(kind, sa.DateTime):
        return "2026-01-01 00:00:00.000000"
    if isinstance(kind, sa.JSON):
        return "{}"
    return "x"


def test_sqlite_upgrades_keep_the_rows_of_rebuilt_tables(tmp_path: Path) -> None:
    # SQLite rebuilds a table to alter it (batch mode); with foreign keys on, dropping the old
    # table would cascade to every table that references it (orders -> items, payments).
    url = normalise_database_url(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(url, "0001")
    children = ("order_items", "payments")

    async def fill() -> None:
        # One row (id 1) in every table of 0001; every reference points at a row id 1.
        engine = build_engine(url)
        async with engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            for table in metadata().sorted_tables:
                present = await _columns(conn, table.name)
                if not present:
                    continue
                row = {
                    c.name: _dummy(c)
                    for c in table.columns
                    if c.name in present and c.name != "id" and (not c.nullable or c.foreign_keys)
                }
                # Only the columns of that revision: the models' defaults name later columns.
                bare = sa.table(table.name, sa.column("id"), *(sa.column(n) for n in row))
                await conn.execute(bare.insert().values(id=1, **row))
            assert (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all() == []
            await conn.commit()
        await engine.dispose()

    async def counts() -> dict[str, int]:
        engine = build_engine(url)
        async with engine.connect() as conn:
            found = {
                name: (await conn.execute(text(f"SELECT count(*) FROM {name}"))).scalar_one()
                for name in ("orders", *children)
            }
        await engine.dispose()
        return found

    asyncio.run(fill())
    assert asyncio.run(counts()) == {"orders": 1, "order_items": 1, "payments": 1}
    upgrade(url)
    assert asyncio.run(counts()) == {"orders": 1, "order_items": 1, "payments": 1}
    downgrade(url, "0001")
    assert asyncio.run(counts()) == {"orders": 1, "order_items": 1, "payments": 1}


async def _columns(conn: AsyncConnection, table: str) -> set[str]:
    rows = await conn.exec_driver_sql(f"PRAGMA table_info({table})")
    return {row[1] for row in rows}
