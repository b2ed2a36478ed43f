"""Starting the demo again later refreshes "now"; --reset empties a used database; --help."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from livecart.bootstrap import Container, build_container, running
from livecart.cli import app as cli_app
from livecart.core.clock import FrozenClock
from livecart.core.migrations import upgrade
from livecart.demo import cli_commands
from livecart.demo.seed import SMALL, STALE_LIVE, is_seeded, refresh, seed
from livecart.settings import Settings
from livecart.tables import metadata

API = "/api/v1"


async def _sessions(client: httpx.AsyncClient, status: str) -> list[dict[str, object]]:
    r = await client.get(f"{API}/sessions", params={"status": status, "limit": 200})
    assert r.status_code == 200, r.text
    found: list[dict[str, object]] = r.json()
    return found


def _at(value: object) -> datetime:
    return datetime.fromisoformat(str(value))


# 19:40 in Beijing the next day: a room that goes live has a show scheduled at 20:00, which
# falls due before the second start below (it failed so, 11:30-12:00 UTC, before the demo took
# that show on air early).
A_SHOW_FALLS_DUE = FrozenClock(datetime(2026, 12, 6, 11, 40, tzinfo=UTC))


@pytest.mark.usefixtures("any_backend")
@pytest.mark.parametrize(
    "clock",
    [
        pytest.param(FrozenClock(datetime.now(UTC).replace(microsecond=0)), id="now"),
        pytest.param(A_SHOW_FALLS_DUE, id="show-falls-due"),
    ],
)
async def test_restart_a_day_later_ends_stale_live_sessions_and_goes_live_now(
    container: Container, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    first = await seed(container, SMALL, clock=clock)
    ended_before = len(await _sessions(client, "ended"))

    clock.advance(days=1)
    now = clock.now()
    report = await refresh(container, SMALL, clock=clock)

    on_air = await _sessions(client, "live")
    assert len(on_air) == SMALL.live_now
    assert {s["id"] for s in on_air} == set(report.live_session_ids)
    assert not {s["id"] for s in on_air} & set(first.live_session_ids)
    for show in on_air:
        assert now - timedelta(hours=1) <= _at(show["started_at"]) < now
        view = (await client.get(f"{API}/sessions/{show['id']}")).json()
        assert len(view["showcase"]) >= 5
        assert view["pinned"]["id"] in {c["id"] for c in view["showcase"]}
    for old_id in first.live_session_ids:
        old = (await client.get(f"{API}/sessions/{old_id}")).json()
        assert old["status"] == "ended"
        assert _at(old["started_at"]) < _at(old["ended_at"]) <= now

    upcoming = await _sessions(client, "scheduled")
    assert len(upcoming) >= SMALL.upcoming
    assert all(_at(s["scheduled_at"]) > now for s in upcoming)  # none left overdue
    assert len(await _sessions(client, "ended")) > ended_before

    # A start soon after changes nothing that is still fresh.
    clock.advance(minutes=30)
    again = await refresh(container, SMALL, clock=clock)
    assert set(again.live_session_ids) == set(report.live_session_ids)
    assert {s["id"] for s in await _sessions(client, "live")} == set(report.live_session_ids)
    assert len(await _sessions(client, "scheduled")) == len(upcoming)


async def test_live_sessions_younger_than_the_limit_stay_on_air(
    container: Container, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    first = await seed(container, SMALL, clock=clock)
    clock.advance(seconds=STALE_LIVE.total_seconds() - 3600)
    report = await refresh(container, SMALL, clock=clock)
    assert report.live_session_ids == first.live_session_ids
    assert [s["id"] for s in await _sessions(client, "live")] == first.live_session_ids


def test_reset_empties_a_database_with_data_then_seeds_again(tmp_path: Path) -> None:
    # Synchronous: migrations run their own event loop, as `livecart demo --reset` does.
    data = tmp_path / "var"
    settings = Settings(
        data_dir=data,
        database_url=f"sqlite:///{data / 'demo.db'}",
        secret_key="test-secret-key-which-is-long-enough-for-hs256",
    )
    data.mkdir(parents=True)
    upgrade(settings.async_database_url)
    metadata()
    clock = FrozenClock(datetime.now().astimezone())

    async def seeded_then_seed() -> tuple[bool, bool]:
        async with running(build_container(settings, clock=clock)) as container:
            was = await is_seeded(container)
            return was, (await seed(container, SMALL, clock=clock)).seeded

    assert asyncio.run(seeded_then_seed()) == (False, True)
    assert any(settings.event_log_dir.rglob("*.parquet"))
    assert any(settings.media_dir.rglob("*.png"))

    cli_commands.reset(settings)

    assert not settings.event_log_dir.exists()
    assert not settings.media_dir.exists()
    assert asyncio.run(seeded_then_seed()) == (False, True)


def test_demo_help_documents_every_option() -> None:
    command = typer.main.get_command(cli_app).commands["demo"]  # type: ignore[attr-defined]
    result = CliRunner().invoke(cli_app, ["demo", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    options = [p for p in command.params if p.name != "help"]
    assert {p.name for p in options} >= {"host", "port", "viewers", "seed_only", "reset"}
    for param in options:
        assert param.help, f"--{param.name} has no help"
        assert param.opts[0] in result.output
        assert param.help.split()[0] in result.output
