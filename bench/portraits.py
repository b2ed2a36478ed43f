"""Portraits at scale: generated behaviour events, the portrait pipeline on DuckDB and Spark,
and its ceiling, one DuckDB group-by scan of the same Parquet, all in one run.

`generate` writes a deterministic log (same seed, same files) in the event log's layout
(`date=YYYY-MM-DD/part-....parquet`, EVENT_ARROW_SCHEMA) with a realistic mix of viewing,
chat, likes, browsing, carts, orders and payments over skewed users, sessions and products.
Each measured phase runs in its own Python process (`python -m bench.portraits phase NAME
ROOT`), so its CPU and peak memory are its own; the parent samples the process tree (the
Spark JVM included) and the whole machine while it runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench.stats import busy_percent, cpu_seconds, machine_ticks

TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
FIRST_DAY = datetime(2026, 10, 1, tzinfo=UTC)
# (event type, share of all events): viewing dominates, as on a real live platform.
MIX: tuple[tuple[str, float], ...] = (
    ("heartbeat", 0.52),
    ("join", 0.07),
    ("leave", 0.06),
    ("chat", 0.13),
    ("like", 0.11),
    ("product_click", 0.045),
    ("detail_view", 0.025),
    ("add_to_cart", 0.015),
    ("order", 0.01),
    ("payment", 0.008),
    ("favourite", 0.002),
)
CHAT = (
    "hello everyone",
    "how much is this?",
    "does it come in red?",
    "love this colour",
    "这个多少钱",
    "有没有大码",
    "好看",
    "已下单",
    "is shipping free",
    "can you show the back again",
    "质量怎么样？",
    "nice",
)
ANONYMOUS_SHARE = 0.08
PRODUCTS = 5_000
ANCHORS = 60
CURRENCY = "CNY"
PHASES = ("scan", "duckdb", "spark")
# The measured code: a change to any of these marks the commit '+dirty'.
PIPELINE_FILES = tuple(
    f"src/livecart/insights/{name}.py" for name in ("portraits", "keywords", "tags")
)
# The ceiling: one pass over the same files, grouped by the same consumer key.
SCAN_SQL = """
SELECT coalesce(CAST(consumer_id AS VARCHAR), anonymous_id) AS consumer_key,
       count(*) AS events,
       sum(watch_seconds) AS watch_seconds,
       sum(amount) AS amount,
       max(occurred_at) AS last_seen
FROM events
WHERE consumer_id IS NOT NULL OR anonymous_id IS NOT NULL
GROUP BY consumer_key
""".strip()


@dataclass(frozen=True)
class LogShape:
    """How many of everything a generated log has."""

    events: int
    days: int
    users: int
    sessions_per_day: int
    seed: int

    @classmethod
    def for_events(cls, events: int, *, days: int = 30, seed: int = 20261206) -> LogShape:
        """About 150 events per user and 5,000 per live session, as the demo traffic has."""
        return cls(
            events=events,
            days=days,
            users=max(10, events // 150),
            sessions_per_day=max(2, events // 5_000 // days),
            seed=seed,
        )


def _strings(values: tuple[str, ...], index: np.ndarray, present: np.ndarray) -> pa.Array:
    indices = pa.array(index, type=pa.int32(), mask=~present)
    return pa.array(values, type=pa.string()).take(indices)


def _ints(values: np.ndarray, present: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.int64), type=pa.int64(), mask=~present)


def day_table(shape: LogShape, day: int) -> pa.Table:
    """The events of one day of the generated log (EVENT_ARROW_SCHEMA), ordered by time."""
    from livecart.events.schemas import EVENT_ARROW_SCHEMA

    rng = np.random.Generator(np.random.PCG64([shape.seed, day]))
    n = shape.events // shape.days + (1 if day < shape.events % shape.days else 0)
    kinds = tuple(k for k, _ in MIX)
    shares = np.array([s for _, s in MIX])
    kind = rng.choice(len(kinds), size=n, p=shares / shares.sum())
    is_kind = {k: kind == i for i, k in enumerate(kinds)}
    micros = np.sort(rng.integers(0, 86_400_000_000, size=n))
    start = int((FIRST_DAY + timedelta(days=day)).timestamp() * 1_000_000)
    occurred = pa.array(micros + start, type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))

    # Skewed users: a few heavy viewers, a long tail; some rows are anonymous browsers.
    user = np.floor(shape.users * rng.random(n) ** 2).astype(np.int64) + 1
    anonymous = rng.random(n) < ANONYMOUS_SHARE
    anonymous_pool = max(10, shape.users // 4)
    anon_ids = tuple(f"anon-{i:07d}" for i in range(anonymous_pool))
    anon_index = np.floor(anonymous_pool * rng.random(n) ** 2).astype(np.int64)

    session = day * 10_000 + rng.integers(0, shape.sessions_per_day, size=n) + 1
    anchor = session % ANCHORS + 1
    browsing = is_kind["product_click"] | is_kind["detail_view"] | is_kind["favourite"]
    buying = is_kind["add_to_cart"] | is_kind["order"]
    has_product = browsing | buying
    product = np.floor(PRODUCTS * rng.random(n) ** 1.5).astype(np.int64) + 1
    sku = product * 10 + rng.integers(0, 3, size=n)
    has_order = is_kind["order"] | is_kind["payment"]
    order = (day + 1) * 100_000_000 + np.arange(n)
    quantity = rng.integers(1, 4, size=n)
    has_quantity = buying | is_kind["payment"]
    price = (product % 50 + 1) * 990
    has_amount = has_quantity
    watching = is_kind["heartbeat"] | is_kind["leave"]
    watch = np.where(is_kind["heartbeat"], 30.0, np.round(rng.random(n) * 30.0, 3))
    chat = is_kind["chat"]
    chat_index = rng.integers(0, len(CHAT), size=n)
    in_session = ~is_kind["favourite"]
    prefix = f"{shape.seed & 0xFFFFFFFF:08x}{day:04x}"
    columns: dict[str, pa.Array] = {
        "event_id": pa.array([f"{prefix}{i:020x}" for i in range(n)], type=pa.string()),
        "event_type": _strings(kinds, kind, np.ones(n, dtype=bool)),
        "occurred_at": occurred,
        "consumer_id": _ints(user, ~anonymous),
        "anonymous_id": _strings(anon_ids, anon_index, anonymous),
        "session_id": _ints(session, in_session),
        "room_id": _ints(anchor, in_session),
        "anchor_id": _ints(anchor, in_session),
        "product_id": _ints(product, has_product),
        "sku_id": _ints(sku, buying),
        "order_id": _ints(order, has_order),
        "quantity": _ints(quantity, has_quantity),
        "amount": _ints(price * quantity, has_amount),
        "currency": _strings((CURRENCY,), np.zeros(n, dtype=np.int64), has_amount),
        "watch_seconds": pa.array(watch, type=pa.float64(), mask=~watching),
        "text": _strings(CHAT, chat_index, chat),
        "source": _strings(("server",), np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)),
        "properties": pa.nulls(n, type=pa.string()),
    }
    return pa.Table.from_arrays(
        [columns[name] for name in EVENT_ARROW_SCHEMA.names], schema=EVENT_ARROW_SCHEMA
    )


def generate(root: Path, shape: LogShape, *, progress: Any = None) -> int:
    """Write the log under root, one file per day; returns the events written."""
    written = 0
    for day in range(shape.days):
        table = day_table(shape, day)
        folder = root / f"date={(FIRST_DAY + timedelta(days=day)).date().isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / "part-000000000000-bench.parquet", compression="zstd")
        written += table.num_rows
        if progress is not None:
            progress(day + 1, shape.days)
    return written


# ---------------------------------------------------------------- measuring


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _rss_bytes(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES
    return 0


@dataclass
class Sampler:
    """Samples a process tree (CPU per process, summed RSS) and the load every interval."""

    pid: int
    interval: float = 0.2
    cpu: dict[int, float] = field(default_factory=dict)
    peak_rss: int = 0
    peak_load: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        """One reading of the tree and the load average."""
        rss = 0
        for pid in _tree(self.pid):
            with contextlib.suppress(OSError):
                self.cpu[pid] = cpu_seconds(Path(f"/proc/{pid}/stat").read_text(), TICKS)
            rss += _rss_bytes(pid)
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_load = max(self.peak_load, os.getloadavg()[0])

    def run(self) -> None:
        """Sample until stopped."""
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()


@dataclass
class PhaseResult:
    """One measured phase: the engine's own seconds, the process's wall, CPU and memory."""

    phase: str
    rows: int
    engine_seconds: float
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    machine_busy_percent: float
    load_before: float
    load_peak: float
    load_after: float
    ratio_to_scan: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The result as plain data."""
        return asdict(self)


def measure(phase: str, root: Path, *, spark_memory: str = "6g") -> PhaseResult:
    """Run one phase in its own process and measure it from outside."""
    machine_before = machine_ticks(Path("/proc/stat").read_text())
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.portraits", "phase", phase, str(root), spark_memory],
        stdout=subprocess.PIPE,
        text=True,
    )
    sampler = Sampler(child.pid)
    thread = threading.Thread(target=sampler.run, daemon=True)
    thread.start()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    sampler.stop()
    thread.join()
    assert child.stdout is not None
    out = child.stdout.read()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"phase {phase} failed with exit code {child.returncode}")
    report = json.loads(out.strip().splitlines()[-1])
    # The child's own CPU is exact (wait4); its descendants (Spark's JVM) as last sampled.
    descendants = sum(v for pid, v in sampler.cpu.items() if pid != child.pid)
    return PhaseResult(
        phase=phase,
        rows=int(report["rows"]),
        engine_seconds=round(float(report["seconds"]), 2),
        wall_seconds=round(wall, 2),
        cpu_seconds=round(usage.ru_utime + usage.ru_stime + descendants, 2),
        peak_rss_mb=round(max(sampler.peak_rss, usage.ru_maxrss * 1024) / 2**20, 1),
        machine_busy_percent=round(
            busy_percent(machine_before, machine_ticks(Path("/proc/stat").read_text())), 1
        ),
        load_before=round(load_before, 2),
        load_peak=round(max(sampler.peak_load, load_before), 2),
        load_after=round(os.getloadavg()[0], 2),
    )


def run_phase(phase: str, root: Path, spark_memory: str) -> dict[str, Any]:
    """Inside the phase's process: do the work, time it, and say how many rows came out."""
    from livecart.insights import portraits

    if phase == "scan":
        from livecart.events import service

        started = time.perf_counter()
        connection = service.open_log(root)
        try:
            connection.execute("SET TimeZone = 'UTC'")
            relation = connection.sql(SCAN_SQL)
            assert relation is not None
            rows = relation.to_arrow_table().num_rows
        finally:
            connection.close()
        return {"rows": rows, "seconds": time.perf_counter() - started}
    if phase == "duckdb":
        result = portraits.run_duckdb(root)
        return {"rows": result.table.num_rows, "seconds": result.seconds}
    if phase == "spark":
        with portraits.spark_session(memory=spark_memory) as session:
            result = portraits.run_spark(root, session=session)
        return {"rows": result.table.num_rows, "seconds": result.seconds}
    raise ValueError(f"unknown phase {phase}")


def git_commit() -> str:
    """The commit the measured code is at (with '+dirty' if the portrait code has changes)."""
    here = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=here, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *PIPELINE_FILES],
            cwd=here, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def rows(results: list[PhaseResult]) -> list[dict[str, Any]]:
    """The results with each phase's ratio to the scan of the same run."""
    scan = next((r for r in results if r.phase == "scan"), None)
    out = []
    for result in results:
        if scan is not None and scan.engine_seconds > 0:
            result.ratio_to_scan = round(result.engine_seconds / scan.engine_seconds, 2)
        out.append(result.as_dict())
    return out


def main(argv: list[str]) -> None:
    """`python -m bench.portraits phase NAME ROOT SPARK_MEMORY`: one phase, JSON on stdout."""
    if len(argv) != 4 or argv[0] != "phase":
        raise SystemExit("usage: python -m bench.portraits phase scan|duckdb|spark ROOT MEMORY")
    report = run_phase(argv[1], Path(argv[2]), argv[3])
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
