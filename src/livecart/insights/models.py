"""Tables of stored consumer portraits, their affinities and fan levels, and portrait runs.

Written by `insights.service.store_portraits` from the portrait pipeline
(`insights/portraits.py`); one row per livecart consumer (`users.id`). Outside people from
imported logs (`anonymous_id` only) are portrayed in the Parquet output but not stored here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from livecart.core.db import Base


class ConsumerPortrait(Base):
    """One consumer's portrait as of the last portrait run (see docs/insights.md)."""

    __tablename__ = "consumer_portraits"
    __table_args__ = (
        CheckConstraint("rfm_r BETWEEN 1 AND 5", name="rfm_r_range"),
        CheckConstraint("rfm_f BETWEEN 1 AND 5", name="rfm_f_range"),
        CheckConstraint("rfm_m BETWEEN 1 AND 5", name="rfm_m_range"),
    )

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    computed_at: Mapped[datetime]
    watch_seconds: Mapped[float]
    sessions_watched: Mapped[int]
    avg_stay_seconds: Mapped[float | None]
    active_hours: Mapped[list[int]] = mapped_column(JSON)  # 24 event counts, UTC hours 0-23
    messages: Mapped[int]
    likes: Mapped[int]
    questions: Mapped[int]
    interactions_per_hour: Mapped[float | None]
    top_keywords: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{"word", "count"}]
    products_viewed: Mapped[int]
    categories_viewed: Mapped[int]
    carts: Mapped[int]
    orders: Mapped[int]
    spend_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    return_rate: Mapped[float | None]
    recency_days: Mapped[int | None]
    rfm_r: Mapped[int | None]
    rfm_f: Mapped[int | None]
    rfm_m: Mapped[int | None]
    p_alive: Mapped[float | None]
    expected_purchases_30d: Mapped[float | None]
    expected_value_minor: Mapped[int | None] = mapped_column(BigInteger)
    tags: Mapped[list[str]] = mapped_column(JSON)


class ConsumerAffinity(Base):
    """How much a consumer leans to a category, brand or price band (0..1, 1 = their top)."""

    __tablename__ = "consumer_affinities"
    __table_args__ = (
        CheckConstraint("kind IN ('category', 'brand', 'price_band')", name="kind_known"),
        CheckConstraint("score >= 0 AND score <= 1", name="score_range"),
        Index("ix_consumer_affinities_kind_key", "kind", "key"),
    )

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    score: Mapped[float]


class FanLevel(Base):
    """A consumer's fan score and level (1..N) with one anchor."""

    __tablename__ = "fan_levels"
    __table_args__ = (
        CheckConstraint("level >= 1", name="level_positive"),
        Index("ix_fan_levels_anchor", "anchor_id"),
    )

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    anchor_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    score: Mapped[int] = mapped_column(BigInteger)
    level: Mapped[int]


class PortraitRun(Base):
    """One stored portrait run: which days of the event log it processed, on which engine."""

    __tablename__ = "portrait_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    engine: Mapped[str] = mapped_column(String(20))
    first_day: Mapped[date | None]  # the first new day processed (null: no new day)
    last_day: Mapped[date | None]
    events: Mapped[int] = mapped_column(BigInteger)  # events read from the new days
    consumers: Mapped[int]  # portraits stored after the run
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class PortraitLogFile(Base):
    """A file of the behaviour-event log a stored run has folded into `portrait_facts`.

    Log files are written once (hidden, then renamed), so a file processed is done; a later
    run reads only files not listed here (new days, or late files of a day already seen).
    """

    __tablename__ = "portrait_log_files"

    name: Mapped[str] = mapped_column(String(400), primary_key=True)  # relative to the log
    day: Mapped[date]
    run_id: Mapped[int] = mapped_column(ForeignKey("portrait_runs.id", ondelete="CASCADE"))
    events: Mapped[int] = mapped_column(BigInteger)


class PortraitFact(Base):
    """The stored state of incremental runs: a consumer's events of one log file, compacted.

    One row per group of equal (day, hour, event type, session, anchor, product, category,
    order, question flag, currency) with the counts and sums the portrait needs; the portrait
    is computed from all facts, so adding a file gives what a full recompute gives.
    """

    __tablename__ = "portrait_facts"
    __table_args__ = (Index("ix_portrait_facts_user", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date]
    hour: Mapped[int]
    event_type: Mapped[str] = mapped_column(String(40))
    session_id: Mapped[int | None] = mapped_column(BigInteger)
    anchor_id: Mapped[int | None] = mapped_column(BigInteger)
    product_key: Mapped[str | None] = mapped_column(String(120))
    category_key: Mapped[str | None] = mapped_column(String(120))
    order_ref: Mapped[str | None] = mapped_column(String(64))  # order id, or the event id
    is_question: Mapped[bool]
    currency: Mapped[str | None] = mapped_column(String(3))
    events: Mapped[int] = mapped_column(BigInteger)
    watch_seconds: Mapped[float | None]  # null: no event of the group had a watch time
    watch_whole_seconds: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int | None] = mapped_column(BigInteger)  # null: no event had an amount
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]


class PortraitKeyword(Base):
    """How often a word appears in a consumer's chat (the state behind `top_keywords`)."""

    __tablename__ = "portrait_keywords"
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    word: Mapped[str] = mapped_column(String(60), primary_key=True)
    count: Mapped[int]
