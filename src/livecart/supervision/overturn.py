"""The overturn alert: a burst of negative chat or complaints in a live session.

After each chat batch commits, the chat writer hands its shown messages here (one call). The
messages that hit the overturn lexicon (`lexicons/overturn.json`, English terms between word
boundaries, Chinese as substrings) are stored as signals (the term, never the words), and a
sliding window per session counts them, with a consumer report counting `report_weight`.
When the window holds `min_negative` or more and no alert was raised for the session within
`cooldown_seconds`, an alert row is written and a staff-only frame
`{"type": "alert", "kind": "overturn", ...}` is published to the session after commit: the
anchor console shows it, operators see it on the risk dashboard. The window lives in the
database, so it counts the messages of every worker.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.core.clock import Clock
from livecart.core.db import UnitOfWork
from livecart.realtime.broker import session_channel
from livecart.realtime.schemas import staff_frame
from livecart.supervision.models import NegativeSignal, OverturnAlert
from livecart.supervision.risk_schemas import AlertOut

log = logging.getLogger(__name__)

DEFAULT_OVERTURN_LEXICON = Path(__file__).parent / "lexicons" / "overturn.json"


class OverturnRules(BaseModel):
    """The overturn lexicon and thresholds (a JSON file people edit; unknown keys refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    window_seconds: int = Field(default=30, ge=1, le=3600)
    min_negative: int = Field(default=5, ge=1)
    cooldown_seconds: int = Field(default=60, ge=0)
    report_weight: int = Field(default=3, ge=0)
    terms: dict[str, list[str]]


@dataclass(frozen=True)
class OverturnLexicon:
    """Compiled overturn rules: one regex for the English terms, substrings for Chinese."""

    rules: OverturnRules
    english: re.Pattern[str] | None
    chinese: tuple[str, ...]

    def terms_in(self, text: str) -> list[str]:
        """The lexicon terms the text contains, in order, each once."""
        found: list[str] = []
        if self.english is not None:
            found.extend(m.group(0).casefold() for m in self.english.finditer(text))
        found.extend(term for term in self.chinese if term in text)
        return list(dict.fromkeys(found))


def compile_overturn_lexicon(rules: OverturnRules) -> OverturnLexicon:
    """Compile the rules (English: case-insensitive, between word boundaries)."""
    english = sorted(rules.terms.get("en", []), key=len, reverse=True)
    pattern = None
    if english:
        alternatives = "|".join(re.escape(term) for term in english)
        pattern = re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])", re.IGNORECASE)
    return OverturnLexicon(rules, pattern, tuple(rules.terms.get("zh", [])))


@cache
def overturn_lexicon(path: Path = DEFAULT_OVERTURN_LEXICON) -> OverturnLexicon:
    """The overturn lexicon from a JSON file, read once per process on first use."""
    return compile_overturn_lexicon(
        OverturnRules.model_validate(json.loads(path.read_text(encoding="utf-8")))
    )


class _Post(Protocol):
    @property
    def session_id(self) -> int: ...

    @property
    def text(self) -> str: ...


class _Outcome(Protocol):
    @property
    def shown(self) -> object | None: ...


async def _window(
    session: AsyncSession, *, session_id: int, now: datetime, rules: OverturnRules
) -> tuple[int, list[str]]:
    """(weighted negative count, terms) of the session's window ending now."""
    since = now - timedelta(seconds=rules.window_seconds)
    rows = (
        await session.execute(
            select(NegativeSignal.source, NegativeSignal.term, func.count())
            .where(NegativeSignal.session_id == session_id, NegativeSignal.at > since)
            .group_by(NegativeSignal.source, NegativeSignal.term)
        )
    ).all()
    count = 0
    terms: dict[str, int] = {}
    for source, term, n in rows:
        count += n * (rules.report_weight if source == "report" else 1)
        terms[term] = terms.get(term, 0) + n
    ranked = sorted(terms, key=lambda t: (-terms[t], t))
    return count, ranked[:5]


async def _maybe_alert(
    uow: UnitOfWork, *, session_id: int, now: datetime, rules: OverturnRules
) -> AlertOut | None:
    session = uow.session
    count, terms = await _window(session, session_id=session_id, now=now, rules=rules)
    if count < rules.min_negative:
        return None
    last = await session.scalar(
        select(func.max(OverturnAlert.at)).where(OverturnAlert.session_id == session_id)
    )
    if last is not None and (now - last).total_seconds() < rules.cooldown_seconds:
        return None
    alert = OverturnAlert(
        session_id=session_id,
        kind="overturn",
        at=now,
        negative=count,
        window_seconds=rules.window_seconds,
        terms=terms,
    )
    session.add(alert)
    await session.flush()
    out = AlertOut.model_validate(alert)
    uow.publish_after_commit(session_channel(session_id), alert_frame(out))
    return out


def alert_frame(alert: AlertOut) -> dict[str, Any]:
    """The staff-only frame of an overturn alert."""
    return staff_frame(
        "alert",
        kind=alert.kind,
        alert_id=alert.id,
        session_id=alert.session_id,
        negative=alert.negative,
        window_seconds=alert.window_seconds,
        terms=alert.terms,
        at=alert.at.isoformat(),
        message=(
            f"{alert.negative} negative messages or complaints in the last "
            f"{alert.window_seconds} s: {', '.join(alert.terms) or 'complaints'}"
        ),
    )


async def watch_chat(
    unit_of_work: Callable[[], UnitOfWork],
    *,
    clock: Clock,
    posts: Sequence[_Post],
    outcomes: Sequence[_Outcome],
    lexicon: OverturnLexicon | None = None,
) -> list[AlertOut]:
    """Count a committed chat batch's shown negative messages; raise alerts. Never raises:
    chat does not depend on it (a failure is logged)."""
    try:
        rules_lexicon = lexicon or overturn_lexicon()
        hits: dict[int, list[str]] = {}
        for post, outcome in zip(posts, outcomes, strict=True):
            if outcome.shown is None:
                continue
            terms = rules_lexicon.terms_in(post.text)
            if terms:
                hits.setdefault(post.session_id, []).append(terms[0])
        if not hits:
            return []
        now = clock.now()
        raised: list[AlertOut] = []
        async with unit_of_work() as uow:
            for session_id, terms in hits.items():
                uow.session.add_all(
                    NegativeSignal(session_id=session_id, at=now, source="chat", term=term[:64])
                    for term in terms
                )
            await uow.session.flush()
            for session_id in hits:
                alert = await _maybe_alert(
                    uow, session_id=session_id, now=now, rules=rules_lexicon.rules
                )
                if alert is not None:
                    raised.append(alert)
            await uow.commit()
        return raised
    except Exception:
        log.exception("the overturn watch could not count a chat batch")
        return []


async def record_complaint(
    uow: UnitOfWork, *, session_id: int, now: datetime, kind: str
) -> AlertOut | None:
    """A consumer report from a live session counts in its window (in the caller's unit of
    work, published after its commit)."""
    rules = overturn_lexicon().rules
    uow.session.add(NegativeSignal(session_id=session_id, at=now, source="report", term=kind))
    await uow.session.flush()
    return await _maybe_alert(uow, session_id=session_id, now=now, rules=rules)


async def recent_alerts(
    session: AsyncSession, *, since: datetime | None = None, limit: int = 50
) -> list[AlertOut]:
    """Alerts newest first (the operators' dashboard polls this)."""
    query = select(OverturnAlert).order_by(OverturnAlert.id.desc()).limit(max(1, min(limit, 500)))
    if since is not None:
        query = query.where(OverturnAlert.at >= since)
    return [AlertOut.model_validate(row) for row in await session.scalars(query)]
