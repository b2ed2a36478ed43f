"""Risk scores of brands, products and anchors: each signal's share of the score.

score = sum over signals of weight x min(value / saturation, 1), so the score runs 0..100 and
each contribution says how much of it one signal is. Weights and saturations are in `SIGNALS`
(documented in docs/supervision.md, "Risk scores"). Levels: below 25 low, 25-50 watch, 50-75
review (queued for an operator), 75 and up act (the platform warns the subject itself).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.core.clock import Clock
from livecart.core.db import UnitOfWork, hold_lock_until_commit
from livecart.supervision import risk_signals
from livecart.supervision.models import (
    BotFinding,
    ComplianceHit,
    ConsumerReport,
    OverturnAlert,
    Sanction,
)
from livecart.supervision.risk_schemas import (
    ComplianceHitOut,
    RiskContribution,
    RiskLevel,
    RiskScoreOut,
    RiskSubject,
    SanctionKind,
    SubjectKind,
)
from livecart.supervision.sanctions import warn_automatically


@dataclass(frozen=True)
class Signal:
    name: str
    weight: float
    saturation: float  # the value at which the signal gives its whole weight
    detail: str


SIGNALS: tuple[Signal, ...] = (
    Signal("return_rate", 20, 0.30, "share of paid orders returned (90 days)"),
    Signal("complaint_rate", 15, 0.10, "share of paid orders with a fault complaint (90 days)"),
    Signal("reports", 20, 5, "consumer reports not dismissed (actioned ones count twice)"),
    Signal("overturn_alerts", 10, 3, "overturn alerts in the anchor's sessions (90 days)"),
    Signal("warnings", 15, 3, "sanctions of any kind against the subject (90 days)"),
    Signal(
        "compliance_hits",
        8,
        10,
        "compliance rule hits (90 days): refused host chat, scripts and product texts (each "
        "blocking rule once), and warn hits of accepted product texts, anchor scripts and "
        "hosts' chat (once per subject, field, rule and words)",
    ),
    Signal(
        "price_truth",
        7,
        3,
        "refused price claims (90 days): 'original price' above the 7-day lowest, flash-sale "
        "price not below the 30-day lowest",
    ),
    Signal(
        "bot_activity",
        5,
        20,
        "bot-like accounts in the anchor's sessions (90 days), per session and detector: 300+ "
        "likes within 60 s; 5+ new silent viewers joining within 1 s; the same watch time "
        "(within 1 s) in 3+ of the anchor's sessions",
    ),
)
WEIGHTS_TOTAL = sum(signal.weight for signal in SIGNALS)  # 100
REVIEW_AT = 50.0
ACT_AT = 75.0
WINDOW = timedelta(days=90)


def level_of(score: float) -> RiskLevel:
    """low < 25 <= watch < 50 <= review < 75 <= act."""
    if score >= ACT_AT:
        return "act"
    if score >= REVIEW_AT:
        return "review"
    return "watch" if score >= 25 else "low"


def _pairs(result: Iterable[tuple[Any, Any]]) -> dict[int, int]:
    """(key, count) rows as a dict (`dict(result)` would take the result for a mapping)."""
    return {int(key): int(value) for key, value in result if key is not None}


async def _values(
    session: AsyncSession,
    *,
    subject_kind: RiskSubject,
    subject_ids: Collection[int],
    since: datetime,
) -> dict[int, dict[str, float]]:
    """Every signal's value for each of these subjects: one grouped query per signal, so
    scoring every signalled subject costs the same few queries as scoring one."""
    # commerce and live import this domain's service: import them at call time.
    from livecart.commerce import service as commerce
    from livecart.live import service as live

    ids = set(subject_ids)
    rates = {
        row.key: row
        for row in await commerce.after_sales_rates(session, group_by=subject_kind, since=since)
    }
    column = {
        "brand": ConsumerReport.brand_id,
        "product": ConsumerReport.product_id,
        "anchor": ConsumerReport.anchor_id,
    }[subject_kind]
    reports = _pairs(
        await session.execute(
            select(column, func.sum(case((ConsumerReport.status == "actioned", 2), else_=1)))
            .where(column.in_(ids), ConsumerReport.status != "dismissed")
            .group_by(column)
        )
    )
    alerts: Counter[int] = Counter()
    bots: dict[int, int] = {}
    if subject_kind == "anchor":
        per_session = _pairs(
            await session.execute(
                select(OverturnAlert.session_id, func.count())
                .where(OverturnAlert.at >= since)
                .group_by(OverturnAlert.session_id)
            )
        )
        # Each alert counts for the anchor of its session (the live domain knows which).
        for session_id, anchor_id in (await live.session_anchors(session, per_session)).items():
            alerts[anchor_id] += per_session[session_id]
        bots = await risk_signals.bot_accounts_by_anchor(session, anchor_ids=ids, since=since)
    hits = await risk_signals.hits_by_subject(
        session, subject_kind=subject_kind, subject_ids=ids, since=since, price=False
    )
    price = await risk_signals.hits_by_subject(
        session, subject_kind=subject_kind, subject_ids=ids, since=since, price=True
    )
    sanctions = _pairs(
        await session.execute(
            select(Sanction.subject_id, func.count())
            .where(
                Sanction.subject_kind == subject_kind,
                Sanction.subject_id.in_(ids),
                Sanction.created_at >= since,
            )
            .group_by(Sanction.subject_id)
        )
    )
    values = {}
    for subject_id in ids:
        rate = rates.get(subject_id)
        values[subject_id] = {
            "return_rate": rate.return_rate if rate else 0.0,
            "complaint_rate": rate.complaint_rate if rate else 0.0,
            "reports": float(reports.get(subject_id, 0)),
            "overturn_alerts": float(alerts[subject_id]),
            "warnings": float(sanctions.get(subject_id, 0)),
            "compliance_hits": float(hits.get(subject_id, 0)),
            "price_truth": float(price.get(subject_id, 0)),
            "bot_activity": float(bots.get(subject_id, 0)),
        }
    return values


def _score_of(subject_kind: RiskSubject, subject_id: int, values: dict[str, float]) -> RiskScoreOut:
    contributions = [
        RiskContribution(
            signal=signal.name,
            value=values[signal.name],
            weight=signal.weight,
            contribution=round(
                signal.weight * min(values[signal.name] / signal.saturation, 1.0), 4
            ),
            detail=signal.detail,
        )
        for signal in SIGNALS
    ]
    score = round(sum(c.contribution for c in contributions), 4)
    return RiskScoreOut(
        subject_kind=subject_kind,
        subject_id=subject_id,
        score=score,
        level=level_of(score),
        contributions=contributions,
    )


async def risk_score(
    session: AsyncSession, *, subject_kind: RiskSubject, subject_id: int, now: datetime
) -> RiskScoreOut:
    """The subject's risk score and each signal's contribution (they add up to the score)."""
    values = await _values(
        session, subject_kind=subject_kind, subject_ids=[subject_id], since=now - WINDOW
    )
    return _score_of(subject_kind, subject_id, values[subject_id])


async def recent_compliance_hits(
    session: AsyncSession,
    *,
    subject_kind: RiskSubject,
    subject_ids: Collection[int],
    now: datetime,
    per_subject: int = 5,
) -> dict[int, list[ComplianceHitOut]]:
    """The newest kept hits behind these subjects' compliance_hits and price_truth signals
    (the score's window), at most per_subject each, newest first: what the operator reads
    next to the score."""
    return await risk_signals.recent_hits(
        session,
        subject_kind=subject_kind,
        subject_ids=subject_ids,
        since=now - WINDOW,
        per_subject=per_subject,
    )


async def _subjects(
    session: AsyncSession, *, subject_kind: RiskSubject, since: datetime
) -> set[int]:
    """Every brand, product or anchor that some signal names (the others score 0)."""
    from livecart.commerce import service as commerce
    from livecart.live import service as live

    found = {
        row.key
        for row in await commerce.after_sales_rates(session, group_by=subject_kind, since=since)
        if row.key is not None
    }
    report_column = {
        "brand": ConsumerReport.brand_id,
        "product": ConsumerReport.product_id,
        "anchor": ConsumerReport.anchor_id,
    }[subject_kind]
    hit_column = {
        "brand": ComplianceHit.brand_id,
        "product": ComplianceHit.product_id,
        "anchor": ComplianceHit.anchor_id,
    }[subject_kind]
    found.update(await session.scalars(select(report_column).where(report_column.is_not(None))))
    found.update(
        await session.scalars(
            select(hit_column).where(hit_column.is_not(None), ComplianceHit.at >= since)
        )
    )
    found.update(
        await session.scalars(
            select(Sanction.subject_id).where(
                Sanction.subject_kind == subject_kind, Sanction.created_at >= since
            )
        )
    )
    if subject_kind == "anchor":
        found.update(
            await session.scalars(select(BotFinding.anchor_id).where(BotFinding.seen_at >= since))
        )
        alerted = await session.scalars(
            select(OverturnAlert.session_id).where(OverturnAlert.at >= since)
        )
        found.update((await live.session_anchors(session, alerted)).values())
    return {int(subject) for subject in found if subject is not None}


async def risk_scores(
    session: AsyncSession, *, subject_kind: RiskSubject, now: datetime
) -> list[RiskScoreOut]:
    """The risk score of every brand, product or anchor some signal names, highest first."""
    since = now - WINDOW
    subjects = await _subjects(session, subject_kind=subject_kind, since=since)
    values = await _values(session, subject_kind=subject_kind, subject_ids=subjects, since=since)
    scores = [_score_of(subject_kind, subject_id, values[subject_id]) for subject_id in subjects]
    return sorted(scores, key=lambda score: (-score.score, score.subject_id))


async def apply_thresholds(
    session: AsyncSession, *, clock: Clock, score: RiskScoreOut
) -> str | None:
    """At `act` the platform warns the subject (once a week at most); audited as system."""
    if score.level != "act":
        return None
    since = clock.now() - timedelta(days=7)
    recent = await session.scalar(
        select(func.count()).where(
            Sanction.kind == SanctionKind.warn.value,
            Sanction.subject_kind == score.subject_kind,
            Sanction.subject_id == score.subject_id,
            Sanction.created_by.is_(None),
            Sanction.created_at >= since,
        )
    )
    if recent:
        return None
    top = max(score.contributions, key=lambda c: c.contribution)
    await warn_automatically(
        session,
        clock=clock,
        subject_kind=SubjectKind(score.subject_kind),
        subject_id=score.subject_id,
        reason=f"risk score {score.score:.0f} of 100, mostly {top.signal}",
        details={
            "score": score.score,
            "top_signal": top.signal,
            "contributions": {c.signal: c.contribution for c in score.contributions},
        },
    )
    return "warned"


RISK_KINDS: tuple[RiskSubject, ...] = ("brand", "product", "anchor")
# The advisory lock key of acting on risk scores (any fixed 64-bit number no other step uses).
RISK_ACT_LOCK = 0x6C63_7269_736B  # "lcrisk"


async def score_and_act(
    session: AsyncSession,
    *,
    clock: Clock,
    kinds: Sequence[RiskSubject] = RISK_KINDS,
    apply: bool = True,
) -> list[tuple[RiskScoreOut, str | None]]:
    """Every signalled subject's score, and (with `apply`) the threshold's action on it.

    With `apply`, one process at a time (RISK_ACT_LOCK, held until the caller commits): a
    second worker's job reads the first one's warnings before it decides, so a subject at
    `act` is warned once, not once per worker."""
    if apply:
        await hold_lock_until_commit(session, RISK_ACT_LOCK)
    now = clock.now()
    found: list[tuple[RiskScoreOut, str | None]] = []
    for kind in kinds:
        for score in await risk_scores(session, subject_kind=kind, now=now):
            action = await apply_thresholds(session, clock=clock, score=score) if apply else None
            found.append((score, action))
    return found


async def run_risk_job(
    open_uow: Callable[[], UnitOfWork], *, clock: Clock, event_log: Path, bot_days: int = 90
) -> dict[str, int]:
    """The periodic risk job: find bot-like activity in the event log, then score every
    signalled subject and act on the thresholds; each step its own unit of work."""
    async with open_uow() as uow:
        findings = await risk_signals.detect_bot_activity(
            uow.session,
            event_log=event_log,
            clock=clock,
            since=clock.now() - timedelta(days=bot_days),
        )
        await uow.commit()
    async with open_uow() as uow:
        scored = await score_and_act(uow.session, clock=clock)
        await uow.commit()
    return {
        "bot_findings": len(findings),
        "scored": len(scored),
        "warned": sum(1 for _, action in scored if action == "warned"),
    }
