"""The risk signals that need records of their own: compliance hits, price-truth violations
and bot-like viewers or likes (issue 5, item 7; docs/supervision.md, "Risk scores").

- Compliance hits and price-truth violations are rows of `supervision_compliance_hits`. Warn
  hits of an accepted product text are written in the request's unit of work. A refused text
  or price claim rolls its request back, so the API layer hands it to `keep_refusal`, which
  rolls the request back and writes the hit in a unit of work of its own, and the request
  then answers with the refusal as before. A refused host chat message is written in the chat
  batch's transaction, which commits whatever the outcome of each message.
- Bot-like activity is found in the behaviour-event log (`detect_bot_activity`) and kept as
  one `supervision_bot_findings` row per session and detector (counts, no user ids).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.core.clock import Clock
from livecart.core.db import UnitOfWork
from livecart.core.errors import DomainError
from livecart.supervision.models import BotFinding, ComplianceHit
from livecart.supervision.risk_schemas import ComplianceHitOut
from livecart.supervision.schemas import FieldHit

PRICE_SOURCES = ("original_price", "flash_sale_price")
EXCERPT_CHARS = 200

# Bot-like detectors (docs/supervision.md, "Bot-like viewers and likes").
# A person tapping as fast as they can manages a few likes a second for a short while; the
# hub already drops more than 10 a second per user. 300 within any 60 seconds means 5 a
# second held for a whole minute: a script, not a thumb.
LIKES_PER_MINUTE_BOT = 300
# At least this many silent new viewers joining a session within one second of each other.
JOIN_BURST_MIN = 5
JOIN_BURST_SECONDS = 1.0
# An account younger than this when it joined counts as new (anonymous viewers have none).
NEW_ACCOUNT_AGE = timedelta(days=7)
# Watch with no spread: an account that watched at least STEADY_SESSIONS of one anchor's
# sessions, each for the same time (all within STEADY_SPREAD_SECONDS, and at least
# STEADY_MIN_SECONDS), is a script that leaves on a timer; people's watch times vary.
STEADY_SESSIONS = 3
STEADY_SPREAD_SECONDS = 1.0
STEADY_MIN_SECONDS = 30.0
# A silent viewer did none of these in the session: chat, like, product_click, detail_view,
# add_to_cart, order, payment (SILENT_JOINS_SQL).


def _hit_row(
    hit: FieldHit | Mapping[str, Any],
    *,
    at: datetime,
    source: str | None = None,
    brand_id: int | None,
    product_id: int | None,
    anchor_id: int | None,
    session_id: int | None,
) -> ComplianceHit:
    data = hit.model_dump() if isinstance(hit, FieldHit) else dict(hit)
    return ComplianceHit(
        at=at,
        source=source or str(data.get("kind") or data.get("field") or "text"),
        action=str(data["action"]),
        rule_id=str(data["rule_id"]),
        excerpt=str(data.get("text", ""))[:EXCERPT_CHARS],
        brand_id=brand_id,
        product_id=product_id,
        anchor_id=anchor_id,
        session_id=session_id,
        details={},
    )


async def _record_warnings(
    session: AsyncSession,
    *,
    clock: Clock,
    hits: Sequence[FieldHit],
    subject: dict[str, int | None],
) -> int:
    """Keep the warn-only hits of an accepted text for its subject (the ComplianceHit columns
    brand_id, product_id, anchor_id, session_id); a hit already kept for the same subject
    (same field, rule and words) is not kept again. Returns the rows added."""
    warned = [hit for hit in hits if hit.action == "warn"]
    if not warned:
        return 0
    same_subject = [getattr(ComplianceHit, name) == value for name, value in subject.items()]
    kept = {
        (row.source, row.rule_id, row.excerpt)
        for row in await session.scalars(
            select(ComplianceHit).where(ComplianceHit.action == "warn", *same_subject)
        )
    }
    added = 0
    for hit in warned:
        key = (hit.kind, hit.rule_id, hit.text[:EXCERPT_CHARS])
        if key in kept:
            continue
        kept.add(key)
        session.add(
            _hit_row(
                hit,
                at=clock.now(),
                brand_id=subject.get("brand_id"),
                product_id=subject.get("product_id"),
                anchor_id=subject.get("anchor_id"),
                session_id=subject.get("session_id"),
            )
        )
        added += 1
    await session.flush()
    return added


async def record_product_warnings(
    session: AsyncSession,
    *,
    clock: Clock,
    hits: Sequence[FieldHit],
    brand_id: int,
    product_id: int,
) -> int:
    """Keep the warn-only hits of an accepted product title or description, once per
    product, field, rule and words. Returns the rows added."""
    return await _record_warnings(
        session, clock=clock, hits=hits, subject={"brand_id": brand_id, "product_id": product_id}
    )


async def record_anchor_warnings(
    session: AsyncSession,
    *,
    clock: Clock,
    hits: Sequence[FieldHit],
    anchor_id: int,
    session_id: int,
) -> int:
    """Keep the warn-only hits of a host's saved script or shown chat message as risk
    signals of their author, once per author, session, kind of text, rule and words (saving
    the same script again, or saying the same words again, adds nothing). Returns the rows
    added."""
    return await _record_warnings(
        session, clock=clock, hits=hits, subject={"anchor_id": anchor_id, "session_id": session_id}
    )


async def record_chat_refusal(
    session: AsyncSession,
    *,
    now: datetime,
    refused: DomainError,
    anchor_id: int,
    session_id: int,
) -> None:
    """Keep the blocking hits of a host's refused chat message (in the chat batch)."""
    for hit in (refused.details or {}).get("hits", []):
        if hit.get("action") == "block":
            session.add(
                _hit_row(
                    hit,
                    at=now,
                    source="chat",
                    brand_id=None,
                    product_id=None,
                    anchor_id=anchor_id,
                    session_id=session_id,
                )
            )


# The refusals that are risk signals: of a text's words (one row per blocking hit) and of a
# price claim (one row).
TEXT_REFUSALS = ("compliance_blocked", "scarcity_claim_false", "price_claim_false")
PRICE_REFUSALS = ("original_price_not_supported", "price_not_lowest")
KEPT_REFUSALS = frozenset((*TEXT_REFUSALS, *PRICE_REFUSALS))


async def _record_refusal(
    session: AsyncSession,
    *,
    now: datetime,
    refused: DomainError,
    brand_id: int | None,
    product_id: int | None,
    sku_id: int | None,
    session_id: int | None,
    anchor_id: int | None = None,
) -> int:
    # Other domains import supervision's service: reach them at call time.
    from livecart.catalog import service as catalog
    from livecart.live import service as live

    if sku_id is not None:
        snapshot = (await catalog.sku_snapshots(session, [sku_id])).get(sku_id)
        if snapshot is not None:
            product_id, brand_id = snapshot.product_id, snapshot.brand_id
    if product_id is not None and brand_id is None:
        card = (await catalog.product_cards(session, [product_id])).get(product_id)
        brand_id = card.brand.id if card is not None else None
    if session_id is not None:
        try:
            origin = await live.session_origin(session, session_id)
        except DomainError:
            session_id = None
        else:
            anchor_id = anchor_id or origin.anchor_id
    details = dict(refused.details or {})
    rows: list[ComplianceHit] = []
    place: dict[str, Any] = {
        "brand_id": brand_id,
        "product_id": product_id,
        "anchor_id": anchor_id,
        "session_id": session_id,
    }
    if refused.code in TEXT_REFUSALS:
        rows = [
            _hit_row(hit, at=now, **place)
            for hit in details.get("hits", [])
            if hit.get("action") == "block"
        ]
    elif refused.code in PRICE_REFUSALS:
        source = (
            "original_price"
            if refused.code == "original_price_not_supported"
            else ("flash_sale_price")
        )
        claimed = details.get("original_price", details.get("price"))
        rows = [
            ComplianceHit(
                at=now,
                source=source,
                action="block",
                rule_id=refused.code,
                excerpt=(
                    f"{claimed} against lowest {details.get('lowest_price_7d')} (7 days), "
                    f"{details.get('lowest_price_30d')} (30 days)"
                ),
                details={k: v for k, v in details.items() if isinstance(v, int)}
                | ({"sku_id": sku_id} if sku_id is not None else {}),
                **place,
            )
        ]
    session.add_all(rows)
    await session.flush()
    return len(rows)


async def keep_refusal(
    request: UnitOfWork,
    new_unit_of_work: Callable[[], UnitOfWork],
    *,
    clock: Clock,
    refused: DomainError,
    brand_id: int | None = None,
    product_id: int | None = None,
    sku_id: int | None = None,
    session_id: int | None = None,
    anchor_id: int | None = None,
) -> int:
    """For a route whose request was refused: if the refusal is a risk signal (KEPT_REFUSALS),
    roll the request's unit of work back and record it in one of its own;
    returns the rows kept (0 for any other refusal, which leaves the request alone). The
    subject is resolved from the SKU (product and brand), the product (brand) and the session
    (its anchor, unless `anchor_id` names the author, e.g. a co-host's refused script)."""
    if refused.code not in KEPT_REFUSALS:
        return 0
    await request.rollback()
    async with new_unit_of_work() as uow:
        kept = await _record_refusal(
            uow.session,
            now=clock.now(),
            refused=refused,
            brand_id=brand_id,
            product_id=product_id,
            sku_id=sku_id,
            session_id=session_id,
            anchor_id=anchor_id,
        )
        await uow.commit()
    return kept


# The column of a kept hit naming each kind of subject.
_HIT_SUBJECT = {
    "brand": ComplianceHit.brand_id,
    "product": ComplianceHit.product_id,
    "anchor": ComplianceHit.anchor_id,
}


async def hits_by_subject(
    session: AsyncSession,
    *,
    subject_kind: str,
    subject_ids: Collection[int],
    since: datetime,
    price: bool,
) -> dict[int, int]:
    """Compliance hits (price=False) or price-truth violations (price=True) of each of these
    brands, products or anchors since a time (one grouped query; absent means none)."""
    column = _HIT_SUBJECT[subject_kind]
    sources = ComplianceHit.source.in_(PRICE_SOURCES)
    rows = await session.execute(
        select(column, func.count())
        .where(column.in_(subject_ids), ComplianceHit.at >= since, sources if price else ~sources)
        .group_by(column)
    )
    return {subject: count for subject, count in rows if subject is not None}


async def recent_hits(
    session: AsyncSession,
    *,
    subject_kind: str,
    subject_ids: Collection[int],
    since: datetime,
    per_subject: int = 5,
) -> dict[int, list[ComplianceHitOut]]:
    """The newest kept hits (lexicon and price truth, refused and warned) of each of these
    brands, products or anchors since a time, at most per_subject each, newest first (one
    query; absent means none)."""
    column = _HIT_SUBJECT[subject_kind]
    # Numbered per subject in the database, so a subject with many rows sends only its newest.
    place = (
        func.row_number()
        .over(partition_by=column, order_by=(ComplianceHit.at.desc(), ComplianceHit.id.desc()))
        .label("place")
    )
    ranked = (
        select(ComplianceHit.id, column.label("subject"), place)
        .where(column.in_(subject_ids), ComplianceHit.at >= since)
        .subquery()
    )
    rows = await session.execute(
        select(ranked.c.subject, ComplianceHit)
        .join(ranked, ranked.c.id == ComplianceHit.id)
        .where(ranked.c.place <= per_subject)
        .order_by(ranked.c.subject, ranked.c.place)
    )
    found: dict[int, list[ComplianceHitOut]] = {}
    for subject, hit in rows:
        found.setdefault(subject, []).append(ComplianceHitOut.model_validate(hit))
    return found


async def bot_accounts_by_anchor(
    session: AsyncSession, *, anchor_ids: Collection[int], since: datetime
) -> dict[int, int]:
    """Accounts flagged bot-like in each of these anchors' sessions since a time (each session
    and detector counted apart; one grouped query; absent means none)."""
    rows = await session.execute(
        select(BotFinding.anchor_id, func.sum(BotFinding.accounts))
        .where(BotFinding.anchor_id.in_(anchor_ids), BotFinding.seen_at >= since)
        .group_by(BotFinding.anchor_id)
    )
    return {int(anchor): int(accounts or 0) for anchor, accounts in rows}


# ---------------------------------------------------------------- bot-like viewers and likes


LIKE_BURSTS_SQL = """
WITH likes AS (
    SELECT session_id, anchor_id, occurred_at,
           coalesce(CAST(consumer_id AS VARCHAR), 'anon:' || anonymous_id) AS who
    FROM events
    WHERE event_type = 'like' AND source = 'server' AND occurred_at >= to_timestamp(?)
      AND session_id IS NOT NULL AND anchor_id IS NOT NULL
      AND (consumer_id IS NOT NULL OR anonymous_id IS NOT NULL)
), windows AS (
    SELECT session_id, anchor_id, who, occurred_at,
           count(*) OVER (
               PARTITION BY session_id, who ORDER BY occurred_at
               RANGE BETWEEN CURRENT ROW AND INTERVAL 59.999 SECONDS FOLLOWING
           ) AS in_a_minute
    FROM likes
), bots AS (
    SELECT session_id, anchor_id, who, max(in_a_minute) AS likes, min(occurred_at) AS first_at
    FROM windows
    WHERE in_a_minute >= ?
    GROUP BY session_id, anchor_id, who
)
SELECT session_id, anchor_id, count(*) AS accounts, epoch_ms(min(first_at)) AS seen_at,
       max(likes) AS peak
FROM bots
GROUP BY session_id, anchor_id
""".strip()

SILENT_JOINS_SQL = """
WITH joins AS (
    SELECT session_id, anchor_id, consumer_id,
           coalesce(CAST(consumer_id AS VARCHAR), 'anon:' || anonymous_id) AS who,
           min(occurred_at) AS joined_at
    FROM events
    WHERE event_type = 'join' AND source = 'server' AND occurred_at >= to_timestamp(?)
      AND session_id IS NOT NULL AND anchor_id IS NOT NULL
      AND (consumer_id IS NOT NULL OR anonymous_id IS NOT NULL)
    GROUP BY ALL
), active AS (
    SELECT DISTINCT session_id,
           coalesce(CAST(consumer_id AS VARCHAR), 'anon:' || anonymous_id) AS who
    FROM events
    WHERE event_type IN ('chat', 'like', 'product_click', 'detail_view', 'add_to_cart',
                         'order', 'payment')
      AND occurred_at >= to_timestamp(?) AND session_id IS NOT NULL
)
SELECT j.session_id, j.anchor_id, j.consumer_id, j.who, epoch_ms(j.joined_at) AS joined_at
FROM joins AS j
ANTI JOIN active AS a ON a.session_id = j.session_id AND a.who = j.who
ORDER BY j.session_id, j.joined_at
""".strip()


STEADY_WATCHERS_SQL = """
WITH dwell AS (
    SELECT session_id, anchor_id,
           coalesce(CAST(consumer_id AS VARCHAR), 'anon:' || anonymous_id) AS who,
           sum(watch_seconds) AS seconds, min(occurred_at) AS first_at
    FROM events
    WHERE event_type IN ('heartbeat', 'leave') AND source = 'server'
      AND watch_seconds IS NOT NULL AND occurred_at >= to_timestamp(?)
      AND session_id IS NOT NULL AND anchor_id IS NOT NULL
      AND (consumer_id IS NOT NULL OR anonymous_id IS NOT NULL)
    GROUP BY ALL
), steady AS (
    SELECT anchor_id, who
    FROM dwell
    GROUP BY anchor_id, who
    HAVING count(*) >= ? AND max(seconds) - min(seconds) < ? AND min(seconds) >= ?
)
SELECT d.session_id, d.anchor_id, count(*) AS accounts, epoch_ms(min(d.first_at)) AS seen_at,
       min(d.seconds) AS seconds
FROM dwell AS d
SEMI JOIN steady AS s ON s.anchor_id = d.anchor_id AND s.who = d.who
GROUP BY d.session_id, d.anchor_id
""".strip()


def _utc(epoch_ms: int) -> datetime:
    # Times cross DuckDB as epoch milliseconds: its time-zone-aware values need pytz.
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


def _join_bursts(
    joins: Iterable[tuple[int, int, datetime]],
) -> dict[tuple[int, int], tuple[int, datetime]]:
    """(session, anchor) -> (accounts, first join) of the joins that fell within
    JOIN_BURST_SECONDS of at least JOIN_BURST_MIN - 1 others; `joins` sorted by time."""
    per_session: dict[tuple[int, int], list[datetime]] = {}
    for session_id, anchor_id, joined_at in joins:
        per_session.setdefault((session_id, anchor_id), []).append(joined_at)
    found: dict[tuple[int, int], tuple[int, datetime]] = {}
    span = timedelta(seconds=JOIN_BURST_SECONDS)
    for key, times in per_session.items():
        flagged: set[int] = set()
        start = 0
        for end in range(len(times)):
            while times[end] - times[start] > span:
                start += 1
            if end - start + 1 >= JOIN_BURST_MIN:
                flagged.update(range(start, end + 1))
        if flagged:
            found[key] = (len(flagged), times[min(flagged)])
    return found


async def detect_bot_activity(
    session: AsyncSession, *, event_log: Path, clock: Clock, since: datetime
) -> list[dict[str, Any]]:
    """Run the bot-like detectors over the event log since a time and keep one finding per
    session and detector (replacing the last run's; a finding seen since that time and not
    found again is deleted); returns the findings."""
    from livecart.accounts import service as accounts
    from livecart.events import service as events
    from livecart.events.errors import EventLogEmpty

    def scan() -> tuple[list[Any], list[Any], list[Any]] | None:
        try:
            connection = events.open_log(event_log)
        except EventLogEmpty:
            return None
        with connection:
            start = since.timestamp()
            likes = connection.execute(LIKE_BURSTS_SQL, [start, LIKES_PER_MINUTE_BOT]).fetchall()
            silent = connection.execute(SILENT_JOINS_SQL, [start, start]).fetchall()
            steady = connection.execute(
                STEADY_WATCHERS_SQL,
                [start, STEADY_SESSIONS, STEADY_SPREAD_SECONDS, STEADY_MIN_SECONDS],
            ).fetchall()
        return likes, silent, steady

    # DuckDB blocks: in a server the scan runs in a thread, not on the event loop.
    scanned = await asyncio.to_thread(scan)
    if scanned is None:
        return []
    likes, silent, steady = scanned
    ages: dict[int, datetime] = {}
    for consumer_id in {row[2] for row in silent if row[2] is not None}:
        try:
            ages[consumer_id] = (await accounts.get_user(session, int(consumer_id))).created_at
        except DomainError:
            continue
    new_silent = [
        (int(sid), int(aid), _utc(joined_at))
        for sid, aid, consumer_id, _who, joined_at in silent
        if consumer_id is None
        or (consumer_id in ages and _utc(joined_at) - ages[consumer_id] < NEW_ACCOUNT_AGE)
    ]
    findings: list[dict[str, Any]] = [
        {
            "session_id": int(sid),
            "anchor_id": int(aid),
            "detector": "like_burst",
            "accounts": int(accounts_n),
            "seen_at": _utc(seen_at),
            "detail": (
                f"{accounts_n} account(s) liked {LIKES_PER_MINUTE_BOT}+ times within 60 s "
                f"(most: {peak})"
            ),
        }
        for sid, aid, accounts_n, seen_at, peak in likes
    ]
    for (sid, aid), (count, first) in _join_bursts(new_silent).items():
        findings.append(
            {
                "session_id": sid,
                "anchor_id": aid,
                "detector": "join_burst",
                "accounts": count,
                "seen_at": first,
                "detail": (
                    f"{count} new, silent viewer(s) joined within {JOIN_BURST_SECONDS:g} s of "
                    f"{JOIN_BURST_MIN - 1}+ others"
                ),
            }
        )
    findings += [
        {
            "session_id": int(sid),
            "anchor_id": int(aid),
            "detector": "steady_watch",
            "accounts": int(count),
            "seen_at": _utc(seen_at),
            "detail": (
                f"{count} account(s) watched {STEADY_SESSIONS}+ of the anchor's sessions for the "
                f"same time each (within {STEADY_SPREAD_SECONDS:g} s; here {float(seconds):.0f} s)"
            ),
        }
        for sid, aid, count, seen_at, seconds in steady
    ]
    now = clock.now()
    # The scan read every event since `since`: an earlier finding seen since then that it did
    # not find again no longer holds (the silent viewers of a join burst spoke later).
    await session.execute(delete(BotFinding).where(BotFinding.seen_at >= since))
    for finding in findings:
        await session.execute(
            delete(BotFinding).where(
                BotFinding.session_id == finding["session_id"],
                BotFinding.detector == finding["detector"],
            )
        )
        session.add(BotFinding(**finding, detected_at=now))
    await session.flush()
    return findings
