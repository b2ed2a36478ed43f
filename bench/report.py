"""Results: a rich table on the terminal and JSON under bench/results/<timestamp>.json."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.stats import ratio

RESULTS_DIR = Path(__file__).resolve().parent / "results"
# The target for the fan-out at 1,000 viewers.
TARGET_VIEWERS = 1000
TARGET_RATIO = 0.6
TARGET_P99_MS = 250.0


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        memory = meminfo.read_text().splitlines()[0].split(":", 1)[1].strip()
    return {
        "nproc": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def fanout_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each result with its ratio to the ceiling of the same viewer count and the target verdict."""
    ceilings = {
        r["viewers"]: r["deliveries_per_second"] for r in results if r["variant"] == "ceiling"
    }
    rows = []
    for r in results:
        row = dict(r)
        share = ratio(r["deliveries_per_second"], ceilings.get(r["viewers"], 0.0))
        row["ratio_to_ceiling"] = None if share is None else round(share, 3)
        row["target"] = ""
        if r["variant"] == "livecart" and r["viewers"] == TARGET_VIEWERS:
            p99 = r["p99_ms"]
            met = share is not None and share >= TARGET_RATIO and p99 is not None
            met = met and p99 < TARGET_P99_MS
            row["target"] = "met" if met else "missed"
        rows.append(row)
    return rows


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_fanout(rows: list[dict[str, Any]], console: Console | None = None) -> None:
    """The fan-out table."""
    table = Table(title="fan-out: one room, one chatting user")
    for name in (
        "variant",
        "viewers",
        "connected",
        "dropped",
        "deliveries/s",
        "ratio",
        "p50 ms",
        "p99 ms",
        "p50 first→last 20%",
        "server CPU s",
        "CPU %",
        "target",
    ):
        table.add_column(name, justify="left" if name in ("variant", "target") else "right")
    for r in rows:
        table.add_row(
            r["variant"],
            _fmt(r["viewers"]),
            _fmt(r["connected"]),
            _fmt(r["dropped"]),
            _fmt(r["deliveries_per_second"]),
            _fmt(r["ratio_to_ceiling"], 2),
            _fmt(r["p50_ms"]),
            _fmt(r["p99_ms"]),
            f"{_fmt(r.get('p50_first_ms'))} → {_fmt(r.get('p50_last_ms'))}",
            _fmt(r["server_cpu_seconds"], 2),
            _fmt(r["server_cpu_percent"]),
            r["target"] or r["note"][:40],
        )
    (console or Console()).print(table)


def write_json(payload: dict[str, Any], path: Path | None = None) -> Path:
    """Write the run's results; by default to bench/results/<UTC timestamp>.json."""
    if path is None:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
