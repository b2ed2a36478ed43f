"""The behaviour-event sink: buffers events and writes them to Parquet in batches."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from livecart.events.schemas import EVENT_ARROW_SCHEMA, BehaviourEvent

log = logging.getLogger(__name__)


class EventSink(Protocol):
    """Takes behaviour events; durable some time after emit, always after flush."""

    def emit(self, event: BehaviourEvent) -> None: ...

    async def flush(self) -> int: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


class ParquetEventSink:
    """Batches events and writes one Parquet file per batch and day: root/date=YYYY-MM-DD/."""

    def __init__(self, root: Path, *, batch_size: int = 500, flush_seconds: float = 2.0) -> None:
        self.root = root
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self._buffer: list[BehaviourEvent] = []
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.written = 0

    def emit(self, event: BehaviourEvent) -> None:
        """Buffer one event; a full buffer is flushed in the background."""
        self._buffer.append(event)
        if len(self._buffer) >= self.batch_size and self._task is not None:
            asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> int:
        """Write everything buffered; returns the number of events written."""
        async with self._lock:
            batch, self._buffer = self._buffer, []
            if not batch:
                return 0
            try:
                await asyncio.to_thread(self._write, batch)
            except Exception:
                log.exception("writing %d behaviour events failed; keeping them", len(batch))
                self._buffer[:0] = batch
                return 0
            self.written += len(batch)
            return len(batch)

    def _write(self, batch: Sequence[BehaviourEvent]) -> None:
        by_day: dict[str, list[BehaviourEvent]] = {}
        for event in batch:
            by_day.setdefault(event.occurred_at.date().isoformat(), []).append(event)
        for day, events in by_day.items():
            folder = self.root / f"date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            table = pa.Table.from_pylist([e.to_row() for e in events], schema=EVENT_ARROW_SCHEMA)
            tmp = folder / f".part-{uuid.uuid4().hex}.parquet.tmp"
            pq.write_table(table, tmp, compression="zstd")
            tmp.rename(folder / tmp.name.removeprefix(".").removesuffix(".tmp"))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            await self.flush()

    async def start(self) -> None:
        """Begin the periodic flush."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event-sink-flush")

    async def aclose(self) -> None:
        """Stop the periodic flush and write what is left."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.flush()
