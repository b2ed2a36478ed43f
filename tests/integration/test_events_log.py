"""The Parquet behaviour-event log: written through the real sink, read back with the
DuckDB queries exactly as docs/events.md documents them."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow.parquet as pq
import pytest

from livecart.bootstrap import Container
from livecart.events import service
from livecart.events.schemas import EVENT_ARROW_SCHEMA, BehaviourEvent, EventType
from livecart.events.sink import (
    ParquetEventSink,
    event_days,
    events_view_sql,
    log_files,
    read_events_sql,
    write_log_table,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def doc_sql(name: str) -> str:
    """The ```sql block following the `<!-- sql:name -->` marker in docs/events.md."""
    text = DOC.read_text(encoding="utf-8")
    found = re.search(rf"<!-- sql:{re.escape(name)} -->\s*```sql\n(.*?)```", text, re.S)
    assert found, f"no sql block marked {name} in {DOC}"
    return found.group(1).strip()


def connect(root: Path) -> duckdb.DuckDBPyConnection:
    """DuckDB with the view `events` created from the documented view statement."""
    connection = duckdb.connect()
    view = doc_sql("events-view").replace("'var/events/", "'" + root.as_posix() + "/")
    connection.execute(view)
    return connection


def at(hour: int, minute: int = 0, second: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def viewing(
    consumer_id: int, session_id: int, start: datetime, beats: int, tail: float, beat: float = 30
) -> list[BehaviourEvent]:
    """What the gateway records for one connection: join, heartbeats, leave."""
    events = [
        service.new_event(
            EventType.JOIN, occurred_at=start, consumer_id=consumer_id, session_id=session_id
        )
    ]
    for i in range(1, beats + 1):
        events.append(
            service.new_event(
                EventType.HEARTBEAT,
                occurred_at=start + timedelta(seconds=beat * i),
                consumer_id=consumer_id,
                session_id=session_id,
                watch_seconds=beat,
            )
        )
    events.append(
        service.new_event(
            EventType.LEAVE,
            occurred_at=start + timedelta(seconds=beat * beats + tail),
            consumer_id=consumer_id,
            session_id=session_id,
            watch_seconds=tail,
        )
    )
    return events


def test_documented_queries_are_the_ones_the_code_runs() -> None:
    assert doc_sql("watch-time-per-consumer") == service.WATCH_TIME_PER_CONSUMER_SQL
    assert (
        doc_sql("watch-time-per-consumer-and-session")
        == service.WATCH_TIME_PER_CONSUMER_AND_SESSION_SQL
    )
    assert doc_sql("events-per-day") == service.EVENTS_PER_DAY_SQL


def test_every_schema_column_is_documented() -> None:
    from livecart.events.schemas import EVENT_ARROW_SCHEMA, EventType

    text = DOC.read_text(encoding="utf-8")
    for name in [*EVENT_ARROW_SCHEMA.names, "date"]:
        assert f"| `{name}` |" in text, name
    for kind in EventType:
        assert f"| `{kind.value}` |" in text, kind


async def test_watch_time_per_consumer_with_the_documented_query(tmp_path: Path) -> None:
    root = tmp_path / "events"
    sink = ParquetEventSink(root, batch_size=1000, flush_seconds=60)
    emitted = [
        *viewing(1, 10, at(12), beats=4, tail=12.5),  # 132.5 s
        *viewing(1, 11, at(14), beats=0, tail=7.0),  # 7 s, a second session
        *viewing(2, 10, at(12, 1), beats=10, tail=0.5),  # 300.5 s
        *viewing(3, 10, at(12, 2), beats=1, tail=29.0),  # 59 s
    ]
    # Not counted: chat and clicks carry no watch time; client heartbeats and anonymous
    # viewers are not server-measured consumer time.
    emitted += [
        service.new_event(
            EventType.CHAT, occurred_at=at(12, 3), consumer_id=1, session_id=10, text="hi"
        ),
        service.new_event(
            EventType.HEARTBEAT,
            occurred_at=at(12, 4),
            consumer_id=3,
            session_id=10,
            source="client",
            watch_seconds=1000.0,
        ),
        service.new_event(
            EventType.LEAVE,
            occurred_at=at(12, 5),
            anonymous_id="9f1c",
            session_id=10,
            watch_seconds=80.0,
        ),
    ]
    for event in emitted:
        sink.emit(event)
    assert log_files(root) == []
    assert await sink.flush() == len(emitted)
    assert sink.pending == 0

    with connect(root) as db:
        rows = db.execute(doc_sql("watch-time-per-consumer")).fetchall()
        assert [(c, pytest.approx(s), n) for c, s, n in rows] == [
            (2, 300.5, 1),
            (1, 139.5, 2),
            (3, 59.0, 1),
        ]
        per_session = db.execute(doc_sql("watch-time-per-consumer-and-session")).fetchall()
        assert per_session == [(1, 10, 132.5), (1, 11, 7.0), (2, 10, 300.5), (3, 10, 59.0)]
        assert db.execute("SELECT count(*) FROM events").fetchone() == (len(emitted),)
        ids = {row[0] for row in db.execute("SELECT event_id FROM events").fetchall()}
        assert ids == {e.event_id for e in emitted}

    assert [w.model_dump() for w in service.watch_time(root, session_id=11)] == [
        {"consumer_id": 1, "watch_seconds": 7.0, "sessions": 1}
    ]


async def test_rows_round_trip_every_column(tmp_path: Path) -> None:
    root = tmp_path / "events"
    sink = ParquetEventSink(root)
    event = service.new_event(
        "order",
        occurred_at=at(9, 30, 15),
        consumer_id=5,
        anonymous_id="a-b",
        session_id=2,
        room_id=3,
        anchor_id=4,
        product_id=6,
        sku_id=7,
        order_id=8,
        quantity=2,
        amount=12_990,
        currency="CNY",
        properties={"coupon": "SPRING", "n": 1},
    )
    sink.emit(event)
    await sink.flush()
    with duckdb.connect() as db:
        db.execute(events_view_sql(root))
        row = db.execute(
            "SELECT event_type, epoch_us(occurred_at), consumer_id, anonymous_id, session_id, room_id,"
            " anchor_id, product_id, sku_id, order_id, quantity, amount, currency,"
            " watch_seconds, text, source, json_extract_string(properties, '$.coupon'), date"
            " FROM events"
        ).fetchone()
    assert row is not None
    assert row[0] == "order" and row[1] == int(event.occurred_at.timestamp() * 1_000_000)
    assert row[2:] == (5, "a-b", 2, 3, 4, 6, 7, 8, 2, 12_990, "CNY", None, None, "server",
                       "SPRING", at(0).date())  # fmt: skip


async def test_events_of_two_utc_days_land_in_two_partitions(tmp_path: Path) -> None:
    root = tmp_path / "events"
    sink = ParquetEventSink(root)
    before = at(23, 59, 59, day=1)
    after = before + timedelta(seconds=2)
    for moment in (before, after, before):
        sink.emit(service.new_event(EventType.LIKE, occurred_at=moment, consumer_id=1))
    # A time given in another zone is filed under its UTC day.
    east = after.astimezone(ZoneInfo("Asia/Shanghai"))
    sink.emit(service.new_event(EventType.LIKE, occurred_at=east, consumer_id=2))
    assert await sink.flush() == 4

    folders = sorted(p.name for p in root.iterdir() if not p.name.startswith("."))  # no lock
    assert folders == ["date=2026-03-01", "date=2026-03-02"]
    assert pq.read_table(next((root / "date=2026-03-01").glob("*.parquet"))).num_rows == 2
    assert not list(root.rglob("*.tmp"))
    with duckdb.connect() as db:
        db.execute(f"CREATE VIEW events AS SELECT * FROM {read_events_sql(root)}")
        counts = db.execute(doc_sql("events-per-day")).fetchall()
    assert counts == [(before.date(), "like", 2), (after.date(), "like", 2)]


async def test_the_first_and_latest_event_days_come_from_the_day_folders(
    tmp_path: Path,
) -> None:
    root = tmp_path / "events"
    assert event_days(log_files(root)) is None
    sink = ParquetEventSink(root)
    for day in (2, 3, 5):
        sink.emit(service.new_event(EventType.LIKE, occurred_at=at(12, day=day), consumer_id=1))
    await sink.flush()
    assert event_days(log_files(root)) == (at(0, day=2).date(), at(0, day=5).date())
    # A day whose events were all erased keeps an empty file: it holds no event.
    for day in (1, 6):
        folder = root / f"date=2026-03-0{day}"
        folder.mkdir()
        with (folder / "part-000000000000-empty.parquet").open("wb") as handle:
            write_log_table(handle, EVENT_ARROW_SCHEMA.empty_table())
    assert event_days(log_files(root)) == (at(0, day=2).date(), at(0, day=5).date())
    assert event_days([p for p in log_files(root) if "empty" in p.name]) is None


async def test_aclose_writes_what_is_buffered(tmp_path: Path) -> None:
    root = tmp_path / "events"
    sink = ParquetEventSink(root, batch_size=1000, flush_seconds=3600)
    await sink.start()
    events = viewing(7, 1, at(10), beats=2, tail=3.0)
    for event in events:
        sink.emit(event)
    assert log_files(root) == []
    await sink.aclose()
    assert sink.pending == 0 and sink.written == len(events)
    assert [w.watch_seconds for w in service.watch_time(root)] == [63.0]


async def test_a_failed_write_keeps_the_events_for_the_next_flush(tmp_path: Path) -> None:
    root = tmp_path / "events"
    root.mkdir()
    blocker = root / "date=2026-03-01"
    blocker.write_text("a file where the day's folder should be")
    sink = ParquetEventSink(root)
    sink.emit(service.new_event(EventType.LIKE, occurred_at=at(8), consumer_id=1))
    sink.emit(service.new_event(EventType.LIKE, occurred_at=at(8, day=2), consumer_id=2))
    sink.emit(service.new_event(EventType.LIKE, occurred_at=at(9), consumer_id=3))

    assert await sink.flush() == 1  # the second day is fine and written once
    assert sink.pending == 2 and sink.failures == 1
    assert [e.consumer_id for e in sink._buffer] == [1, 3]

    blocker.unlink()
    sink.emit(service.new_event(EventType.LIKE, occurred_at=at(10), consumer_id=4))
    assert await sink.flush() == 3
    with duckdb.connect() as db:
        db.execute(events_view_sql(root))
        got = db.execute("SELECT consumer_id FROM events ORDER BY occurred_at").fetchall()
    assert got == [(1,), (3,), (4,), (2,)]
    assert not list(root.rglob("*.tmp"))


async def _until(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_a_full_batch_is_written_without_waiting_for_the_timer(tmp_path: Path) -> None:
    root = tmp_path / "events"
    sink = ParquetEventSink(root, batch_size=3, flush_seconds=3600)
    await sink.start()
    try:
        for i in range(2):
            sink.emit(service.new_event(EventType.LIKE, occurred_at=at(8, i), consumer_id=i))
        await asyncio.sleep(0.05)
        assert log_files(root) == []  # below the batch size, the hour-long timer holds it
        sink.emit(service.new_event(EventType.LIKE, occurred_at=at(8, 3), consumer_id=3))
        await _until(lambda: sink.written == 3)
        assert len(log_files(root)) == 1
    finally:
        await sink.aclose()


async def test_the_timer_writes_a_partial_batch(tmp_path: Path) -> None:
    root = tmp_path / "events"
    sink = ParquetEventSink(root, batch_size=1000, flush_seconds=0.05)
    await sink.start()
    try:
        sink.emit(service.new_event(EventType.LIKE, occurred_at=at(8), consumer_id=1))
        await _until(lambda: sink.written == 1)
    finally:
        await sink.aclose()
    assert len(log_files(root)) == 1


async def test_an_unstarted_sink_still_writes_full_batches(tmp_path: Path) -> None:
    root = tmp_path / "events"
    sink = ParquetEventSink(root, batch_size=2, flush_seconds=3600)
    for i in range(5):
        sink.emit(service.new_event(EventType.LIKE, occurred_at=at(8, i), consumer_id=i))
    await _until(lambda: sink.written >= 2)
    await sink.aclose()
    assert sink.written == 5 and sink.pending == 0


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        service.new_event(EventType.LIKE, occurred_at=datetime(2026, 1, 1))


async def test_events_are_recorded_only_when_the_unit_of_work_commits(
    container: Container, any_backend: str
) -> None:
    now = container.clock.now()
    kept = service.new_event(EventType.ADD_TO_CART, occurred_at=now, consumer_id=1, quantity=2)
    dropped = service.new_event(EventType.ORDER, occurred_at=now, consumer_id=1, order_id=9)

    async with container.uow() as uow:
        service.emit_after_commit(uow, container, dropped)
        await uow.rollback()
    async with container.uow() as uow:
        service.emit_after_commit(uow, container.events, kept)
        assert container.events.pending == 0  # type: ignore[attr-defined]
        await uow.commit()
    with pytest.raises(RuntimeError):
        async with container.uow() as uow:
            service.emit_after_commit(uow, container, dropped)
            raise RuntimeError("the request failed")

    await container.events.flush()
    with duckdb.connect() as db:
        db.execute(events_view_sql(container.settings.event_log_dir))
        rows = db.execute("SELECT event_id, event_type, quantity FROM events").fetchall()
    assert rows == [(kept.event_id, "add_to_cart", 2)]
