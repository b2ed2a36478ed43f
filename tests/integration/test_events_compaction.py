"""Compaction of the event log (events.compaction): a closed day's part files, written by the
real sink, become one file holding the same events, ordered by type and time; writers wait;
a crash at any step leaves the log as it was or compacted; erasure keeps the layout."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from livecart.cli import app
from livecart.events import compaction, service, sink
from livecart.events.schemas import BehaviourEvent, EventType
from livecart.events.sink import (
    ParquetEventSink,
    StagedLogFiles,
    compacted_from,
    day_folders,
    log_files,
    log_lock,
)
from tests.integration.test_events_log import at, viewing

runner = CliRunner()


def mixed_day(day: int, consumers: int = 3) -> list[BehaviourEvent]:
    """Viewing, chat, likes and orders of a few consumers on one day of March 2026."""
    out: list[BehaviourEvent] = []
    for c in range(1, consumers + 1):
        out += viewing(c, 10 + day, at(12, c, day=day), beats=5, tail=7.5)
        out.append(
            service.new_event(
                EventType.CHAT, occurred_at=at(12, c, 40, day=day), consumer_id=c,
                session_id=10 + day, text=f"hello {c}",
            )
        )  # fmt: skip
        out.append(
            service.new_event(
                EventType.ORDER, occurred_at=at(12, c, 50, day=day), consumer_id=c,
                session_id=10 + day, order_id=100 * day + c, product_id=7, quantity=1,
                amount=1999, currency="CNY",
            )
        )  # fmt: skip
    return out


def write(root: Path, events: list[BehaviourEvent], *, batch: int) -> None:
    """Through the real sink, one file per `batch` events (as a busy server flushes)."""

    async def go() -> None:
        sink = ParquetEventSink(root, batch_size=10_000, flush_seconds=3600, fsync=False)
        for start in range(0, len(events), batch):
            for item in events[start : start + batch]:
                sink.emit(item)
            await sink.flush()

    asyncio.run(go())


def rows(paths: list[Path]) -> list[dict[str, object]]:
    """Every event of the files, in event-id order."""
    tables = [pq.read_table(p, partitioning=None) for p in paths]
    return sorted(pa.concat_tables(tables).to_pylist(), key=lambda r: str(r["event_id"]))


def day_files(root: Path, day: int) -> list[Path]:
    return sorted((root / f"date=2026-03-{day:02d}").glob("*.parquet"))


def test_a_closed_day_becomes_one_file_with_the_same_events(tmp_path: Path) -> None:
    root = tmp_path / "events"
    write(root, mixed_day(1) + mixed_day(2) + mixed_day(3), batch=5)
    before = {day: rows(day_files(root, day)) for day in (1, 2, 3)}
    assert all(len(day_files(root, day)) > 3 for day in (1, 2, 3))
    counts_before = service.event_counts(root)
    watch_before = service.watch_time(root)

    done = compaction.compact_log(root, before=date(2026, 3, 3))

    assert [(d.day.day, d.files, d.events) for d in done] == [
        (1, len(before[1]) // 5 + 1, len(before[1])),
        (2, len(before[2]) // 5 + 1, len(before[2])),
    ]
    for day in (1, 2):
        [only] = day_files(root, day)
        assert rows([only]) == before[day]  # every column of every event, once
        table = pq.read_table(only, partitioning=None)
        order = [(r["event_type"], r["occurred_at"]) for r in table.to_pylist()]
        assert order == sorted(order)
        names = compacted_from(only)
        assert names is not None and len(names) == done[day - 1].files
        assert all(n.startswith(f"date=2026-03-0{day}/part-") for n in names)
    assert len(day_files(root, 3)) > 3  # on or after `before`: untouched
    assert service.event_counts(root) == counts_before
    assert service.watch_time(root) == watch_before
    assert not [p for p in root.iterdir() if p.name.startswith(".compact")]
    # Nothing left to do: a second run rewrites nothing.
    assert compaction.compact_log(root, before=date(2026, 3, 3)) == []


def test_row_groups_hold_few_types_so_a_reader_skips_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sink, "ROW_GROUP_ROWS", 500)  # small groups for a small log
    root = tmp_path / "events"
    many = [e for c in range(40) for e in viewing(c, 1, at(10, c, day=1), 60, 1.0)]
    many.append(
        service.new_event(EventType.ORDER, occurred_at=at(11, day=1), consumer_id=1, order_id=9)
    )
    write(root, many, batch=1_000)
    compaction.compact_log(root, before=date(2026, 3, 2))
    [only] = day_files(root, 1)
    meta = pq.ParquetFile(only).metadata
    groups = [meta.row_group(g) for g in range(meta.num_row_groups)]
    assert meta.num_rows == len(many) and len(groups) == -(-len(many) // 500)
    assert all(g.num_rows <= 500 for g in groups)
    # The one order sits in a row group whose min and max rule out every other group.
    type_column = meta.schema.names.index("event_type")
    stats = [g.column(type_column).statistics for g in groups]
    assert len([s for s in stats if s.min <= "order" <= s.max]) == 1


def test_late_events_of_a_compacted_day_are_compacted_again(tmp_path: Path) -> None:
    root = tmp_path / "events"
    write(root, mixed_day(1), batch=7)
    compaction.compact_log(root, before=date(2026, 3, 2))
    [first] = day_files(root, 1)
    late = [
        service.new_event(EventType.LIKE, occurred_at=at(23, day=1), consumer_id=2, session_id=11)
    ]
    write(root, late, batch=7)
    [late_file] = [p for p in day_files(root, 1) if p != first]
    [again] = compaction.compact_log(root, before=date(2026, 3, 2))
    assert (again.files, again.events) == (2, len(mixed_day(1)) + 1)
    [only] = day_files(root, 1)
    assert sorted(compacted_from(only) or []) == sorted(
        p.relative_to(root).as_posix() for p in (first, late_file)
    )


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_both_ways_of_swapping_a_day_give_the_same_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool
) -> None:
    root = tmp_path / "events"
    write(root, mixed_day(1), batch=4)
    before = rows(log_files(root))
    if not exchange:  # a file system without RENAME_EXCHANGE
        monkeypatch.setattr(compaction, "_exchange", lambda a, b: False)
    [done] = compaction.compact_log(root, before=date(2026, 3, 2))
    assert done.files > 1 and rows(log_files(root)) == before
    assert len(log_files(root)) == 1
    assert sorted(p.name for p in root.iterdir()) == [".maintenance.lock", "date=2026-03-01"]


def test_what_a_crash_leaves_is_cleared_and_a_day_put_aside_comes_back(tmp_path: Path) -> None:
    root = tmp_path / "events"
    write(root, mixed_day(1) + mixed_day(2), batch=4)
    before = rows(log_files(root))
    # A crash after the new file was staged: the staging folder is left, unused.
    staged = root / f"{compaction.STAGING_NEW}2026-03-01-abc"
    staged.mkdir()
    (staged / "part-compact-abc.parquet").write_bytes(b"half a file")
    # A crash between the two renames of the fallback: day 2 is aside, not in place.
    (root / "date=2026-03-02").rename(root / f"{compaction.STAGING_OLD}2026-03-02-def")
    assert len(rows(log_files(root))) < len(before)

    with log_lock(root, exclusive=True):
        compaction.recover(root)

    assert rows(log_files(root)) == before
    assert [p.name for p in day_folders(root)] == ["date=2026-03-01", "date=2026-03-02"]
    assert not [p for p in root.iterdir() if p.name.startswith(".compact")]


def test_writers_wait_while_a_day_is_swapped(tmp_path: Path) -> None:
    root = tmp_path / "events"
    write(root, mixed_day(1), batch=4)
    sink = ParquetEventSink(root, fsync=False)
    folder = root / "date=2026-03-01"
    written: list[Path] = []
    staged: list[list[Path]] = []

    def sink_write() -> None:
        written.append(sink._write_file(folder, mixed_day(1, consumers=1)))

    def import_batch() -> None:
        with StagedLogFiles(root, tag="t", fsync=False) as batch:
            batch.stage(mixed_day(1, consumers=1))
            staged.append(batch.publish())

    with log_lock(root, exclusive=True):
        threads = [threading.Thread(target=sink_write), threading.Thread(target=import_batch)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=0.5)
        # Both are blocked on the lock: nothing of theirs, not even a hidden file, is there.
        assert all(thread.is_alive() for thread in threads)
        assert not written and not staged
        assert not [p for p in folder.iterdir() if p.name.startswith(".")]
    for thread in threads:
        thread.join(timeout=30)
    assert written and staged and all(p.exists() for p in [*written, *staged[0]])


def test_erasure_keeps_a_compacted_file_compacted(tmp_path: Path) -> None:
    root = tmp_path / "events"
    write(root, mixed_day(1), batch=4)
    compaction.compact_log(root, before=date(2026, 3, 2))
    [only] = day_files(root, 1)
    names = compacted_from(only)
    assert service.erase_consumer_events(root, {2}, ["text"]) == 1
    assert compacted_from(only) == names
    table = pq.read_table(only, partitioning=None)
    order = [(r["event_type"], r["occurred_at"]) for r in table.to_pylist()]
    assert order == sorted(order)
    assert [r["text"] for r in table.to_pylist() if r["event_type"] == "chat"] == [
        "hello 1",
        None,
        "hello 3",
    ]


def test_the_job_compacts_days_ended_a_whole_day_ago(tmp_path: Path) -> None:
    root = tmp_path / "events"
    write(root, mixed_day(1) + mixed_day(2) + mixed_day(3), batch=5)

    class At:
        def now(self) -> datetime:
            return datetime(2026, 3, 3, 0, 30, tzinfo=UTC)  # day 2 ended 30 minutes ago

    report = asyncio.run(service.run_compaction_job(root, clock=At(), after_days=1))
    assert report["days"] == 1
    assert len(day_files(root, 1)) == 1
    assert len(day_files(root, 2)) > 1 and len(day_files(root, 3)) > 1


def test_the_cli_compacts_and_reports(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    root = data_dir / "events"
    write(root, mixed_day(1) + mixed_day(2), batch=5)
    events = len(mixed_day(1))

    result = runner.invoke(
        app, ["events", "compact", "--data-dir", str(data_dir), "--before", "2026-03-02", "--json"]
    )
    assert result.exit_code == 0, result.output
    [day] = json.loads(result.stdout)
    assert (day["day"], day["events"], day["files"]) == ("2026-03-01", events, events // 5 + 1)
    assert day["bytes_after"] < day["bytes_before"]

    table = runner.invoke(app, ["events", "compact", "--data-dir", str(data_dir)])
    assert table.exit_code == 0 and "2026-03-02" in table.stdout  # every closed day by default
    again = runner.invoke(app, ["events", "compact", "--data-dir", str(data_dir)])
    assert "nothing to compact" in again.stdout

    bad = runner.invoke(app, ["events", "compact", "--data-dir", str(data_dir), "--before", "x"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
