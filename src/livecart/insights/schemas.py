"""Output shapes of the customer-base reports (`livecart insights clv ... --json`)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


class LineProblemOut(BaseModel):
    line: int
    message: str


class InputReport(BaseModel):
    """What reading the transactions file did: lines, lines left out and why, bad lines."""

    file: str
    layout: str
    data_lines: int
    customers: int
    excluded: dict[str, int]
    bad_lines: int
    first_bad_lines: list[LineProblemOut]


class ScoreReport(BaseModel):
    """`clv score`: the fitted models and where the per-customer scores were written."""

    out: str
    customers: int
    new_after_calibration: int
    calibration_end: date
    horizon_days: int
    bgnbd: dict[str, float]
    gamma_gamma: dict[str, float | int]
    expected_purchases_total: float
    expected_value_total: float
    input: InputReport


class TrackingWeek(BaseModel):
    """Cumulative repeat purchases of the cohort up to the end of one week."""

    week: int
    ends: date
    actual_cumulative: int
    model_cumulative: float
    holdout_forecast_cumulative: float | None


class HoldoutReport(BaseModel):
    """`clv holdout`: calibrate, forecast the holdout, compare with what happened."""

    customers: int
    calibration_end: date
    horizon_days: int
    bgnbd: dict[str, float]
    auc_buys_again: float
    buyers_in_holdout: int
    forecast_repeat_purchases: float
    actual_repeat_purchases: int
    calibration_repeat_purchases: int
    tracking: list[TrackingWeek]
    chart: str | None
    input: InputReport


class BadLineOut(BaseModel):
    line: int
    reason: str


class ImportReport(BaseModel):
    """`livecart import FORMAT FILE`: what was read, imported, left out, and where it went."""

    format: str
    file: str
    sha256: str
    lines: int
    imported: int
    bad: list[BadLineOut]
    by_type: dict[str, int]
    skipped: dict[str, int]
    without_customer: int
    log: str
    written: list[str]


class AffinityOut(BaseModel):
    kind: str  # category | brand | price_band
    key: str
    score: float  # the consumer's share of weighted interest in this key, 0..1


class FanLevelOut(BaseModel):
    anchor_id: int
    score: int
    level: int


class KeywordOut(BaseModel):
    word: str
    count: int


class PortraitOut(BaseModel):
    """A stored consumer portrait (`consumer_portraits` with its affinities and fan levels)."""

    user_id: int
    computed_at: datetime
    watch_seconds: float
    sessions_watched: int
    avg_stay_seconds: float | None
    active_hours: list[int]
    messages: int
    likes: int
    questions: int
    interactions_per_hour: float | None
    top_keywords: list[KeywordOut]
    products_viewed: int
    categories_viewed: int
    carts: int
    orders: int
    spend_minor: int
    currency: str | None
    return_rate: float | None
    recency_days: int | None
    rfm_r: int | None
    rfm_f: int | None
    rfm_m: int | None
    p_alive: float | None
    expected_purchases_30d: float | None
    expected_value_minor: int | None
    tags: list[str]
    affinities: list[AffinityOut]
    fan_levels: list[FanLevelOut]


class PortraitStoreReport(BaseModel):
    """`livecart insights portraits --store`: what an incremental run did."""

    run_id: int
    engine: str
    new_files: int
    first_day: date | None
    last_day: date | None
    events: int
    consumers: int
    as_of: date | None
    seconds: float
