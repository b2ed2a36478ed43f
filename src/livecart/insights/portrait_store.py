"""Stored consumer portraits: incremental runs over the event log, and reading them back.

`store_portraits` folds the log files no run has processed into `portrait_facts` and
`portrait_keywords` (the state), then recomputes every portrait, affinity and fan level from
all stored facts on the chosen engine, so a run after new files gives what a full recompute
gives. Plain functions, no commit (the caller's unit of work); `insights.service` exposes the
reading functions to other domains.
"""

from __future__ import annotations

import asyncio
import time
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts import service as accounts
from livecart.insights import clv
from livecart.insights import portraits as portrait_pipeline
from livecart.insights.clv import Array
from livecart.insights.errors import FitFailed, PortraitNotFound
from livecart.insights.keywords import merge_counts, top_keywords
from livecart.insights.models import (
    ConsumerAffinity,
    ConsumerPortrait,
    FanLevel,
    PortraitFact,
    PortraitKeyword,
    PortraitLogFile,
    PortraitRun,
)
from livecart.insights.schemas import (
    AffinityOut,
    FanLevelOut,
    KeywordOut,
    PortraitOut,
    PortraitStoreReport,
)
from livecart.insights.transactions import DAYS_PER_WEEK

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# ---------------------------------------------------------------- stored portraits

FACT_INSERT_BATCH = 5_000
MIN_BUYERS_FOR_CLV = 10  # fewer buyers than this: no BG/NBD fit, the scores stay null
CLV_HORIZON_WEEKS = 30 / DAYS_PER_WEEK
MAX_WORD = 60


def _day_of(path: Path) -> date:
    """The UTC day of a log file, from its `date=YYYY-MM-DD` folder."""
    for part in reversed(path.parts):
        if part.startswith("date="):
            return date.fromisoformat(part.removeprefix("date="))
    raise ValueError(f"{path} is not inside a date= folder of the event log")


async def _processed_files(session: AsyncSession) -> set[str]:
    return set(await session.scalars(select(PortraitLogFile.name)))


def _unread_files(root: Path, done: set[str]) -> tuple[list[Path] | None, list[Path]]:
    """The log files whose events are not in the stored facts, and the compacted files
    that only hold events already read (events.compaction); (None, []) when a compacted file
    holds both."""
    from livecart.events.sink import compacted_from, log_files

    unread: list[Path] = []
    relaid: list[Path] = []
    for path in log_files(root):
        if path.relative_to(root).as_posix() in done:
            continue
        replaced = compacted_from(path)
        if replaced is None or not done.intersection(replaced):
            unread.append(path)
        elif done.issuperset(replaced):
            relaid.append(path)
        else:
            return None, []
    return unread, relaid


async def _stored_facts(session: AsyncSession) -> pa.Table:
    rows = (await session.execute(select(PortraitFact.__table__))).mappings().all()
    out = []
    for row in rows:
        fact = {name: row.get(name) for name in portrait_pipeline.FACT_FIELDS}
        fact["consumer_key"] = str(row["user_id"])
        fact["consumer_id"] = row["user_id"]
        out.append(fact)
    return pa.Table.from_pylist(out, schema=portrait_pipeline.FACT_ARROW_SCHEMA)


async def _stored_keywords(
    session: AsyncSession, user_ids: set[int] | None = None
) -> dict[int, dict[str, int]]:
    query = select(PortraitKeyword.user_id, PortraitKeyword.word, PortraitKeyword.count)
    if user_ids is not None:
        query = query.where(PortraitKeyword.user_id.in_(user_ids))
    found: dict[int, dict[str, int]] = {}
    for user_id, word, count in (await session.execute(query)).all():
        found.setdefault(user_id, {})[word] = count
    return found


async def _add_facts(
    session: AsyncSession, facts: pa.Table, keywords: dict[str, dict[str, int]]
) -> set[int]:
    """Store the facts and keyword counts of livecart consumers whose account is active."""
    ids = {r for r in facts.column("consumer_id").to_pylist() if r is not None}
    active = await accounts.active_user_ids(session, ids)
    rows = []
    for fact in facts.to_pylist():
        user_id = fact["consumer_id"]
        if user_id not in active:
            continue
        row = {name: fact[name] for name in portrait_pipeline.FACT_FIELDS[3:]}
        row["user_id"] = user_id
        rows.append(row)
    # render_nulls: the ORM otherwise leaves None out of each row's INSERT and groups rows by
    # which columns are None, one statement per run of equal groups (28,000 statements for
    # the demo's 40,000 facts, 20 s); with it, one executemany per batch.
    stmt = insert(PortraitFact).execution_options(render_nulls=True)
    for start in range(0, len(rows), FACT_INSERT_BATCH):
        await session.execute(stmt, rows[start : start + FACT_INSERT_BATCH])
    new_counts = {
        int(key): counts for key, counts in keywords.items() if key.isdigit() and int(key) in active
    }
    if new_counts:
        old = await _stored_keywords(session, set(new_counts))
        await session.execute(
            delete(PortraitKeyword).where(PortraitKeyword.user_id.in_(set(new_counts)))
        )
        merged = merge_counts(
            {str(k): v for k, v in old.items()}, {str(k): v for k, v in new_counts.items()}
        )
        await session.execute(
            insert(PortraitKeyword),
            [
                {"user_id": int(key), "word": word, "count": count}
                for key, counts in merged.items()
                for word, count in counts.items()
                if len(word) <= MAX_WORD
            ],
        )
    return active


def _customer_base(facts: pa.Table, as_of: date) -> dict[int, tuple[float, float, int | None]]:
    """P(alive), expected purchases in 30 days and their value (minor units) per buyer.

    BG/NBD and Gamma-Gamma (insights/clv.py) over order days, as for CDNOW: x = order days
    after the first, t_x and T in weeks from the first order day to the last one and to the
    as-of day; spend per order day for Gamma-Gamma. A BG/NBD that is not identified because
    nobody seems to leave falls back to the NBD (P(alive) = 1). Too few buyers, or no fit:
    no scores.
    """
    days: dict[int, dict[date, int]] = {}
    for fact in facts.to_pylist():
        if fact["event_type"] == "order" and fact["consumer_id"] is not None:
            per_day = days.setdefault(fact["consumer_id"], {})
            per_day[fact["day"]] = per_day.get(fact["day"], 0) + (fact["amount"] or 0)
    buyers = [
        (user, spend) for user, spend in sorted(days.items()) if (as_of - min(spend)).days > 0
    ]
    if len(buyers) < MIN_BUYERS_FOR_CLV:
        return {}
    users = [user for user, _ in buyers]
    x = np.array([len(spend) - 1 for _, spend in buyers], dtype=np.float64)
    tx = np.array([(max(s) - min(s)).days / DAYS_PER_WEEK for _, s in buyers])
    t_obs = np.array([(as_of - min(s)).days / DAYS_PER_WEEK for _, s in buyers])
    mean_spend = np.array([sum(s.values()) / len(s) for _, s in buyers], dtype=np.float64)
    try:
        model = clv.fit_bgnbd(x, tx, t_obs)
        alive = clv.p_alive(model, x, tx, t_obs)
        expected = clv.expected_purchases(model, CLV_HORIZON_WEEKS, x, tx, t_obs)
    except FitFailed:
        # The log shows no sign of anyone leaving (a short history, such as the demo's 60
        # days): the BG/NBD's limit without dropout, the NBD, in which everyone is alive.
        try:
            nbd = clv.fit_nbd(x, t_obs)
        except (FitFailed, ValueError, FloatingPointError):
            return {}
        alive = np.ones_like(x)
        expected = clv.nbd_expected_purchases(nbd, CLV_HORIZON_WEEKS, x, t_obs)
    except (ValueError, FloatingPointError):
        return {}
    spend: Array | None = None
    repeat = (x >= 1) & (mean_spend > 0)
    if int(repeat.sum()) >= MIN_BUYERS_FOR_CLV:
        try:
            gg = clv.fit_gamma_gamma(x[repeat], mean_spend[repeat])
            spend = clv.expected_average_spend(gg, x, mean_spend)
        except (FitFailed, ValueError, FloatingPointError):
            spend = None
    out: dict[int, tuple[float, float, int | None]] = {}
    for i, user in enumerate(users):
        value = None if spend is None else round(float(expected[i] * spend[i]))
        out[user] = (float(alive[i]), float(expected[i]), value)
    return out


def _catalogue_rows(cards: dict[int, Any]) -> list[dict[str, Any]]:
    return [
        {
            "product_key": str(product_id),
            "category": card.category,
            "brand": card.brand.name,
            "price_band": portrait_pipeline.price_band(card.price_min),
        }
        for product_id, card in sorted(cards.items())
    ]


async def catalogue_for(session: AsyncSession, facts: pa.Table) -> pa.Table:
    """Category, brand and price band of the livecart products the facts name."""
    from livecart.catalog import service as catalog

    keys = {k for k in facts.column("product_key").to_pylist() if k is not None and k.isdigit()}
    cards = await catalog.product_cards(session, {int(k) for k in keys})
    return portrait_pipeline.catalogue_table(_catalogue_rows(cards))


async def store_portraits(
    session: AsyncSession,
    *,
    root: Path,
    engine: portrait_pipeline.Engine,
    now: datetime,
    spark: SparkSession | None = None,
    step: portrait_pipeline.Step = portrait_pipeline._quiet,
) -> PortraitStoreReport:
    """Fold the log files not processed yet into the stored facts, then recompute and store
    every portrait, affinity and fan level (no commit). With no new file nothing changes
    but the run's record."""
    started = time.perf_counter()
    done = await _processed_files(session)
    files, relaid = _unread_files(root, done)
    if files is None:
        # A compacted day holds events read before and events not read yet: they cannot be
        # told apart, so the facts are rebuilt from every file.
        step("a compacted day mixes files read and not read: reading the whole log again")
        await session.execute(delete(PortraitFact))
        await session.execute(delete(PortraitKeyword))
        await session.execute(delete(PortraitLogFile))
        files, relaid = _unread_files(root, set())
        assert files is not None
    days = sorted({_day_of(p.relative_to(root)) for p in files})
    run = PortraitRun(
        engine=engine.value,
        first_day=days[0] if days else None,
        last_day=days[-1] if days else None,
        events=0,
        consumers=0,
        started_at=now,
    )
    session.add(run)
    await session.flush()
    # The same events in a new layout (a compacted day read before): recorded as read.
    session.add_all(
        PortraitLogFile(
            name=p.relative_to(root).as_posix(), day=_day_of(p.relative_to(root)), run_id=run.id,
            events=0,
        )
        for p in relaid
    )  # fmt: skip
    as_of: date | None = None
    if files:
        step(f"compacting {len(files)} new log file(s) on {engine.value}")
        facts, keywords = await asyncio.to_thread(
            portrait_pipeline.facts_of_files, engine, files, session=spark
        )
        await _add_facts(session, facts, keywords)
        counts = [pq.ParquetFile(p).metadata.num_rows for p in files]
        session.add_all(
            PortraitLogFile(
                name=p.relative_to(root).as_posix(),
                day=_day_of(p.relative_to(root)),
                run_id=run.id,
                events=n,
            )
            for p, n in zip(files, counts, strict=True)
        )
        run.events = sum(counts)
        step("recomputing portraits from the stored facts")
        as_of = await _recompute(session, engine=engine, now=now, spark=spark)
    run.consumers = int(
        await session.scalar(select(func.count()).select_from(ConsumerPortrait)) or 0
    )
    run.finished_at = now
    await session.flush()
    return PortraitStoreReport(
        run_id=run.id,
        engine=engine.value,
        new_files=len(files),
        first_day=run.first_day,
        last_day=run.last_day,
        events=run.events,
        consumers=run.consumers,
        as_of=as_of,
        seconds=time.perf_counter() - started,
    )


async def _recompute(
    session: AsyncSession,
    *,
    engine: portrait_pipeline.Engine,
    now: datetime,
    spark: SparkSession | None,
) -> date | None:
    facts = await _stored_facts(session)
    await session.execute(delete(ConsumerPortrait))
    await session.execute(delete(ConsumerAffinity))
    await session.execute(delete(FanLevel))
    if facts.num_rows == 0:
        return None
    as_of: date = max(facts.column("day").to_pylist())
    catalogue = await catalogue_for(session, facts)
    table, fans, affinity = await asyncio.to_thread(
        portrait_pipeline.portraits_of_facts,
        engine,
        facts,
        as_of=as_of,
        catalogue=catalogue,
        session=spark,
    )
    words = {str(k): v for k, v in (await _stored_keywords(session)).items()}
    scores = _customer_base(facts, as_of)
    finished = portrait_pipeline.finish(
        table,
        fans=fans,
        affinity=affinity,
        keywords=words,
        p_alive={str(user): s[0] for user, s in scores.items()},
    )
    portraits = []
    for row in finished.to_pylist():
        user_id = int(row["consumer_id"])
        alive, expected, value = scores.get(user_id, (None, None, None))
        portraits.append(
            {
                "user_id": user_id,
                "computed_at": now,
                "watch_seconds": row["watch_seconds"],
                "sessions_watched": row["sessions_watched"],
                "avg_stay_seconds": row["average_stay_seconds"],
                "active_hours": row["active_hours"],
                "messages": row["messages"],
                "likes": row["likes"],
                "questions": row["questions"],
                "interactions_per_hour": row["interactions_per_hour"],
                "top_keywords": [
                    {"word": w, "count": c}
                    for w, c in top_keywords(words.get(row["consumer_key"], {}))
                ],
                "products_viewed": row["products_viewed"],
                "categories_viewed": row["categories_viewed"],
                "carts": row["carts"],
                "orders": row["orders"],
                "spend_minor": row["spend"],
                "currency": row["currency"],
                "return_rate": row["return_rate"],
                "recency_days": row["recency_days"],
                "rfm_r": row["r_score"],
                "rfm_f": row["f_score"],
                "rfm_m": row["m_score"],
                "p_alive": alive,
                "expected_purchases_30d": expected,
                "expected_value_minor": value,
                "tags": row["tags"],
            }
        )
    if portraits:
        await session.execute(
            insert(ConsumerPortrait).execution_options(render_nulls=True), portraits
        )
    affinity_rows = [
        {
            "user_id": r["consumer_id"],
            "kind": r["kind"],
            "key": r["key"][:120],
            "score": min(1.0, r["score"]),
        }
        for r in affinity.to_pylist()
        if r["consumer_id"] is not None
    ]
    if affinity_rows:
        await session.execute(insert(ConsumerAffinity), affinity_rows)
    fan_rows = [
        {
            "user_id": r["consumer_id"],
            "anchor_id": r["anchor_id"],
            "score": r["score"],
            "level": r["level"],
        }
        for r in fans.to_pylist()
        if r["consumer_id"] is not None
    ]
    if fan_rows:
        await session.execute(insert(FanLevel), fan_rows)
    return as_of


def _portrait_out(
    row: ConsumerPortrait, affinities: list[ConsumerAffinity], fans: list[FanLevel]
) -> PortraitOut:
    return PortraitOut(
        user_id=row.user_id,
        computed_at=row.computed_at,
        watch_seconds=row.watch_seconds,
        sessions_watched=row.sessions_watched,
        avg_stay_seconds=row.avg_stay_seconds,
        active_hours=list(row.active_hours),
        messages=row.messages,
        likes=row.likes,
        questions=row.questions,
        interactions_per_hour=row.interactions_per_hour,
        top_keywords=[KeywordOut(word=k["word"], count=k["count"]) for k in row.top_keywords],
        products_viewed=row.products_viewed,
        categories_viewed=row.categories_viewed,
        carts=row.carts,
        orders=row.orders,
        spend_minor=row.spend_minor,
        currency=row.currency,
        return_rate=row.return_rate,
        recency_days=row.recency_days,
        rfm_r=row.rfm_r,
        rfm_f=row.rfm_f,
        rfm_m=row.rfm_m,
        p_alive=row.p_alive,
        expected_purchases_30d=row.expected_purchases_30d,
        expected_value_minor=row.expected_value_minor,
        tags=list(row.tags),
        affinities=[
            AffinityOut(kind=a.kind, key=a.key, score=a.score)
            for a in sorted(affinities, key=lambda a: (a.kind, -a.score, a.key))
        ],
        fan_levels=[
            FanLevelOut(anchor_id=f.anchor_id, score=f.score, level=f.level)
            for f in sorted(fans, key=lambda f: (-f.score, f.anchor_id))
        ],
    )


async def _portraits_out(session: AsyncSession, rows: list[ConsumerPortrait]) -> list[PortraitOut]:
    ids = [r.user_id for r in rows]
    if not ids:
        return []
    affinities: dict[int, list[ConsumerAffinity]] = {}
    for a in await session.scalars(
        select(ConsumerAffinity).where(ConsumerAffinity.user_id.in_(ids))
    ):
        affinities.setdefault(a.user_id, []).append(a)
    fans: dict[int, list[FanLevel]] = {}
    for f in await session.scalars(select(FanLevel).where(FanLevel.user_id.in_(ids))):
        fans.setdefault(f.user_id, []).append(f)
    return [_portrait_out(r, affinities.get(r.user_id, []), fans.get(r.user_id, [])) for r in rows]


async def get_portrait(session: AsyncSession, *, user_id: int) -> PortraitOut:
    """A consumer's stored portrait, or portrait_not_found."""
    row = await session.get(ConsumerPortrait, user_id)
    if row is None:
        raise PortraitNotFound("no portrait for this consumer yet", details={"user_id": user_id})
    return (await _portraits_out(session, [row]))[0]


async def list_portraits(
    session: AsyncSession, *, tag: str | None = None, limit: int = 50
) -> list[PortraitOut]:
    """Stored portraits, biggest spenders first; with a tag, only those carrying it."""
    query = select(ConsumerPortrait).order_by(
        ConsumerPortrait.spend_minor.desc(), ConsumerPortrait.user_id
    )
    if tag is None:
        rows = list(await session.scalars(query.limit(limit)))
    else:
        # Tags are a JSON list: filtered here, the same on SQLite and PostgreSQL.
        rows = [r for r in await session.scalars(query) if tag in r.tags][:limit]
    return await _portraits_out(session, rows)


async def portrait_for_personalisation(
    session: AsyncSession, *, user_id: int
) -> PortraitOut | None:
    """The portrait to rank or target with, or None when the consumer switched
    personalisation off (or has no portrait): callers must then not personalise."""
    if not await accounts.personalisation_allowed(session, user_id):
        return None
    row = await session.get(ConsumerPortrait, user_id)
    if row is None:
        return None
    return (await _portraits_out(session, [row]))[0]
