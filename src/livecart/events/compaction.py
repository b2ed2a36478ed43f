"""Compaction of the event log: a closed day's many small part files rewritten as one.

The sink writes a file per flush (every `events_flush_seconds`, or per `events_batch_size`
events), so a busy month is hundreds of thousands of small files, and every query over the
log pays for opening each one. Compaction rewrites a day's part files as a single file whose
rows are ordered by event type, then time, in row groups of `sink.ROW_GROUP_ROWS`: a query
for a few types (orders and payments, chat) reads only their row groups.

How a day is swapped, so that no reader and no crash ever sees an event twice or misses one:

- Writers (the sink, an import) hold the log lock shared while they write; compaction, like
  erasure, holds it exclusively, so nothing is added to a day while it is compacted.
- The new file is written, synced, into a hidden staging folder next to the day folders
  (`.compact-new-<day>-<id>`), then the staging folder and the day folder are exchanged in
  one atomic rename (`renameat2(RENAME_EXCHANGE)`): a reader listing the day sees either
  all the old files or the one new file. The staging path then holds the old files, which
  are deleted. A query that listed the old files just before the exchange and opens them
  after fails with "file not found"; run it again.
- Where the file system cannot exchange (`EINVAL`), the day folder is renamed aside
  (`.compact-old-<day>-<id>`) and the new one into place: a reader in between sees the day
  without events. `recover` puts a day renamed aside back if a crash came between.
- The new file names the files it replaces (`compacted_from`, relative to the log root), so
  a reader that keeps track of files it has read (the stored portraits) can tell a day it
  has already read in another layout from new events.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from livecart.events.sink import (
    COMPACTED_FROM,
    compacted_from,
    day_folders,
    fsync_dir,
    log_lock,
    write_log_table,
)

if TYPE_CHECKING:
    import pyarrow as pa

STAGING_NEW = ".compact-new-"
STAGING_OLD = ".compact-old-"
# Rows of a compacted file: by type, then time (see the module's docstring).
COMPACTED_ORDER = (("event_type", "ascending"), ("occurred_at", "ascending"))
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2

Step = Callable[[str], None]


@dataclass(frozen=True)
class CompactedDay:
    """One day rewritten: how many files became one, and how many events it holds."""

    day: date
    files: int
    events: int
    bytes_before: int
    bytes_after: int


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically; False where the file system cannot."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def compacted_table(table: pa.Table) -> pa.Table:
    """The rows of a day in the order of a compacted file."""
    return table.sort_by(list(COMPACTED_ORDER))


def _needs_compaction(files: list[Path]) -> bool:
    """More than one file in a day, or one that is not a compacted file."""
    return len(files) > 1 or (len(files) == 1 and compacted_from(files[0]) is None)


def needs_compaction(folder: Path) -> bool:
    """The day folder's files need compacting (`_needs_compaction`)."""
    return _needs_compaction(sorted(folder.glob("*.parquet")))


def recover(root: Path) -> None:
    """Finish what a compaction that crashed left behind (call with the lock held)."""
    for staging in sorted(root.glob(f"{STAGING_OLD}*")):
        day = staging.name[len(STAGING_OLD) :].rsplit("-", 1)[0]
        folder = root / f"date={day}"
        if not folder.exists():
            os.replace(staging, folder)  # renamed aside, the new day never put in place
    for staging in [*root.glob(f"{STAGING_NEW}*"), *root.glob(f"{STAGING_OLD}*")]:
        shutil.rmtree(staging, ignore_errors=True)
    fsync_dir(root)


def compact_day(root: Path, folder: Path) -> CompactedDay | None:
    """Rewrite one day folder's files as one compacted file (call with the lock held);
    None when the day is compacted already."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    inputs = sorted(folder.glob("*.parquet"))
    if not _needs_compaction(inputs):
        return None
    tables = [pq.read_table(path, partitioning=None) for path in inputs]
    table = compacted_table(pa.concat_tables(tables, promote_options="permissive"))
    names = [path.relative_to(root).as_posix() for path in inputs]
    day = folder.name.removeprefix("date=")
    tag = uuid.uuid4().hex[:12]
    staging = root / f"{STAGING_NEW}{day}-{tag}"
    metadata = dict(table.schema.metadata or {})
    metadata[COMPACTED_FROM] = json.dumps(names).encode()
    table = table.replace_schema_metadata(metadata)
    out = staging / f"part-compact-{tag}.parquet"
    staging.mkdir()
    try:
        with out.open("wb") as handle:
            write_log_table(handle, table)
            handle.flush()
            os.fsync(handle.fileno())
        fsync_dir(staging)
    except BaseException:  # a full disk: the day stays as it was
        shutil.rmtree(staging, ignore_errors=True)
        raise
    before = sum(path.stat().st_size for path in inputs)
    if _exchange(staging, folder):
        shutil.rmtree(staging)  # now the old files
    else:
        aside = root / f"{STAGING_OLD}{day}-{tag}"
        os.replace(folder, aside)
        os.replace(staging, folder)
        shutil.rmtree(aside)
    fsync_dir(root)
    return CompactedDay(
        day=date.fromisoformat(day),
        files=len(inputs),
        events=table.num_rows,
        bytes_before=before,
        bytes_after=(folder / out.name).stat().st_size,
    )


def compact_log(root: Path, *, before: date, step: Step | None = None) -> list[CompactedDay]:
    """Compact every day before `before` that has more than one file (or one not yet
    compacted), oldest first. The lock is taken per day: writers wait for one day's swap,
    not for the whole run."""
    if not root.is_dir():
        return []
    with log_lock(root, exclusive=True):
        recover(root)
    days = [f for f in day_folders(root) if date.fromisoformat(f.name[5:]) < before]
    todo = [f for f in days if needs_compaction(f)]
    done = []
    for n, folder in enumerate(todo, 1):
        if step is not None:
            step(f"compacting {folder.name} ({n} of {len(todo)})")
        with log_lock(root, exclusive=True):
            compacted = compact_day(root, folder)
        if compacted is not None:
            done.append(compacted)
    return done
