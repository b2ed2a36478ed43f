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
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from livecart.events.errors import EventLogEmpty
from livecart.insights.errors import InputFileMissing

if TYPE_CHECKING:
    import ibis.expr.types as ir
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
    ]
)
PORTRAIT_FIELDS = tuple(PORTRAIT_ARROW_SCHEMA.names)


class Engine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


@dataclass(frozen=True)
class PortraitRun:
    """What a run produced: the rows (PORTRAIT_ARROW_SCHEMA) and how long the engine took."""

    engine: Engine
    as_of: date
    table: pa.Table
    seconds: float


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
    """Quintile score 1-5 among buyers: floor(5 * rank / buyers) + 1, rank from 0 with ties
    sharing the lowest rank (standard SQL `rank()`, identical on every engine)."""
    import ibis

    order = ibis.desc(value) if descending else ibis.asc(value)
    rank = ibis.rank().over(ibis.window(group_by="is_buyer", order_by=order))
    return ((rank * RFM_BINS) / buyers).floor().cast("int64") + 1


def portraits(events: ir.Table, *, as_of: date) -> ir.Table:
    """The portrait pipeline: one row per consumer key, events up to the end of as_of (UTC)."""
    import ibis

    e = events.filter(
        (events.consumer_id.notnull() | events.anonymous_id.notnull())
        & (events.occurred_at.date() <= ibis.literal(as_of, type="date"))
    )
    e = e.mutate(
        consumer_key=ibis.coalesce(e.consumer_id.cast("string"), e.anonymous_id),
        anon=ibis.ifelse(e.consumer_id.isnull(), e.anonymous_id, ibis.null("string")),
        day=e.occurred_at.date(),
        hour=e.occurred_at.hour().cast("int64"),
        product_key=ibis.coalesce(e.product_id.cast("string"), _outside_key(e, OUTSIDE_ITEM)),
        # Livecart's own events name a product, not its category: null until the catalogue
        # is joined.
        category_key=_outside_key(e, OUTSIDE_CATEGORY),
    )
    kind = e.event_type

    def count_of(*types: str) -> Any:
        return kind.isin(types).sum().cast("int64")

    def when(types: tuple[str, ...], value: Any) -> Any:
        return ibis.ifelse(kind.isin(types), value, ibis.null())

    is_order = kind == "order"
    # Imported orders have no order_id: each such event is one order.
    order_ref = ibis.coalesce(e.order_id.cast("string"), e.event_id)
    base = e.group_by("consumer_key").aggregate(
        consumer_id=e.consumer_id.max(),
        anonymous_id=e.anon.max(),
        events=e.count().cast("int64"),
        watch_seconds=e.watch_seconds.sum().fill_null(0.0).cast("float64"),
        sessions_watched=when(VIEWING, e.session_id).nunique().cast("int64"),
        messages=count_of("chat"),
        likes=count_of("like"),
        questions=((kind == "chat") & is_question(e.text)).sum().cast("int64"),
        products_viewed=when(BROWSING, e.product_key).nunique().cast("int64"),
        categories_viewed=when(BROWSING, e.category_key).nunique().cast("int64"),
        carts=count_of("add_to_cart"),
        favourites=count_of("favourite"),
        orders=when(("order",), order_ref).nunique().cast("int64"),
        paid_orders=when(("payment",), order_ref).nunique().cast("int64"),
        # A line without a quantity (a Taobao buy) is one unit.
        units=when(("order",), e.quantity.fill_null(1)).sum().fill_null(0).cast("int64"),
        spend=when(("order",), e.amount).sum().fill_null(0).cast("int64"),
        returns=count_of("return"),
        returned_units=when(("return",), e.quantity.fill_null(1)).sum().fill_null(0).cast("int64"),
        first_seen=e.occurred_at.min(),
        last_seen=e.occurred_at.max(),
        days_active=e.day.nunique().cast("int64"),
        last_order_day=when(("order",), e.day).max(),
        frequency=ibis.ifelse(is_order, e.day, ibis.null()).nunique().cast("int64"),
    )

    # Active hours: events per UTC hour of day; the peak is the busiest hour, the earliest
    # one on a tie.
    per_hour = e.group_by(["consumer_key", "hour"]).aggregate(n=e.count().cast("int64"))
    peak = (
        per_hour.mutate(
            place=ibis.row_number().over(
                ibis.window(group_by="consumer_key", order_by=[ibis.desc("n"), ibis.asc("hour")])
            )
        )
        .filter(lambda t: t.place == 0)
        .select(peak_key="consumer_key", peak_hour="hour")
    )
    slots = per_hour.group_by("consumer_key").aggregate(
        **{
            f"h{h:02d}": ibis.ifelse(per_hour.hour == h, per_hour.n, 0).sum().cast("int64")
            for h in range(24)
        }
    )
    hours = slots.join(peak, slots.consumer_key == peak.peak_key).select(
        hours_key=slots.consumer_key,
        active_hours=ibis.array([slots[f"h{h:02d}"] for h in range(24)]),
        peak_hour=peak.peak_hour,
    )

    t = base.join(hours, base.consumer_key == hours.hours_key)
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
    buyers = (t.is_buyer.cast("int64").sum().over(ibis.window(group_by="is_buyer"))).cast("int64")

    def score(value: Any, descending: bool) -> Any:
        return ibis.ifelse(
            t.is_buyer, _score(value, descending=descending, buyers=buyers), ibis.null("int64")
        )

    t = t.mutate(
        # Recent buyers score high, so recency ranks in descending days.
        r_score=score(t.recency_days, True),
        f_score=score(t.frequency, False),
        m_score=score(t.monetary, False),
    )
    return t.select(*PORTRAIT_FIELDS).order_by("consumer_key")


def as_portrait_rows(result: pa.Table) -> pa.Table:
    """The engine's rows in the portrait schema (same types whichever engine made them)."""
    columns = []
    for name in PORTRAIT_FIELDS:
        want = PORTRAIT_ARROW_SCHEMA.field(name).type
        column = result.column(name)
        if pa.types.is_timestamp(want) and pa.types.is_timestamp(column.type):
            if column.type.tz is None:  # naive means UTC here: both sessions run in UTC
                column = column.cast(pa.timestamp("us")).cast(want)
        columns.append(column.cast(want))
    return pa.Table.from_arrays(columns, schema=PORTRAIT_ARROW_SCHEMA)


def _latest_day(events: ir.Table) -> date:
    latest = events.occurred_at.max().execute()
    if latest is None:
        raise EventLogEmpty("the event log has no events yet")
    if isinstance(latest, datetime):
        return latest.date()
    return date.fromisoformat(str(latest)[:10])


def _run(events: ir.Table, engine: Engine, as_of: date | None, step: Step) -> PortraitRun:
    started = time.perf_counter()
    day = as_of if as_of is not None else _latest_day(events)
    step(f"computing portraits on {engine.value} (as of {day.isoformat()})")
    table = as_portrait_rows(portraits(events, as_of=day).to_pyarrow())
    return PortraitRun(engine, day, table, time.perf_counter() - started)


def _check_root(root: Path) -> list[Path]:
    from livecart.events.sink import log_files

    if not root.is_dir():
        raise InputFileMissing(f"no event log at {root}", details={"root": str(root)})
    files = log_files(root)
    if not files:
        raise EventLogEmpty(
            f"the event log at {root} has no events yet", details={"root": str(root)}
        )
    return files


def run_duckdb(root: Path, *, as_of: date | None = None, step: Step = _quiet) -> PortraitRun:
    """Portraits of the log at root computed by DuckDB (in memory)."""
    import ibis

    from livecart.events import service

    _check_root(root)
    connection = service.open_log(root)
    try:
        connection.execute("SET TimeZone = 'UTC'")
        backend = ibis.duckdb.from_connection(connection)
        return _run(backend.table("events"), Engine.duckdb, as_of, step)
    finally:
        connection.close()


@contextmanager
def spark_session(*, memory: str = "1g") -> Iterator[SparkSession]:
    """A local Spark session (one core, no UI, UTC, a throwaway warehouse); stopped on exit."""
    from pyspark.sql import SparkSession

    with tempfile.TemporaryDirectory(prefix="livecart-spark-") as scratch:
        session = (
            SparkSession.builder.master("local[1]")
            .appName("livecart-portraits")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", memory)
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "4")
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
    step: Step = _quiet,
) -> PortraitRun:
    """Portraits of the log at root computed by Spark; a session is started unless given."""
    files = _check_root(root)
    if session is None:
        step("starting Spark (local mode)")
        with spark_session() as own:
            return _spark(own, files, as_of, step)
    return _spark(session, files, as_of, step)


def _spark(session: SparkSession, files: list[Path], as_of: date | None, step: Step) -> PortraitRun:
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
        return _run(backend.table(view), Engine.spark, as_of, step)
    finally:
        session.catalog.dropTempView(view)
        frame.unpersist()


def run(
    engine: Engine, root: Path, *, as_of: date | None = None, step: Step = _quiet
) -> PortraitRun:
    """Portraits of the log at root on the chosen engine."""
    if engine is Engine.spark:
        return run_spark(root, as_of=as_of, step=step)
    return run_duckdb(root, as_of=as_of, step=step)


def write(run: PortraitRun, out: Path) -> Path:
    """Write the portraits to a Parquet file (through a temporary name, then renamed)."""
    import pyarrow.parquet as pq

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    pq.write_table(run.table, tmp, compression="zstd")
    tmp.replace(out)
    return out
