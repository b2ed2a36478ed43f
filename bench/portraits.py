"""Portraits at scale: generated behaviour events, the portrait pipeline on DuckDB and Spark,
and its ceiling, one DuckDB group-by scan of the same Parquet, all in one run.

`generate` writes a deterministic log (same seed, same files) in the event log's layout
(`date=YYYY-MM-DD/part-....parquet`, EVENT_ARROW_SCHEMA, exactly events/days rows a day,
sorted by time) with a realistic mix of viewing, chat, likes, browsing, carts, orders and
payments over skewed users, sessions and products. MIX is the expected share of each type.

The default layout, "visits", writes what the server (realtime.hub) writes per viewer visit
to a live session: a `join`, a `heartbeat` every 30 s of watching (watch_seconds 30), a
`leave` carrying the last stretch (< 30 s), and in between chat, likes, product clicks,
detail views, carts and orders at random times, as many as the visit's length makes likely
(Poisson); ~80% of orders are followed a few seconds later by a `payment` with the same
order id, quantity and amount. The number of heartbeats is log-normal (a long tail of long
visits, about four minutes on average). A visit belongs to one skewed user (or, for
ANONYMOUS_SHARE of them, an anonymous id; those do not buy) and one of the day's sessions:
signed-in users have three favourite anchors, the same every day, and go to one of their
sessions with probability FAVOURITE_VISITS, otherwise to a session of skewed popularity; a
session slot's anchor is the same every day. Visits are drawn until the day is full; the
last one is cut short. `favourite` events lie outside sessions. The layout "scattered" is
the first generator, kept as it was to reproduce old figures: every event draws its own
user, session and type, so a user's events spread over as many sessions as it has events.
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
PHASES = ("scan", "floor", "duckdb", "spark")
LAYOUTS = ("visits", "scattered")
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


# The floor: a strict subset of the pipeline's outputs, written by hand for DuckDB with every
# shortcut the data allows (integer keys, no text keys before the end, no question rule, no
# catalogue, no keywords, tags or hour-of-day columns, no Python after the engine). It reads
# the log as the pipeline does (visits, rare facts, chat texts) and groups what every portrait
# needs: per consumer, per consumer and anchor, per consumer and product. No pipeline that
# computes the whole portrait can be faster than this, so its ratio to the scan is a lower
# bound for the pipeline's.
FLOOR_SQL = (
    """CREATE TEMP TABLE v AS
SELECT consumer_id, anonymous_id, session_id, anchor_id,
       epoch_us(occurred_at) // 3600000000 AS hour_bucket,
       count(*) AS events,
       count(*) FILTER (WHERE event_type IN ('join', 'heartbeat', 'leave')) AS viewing,
       count(*) FILTER (WHERE event_type = 'chat') AS chats,
       count(*) FILTER (WHERE event_type = 'like') AS likes,
       sum(watch_seconds) AS watch_seconds,
       min(occurred_at) AS first_at, max(occurred_at) AS last_at
FROM events WHERE consumer_id IS NOT NULL OR anonymous_id IS NOT NULL
GROUP BY ALL""",
    """CREATE TEMP TABLE r AS
SELECT consumer_id, anonymous_id, event_type, anchor_id, product_id, order_id, quantity,
       amount, CAST(occurred_at AS DATE) AS day
FROM events
WHERE event_type IN ('order', 'payment', 'return', 'product_click', 'detail_view',
                     'add_to_cart', 'favourite')
  AND (consumer_id IS NOT NULL OR anonymous_id IS NOT NULL)""",
    """CREATE TEMP TABLE texts AS
SELECT consumer_id, anonymous_id, text, count(*) AS n
FROM events WHERE event_type = 'chat' AND text IS NOT NULL
  AND (consumer_id IS NOT NULL OR anonymous_id IS NOT NULL)
GROUP BY ALL""",
    """CREATE TEMP TABLE common AS
SELECT consumer_id, anonymous_id, sum(events) AS events, sum(watch_seconds) AS watch_seconds,
       count(DISTINCT session_id) FILTER (WHERE viewing > 0) AS sessions,
       sum(chats) AS chats, sum(likes) AS likes, min(first_at) AS first_seen,
       max(last_at) AS last_seen,
       bit_count(bit_or(1::BIGINT << CAST(hour_bucket // 24
           - (SELECT min(hour_bucket) // 24 FROM v) AS INTEGER))) AS days_active
FROM v GROUP BY ALL""",
    """CREATE TEMP TABLE bought AS
SELECT consumer_id, anonymous_id,
       count(*) FILTER (WHERE event_type = 'add_to_cart') AS carts,
       count(DISTINCT product_id) FILTER (WHERE event_type IN ('product_click', 'detail_view'))
           AS products_viewed,
       count(DISTINCT order_id) FILTER (WHERE event_type = 'order') AS orders,
       count(DISTINCT order_id) FILTER (WHERE event_type = 'payment') AS paid_orders,
       sum(amount) FILTER (WHERE event_type = 'order') AS spend,
       max(day) FILTER (WHERE event_type = 'order') AS last_order_day,
       count(DISTINCT day) FILTER (WHERE event_type = 'order') AS frequency
FROM r GROUP BY ALL""",
    """SELECT coalesce(CAST(c.consumer_id AS VARCHAR), c.anonymous_id) AS consumer_key, c.*,
       b.* EXCLUDE (consumer_id, anonymous_id),
       ntile(5) OVER (ORDER BY b.last_order_day) AS r_score,
       ntile(5) OVER (ORDER BY b.frequency) AS f_score,
       ntile(5) OVER (ORDER BY b.spend) AS m_score
FROM common AS c LEFT JOIN bought AS b
  ON c.consumer_id IS NOT DISTINCT FROM b.consumer_id
 AND c.anonymous_id IS NOT DISTINCT FROM b.anonymous_id
ORDER BY consumer_key""",
    """SELECT consumer_id, anonymous_id, anchor_id, sum(watch_seconds) AS watch_seconds,
       sum(chats) AS chats, sum(likes) AS likes
FROM v WHERE anchor_id IS NOT NULL GROUP BY ALL""",
    """SELECT consumer_id, anonymous_id, anchor_id, count(DISTINCT order_id) AS orders
FROM r WHERE event_type = 'order' GROUP BY ALL""",
    """SELECT consumer_id, anonymous_id, product_id,
       sum(CASE event_type WHEN 'order' THEN 5 WHEN 'add_to_cart' THEN 3 ELSE 1 END) AS weight
FROM r WHERE product_id IS NOT NULL GROUP BY ALL""",
)


@dataclass(frozen=True)
class LogShape:
    """How many of everything a generated log has, and how its events are laid out."""

    events: int
    days: int
    users: int
    sessions_per_day: int
    seed: int
    layout: str = "visits"

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown layout {self.layout!r}; known: {LAYOUTS}")

    @classmethod
    def for_events(
        cls, events: int, *, days: int = 30, seed: int = 20261206, layout: str = "visits"
    ) -> LogShape:
        """About 150 events per user and 5,000 per live session, as the demo traffic has."""
        return cls(
            events=events,
            days=days,
            users=max(10, events // 150),
            sessions_per_day=max(2, events // 5_000 // days),
            seed=seed,
            layout=layout,
        )


def _strings(values: tuple[str, ...], index: np.ndarray, present: np.ndarray) -> pa.Array:
    indices = pa.array(index, type=pa.int32(), mask=~present)
    return pa.array(values, type=pa.string()).take(indices)


def _ints(values: np.ndarray, present: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.int64), type=pa.int64(), mask=~present)


def _events_of_day(shape: LogShape, day: int) -> int:
    return shape.events // shape.days + (1 if day < shape.events % shape.days else 0)


def day_table(shape: LogShape, day: int) -> pa.Table:
    """The events of one day of the generated log (EVENT_ARROW_SCHEMA), ordered by time."""
    if shape.layout == "scattered":
        return _scattered_day(shape, day)
    return _visits_day(shape, day)


def _scattered_day(shape: LogShape, day: int) -> pa.Table:
    """The first generator, kept as it was: every event drawn on its own (user, session, type)."""
    from livecart.events.schemas import EVENT_ARROW_SCHEMA

    rng = np.random.Generator(np.random.PCG64([shape.seed, day]))
    n = _events_of_day(shape, day)
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


# ---------------------------------------------------------------- visits

KINDS = tuple(k for k, _ in MIX)
K = {k: i for i, k in enumerate(KINDS)}
# Events drawn at random times inside a visit, as many as its length makes likely.
DURING = ("chat", "like", "product_click", "detail_view", "add_to_cart", "order")
BUYING = ("add_to_cart", "order")  # and their payments: signed-in viewers only
HEARTBEAT_SECONDS = 30
HEARTBEAT_SIGMA = 1.0  # of the log-normal number of heartbeats: a long tail of long visits
MAX_HEARTBEATS = 480  # four hours
PAYMENT_DELAY_US = (1_000_000, 10_000_000)  # the payment's webhook, a few seconds on
FAVOURITE_ANCHORS = 3
FAVOURITE_VISITS = 0.6
FAVOURITES_STREAM = 0x66_61_76  # the seed stream of the users' favourite anchors ("fav")


@dataclass(frozen=True)
class _VisitRates:
    """Per-visit expectations that make the realised type shares come out as MIX."""

    heartbeats: float  # mean heartbeats per visit
    during: dict[str, float]  # mean events of each DURING kind per visit
    paid: float  # share of orders followed by a payment
    favourite: float  # share of the day's events that are favourites (outside sessions)
    events: float  # mean events per visit

    @classmethod
    def from_mix(cls) -> _VisitRates:
        total = sum(s for _, s in MIX)
        share = {k: s / total for k, s in MIX}
        # Every visit has one join and one leave: each gets the share the others leave over.
        visit = (1.0 - share["favourite"] - share["heartbeat"] - share["payment"]) - sum(
            share[k] for k in DURING
        )
        per_visit = visit / 2
        return cls(
            heartbeats=share["heartbeat"] / per_visit,
            during={k: share[k] / per_visit for k in DURING},
            paid=share["payment"] / share["order"],
            favourite=share["favourite"],
            events=(1.0 - share["favourite"]) / per_visit,
        )


def favourite_anchors(shape: LogShape) -> np.ndarray:
    """Each user's favourite anchors (row user-1), the same every day: popular ones more often."""
    rng = np.random.Generator(np.random.PCG64([shape.seed, FAVOURITES_STREAM]))
    anchors = min(ANCHORS, shape.sessions_per_day)
    drawn = np.floor(anchors * rng.random((shape.users, FAVOURITE_ANCHORS)) ** 2)
    return drawn.astype(np.int64) + 1


def _event_ids(prefix: str, n: int) -> pa.Array:
    """f"{prefix}{i:020x}" for i in range(n), built from bytes rather than per event."""
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    shifts = np.arange(19, -1, -1, dtype=np.uint64) * np.uint64(4)
    index = np.arange(n, dtype=np.uint64)[:, None]
    hexes = digits[((index >> shifts) & np.uint64(15)).astype(np.intp)]
    head = np.broadcast_to(np.frombuffer(prefix.encode(), dtype=np.uint8), (n, len(prefix)))
    data = np.ascontiguousarray(np.concatenate([head, hexes], axis=1))
    width = data.shape[1]
    offsets = np.arange(n + 1, dtype=np.int32) * width
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def _draw_visits(
    rng: np.random.Generator, count: int, rates: _VisitRates
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(anonymous, remainder in ms, counts per kind) of `count` visits."""
    anonymous = rng.random(count) < ANONYMOUS_SHARE
    mu = np.log(rates.heartbeats + 0.5) - HEARTBEAT_SIGMA**2 / 2
    beats = np.minimum(np.floor(rng.lognormal(mu, HEARTBEAT_SIGMA, count)), MAX_HEARTBEATS)
    remainder_ms = rng.integers(0, HEARTBEAT_SECONDS * 1000, size=count)
    seconds = beats * HEARTBEAT_SECONDS + remainder_ms / 1000
    # Expected seconds of a visit: heartbeats times 30 plus half of 30 for the last stretch.
    mean_seconds = rates.heartbeats * HEARTBEAT_SECONDS + HEARTBEAT_SECONDS / 2
    counts = np.zeros((count, len(KINDS)), dtype=np.int64)
    counts[:, K["join"]] = 1
    counts[:, K["heartbeat"]] = beats
    counts[:, K["leave"]] = 1
    signed_in = 1.0 / (1.0 - ANONYMOUS_SHARE)
    for kind in DURING:
        per_second = np.full(count, rates.during[kind] / mean_seconds)
        if kind in BUYING:
            per_second = np.where(anonymous, 0.0, per_second * signed_in)
        counts[:, K[kind]] = rng.poisson(per_second * seconds)
    counts[:, K["payment"]] = rng.binomial(counts[:, K["order"]], rates.paid)
    return anonymous, remainder_ms, counts


def _visits_day(shape: LogShape, day: int) -> pa.Table:
    """One day of visits: join, a heartbeat every 30 s, things done while watching, leave."""
    from livecart.events.schemas import EVENT_ARROW_SCHEMA

    rng = np.random.Generator(np.random.PCG64([shape.seed, day]))
    n = _events_of_day(shape, day)
    rates = _VisitRates.from_mix()
    favourites = round(n * rates.favourite)
    target = n - favourites

    # Draw more visits than needed, then keep them in order until the day is full.
    drawn = [_draw_visits(rng, int(target / rates.events * 1.25) + 16, rates)]
    while sum(int(c.sum()) for _, _, c in drawn) < target:
        drawn.append(_draw_visits(rng, int(target / rates.events * 0.25) + 16, rates))
    anonymous = np.concatenate([a for a, _, _ in drawn])
    remainder_ms = np.concatenate([r for _, r, _ in drawn])
    counts = np.concatenate([c for _, _, c in drawn])
    sizes = counts.sum(axis=1)
    filled = np.cumsum(sizes)
    visits = int(np.searchsorted(filled, target)) + 1 if target > 0 else 0
    anonymous, remainder_ms = anonymous[:visits], remainder_ms[:visits]
    counts, sizes = counts[:visits], sizes[:visits]
    excess = int(filled[visits - 1]) - target if visits else 0

    # Who, where and when: skewed users with their favourite anchors, skewed sessions.
    user = np.floor(shape.users * rng.random(visits) ** 2).astype(np.int64) + 1
    anonymous_pool = max(10, shape.users // 4)
    anon_ids = tuple(f"anon-{i:07d}" for i in range(anonymous_pool))
    anon_index = np.floor(anonymous_pool * rng.random(visits) ** 2).astype(np.int64)
    slots = shape.sessions_per_day
    slot = np.floor(slots * rng.random(visits) ** 2).astype(np.int64)
    liked = favourite_anchors(shape)[user - 1, rng.integers(0, FAVOURITE_ANCHORS, visits)]
    # An anchor's sessions of the day are the slots anchor-1, anchor-1+ANCHORS, ...
    of_anchor = (slots - liked + ANCHORS) // ANCHORS
    liked_slot = liked - 1 + ANCHORS * np.floor(rng.random(visits) * of_anchor).astype(np.int64)
    to_favourite = ~anonymous & (rng.random(visits) < FAVOURITE_VISITS)
    slot = np.where(to_favourite, liked_slot, slot)
    beats = counts[:, K["heartbeat"]]
    length_us = beats * HEARTBEAT_SECONDS * 1_000_000 + remainder_ms * 1000
    latest = 86_400_000_000 - length_us - PAYMENT_DELAY_US[1]
    start_us = np.floor(rng.random(visits) * latest).astype(np.int64)

    # One row per event, grouped by visit, then by kind in KINDS order.
    flat = counts.ravel()
    total = int(flat.sum())
    block_start = np.cumsum(flat) - flat
    block = np.repeat(np.arange(flat.size), flat)
    kind = block % len(KINDS)
    visit = block // len(KINDS)
    rank = np.arange(total) - block_start[block]
    is_kind = {k: kind == i for i, k in enumerate(KINDS)}
    offset = np.floor(rng.random(total) * length_us[visit]).astype(np.int64)
    offset[is_kind["join"]] = 0
    beat = is_kind["heartbeat"]
    offset[beat] = (rank[beat] + 1) * HEARTBEAT_SECONDS * 1_000_000
    offset[is_kind["leave"]] = length_us[visit[is_kind["leave"]]]
    # The k-th payment of a visit pays its k-th order, a few seconds after it.
    pay = np.flatnonzero(is_kind["payment"])
    paid = block_start[visit[pay] * len(KINDS) + K["order"]] + rank[pay]
    offset[pay] = offset[paid] + rng.integers(*PAYMENT_DELAY_US, size=pay.size)
    micros = start_us[visit] + offset

    product = np.floor(PRODUCTS * rng.random(total) ** 1.5).astype(np.int64) + 1
    sku = product * 10 + rng.integers(0, 3, size=total)
    quantity = rng.integers(1, 4, size=total)
    order = (day + 1) * 100_000_000 + np.arange(total)
    product[pay], quantity[pay], order[pay] = product[paid], quantity[paid], order[paid]
    watch = np.where(beat, float(HEARTBEAT_SECONDS), remainder_ms[visit] / 1000)
    chat_index = rng.integers(0, len(CHAT), size=total)

    # The day is full in the middle of the last visit: its latest events are not written.
    keep = np.ones(total, dtype=bool)
    if excess:
        last = np.arange(total - int(sizes[-1]), total)
        keep[last[np.argsort(micros[last], kind="stable")[-excess:]]] = False

    # Favourites: signed-in users marking products, outside any session.
    fav_user = np.floor(shape.users * rng.random(favourites) ** 2).astype(np.int64) + 1
    fav_micros = rng.integers(0, 86_400_000_000, size=favourites)
    fav_product = np.floor(PRODUCTS * rng.random(favourites) ** 1.5).astype(np.int64) + 1
    zeros = np.zeros(favourites, dtype=np.int64)

    def both(in_visits: np.ndarray, outside: np.ndarray) -> np.ndarray:
        return np.concatenate([in_visits[keep], outside])

    kind = both(kind, np.full(favourites, K["favourite"]))
    micros = both(micros, fav_micros)
    order_by_time = np.argsort(micros, kind="stable")
    kind = kind[order_by_time]
    is_kind = {k: kind == i for i, k in enumerate(KINDS)}

    def column(in_visits: np.ndarray, outside: np.ndarray) -> np.ndarray:
        return both(in_visits, outside)[order_by_time]

    day_start = int((FIRST_DAY + timedelta(days=day)).timestamp() * 1_000_000)
    occurred = pa.array(micros[order_by_time] + day_start, type=pa.int64())
    anonymous_row = column(anonymous[visit], np.zeros(favourites, dtype=bool))
    consumer = column(user[visit], fav_user)
    anon_row = column(anon_index[visit], zeros)
    session = column(day * 10_000 + slot[visit] + 1, zeros)
    anchor = column(slot[visit] % ANCHORS + 1, zeros)
    product = column(product, fav_product)
    sku = column(sku, zeros)
    quantity = column(quantity, zeros)
    order = column(order, zeros)
    watch = column(watch, np.zeros(favourites))
    chat_index = column(chat_index, zeros)

    buying = is_kind["add_to_cart"] | is_kind["order"]
    has_product = buying | is_kind["product_click"] | is_kind["detail_view"]
    has_product |= is_kind["favourite"]
    has_amount = buying | is_kind["payment"]
    watching = is_kind["heartbeat"] | is_kind["leave"]
    in_session = ~is_kind["favourite"]
    price = (product % 50 + 1) * 990
    rows = kind.size
    columns: dict[str, pa.Array] = {
        "event_id": _event_ids(f"{shape.seed & 0xFFFFFFFF:08x}{day:04x}", rows),
        "event_type": _strings(KINDS, kind, np.ones(rows, dtype=bool)),
        "occurred_at": occurred.cast(pa.timestamp("us", tz="UTC")),
        "consumer_id": _ints(consumer, ~anonymous_row),
        "anonymous_id": _strings(anon_ids, anon_row, anonymous_row),
        "session_id": _ints(session, in_session),
        "room_id": _ints(anchor, in_session),
        "anchor_id": _ints(anchor, in_session),
        "product_id": _ints(product, has_product),
        "sku_id": _ints(sku, buying),
        "order_id": _ints(order, is_kind["order"] | is_kind["payment"]),
        "quantity": _ints(quantity, has_amount),
        "amount": _ints(price * quantity, has_amount),
        "currency": _strings((CURRENCY,), np.zeros(rows, dtype=np.int64), has_amount),
        "watch_seconds": pa.array(watch, type=pa.float64(), mask=~watching),
        "text": _strings(CHAT, chat_index, is_kind["chat"]),
        "source": _strings(("server",), np.zeros(rows, dtype=np.int64), np.ones(rows, dtype=bool)),
        "properties": pa.nulls(rows, type=pa.string()),
    }
    return pa.Table.from_arrays(
        [columns[name] for name in EVENT_ARROW_SCHEMA.names], schema=EVENT_ARROW_SCHEMA
    )


def generate(root: Path, shape: LogShape, *, files_per_day: int = 0, progress: Any = None) -> int:
    """Write the log under root; returns the events written.

    A day is one file as compaction writes it (events.compaction: rows by type, then time,
    in row groups); with `files_per_day`, that many part files in time order, as the sink
    writes a day before it is compacted. The scattered layout keeps its first writer (one
    file by time, one row group) so its old figures can be reproduced."""
    from livecart.events.compaction import compacted_table
    from livecart.events.sink import write_log_table

    written = 0
    for day in range(shape.days):
        table = day_table(shape, day)
        folder = root / f"date={(FIRST_DAY + timedelta(days=day)).date().isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        if shape.layout == "scattered":
            pq.write_table(table, folder / "part-000000000000-bench.parquet", compression="zstd")
        elif files_per_day > 1:
            size = -(-table.num_rows // files_per_day)
            for n, start in enumerate(range(0, table.num_rows, size)):
                with (folder / f"part-{n:012d}-bench.parquet").open("wb") as handle:
                    write_log_table(handle, table.slice(start, size))
        else:
            with (folder / "part-000000000000-bench.parquet").open("wb") as handle:
                write_log_table(handle, compacted_table(table))
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


def run_sql(root: Path, statements: tuple[str, ...]) -> list[pa.Table]:
    """Statements over the log at root in one UTC DuckDB connection: the rows of each SELECT
    (CREATE statements keep their tables for the next ones)."""
    from livecart.events import service

    connection = service.open_log(root)
    try:
        connection.execute("SET TimeZone = 'UTC'")
        outputs = []
        for statement in statements:
            if statement.startswith("CREATE"):
                connection.execute(statement)
                continue
            relation = connection.sql(statement)
            assert relation is not None
            outputs.append(relation.to_arrow_table())
        return outputs
    finally:
        connection.close()


def run_floor(root: Path) -> list[pa.Table]:
    """FLOOR_SQL over the log at root: the portrait, fan and affinity rows it selects."""
    return run_sql(root, FLOOR_SQL)


def run_phase(phase: str, root: Path, spark_memory: str) -> dict[str, Any]:
    """Inside the phase's process: do the work, time it, and say how many rows came out."""
    # Imported before any timer starts, as `portraits.run_duckdb` imports it before its own.
    from livecart.events import service  # noqa: F401
    from livecart.insights import portraits

    if phase == "scan":
        started = time.perf_counter()
        (scanned,) = run_sql(root, (SCAN_SQL,))
        return {"rows": scanned.num_rows, "seconds": time.perf_counter() - started}
    if phase == "floor":
        started = time.perf_counter()
        outputs = run_floor(root)
        # The rows of the portrait statement (the others are the fan and affinity groups).
        return {"rows": outputs[0].num_rows, "seconds": time.perf_counter() - started}
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
        raise SystemExit(f"usage: python -m bench.portraits phase {'|'.join(PHASES)} ROOT MEMORY")
    report = run_phase(argv[1], Path(argv[2]), argv[3])
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
