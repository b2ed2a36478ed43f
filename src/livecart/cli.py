"""The `livecart` command line: serve, db, users, demo."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

from livecart.settings import Settings

if TYPE_CHECKING:
    from livecart.bootstrap import Container

T = TypeVar("T")

app = typer.Typer(help="livecart: live-streaming commerce.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts and roles.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
) -> None:
    """Serve the web app and API."""
    import uvicorn

    uvicorn.run(
        "livecart.app:create_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        proxy_headers=False,
        log_level="info",
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
