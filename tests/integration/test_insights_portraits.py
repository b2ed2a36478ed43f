"""Consumer portraits (`livecart insights portraits`): the DuckDB rows checked against values
computed here in plain Python from the events written, and Spark (local mode) giving the same
rows as DuckDB on the same log."""

from __future__ import annotations

import asyncio
import csv
import json
import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from livecart.cli import app
from livecart.events import service
from livecart.events.schemas import EVENT_ARROW_SCHEMA, BehaviourEvent, EventType
from livecart.events.sink import ParquetEventSink
from livecart.insights import importers, keywords, portraits, tags
from tests.support import shared_file

runner = CliRunner()
FLOATS = {"watch_seconds", "average_stay_seconds", "interactions_per_hour", "return_rate"}
QUESTION_WORDS = (
    "什么", "怎么", "多少", "为什么", "哪里", "哪个", "哪些", "几号", "有没有", "能不能", "是不是",
)  # fmt: skip


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def event(kind: str, when: datetime, **fields: Any) -> BehaviourEvent:
    return service.new_event(EventType(kind), occurred_at=when, **fields)


def write_with_sink(root: Path, events: list[BehaviourEvent], *, batch: int = 10_000) -> None:
    """Through the real sink, as the server writes the log (one flush per batch)."""

    async def go() -> None:
        sink = ParquetEventSink(root, batch_size=10_000, flush_seconds=3600, fsync=False)
        for start in range(0, len(events), batch):
            for item in events[start : start + batch]:
                sink.emit(item)
            assert await sink.flush() == len(events[start : start + batch])

    asyncio.run(go())


# --- the portrait computed independently, event by event --------------------------------


def key_of(e: BehaviourEvent) -> str | None:
    return str(e.consumer_id) if e.consumer_id is not None else e.anonymous_id


def asks(text: str | None) -> bool:
    if not text:
        return False
    return "?" in text or "？" in text or text[-1] == "吗" or any(w in text for w in QUESTION_WORDS)


def quintiles(values: dict[str, int], *, high_is_good: bool) -> dict[str, int]:
    """Score 1-5: 1 + floor(5 * (number of buyers strictly worse) / buyers)."""
    n = len(values)
    scores = {}
    for key, value in values.items():
        worse = sum(
            1 for other in values.values() if (other < value if high_is_good else other > value)
        )
        scores[key] = 1 + (5 * worse) // n
    return scores


def expected_portraits(events: list[BehaviourEvent], as_of: date) -> dict[str, dict[str, Any]]:
    by_key: dict[str, list[BehaviourEvent]] = defaultdict(list)
    for e in events:
        key = key_of(e)
        if key is not None and e.day <= as_of:
            by_key[key].append(e)
    rows: dict[str, dict[str, Any]] = {}
    for key, mine in by_key.items():
        kinds = Counter(e.event_type.value for e in mine)
        watch = sum(e.watch_seconds or 0.0 for e in mine)
        sessions = {
            e.session_id
            for e in mine
            if e.event_type.value in ("join", "heartbeat", "leave") and e.session_id is not None
        }
        orders = [e for e in mine if e.event_type is EventType.ORDER]
        hours = Counter(e.occurred_at.hour for e in mine)
        histogram = [hours.get(h, 0) for h in range(24)]
        order_days = {e.day for e in orders}
        units = sum(1 if e.quantity is None else e.quantity for e in orders)
        returned = sum(
            1 if e.quantity is None else e.quantity for e in mine if e.event_type.value == "return"
        )
        rows[key] = {
            "consumer_key": key,
            "consumer_id": mine[0].consumer_id,
            "anonymous_id": None if mine[0].consumer_id is not None else key,
            "events": len(mine),
            "watch_seconds": watch,
            "sessions_watched": len(sessions),
            "average_stay_seconds": watch / len(sessions) if sessions else None,
            "active_hours": histogram,
            "peak_hour": histogram.index(max(histogram)),
            "messages": kinds["chat"],
            "likes": kinds["like"],
            "questions": sum(1 for e in mine if e.event_type is EventType.CHAT and asks(e.text)),
            "interactions_per_hour": (kinds["chat"] + kinds["like"]) / (watch / 3600)
            if watch > 0
            else None,
            "products_viewed": len(
                {
                    e.product_id
                    for e in mine
                    if e.event_type.value in ("product_click", "detail_view")
                    and e.product_id is not None
                }
            ),
            "categories_viewed": 0,  # livecart's events carry no category (catalogue join)
            "carts": kinds["add_to_cart"],
            "favourites": kinds["favourite"],
            "orders": len({e.order_id if e.order_id is not None else e.event_id for e in orders}),
            "paid_orders": len(
                {e.order_id for e in mine if e.event_type is EventType.PAYMENT and e.order_id}
            ),
            "units": units,
            "spend": sum(e.amount or 0 for e in orders),
            "returns": kinds["return"],
            "returned_units": returned,
            "return_rate": returned / units if units else None,
            "first_seen": min(e.occurred_at for e in mine),
            "last_seen": max(e.occurred_at for e in mine),
            "days_active": len({e.day for e in mine}),
            "last_order_day": max(order_days) if order_days else None,
            "recency_days": (as_of - max(order_days)).days if order_days else None,
            "frequency": len(order_days),
            "monetary": sum(e.amount or 0 for e in orders),
            "currency": max((e.currency for e in orders if e.currency), default=None),
            "top_keywords": [
                word
                for word, _ in keywords.top_keywords(
                    Counter(
                        w
                        for e in mine
                        if e.event_type is EventType.CHAT and e.text
                        for w in keywords.words(e.text)
                    )
                )
            ],
        }
    buyers = {k: r for k, r in rows.items() if r["orders"] > 0}
    scored = {
        "r_score": quintiles({k: r["recency_days"] for k, r in buyers.items()}, high_is_good=False),
        "f_score": quintiles({k: r["frequency"] for k, r in buyers.items()}, high_is_good=True),
        "m_score": quintiles({k: r["monetary"] for k, r in buyers.items()}, high_is_good=True),
    }
    for key, row in rows.items():
        for name, scores in scored.items():
            row[name] = scores.get(key)
    fans = expected_fan_levels(events, as_of)
    for key, row in rows.items():
        levels = [level for (k, _anchor), (_score, level) in fans.items() if k == key]
        row["tags"] = tags.tags(row, fan_levels=levels)
    return rows


def expected_fan_levels(
    events: list[BehaviourEvent], as_of: date
) -> dict[tuple[str, int], tuple[int, int]]:
    """(consumer key, anchor) -> (score, level): whole minutes + 2 chats + likes + 20 orders."""
    parts: dict[tuple[str, int], dict[str, Any]] = defaultdict(
        lambda: {"seconds": 0, "chat": 0, "like": 0, "orders": set()}
    )
    for e in events:
        key = key_of(e)
        if key is None or e.day > as_of or e.anchor_id is None:
            continue
        part = parts[(key, e.anchor_id)]
        part["seconds"] += math.floor(e.watch_seconds or 0.0)
        if e.event_type.value in ("chat", "like"):
            part[e.event_type.value] += 1
        if e.event_type is EventType.ORDER:
            part["orders"].add(e.order_id if e.order_id is not None else e.event_id)
    result = {}
    for pair, part in parts.items():
        score = part["seconds"] // 60 + 2 * part["chat"] + part["like"] + 20 * len(part["orders"])
        level = 1 + sum(1 for t in (10, 30, 100, 300, 1000, 3000, 10000) if score >= t)
        result[pair] = (score, level)
    return result


def assert_same_rows(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    """Same keys in the same order; integers, strings and times exact, floats within 1e-9."""
    assert [r["consumer_key"] for r in got] == [r["consumer_key"] for r in want]
    for mine, theirs in zip(got, want, strict=True):
        assert set(mine) == set(theirs)
        for name, value in theirs.items():
            other = mine[name]
            if name in FLOATS and value is not None and other is not None:
                assert math.isclose(other, value, rel_tol=1e-9, abs_tol=1e-9), (
                    mine["consumer_key"],
                    name,
                    other,
                    value,
                )
            else:
                assert other == value, (mine["consumer_key"], name, other, value)


def assert_same_extras(got: portraits.PortraitRun, want: portraits.PortraitRun) -> None:
    """Fan levels and keyword counts equal; affinity scores within 1e-12 (one division)."""
    order = [("consumer_key", "ascending"), ("anchor_id", "ascending")]
    assert got.fan_levels.sort_by(order).equals(want.fan_levels.sort_by(order))
    assert got.keywords == want.keywords
    mine, theirs = got.affinities.to_pylist(), want.affinities.to_pylist()
    assert [{**r, "score": None} for r in mine] == [{**r, "score": None} for r in theirs]
    for a, b in zip(mine, theirs, strict=True):
        assert math.isclose(a["score"], b["score"], rel_tol=1e-12)


def rows(run: portraits.PortraitRun) -> list[dict[str, Any]]:
    return run.table.to_pylist()


# --- logs --------------------------------------------------------------------------------


def small_log() -> list[BehaviourEvent]:
    """Two signed-in viewers, one imported Taobao buyer, one anonymous browser."""
    one = dict(consumer_id=1)
    two = dict(consumer_id=2)
    return [
        # consumer 1 watches session 10 for 72.5 s and session 11 for 30 s
        event("join", at(1, 20, 0), session_id=10, **one),
        event("heartbeat", at(1, 20, 0, 30), session_id=10, watch_seconds=30.0, **one),
        event("heartbeat", at(1, 20, 1), session_id=10, watch_seconds=30.0, **one),
        event("leave", at(1, 20, 1, 12), session_id=10, watch_seconds=12.5, **one),
        event("chat", at(1, 20, 0, 40), session_id=10, text="这个多少钱", **one),
        event("chat", at(1, 20, 0, 41), session_id=10, text="有货吗", **one),
        event("chat", at(1, 20, 0, 42), session_id=10, text="Is it cotton?", **one),
        event("chat", at(1, 20, 0, 43), session_id=10, text="好看", **one),
        event("like", at(1, 20, 0, 50), session_id=10, **one),
        event("like", at(1, 20, 0, 51), session_id=10, **one),
        event("product_click", at(1, 20, 0, 55), session_id=10, product_id=7, **one),
        event("detail_view", at(1, 20, 0, 56), session_id=10, product_id=7, **one),
        event("detail_view", at(1, 20, 0, 57), session_id=10, product_id=8, **one),
        event("add_to_cart", at(1, 20, 1), product_id=7, quantity=2, **one),
        # one order of two lines, paid; another order on day 3
        event("order", at(1, 20, 1, 5), order_id=100, product_id=7, quantity=2, amount=5998, **one),
        event("order", at(1, 20, 1, 5), order_id=100, product_id=8, quantity=1, amount=1500, **one),
        event("payment", at(1, 20, 2), order_id=100, quantity=3, amount=7498, **one),
        event("join", at(3, 9, 0), session_id=11, **one),
        event("leave", at(3, 9, 0, 30), session_id=11, watch_seconds=30.0, **one),
        event("order", at(3, 9, 0, 20), order_id=101, product_id=9, quantity=1, amount=2000, **one),
        # consumer 2 only watches and asks, on day 2
        event("join", at(2, 23, 59), session_id=10, **two),
        event("heartbeat", at(2, 23, 59, 30), session_id=10, watch_seconds=30.0, **two),
        event("chat", at(2, 23, 59, 40), session_id=10, text="怎么买？", **two),
        # signed in, with the browser's id too: still consumer 2's like, not a new consumer
        event("like", at(2, 23, 59, 45), session_id=10, anonymous_id="two-browser", **two),
        event("leave", at(3, 0, 0, 10), session_id=10, watch_seconds=40.0, **two),
        # imported Taobao history: orders without an order_id
        event("order", at(1, 0), anonymous_id="taobao:123", product_id=5, source="import:taobao"),
        event("order", at(2, 0), anonymous_id="taobao:123", product_id=6, source="import:taobao"),
        event("add_to_cart", at(2, 1), anonymous_id="taobao:123", product_id=6),
        event("detail_view", at(3, 1), anonymous_id="taobao:123", product_id=6),
        # an anonymous browser, and an event without any key (not a consumer)
        event("product_click", at(3, 12), anonymous_id="b7c1-anon", product_id=7),
        event("detail_view", at(4, 12), anonymous_id="b7c1-anon", product_id=7),
        event("like", at(3, 13), session_id=10),
    ]


def generated_log(count: int, seed: int) -> list[BehaviourEvent]:
    """Random events of 30 consumers (signed in, imported and anonymous) over 20 days."""
    rng = random.Random(seed)
    keys: list[dict[str, Any]] = [{"consumer_id": i} for i in range(1, 19)]
    keys += [{"anonymous_id": f"taobao:{i}"} for i in range(500, 508)]
    keys += [{"anonymous_id": f"{i:08x}-anon"} for i in range(4)]
    kinds = ["join", "heartbeat", "leave", "chat", "like", "product_click", "detail_view"]
    kinds += ["add_to_cart", "order", "payment"]
    weights = [5, 20, 5, 8, 10, 6, 4, 3, 3, 2]
    texts = ["hello", "多少钱", "is it cotton?", "好看吗", "nice", "怎么买", "尺码？", "wow", ""]
    texts += ["love this lipstick", "口红颜色好看", "the lipstick shade is lovely", "包邮吗"]
    start = at(1, 0)
    out = []
    for _ in range(count):
        who = rng.choice(keys)
        kind = rng.choices(kinds, weights=weights)[0]
        fields: dict[str, Any] = {**who, "session_id": rng.randint(1, 6)}
        fields["anchor_id"] = 900 + fields["session_id"] % 3
        if kind in ("heartbeat", "leave"):
            fields["watch_seconds"] = rng.choice([30.0, 12.5, 0.1, 7.3, 29.97])
        if kind == "chat":
            fields["text"] = rng.choice(texts)
        if kind in ("product_click", "detail_view", "add_to_cart", "order"):
            fields["product_id"] = rng.randint(1, 12)
        if kind == "order":
            fields["order_id"] = rng.choice([None, rng.randint(1, 60)])
            fields["quantity"] = rng.randint(1, 3)
            fields["amount"] = rng.randint(100, 99_999)
            fields["currency"] = "CNY"
        if kind == "payment":
            fields["order_id"] = rng.randint(1, 60)
        when = start + timedelta(seconds=rng.randint(0, 20 * 86_400 - 1))
        out.append(event(kind, when, **fields))
    return out


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One local Spark session for the module (it takes ~10-15 s to start)."""
    with portraits.spark_session() as session:
        yield session


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[BehaviourEvent]]:
    root = tmp_path_factory.mktemp("small") / "events"
    events = small_log()
    write_with_sink(root, events)
    return root, events


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[BehaviourEvent]]:
    root = tmp_path_factory.mktemp("generated") / "events"
    events = generated_log(4000, seed=4)
    write_with_sink(root, events, batch=1000)  # several files per day
    return root, events


# --- tests -------------------------------------------------------------------------------


def test_duckdb_portraits_match_the_events(small: tuple[Path, list[BehaviourEvent]]) -> None:
    root, events = small
    run = portraits.run_duckdb(root)
    assert run.as_of == date(2026, 3, 4)  # the day of the latest event
    got = {r["consumer_key"]: r for r in rows(run)}
    assert sorted(got) == ["1", "2", "b7c1-anon", "taobao:123"]

    one = got["1"]
    assert one["watch_seconds"] == pytest.approx(102.5)
    assert one["sessions_watched"] == 2
    assert one["average_stay_seconds"] == pytest.approx(51.25)
    assert (one["messages"], one["likes"], one["questions"]) == (4, 2, 3)
    assert one["interactions_per_hour"] == pytest.approx(6 / (102.5 / 3600))
    assert one["products_viewed"] == 2
    assert (one["carts"], one["orders"], one["paid_orders"]) == (1, 2, 1)
    assert (one["units"], one["spend"]) == (4, 9498)
    assert one["peak_hour"] == 20
    assert one["active_hours"][20] == 17 and sum(one["active_hours"]) == 20
    assert one["days_active"] == 2
    assert (one["recency_days"], one["frequency"], one["monetary"]) == (1, 2, 9498)

    two = got["2"]
    assert two["sessions_watched"] == 1 and two["watch_seconds"] == pytest.approx(70.0)
    assert two["questions"] == 1 and two["orders"] == 0
    assert two["likes"] == 1 and two["anonymous_id"] is None  # the like with a browser id
    assert two["recency_days"] is None and two["r_score"] is None
    assert two["days_active"] == 2  # the leave fell after midnight UTC

    taobao = got["taobao:123"]
    assert taobao["consumer_id"] is None and taobao["anonymous_id"] == "taobao:123"
    assert (taobao["orders"], taobao["frequency"], taobao["spend"]) == (2, 2, 0)
    assert (taobao["carts"], taobao["products_viewed"], taobao["days_active"]) == (1, 1, 3)
    assert taobao["watch_seconds"] == 0 and taobao["interactions_per_hour"] is None

    want = expected_portraits(events, run.as_of)
    assert_same_rows(rows(run), [want[k] for k in sorted(want)])
    fans = {
        (r["consumer_key"], r["anchor_id"]): (r["score"], r["level"])
        for r in run.fan_levels.to_pylist()
    }
    assert fans == expected_fan_levels(events, run.as_of)


def test_as_of_leaves_out_later_days_and_measures_recency_from_it(
    small: tuple[Path, list[BehaviourEvent]],
) -> None:
    root, events = small
    run = portraits.run_duckdb(root, as_of=date(2026, 3, 2))
    got = {r["consumer_key"]: r for r in rows(run)}
    assert "b7c1-anon" not in got
    assert got["1"]["orders"] == 1 and got["1"]["recency_days"] == 1
    want = expected_portraits(events, date(2026, 3, 2))
    assert_same_rows(rows(run), [want[k] for k in sorted(want)])


def test_generated_log_matches_the_events(
    generated: tuple[Path, list[BehaviourEvent]],
) -> None:
    root, events = generated
    run = portraits.run_duckdb(root, as_of=date(2026, 3, 18))
    want = expected_portraits(events, date(2026, 3, 18))
    got = rows(run)
    assert len(got) == 30
    # Both keys, every monetary score and ties in recency (which share a score) are in the data.
    assert any(r["consumer_id"] is None for r in got) and any(r["consumer_id"] for r in got)
    buyers = [r for r in got if r["orders"]]
    assert {r["m_score"] for r in buyers} == {1, 2, 3, 4, 5}
    assert len({r["recency_days"] for r in buyers}) < len(buyers)
    assert_same_rows(got, [want[k] for k in sorted(want)])
    fans = expected_fan_levels(events, run.as_of)
    assert {
        (r["consumer_key"], r["anchor_id"]): (r["score"], r["level"])
        for r in run.fan_levels.to_pylist()
    } == fans
    assert len({level for _score, level in fans.values()}) >= 3  # the levels are used
    assert any(r["top_keywords"] for r in got) and any(r["tags"] for r in got)


# Products 1-12 of the generated log: category, brand and price band.
CATALOGUE = portraits.catalogue_table(
    [
        {
            "product_key": str(p),
            "category": ("beauty", "fashion", "food")[p % 3],
            "brand": f"brand-{p % 4}",
            "price_band": portraits.price_band(p * 2_500),
        }
        for p in range(1, 13)
    ]
)
WEIGHTS = {"product_click": 1, "detail_view": 1, "favourite": 2, "add_to_cart": 3, "order": 5}


def test_affinities_are_weighted_shares_per_consumer(
    generated: tuple[Path, list[BehaviourEvent]],
) -> None:
    root, events = generated
    as_of = date(2026, 3, 18)
    run = portraits.run_duckdb(root, as_of=as_of, catalogue=CATALOGUE)
    by_product = {r["product_key"]: r for r in CATALOGUE.to_pylist()}
    weights: dict[tuple[str, str, str], int] = Counter()
    for e in events:
        key = key_of(e)
        if key is None or e.day > as_of or e.product_id is None:
            continue
        if e.event_type.value in WEIGHTS:
            product = by_product[str(e.product_id)]
            for kind in ("category", "brand", "price_band"):
                weights[(key, kind, product[kind])] += WEIGHTS[e.event_type.value]
    totals: dict[tuple[str, str], int] = Counter()
    for (key, kind, _), w in weights.items():
        totals[(key, kind)] += w
    got = {(r["consumer_key"], r["kind"], r["key"]): r for r in run.affinities.to_pylist()}
    assert set(got) == set(weights)
    for pair, w in weights.items():
        assert got[pair]["weight"] == w
        assert got[pair]["score"] == pytest.approx(w / totals[pair[:2]], rel=1e-12)
    assert {p[1] for p in got} == {"category", "brand", "price_band"}
    # The catalogue also names the categories of livecart's own browsed products.
    seen: dict[str, set[str]] = defaultdict(set)
    for e in events:
        key = key_of(e)
        if key is None or e.day > as_of or e.product_id is None:
            continue
        if e.event_type.value in ("product_click", "detail_view"):
            seen[key].add(by_product[str(e.product_id)]["category"])
    viewed = {r["consumer_key"]: r["categories_viewed"] for r in run.table.to_pylist()}
    assert viewed == {key: len(seen.get(key, ())) for key in viewed}
    assert max(viewed.values()) == 3


def test_rfm_scores_share_ties_and_use_every_bin() -> None:
    # The plain-Python definition the engines are checked against, on a known case.
    values = {"a": 1, "b": 1, "c": 2, "d": 3, "e": 3, "f": 3, "g": 9, "h": 10, "i": 11, "j": 12}
    assert quintiles(values, high_is_good=True) == {
        "a": 1, "b": 1, "c": 2, "d": 2, "e": 2, "f": 2, "g": 4, "h": 4, "i": 5, "j": 5,
    }  # fmt: skip


def test_array_tags_and_top_keywords_follow_the_row_rules() -> None:
    """`finish` tags and ranks keywords with array operations over the whole table; on random
    rows (every rule's edge values, missing scores) they equal `tags.tags` and
    `keywords.top_keywords` row by row."""
    rng = random.Random(7)
    n = 400
    table_rows = []
    for i in range(n):
        hours = [rng.choice((0, 0, 1, 2, 5)) for _ in range(24)]
        orders = rng.choice((0, 0, 1, 2, 5))
        table_rows.append(
            {
                "consumer_key": f"c{i:04d}",
                "active_hours": hours,
                "orders": orders,
                "products_viewed": rng.choice((0, 1, 2, 3, 9, 10, 12)),
                "average_stay_seconds": rng.choice((None, 10.0, 599.9, 600.0, 3000.0)),
                "m_score": rng.choice((None, 1, 4, 5)) if orders else None,
                "recency_days": rng.choice((0, 59, 60, 90)) if orders else None,
                "messages": rng.choice((0, 19, 20, 40)),
                "questions": rng.choice((0, 2, 3, 7)),
                "days_active": rng.choice((1, 2, 9)),
            }
        )
    table = pa.Table.from_pylist(table_rows)
    levels = {r["consumer_key"]: rng.choice(([], [1], [3], [4, 2], [1, 5])) for r in table_rows}
    bands = {
        r["consumer_key"]: rng.choice((None, {"under_50": 0.5}, {"under_50": 0.49}, {"x": 1.0}))
        for r in table_rows
    }
    alive = {r["consumer_key"]: rng.choice((0.1, 0.3, 0.9)) for r in table_rows[::3]}
    counts = {
        r["consumer_key"]: {w: rng.randint(1, 4) for w in rng.sample("abcdefghijklmno", 12)}
        for r in table_rows[::2]
    }
    counts["c0000"] = {"好看": 2, "red": 2, "大码": 3}
    got = tags.tag_lists(
        table,
        max_fan_level=np.array([max(levels[r["consumer_key"]], default=0) for r in table_rows]),
        under_50=np.array(
            [(bands[r["consumer_key"]] or {}).get("under_50", 0.0) for r in table_rows]
        ),
        p_alive=np.array([alive.get(r["consumer_key"], np.nan) for r in table_rows]),
    ).to_pylist()
    want = [
        tags.tags(
            r,
            fan_levels=levels[r["consumer_key"]],
            price_bands=bands[r["consumer_key"]],
            p_alive=alive.get(r["consumer_key"]),
        )
        for r in table_rows
    ]
    assert got == want
    assert {t for ts in got for t in ts} == set(tags.TAG_NAMES)
    top = keywords.top_keyword_lists(keywords.keyword_table_of(counts), table.column(0))
    assert top.to_pylist() == [
        [w for w, _ in keywords.top_keywords(counts.get(r["consumer_key"], {}))] for r in table_rows
    ]
    assert top.to_pylist()[0] == ["大码", "red", "好看"]
    assert keywords.keyword_dict(keywords.keyword_table_of(counts)) == counts


def test_keyword_counts_cut_each_distinct_message_once() -> None:
    rows_ = [("a", "好看 好看", 3), ("b", "does it come in red?", 1), ("a", "red red", 2)]
    rows_ += [("b", None, 4), ("c", "", 1), ("a", "does it come in red?", 1)]
    table = keywords.keyword_table(*(pa.array(list(c)) for c in zip(*rows_, strict=True)))
    want = keywords.count_keywords((key, text) for key, text, times in rows_ for _ in range(times))
    assert keywords.keyword_dict(table) == want
    assert want == {"a": {"好看": 6, "red": 5, "come": 1}, "b": {"come": 1, "red": 1}}


@pytest.mark.spark
def test_spark_gives_the_same_portraits_as_duckdb(
    spark: Any, small: tuple[Path, list[BehaviourEvent]]
) -> None:
    root, _ = small
    on_duckdb = portraits.run_duckdb(root)
    on_spark = portraits.run_spark(root, session=spark)
    assert on_spark.as_of == on_duckdb.as_of
    assert on_spark.table.schema == on_duckdb.table.schema
    assert_same_rows(rows(on_spark), rows(on_duckdb))
    assert_same_extras(on_spark, on_duckdb)


@pytest.mark.spark
def test_spark_gives_the_same_portraits_on_a_generated_log(
    spark: Any, generated: tuple[Path, list[BehaviourEvent]]
) -> None:
    root, _ = generated
    for as_of in (None, date(2026, 3, 10)):
        on_duckdb = portraits.run_duckdb(root, as_of=as_of, catalogue=CATALOGUE)
        on_spark = portraits.run_spark(root, as_of=as_of, session=spark, catalogue=CATALOGUE)
        assert on_duckdb.table.num_rows == 30
        assert_same_rows(rows(on_spark), rows(on_duckdb))
        assert_same_extras(on_spark, on_duckdb)
        assert on_duckdb.affinities.num_rows > 0


def long_log() -> list[BehaviourEvent]:
    """Views and chat of six consumers over 150 days (three 62-day blocks of the days-active
    bitmap), many of them a second either side of midnight."""
    rng = random.Random(7)
    keys: list[dict[str, Any]] = [{"consumer_id": i} for i in (1, 2, 3)]
    keys += [{"anonymous_id": f"anon-{i}"} for i in range(3)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for _ in range(1500):
        day = rng.randint(0, 149)
        second = rng.choice([0, 1, 86_399, rng.randint(0, 86_399)])
        kind = rng.choice(["join", "heartbeat", "chat", "like"])
        fields: dict[str, Any] = {**rng.choice(keys), "session_id": day * 10 + rng.randint(1, 3)}
        fields["anchor_id"] = 900 + fields["session_id"] % 3
        if kind == "heartbeat":
            fields["watch_seconds"] = 30.0
        if kind == "chat":
            fields["text"] = "hello everyone"
        out.append(event(kind, start + timedelta(days=day, seconds=second), **fields))
    return out


@pytest.mark.spark
def test_days_active_over_several_bitmap_blocks(spark: Any, tmp_path: Path) -> None:
    """Days active are counted as a bitmap of 62-day blocks from the log's first day: over
    150 days (and as of a day in the second block) they equal the distinct days counted here,
    on DuckDB and on Spark."""
    root = tmp_path / "events"
    events = long_log()
    write_with_sink(root, events)
    for as_of in (None, date(2026, 4, 20)):
        run = portraits.run_duckdb(root, as_of=as_of)
        want = expected_portraits(events, run.as_of)
        got = rows(run)
        assert_same_rows(got, [want[k] for k in sorted(want)])
        assert max(r["days_active"] for r in got) > portraits.DAY_BLOCK_BITS
        assert_same_rows(rows(portraits.run_spark(root, as_of=as_of, session=spark)), got)


def test_cli_writes_one_row_per_consumer(
    tmp_path: Path, small: tuple[Path, list[BehaviourEvent]]
) -> None:
    root, events = small
    out = tmp_path / "portraits.parquet"
    result = runner.invoke(
        app,
        [
            *("insights", "portraits", "--engine", "duckdb", "--events", str(root)),
            *("--out", str(out), "--as-of", "2026-03-03", "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["engine"] == "duckdb" and report["consumers"] == 4
    assert report["out"] == str(out) and report["seconds"] >= report["engine_seconds"] > 0
    assert report["as_of"] == "2026-03-03"
    table = pq.read_table(out)
    assert table.schema == portraits.PORTRAIT_OUTPUT_SCHEMA
    want = expected_portraits(events, date(2026, 3, 3))
    assert_same_rows(table.to_pylist(), [want[k] for k in sorted(want)])


def test_cli_reports_a_missing_or_empty_log(tmp_path: Path) -> None:
    out = tmp_path / "p.parquet"
    for folder, code in ((tmp_path / "nope", "input_file_missing"), (tmp_path, "event_log_empty")):
        result = runner.invoke(
            app,
            ["insights", "portraits", "--events", str(folder), "--out", str(out), "--json"],
        )
        assert result.exit_code == 2, result.output
        assert json.loads(result.stdout)["error"]["code"] == code
        assert "Traceback" not in result.output
    assert not out.exists()


def raw_rows() -> pa.Table:
    """Favourites and returns (imported history's types), as rows of the log's schema."""
    base = {name: None for name in EVENT_ARROW_SCHEMA.names} | {"source": "import:online-retail"}
    rows = [
        {"event_type": "order", "quantity": 3, "amount": 900, "order_id": 7},
        {"event_type": "favourite", "product_id": 4},
        {"event_type": "return", "quantity": 1, "amount": 300},
        {"event_type": "return"},  # no quantity: one unit
        {"event_type": "order", "quantity": 1, "amount": 500, "anonymous_id": "retail:9"},
    ]
    table = [
        base
        | {"event_id": f"e{i}", "occurred_at": at(2, 10 + i), "consumer_id": 5}
        | row
        | ({"consumer_id": None} if row.get("anonymous_id") else {})
        for i, row in enumerate(rows)
    ]
    return pa.Table.from_pylist(table, schema=EVENT_ARROW_SCHEMA)


@pytest.mark.spark
def test_favourites_and_returns(spark: Any, tmp_path: Path) -> None:
    # Written straight in the log's layout and schema, as an import of those types would be.
    root = tmp_path / "events"
    (root / "date=2026-03-02").mkdir(parents=True)
    pq.write_table(raw_rows(), root / "date=2026-03-02" / "part-100000000000-raw.parquet")
    on_duckdb = portraits.run_duckdb(root)
    got = {r["consumer_key"]: r for r in rows(on_duckdb)}
    five = got["5"]
    assert (five["favourites"], five["returns"], five["returned_units"]) == (1, 2, 2)
    assert five["units"] == 3 and five["return_rate"] == pytest.approx(2 / 3)
    assert got["retail:9"]["return_rate"] == 0.0

    on_spark = portraits.run_spark(root, session=spark)
    assert_same_rows(rows(on_spark), rows(on_duckdb))


# --- imported Taobao history: items and categories from the properties -------------------


@pytest.fixture(scope="module")
def taobao(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[list[str]]]:
    """The real Taobao sample imported with the importer into a fresh log."""
    sample = shared_file("taobao_UserBehavior_sample.csv")
    with sample.open(newline="") as handle:
        lines = [row for row in csv.reader(handle) if row]
    root = tmp_path_factory.mktemp("taobao") / "events"
    report = importers.import_file(
        root, sample, fmt="taobao", now=datetime(2026, 11, 30, tzinfo=UTC), strict=True
    )
    assert report.imported == len(lines)
    return root, lines


@pytest.mark.spark
def test_imported_taobao_views_count_items_and_categories(
    spark: Any, taobao: tuple[Path, list[list[str]]]
) -> None:
    root, lines = taobao
    # Viewed = browsing events: Taobao pv (imported as detail_view); cart, fav and buy
    # rows are counted by carts, favourites and orders, as for livecart's own events.
    items: dict[str, set[str]] = defaultdict(set)
    categories: dict[str, set[str]] = defaultdict(set)
    for user, item, category, behaviour, _ in lines:
        items.setdefault(f"taobao:{user}", set())
        categories.setdefault(f"taobao:{user}", set())
        if behaviour == "pv":
            items[f"taobao:{user}"].add(item)
            categories[f"taobao:{user}"].add(category)

    on_duckdb = portraits.run_duckdb(root)
    got = {r["consumer_key"]: r for r in rows(on_duckdb)}
    assert sorted(got) == sorted(items)
    assert {k: r["products_viewed"] for k, r in got.items()} == {
        k: len(v) for k, v in items.items()
    }
    assert {k: r["categories_viewed"] for k, r in got.items()} == {
        k: len(v) for k, v in categories.items()
    }
    # The sample's figures, so a change of the data or the rule shows up here.
    assert len(got) == 43
    assert sum(r["products_viewed"] for r in got.values()) == 3_121
    assert sum(r["categories_viewed"] for r in got.values()) == 989
    assert all(r["products_viewed"] >= r["categories_viewed"] > 0 for r in got.values())

    on_spark = portraits.run_spark(root, session=spark)
    assert on_spark.table.schema == on_duckdb.table.schema
    assert_same_rows(rows(on_spark), rows(on_duckdb))
    assert_same_extras(on_spark, on_duckdb)


def test_product_key_prefers_the_livecart_product_and_prefixes_outside_ids(
    tmp_path: Path,
) -> None:
    # An imported row that also names a livecart product counts that product; outside ids
    # are prefixed by the format, so Taobao item 7 is not livecart product 7.
    base = {name: None for name in EVENT_ARROW_SCHEMA.names}
    specs = [
        ("import:taobao", 7, '{"item_id": "7", "category_id": "1"}'),
        ("import:taobao", None, '{"item_id": "7", "category_id": "1"}'),
        ("import:taobao", None, '{"item_id": "8", "category_id": "2"}'),
        ("import:online-retail", None, '{"stock_code": "7", "description": "a \\"item_id\\""}'),
        ("server", None, '{"item_id": "9", "category_id": "3"}'),  # not an import: ignored
    ]
    table = [
        base
        | {
            "event_id": f"e{i}",
            "event_type": "detail_view",
            "occurred_at": at(2, 10 + i),
            "consumer_id": 5,
            "source": source,
            "product_id": product,
            "properties": properties,
        }
        for i, (source, product, properties) in enumerate(specs)
    ]
    root = tmp_path / "events"
    (root / "date=2026-03-02").mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pylist(table, schema=EVENT_ARROW_SCHEMA),
        root / "date=2026-03-02" / "part-100000000000-raw.parquet",
    )
    (five,) = rows(portraits.run_duckdb(root))
    # "7", "taobao:7", "taobao:8", "online-retail:7"; categories "taobao:1", "taobao:2"
    # (the first row's category counts too: its properties still name one).
    assert (five["products_viewed"], five["categories_viewed"]) == (4, 2)
