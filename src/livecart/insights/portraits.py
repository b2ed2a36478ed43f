"""Consumer portraits from the behaviour-event log, defined once as Ibis expressions and run
on DuckDB (default) or Apache Spark (PySpark).

One row per consumer key: `consumer_id` when the event has one, otherwise `anonymous_id`
(browsers' random ids, imported ids such as `taobao:123`). Field definitions are in
docs/insights.md (Portraits). Every value is computed by the engine from the same expression;
the as-of date is a parameter (default: the day of the latest event), never the clock, so a
run is reproducible and both engines give the same rows.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from livecart.events.errors import EventLogEmpty
from livecart.insights.errors import InputFileMissing
from livecart.insights.keywords import (
    keyword_dict,
    keyword_table,
    keyword_table_of,
    top_keyword_lists,
)
from livecart.insights.tags import tag_lists

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import numpy as np
    from pyspark.sql import SparkSession

# Chat counts as a question when it has a question mark (ASCII or full-width), ends with the
# Chinese question particle 吗, or contains a Chinese question word. Kept simple on purpose:
# plain substring tests give the same answer on every engine.
QUESTION_MARKS = ("?", "？")
QUESTION_ENDINGS = ("吗",)
QUESTION_WORDS = (
    "什么", "怎么", "多少", "为什么", "哪里", "哪个", "哪些", "几号", "有没有", "能不能", "是不是",
)  # fmt: skip

VIEWING = ("join", "heartbeat", "leave")
BROWSING = ("product_click", "detail_view")
# The few event types whose distinct orders, products and days a second, small pass counts.
RARE = ("order", "payment", "return", *BROWSING)
# Imported rows have no livecart product: their item (and Taobao's category) is in the JSON
# `properties`, under these keys, per source. The key is prefixed with the format
# ("taobao:2333346") so it never equals a livecart product id.
OUTSIDE_ITEM = {"import:taobao": "item_id", "import:online-retail": "stock_code"}
OUTSIDE_CATEGORY = {"import:taobao": "category_id"}
RFM_BINS = 5

PORTRAIT_ARROW_SCHEMA = pa.schema(
    [
        pa.field("consumer_key", pa.string(), nullable=False),
        pa.field("consumer_id", pa.int64()),
        pa.field("anonymous_id", pa.string()),
        pa.field("events", pa.int64(), nullable=False),
        pa.field("watch_seconds", pa.float64(), nullable=False),
        pa.field("sessions_watched", pa.int64(), nullable=False),
        pa.field("average_stay_seconds", pa.float64()),
        pa.field("active_hours", pa.list_(pa.int64()), nullable=False),
        pa.field("peak_hour", pa.int64(), nullable=False),
        pa.field("messages", pa.int64(), nullable=False),
        pa.field("likes", pa.int64(), nullable=False),
        pa.field("questions", pa.int64(), nullable=False),
        pa.field("interactions_per_hour", pa.float64()),
        pa.field("products_viewed", pa.int64(), nullable=False),
        pa.field("categories_viewed", pa.int64(), nullable=False),
        pa.field("carts", pa.int64(), nullable=False),
        pa.field("favourites", pa.int64(), nullable=False),
        pa.field("orders", pa.int64(), nullable=False),
        pa.field("paid_orders", pa.int64(), nullable=False),
        pa.field("units", pa.int64(), nullable=False),
        pa.field("spend", pa.int64(), nullable=False),
        pa.field("returns", pa.int64(), nullable=False),
        pa.field("returned_units", pa.int64(), nullable=False),
        pa.field("return_rate", pa.float64()),
        pa.field("first_seen", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("last_seen", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("days_active", pa.int64(), nullable=False),
        pa.field("last_order_day", pa.date32()),
        pa.field("recency_days", pa.int64()),
        pa.field("frequency", pa.int64(), nullable=False),
        pa.field("monetary", pa.int64(), nullable=False),
        pa.field("r_score", pa.int64()),
        pa.field("f_score", pa.int64()),
        pa.field("m_score", pa.int64()),
        pa.field("currency", pa.string()),
    ]
)
PORTRAIT_FIELDS = tuple(PORTRAIT_ARROW_SCHEMA.names)
# The fields the engine computes; `with_hours` adds the hours of the day from HOURS rows.
HOUR_FIELDS = ("active_hours", "peak_hour")
ENGINE_PORTRAIT_FIELDS = tuple(name for name in PORTRAIT_FIELDS if name not in HOUR_FIELDS)
HOURS_ARROW_SCHEMA = pa.schema(
    [
        pa.field("consumer_key", pa.string(), nullable=False),
        pa.field("hour", pa.int64(), nullable=False),
        pa.field("events", pa.int64(), nullable=False),
    ]
)
# What the Python step after the engine adds to each row (keywords and tags).
PORTRAIT_OUTPUT_SCHEMA = PORTRAIT_ARROW_SCHEMA.append(
    pa.field("top_keywords", pa.list_(pa.string()), nullable=False)
).append(pa.field("tags", pa.list_(pa.string()), nullable=False))

# The compacted log (the state of incremental runs): one row per group of a consumer's events
# with equal values of the grouping columns, and the counts and sums the portrait needs.
FACT_GROUPING = (
    "consumer_key",
    "consumer_id",
    "anonymous_id",
    "day",
    "hour",
    "event_type",
    "session_id",
    "anchor_id",
    "product_key",
    "category_key",
    "order_ref",
    "is_question",
    "currency",
)
FACT_ARROW_SCHEMA = pa.schema(
    [
        pa.field("consumer_key", pa.string(), nullable=False),
        pa.field("consumer_id", pa.int64()),
        pa.field("anonymous_id", pa.string()),
        pa.field("day", pa.date32(), nullable=False),
        pa.field("hour", pa.int64(), nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("session_id", pa.int64()),
        pa.field("anchor_id", pa.int64()),
        pa.field("product_key", pa.string()),
        pa.field("category_key", pa.string()),
        pa.field("order_ref", pa.string()),
        pa.field("is_question", pa.bool_(), nullable=False),
        pa.field("currency", pa.string()),
        pa.field("events", pa.int64(), nullable=False),
        pa.field("watch_seconds", pa.float64()),
        pa.field("watch_whole_seconds", pa.int64(), nullable=False),
        pa.field("quantity", pa.int64(), nullable=False),
        pa.field("amount", pa.int64()),
        pa.field("first_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("last_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
FACT_FIELDS = tuple(FACT_ARROW_SCHEMA.names)

# Fan level with an anchor: score = whole minutes watched in the anchor's sessions
# + 2 x chat messages + 1 x likes + 20 x orders there (integers, so every engine agrees);
# the level is 1 + the number of thresholds the score reaches.
FAN_WEIGHTS = {"minute": 1, "chat": 2, "like": 1, "order": 20}
FAN_THRESHOLDS = (10, 30, 100, 300, 1000, 3000, 10000)
FAN_ARROW_SCHEMA = pa.schema(
    [
        pa.field("consumer_key", pa.string(), nullable=False),
        pa.field("consumer_id", pa.int64()),
        pa.field("anchor_id", pa.int64(), nullable=False),
        pa.field("score", pa.int64(), nullable=False),
        pa.field("level", pa.int64(), nullable=False),
    ]
)

# Affinity weights per event on a product; a consumer's score for a key is their weight on
# it divided by their weight on all keys of that kind (so the scores of a kind sum to 1).
AFFINITY_WEIGHTS = {
    "product_click": 1,
    "detail_view": 1,
    "favourite": 2,
    "add_to_cart": 3,
    "order": 5,
}
AFFINITY_KINDS = ("category", "brand", "price_band")
# Price bands by the product's lowest SKU price in minor units (upper bounds, exclusive).
PRICE_BANDS = ((5_000, "under_50"), (20_000, "50_to_200"), (50_000, "200_to_500"))
PRICE_BAND_TOP = "500_and_over"
CATALOGUE_ARROW_SCHEMA = pa.schema(
    [
        pa.field("product_key", pa.string(), nullable=False),
        pa.field("category", pa.string()),
        pa.field("brand", pa.string()),
        pa.field("price_band", pa.string()),
    ]
)
AFFINITY_ARROW_SCHEMA = pa.schema(
    [
        pa.field("consumer_key", pa.string(), nullable=False),
        pa.field("consumer_id", pa.int64()),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("key", pa.string(), nullable=False),
        pa.field("weight", pa.int64(), nullable=False),
        pa.field("score", pa.float64(), nullable=False),
    ]
)
TEXT_ARROW_SCHEMA = pa.schema(
    [
        pa.field("consumer_key", pa.string(), nullable=False),
        pa.field("text", pa.string()),
        pa.field("n", pa.int64(), nullable=False),
    ]
)


class Engine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


@dataclass(frozen=True)
class PortraitRun:
    """What a run produced: the rows (PORTRAIT_OUTPUT_SCHEMA), fan levels, affinities and
    keyword counts (KEYWORD_ARROW_SCHEMA), and how long the engine took."""

    engine: Engine
    as_of: date
    table: pa.Table
    seconds: float
    fan_levels: pa.Table
    affinities: pa.Table
    keyword_counts: pa.Table

    @cached_property
    def keywords(self) -> dict[str, dict[str, int]]:
        """The keyword counts as {consumer key: {word: count}}."""
        return keyword_dict(self.keyword_counts)


Step = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def is_question(text: ir.StringValue) -> ir.BooleanValue:
    """The question rule as an expression (see QUESTION_* above)."""
    rule = text.contains(QUESTION_MARKS[0])
    for mark in QUESTION_MARKS[1:]:
        rule = rule | text.contains(mark)
    for ending in QUESTION_ENDINGS:
        rule = rule | text.endswith(ending)
    for word in QUESTION_WORDS:
        rule = rule | text.contains(word)
    return rule.fill_null(False)


def property_text(properties: ir.StringValue, key: str) -> ir.StringValue:
    """The string value of one top-level key of the `properties` JSON text (null if absent).

    A regular expression over the layout `json.dumps` writes (`{"key": "value", ...}`), not
    a JSON function: Ibis's JSON access on PySpark runs a Python UDF that returned null for
    every row, and a plain `regexp_extract` gives the same answer on DuckDB and Spark. The
    `{` or `, ` before the key keeps a key quoted inside another value (its quotes escaped)
    from matching; values with quotes or backslashes are not extracted (ids have none).
    """
    pattern = '(?:^[{]|, )"' + key + '": "([^"\\\\]*)"'
    return properties.re_extract(pattern, 1).nullif("")


def _outside_key(e: ir.Table, keys: dict[str, str]) -> Any:
    """`<format>:<value>` of the property named per import source; null for other sources."""
    import ibis

    cases = [
        (
            e.source == source,
            source.removeprefix("import:") + ":" + property_text(e.properties, key),
        )
        for source, key in keys.items()
    ]
    return ibis.cases(*cases, else_=ibis.null("string"))


def _score(value: ir.NumericColumn, *, descending: bool, buyers: ir.IntegerColumn) -> Any:
    """Quintile score 1-5 among buyers (the rows): floor(5 * rank / buyers) + 1, rank from 0
    with ties sharing the lowest rank (standard SQL `rank()`, identical on every engine)."""
    import ibis

    order = ibis.desc(value) if descending else ibis.asc(value)
    rank = ibis.rank().over(ibis.window(order_by=order))
    return ((rank * RFM_BINS) / buyers).floor().cast("int64") + 1


def _epoch_us(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Microseconds since 1970-01-01 UTC of a timestamp, as each engine's own function
    (DuckDB `epoch_us`, Spark `unix_micros`): integer arithmetic on it is exact and much
    cheaper than DuckDB's time-zone aware `EXTRACT(hour ...)` (Ibis's `epoch_seconds` casts
    through a naive timestamp, which costs as much)."""
    import ibis
    import ibis.expr.datatypes as dt

    name = "unix_micros" if ts._find_backend().name == "pyspark" else "epoch_us"

    @ibis.udf.scalar.builtin(name=name, signature=((dt.Timestamp(timezone="UTC"),), dt.int64))
    def micros(value):  # type: ignore[no-untyped-def]
        """The engine's own function (no Python body runs)."""

    return micros(ts)


def _until(ts: ir.TimestampValue, as_of: date) -> ir.BooleanValue:
    """ts falls on as_of or before (UTC): a comparison with the next midnight, which the
    engines check without converting every timestamp to a date (and DuckDB prunes files by
    it)."""
    import ibis
    import ibis.expr.datatypes as dt

    if as_of >= date.max:
        return ts.notnull()
    end = datetime.combine(as_of, datetime.min.time(), tzinfo=UTC) + timedelta(days=1)
    return ts < ibis.literal(end, type=dt.Timestamp(timezone="UTC"))


# Every grouping is by the consumer's two id columns (an integer, or for anonymous events the
# id text), and the text key is built from them once per group: building it for every event
# (an integer cast to text, then a text hash) cost more than the scan it is compared with.
CONSUMER_IDS = ("consumer_id", "anonymous_id")


def _with_key(t: ir.Table) -> ir.Table:
    """t (grouped by CONSUMER_IDS) with its consumer_key."""
    import ibis

    return t.mutate(consumer_key=ibis.coalesce(t.consumer_id.cast("string"), t.anonymous_id))


def _about_consumers(events: ir.Table, *, as_of: date) -> ir.Table:
    """Events about a consumer (a signed-in id or a browser id) up to the end of as_of."""
    return events.filter(
        (events.consumer_id.notnull() | events.anonymous_id.notnull())
        & _until(events.occurred_at, as_of)
    )


def _consumer_events(events: ir.Table, *, as_of: date) -> ir.Table:
    """Events about a consumer up to the end of as_of, with the derived keys."""
    import ibis

    e = _with_key(_about_consumers(events, as_of=as_of))
    return e.mutate(anon=ibis.ifelse(e.consumer_id.isnull(), e.anonymous_id, ibis.null("string")))


def event_facts(events: ir.Table, *, as_of: date) -> ir.Table:
    """Each event up to the end of as_of as one fact (FACT_ARROW_SCHEMA, `events` = 1): the
    derived keys and measures, not grouped.

    The portrait of these facts equals the portrait of their compaction (`compact` groups
    exactly these rows), so a one-shot run reads the log once per output table without the
    large group-by, and the stored, incremental runs keep the compacted facts as their state.
    """
    import ibis

    e = _consumer_events(events, as_of=as_of)
    kind = e.event_type
    return e.select(
        consumer_key=e.consumer_key,
        consumer_id=e.consumer_id,
        anonymous_id=e.anon,
        day=e.occurred_at.date(),
        # EXTRACT(hour ...): the same hour from the epoch microseconds was cheaper alone but
        # made DuckDB keep the projected events of the portrait query in memory (2.6 GB
        # instead of 0.7 GB at 10M events, and slower).
        hour=e.occurred_at.hour().cast("int64"),
        event_type=kind,
        session_id=e.session_id,
        anchor_id=e.anchor_id,
        product_key=ibis.coalesce(e.product_id.cast("string"), _outside_key(e, OUTSIDE_ITEM)),
        # Livecart's own events name a product, not its category: the catalogue adds it
        # for affinities.
        category_key=_outside_key(e, OUTSIDE_CATEGORY),
        # Imported orders have no order_id: each such event is one order.
        order_ref=ibis.ifelse(
            kind.isin(("order", "payment")),
            ibis.coalesce(e.order_id.cast("string"), e.event_id),
            e.order_id.cast("string"),
        ),
        is_question=((kind == "chat") & is_question(e.text)).fill_null(False),
        currency=e.currency,
        events=ibis.literal(1, type="int64"),
        watch_seconds=e.watch_seconds.cast("float64"),
        watch_whole_seconds=e.watch_seconds.floor().cast("int64").fill_null(0),
        # A line without a quantity (a Taobao buy) is one unit.
        quantity=e.quantity.fill_null(1).cast("int64"),
        amount=e.amount.cast("int64"),
        first_at=e.occurred_at,
        last_at=e.occurred_at,
    )


def compact(events: ir.Table, *, as_of: date) -> ir.Table:
    """The log compacted into facts (FACT_ARROW_SCHEMA): the state of incremental runs.

    Grouping and summing are exact (integers; the float watch time is summed, which only
    reorders additions), so portraits from the facts of several batches of files equal
    portraits from the facts of all files at once, and equal those of `event_facts`.
    """
    e = event_facts(events, as_of=as_of)
    grouped = e.group_by([e[name] for name in FACT_GROUPING]).aggregate(
        events=e.events.sum().cast("int64"),
        watch_seconds=e.watch_seconds.sum().cast("float64"),
        watch_whole_seconds=e.watch_whole_seconds.sum().cast("int64"),
        quantity=e.quantity.sum().cast("int64"),
        amount=e.amount.sum().cast("int64"),
        first_at=e.first_at.min(),
        last_at=e.last_at.max(),
    )
    return grouped.select(*FACT_FIELDS)


# The event types whose facts the second, small pass reads: the distinct orders, products and
# days of the portrait, the orders of fan levels and the affinities.
RARE_FACTS = tuple(dict.fromkeys((*RARE, *AFFINITY_WEIGHTS)))
RARE_FACT_FIELDS = (
    *CONSUMER_IDS,
    "event_type",
    "day",
    "anchor_id",
    "product_key",
    "category_key",
    "order_ref",
    "currency",
    "quantity",
    "amount",
    "events",
)
HOUR_US = 3_600_000_000
EPOCH = date(1970, 1, 1)


def _visit_groups(
    t: ir.Table, *, hour_bucket: Any, tally: Callable[[Any], Any], **measures: Any
) -> ir.Table:
    """t grouped by consumer, session (and its anchor) and UTC hour (`hour_bucket`), with the
    events counted per kind by `tally`; measures add the engine-specific sums."""
    kind = t.event_type
    return t.group_by(
        [*CONSUMER_IDS, "session_id", "anchor_id", hour_bucket.name("hour_bucket")]
    ).aggregate(
        viewing=tally(kind.isin(VIEWING)),
        chats=tally(kind == "chat"),
        likes=tally(kind == "like"),
        **measures,
    )


def visits_of_events(events: ir.Table, *, as_of: date) -> ir.Table:
    """The events up to the end of as_of summed per consumer, live session (and its anchor)
    and UTC hour (`hour_bucket`, hours since 1970): about one row per hour of a viewer's
    visit to a room, the level the counts, watch time, hours, days and sessions of the
    portrait and the fan levels are summed from.

    Read straight from the log: the consumer's id columns as they are (`_normal_ids` makes
    them one key per consumer after grouping, on far fewer rows), the hour from the epoch
    microseconds (not a time-zone aware conversion of every event), the question rule only
    on chat."""
    import ibis

    e = _about_consumers(events, as_of=as_of)
    micros = _epoch_us(e.occurred_at)
    # Whole hours since 1970, floored for times before 1970 by the double modulo.
    start = micros - ((micros % HOUR_US) + HOUR_US) % HOUR_US
    return _visit_groups(
        e,
        hour_bucket=(start // HOUR_US).cast("int64"),
        tally=lambda where: e.count(where=where).cast("int64"),
        events=e.count().cast("int64"),
        watch_seconds=e.watch_seconds.sum().cast("float64"),
        whole_seconds=e.watch_seconds.floor().cast("int64").sum().fill_null(0).cast("int64"),
        questions=e.count(
            where=ibis.ifelse(e.event_type == "chat", is_question(e.text), False)
        ).cast("int64"),
        first_at=e.occurred_at.min(),
        last_at=e.occurred_at.max(),
    )


def visits_of_facts(facts: ir.Table) -> ir.Table:
    """`visits_of_events` from facts (stored, compacted)."""
    import ibis

    days = facts.day.delta(ibis.literal(EPOCH, type="date"), unit="day").cast("int64")
    return _visit_groups(
        facts,
        hour_bucket=days * 24 + facts.hour,
        tally=lambda where: facts.events.sum(where=where).fill_null(0).cast("int64"),
        events=facts.events.sum().cast("int64"),
        watch_seconds=facts.watch_seconds.sum().cast("float64"),
        whole_seconds=facts.watch_whole_seconds.sum().cast("int64"),
        questions=facts.events.sum(where=facts.is_question).fill_null(0).cast("int64"),
        first_at=facts.first_at.min(),
        last_at=facts.last_at.max(),
    )


def _normal_ids(t: ir.Table) -> ir.Table:
    """t with anonymous_id null where consumer_id is set (one id pair per consumer key)."""
    import ibis

    return t.mutate(
        anonymous_id=ibis.ifelse(t.consumer_id.isnull(), t.anonymous_id, ibis.null("string"))
    )


def rare_facts(facts: ir.Table) -> ir.Table:
    """The facts of the few event types the second pass reads (RARE_FACTS), with only the
    columns it reads (the rest, chat text and watch time among them, are not read)."""
    f = facts.filter(facts.event_type.isin(RARE_FACTS))
    return f.select(*RARE_FACT_FIELDS)


# Days active as a bitmap: with the log's first day known, each day is one bit of a 62-bit
# integer (a block per 62 days), OR-ed per consumer and counted, instead of an exact DISTINCT
# that hashes every (consumer, day) pair. Beyond this many blocks the DISTINCT is used.
DAY_BLOCK_BITS = 62
MAX_DAY_BLOCKS = 12


def _distinct_days(day: ir.IntegerColumn, *, since: date | None, until: date) -> Any:
    """The number of distinct days (days since 1970) in a group (exact either way; see
    DAY_BLOCK_BITS)."""
    import ibis
    import ibis.expr.datatypes as dt

    span = (until - since).days + 1 if since is not None else 0
    if since is None or span < 1 or span > DAY_BLOCK_BITS * MAX_DAY_BLOCKS:
        return day.nunique().cast("int64")

    @ibis.udf.agg.builtin(name="bit_or", signature=((dt.int64,), dt.int64))
    def bit_or(value):  # type: ignore[no-untyped-def]
        """Both engines' bitwise OR aggregate (Ibis has no Spark rule for its own)."""

    # DuckDB's bit_count gives a TINYINT, Spark's an INT: declared narrow, so Ibis keeps the
    # cast to BIGINT before the blocks' counts are added.
    @ibis.udf.scalar.builtin(name="bit_count", signature=((dt.int64,), dt.int8))
    def bit_count(value):  # type: ignore[no-untyped-def]
        """Both engines' population count."""

    index = day - (since - EPOCH).days
    blocks = (span + DAY_BLOCK_BITS - 1) // DAY_BLOCK_BITS
    total: Any = None
    for block in range(blocks):
        # 2 ** n is exact as a double (a power of two) and fits a BIGINT (n < 62).
        offset = index - block * DAY_BLOCK_BITS
        bit = (ibis.literal(2.0, type="float64") ** offset).cast("int64")
        if blocks > 1:
            bit = ibis.ifelse((offset >= 0) & (offset < DAY_BLOCK_BITS), bit, 0)
        count = bit_count(bit_or(bit)).cast("int64")
        total = count if total is None else total + count
    return total


def portraits_of(
    visits: ir.Table,
    rare: ir.Table,
    *,
    as_of: date,
    since: date | None = None,
    catalogue: ir.Table | None = None,
) -> ir.Table:
    """Portraits (ENGINE_PORTRAIT_FIELDS: all but the hours of the day, which `with_hours`
    adds) from visits (`visits_of_events`, `visits_of_facts`) and `rare_facts` up to as_of;
    since, when given, is a day on or before the first fact's (it lets days active be counted
    as a bitmap); the catalogue (CATALOGUE_ARROW_SCHEMA), when given, names the category of
    livecart's own products for `categories_viewed`."""
    import ibis

    v = _normal_ids(visits)

    def total(column: Any) -> Any:
        return column.sum().fill_null(0).cast("int64")

    # Two grouped passes joined on the consumer: one over the visit rows (counts, watch
    # time, hours, sessions, days), one over the few order, payment, return and browsing
    # facts, so their distinct counts do not hash every event.
    common = v.group_by(list(CONSUMER_IDS)).aggregate(
        events=total(v.events),
        watch_seconds=v.watch_seconds.sum().fill_null(0.0).cast("float64"),
        sessions_watched=ibis.ifelse(v.viewing > 0, v.session_id, ibis.null())
        .nunique()
        .cast("int64"),
        messages=total(v.chats),
        likes=total(v.likes),
        questions=total(v.questions),
        first_seen=v.first_at.min(),
        last_seen=v.last_at.max(),
        days_active=_distinct_days((v.hour_bucket // 24).cast("int64"), since=since, until=as_of),
    )
    common = _with_key(common)
    r = rare
    if catalogue is not None:
        c = catalogue.select(cat_product="product_key", cat_category="category")
        r = r.left_join(c, r.product_key == c.cat_product)
        # An imported row names its own category; livecart's products get the catalogue's.
        r = r.mutate(category_key=ibis.coalesce(r.category_key, r.cat_category))
    rkind = r.event_type

    def per_consumer(facts: ir.Table, **measures: Any) -> ir.Table:
        grouped = facts.group_by(list(CONSUMER_IDS)).aggregate(**measures)
        return _with_key(grouped).drop(*CONSUMER_IDS)

    # Each distinct count over only the facts it counts (a grouping per kind, joined on the
    # consumer): a DuckDB distinct aggregate hashes every row of its grouping, also the rows
    # a CASE inside it turns into nulls, and five of them over all the rare facts cost twice
    # these four groupings.
    browsed = r.filter(rkind.isin(BROWSING))
    ordered = r.filter(rkind == "order")
    paid = r.filter(rkind == "payment")
    parts = (
        per_consumer(
            r,
            carts=r.events.sum(where=rkind == "add_to_cart"),
            favourites=r.events.sum(where=rkind == "favourite"),
            returns=r.events.sum(where=rkind == "return"),
            returned_units=r.quantity.sum(where=rkind == "return"),
        ),
        per_consumer(
            browsed,
            products_viewed=browsed.product_key.nunique(),
            categories_viewed=browsed.category_key.nunique(),
        ),
        per_consumer(
            ordered,
            orders=ordered.order_ref.nunique(),
            # A line without a quantity (a Taobao buy) is one unit.
            units=ordered.quantity.sum(),
            spend=ordered.amount.sum(),
            last_order_day=ordered.day.max(),
            frequency=ordered.day.nunique(),
            currency=ordered.currency.max(),
        ),
        per_consumer(paid, paid_orders=paid.order_ref.nunique()),
    )
    j = common
    for n, part in enumerate(parts):
        key = f"part_key_{n}"
        part = part.rename({key: "consumer_key"})
        j = j.left_join(part, j.consumer_key == part[key]).drop(key)
    t = j.mutate(
        **{
            name: j[name].fill_null(0).cast("int64")
            for name in (
                "carts",
                "favourites",
                "returns",
                "products_viewed",
                "categories_viewed",
                "orders",
                "paid_orders",
                "units",
                "spend",
                "returned_units",
                "frequency",
            )
        }
    )
    hours_watched = t.watch_seconds / 3600.0
    t = t.mutate(
        average_stay_seconds=ibis.ifelse(
            t.sessions_watched > 0, t.watch_seconds / t.sessions_watched, ibis.null("float64")
        ),
        interactions_per_hour=ibis.ifelse(
            t.watch_seconds > 0, (t.messages + t.likes) / hours_watched, ibis.null("float64")
        ),
        recency_days=ibis.ifelse(
            t.orders > 0,
            ibis.literal(as_of, type="date").delta(t.last_order_day, unit="day").cast("int64"),
            ibis.null("int64"),
        ),
        return_rate=ibis.ifelse(t.units > 0, t.returned_units / t.units, ibis.null("float64")),
        monetary=t.spend,
        is_buyer=t.orders > 0,
    )
    # RFM scores ranked among the buyers only, on a narrow table joined back (window
    # functions over the wide rows carried every column through three sorts).
    b = t.filter(t.is_buyer).select("consumer_key", "recency_days", "frequency", "monetary")
    buyers = b.count().over(ibis.window()).cast("int64")
    scores = b.select(
        score_key=b.consumer_key,
        # Recent buyers score high, so recency ranks in descending days.
        r_score=_score(b.recency_days, descending=True, buyers=buyers),
        f_score=_score(b.frequency, descending=False, buyers=buyers),
        m_score=_score(b.monetary, descending=False, buyers=buyers),
    )
    t = t.left_join(scores, t.consumer_key == scores.score_key)
    return t.select(*ENGINE_PORTRAIT_FIELDS).order_by("consumer_key")


def hours_of_day(visits: ir.Table) -> ir.Table:
    """Events per consumer and UTC hour of the day (HOURS_ARROW_SCHEMA) from visits, for
    `with_hours`: a small grouping, where 24 sums per consumer in the portrait query made
    both its compilation and its aggregation slower."""
    v = _normal_ids(visits)
    g = v.group_by([*CONSUMER_IDS, (v.hour_bucket % 24).cast("int64").name("hour")]).aggregate(
        events=v.events.sum().cast("int64")
    )
    return _with_key(g).select(*HOURS_ARROW_SCHEMA.names)


def with_hours(table: pa.Table, hours: pa.Table) -> pa.Table:
    """Portrait rows (ENGINE_PORTRAIT_FIELDS) with `active_hours` (events per UTC hour of the
    day, 0-23) and `peak_hour` (the busiest hour, the earliest one on a tie) from the rows of
    `hours_of_day`, in PORTRAIT_ARROW_SCHEMA."""
    import numpy as np
    import pyarrow.compute as pc

    n = table.num_rows
    row = pc.index_in(hours.column("consumer_key"), value_set=table.column("consumer_key"))
    cell = np.asarray(pc.fill_null(row, n).to_numpy(zero_copy_only=False), np.int64) * 24
    cell += np.asarray(hours.column("hour").to_numpy(), np.int64)
    weights = np.asarray(hours.column("events").to_numpy(), np.float64)
    # Integer sums through float weights: exact below 2 ** 53 events.
    counts = np.rint(np.bincount(cell, weights=weights, minlength=(n + 1) * 24)[: n * 24])
    grid = counts.astype(np.int64).reshape(n, 24)
    offsets = pa.array(np.arange(0, (n + 1) * 24, 24, dtype=np.int32))
    rows = table.append_column(
        "active_hours", pa.ListArray.from_arrays(offsets, pa.array(grid.reshape(-1)))
    ).append_column("peak_hour", pa.array(grid.argmax(axis=1).astype(np.int64)))
    return _conform(rows, PORTRAIT_ARROW_SCHEMA)


def fan_levels(visits: ir.Table, rare: ir.Table) -> ir.Table:
    """Fan score and level per consumer and anchor (FAN_ARROW_SCHEMA, rows in no particular
    order) from visits (`visits_of_events`, `visits_of_facts`) and `rare_facts`; see
    FAN_WEIGHTS."""
    import ibis

    v = _normal_ids(visits.filter(visits.anchor_id.notnull()))
    g = v.group_by([*CONSUMER_IDS, "anchor_id"]).aggregate(
        whole_seconds=v.whole_seconds.sum().cast("int64"),
        chats=v.chats.sum().cast("int64"),
        likes=v.likes.sum().cast("int64"),
    )
    g = _with_key(g)
    # Distinct orders per anchor from the order facts.
    o = rare.filter((rare.event_type == "order") & rare.anchor_id.notnull())
    bought = _with_key(
        o.group_by([*CONSUMER_IDS, "anchor_id"]).aggregate(
            orders=o.order_ref.nunique().cast("int64")
        )
    )
    bought = bought.select(
        o_key=bought.consumer_key, o_anchor=bought.anchor_id, orders=bought.orders
    )
    g = g.left_join(bought, (g.consumer_key == bought.o_key) & (g.anchor_id == bought.o_anchor))
    g = g.mutate(orders=g.orders.fill_null(0).cast("int64"))
    minutes = (g.whole_seconds / 60).floor().cast("int64")
    g = g.mutate(
        score=(
            minutes * FAN_WEIGHTS["minute"]
            + g.chats * FAN_WEIGHTS["chat"]
            + g.likes * FAN_WEIGHTS["like"]
            + g.orders * FAN_WEIGHTS["order"]
        ).cast("int64")
    )
    level = ibis.literal(1, type="int64")
    for threshold in FAN_THRESHOLDS:
        level = level + ibis.ifelse(g.score >= threshold, 1, 0).cast("int64")
    g = g.mutate(level=level.cast("int64"))
    # In no particular order: there is about one row per consumer and anchor watched (a third
    # of the events in a busy log), and sorting them cost a third of this query.
    return g.select(*FAN_ARROW_SCHEMA.names)


def affinities(facts: ir.Table, catalogue: ir.Table) -> ir.Table:
    """Category, brand and price-band affinities (AFFINITY_ARROW_SCHEMA); see AFFINITY_WEIGHTS.

    A livecart product's category, brand and price band come from the catalogue (joined on
    the product key); an imported Taobao row's category is its own `taobao:<id>`.
    """
    import ibis

    f = facts.filter(facts.event_type.isin(tuple(AFFINITY_WEIGHTS)) & facts.product_key.notnull())
    weight = ibis.cases(
        *((f.event_type == name, value) for name, value in AFFINITY_WEIGHTS.items()),
        else_=0,
    )
    # One pass over the facts: each consumer's weight per product (and outside category),
    # then the three kinds from that small table.
    w = f.group_by([*CONSUMER_IDS, "product_key", "category_key"]).aggregate(
        weight=(weight * f.events).sum().cast("int64")
    )
    w = _with_key(w)
    c = catalogue.select(
        cat_product="product_key", cat_category="category", cat_brand="brand", cat_band="price_band"
    )
    j = w.left_join(c, w.product_key == c.cat_product)
    j = j.mutate(
        a_category=ibis.coalesce(j.category_key, j.cat_category),
        a_brand=j.cat_brand,
        a_price_band=j.cat_band,
    )
    parts = []
    for name in AFFINITY_KINDS:
        column = j[f"a_{name}"]
        part = (
            j.filter(column.notnull())
            .group_by([j.consumer_key, column.name("key")])
            .aggregate(consumer_id=j.consumer_id.max(), weight=j.weight.sum().cast("int64"))
            .mutate(kind=ibis.literal(name, type="string"))
        )
        parts.append(part.select("consumer_key", "consumer_id", "kind", "key", "weight"))
    u = parts[0].union(*parts[1:])
    total = u.weight.sum().over(ibis.window(group_by=["consumer_key", "kind"]))
    u = u.mutate(score=(u.weight.cast("float64") / total.cast("float64")).cast("float64"))
    u = u.filter(u.weight > 0)
    return u.select(*AFFINITY_ARROW_SCHEMA.names).order_by(["consumer_key", "kind", "key"])


def chat_texts(events: ir.Table, *, as_of: date) -> ir.Table:
    """Chat messages per consumer with how often each was sent (TEXT_ARROW_SCHEMA), for the
    keyword step after the engine (which cuts each distinct message once)."""
    e = _consumer_events(events, as_of=as_of)
    e = e.filter((e.event_type == "chat") & e.text.notnull())
    g = e.group_by(["consumer_id", "anon", "text"]).aggregate(n=e.count().cast("int64"))
    g = _with_key(g.rename(anonymous_id="anon"))
    return g.select("consumer_key", "text", "n")


def catalogue_table(rows: list[dict[str, Any]]) -> pa.Table:
    """The catalogue dimension for `affinities`: product_key, category, brand, price_band."""
    return pa.Table.from_pylist(rows, schema=CATALOGUE_ARROW_SCHEMA)


def price_band(price_minor: int | None) -> str | None:
    """The band of a lowest SKU price in minor units (see PRICE_BANDS)."""
    if price_minor is None:
        return None
    for bound, name in PRICE_BANDS:
        if price_minor < bound:
            return name
    return PRICE_BAND_TOP


def _conform(result: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = []
    for name in schema.names:
        want = schema.field(name).type
        column = result.column(name)
        if pa.types.is_timestamp(want) and pa.types.is_timestamp(column.type):
            if column.type.tz is None:  # naive means UTC here: both sessions run in UTC
                column = column.cast(pa.timestamp("us"))
        columns.append(column.cast(want))
    return pa.Table.from_arrays(columns, schema=schema)


def as_fact_rows(result: pa.Table) -> pa.Table:
    """The engine's facts in FACT_ARROW_SCHEMA, sorted so equal inputs give equal tables."""
    table = _conform(result, FACT_ARROW_SCHEMA)
    return table.sort_by([(name, "ascending") for name in FACT_GROUPING])


def _aligned(keys: pa.Array, table: pa.Table, column: str, missing: float) -> np.ndarray:
    """table[column] for each of keys (table has one row per consumer_key), missing if none."""
    import numpy as np
    import pyarrow.compute as pc

    where = pc.index_in(keys, value_set=table.column("consumer_key").combine_chunks())
    values = table.column(column).combine_chunks()
    if len(values) == 0:
        return np.full(len(keys), missing, dtype=np.float64)
    picked = values.take(pc.fill_null(where, 0)).to_numpy(zero_copy_only=False)
    found = pc.is_valid(where).to_numpy(zero_copy_only=False)
    return np.where(found, picked.astype(np.float64), missing)


def finish(
    table: pa.Table,
    *,
    fans: pa.Table,
    affinity: pa.Table,
    keywords: pa.Table | dict[str, dict[str, int]],
    p_alive: dict[str, float] | None = None,
) -> pa.Table:
    """Portrait rows with `top_keywords` and `tags` added (PORTRAIT_OUTPUT_SCHEMA), computed
    with array operations over the whole table (the rules of `keywords.top_keywords` and
    `tags.tags`)."""
    import numpy as np
    import pyarrow.compute as pc

    if isinstance(keywords, dict):
        keywords = keyword_table_of(keywords)
    keys = table.column("consumer_key").combine_chunks()
    levels = fans.group_by("consumer_key", use_threads=False).aggregate([("level", "max")])
    bands = affinity.filter(
        pc.and_(
            pc.equal(affinity.column("kind"), "price_band"),
            pc.equal(affinity.column("key"), "under_50"),
        )
    )
    if p_alive:
        alive = np.array([p_alive.get(key, np.nan) for key in keys.to_pylist()], dtype=np.float64)
    else:
        alive = np.full(len(keys), np.nan)
    tagged = tag_lists(
        table,
        max_fan_level=_aligned(keys, levels, "level_max", 0.0),
        under_50=_aligned(keys, bands, "score", 0.0),
        p_alive=alive,
    )
    top = top_keyword_lists(keywords, keys)
    columns = [*table.columns, top, tagged]
    return pa.Table.from_arrays(columns, schema=PORTRAIT_OUTPUT_SCHEMA)


def _arrow(expr: ir.Table) -> pa.Table:
    """The rows of an expression as Arrow, without pandas. On Spark through
    `DataFrame.toArrow` (Ibis's own path goes through pandas, row by row without Arrow
    enabled)."""
    backend = expr._find_backend()
    backend._run_pre_execute_hooks(expr)  # registers in-memory tables (the catalogue)
    if backend.name == "pyspark":
        return backend._session.sql(backend.compile(expr)).toArrow()
    # DuckDB: the compiled query on the connection straight to Arrow (Ibis's `to_pyarrow`
    # imports pandas for its type converter, a second or more per process).
    return backend.con.sql(backend.compile(expr)).to_arrow_table()


@contextmanager
def _kept(expr: ir.Table) -> Iterator[ir.Table]:
    """The rows of an expression computed once and kept by the engine while in the block (a
    temporary table on DuckDB, a cached view on Spark). Not Ibis's `cache`: its release
    compiles `DROP TABLE IF EXISTS` without the name under the pinned SQLGlot."""
    backend = expr._find_backend()
    backend._run_pre_execute_hooks(expr)
    name = f"livecart_kept_{time.monotonic_ns()}"
    if backend.name == "pyspark":
        frame = backend._session.sql(backend.compile(expr)).cache()
        frame.createOrReplaceTempView(name)
        try:
            yield backend.table(name)
        finally:
            backend._session.catalog.dropTempView(name)
            frame.unpersist()
        return
    backend.con.execute(f"CREATE TEMP TABLE {name} AS {backend.compile(expr)}")
    try:
        yield backend.table(name)
    finally:
        backend.con.execute(f"DROP TABLE IF EXISTS {name}")


def _keywords_of(events: ir.Table, *, as_of: date) -> pa.Table:
    texts = _conform(_arrow(chat_texts(events, as_of=as_of)), TEXT_ARROW_SCHEMA)
    return keyword_table(texts.column("consumer_key"), texts.column("text"), texts.column("n"))


def compute(
    events: ir.Table,
    *,
    engine: Engine,
    days: tuple[date, date],
    as_of: date | None,
    catalogue: pa.Table | None = None,
    step: Step = _quiet,
) -> PortraitRun:
    """Every output of the pipeline for the events table, on its backend.

    days are the log's first and latest event days (`_check_root`). The log is read three
    times: summed into visits (`visits_of_events`), filtered to the rare facts (`rare_facts`
    of `event_facts`), and for the chat texts. Visits and rare facts are kept by the engine
    (a temporary table, a cached view) for the portrait, hour, fan-level and affinity
    queries.
    """
    started = time.perf_counter()
    first, latest = days
    day = as_of if as_of is not None else latest
    step(f"computing portraits on {engine.value} (as of {day.isoformat()})")
    facts = event_facts(events, as_of=day)
    table, fans, affinity = _outputs(
        visits_of_events(events, as_of=day), rare_facts(facts), as_of=day, since=first,
        catalogue=catalogue,
    )  # fmt: skip
    step("counting chat keywords")
    keywords = _keywords_of(events, as_of=day)
    table = finish(table, fans=fans, affinity=affinity, keywords=keywords)
    return PortraitRun(engine, day, table, time.perf_counter() - started, fans, affinity, keywords)


def _outputs(
    visits: ir.Table,
    rare: ir.Table,
    *,
    as_of: date,
    since: date | None,
    catalogue: pa.Table | None,
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Portrait rows (PORTRAIT_ARROW_SCHEMA), fan levels and affinities, with the visit and
    rare facts computed once and kept by the engine while the three queries read them."""
    import ibis

    products = ibis.memtable(catalogue if catalogue is not None else catalogue_table([]))
    # An empty catalogue names no category: the rows are not joined to it.
    named = products if catalogue is not None and catalogue.num_rows else None
    with _kept(visits) as v, _kept(rare) as r:
        table = with_hours(
            _arrow(portraits_of(v, r, as_of=as_of, since=since, catalogue=named)),
            _conform(_arrow(hours_of_day(v)), HOURS_ARROW_SCHEMA),
        )
        fans = _conform(_arrow(fan_levels(v, r)), FAN_ARROW_SCHEMA)
        affinity = _conform(_arrow(affinities(r, products)), AFFINITY_ARROW_SCHEMA)
    return table, fans, affinity


def compute_facts(events: ir.Table, *, as_of: date) -> tuple[pa.Table, dict[str, dict[str, int]]]:
    """The facts and keyword counts of an events table (one incremental batch)."""
    facts = as_fact_rows(_arrow(compact(events, as_of=as_of)))
    return facts, keyword_dict(_keywords_of(events, as_of=as_of))


def compute_from_facts(
    facts: ir.Table, *, as_of: date, catalogue: pa.Table | None = None
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Portrait rows (PORTRAIT_ARROW_SCHEMA), fan levels and affinities from stored facts."""
    import ibis

    f = facts.filter(facts.day <= ibis.literal(as_of, type="date"))
    table, fans, affinity = _outputs(
        visits_of_facts(f), rare_facts(f), as_of=as_of, since=None,
        catalogue=catalogue,
    )  # fmt: skip
    fans = fans.sort_by([("consumer_key", "ascending"), ("anchor_id", "ascending")])
    return table, fans, affinity


def _check_root(root: Path) -> tuple[list[Path], tuple[date, date]]:
    """The log's files and the days of its first and latest events."""
    from livecart.events.sink import event_days, log_files

    if not root.is_dir():
        raise InputFileMissing(f"no event log at {root}", details={"root": str(root)})
    files = log_files(root)
    days = event_days(files)
    if days is None:
        raise EventLogEmpty(
            f"the event log at {root} has no events yet", details={"root": str(root)}
        )
    return files, days


def run_duckdb(
    root: Path,
    *,
    as_of: date | None = None,
    catalogue: pa.Table | None = None,
    step: Step = _quiet,
) -> PortraitRun:
    """Portraits of the log at root computed by DuckDB (in memory)."""
    import ibis

    from livecart.events import service

    _, days = _check_root(root)
    connection = service.open_log(root)
    try:
        connection.execute("SET TimeZone = 'UTC'")
        backend = ibis.duckdb.from_connection(connection)
        return compute(
            backend.table("events"),
            engine=Engine.duckdb,
            days=days,
            as_of=as_of,
            catalogue=catalogue,
            step=step,
        )
    finally:
        connection.close()


@contextmanager
def spark_session(*, memory: str = "1g", cores: int = 2) -> Iterator[SparkSession]:
    """A local Spark session (two cores, as DuckDB uses; no UI, UTC, a throwaway warehouse,
    Arrow for transfers to and from Python); stopped on exit."""
    from pyspark.sql import SparkSession

    with tempfile.TemporaryDirectory(prefix="livecart-spark-") as scratch:
        session = (
            SparkSession.builder.master(f"local[{cores}]")
            .appName("livecart-portraits")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", memory)
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.warehouse.dir", f"{scratch}/warehouse")
            .config("spark.local.dir", f"{scratch}/local")
            .config("spark.driver.extraJavaOptions", f"-Djava.io.tmpdir={scratch}")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        try:
            yield session
        finally:
            session.stop()


def run_spark(
    root: Path,
    *,
    as_of: date | None = None,
    session: SparkSession | None = None,
    catalogue: pa.Table | None = None,
    step: Step = _quiet,
) -> PortraitRun:
    """Portraits of the log at root computed by Spark; a session is started unless given."""
    files, days = _check_root(root)
    if session is None:
        step("starting Spark (local mode)")
        with spark_session() as own:
            return _spark(own, files, days, as_of, catalogue, step)
    return _spark(session, files, days, as_of, catalogue, step)


def _spark(
    session: SparkSession,
    files: list[Path],
    days: tuple[date, date],
    as_of: date | None,
    catalogue: pa.Table | None,
    step: Step,
) -> PortraitRun:
    import ibis

    from livecart.events.schemas import EVENT_ARROW_SCHEMA

    # The log's own column list, so the `date=` folders add no partition column and every
    # file is read with the same types.
    columns = ", ".join(EVENT_ARROW_SCHEMA.names)
    frame = session.read.parquet(*(p.as_posix() for p in files)).selectExpr(*columns.split(", "))
    # The pipeline reads the events in several branches (and once for the default as-of
    # day): cached, the files are listed and decoded once.
    frame = frame.cache()
    view = f"livecart_events_{time.monotonic_ns()}"
    frame.createOrReplaceTempView(view)
    try:
        backend = ibis.pyspark.connect(session)
        return compute(
            backend.table(view),
            engine=Engine.spark,
            days=days,
            as_of=as_of,
            catalogue=catalogue,
            step=step,
        )
    finally:
        session.catalog.dropTempView(view)
        frame.unpersist()


def run(
    engine: Engine,
    root: Path,
    *,
    as_of: date | None = None,
    catalogue: pa.Table | None = None,
    step: Step = _quiet,
) -> PortraitRun:
    """Portraits of the log at root on the chosen engine."""
    if engine is Engine.spark:
        return run_spark(root, as_of=as_of, catalogue=catalogue, step=step)
    return run_duckdb(root, as_of=as_of, catalogue=catalogue, step=step)


# Stored, incremental runs: facts of new log files, then portraits from every stored fact.
# Both steps read Parquet files on the chosen engine, as the one-shot run does.
NO_LIMIT = date(9999, 12, 31)


@contextmanager
def _parquet_table(
    engine: Engine, files: list[Path], columns: tuple[str, ...], session: SparkSession | None
) -> Iterator[ir.Table]:
    """An Ibis table over Parquet files (these columns only) on the engine."""
    import ibis

    if engine is Engine.duckdb:
        import duckdb

        connection = duckdb.connect()
        try:
            connection.execute("SET TimeZone = 'UTC'")
            paths = ", ".join("'" + p.as_posix().replace("'", "''") + "'" for p in files)
            names = ", ".join(columns)
            connection.execute(
                f"CREATE TEMP VIEW t AS SELECT {names} FROM read_parquet([{paths}], "  # noqa: S608
                "hive_partitioning = false, union_by_name = true)"
            )
            yield ibis.duckdb.from_connection(connection).table("t")
        finally:
            connection.close()
        return
    if session is None:
        with spark_session() as own:
            with _parquet_table(engine, files, columns, own) as table:
                yield table
        return
    frame = session.read.parquet(*(p.as_posix() for p in files)).selectExpr(*columns).cache()
    view = f"livecart_t_{time.monotonic_ns()}"
    frame.createOrReplaceTempView(view)
    try:
        yield ibis.pyspark.connect(session).table(view)
    finally:
        session.catalog.dropTempView(view)
        frame.unpersist()


def facts_of_files(
    engine: Engine, files: list[Path], *, session: SparkSession | None = None
) -> tuple[pa.Table, dict[str, dict[str, int]]]:
    """Facts (FACT_ARROW_SCHEMA) and keyword counts of some files of the event log."""
    from livecart.events.schemas import EVENT_ARROW_SCHEMA

    with _parquet_table(engine, files, tuple(EVENT_ARROW_SCHEMA.names), session) as events:
        return compute_facts(events, as_of=NO_LIMIT)


def portraits_of_facts(
    engine: Engine,
    facts: pa.Table,
    *,
    as_of: date,
    catalogue: pa.Table | None = None,
    session: SparkSession | None = None,
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Portrait rows, fan levels and affinities from facts, computed on the engine."""
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="livecart-facts-") as scratch:
        path = Path(scratch) / "facts.parquet"
        pq.write_table(_conform(facts, FACT_ARROW_SCHEMA), path)
        with _parquet_table(engine, [path], FACT_FIELDS, session) as table:
            return compute_from_facts(table, as_of=as_of, catalogue=catalogue)


def write(run: PortraitRun, out: Path) -> Path:
    """Write the portraits to a Parquet file (through a temporary name, then renamed)."""
    import pyarrow.parquet as pq

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    pq.write_table(run.table, tmp, compression="zstd")
    tmp.replace(out)
    return out
