"""Output shapes of the customer-base reports (`livecart insights clv ... --json`)."""

from __future__ import annotations

from datetime import date

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
