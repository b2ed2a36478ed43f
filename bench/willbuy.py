"""Will-buy poll: the cost of one buyer-estimate poll at 10k and 1M logged events.

For each log size, in one run on the same files:

- before: `WillBuyModels._full`, the whole-log recompute every poll made until now;
- after: `WillBuyModels._incremental` with the cache off: the session's tally reads only the
  part file written since the last poll (the sink writes one file per flush), then scores;
- first poll: the same, its first call (reads the whole log once to build the tally);
- cached: a poll inside the estimate's cache window (what a second console gets);
- ceiling: the model alone, `predict_proba` on the same rows (no poll can cost less).

The history is `bench.portraits`' generated log (skewed users, 5,000 events per session), cut
into part files of `--file-events` events as the sink writes them; the live session is a new
day folder with `--live-viewers` signed-in viewers of that history watching, and before each
"after" poll one more part file of 50 of their events arrives. The model is a calibrated
HistGradientBoosting fitted on synthetic rows (its cost does not depend on the log). The
customer-base fit (one per day, cached by both paths) is made before timing.

`python -m bench willbuy [--willbuy-events 10000,1000000] [--polls 10]`
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench import portraits

LIVE_SESSION = 99_000_001
LIVE_ANCHOR = 1
NEW_FILE_EVENTS = 50
SINK_FLUSH_SECONDS = 2


@dataclass(frozen=True)
class Options:
    events: list[int]
    polls: int = 10
    file_events: int = 500
    live_viewers: int = 300


def write_history(root: Path, events: int, file_events: int) -> tuple[int, int, datetime]:
    """The generated log under root in part files; returns (events, files, first free day)."""
    # The first generator's layout, as the figures in docs/benchmarks.md were measured.
    shape = portraits.LogShape.for_events(events, days=30, layout="scattered")
    written = files = 0
    for day in range(shape.days):
        table = portraits.day_table(shape, day)
        folder = root / f"date={(portraits.FIRST_DAY + timedelta(days=day)).date().isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        for first in range(0, table.num_rows, file_events):
            part = table.slice(first, file_events)
            pq.write_table(part, folder / f"part-{first:012d}-bench.parquet", compression="zstd")
            files += 1
        written += table.num_rows
    return written, files, portraits.FIRST_DAY + timedelta(days=shape.days)


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    from livecart.events.schemas import EVENT_ARROW_SCHEMA

    full = [{name: row.get(name) for name in EVENT_ARROW_SCHEMA.names} for row in rows]
    return pa.Table.from_pylist(full, schema=EVENT_ARROW_SCHEMA)


class LiveSession:
    """The live session's events, written as the sink would (one part file per flush)."""

    def __init__(self, root: Path, started: datetime, viewers: list[int], seed: int = 5) -> None:
        self.root = root
        self.started = started
        self.viewers = viewers
        self.rng = np.random.default_rng(seed)
        self.now = started
        self.files = 0
        self.folder = root / f"date={started.date().isoformat()}"
        self.folder.mkdir(parents=True, exist_ok=True)

    def _event(self, kind: str, viewer: int, at: datetime, **more: Any) -> dict[str, Any]:
        return {
            "event_id": f"live-{self.rng.integers(1 << 62):016x}",
            "event_type": kind,
            "occurred_at": at,
            "consumer_id": viewer,
            "session_id": LIVE_SESSION,
            "room_id": LIVE_ANCHOR,
            "anchor_id": LIVE_ANCHOR,
            "source": "server",
            **more,
        }

    def write(self, rows: list[dict[str, Any]]) -> None:
        path = self.folder / f"part-{self.files:012d}-live.parquet"
        tmp = path.with_name(f".{path.name}.tmp")
        pq.write_table(_table(rows), tmp, compression="zstd")
        tmp.replace(path)  # as the sink publishes: a rename into the folder
        self.files += 1

    def joins(self) -> None:
        """Everyone joins in the first minute."""
        rows = [
            self._event("join", v, self.started + timedelta(seconds=int(i % 60)))
            for i, v in enumerate(self.viewers)
        ]
        self.now = self.started + timedelta(seconds=60)
        self.write(rows)

    def flush(self) -> None:
        """The next flush: `NEW_FILE_EVENTS` heartbeats, chat, likes and clicks."""
        self.now += timedelta(seconds=SINK_FLUSH_SECONDS)
        kinds = ("heartbeat", "chat", "like", "product_click")
        rows = []
        for _ in range(NEW_FILE_EVENTS):
            viewer = int(self.rng.choice(self.viewers))
            kind = kinds[int(self.rng.integers(len(kinds)))]
            extra: dict[str, Any] = {}
            if kind == "heartbeat":
                extra["watch_seconds"] = 30.0
            elif kind == "chat":
                extra["text"] = "有没有小号?"
            rows.append(self._event(kind, viewer, self.now, **extra))
        self.write(rows)


def synthetic_model(seed: int = 0) -> Any:
    """A calibrated classifier over the will-buy features (fitted on synthetic rows)."""
    from livecart.insights import willbuy

    rng = np.random.default_rng(seed)
    n = 4_000
    x = rng.gamma(2.0, 3.0, size=(n, len(willbuy.FEATURES)))
    y = (rng.random(n) < 1 / (1 + np.exp(-(x[:, 5] - 6.0) / 2.0))).astype(np.int64)
    raw = willbuy.new_classifier(seed).fit(x[: n // 2], y[: n // 2])
    held = willbuy.Rows(
        session_id=np.zeros(n // 2, dtype=np.int64),
        viewer=np.zeros(n // 2, dtype=np.int64),
        cutoff=[],
        session_start=[],
        features=x[n // 2 :],
        label=y[n // 2 :],
    )
    return willbuy.calibrate(raw, held)


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": round(p90 * 1000, 2),
        "runs": len(ordered),
    }


def _timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def measure(events: int, options: Options, model: Any, tmp: Path) -> dict[str, Any]:
    """Every figure for one log size."""
    from livecart.insights import willbuy
    from livecart.insights.willbuy_live import WillBuyModels
    from livecart.insights.willbuy_state import clv_scores_for
    from livecart.insights.willbuy_store import StoredModel

    root = tmp / f"events-{events}"
    generated = time.perf_counter()
    written, files, live_day = write_history(root, events, options.file_events)
    generate_seconds = time.perf_counter() - generated
    # The same viewers at every size: ids 1..N (at 10k the history has fewer users, so fewer of
    # them have a past).
    viewers = list(range(1, options.live_viewers + 1))
    started = live_day + timedelta(hours=20)
    live = LiveSession(root, started, viewers)
    live.joins()
    models = WillBuyModels(tmp / "models", root, stale_seconds=3600.0, cache_seconds=0.0)
    stored = StoredModel(version=1, model=model, metadata={})
    models.current = stored
    clv_scores_for(root, started.date(), models._clv_by_day)  # once a day, both paths

    def full() -> Any:
        return models._full(stored, LIVE_SESSION, LIVE_ANCHOR, started, live.now)

    def incremental() -> Any:
        return models._incremental(stored, LIVE_SESSION, LIVE_ANCHOR, started, live.now)

    before = []
    for _ in range(max(3, options.polls // 3)):
        live.flush()
        seconds, _result = _timed(full)
        before.append(seconds)
    first_seconds, _result = _timed(incremental)
    after, read = [], []
    for _ in range(options.polls):
        live.flush()
        seconds, result = _timed(incremental)
        after.append(seconds)
        read.append(models.tally(LIVE_SESSION, LIVE_ANCHOR, started).files_read)
    reference = full()
    same = result.viewers == reference.viewers and np.allclose(
        result.probabilities, reference.probabilities, atol=1e-9
    )
    models.cache_seconds = 60.0
    incremental()
    cached = [_timed(incremental)[0] for _ in range(options.polls)]
    tally = models.tally(LIVE_SESSION, LIVE_ANCHOR, started)
    rows = tally.rows(
        live.now,
        stale_seconds=models.stale_seconds,
        clv_scores=models._clv_by_day.get(started.date(), {}),
    )
    ceiling = [_timed(lambda: willbuy.score(model, rows))[0] for _ in range(options.polls)]
    return {
        "events": written + (live.files - 1) * NEW_FILE_EVENTS + len(viewers),
        "history_events": written,
        "files": files + live.files,
        "generate_seconds": round(generate_seconds, 1),
        "viewers_scored": len(result.viewers),
        "before_full": _ms(before),
        "after_incremental": _ms(after),
        "files_read_per_poll": max(read),
        "first_poll_ms": round(first_seconds * 1000, 1),
        "cached": _ms(cached),
        "ceiling_model_only": _ms(ceiling),
        "incremental_equals_full": bool(same),
    }


def run(options: Options) -> list[dict[str, Any]]:
    """Measure each log size in turn (the model is the same for all)."""
    from livecart.insights import willbuy

    willbuy.single_threaded_openmp()
    model = synthetic_model()
    results = []
    with tempfile.TemporaryDirectory(prefix="livecart-bench-willbuy-") as tmp:
        for events in options.events:
            results.append(measure(events, options, model, Path(tmp)))
    return results


def print_table(results: list[dict[str, Any]], console: Any) -> None:
    """The table `python -m bench willbuy` prints."""
    from rich.table import Table

    table = Table(title="will-buy poll latency (ms, median / p90)")
    for name in (
        "logged events",
        "files",
        "viewers",
        "before: full recompute",
        "after: incremental",
        "files read/poll",
        "first poll",
        "cached",
        "ceiling: model only",
        "same result",
    ):
        table.add_column(name, justify="right")
    for r in results:

        def cell(key: str, r: dict[str, Any] = r) -> str:
            return f"{r[key]['median_ms']:,.1f} / {r[key]['p90_ms']:,.1f}"

        table.add_row(
            f"{r['events']:,}",
            f"{r['files']:,}",
            f"{r['viewers_scored']:,}",
            cell("before_full"),
            cell("after_incremental"),
            str(r["files_read_per_poll"]),
            f"{r['first_poll_ms']:,.1f}",
            cell("cached"),
            cell("ceiling_model_only"),
            "yes" if r["incremental_equals_full"] else "NO",
        )
    console.print(table)
