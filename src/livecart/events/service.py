"""Recording behaviour events (from any domain and from browsers) and reading the log back."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from livecart.accounts.schemas import Identity
from livecart.core.clock import Clock
from livecart.core.db import UnitOfWork
from livecart.core.ratelimit import KeyedBuckets
from livecart.events import compaction
from livecart.events.errors import AnonymousIdRequired, ClientEventsThrottled, EventLogEmpty
from livecart.events.schemas import (
    BehaviourEvent,
    ClientEventsIn,
    EventCount,
    EventType,
    WatchTime,
)
from livecart.events.sink import EventSink, events_view_sql, log_files, log_lock, write_log_table

if TYPE_CHECKING:
    import duckdb

# The queries below are documented word for word in docs/events.md (a test compares them).
# Each reads the view `events`, which `events_view_sql(root)` creates over the Parquet log.

WATCH_TIME_PER_CONSUMER_SQL = """
SELECT
    consumer_id,
    sum(watch_seconds) AS watch_seconds,
    count(DISTINCT session_id) AS sessions
FROM events
WHERE event_type IN ('heartbeat', 'leave')
  AND source <> 'client'
  AND consumer_id IS NOT NULL
  AND watch_seconds IS NOT NULL
GROUP BY consumer_id
ORDER BY watch_seconds DESC, consumer_id
""".strip()

WATCH_TIME_PER_CONSUMER_AND_SESSION_SQL = """
SELECT
    consumer_id,
    session_id,
    sum(watch_seconds) AS watch_seconds
FROM events
WHERE event_type IN ('heartbeat', 'leave')
  AND source <> 'client'
  AND consumer_id IS NOT NULL
  AND watch_seconds IS NOT NULL
GROUP BY consumer_id, session_id
ORDER BY consumer_id, session_id
""".strip()

# The per-session query narrowed to one session (the CLI's --session-id).
WATCH_TIME_IN_SESSION_SQL = """
SELECT
    consumer_id,
    sum(watch_seconds) AS watch_seconds,
    count(DISTINCT session_id) AS sessions
FROM events
WHERE event_type IN ('heartbeat', 'leave')
  AND source <> 'client'
  AND consumer_id IS NOT NULL
  AND watch_seconds IS NOT NULL
  AND session_id = ?
GROUP BY consumer_id
ORDER BY watch_seconds DESC, consumer_id
""".strip()

EVENTS_PER_DAY_SQL = """
SELECT
    date AS day,
    event_type,
    count(*) AS events
FROM events
GROUP BY day, event_type
ORDER BY day, event_type
""".strip()


@runtime_checkable
class HasEventSink(Protocol):
    """Anything holding the process's event sink (the container)."""

    events: EventSink


def new_event(
    event_type: EventType | str, *, occurred_at: datetime, **fields: Any
) -> BehaviourEvent:
    """A behaviour event with a fresh id; `fields` are BehaviourEvent's other fields."""
    return BehaviourEvent(
        event_id=uuid.uuid4().hex,
        event_type=EventType(event_type),
        occurred_at=occurred_at,
        **fields,
    )


def _sink(target: EventSink | HasEventSink) -> EventSink:
    return target.events if isinstance(target, HasEventSink) else target


def emit(target: EventSink | HasEventSink, *events: BehaviourEvent) -> None:
    """Hand events to the sink now (outside any transaction, e.g. socket presence)."""
    sink = _sink(target)
    for event in events:
        sink.emit(event)


def emit_after_commit(
    uow: UnitOfWork, target: EventSink | HasEventSink, *events: BehaviourEvent
) -> None:
    """Record events once the unit of work commits; a rollback records nothing."""
    sink = _sink(target)

    async def record() -> None:
        for event in events:
            sink.emit(event)

    uow.after_commit(record)


async def accept_client_events(
    *,
    sink: EventSink | HasEventSink,
    limits: KeyedBuckets,
    clock: Clock,
    identity: Identity | None,
    client_key: str,
    batch: ClientEventsIn,
) -> int:
    """Record a browser's events at the server's time, as the signed-in consumer if any."""
    missing = [i for i, item in enumerate(batch.events) if item.anonymous_id is None]
    if identity is None and missing:
        raise AnonymousIdRequired(
            "anonymous_id is required when not signed in", details={"events": missing}
        )
    now = clock.now()
    key = f"user:{identity.id}" if identity is not None else f"ip:{client_key}"
    wait = limits.take(key, now.timestamp())
    if wait > 0:
        raise ClientEventsThrottled("too many event reports; slow down", retry_after=wait)
    events = [
        new_event(
            item.type,
            occurred_at=now,
            source="client",
            consumer_id=identity.id if identity is not None else None,
            anonymous_id=str(item.anonymous_id) if item.anonymous_id is not None else None,
            session_id=item.session_id,
            product_id=item.product_id,
            sku_id=item.sku_id,
            properties=dict(item.properties),
        )
        for item in batch.events
    ]
    emit(sink, *events)
    return len(events)


def open_log(root: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the view `events` over the log at root."""
    import duckdb

    if not log_files(root):
        raise EventLogEmpty(
            f"the event log at {root} has no events yet", details={"root": str(root)}
        )
    connection = duckdb.connect()
    connection.execute(events_view_sql(root))
    return connection


def watch_time(root: Path, *, session_id: int | None = None) -> list[WatchTime]:
    """Watch time per consumer from the log, over every session or one."""
    with open_log(root) as connection:
        if session_id is None:
            rows = connection.execute(WATCH_TIME_PER_CONSUMER_SQL).fetchall()
        else:
            rows = connection.execute(WATCH_TIME_IN_SESSION_SQL, [session_id]).fetchall()
    return [
        WatchTime(consumer_id=consumer, watch_seconds=float(seconds), sessions=sessions)
        for consumer, seconds, sessions in rows
    ]


def event_counts(root: Path) -> list[EventCount]:
    """Events per UTC day and type in the log."""
    with open_log(root) as connection:
        rows = connection.execute(EVENTS_PER_DAY_SQL).fetchall()
    return [EventCount(day=day, event_type=kind, events=n) for day, kind, n in rows]


# A privacy export: the events of one consumer.
CONSUMER_EVENTS_SQL = """
SELECT *
FROM events
WHERE consumer_id = ?
ORDER BY occurred_at, event_id
""".strip()


def consumer_events(root: Path, consumer_id: int) -> list[dict[str, Any]]:
    """Every event of one consumer in the log, oldest first (a privacy export); [] if none."""
    if not log_files(root):
        return []
    with open_log(root) as connection:
        # Through Arrow: DuckDB's own Python rows need pytz for timestamps with a time zone.
        relation = connection.sql(CONSUMER_EVENTS_SQL, params=[consumer_id])
        assert relation is not None  # a SELECT always has a result
        rows: list[dict[str, Any]] = relation.to_arrow_table().to_pylist()
    return rows


def erase_consumer_events(root: Path, consumer_ids: Collection[int], fields: list[str]) -> int:
    """Null `fields` in every logged event of these consumers; returns the events changed.

    Parquet files cannot be updated in place, so each file holding such an event is rewritten
    under a hidden name and renamed over the old one (readers see the old file or the new,
    never half of one). The log's lock, held exclusively, keeps two erasures (other workers, a
    retry) or an erasure and a compaction from rewriting the same file from the same old copy,
    and writers from adding files meanwhile. Only the `consumer_id` column of the other files
    is read. A rewritten file keeps its metadata (what a compacted file replaced) and its row
    order.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    files = log_files(root)
    if not files or not consumer_ids:
        return 0
    wanted = pa.array(sorted(set(consumer_ids)), pa.int64())
    changed = 0
    with log_lock(root, exclusive=True):
        for path in log_files(root):
            ids = pq.read_table(path, columns=["consumer_id"], partitioning=None)["consumer_id"]
            if not pc.any(pc.is_in(ids, value_set=wanted)).as_py():
                continue
            table = pq.read_table(path, partitioning=None)
            mine = pc.is_in(table["consumer_id"], value_set=wanted)
            present = [name for name in fields if name in table.column_names]
            held = [pc.and_(mine, pc.is_valid(table[name])) for name in present]
            count = int(pc.sum(reduce(pc.or_, held)).as_py() or 0) if held else 0
            if not count:
                continue
            for name in present:
                column = table[name]
                blank = pa.nulls(len(table), column.type)
                table = table.set_column(
                    table.schema.get_field_index(name), name, pc.if_else(mine, blank, column)
                )
            _replace_file(path, table)
            changed += count
    return changed


def _replace_file(path: Path, table: Any) -> None:
    tmp = path.with_name(f".{path.name}.erase.tmp")
    try:
        with tmp.open("wb") as handle:
            write_log_table(handle, table)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def closed_before(now: datetime, *, after_days: int) -> date:
    """The first day not yet closed: days before it ended at least `after_days` whole days
    before now (UTC)."""
    return now.astimezone(UTC).date() - timedelta(days=after_days)


def compact_closed_days(
    root: Path, *, now: datetime, after_days: int = 1, step: compaction.Step | None = None
) -> list[compaction.CompactedDay]:
    """Compact every closed day of the log (`closed_before`), oldest first (see
    events.compaction): a day is rewritten once, when it is closed, and again only if late
    events were added to it."""
    return compaction.compact_log(root, before=closed_before(now, after_days=after_days), step=step)


async def run_compaction_job(root: Path, *, clock: Clock, after_days: int = 1) -> dict[str, int]:
    """The periodic compaction of closed days (in a thread: it reads and writes files)."""
    days = await asyncio.to_thread(
        compact_closed_days, root, now=clock.now(), after_days=after_days
    )
    return {"days": len(days), "files": sum(d.files for d in days)}
