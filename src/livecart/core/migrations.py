"""Alembic, driven from code: `livecart db upgrade` and the test suite use this."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"


def alembic_config(async_url: str) -> Config:
    """An Alembic config pointing at the project's migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", async_url.replace("%", "%%"))
    return config


def upgrade(async_url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`."""
    command.upgrade(alembic_config(async_url), revision)


def downgrade(async_url: str, revision: str) -> None:
    """Revert migrations down to `revision`."""
    command.downgrade(alembic_config(async_url), revision)


@functools.cache
def current_heads() -> tuple[str, ...]:
    """The head revisions of the migration history (read from the files once per process:
    `/readyz` asks on every probe)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return tuple(script.get_heads())
