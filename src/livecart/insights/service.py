"""Customer-base reports: fit from a summary, score customers, and the holdout check.

Plain functions over files and arrays; the CLI owns printing, progress and the chart.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Identity, PersonalRows
from livecart.insights import reports
from livecart.insights.models import (
    ConsumerAffinity,
    ConsumerPortrait,
    FanLevel,
    PortraitFact,
    PortraitKeyword,
)
from livecart.insights.schemas import (
    HoldoutReport,
    InputReport,
    LineProblemOut,
    PortraitOut,
    TrackingWeek,
)

# numpy, SciPy and pyarrow (the models, the transaction readers, the portrait store) are
# imported by the functions that use them: the app imports this module (privacy, the API,
# the dashboards) and must start without them.
if TYPE_CHECKING:
    from livecart.insights.clv import Array, BgNbd, GammaGamma
    from livecart.insights.transactions import (
        CalibrationSummary,
        Layout,
        LineProblem,
        Progress,
        SummaryFile,
        TransactionLog,
    )

SCORE_COLUMNS = ("customer_id", "p_alive", "expected_purchases", "expected_value")


@dataclass(frozen=True)
class Scores:
    """Per calibration customer: P(alive), expected purchases and value over the horizon."""

    customer_ids: list[str]
    p_alive: Array
    expected_purchases: Array
    expected_value: Array
    bgnbd: BgNbd
    gamma_gamma: GammaGamma


def _shown(problems: list[LineProblem]) -> list[LineProblemOut]:
    from livecart.insights.transactions import SHOWN_PROBLEMS

    return [LineProblemOut(line=p.line, message=p.message) for p in problems[:SHOWN_PROBLEMS]]


def fit_summary_file(path: Path, *, skip_bad_lines: bool = False) -> tuple[BgNbd, SummaryFile]:
    """Fit BG/NBD to an `ID,frequency,recency,T` file; bad lines fail unless skipped."""
    from livecart.insights import clv
    from livecart.insights.transactions import problems_error, read_summary

    summary = read_summary(path)
    if summary.problems and not skip_bad_lines:
        raise problems_error(path, summary.problems)
    return clv.fit_bgnbd(summary.frequency, summary.recency, summary.age), summary


def read_log(
    path: Path, *, layout: Layout, skip_bad_lines: bool = False, progress: Progress | None = None
) -> tuple[TransactionLog, InputReport]:
    """Read a transactions file; bad lines fail unless skipped (then they are reported)."""
    from livecart.insights.transactions import problems_error, read_transactions

    log = read_transactions(path, layout=layout, progress=progress)
    if log.problems and not skip_bad_lines:
        raise problems_error(path, log.problems)
    report = InputReport(
        file=str(path),
        layout=layout,
        data_lines=log.data_lines,
        customers=len(log.purchases),
        excluded=dict(sorted(log.excluded.items())),
        bad_lines=len(log.problems),
        first_bad_lines=_shown(log.problems),
    )
    return log, report


def score_customers(summary: CalibrationSummary, *, horizon_days: int) -> Scores:
    """Fit BG/NBD and Gamma-Gamma on the calibration summary and score every customer."""
    from livecart.insights import clv
    from livecart.insights.transactions import DAYS_PER_WEEK

    x, tx, age = summary.frequency, summary.recency, summary.age
    bgnbd = clv.fit_bgnbd(x, tx, age)
    spend = clv.fit_gamma_gamma(x, summary.mean_spend)
    purchases = clv.expected_purchases(bgnbd, horizon_days / DAYS_PER_WEEK, x, tx, age)
    average = clv.expected_average_spend(spend, x, summary.mean_spend)
    return Scores(
        customer_ids=summary.customer_ids,
        p_alive=clv.p_alive(bgnbd, x, tx, age),
        expected_purchases=purchases,
        expected_value=purchases * average,
        bgnbd=bgnbd,
        gamma_gamma=spend,
    )


def write_scores(scores: Scores, out: Path) -> None:
    """Write `customer_id,p_alive,expected_purchases,expected_value`, one row per customer."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SCORE_COLUMNS)
        for customer, alive, purchases, value in zip(
            scores.customer_ids,
            scores.p_alive,
            scores.expected_purchases,
            scores.expected_value,
            strict=True,
        ):
            writer.writerow([customer, f"{alive:.6f}", f"{purchases:.6f}", f"{value:.2f}"])


def _tracking(
    log: TransactionLog,
    summary: CalibrationSummary,
    bgnbd: BgNbd,
    horizon_days: int,
) -> list[TrackingWeek]:
    """Weekly cumulative repeat purchases: actual, the model from each first purchase on,
    and (after calibration) the forecast conditional on each customer's calibration history."""
    import numpy as np

    from livecart.insights import clv
    from livecart.insights.transactions import DAYS_PER_WEEK, repeat_days_since

    start = min(summary.first_day)
    last = (summary.calibration_end - start).days + horizon_days  # offset of the last day
    calibration_last = (summary.calibration_end - start).days
    offsets = np.array(
        [d for d in repeat_days_since(log, summary, start) if d <= last], dtype=np.int64
    )
    offsets.sort()
    cohort_days, cohort_sizes = np.unique(
        np.array([(d - start).days for d in summary.first_day], dtype=np.int64),
        return_counts=True,
    )
    actual_at_calibration_end = int(np.searchsorted(offsets, calibration_last, side="right"))
    x, tx, age = summary.frequency, summary.recency, summary.age
    weeks: list[TrackingWeek] = []
    for week in range(1, math.ceil((last + 1) / 7) + 1):
        day = min(7 * week - 1, last)
        elapsed = np.clip(day - cohort_days, 0, None) / DAYS_PER_WEEK
        model = float(np.dot(cohort_sizes, clv.expected_repeat_purchases(bgnbd, elapsed)))
        forecast: float | None = None
        if day > calibration_last:
            ahead = (day - calibration_last) / DAYS_PER_WEEK
            forecast = actual_at_calibration_end + float(
                clv.expected_purchases(bgnbd, ahead, x, tx, age).sum()
            )
        weeks.append(
            TrackingWeek(
                week=week,
                ends=start + timedelta(days=day),
                actual_cumulative=int(np.searchsorted(offsets, day, side="right")),
                model_cumulative=model,
                holdout_forecast_cumulative=forecast,
            )
        )
    return weeks


def holdout_report(
    log: TransactionLog,
    summary: CalibrationSummary,
    *,
    horizon_days: int,
    input_report: InputReport,
    chart: Path | None = None,
) -> HoldoutReport:
    """Calibrate BG/NBD, forecast the next horizon_days, and compare with the actual purchases."""
    import numpy as np

    from livecart.insights import clv
    from livecart.insights.transactions import DAYS_PER_WEEK, holdout_days

    x, tx, age = summary.frequency, summary.recency, summary.age
    bgnbd = clv.fit_bgnbd(x, tx, age)
    forecast = clv.expected_purchases(bgnbd, horizon_days / DAYS_PER_WEEK, x, tx, age)
    actual = holdout_days(log, summary, horizon_days)
    counts = np.array([len(days) for days in actual], dtype=np.int64)
    return HoldoutReport(
        customers=len(summary.customer_ids),
        calibration_end=summary.calibration_end,
        horizon_days=horizon_days,
        bgnbd=bgnbd.to_dict(),
        auc_buys_again=clv.rank_auc(forecast, counts > 0),
        buyers_in_holdout=int((counts > 0).sum()),
        forecast_repeat_purchases=float(forecast.sum()),
        actual_repeat_purchases=int(counts.sum()),
        calibration_repeat_purchases=int(x.sum()),
        tracking=_tracking(log, summary, bgnbd, horizon_days),
        chart=str(chart) if chart is not None else None,
        input=input_report,
    )


PERSONAL_TABLES = (ConsumerPortrait, ConsumerAffinity, FanLevel, PortraitFact, PortraitKeyword)


async def personal_data(session: AsyncSession, user_id: int) -> PersonalRows:
    """A consumer's stored portrait, affinities, fan levels and portrait state (export)."""
    return await accounts.collect_rows(
        session,
        {
            model.__tablename__: select(model.__table__).where(model.user_id == user_id)
            for model in PERSONAL_TABLES
        },
    )


async def erase_personal_data(session: AsyncSession, user_id: int) -> None:
    """For a deleted account: every portrait row of the user is deleted. Idempotent."""
    for model in PERSONAL_TABLES:
        await session.execute(delete(model).where(model.user_id == user_id))


async def get_portrait(session: AsyncSession, *, user_id: int) -> PortraitOut:
    """A consumer's stored portrait, or portrait_not_found."""
    from livecart.insights import portrait_store

    return await portrait_store.get_portrait(session, user_id=user_id)


async def list_portraits(
    session: AsyncSession, *, tag: str | None = None, limit: int = 50
) -> list[PortraitOut]:
    """Stored portraits, biggest spenders first; with a tag, only those carrying it."""
    from livecart.insights import portrait_store

    return await portrait_store.list_portraits(session, tag=tag, limit=limit)


async def portrait_for_personalisation(
    session: AsyncSession, *, user_id: int
) -> PortraitOut | None:
    """The portrait to rank or target with, or None when the consumer switched
    personalisation off or has no portrait yet: callers must then not personalise."""
    from livecart.insights import portrait_store

    return await portrait_store.portrait_for_personalisation(session, user_id=user_id)


# ---------------------------------------------------------------- dashboard reports


async def funnel_report(
    session: AsyncSession,
    *,
    log_root: Path,
    actor: Identity | None,
    by: reports.FunnelBy,
    scope: reports.Scope,
) -> reports.FunnelReport:
    """The funnel per session, anchor or brand, for a caller allowed to see the scope."""
    reports.check_scope(actor, scope)
    return await reports.funnel(session, log_root=log_root, by=by, scope=scope)


async def gmv_report(
    session: AsyncSession, *, log_root: Path, actor: Identity | None, scope: reports.Scope
) -> reports.GmvReport:
    """GMV per day for a caller allowed to see the scope."""
    reports.check_scope(actor, scope)
    return await reports.gmv(session, log_root=log_root, scope=scope)
