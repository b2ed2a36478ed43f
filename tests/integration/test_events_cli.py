"""`livecart events watch-time` and `livecart events count` over a real Parquet log."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from livecart.cli import app
from livecart.events.sink import ParquetEventSink
from tests.integration.test_events_log import at, viewing

runner = CliRunner()


def write_log(data_dir: Path) -> None:
    sink = ParquetEventSink(data_dir / "events")
    for event in [
        *viewing(1, 10, at(12), beats=4, tail=12.5),
        *viewing(1, 11, at(23, 59, day=1), beats=3, tail=1.0),  # crosses midnight UTC
        *viewing(2, 10, at(12, 1), beats=10, tail=0.5),
    ]:
        sink.emit(event)
    asyncio.run(sink.aclose())


def test_watch_time_json_and_table(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    write_log(data_dir)
    result = runner.invoke(app, ["events", "watch-time", "--data-dir", str(data_dir), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"consumer_id": 2, "watch_seconds": 300.5, "sessions": 1},
        {"consumer_id": 1, "watch_seconds": 223.5, "sessions": 2},
    ]

    result = runner.invoke(
        app, ["events", "watch-time", "--data-dir", str(data_dir), "--session-id", "11", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"consumer_id": 1, "watch_seconds": 91.0, "sessions": 1}]

    result = runner.invoke(app, ["events", "watch-time", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "0:05:00" in result.stdout and "223.5" in result.stdout


def test_watch_time_reads_the_data_dir_from_settings(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    write_log(data_dir)
    env = {"LIVECART_DATA_DIR": str(data_dir)}
    result = runner.invoke(app, ["events", "watch-time", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert [row["consumer_id"] for row in json.loads(result.stdout)] == [2, 1]


def test_count_per_day_and_type(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    write_log(data_dir)
    result = runner.invoke(app, ["events", "count", "--data-dir", str(data_dir), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"day": "2026-03-01", "event_type": "heartbeat", "events": 15},
        {"day": "2026-03-01", "event_type": "join", "events": 3},
        {"day": "2026-03-01", "event_type": "leave", "events": 2},
        {"day": "2026-03-02", "event_type": "heartbeat", "events": 2},
        {"day": "2026-03-02", "event_type": "leave", "events": 1},
    ]


def test_an_empty_log_is_said_plainly(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    for command in ("watch-time", "count"):
        result = runner.invoke(app, ["events", command, "--data-dir", str(data_dir), "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == []
        assert "no events yet" in result.stderr
        result = runner.invoke(app, ["events", command, "--data-dir", str(data_dir)])
        assert result.exit_code == 0 and result.stdout == ""
        assert "no events yet" in result.stderr


def test_a_session_without_watch_time(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    write_log(data_dir)
    result = runner.invoke(
        app, ["events", "watch-time", "--data-dir", str(data_dir), "--session-id", "99"]
    )
    assert result.exit_code == 0 and "no watch time recorded in session 99" in result.stdout
