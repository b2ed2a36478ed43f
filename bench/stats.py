"""Latency and rate arithmetic shared by the benchmarks (no I/O, so it can be unit-tested)."""

from __future__ import annotations

import math
from collections.abc import Sequence

CLOCK_TICKS = 100  # the usual USER_HZ; `cpu_seconds` takes the real value when it can


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The nearest-rank percentile (pct in 0..100) of values; None when there are none."""
    if not values:
        return None
    if not 0 <= pct <= 100:
        raise ValueError("pct must be within 0..100")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def parse_marker(raw: str, marker: str) -> tuple[int, int] | None:
    """(sequence, send time in ns) from a frame carrying `<marker><seq>:<ns>`; else None."""
    start = raw.find(marker)
    if start < 0:
        return None
    start += len(marker)
    end = start
    while end < len(raw) and (raw[end].isdigit() or raw[end] == ":"):
        end += 1
    parts = raw[start:end].split(":")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return int(parts[0]), int(parts[1])


def parse_markers(raw: str, marker: str) -> list[tuple[int, int]]:
    """Every (sequence, send time in ns) in a message: one frame, or a batch (a JSON array)."""
    found: list[tuple[int, int]] = []
    start = raw.find(marker)
    while start >= 0:
        parsed = parse_marker(raw[start:], marker)
        if parsed is not None:
            found.append(parsed)
        start = raw.find(marker, start + len(marker))
    return found


def frames_of(message: object) -> list[object]:
    """The frames of a decoded message: a batch (JSON array) or a single frame."""
    return list(message) if isinstance(message, list) else [message]


def marker_text(marker: str, seq: int, sent_ns: int) -> str:
    """The chat text that carries the sequence number and the send time."""
    return f"{marker}{seq}:{sent_ns}"


def per_second(count: int, seconds: float) -> float:
    """A count over a duration (0 for an empty duration)."""
    return count / seconds if seconds > 0 else 0.0


def ratio(value: float, ceiling: float) -> float | None:
    """value / ceiling, or None without a ceiling."""
    return value / ceiling if ceiling > 0 else None


def cpu_seconds(stat_line: str, ticks: int = CLOCK_TICKS) -> float:
    """User + system CPU seconds from a /proc/<pid>/stat line."""
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    fields = stat_line[stat_line.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / ticks


def machine_ticks(proc_stat: str) -> tuple[int, int]:
    """(busy, total) clock ticks of all cores from /proc/stat's first line.

    Idle and iowait count as not busy; the difference of two readings over a run says how much
    of the whole machine (every process: servers, databases, load generators) was in use.
    """
    fields = proc_stat.splitlines()[0].split()
    if fields[0] != "cpu":
        raise ValueError("not a /proc/stat text")
    ticks = [int(f) for f in fields[1:9]]  # user nice system idle iowait irq softirq steal
    total = sum(ticks)
    return total - ticks[3] - ticks[4], total


def busy_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of the machine's CPU in use between two `machine_ticks` readings."""
    busy, total = after[0] - before[0], after[1] - before[1]
    return 100 * busy / total if total > 0 else 0.0


def backlog_trend(
    sequences: Sequence[int], latencies: Sequence[float], total: int, share: float = 0.2
) -> tuple[float | None, float | None]:
    """Median latency of the first and of the last `share` of the messages sent.

    Flat means a fixed cost per message; rising means the server takes messages in more slowly
    than they are sent, and a backlog grows for the whole run.
    """
    edge = max(1, round(total * share))
    first = [lat for seq, lat in zip(sequences, latencies, strict=True) if seq < edge]
    last = [lat for seq, lat in zip(sequences, latencies, strict=True) if seq >= total - edge]
    return percentile(first, 50), percentile(last, 50)
