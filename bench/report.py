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
# The targets for the burst: livecart's accepted orders per second at least 5 times the
# FOR UPDATE baseline's and at least 60% of the no-op ceiling on the same server stack.
BURST_BASELINE = "baseline-pg"
BURST_TARGET_VS_BASELINE = 5.0
BURST_TARGET_VS_NOOP = 0.6


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


PORTRAITS_TARGET_VS_SCAN = 3.0


def print_portraits(rows: list[dict[str, Any]], console: Console | None = None) -> None:
    """The portraits table: each phase next to the scan of the same run."""
    target = f"duckdb at most {PORTRAITS_TARGET_VS_SCAN:g}x the scan"
    table = Table(title=f"portraits (target: {target})")
    columns = (
        "phase", "rows", "engine s", "vs scan", "wall s", "CPU s", "peak RSS MiB",
        "machine busy %", "load before/peak/after",
    )  # fmt: skip
    for name in columns:
        table.add_column(name, justify="left" if name == "phase" else "right")
    for r in rows:
        table.add_row(
            r["phase"],
            _fmt(r["rows"]),
            _fmt(r["engine_seconds"], 2),
            _fmt(r["ratio_to_scan"], 2),
            _fmt(r["wall_seconds"], 2),
            _fmt(r["cpu_seconds"], 2),
            _fmt(r["peak_rss_mb"]),
            _fmt(r["machine_busy_percent"]),
            f"{r['load_before']:.2f} / {r['load_peak']:.2f} / {r['load_after']:.2f}",
        )
    (console or Console()).print(table)


def burst_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each variant with its ratios to its own no-op and to the baseline, and the verdict."""
    baseline = next(
        (r["accepted_per_second"] for r in results if r["variant"] == BURST_BASELINE), 0.0
    )
    rows = []
    for r in results:
        row = dict(r)
        vs_noop = ratio(r["accepted_per_second"], r.get("noop_per_second") or 0.0)
        vs_baseline = ratio(r["accepted_per_second"], baseline or 0.0)
        row["vs_noop"] = None if vs_noop is None else round(vs_noop, 3)
        row["vs_baseline"] = None if vs_baseline is None else round(vs_baseline, 2)
        row["target"] = ""
        if not r["variant"].startswith("baseline") and not r["note"].startswith("failed"):
            met = (
                vs_noop is not None
                and vs_noop >= BURST_TARGET_VS_NOOP
                and vs_baseline is not None
                and vs_baseline >= BURST_TARGET_VS_BASELINE
            )
            row["target"] = "met" if met else "missed"
        rows.append(row)
    return rows


def print_burst(rows: list[dict[str, Any]], console: Console | None = None) -> None:
    """The burst table."""
    first = rows[0] if rows else {}
    title = (
        f"flash-sale burst: {first.get('buyers', 0):,} buyers, limit "
        f"{first.get('per_user_limit', 1)}, quantity {first.get('quantity', 0):,}, "
        f"{first.get('concurrency', 0)} in flight"
    )
    table = Table(title=title)
    for name in (
        "variant",
        "stack",
        "accepted",
        "accepted/s",
        "no-op/s",
        "vs no-op",
        "vs baseline",
        "p50 ms",
        "p99 ms",
        "no-op p99",
        "oversell",
        "DB orders/units",
        "left",
        "lost",
        "dup",
        "server CPU %",
        "machine %",
        "no-op machine %",
        "target",
    ):
        justify = "left" if name in ("variant", "stack", "target") else "right"
        table.add_column(name, justify=justify)
    for r in rows:
        table.add_row(
            r["variant"],
            r["stack"],
            _fmt(r["accepted"]),
            _fmt(r["accepted_per_second"]),
            _fmt(r["noop_per_second"]),
            _fmt(r["vs_noop"], 2),
            _fmt(r["vs_baseline"], 2),
            _fmt(r["p50_ms"]),
            _fmt(r["p99_ms"]),
            _fmt(r["noop_p99_ms"]),
            _fmt(r["oversell"]),
            f"{_fmt(r['orders_in_db'])}/{_fmt(r['units_in_db'])}",
            _fmt(r["stock_left"]),
            _fmt(r["lost"]),
            _fmt(r["duplicates"]),
            _fmt(r["server_cpu_percent"]),
            _fmt(r.get("machine_cpu_percent")),
            _fmt(r.get("noop_machine_cpu_percent")),
            r["target"] or r["note"][:40],
        )
    (console or Console()).print(table)


def _span(values: list[int]) -> str:
    if not values:
        return "-"
    low, high = min(values), max(values)
    return f"{low:,}" if low == high else f"{low:,}-{high:,}"


def check_rows(
    runs: dict[str, list[dict[str, Any]]], quantity: int, retry_every: int
) -> list[dict[str, Any]]:
    """Per variant: the runs summed up, and whether each ended with exactly `quantity` orders."""
    rows = []
    for variant, results in runs.items():
        accepted = [r["accepted"] for r in results]
        orders = [r["orders_in_db"] for r in results]
        passed = sum(
            1
            for r in results
            if r["accepted"] == quantity
            and r["orders_in_db"] == quantity
            and r["units_in_db"] == quantity
            and r["oversell"] == 0
            and r["duplicates"] == 0
            and r["lost"] == 0
            and not r["note"].startswith("failed")
        )
        outcomes: dict[str, int] = {}
        for r in results:
            for key, count in r["outcomes"].items():
                outcomes[key] = outcomes.get(key, 0) + count
        rows.append(
            {
                "variant": variant,
                "stack": results[0]["stack"] if results else "",
                "runs": len(results),
                "buyers": results[0]["buyers"] if results else 0,
                "quantity": quantity,
                "retry_every": retry_every,
                "accepted_per_run": accepted,
                "orders_per_run": orders,
                "accepted": _span(accepted),
                "orders": _span(orders),
                "units": _span([r["units_in_db"] for r in results]),
                "oversell": sum(r["oversell"] for r in results),
                "duplicates": sum(r["duplicates"] for r in results),
                "lost": sum(r["lost"] for r in results),
                "failed": sum(1 for r in results if r["note"].startswith("failed")),
                "passed": passed,
                "outcomes": outcomes,
                "notes": sorted({r["note"] for r in results if r["note"]}),
            }
        )
    return rows


def print_check(rows: list[dict[str, Any]], console: Console | None = None) -> None:
    """The correctness table of repeated small bursts."""
    first = rows[0] if rows else {}
    table = Table(
        title=(
            f"flash-sale correctness: {first.get('buyers', 0):,} buyers vs quantity "
            f"{first.get('quantity', 0):,} (every {first.get('retry_every', 0)}th buyer also "
            "retries with its key and tries a second key), per run"
        )
    )
    for name in (
        "variant",
        "stack",
        "runs",
        "201 orders/run",
        "orders in DB",
        "units",
        "oversell",
        "duplicates",
        "lost 201",
        "failed",
        "passed",
    ):
        justify = "left" if name in ("variant", "stack") else "right"
        table.add_column(name, justify=justify)
    for r in rows:
        table.add_row(
            r["variant"],
            r["stack"],
            _fmt(r["runs"]),
            r["accepted"],
            r["orders"],
            r["units"],
            _fmt(r["oversell"]),
            _fmt(r["duplicates"]),
            _fmt(r["lost"]),
            _fmt(r["failed"]),
            f"{r['passed']}/{r['runs']}",
        )
    (console or Console()).print(table)
    for r in rows:
        answers = ", ".join(f"{k}: {v:,}" for k, v in r["outcomes"].items())
        (console or Console()).print(f"{r['variant']} answers over all runs: {answers}")
        for note in r["notes"][:3]:
            (console or Console()).print(f"  note: {note[:200]}")


def write_json(payload: dict[str, Any], path: Path | None = None) -> Path:
    """Write the run's results; by default to bench/results/<UTC timestamp>.json."""
    if path is None:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
