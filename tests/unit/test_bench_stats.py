"""The benchmark harness's arithmetic on known inputs (no benchmark runs here)."""

from __future__ import annotations

import pytest
from bench.report import fanout_rows
from bench.stats import (
    backlog_trend,
    busy_percent,
    cpu_seconds,
    machine_ticks,
    marker_text,
    parse_marker,
    per_second,
    percentile,
)


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 100..1, unsorted on purpose
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile(values, 0) == 1.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_marker_round_trip_inside_a_json_frame() -> None:
    text = marker_text("bench:", 42, 1_234_567_890)
    frame = '{"type":"chat","id":7,"user":{"id":2},"text":"' + text + '","at":"2026-01-01"}'
    assert parse_marker(frame, "bench:") == (42, 1_234_567_890)
    assert parse_marker('{"type":"viewers","count":3}', "bench:") is None
    assert parse_marker('{"text":"bench:12"}', "bench:") is None


def test_cpu_seconds_from_proc_stat_with_spaces_in_the_name() -> None:
    fields = ["S"] + ["0"] * 10 + ["250", "150"] + ["0"] * 30
    line = "1234 (python -m bench) " + " ".join(fields)
    assert cpu_seconds(line, ticks=100) == 4.0


def test_machine_busy_share_leaves_out_idle_and_iowait() -> None:
    before = machine_ticks("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\n")
    assert before == (150, 1000)
    # 300 more ticks: 120 user, 30 system, 140 idle, 10 iowait -> 150 of 300 busy.
    after = machine_ticks("cpu  220 0 80 940 60 0 0 0 0 0\n")
    assert busy_percent(before, after) == 50.0
    assert busy_percent(after, after) == 0.0
    with pytest.raises(ValueError):
        machine_ticks("intr 1 2 3\n")


def test_fanout_rows_ratio_to_the_ceiling_and_the_target() -> None:
    def result(variant: str, viewers: int, rate: float, p99: float | None) -> dict[str, object]:
        return {
            "variant": variant,
            "viewers": viewers,
            "deliveries_per_second": rate,
            "p99_ms": p99,
            "note": "",
        }

    rows = fanout_rows(
        [
            result("livecart", 1000, 15_000.0, 120.0),
            result("ceiling", 1000, 20_000.0, 30.0),
            result("livecart", 5000, 30_000.0, 900.0),
            result("ceiling", 5000, 0.0, None),
        ]
    )
    assert [r["ratio_to_ceiling"] for r in rows] == [0.75, 1.0, None, None]
    assert [r["target"] for r in rows] == ["met", "", "", ""]
    missed = fanout_rows(
        [result("livecart", 1000, 10_000.0, 120.0), result("ceiling", 1000, 20_000.0, 30.0)]
    )
    assert missed[0]["target"] == "missed"
    assert per_second(300, 10.0) == 30.0
    assert per_second(5, 0.0) == 0.0


def test_backlog_trend_first_and_last_fifth() -> None:
    sequences = [s for s in range(10) for _ in range(3)]  # 10 messages, 3 viewers each
    latencies = [10.0 * (s + 1) for s in sequences]
    assert backlog_trend(sequences, latencies, total=10) == (10.0, 90.0)
    assert backlog_trend([], [], total=10) == (None, None)


def test_printed_tables_put_every_value_under_a_header() -> None:
    from bench.report import burst_rows, print_burst, print_fanout
    from rich.console import Console

    fanout = fanout_rows(
        [
            {"variant": v, "viewers": 1000, "deliveries_per_second": 1.0, "p99_ms": 1.0}
            | {"connected": 1000, "dropped": 0, "p50_ms": 1.0, "note": ""}
            | {"server_cpu_seconds": 1.0, "server_cpu_percent": 1.0}
            for v in ("livecart", "ceiling")
        ]
    )
    burst = burst_rows(
        [
            {"variant": v, "stack": "s", "accepted": 1, "accepted_per_second": 2.0}
            | {"noop_per_second": 4.0, "p50_ms": 1.0, "p99_ms": 1.0, "noop_p99_ms": 1.0}
            | {"oversell": 0, "orders_in_db": 1, "units_in_db": 1, "stock_left": 0}
            | {"lost": 0, "duplicates": 0, "server_cpu_percent": 1.0, "note": ""}
            for v in ("baseline-pg", "memory-pg")
        ]
    )
    for show, rows in ((print_fanout, fanout), (print_burst, burst)):
        console = Console(record=True, width=400)
        show(rows, console)
        lines = console.export_text().splitlines()
        header = next(line for line in lines if line.startswith("┃"))
        names = [cell.strip() for cell in header.strip("┃").split("┃")]
        assert all(names), names  # rich adds unnamed columns for cells beyond the headers
        body = [line for line in lines if line.startswith("│")]
        assert body and all(line.count("│") == header.count("┃") for line in body)
