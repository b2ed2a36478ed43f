"""The `livecart` command line: serve, db, users, demo, events, insights, import, supervision,
service."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from livecart.events.cli_commands import app as events_app
from livecart.insights.cli_commands import app as insights_app
from livecart.insights.cli_commands import import_app
from livecart.marketing.cli_commands import app as marketing_app
from livecart.service.cli_commands import app as service_app
from livecart.settings import Settings
from livecart.supervision.cli_commands import app as supervision_app
from livecart.supervision.cli_commands import risk_app

if TYPE_CHECKING:
    from livecart.bootstrap import Container
    from livecart.demo.seed import SeedReport

T = TypeVar("T")

app = typer.Typer(help="livecart: live-streaming commerce.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts and roles.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(events_app, name="events")
app.add_typer(insights_app, name="insights")
app.add_typer(marketing_app, name="marketing")
app.add_typer(import_app, name="import")
app.add_typer(supervision_app, name="supervision")
app.add_typer(risk_app, name="risk")
app.add_typer(service_app, name="service")
console = Console()


def run_with_container(job: Callable[[Container], Awaitable[T]]) -> T:
    """Run one async command job with a container built from the environment."""
    from livecart.bootstrap import build_container

    async def main() -> T:
        container = build_container(Settings())
        try:
            return await job(container)
        finally:
            await container.engine.dispose()

    return asyncio.run(main())


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn options shared by `serve` and `demo`."""
    return {
        "ws": "websockets-sansio",
        # Frames a little over our own limit get a friendly error frame; far bigger ones are
        # cut by the server (close 1009) before they are buffered whole.
        "ws_max_size": 4 * settings.ws_max_frame_bytes,
        "ws_per_message_deflate": settings.ws_compression,
        "proxy_headers": False,
        # A new worker must answer uvicorn's ping within this, and it imports `livecart.cli`
        # first. With the analytics stack (SciPy, scikit-learn, DuckDB, pyarrow) imported only
        # by the code that uses it (tests/unit/test_import_weight.py) that takes about half
        # the CPU it did (docs/benchmarks.md, "Start-up import"), but on a loaded 2-core
        # machine 15 s still killed a starting worker in test_flash_crash.py.
        "timeout_worker_healthcheck": 30,
    }


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
    workers: Annotated[
        int,
        typer.Option(min=1, help="Worker processes; more than one needs LIVECART_REDIS_URL."),
    ] = 1,
) -> None:
    """Serve the web app and API."""
    import uvicorn

    settings = Settings()
    if workers > 1 and not settings.redis_url:
        # Sockets on different workers would not see each other's chat, pins or viewers.
        console.print(
            "[red]error:[/red] --workers above 1 needs LIVECART_REDIS_URL: without Redis "
            "each worker's sockets only see the events of that worker"
        )
        raise typer.Exit(2)
    if workers > 1 and reload:
        console.print("[red]error:[/red] --reload runs a single worker")
        raise typer.Exit(2)
    uvicorn.run(
        "livecart.app:create_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        workers=workers,
        log_level="info",
        **server_options(settings),
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply database migrations."""
    from livecart.core.migrations import upgrade

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.async_database_url, revision)
    console.print(f"[green]database at {revision}[/green]")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Login e-mail.")],
    password: Annotated[str, typer.Option(help="At least 8 characters.")],
    role: Annotated[
        list[str] | None,
        typer.Option(help="consumer, anchor, merchant, moderator, operator; repeatable."),
    ] = None,
    brand_id: Annotated[int | None, typer.Option(help="Brand of a merchant.")] = None,
    room_id: Annotated[int | None, typer.Option(help="Room of a moderator.")] = None,
    display_name: Annotated[
        str | None, typer.Option(help="Shown in chat; default: part of e-mail.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a user with roles."""
    from livecart.accounts.cli_commands import create_user

    try:
        out = run_with_container(
            lambda c: create_user(
                c,
                email=email,
                password=password,
                roles=role or ["consumer"],
                brand_id=brand_id,
                room_id=room_id,
                display_name=display_name,
            )
        )
    except Exception as exc:  # domain and validation errors are shown, not traced
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(out.model_dump(mode="json")))
    else:
        console.print(f"created user {out.id} {out.email} roles={[r.value for r in out.roles]}")


@users_app.command("list")
def users_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List users with their roles."""
    from livecart.accounts.cli_commands import list_all

    users = run_with_container(list_all)
    if as_json:
        typer.echo(json.dumps([u.model_dump(mode="json") for u in users]))
        return
    from rich.table import Table

    table = Table("id", "email", "name", "roles")
    for user in users:
        table.add_row(str(user.id), user.email, user.display_name, ", ".join(user.roles))
    console.print(table)


@app.command()
def demo(
    host: Annotated[
        str, typer.Option(help="Interface to bind (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    viewers: Annotated[
        int | None,
        typer.Option(help="Simulated viewers; 0 for none (default: LIVECART_DEMO_VIEWERS)."),
    ] = None,
    seed_only: Annotated[
        bool,
        typer.Option(
            "--seed-only", help="Seed (or refresh what is on air now), print the accounts, exit."
        ),
    ] = False,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset",
            help="Drop every table, the event log and the media files, then seed again.",
        ),
    ] = False,
) -> None:
    """Seed the demo world if missing, print the demo accounts, serve it with simulated viewers.

    On a world seeded earlier it refreshes "now": stale live sessions end, new ones start.
    """
    from livecart.demo import cli_commands

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if reset:
        cli_commands.reset(settings)
    report = asyncio.run(_seed_demo(settings))
    if report.seeded:
        console.print(
            f"[green]seeded the demo world in {report.seconds:.1f}s[/green] {report.counts}"
        )
    else:
        console.print(
            f"the demo world is already seeded; refreshed what is on air: {report.counts}"
        )
    base_url = f"http://{host}:{port}"
    cli_commands.print_accounts(console, base_url)
    if not seed_only:
        asyncio.run(_serve_demo(settings, host, port, viewers or settings.demo_viewers))


async def _seed_demo(settings: Settings) -> SeedReport:
    from livecart.bootstrap import build_container, running
    from livecart.demo.cli_commands import seed_with_progress
    from livecart.events import service as events_service
    from livecart.tables import metadata

    metadata()  # every domain's tables, so foreign keys between domains resolve
    async with running(build_container(settings)) as container:
        report = await seed_with_progress(container, console)
        await container.events.flush()
        # The history as a server that ran for months keeps it: a file per closed day.
        with console.status("compacting the event log's closed days"):
            days = await asyncio.to_thread(
                events_service.compact_closed_days,
                settings.event_log_dir,
                now=container.clock.now(),
                after_days=settings.events_compact_after_days,
            )
        console.print(f"event log: {len(days)} closed day(s) compacted")
    await _store_demo_portraits(settings)
    return report


async def _store_demo_portraits(settings: Settings) -> None:
    """Portraits of the demo's event log in the database, so the portrait pages have data
    (incremental: on a world seeded earlier only new log files are read)."""
    from livecart.insights.cli_commands import store_portraits_now
    from livecart.insights.portraits import Engine

    with console.status("computing consumer portraits"):
        stored = await store_portraits_now(
            settings.async_database_url, settings.event_log_dir, Engine.duckdb
        )
    console.print(
        f"portraits: {stored.consumers} stored from {stored.new_files} new log file(s) "
        f"in {stored.seconds:.1f}s"
    )


async def _serve_demo(settings: Settings, host: str, port: int, viewers: int) -> None:
    """uvicorn and the simulator in one loop; the simulator starts once the server listens."""
    import uvicorn

    from livecart.app import create_app
    from livecart.demo.seed import WorldSize
    from livecart.demo.simulator import Simulator, SimulatorConfig, demo_consumer_emails

    # Warnings only: the simulated viewers' requests and sockets would bury the console,
    # and socket URLs carry their tokens.
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        **server_options(settings),
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn has no started event
        await asyncio.sleep(0.1)
    loopback = f"http://127.0.0.1:{port}"
    simulator = Simulator(
        SimulatorConfig(
            base_url=loopback,
            viewers=viewers,
            consumer_emails=demo_consumer_emails(WorldSize().consumers),
        )
    )
    simulating = asyncio.create_task(simulator.run()) if viewers > 0 else None
    try:
        await serving
    finally:
        simulator.stop()
        if simulating is not None:
            await simulating
