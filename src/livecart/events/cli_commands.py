"""`livecart events ...`: watch time and event counts read from the Parquet log with DuckDB."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from livecart.core.clock import SystemClock
from livecart.events import service
from livecart.events.errors import EventLogEmpty
from livecart.settings import Settings

app = typer.Typer(help="Behaviour events: the Parquet event log.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option(help="Data directory whose events/ folder holds the log (LIVECART_DATA_DIR)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def log_root(data_dir: Path | None) -> Path:
    """The event log folder for a data dir given on the command line, else from settings."""
    settings = Settings() if data_dir is None else Settings(data_dir=data_dir)
    return settings.event_log_dir


def _empty(exc: EventLogEmpty, as_json: bool) -> None:
    if as_json:
        typer.echo("[]")
    errors.print(f"[yellow]{exc.message}[/yellow] (nothing has been flushed to it)", soft_wrap=True)


def hms(seconds: float) -> str:
    """Seconds as h:mm:ss."""
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


@app.command("watch-time")
def watch_time(
    data_dir: DataDir = None,
    session_id: Annotated[int | None, typer.Option(help="Only this live session.")] = None,
    as_json: AsJson = False,
) -> None:
    """Watch time per consumer: heartbeat and leave seconds summed (docs/events.md)."""
    try:
        rows = service.watch_time(log_root(data_dir), session_id=session_id)
    except EventLogEmpty as exc:
        _empty(exc, as_json)
        return
    if as_json:
        typer.echo(json.dumps([row.model_dump(mode="json") for row in rows]))
        return
    if not rows:
        where = f" in session {session_id}" if session_id is not None else ""
        console.print(f"no watch time recorded{where}")
        return
    title = "watch time" + (f", session {session_id}" if session_id is not None else "")
    table = Table("consumer", "watch time", "seconds", "sessions", title=title)
    for row in rows:
        seconds = row.watch_seconds
        table.add_row(str(row.consumer_id), hms(seconds), f"{seconds:.1f}", str(row.sessions))
    console.print(table)


@app.command("count")
def count(data_dir: DataDir = None, as_json: AsJson = False) -> None:
    """Events per UTC day and type."""
    try:
        rows = service.event_counts(log_root(data_dir))
    except EventLogEmpty as exc:
        _empty(exc, as_json)
        return
    if as_json:
        typer.echo(json.dumps([row.model_dump(mode="json") for row in rows]))
        return
    table = Table("date", "event type", "events", title="behaviour events")
    for row in rows:
        table.add_row(row.day.isoformat(), row.event_type, str(row.events))
    console.print(table)


@app.command("compact")
def compact(
    data_dir: DataDir = None,
    before: Annotated[
        str | None,
        typer.Option(
            help="Compact the days before this one (YYYY-MM-DD, UTC); default: every day "
            "ended at least LIVECART_EVENTS_COMPACT_AFTER_DAYS whole days ago.",
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Rewrite each closed day's many small part files as one file (docs/events.md)."""
    from livecart.events import compaction

    settings = Settings() if data_dir is None else Settings(data_dir=data_dir)
    if before is None:
        until = service.closed_before(
            SystemClock().now(), after_days=settings.events_compact_after_days
        )
    else:
        try:
            until = date.fromisoformat(before)
        except ValueError:
            errors.print(f"[red]--before must be a date as YYYY-MM-DD, not {before!r}[/red]")
            raise typer.Exit(2) from None
    with console.status("compacting the event log") as status:
        days = compaction.compact_log(
            settings.event_log_dir, before=until, step=lambda text: status.update(text)
        )
    if as_json:
        typer.echo(json.dumps([{**asdict(d), "day": d.day.isoformat()} for d in days]))
        return
    if not days:
        console.print(f"nothing to compact before {until.isoformat()}")
        return
    table = Table("day", "files", "events", "MiB before", "MiB after", title="compacted days")
    for d in days:
        table.add_row(
            d.day.isoformat(),
            str(d.files),
            str(d.events),
            f"{d.bytes_before / 2**20:.2f}",
            f"{d.bytes_after / 2**20:.2f}",
        )
    console.print(table)
