"""`livecart insights report funnel|gmv`: the dashboards' reports on the command line.

The command line is trusted like an operator: it reads everything, or one anchor's or
brand's share when asked. It only reads (one session, nothing committed).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts.schemas import Identity, Role
from livecart.core.errors import DomainError
from livecart.insights import service
from livecart.insights.reports import FunnelBy, FunnelReport, GmvBy, GmvReport, Scope
from livecart.settings import Settings

T = TypeVar("T")

app = typer.Typer(
    help="Dashboard reports: the funnel and GMV (every command has --json).",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)
# Who the command line acts as: an operator that is no user.
COMMAND_LINE = Identity(
    id=0, email="", display_name="command line", roles=frozenset({Role.operator})
)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
DataDir = Annotated[
    Path | None,
    typer.Option(help="Data directory whose events/ folder holds the log (LIVECART_DATA_DIR)."),
]


def _settings(data_dir: Path | None) -> Settings:
    return Settings() if data_dir is None else Settings(data_dir=data_dir)


def _read(settings: Settings, job: Callable[[AsyncSession, Path], Awaitable[T]]) -> T:
    from livecart.core.db import build_engine

    async def main() -> T:
        engine = build_engine(settings.async_database_url, pool_size=1)
        try:
            async with AsyncSession(engine, expire_on_commit=False) as session:
                return await job(session, settings.event_log_dir)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        errors.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc


@app.command("funnel")
def funnel(
    by: Annotated[FunnelBy, typer.Option("--by", help="Group per live session, anchor or brand.")],
    anchor: Annotated[int | None, typer.Option("--anchor", help="Only this anchor.")] = None,
    brand: Annotated[int | None, typer.Option("--brand", help="Only this brand.")] = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Viewers -> product clicks -> cart -> orders -> paid, in distinct people per group."""
    scope = Scope(anchor_id=anchor, brand_id=brand)
    report: FunnelReport = _read(
        _settings(data_dir),
        lambda session, root: service.funnel_report(
            session, log_root=root, actor=COMMAND_LINE, by=by, scope=scope
        ),
    )
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json")))
        return
    table = Table(by.value, *report.steps, "orders", "paid orders", title="funnel")
    for row in report.rows:
        values = [getattr(row, step) for step in report.steps]
        table.add_row(row.label, *(f"{v:,}" for v in [*values, row.orders, row.paid_orders]))
    console.print(table)


@app.command("gmv")
def gmv(
    by: Annotated[GmvBy, typer.Option("--by", help="Group per UTC day.")] = GmvBy.day,
    anchor: Annotated[int | None, typer.Option("--anchor", help="Only this anchor.")] = None,
    brand: Annotated[int | None, typer.Option("--brand", help="Only this brand.")] = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """GMV per day: orders placed and their value (minor units), and those paid."""
    scope = Scope(anchor_id=anchor, brand_id=brand)
    report: GmvReport = _read(
        _settings(data_dir),
        lambda session, root: service.gmv_report(
            session, log_root=root, actor=COMMAND_LINE, scope=scope
        ),
    )
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json")))
        return
    table = Table("day", "currency", "orders", "GMV", "paid orders", "paid GMV", title="GMV")
    for row in report.rows:
        table.add_row(
            row.day.isoformat(),
            row.currency,
            f"{row.orders:,}",
            f"{row.gmv:,}",
            f"{row.paid_orders:,}",
            f"{row.paid_gmv:,}",
        )
    console.print(table)
