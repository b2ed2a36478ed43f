"""Dashboard reports: the funnel (viewers -> product clicks -> cart -> orders -> paid) per
live session, anchor or brand, and GMV per day.

The behaviour-event log says who watched, clicked and carted, and which orders were placed
(its `order` rows carry the order id and the buyer); the database says what became of each
order (its brand, session, anchor, total, currency, whether it was paid). Definitions are in
docs/insights.md (Dashboards). Every step of the funnel counts distinct people: a signed-in
consumer by id, an anonymous viewer by their browser id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Identity
from livecart.catalog import service as catalog
from livecart.commerce import service as commerce
from livecart.commerce.schemas import OrderOut
from livecart.core.errors import PermissionDenied
from livecart.events.sink import log_files

FUNNEL_STEPS = ("viewers", "product_clickers", "carters", "buyers", "payers")
ORDER_LOOKUP_BATCH = 500

# Distinct (step, session, anchor, product, person) of the log: everything the funnel needs,
# small even for a long log because it is distinct.
FUNNEL_EVENTS_SQL = """
SELECT DISTINCT
    CASE event_type
        WHEN 'join' THEN 'view'
        WHEN 'product_click' THEN 'click'
        WHEN 'detail_view' THEN 'click'
        WHEN 'add_to_cart' THEN 'cart'
    END AS step,
    session_id,
    anchor_id,
    product_id,
    coalesce(CAST(consumer_id AS VARCHAR), 'anonymous:' || anonymous_id) AS person
FROM events
WHERE event_type IN ('join', 'product_click', 'detail_view', 'add_to_cart')
  AND (consumer_id IS NOT NULL OR anonymous_id IS NOT NULL)
""".strip()

# Orders the log saw placed, with their buyer (one row per order).
ORDERS_SQL = """
SELECT order_id, min(coalesce(CAST(consumer_id AS VARCHAR), 'anonymous:' || anonymous_id))
FROM events
WHERE event_type = 'order' AND order_id IS NOT NULL
GROUP BY order_id
""".strip()


class FunnelBy(StrEnum):
    session = "session"
    anchor = "anchor"
    brand = "brand"


class GmvBy(StrEnum):
    day = "day"


class Scope(BaseModel):
    """Whose data a report covers: everything (operators), one brand, or one anchor."""

    brand_id: int | None = None
    anchor_id: int | None = None


class FunnelRow(BaseModel):
    """One group's funnel: distinct people at each step, and the orders behind the last two."""

    by: FunnelBy
    key: int
    label: str
    viewers: int
    product_clickers: int
    carters: int
    buyers: int
    payers: int
    orders: int
    paid_orders: int


class GmvRow(BaseModel):
    """One day (UTC, by order time) and currency: orders placed and their value, and paid."""

    day: date
    currency: str
    orders: int
    gmv: int
    paid_orders: int
    paid_gmv: int


class FunnelReport(BaseModel):
    by: FunnelBy
    scope: Scope
    steps: list[str]
    rows: list[FunnelRow]


class GmvReport(BaseModel):
    by: GmvBy
    scope: Scope
    rows: list[GmvRow]


def check_scope(actor: Identity | None, scope: Scope) -> None:
    """Operators see everything; a merchant only their brand; an anchor only their sessions."""
    if actor is None:
        raise PermissionDenied("sign in to see reports")
    if actor.is_operator:
        return
    if scope.brand_id is not None and scope.brand_id in actor.brand_ids:
        if scope.anchor_id is None:
            return
    if scope.anchor_id is not None and scope.anchor_id == actor.id and scope.brand_id is None:
        return
    raise PermissionDenied(
        "reports cover your own brand or your own sessions only",
        details={"brand_id": scope.brand_id, "anchor_id": scope.anchor_id},
    )


def _query(root: Path, sql: str) -> list[tuple[object, ...]]:
    from livecart.events import service as events

    if not log_files(root):
        return []
    with events.open_log(root) as connection:
        return connection.execute(sql).fetchall()


async def _orders(session: AsyncSession, order_ids: Iterable[int]) -> dict[int, OrderOut]:
    ids = sorted(set(order_ids))
    found: dict[int, OrderOut] = {}
    for start in range(0, len(ids), ORDER_LOOKUP_BATCH):
        found.update(await commerce.orders_by_id(session, ids[start : start + ORDER_LOOKUP_BATCH]))
    return found


def _in_scope(order: OrderOut, scope: Scope) -> bool:
    if scope.brand_id is not None and order.brand_id != scope.brand_id:
        return False
    return scope.anchor_id is None or order.anchor_id == scope.anchor_id


async def placed_orders(
    session: AsyncSession, *, log_root: Path, scope: Scope
) -> list[tuple[OrderOut, str]]:
    """Orders the log saw placed, as the database has them now, with their buyer; in scope."""
    buyers = {int(str(oid)): str(person) for oid, person in _query(log_root, ORDERS_SQL)}
    orders = await _orders(session, buyers)
    return [(o, buyers[o.id]) for o in orders.values() if _in_scope(o, scope)]


async def funnel(
    session: AsyncSession, *, log_root: Path, by: FunnelBy, scope: Scope
) -> FunnelReport:
    """The funnel per session, anchor or brand, limited to the scope (checked by the caller)."""
    rows = _query(log_root, FUNNEL_EVENTS_SQL)
    product_ids = {int(str(r[3])) for r in rows if r[3] is not None}
    cards = await catalog.product_cards(session, product_ids)
    brand_of = {pid: card.brand.id for pid, card in cards.items()}
    brand_names = {card.brand.id: card.brand.name for card in cards.values()}
    orders = await placed_orders(session, log_root=log_root, scope=scope)

    # People per step and group; viewers per session, to give brands their audience.
    people: dict[str, dict[int, set[str]]] = {s: defaultdict(set) for s in FUNNEL_STEPS}
    session_viewers: dict[int, set[str]] = defaultdict(set)
    session_anchor: dict[int, int] = {}
    brand_sessions: dict[int, set[int]] = defaultdict(set)
    for step, session_id, anchor_id, product_id, person in rows:
        sid = int(str(session_id)) if session_id is not None else None
        aid = int(str(anchor_id)) if anchor_id is not None else None
        brand = brand_of.get(int(str(product_id))) if product_id is not None else None
        if sid is not None and aid is not None:
            session_anchor[sid] = aid
        if scope.anchor_id is not None and aid != scope.anchor_id:
            continue
        if step == "view":
            if sid is not None:
                session_viewers[sid].add(str(person))
            continue
        if scope.brand_id is not None and brand != scope.brand_id:
            continue
        if sid is not None and brand is not None:
            brand_sessions[brand].add(sid)
        name = "product_clickers" if step == "click" else "carters"
        for key in _keys(by, sid, aid, brand):
            people[name][key].add(str(person))
    order_counts: dict[str, dict[int, int]] = {"orders": defaultdict(int), "paid": defaultdict(int)}
    for order, buyer in orders:
        for key in _keys(by, order.session_id, order.anchor_id, order.brand_id):
            people["buyers"][key].add(buyer)
            order_counts["orders"][key] += 1
            if order.paid_at is not None:
                people["payers"][key].add(buyer)
                order_counts["paid"][key] += 1
        if order.session_id is not None:
            brand_sessions[order.brand_id].add(order.session_id)

    # Viewers: a session's audience; an anchor's is that of their sessions; a brand's is that
    # of the sessions in which its products were clicked, carted or ordered.
    for sid, seen in session_viewers.items():
        if scope.brand_id is not None and sid not in brand_sessions[scope.brand_id]:
            continue
        if by is FunnelBy.session:
            people["viewers"][sid] |= seen
        elif by is FunnelBy.anchor and sid in session_anchor:
            people["viewers"][session_anchor[sid]] |= seen
    if by is FunnelBy.brand:
        for brand, sessions in brand_sessions.items():
            for sid in sessions:
                people["viewers"][brand] |= session_viewers.get(sid, set())

    keys = sorted(set().union(*(set(people[s]) for s in FUNNEL_STEPS)))
    if by is FunnelBy.brand and scope.brand_id is not None:
        keys = [k for k in keys if k == scope.brand_id]
    labels = await _labels(session, by, keys, brand_names)
    return FunnelReport(
        by=by,
        scope=scope,
        steps=list(FUNNEL_STEPS),
        rows=[
            FunnelRow(
                by=by,
                key=key,
                label=labels.get(key, f"#{key}"),
                **{step: len(people[step].get(key, ())) for step in FUNNEL_STEPS},
                orders=order_counts["orders"].get(key, 0),
                paid_orders=order_counts["paid"].get(key, 0),
            )
            for key in keys
        ],
    )


def _keys(
    by: FunnelBy, session_id: int | None, anchor_id: int | None, brand: int | None
) -> list[int]:
    key = {FunnelBy.session: session_id, FunnelBy.anchor: anchor_id, FunnelBy.brand: brand}[by]
    return [] if key is None else [key]


async def _labels(
    session: AsyncSession, by: FunnelBy, keys: list[int], brand_names: dict[int, str]
) -> dict[int, str]:
    if by is FunnelBy.anchor:
        names = await accounts.display_names(session, set(keys))
        return {k: f"{names[k]} (#{k})" for k in keys if k in names}
    if by is FunnelBy.brand:
        missing = [k for k in keys if k not in brand_names]
        for brand_id in missing:
            brand_names[brand_id] = (await catalog.get_brand(session, brand_id)).name
        return {k: brand_names[k] for k in keys}
    return {k: f"session #{k}" for k in keys}


async def gmv(session: AsyncSession, *, log_root: Path, scope: Scope) -> GmvReport:
    """GMV per UTC day of ordering: every order placed, and those of them that were paid."""
    totals: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for order, _ in await placed_orders(session, log_root=log_root, scope=scope):
        entry = totals[(order.created_at.date(), order.currency)]
        entry[0] += 1
        entry[1] += order.total
        if order.paid_at is not None:
            entry[2] += 1
            entry[3] += order.total
    return GmvReport(
        by=GmvBy.day,
        scope=scope,
        rows=[
            GmvRow(day=day, currency=cur, orders=n, gmv=v, paid_orders=pn, paid_gmv=pv)
            for (day, cur), (n, v, pn, pv) in sorted(totals.items())
        ],
    )
