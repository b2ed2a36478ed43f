"""The behaviour-event sink: buffers events and writes them to a Parquet log in batches.

Layout: `root/date=YYYY-MM-DD/part-<first event time>-<random>.parquet`, one file per flush and
UTC day (Hive partitioning, so DuckDB and Spark see a `date` column). A file is written under
a hidden temporary name, synced and renamed, so readers never see half a file.
`StagedLogFiles` writes a batch (an import) the same way, all its files or none.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from livecart.events.schemas import BehaviourEvent

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import pyarrow as pa

PARTITION_GLOB = "date=*/*.parquet"
# Held shared by every writer of the log (the sink, an import) while it writes, and
# exclusively by what rewrites files (erasure, compaction), so they never cross.
LOCK_FILE = ".maintenance.lock"
# Rows per Parquet row group: row groups are what a reader skips by their min and max.
ROW_GROUP_ROWS = 65_536
# Key of a compacted file's metadata: the files it replaced (events.compaction).
COMPACTED_FROM = b"livecart.compacted_from"


class EventSink(Protocol):
    """Takes behaviour events; durable some time after emit, always after flush."""

    def emit(self, event: BehaviourEvent) -> None: ...

    async def flush(self) -> int: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


def partition_dir(root: Path, event: BehaviourEvent) -> Path:
    """The folder an event is written to: its UTC day."""
    return root / f"date={event.day.isoformat()}"


@contextlib.contextmanager
def log_lock(root: Path, *, exclusive: bool) -> Iterator[None]:
    """The log's lock (LOCK_FILE), shared or exclusive, until the block ends."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield  # closing the file releases the lock


def write_log_table(handle: IO[bytes], table: pa.Table) -> None:
    """Write a table of events as a log file (zstd, ROW_GROUP_ROWS rows per group)."""
    import pyarrow.parquet as pq

    pq.write_table(table, handle, compression="zstd", row_group_size=ROW_GROUP_ROWS)


def compacted_from(path: Path) -> list[str] | None:
    """The files a compacted file replaced (relative to the log root); None for a file the
    sink or an import wrote."""
    import pyarrow.parquet as pq

    metadata = pq.read_schema(path).metadata or {}
    names: Any = metadata.get(COMPACTED_FROM)
    return None if names is None else [str(name) for name in json.loads(names)]


def day_folders(root: Path) -> list[Path]:
    """The log's day folders, oldest first."""
    return sorted(p for p in root.glob("date=*") if p.is_dir())


def _part_file(folder: Path, events: Sequence[BehaviourEvent], tag: str, fsync: bool) -> Path:
    """Write events, by time, to a hidden temporary file in folder; returns its path.

    The final name is the temporary name without the leading dot and the `.tmp` suffix.
    """
    import pyarrow as pa

    from livecart.events.schemas import EVENT_ARROW_SCHEMA

    ordered = sorted(events, key=lambda e: e.occurred_at)
    table = pa.Table.from_pylist([e.to_row() for e in ordered], schema=EVENT_ARROW_SCHEMA)
    first = ordered[0].occurred_at.astimezone(UTC).strftime("%H%M%S%f")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".part-{first}-{tag}.parquet.tmp"
    try:
        with tmp.open("wb") as handle:
            write_log_table(handle, table)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _publish(tmp: Path) -> Path:
    final = tmp.with_name(tmp.name[1 : -len(".tmp")])
    os.replace(tmp, final)
    return final


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StagedLogFiles:
    """A batch written into the log (imported history) that appears all at once or not at all.

    `stage` writes events as one file per UTC day under hidden temporary names, as often as
    needed to bound memory; `publish` renames every staged file into place. Leaving the
    `with` block without publishing (an error, a refusal) deletes what was staged. Names are
    `part-<first event time>-<tag>-<n>.parquet`: a `tag` that is the same for the same input
    (a digest of an imported file) makes a repeated write replace its own files.
    """

    def __init__(self, root: Path, *, tag: str, fsync: bool = True) -> None:
        self.root = root
        self.tag = tag
        self.fsync = fsync
        self._staged: list[Path] = []
        self._stages = 0
        self._published: list[Path] | None = None
        self._lock = contextlib.ExitStack()

    def __enter__(self) -> StagedLogFiles:
        # Held shared from the first staged file to the last rename: no compaction swaps a
        # day folder while this batch has files in it.
        self._lock.enter_context(log_lock(self.root, exclusive=False))
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._published is None:
                self.discard()
        finally:
            self._lock.close()

    def stage(self, events: Iterable[BehaviourEvent]) -> int:
        """Write events to hidden files, one per UTC day; returns how many were written."""
        by_day: dict[date, list[BehaviourEvent]] = {}
        for event in events:
            by_day.setdefault(event.day, []).append(event)
        tag = f"{self.tag}-{self._stages}"
        self._stages += 1
        for day in sorted(by_day):
            folder = partition_dir(self.root, by_day[day][0])
            self._staged.append(_part_file(folder, by_day[day], tag, self.fsync))
        return sum(len(day) for day in by_day.values())

    def publish(self) -> list[Path]:
        """Rename every staged file into the log; returns the final paths."""
        finals = [_publish(tmp) for tmp in self._staged]
        if self.fsync:
            for folder in sorted({path.parent for path in finals}):
                fsync_dir(folder)
        self._published = finals
        self._staged = []
        return finals

    def discard(self) -> None:
        """Delete every staged file that was not published (and day folders left empty)."""
        for tmp in self._staged:
            tmp.unlink(missing_ok=True)
        for folder in sorted({tmp.parent for tmp in self._staged}):
            with contextlib.suppress(OSError):  # not empty: other files of that day
                folder.rmdir()
        self._staged = []


def log_files(root: Path) -> list[Path]:
    """Every complete Parquet file of the log (temporary files are hidden and skipped)."""
    return sorted(root.glob(PARTITION_GLOB)) if root.is_dir() else []


def event_days(files: Sequence[Path]) -> tuple[date, date] | None:
    """The UTC days of the first and the latest event in these log files, from their day
    folders (an event is written to its day's folder): the first and last folders with a
    file that holds rows, whose footers alone are read. None when no file holds a row."""
    import pyarrow.parquet as pq

    by_day: dict[date, list[Path]] = {}
    for path in files:
        name = path.parent.name
        if name.startswith("date="):
            by_day.setdefault(date.fromisoformat(name.removeprefix("date=")), []).append(path)

    def holds_rows(day: date) -> bool:
        return any(pq.read_metadata(path).num_rows > 0 for path in by_day[day])

    days = sorted(by_day)
    first = next((day for day in days if holds_rows(day)), None)
    if first is None:
        return None
    latest = next(day for day in reversed(days) if holds_rows(day))
    return first, latest


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def read_events_sql(root: Path) -> str:
    """The DuckDB table expression reading the whole log, with `date` from the folder names."""
    pattern = (root.expanduser().resolve() / PARTITION_GLOB).as_posix()
    return (
        f"read_parquet({_sql_text(pattern)}, hive_partitioning = true, "
        "hive_types = {'date': DATE}, union_by_name = true)"
    )


def events_view_sql(root: Path) -> str:
    """`CREATE VIEW events AS ...` over the log, the view every documented query reads."""
    # DuckDB takes no parameters in a view; the one value, the path, is quoted as a literal.
    return f"CREATE OR REPLACE TEMP VIEW events AS SELECT * FROM {read_events_sql(root)}"  # noqa: S608


class ParquetEventSink:
    """Batches events by count and time and writes one Parquet file per flush and UTC day.

    `emit` never blocks or raises: it appends to a buffer. A background task writes the
    buffer every `flush_seconds`, or as soon as `batch_size` events are waiting. A write that
    fails keeps its events for the next flush (retried after `flush_seconds`); only while
    writes keep failing and more than `max_buffered` events pile up are the oldest dropped,
    counted in `dropped`.
    """

    def __init__(
        self,
        root: Path,
        *,
        batch_size: int = 500,
        flush_seconds: float = 2.0,
        max_buffered: int | None = None,
        fsync: bool = True,
    ) -> None:
        self.root = root
        self.batch_size = max(1, batch_size)
        self.flush_seconds = flush_seconds
        self.max_buffered = max(max_buffered or self.batch_size * 200, self.batch_size)
        self.fsync = fsync
        self.written = 0
        self.files = 0
        self.failures = 0
        self.dropped = 0
        self._buffer: list[BehaviourEvent] = []
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Task[int]] = set()
        self._soon: asyncio.Task[int] | None = None
        self._failing = False

    @property
    def pending(self) -> int:
        """Events emitted but not yet written."""
        return len(self._buffer)

    def emit(self, event: BehaviourEvent) -> None:
        """Buffer one event; a full batch wakes the writer."""
        self._buffer.append(event)
        overflow = len(self._buffer) - self.max_buffered
        if overflow > 0 and self._failing:
            # The disk has been refusing writes for a while: bound memory, say so loudly.
            del self._buffer[:overflow]
            self.dropped += overflow
            log.error("behaviour-event buffer full; dropped %d oldest events", overflow)
        if len(self._buffer) >= self.batch_size:
            if self._task is not None:
                self._wake.set()
            else:
                self._flush_soon()

    def _flush_soon(self) -> None:
        # Not started (a CLI job, a seeding script): write full batches anyway when a loop runs.
        if self._soon is not None and not self._soon.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._soon = loop.create_task(self.flush(), name="event-sink-batch")

    async def flush(self) -> int:
        """Write everything buffered now; returns the number of events written."""
        async with self._lock:
            batch, self._buffer = self._buffer, []
            if not batch:
                return 0
            # Shielded: a cancelled caller must not lose a batch already taken from the buffer.
            task = asyncio.get_running_loop().create_task(self._write_batch(batch))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)
            return await asyncio.shield(task)

    async def _write_batch(self, batch: Sequence[BehaviourEvent]) -> int:
        by_day: dict[Path, list[BehaviourEvent]] = {}
        for event in batch:
            by_day.setdefault(partition_dir(self.root, event), []).append(event)
        written = 0
        failed: list[BehaviourEvent] = []
        for folder, events in by_day.items():
            try:
                await asyncio.to_thread(self._write_file, folder, events)
            except Exception:
                log.exception("writing %d behaviour events failed; keeping them", len(events))
                self.failures += 1
                failed.extend(events)
            else:
                written += len(events)
                self.files += 1
        self._failing = bool(failed)
        if failed:
            self._buffer[:0] = failed
        self.written += written
        return written

    def _write_file(self, folder: Path, events: Sequence[BehaviourEvent]) -> Path:
        with log_lock(self.root, exclusive=False):  # not while a compaction swaps the day
            tmp = _part_file(folder, events, uuid.uuid4().hex[:12], self.fsync)
            try:
                final = _publish(tmp)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            if self.fsync:
                fsync_dir(folder)
        return final

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.flush_seconds)
            self._wake.clear()
            if self._stop.is_set():
                break
            failures = self.failures
            try:
                await self.flush()
            except Exception:
                log.exception("behaviour-event flush failed")
            if self.failures > failures:
                # The disk refused a write: wait before retrying instead of spinning on emits.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=self.flush_seconds)

    async def start(self) -> None:
        """Begin writing in the background."""
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._run(), name="event-sink-flush")

    async def aclose(self) -> None:
        """Stop the background writer, then write everything that is left."""
        if self._task is not None:
            # Ask the loop to stop instead of cancelling it, so a write in progress completes.
            self._stop.set()
            self._wake.set()
            await self._task
            self._task = None
        if self._soon is not None:
            await asyncio.gather(self._soon, return_exceptions=True)
            self._soon = None
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        await self.flush()
        if self._buffer:
            log.error("closing with %d behaviour events not written", len(self._buffer))
