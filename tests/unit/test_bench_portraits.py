"""The portraits benchmark's event generator: deterministic and in the event log's schema."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from bench.portraits import MIX, LogShape, day_table, generate

from livecart.events.schemas import EVENT_ARROW_SCHEMA, EventType


def test_same_seed_same_events_and_another_seed_differs() -> None:
    shape = LogShape.for_events(30_000, days=3)
    first = day_table(shape, 1)
    assert first.equals(day_table(shape, 1))
    other = day_table(LogShape.for_events(30_000, days=3, seed=7), 1)
    assert not first.equals(other)


def test_files_have_the_log_schema_and_a_full_mix(tmp_path: Path) -> None:
    shape = LogShape.for_events(20_000, days=2)
    root = tmp_path / "events"
    assert generate(root, shape) == 20_000
    files = sorted(root.glob("date=*/*.parquet"))
    assert [f.parent.name for f in files] == ["date=2026-10-01", "date=2026-10-02"]
    table = pq.read_table(files[0], partitioning=None)
    assert table.schema.equals(EVENT_ARROW_SCHEMA)
    kinds = set(table.column("event_type").to_pylist())
    assert kinds == {k for k, _ in MIX}
    assert kinds <= {e.value for e in EventType}
    ids = table.column("event_id").to_pylist()
    assert len(set(ids)) == len(ids)
    times = table.column("occurred_at").to_pylist()
    assert times == sorted(times)
    assert all(t.date().isoformat() == "2026-10-01" for t in times)
    # Order rows carry an order, a product and money; chat carries text.
    for row in table.to_pylist():
        if row["event_type"] == "order":
            assert row["order_id"] and row["product_id"] and row["amount"] > 0
        if row["event_type"] == "chat":
            assert row["text"]
        assert (row["consumer_id"] is None) != (row["anonymous_id"] is None)
