"""The `livecart demo` command's work: reset, seed with progress, the accounts table."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from livecart.core.migrations import alembic_config, upgrade
from livecart.demo import world
from livecart.demo.seed import SeedReport, WorldSize, accounts_table, refresh, seed
from livecart.settings import Settings

if TYPE_CHECKING:
    from livecart.bootstrap import Container


def reset(settings: Settings) -> None:
    """Drop every table and the event log and media, then migrate to head again."""
    from alembic import command

    command.downgrade(alembic_config(settings.async_database_url), "base")
    for folder in (settings.event_log_dir, settings.media_dir):
        shutil.rmtree(folder, ignore_errors=True)
    upgrade(settings.async_database_url)


async def seed_with_progress(
    container: Container, console: Console, size: WorldSize = WorldSize()
) -> SeedReport:
    """Seed the demo world showing a progress bar per step, or refresh what is on air now."""
    with Progress(
        TextColumn("[bold]{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = int(bar.add_task(step, total=total))
            bar.update(tasks[step], completed=done, total=total)  # type: ignore[arg-type]

        report = await seed(container, size, progress=progress)
    if not report.seeded:
        # Seeded on an earlier start: what is on air is as old as that start was.
        report = await refresh(container, size)
    return report


def print_accounts(console: Console, base_url: str, size: WorldSize = WorldSize()) -> None:
    """The table of demo accounts and where to open the demo."""
    table = Table(title=f"Demo accounts (password: {world.DEMO_PASSWORD})")
    for column in ("role", "e-mail", "name", "what"):
        table.add_column(column, no_wrap=column == "e-mail")
    for account in accounts_table(size):
        table.add_row(account.role, account.email, account.name, account.note)
    console.print(table)
    console.print(f"Open [bold]{base_url}[/bold]  (API docs: {base_url}/docs)")
