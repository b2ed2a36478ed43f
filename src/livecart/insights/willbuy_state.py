"""Incremental live features of the will-buy model: per session, tallies updated from new files.

The full recompute (`willbuy.build_rows` over the whole log) reads every event on every poll,
so its cost grows with the log. Here a `SessionTally` keeps, for one live session, what the
training SQL counts, as sums, minimums and maximums (all mergeable):

- per viewer in the session: watch seconds, first join, chat, likes, questions, clicks,
  detail views, carts, joins, leaves, orders and the last event's time;
- per consumer before the session started: the sets of order ids (any anchor, this anchor) and
  of this anchor's sessions watched (the history features count *distinct* ids).

A poll lists the log's day folders (one `stat` each), lists the files only of folders whose
modification time changed (a new part file is a rename into its folder), and aggregates only
the files it has not read, with the same SQL expressions as `willbuy._rows_sql`. A file is read
up to the poll's `now`; a file holding events after `now` (another worker's clock ahead) stays
pending and is read again later for the events in (`read up to`, `now`]. If a file already
read changed or vanished (privacy erasure rewrites part files), the tally is rebuilt from the
whole log, except when a compacted day replaced files that were all read to their end: the
compacted file then counts as read. The first poll of a session reads the whole log once.

`rows` turns a tally into the same `willbuy.Rows` that `build_rows` makes for one cut-off
(tests/unit/test_insights_willbuy_live.py checks they are equal after new events).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from livecart.insights import willbuy

# A folder modified this recently (seconds, by the wall clock) is listed again even if its
# modification time equals the one seen: a file renamed into it within the file system's
# timestamp granularity would otherwise be missed.
RECENT_FOLDER_SECONDS = 2.0
NEG_INFINITY = "-infinity"

# Counters summed per viewer in the session, in `willbuy.FEATURES` order where they are features.
COUNTERS = (
    "messages",
    "likes",
    "questions",
    "product_clicks",
    "detail_views",
    "carts",
    "joins",
    "leaves",
    "orders",
)


@dataclass
class ViewerTally:
    """One viewer's events in the session so far (what `willbuy._rows_sql` aggregates)."""

    watch_seconds: float = 0.0
    first_join: datetime | None = None
    last_seen: datetime | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))


@dataclass
class History:
    """One consumer's distinct orders and sessions of this anchor before the session started."""

    orders: set[int] = field(default_factory=set)
    orders_with_anchor: set[int] = field(default_factory=set)
    sessions_with_anchor: set[int] = field(default_factory=set)


@dataclass
class FileMark:
    """A log file read: its identity, how far it was read, and its latest event."""

    mtime_ns: int
    size: int
    read_upto: datetime
    latest: datetime | None


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


class SessionTally:
    """Live features of one session's viewers, kept up to date from the log's new files."""

    def __init__(self, root: Path, *, session_id: int, anchor_id: int, started: datetime) -> None:
        self.root = root
        self.session_id = session_id
        self.anchor_id = anchor_id
        self.started = started.astimezone(UTC)
        self.viewers: dict[int, ViewerTally] = {}
        self.history: dict[int, History] = {}
        self.files: dict[str, FileMark] = {}
        self.folders: dict[str, int] = {}  # day folder -> mtime_ns when last listed
        self.listed: dict[str, dict[str, tuple[int, int]]] = {}  # folder -> files: (mtime, size)
        self.files_read = 0  # files aggregated by the last `update` (for tests and the bench)
        self.rebuilds = 0
        self._con: duckdb.DuckDBPyConnection | None = None

    def close(self) -> None:
        """Close the tally's DuckDB connection (an in-memory database)."""
        if self._con is not None:
            self._con.close()
            self._con = None

    def _reset(self) -> None:
        self.viewers.clear()
        self.history.clear()
        self.files.clear()
        self.folders.clear()
        self.listed.clear()
        self.rebuilds += 1

    def _current_files(self) -> dict[str, tuple[int, int]]:
        """Every complete part file with (mtime_ns, size); only changed folders are listed."""
        out: dict[str, tuple[int, int]] = {}
        if not self.root.is_dir():
            return out
        wall_ns = datetime.now(UTC).timestamp() * 1e9
        seen: set[str] = set()
        with os.scandir(self.root) as entries:
            for entry in entries:
                if not entry.name.startswith("date=") or not entry.is_dir():
                    continue
                seen.add(entry.path)
                mtime = entry.stat().st_mtime_ns
                recent = wall_ns - mtime < RECENT_FOLDER_SECONDS * 1e9
                if recent or self.folders.get(entry.path) != mtime:
                    # A new, rewritten or removed part file is a rename in this folder.
                    listed: dict[str, tuple[int, int]] = {}
                    with os.scandir(entry.path) as parts:
                        for part in parts:
                            if part.name.startswith(".") or not part.name.endswith(".parquet"):
                                continue
                            try:
                                stat = part.stat()
                            except FileNotFoundError:
                                continue
                            listed[part.path] = (stat.st_mtime_ns, stat.st_size)
                    self.listed[entry.path] = listed
                    self.folders[entry.path] = mtime
                out.update(self.listed[entry.path])
        for gone in set(self.folders) - seen:
            del self.folders[gone]
            self.listed.pop(gone, None)
        return out

    def update(self, now: datetime) -> None:
        """Read what the log gained since the last update, up to `now`."""
        now = now.astimezone(UTC)
        current = self._current_files()
        self._follow_compaction(current)
        if any(current.get(k) != (m.mtime_ns, m.size) for k, m in self.files.items()):
            # A file read before was rewritten or removed (privacy erasure): start again.
            self._reset()
            current = self._current_files()
        todo: list[tuple[str, str]] = []  # (file, read events after)
        for key in sorted(current):
            mark = self.files.get(key)
            if mark is None:
                todo.append((key, NEG_INFINITY))
            elif mark.latest is not None and mark.latest > mark.read_upto and now > mark.read_upto:
                todo.append((key, mark.read_upto.isoformat()))
        self.files_read = len(todo)
        if not todo:
            return
        if self._con is None:  # opening DuckDB costs more than reading one small file
            self._con = duckdb.connect()
            self._con.execute("SET TimeZone = 'UTC'")
        latest = self._aggregate(self._con, todo, now)
        for key, _after in todo:
            previous = self.files.get(key)
            mtime_ns, size = current[key]
            self.files[key] = FileMark(
                mtime_ns=mtime_ns,
                size=size,
                read_upto=now,
                latest=latest.get(key, previous.latest if previous else None),
            )

    def _follow_compaction(self, current: dict[str, tuple[int, int]]) -> None:
        """A compacted day (events.compaction) holds the events of the files it replaced:
        when every one of them was read to its end, the new file takes their place as read,
        so compaction costs no rebuild. Otherwise the replaced files count as removed."""
        from livecart.events.sink import compacted_from

        for key in sorted(set(current) - set(self.files)):
            try:
                replaced = compacted_from(Path(key))
            except OSError:  # compacted again since it was listed: the next poll sees it
                continue
            if not replaced:
                continue
            marks = [self.files.get(str(self.root / name)) for name in replaced]
            read = [m for m in marks if m is not None]
            if len(read) < len(marks) or any(
                m.latest is not None and m.latest > m.read_upto for m in read
            ):
                continue
            for name in replaced:
                del self.files[str(self.root / name)]
            latest = [m.latest for m in read if m.latest is not None]
            mtime_ns, size = current[key]
            self.files[key] = FileMark(
                mtime_ns=mtime_ns,
                size=size,
                read_upto=max(m.read_upto for m in read),
                latest=max(latest) if latest else None,
            )

    def _aggregate(
        self, con: duckdb.DuckDBPyConnection, todo: list[tuple[str, str]], now: datetime
    ) -> dict[str, datetime]:
        """Add the events of `todo` (after each file's bound, up to `now`); each file's latest."""
        files = "[" + ", ".join(_quote(path) for path, _ in todo) + "]"
        bounds = ", ".join(["(?, ?::TIMESTAMPTZ)"] * len(todo))
        # Only quoted file names (our own listing) and placeholders are put into the text.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE raw AS SELECT consumer_id AS viewer, session_id, "  # noqa: S608
            "anchor_id, event_type, occurred_at, watch_seconds, order_id, text, filename "
            f"FROM read_parquet({files}, union_by_name = true, filename = true)"
        )
        latest = {
            str(name): willbuy._from_us(latest)
            for name, latest in con.execute(
                "SELECT filename, epoch_us(max(occurred_at)) FROM raw GROUP BY filename"
            ).fetchall()
            if latest is not None
        }
        con.execute(
            "CREATE OR REPLACE TEMP TABLE ev AS SELECT r.* EXCLUDE (filename) FROM raw r "  # noqa: S608
            f"JOIN (VALUES {bounds}) b(filename, after) USING (filename) "
            "WHERE r.viewer IS NOT NULL AND r.occurred_at > b.after "
            "AND r.occurred_at <= ?::TIMESTAMPTZ",
            [value for pair in todo for value in pair] + [now.isoformat()],
        )
        in_session = con.execute(
            f"""
            SELECT viewer,
              coalesce(sum(watch_seconds) FILTER (WHERE event_type IN ('heartbeat', 'leave')), 0),
              epoch_us(min(occurred_at) FILTER (WHERE event_type = 'join')),
              epoch_us(max(occurred_at)),
              count(*) FILTER (WHERE event_type = 'chat'),
              count(*) FILTER (WHERE event_type = 'like'),
              count(*) FILTER (WHERE event_type = 'chat' AND {willbuy._question_sql("text")}),
              count(*) FILTER (WHERE event_type = 'product_click'),
              count(*) FILTER (WHERE event_type = 'detail_view'),
              count(*) FILTER (WHERE event_type = 'add_to_cart'),
              count(*) FILTER (WHERE event_type = 'join'),
              count(*) FILTER (WHERE event_type = 'leave'),
              count(*) FILTER (WHERE event_type = 'order')
            FROM ev WHERE session_id = ? GROUP BY viewer
            """,  # noqa: S608
            [self.session_id],
        ).fetchall()
        for row in in_session:
            tally = self.viewers.setdefault(int(row[0]), ViewerTally())
            tally.watch_seconds += float(row[1])
            first_join = None if row[2] is None else willbuy._from_us(row[2])
            tally.first_join = _earlier(tally.first_join, first_join)
            tally.last_seen = _later(tally.last_seen, willbuy._from_us(row[3]))
            for name, value in zip(COUNTERS, row[4:], strict=True):
                tally.counts[name] += int(value)
        past = con.execute(
            "SELECT viewer, "
            "list(DISTINCT order_id) FILTER (WHERE event_type = 'order' AND order_id IS NOT NULL), "
            "list(DISTINCT order_id) FILTER (WHERE event_type = 'order' AND order_id IS NOT NULL "
            "  AND anchor_id = ?), "
            "list(DISTINCT session_id) FILTER (WHERE anchor_id = ? AND session_id IS NOT NULL "
            "  AND event_type IN ('join', 'heartbeat', 'leave')) "
            "FROM ev WHERE occurred_at < ?::TIMESTAMPTZ GROUP BY viewer",
            [self.anchor_id, self.anchor_id, self.started.isoformat()],
        ).fetchall()
        for viewer, orders, with_anchor, sessions in past:
            if not (orders or with_anchor or sessions):
                continue
            history = self.history.setdefault(int(viewer), History())
            history.orders.update(orders or ())
            history.orders_with_anchor.update(with_anchor or ())
            history.sessions_with_anchor.update(sessions or ())
        return latest

    def watching(self, now: datetime, stale_seconds: float | None) -> list[int]:
        """Viewers watching at `now` who have not ordered, as `willbuy._rows_sql` decides."""
        out = []
        for viewer, tally in self.viewers.items():
            c = tally.counts
            if c["joins"] <= c["leaves"] or c["orders"] or viewer == self.anchor_id:
                continue
            if stale_seconds is not None and tally.last_seen is not None:
                if (now - tally.last_seen).total_seconds() > stale_seconds:
                    continue
            out.append(viewer)
        return sorted(out)

    def rows(
        self,
        now: datetime,
        *,
        stale_seconds: float | None,
        clv_scores: dict[int, tuple[float, float]],
    ) -> willbuy.Rows:
        """The rows of the viewers watching at `now`, as `willbuy.build_rows` makes them."""
        now = now.astimezone(UTC)
        viewers = self.watching(now, stale_seconds)
        features = np.full((len(viewers), len(willbuy.FEATURES)), willbuy.UNKNOWN_SCORE)
        for i, viewer in enumerate(viewers):
            tally = self.viewers[viewer]
            c = tally.counts
            since = (
                math.nan if tally.first_join is None else (now - tally.first_join).total_seconds()
            )
            history = self.history.get(viewer, History())
            features[i, :11] = [
                tally.watch_seconds,
                since,
                c["messages"],
                c["likes"],
                c["questions"],
                c["product_clicks"],
                c["detail_views"],
                c["carts"],
                len(history.orders),
                len(history.orders_with_anchor),
                len(history.sessions_with_anchor),
            ]
            score = clv_scores.get(viewer)
            if score is not None:
                features[i, 11:] = score
        return willbuy.Rows(
            session_id=np.full(len(viewers), self.session_id, dtype=np.int64),
            viewer=np.array(viewers, dtype=np.int64),
            cutoff=[now] * len(viewers),
            session_start=[self.started] * len(viewers),
            features=features,
            label=np.zeros(len(viewers), dtype=np.int64),
        )


def clv_scores_for(
    root: Path, day: date, cache: dict[date, dict[int, tuple[float, float]]]
) -> dict[int, tuple[float, float]]:
    """The customer-base scores of `day` (one BG/NBD fit on earlier orders), fitted once."""
    if day not in cache:
        con = willbuy.connect(root)
        try:
            fresh = willbuy._customer_base_scores(con, [day])
        finally:
            con.close()
        cache[day] = {v: s for (d, v), s in fresh.items() if d == day}
    return cache[day]


def describe(tally: SessionTally) -> dict[str, Any]:
    """Size of a tally (the bench prints it)."""
    return {
        "viewers": len(tally.viewers),
        "consumers_with_history": len(tally.history),
        "files": len(tally.files),
        "files_read_last": tally.files_read,
        "rebuilds": tally.rebuilds,
    }
