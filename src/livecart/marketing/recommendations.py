"""Recommendations: live rooms (live now or upcoming) and products for a consumer.

Personalised, for a signed-in consumer who has not switched personalisation off (read from
the database on every request, so a switch counts from the very next one): category and
anchor affinities from the consumer's own views, carts and orders in the behaviour-event log,
and item-to-item co-purchases (other buyers of what they bought). Everyone else, anonymous
or opted out, gets the same non-personalised ranking: popularity with recency (weighted
events, halved every HALF_LIFE_DAYS), no profile read at all. Details in docs/insights.md.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Identity
from livecart.catalog import service as catalog
from livecart.catalog.schemas import ProductCard
from livecart.events.sink import log_files
from livecart.live import service as live
from livecart.live.schemas import SessionStatus, SessionSummary

HALF_LIFE_DAYS = 7.0
# How much each kind of event says about interest in a product (and its session's room).
WEIGHTS = {"order": 5.0, "add_to_cart": 3.0, "detail_view": 1.0, "product_click": 1.0}
WATCH_WEIGHTS = {"join": 1.0, "chat": 0.5, "like": 0.2}
CANDIDATE_PRODUCTS = 200
CANDIDATE_SESSIONS = 50
# Personalised score = AFFINITY * category affinity + CO_PURCHASE * co-purchase share
# + POPULARITY * popularity share (each share 0..1), so affinity decides first.
AFFINITY, CO_PURCHASE, POPULARITY = 1.0, 0.8, 0.2

PRODUCT_POPULARITY_SQL = """
SELECT product_id,
       sum(CASE event_type WHEN 'order' THEN 5.0 WHEN 'add_to_cart' THEN 3.0 ELSE 1.0 END
           * pow(0.5, greatest(epoch(CAST(? AS TIMESTAMPTZ) - occurred_at), 0) / 86400.0 / ?))
FROM events
WHERE event_type IN ('order', 'add_to_cart', 'detail_view', 'product_click')
  AND product_id IS NOT NULL AND occurred_at <= CAST(? AS TIMESTAMPTZ)
GROUP BY product_id
""".strip()

SESSION_POPULARITY_SQL = """
SELECT session_id,
       sum(CASE event_type WHEN 'order' THEN 5.0 WHEN 'join' THEN 1.0 WHEN 'chat' THEN 0.5
                           ELSE 0.2 END
           * pow(0.5, greatest(epoch(CAST(? AS TIMESTAMPTZ) - occurred_at), 0) / 86400.0 / ?))
FROM events
WHERE event_type IN ('order', 'join', 'chat', 'like')
  AND session_id IS NOT NULL AND occurred_at <= CAST(? AS TIMESTAMPTZ)
GROUP BY session_id
""".strip()

# The consumer's own interest: weighted events per product and per anchor.
OWN_EVENTS_SQL = """
SELECT event_type, product_id, anchor_id, count(*)
FROM events
WHERE consumer_id = ? AND event_type IN
    ('order', 'add_to_cart', 'detail_view', 'product_click', 'join', 'chat', 'like')
GROUP BY event_type, product_id, anchor_id
""".strip()

# Item-to-item: for each product the consumer bought, the other products its buyers bought,
# counted in distinct buyers (the consumer left out).
CO_PURCHASES_SQL = """
WITH mine AS (
    SELECT DISTINCT product_id FROM events
    WHERE event_type = 'order' AND consumer_id = ? AND product_id IS NOT NULL
), buyers AS (
    SELECT DISTINCT e.consumer_id, e.product_id AS bought FROM events e
    JOIN mine ON e.product_id = mine.product_id
    WHERE e.event_type = 'order' AND e.consumer_id IS NOT NULL AND e.consumer_id <> ?
)
SELECT buyers.bought, e.product_id, count(DISTINCT e.consumer_id)
FROM events e JOIN buyers ON e.consumer_id = buyers.consumer_id
WHERE e.event_type = 'order' AND e.product_id IS NOT NULL AND e.product_id <> buyers.bought
GROUP BY buyers.bought, e.product_id
""".strip()


class ProductPick(BaseModel):
    product: ProductCard
    score: float
    reason: str


class RoomPick(BaseModel):
    session: SessionSummary
    score: float
    reason: str


class Recommendations(BaseModel):
    """Rooms and products, best first; `personalised` says whether a profile was read."""

    personalised: bool
    rooms: list[RoomPick]
    products: list[ProductPick]


def _query(root: Path, sql: str, params: list[object]) -> list[tuple[object, ...]]:
    from livecart.events import service as events

    if not log_files(root):
        return []
    with events.open_log(root) as connection:
        return connection.execute(sql, params).fetchall()


def _ints(value: object) -> int:
    return int(str(value))


def _shares(values: dict[int, float]) -> dict[int, float]:
    """Each value over the largest (0..1); empty stays empty."""
    top = max(values.values(), default=0.0)
    return {k: v / top for k, v in values.items()} if top > 0 else {}


def _popularity(root: Path, sql: str, now: datetime) -> dict[int, float]:
    rows = _query(root, sql, [now.isoformat(), HALF_LIFE_DAYS, now.isoformat()])
    return {_ints(key): float(str(score)) for key, score in rows if key is not None}


async def _candidates(
    session: AsyncSession,
) -> tuple[list[ProductCard], list[SessionSummary]]:
    products = await catalog.list_products(session, actor=None, limit=CANDIDATE_PRODUCTS)
    sessions = [
        *await live.list_sessions(session, status=SessionStatus.live, limit=CANDIDATE_SESSIONS),
        *await live.list_sessions(
            session, status=SessionStatus.scheduled, limit=CANDIDATE_SESSIONS
        ),
    ]
    return products, sessions


def _room_order(pick: RoomPick) -> tuple[int, float, int]:
    # Live rooms before upcoming ones; then the score; then the older session first.
    return (0 if pick.session.status is SessionStatus.live else 1, -pick.score, pick.session.id)


def _popular_rooms(sessions: list[SessionSummary], popularity: dict[int, float]) -> list[RoomPick]:
    shares = _shares(popularity)
    picks = [
        RoomPick(
            session=s,
            score=round(shares.get(s.id, 0.0), 6),
            reason="live now" if s.status is SessionStatus.live else "starting soon",
        )
        for s in sessions
    ]
    return sorted(picks, key=_room_order)


async def recommend(
    session: AsyncSession,
    *,
    log_root: Path,
    now: datetime,
    actor: Identity | None,
    limit: int = 12,
) -> Recommendations:
    """Rooms and products for the caller; personalised only with their consent."""
    personalised = actor is not None and await accounts.personalisation_allowed(session, actor.id)
    products, sessions = await _candidates(session)
    product_popularity = _shares(_popularity(log_root, PRODUCT_POPULARITY_SQL, now))
    session_popularity = _popularity(log_root, SESSION_POPULARITY_SQL, now)
    if not personalised or actor is None:
        ranked = sorted(products, key=lambda p: (-product_popularity.get(p.id, 0.0), -p.id))
        return Recommendations(
            personalised=False,
            rooms=_popular_rooms(sessions, session_popularity)[:limit],
            products=[
                ProductPick(
                    product=p,
                    score=round(product_popularity.get(p.id, 0.0), 6),
                    reason="popular now" if product_popularity.get(p.id) else "new in the shop",
                )
                for p in ranked[:limit]
            ],
        )
    return await _personalised(
        session,
        log_root=log_root,
        user_id=actor.id,
        products=products,
        sessions=sessions,
        product_popularity=product_popularity,
        session_popularity=session_popularity,
        limit=limit,
    )


async def _personalised(
    session: AsyncSession,
    *,
    log_root: Path,
    user_id: int,
    products: list[ProductCard],
    sessions: list[SessionSummary],
    product_popularity: dict[int, float],
    session_popularity: dict[int, float],
    limit: int,
) -> Recommendations:
    own = _query(log_root, OWN_EVENTS_SQL, [user_id])
    seen_products = {_ints(r[1]) for r in own if r[1] is not None}
    co_rows = _query(log_root, CO_PURCHASES_SQL, [user_id, user_id])
    cards = await catalog.product_cards(
        session, seen_products | {_ints(r[0]) for r in co_rows} | {p.id for p in products}
    )
    by_category: dict[str, float] = defaultdict(float)
    by_anchor: dict[int, float] = defaultdict(float)
    for kind, product_id, anchor_id, n in own:
        count = _ints(n)
        if product_id is not None and str(kind) in WEIGHTS:
            card = cards.get(_ints(product_id))
            if card is not None:
                by_category[card.category] += WEIGHTS[str(kind)] * count
        if anchor_id is not None:
            weight = WEIGHTS.get(str(kind), WATCH_WEIGHTS.get(str(kind), 0.0))
            by_anchor[_ints(anchor_id)] += weight * count
    top = max(by_category.values(), default=0.0)
    category_affinity = {c: v / top for c, v in by_category.items()} if top > 0 else {}

    co_counts: dict[int, float] = defaultdict(float)
    co_source: dict[int, tuple[float, int]] = {}
    for bought, other, buyers in co_rows:
        key, n = _ints(other), float(str(buyers))
        co_counts[key] += n
        if key not in co_source or n > co_source[key][0]:
            co_source[key] = (n, _ints(bought))
    co_share = _shares(dict(co_counts))

    picks = []
    for p in products:
        affinity = category_affinity.get(p.category, 0.0)
        co = co_share.get(p.id, 0.0)
        score = (
            AFFINITY * affinity + CO_PURCHASE * co + POPULARITY * product_popularity.get(p.id, 0.0)
        )
        if co > 0 and CO_PURCHASE * co >= AFFINITY * affinity:
            source = cards.get(co_source[p.id][1])
            reason = f"often bought with {source.title if source else 'what you bought'}"
        elif affinity > 0:
            reason = f"because you like {p.category}"
        else:
            reason = "popular now" if product_popularity.get(p.id) else "new in the shop"
        picks.append(ProductPick(product=p, score=round(score, 6), reason=reason))
    picks.sort(key=lambda pick: (-pick.score, -pick.product.id))

    anchor_share = _shares(dict(by_anchor))
    popular = _shares(session_popularity)
    rooms = []
    for s in sessions:
        fan = anchor_share.get(s.anchor.id, 0.0)
        pinned = category_affinity.get(s.pinned.category, 0.0) if s.pinned else 0.0
        score = AFFINITY * fan + 0.5 * pinned + POPULARITY * popular.get(s.id, 0.0)
        if fan > 0:
            reason = f"you watch {s.anchor.display_name}"
        elif pinned > 0 and s.pinned is not None:
            reason = f"showing {s.pinned.category}, which you like"
        else:
            reason = "live now" if s.status is SessionStatus.live else "starting soon"
        rooms.append(RoomPick(session=s, score=round(score, 6), reason=reason))
    rooms.sort(key=_room_order)
    return Recommendations(personalised=True, rooms=rooms[:limit], products=picks[:limit])
