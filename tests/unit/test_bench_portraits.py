"""The portraits benchmark's event generator: deterministic and in the event log's schema."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from bench.portraits import MIX, LogShape, day_table, favourite_anchors, generate

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
    # As compaction writes a day: by type, then time.
    kinds_by_row = table.column("event_type").to_pylist()
    order = list(zip(kinds_by_row, table.column("occurred_at").to_pylist(), strict=True))
    assert order == sorted(order)
    times = [t for _, t in order]
    assert all(t.date().isoformat() == "2026-10-01" for t in times)
    # Order rows carry an order, a product and money; chat carries text.
    for row in table.to_pylist():
        if row["event_type"] == "order":
            assert row["order_id"] and row["product_id"] and row["amount"] > 0
        if row["event_type"] == "chat":
            assert row["text"]
        assert (row["consumer_id"] is None) != (row["anonymous_id"] is None)


def test_files_per_day_split_a_day_in_time_order_as_the_sink_writes(tmp_path: Path) -> None:
    shape = LogShape.for_events(20_000, days=2)
    root = tmp_path / "events"
    assert generate(root, shape, files_per_day=7) == 20_000
    files = sorted(root.glob("date=2026-10-01/*.parquet"))
    assert len(files) == 7
    times = [t for f in files for t in pq.read_table(f).column("occurred_at").to_pylist()]
    assert times == sorted(times)
    assert pa.concat_tables(pq.read_table(f, partitioning=None) for f in files).equals(
        day_table(shape, 0)
    )


def _key(row: dict[str, Any]) -> str:
    return str(row["consumer_id"]) if row["consumer_id"] is not None else row["anonymous_id"]


def _pairs(table: pa.Table) -> int:
    """Distinct (consumer, session) pairs among the rows in a session."""
    return len({(_key(r), r["session_id"]) for r in table.to_pylist() if r["session_id"]})


def test_a_viewer_watches_between_join_and_leave() -> None:
    table = day_table(LogShape.for_events(40_000, days=2), 1)
    by_pair: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in table.to_pylist():
        if row["session_id"] is not None:
            by_pair[(_key(row), row["session_id"])].append(row)
    complete = 0
    for rows in by_pair.values():
        # Rows come in time order; a viewer may be in a session twice (two tabs) at once.
        open_visits = 0
        for row in rows:
            open_visits += {"join": 1, "leave": -1}.get(row["event_type"], 0)
            assert open_visits >= 0, "a leave without its join"
            if row["event_type"] != "payment":  # the payment webhook may come after leave
                assert open_visits > 0 or row["event_type"] == "leave", row
        joins = [r["occurred_at"] for r in rows if r["event_type"] == "join"]
        leaves = [r["occurred_at"] for r in rows if r["event_type"] == "leave"]
        if len(joins) != len(leaves):
            continue  # the day's last visit is cut short
        complete += 1
        # Heartbeats every 30 s and the leave's remainder add up to each visit's length.
        watched = sum(r["watch_seconds"] for r in rows if r["watch_seconds"] is not None)
        length = sum((b - a for a, b in zip(joins, leaves, strict=True)), timedelta())
        assert watched == pytest.approx(length.total_seconds(), abs=1e-6)
        assert all(r["watch_seconds"] == 30.0 for r in rows if r["event_type"] == "heartbeat")
        assert all(0 <= r["watch_seconds"] < 30 for r in rows if r["event_type"] == "leave")
    assert complete > 100


def test_a_payment_pays_an_order_of_the_same_visit_a_few_seconds_later() -> None:
    rows = day_table(LogShape.for_events(200_000, days=2), 0).to_pylist()
    orders = {r["order_id"]: r for r in rows if r["event_type"] == "order"}
    payments = [r for r in rows if r["event_type"] == "payment"]
    assert len(orders) == sum(r["event_type"] == "order" for r in rows)  # ids unique
    assert 0.6 < len(payments) / len(orders) < 0.95
    assert len({p["order_id"] for p in payments}) == len(payments)
    for payment in payments:
        order = orders[payment["order_id"]]
        assert payment["quantity"] == order["quantity"]
        assert payment["amount"] == order["amount"] > 0
        assert payment["consumer_id"] == order["consumer_id"] is not None
        assert payment["session_id"] == order["session_id"] is not None
        delay = (payment["occurred_at"] - order["occurred_at"]).total_seconds()
        assert 1 <= delay <= 10


def test_type_shares_come_out_as_the_mix() -> None:
    table = day_table(LogShape.for_events(300_000, days=3), 2)
    assert table.num_rows == 100_000
    kinds = Counter(table.column("event_type").to_pylist())
    total = sum(s for _, s in MIX)
    for kind, share in MIX:
        assert abs(kinds[kind] / table.num_rows - share / total) < 0.015, kind
    favourites = table.filter(pc.equal(table.column("event_type"), "favourite"))
    assert favourites.column("session_id").null_count == favourites.num_rows
    assert favourites.column("anchor_id").null_count == favourites.num_rows


def test_each_day_has_exactly_its_events_sorted_with_unique_ids() -> None:
    shape = LogShape.for_events(20_001, days=2)
    for day, expected in ((0, 10_001), (1, 10_000)):
        table = day_table(shape, day)
        assert table.num_rows == expected
        times = table.column("occurred_at").to_pylist()
        assert times == sorted(times)
        assert pc.count_distinct(table.column("event_id")).as_py() == expected


def test_signed_in_viewers_mostly_watch_their_favourite_anchors() -> None:
    shape = LogShape(events=60_000, days=1, users=400, sessions_per_day=120, seed=3)
    favourites = favourite_anchors(shape)
    joins = [
        r
        for r in day_table(shape, 0).to_pylist()
        if r["event_type"] == "join" and r["consumer_id"] is not None
    ]
    liked = [r["anchor_id"] in favourites[r["consumer_id"] - 1] for r in joins]
    assert sum(liked) / len(joins) > 0.6
    # The same favourites another day: they belong to the user, not to the day.
    assert (favourite_anchors(shape) == favourites).all()


def test_visits_give_few_consumer_session_pairs_and_scattered_many() -> None:
    shape = LogShape(events=30_000, days=1, users=2_000, sessions_per_day=30, seed=5)
    visits = day_table(shape, 0)
    scattered = day_table(replace(shape, layout="scattered"), 0)
    assert visits.num_rows == scattered.num_rows == 30_000
    assert _pairs(visits) < visits.num_rows / 5
    assert _pairs(scattered) > 4 * _pairs(visits)


def test_an_unknown_layout_is_refused() -> None:
    with pytest.raises(ValueError, match="layout"):
        LogShape.for_events(1_000, layout="shuffled")


def test_the_floor_computes_what_the_pipeline_computes(tmp_path: Path) -> None:
    """The floor is a lower bound only if it does the pipeline's work: the fields both
    compute agree per consumer, and its fan and affinity groups have the pipeline's keys."""
    from bench.portraits import run_floor

    from livecart.insights import portraits

    root = tmp_path / "events"
    generate(root, LogShape.for_events(20_000, days=3))
    floor_rows, floor_fans, _, floor_weights = run_floor(root)
    run = portraits.run_duckdb(root)
    ours = {r["consumer_key"]: r for r in run.table.to_pylist()}
    theirs = {r["consumer_key"]: r for r in floor_rows.to_pylist()}
    assert set(theirs) == set(ours)
    shared = {
        "events": "events",
        "sessions": "sessions_watched",
        "chats": "messages",
        "likes": "likes",
        "days_active": "days_active",
        "first_seen": "first_seen",
        "last_seen": "last_seen",
        "carts": "carts",
        "products_viewed": "products_viewed",
        "orders": "orders",
        "paid_orders": "paid_orders",
        "frequency": "frequency",
    }
    for key, row in ours.items():
        for floor_name, name in shared.items():
            assert (theirs[key][floor_name] or 0) == row[name], (key, name)
        assert theirs[key]["watch_seconds"] == pytest.approx(row["watch_seconds"])
        assert (theirs[key]["spend"] or 0) == row["monetary"]
    assert floor_fans.num_rows == run.fan_levels.num_rows
    assert floor_weights.num_rows > 0
