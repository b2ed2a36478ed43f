"""Flash sales: limited units at a flash price, sold in bursts without overselling or losing orders.

A purchase runs: rate limits (per buyer, per IP) -> the stock store's atomic take (key, unpaid
purchase, per-user limit, stock) -> the group-commit writer (the database re-checks and records
the order) -> 201. The database is the record; the store is rebuilt from it when empty and
reconciled against it periodically. Unpaid purchases hold their units for a TTL; past it they
are released (lazily when the sale is read, and by the periodic sweep) and sold again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Identity, PersonalRows
from livecart.catalog import service as catalog
from livecart.catalog.errors import SkuNotFound
from livecart.catalog.schemas import ProductStatus
from livecart.commerce import service as commerce
from livecart.commerce.errors import IdempotencyKeyReused, OrderNotFound
from livecart.commerce.schemas import CancelReason, OrderOut, OrderStatus
from livecart.core.clock import Clock
from livecart.core.db import UnitOfWork, read_one_snapshot
from livecart.core.errors import DomainError, PermissionDenied, RateLimited
from livecart.core.ratelimit import KeyedBuckets
from livecart.events import service as events
from livecart.flashsale.errors import (
    FlashSaleNotFound,
    InvalidWindow,
    LimitExceeded,
    NotEnoughStock,
    NotInShowcase,
    PendingOrderExists,
    PriceNotLowest,
    PurchaseInProgress,
    SaleEnded,
    SaleNotLive,
    SoldOut,
)
from livecart.flashsale.models import FlashHolding, FlashReservation, FlashSale
from livecart.flashsale.schemas import (
    OPEN_STATUSES,
    FlashSaleBannerIn,
    FlashSaleIn,
    FlashSaleOut,
    FlashSaleStatus,
    FlashSaleStatusOut,
    StockBooksOut,
)
from livecart.flashsale.stock import (
    Outcome,
    Released,
    Snapshot,
    StockStore,
    Take,
    parse_mark,
)
from livecart.flashsale.writer import BatchOutcome, GroupCommitWriter, Purchase, SaleTerms
from livecart.live import service as live
from livecart.live.schemas import SessionStatus
from livecart.realtime.broker import Broker, session_channel
from livecart.supervision import sanctions as supervision
from livecart.supervision import scarcity
from livecart.supervision import service as compliance
from livecart.supervision.risk_schemas import SanctionBlock

log = logging.getLogger(__name__)

PRICE_WINDOW = timedelta(days=30)
STALE_MARK_SECONDS = 30.0  # an unwritten purchase older than this died with its worker
TERMS_TTL_SECONDS = 1.0  # how long a worker trusts its cached status of a sale
SWEEP_BATCH = 500
REPLAY_WAIT_SECONDS = 5.0
ATTEMPTS = 4


# ---------------------------------------------------------------- the process's machinery


class Buckets(Protocol):
    async def take(self, key: str, now: float) -> float: ...


class LocalBuckets:
    """In-process buckets behind the async interface (one worker)."""

    def __init__(self, buckets: KeyedBuckets) -> None:
        self._buckets = buckets

    async def take(self, key: str, now: float) -> float:
        return self._buckets.take(key, now)


class BuyLimits:
    """Per-buyer and per-IP token buckets on purchases: in process with the memory store,
    in Redis (shared by every worker) with the Redis store."""

    def __init__(self, *, user: Buckets, ip: Buckets) -> None:
        self._user = user
        self._ip = ip

    async def check(self, *, user_id: int, ip: str | None, now: float) -> None:
        wait = await self._user.take(f"u:{user_id}", now)
        if wait == 0 and ip:
            wait = await self._ip.take(f"ip:{ip}", now)
        if wait > 0:
            raise RateLimited("too many purchase attempts; slow down", retry_after=wait)


@dataclass
class _Cached:
    terms: SaleTerms
    status: FlashSaleStatus
    starts_at: datetime | None
    ends_at: datetime | None
    fetched: float
    # Sanctions in force over the sale, its product, room and anchor when it was read.
    standing: supervision.Standing = field(default_factory=supervision.Standing)

    def refusal(self) -> DomainError | None:
        origin = self.terms.origin
        return self.standing.refusal(
            anchor_id=origin.anchor_id,
            room_id=origin.room_id,
            product_ids=(self.terms.sku.product_id,),
            flash_sale_id=self.terms.sale_id,
        )


@dataclass
class Books:
    """The last reconciliation of one sale, for operators and the metrics."""

    database_remaining: int
    store_remaining: int | None
    in_flight: int | None
    drift: int | None
    checked_at: datetime


@dataclass
class FlashRuntime:
    """Everything flash sales keep per process: the store, the writer, limits and caches."""

    store: StockStore
    store_kind: str
    open_uow: Callable[[], UnitOfWork]
    clock: Clock
    broker: Broker
    sink: events.HasEventSink
    limits: BuyLimits
    reservation_minutes: float
    push_seconds: float
    batch_max: int
    writer: GroupCommitWriter = field(init=False)
    _cache: dict[int, _Cached] = field(default_factory=dict)
    _loading: dict[int, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    _refreshing: dict[int, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    _in_flight: dict[tuple[int, int, str], Purchase] = field(default_factory=dict)
    _push_due: dict[int, asyncio.TimerHandle] = field(default_factory=dict)
    _last_push: dict[int, float] = field(default_factory=dict)
    books: dict[int, Books] = field(default_factory=dict)
    drift_total: int = 0
    # The block (sanction code, '' for none) this process last announced per sale: each
    # worker announces a change it sees once (the frame is a state, so repeats are harmless).
    announced_blocks: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.writer = GroupCommitWriter(
            open_uow=self.open_uow,
            store=self.store,
            clock=self.clock,
            sink=self.sink,
            reservation_minutes=self.reservation_minutes,
            batch_max=self.batch_max,
            on_written=self._after_batch,
        )

    async def start(self) -> None:
        await self.store.heartbeat()
        self.writer.start()

    async def close(self) -> None:
        await self.writer.stop()
        for handle in self._push_due.values():
            handle.cancel()
        await self.store.close()

    def forget(self, sale_id: int) -> None:
        self._cache.pop(sale_id, None)

    # -- pushing remaining stock, at most once per `push_seconds` per sale

    def push_stock(self, sale_id: int, session_id: int) -> None:
        if sale_id in self._push_due:
            return
        loop = asyncio.get_running_loop()
        wait = max(0.0, self._last_push.get(sale_id, 0.0) + self.push_seconds - loop.time())
        self._push_due[sale_id] = loop.call_later(
            wait, lambda: asyncio.ensure_future(self._push(sale_id, session_id))
        )

    async def _push(self, sale_id: int, session_id: int) -> None:
        self._last_push[sale_id] = asyncio.get_running_loop().time()
        self._push_due.pop(sale_id, None)
        remaining = await self.store.remaining(sale_id)
        if remaining is None:
            return
        await self.broker.publish(
            session_channel(session_id),
            {"type": "flash_stock", "sale_id": sale_id, "remaining": max(0, remaining)},
        )

    async def _after_batch(self, outcome: BatchOutcome) -> None:
        sessions = {p.terms.sale_id: p.terms.origin.session_id for p in outcome.purchases}
        for sale_id, session_id in sessions.items():
            self.push_stock(sale_id, session_id)
        for sale_id in outcome.sold_out_sales:
            self.forget(sale_id)
            await _announce(self, sale_id)


# ---------------------------------------------------------------- views


def _remaining(sale: FlashSale) -> int:
    return sale.quantity - sale.sold - sale.returned


async def units_left_in_session(session: AsyncSession, session_id: int) -> list[int]:
    """The units left in each open flash sale of a live session: what a host's "only 3
    left" in chat or in the script may be about besides the SKUs' own stock (passed to
    `live.post_chats` and `live.save_script` as their `sale_units`)."""
    sales = await session.scalars(
        select(FlashSale).where(
            FlashSale.session_id == session_id, FlashSale.status.in_(OPEN_STATUSES)
        )
    )
    return [_remaining(sale) for sale in sales]


def _out(sale: FlashSale, now: datetime, block: SanctionBlock | None = None) -> FlashSaleOut:
    return FlashSaleOut(
        id=sale.id,
        status=FlashSaleStatus(sale.status),
        session_id=sale.session_id,
        room_id=sale.room_id,
        sku_id=sale.sku_id,
        product_id=sale.product_id,
        title=sale.title,
        price=sale.price,
        regular_price=sale.regular_price,
        lowest_price_30d=sale.lowest_price_30d,
        currency=sale.currency,
        quantity=sale.quantity,
        sold=sale.sold,
        remaining=0 if sale.status == FlashSaleStatus.ended else _remaining(sale),
        per_user_limit=sale.per_user_limit,
        starts_at=sale.starts_at,
        ends_at=sale.ends_at,
        started_at=sale.started_at,
        finished_at=sale.finished_at,
        server_time=now,
        banner=sale.banner,
        blocked=block,
    )


async def _blocks(
    session: AsyncSession, sales: Sequence[FlashSale], now: datetime
) -> dict[int, SanctionBlock]:
    """The sanction that stops each sale's purchases (frozen sale, delisted product, suspended
    room or anchor), read in one query; sales without one are absent."""
    if not sales:
        return {}
    found = await supervision.standing(
        session,
        now=now,
        anchor_ids={s.anchor_id for s in sales},
        room_ids={s.room_id for s in sales},
        product_ids={s.product_id for s in sales},
        flash_sale_ids={s.id for s in sales},
    )
    blocks: dict[int, SanctionBlock] = {}
    for sale in sales:
        block = found.block(
            anchor_id=sale.anchor_id,
            room_id=sale.room_id,
            product_ids=(sale.product_id,),
            flash_sale_id=sale.id,
        )
        if block is not None:
            blocks[sale.id] = block
    return blocks


async def _view(session: AsyncSession, sale: FlashSale, now: datetime) -> FlashSaleOut:
    """A sale with the sanction that stops it, if any."""
    return _out(sale, now, (await _blocks(session, [sale], now)).get(sale.id))


def _note_block(runtime: FlashRuntime, out: FlashSaleOut) -> bool:
    """Remember the block announced with this view; True when it differs from the last one
    this process saw (unknown counts as none)."""
    code = out.blocked.code if out.blocked is not None else ""
    changed = runtime.announced_blocks.get(out.id, "") != code
    runtime.announced_blocks[out.id] = code
    return changed


def sale_frame(sale: FlashSaleOut) -> dict[str, Any]:
    """The room frame announcing a sale's state (countdowns run from its times)."""
    return {"type": "flash_sale", "sale": sale.model_dump(mode="json")}


async def _announce(runtime: FlashRuntime, sale_id: int) -> None:
    async with runtime.open_uow() as uow:
        sale = await uow.session.get(FlashSale, sale_id)
        if sale is None:
            return
        out = await _view(uow.session, sale, runtime.clock.now())
    _note_block(runtime, out)
    await runtime.broker.publish(session_channel(out.session_id), sale_frame(out))


async def _load(session: AsyncSession, sale_id: int, *, lock: bool = False) -> FlashSale:
    query = select(FlashSale).where(FlashSale.id == sale_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    sale = await session.scalar(query)
    if sale is None:
        raise FlashSaleNotFound("flash sale not found", details={"sale_id": sale_id})
    return sale


async def sale_refs(session: AsyncSession, sale_id: int) -> tuple[int, int]:
    """The sale's SKU and live session ids (to attribute a refused banner to its subjects)."""
    sale = await _load(session, sale_id)
    return sale.sku_id, sale.session_id


# ---------------------------------------------------------------- creating and running sales


async def _require_seller(
    session: AsyncSession, actor: Identity, *, anchor_id: int, brand_id: int
) -> None:
    if actor.id == anchor_id or brand_id in actor.brand_ids:
        return
    raise PermissionDenied("only the session's anchor or the brand's merchant runs its flash sales")


def _check_banner(banner: str, *, remaining: int, lexicon: compliance.Lexicon) -> None:
    """A banner is scanned like product texts (kind `flash_sale_banner`) and may not claim
    fewer remaining units than the sale has (fake scarcity)."""
    if not banner:
        return
    compliance.check_fields([("banner", "flash_sale_banner", banner)], lexicon=lexicon)
    refused = scarcity.scarcity_refusal(
        banner, stocks=(remaining,), field="banner", kind="flash_sale_banner"
    )
    if refused is not None:
        raise refused


async def create_sale(
    uow: UnitOfWork,
    *,
    clock: Clock,
    actor: Identity,
    body: FlashSaleIn,
    lexicon: compliance.Lexicon,
) -> FlashSaleOut:
    """Set units of a showcased SKU aside at a flash price; they leave the SKU's stock."""
    session = uow.session
    now = clock.now()
    view = await live.get_session_view(session, body.session_id)
    snapshot = (await catalog.sku_snapshots(session, [body.sku_id])).get(body.sku_id)
    if snapshot is None:
        raise SkuNotFound("SKU not found", details={"sku_id": body.sku_id})
    await _require_seller(session, actor, anchor_id=view.anchor.id, brand_id=snapshot.brand_id)
    if view.status == SessionStatus.ended:
        raise SaleEnded("the live session has ended", details={"session_id": body.session_id})
    # Sanctions gate: no sale of a delisted product, in a suspended room or by a suspended anchor.
    await supervision.enforce(
        session,
        now=now,
        anchor_id=view.anchor.id,
        room_id=view.room_id,
        product_ids=(snapshot.product_id,),
    )
    if snapshot.product_status != ProductStatus.active:
        raise NotInShowcase("the product is not on sale", details={"sku_id": body.sku_id})
    if all(card.id != snapshot.product_id for card in view.showcase):
        raise NotInShowcase(
            "put the product in the session's showcase first",
            details={"product_id": snapshot.product_id},
        )
    _check_banner(body.banner, remaining=body.quantity, lexicon=lexicon)
    if body.ends_at is not None and (
        body.ends_at <= now or (body.starts_at is not None and body.ends_at <= body.starts_at)
    ):
        raise InvalidWindow("ends_at must be after now and after starts_at")
    # Below the 30-day lowest is below the 7-day lowest too (a shorter window's lowest is
    # never lower); both are reported, as the discount rules quote both.
    lowest = await catalog.lowest_price_since(session, body.sku_id, now - PRICE_WINDOW)
    if body.price >= lowest:
        lowest_7d = await catalog.lowest_price_since(session, body.sku_id, now - timedelta(days=7))
        raise PriceNotLowest(
            "a flash price must be below the lowest price of the previous 7 and 30 days",
            details={"lowest_price_30d": lowest, "lowest_price_7d": lowest_7d, "price": body.price},
        )
    if not await catalog.take_stock(session, sku_id=body.sku_id, quantity=body.quantity):
        raise NotEnoughStock(
            "the SKU has fewer units in stock than the sale sets aside",
            details={"stock": snapshot.stock, "quantity": body.quantity},
        )
    sale = FlashSale(
        session_id=view.id,
        room_id=view.room_id,
        anchor_id=view.anchor.id,
        brand_id=snapshot.brand_id,
        product_id=snapshot.product_id,
        sku_id=snapshot.sku_id,
        title=snapshot.title[:200],
        banner=body.banner,
        price=body.price,
        regular_price=snapshot.price,
        lowest_price_30d=lowest,
        currency=snapshot.currency,
        quantity=body.quantity,
        sold=0,
        returned=0,
        per_user_limit=body.per_user_limit,
        status=FlashSaleStatus.scheduled.value,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        created_by=actor.id,
        created_at=now,
    )
    session.add(sale)
    await session.flush()
    out = _out(sale, now)
    uow.publish_after_commit(session_channel(out.session_id), sale_frame(out))
    return out


async def _open(session: AsyncSession, sale: FlashSale, now: datetime) -> bool:
    """scheduled -> live; False if another request opened (or ended) it first."""
    opened = await session.scalar(
        update(FlashSale)
        .where(FlashSale.id == sale.id, FlashSale.status == FlashSaleStatus.scheduled.value)
        .values(status=FlashSaleStatus.live.value, started_at=now)
        .returning(FlashSale.id)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(sale)
    return opened is not None


async def start_sale(
    uow: UnitOfWork, runtime: FlashRuntime, *, actor: Identity, sale_id: int
) -> FlashSaleStatusOut:
    """Open the sale now (seller); the room gets the sale and its countdown."""
    session = uow.session
    sale = await _load(session, sale_id)
    await _require_seller(session, actor, anchor_id=sale.anchor_id, brand_id=sale.brand_id)
    if sale.status == FlashSaleStatus.ended:
        raise SaleEnded("this flash sale has ended")
    now = runtime.clock.now()
    await supervision.enforce(
        session,
        now=now,
        anchor_id=sale.anchor_id,
        room_id=sale.room_id,
        product_ids=(sale.product_id,),
        flash_sale_id=sale.id,
    )
    await _open(session, sale, now)
    if sale.status == FlashSaleStatus.ended:
        raise SaleEnded("this flash sale has ended")
    out = _out(sale, now)
    uow.publish_after_commit(session_channel(out.session_id), sale_frame(out))
    runtime.forget(sale_id)
    return FlashSaleStatusOut(id=sale.id, status=FlashSaleStatus(sale.status))


async def _finish(session: AsyncSession, sale: FlashSale, now: datetime) -> int:
    """Close an open or scheduled sale and give its unsold units back to the SKU."""
    await session.refresh(sale, with_for_update=True)
    if sale.status == FlashSaleStatus.ended:
        return 0
    unsold = _remaining(sale)
    sale.status = FlashSaleStatus.ended.value
    sale.finished_at = now
    sale.returned += unsold
    if unsold > 0:
        await catalog.release_stock(session, sku_id=sale.sku_id, quantity=unsold)
    await session.flush()
    return unsold


async def end_sale(
    uow: UnitOfWork, runtime: FlashRuntime, *, actor: Identity, sale_id: int
) -> FlashSaleStatusOut:
    """Close the sale (seller): unsold units go back to the SKU's stock."""
    session = uow.session
    sale = await _load(session, sale_id, lock=True)
    await _require_seller(session, actor, anchor_id=sale.anchor_id, brand_id=sale.brand_id)
    await _finish(session, sale, runtime.clock.now())
    _after_end(uow, runtime, sale)
    return FlashSaleStatusOut(id=sale.id, status=FlashSaleStatus(sale.status))


def _after_end(uow: UnitOfWork, runtime: FlashRuntime, sale: FlashSale) -> None:
    out = _out(sale, runtime.clock.now())
    sale_id = sale.id

    async def drop() -> None:
        runtime.forget(sale_id)
        await runtime.store.drop(sale_id)

    uow.after_commit(drop)
    uow.publish_after_commit(session_channel(out.session_id), sale_frame(out))


async def _keep_time(uow: UnitOfWork, runtime: FlashRuntime, sale: FlashSale) -> None:
    """Open a sale whose start time has come and close one whose end time has passed."""
    now = runtime.clock.now()
    if sale.status == FlashSaleStatus.scheduled and sale.starts_at and sale.starts_at <= now:
        if await _open(uow.session, sale, now):
            opened = await _view(uow.session, sale, now)
            uow.publish_after_commit(session_channel(sale.session_id), sale_frame(opened))
    if sale.status != FlashSaleStatus.ended and sale.ends_at and sale.ends_at <= now:
        await _finish(uow.session, sale, now)
        _after_end(uow, runtime, sale)


async def get_sale(uow: UnitOfWork, runtime: FlashRuntime, sale_id: int) -> FlashSaleOut:
    """A sale as anyone sees it; keeps its time and releases its expired reservations first."""
    sale = await _load(uow.session, sale_id)
    await _keep_time(uow, runtime, sale)
    if await _release_due(uow, runtime, sale_id=sale_id):
        await uow.session.refresh(sale)
    out = await _view(uow.session, sale, runtime.clock.now())
    if _note_block(runtime, out):
        uow.publish_after_commit(session_channel(out.session_id), sale_frame(out))
    return out


async def list_sales(session: AsyncSession, *, clock: Clock, session_id: int) -> list[FlashSaleOut]:
    """The sales of a live session, newest first, each with the sanction that stops it."""
    rows = list(
        await session.scalars(
            select(FlashSale)
            .where(FlashSale.session_id == session_id)
            .order_by(FlashSale.id.desc())
        )
    )
    now = clock.now()
    blocks = await _blocks(session, rows, now)
    return [_out(s, now, blocks.get(s.id)) for s in rows]


async def update_banner(
    uow: UnitOfWork,
    runtime: FlashRuntime,
    *,
    actor: Identity,
    sale_id: int,
    body: FlashSaleBannerIn,
    lexicon: compliance.Lexicon,
) -> FlashSaleOut:
    """Change a sale's banner (seller): scanned, and its claim checked against what is left."""
    session = uow.session
    sale = await _load(session, sale_id, lock=True)
    await _require_seller(session, actor, anchor_id=sale.anchor_id, brand_id=sale.brand_id)
    if sale.status == FlashSaleStatus.ended:
        raise SaleEnded("this flash sale has ended")
    _check_banner(body.banner, remaining=_remaining(sale), lexicon=lexicon)
    sale.banner = body.banner
    await session.flush()
    out = await _view(session, sale, runtime.clock.now())
    uow.publish_after_commit(session_channel(out.session_id), sale_frame(out))
    return out


# ---------------------------------------------------------------- buying


def purchase_hash(sale_id: int, quantity: int) -> str:
    return hashlib.sha256(f"flash:{sale_id}:{quantity}".encode()).hexdigest()


async def _terms(runtime: FlashRuntime, sale_id: int, *, recheck: bool = False) -> _Cached:
    """A sale's terms and status as this worker knows them (at most TERMS_TTL_SECONDS old;
    `recheck`: read now, or take the result of the read under way).

    One refresh per sale at a time: under a burst every other request keeps using what is
    known (or waits for the first load) instead of each asking the database.
    """
    cached = runtime._cache.get(sale_id)
    fresh_enough = cached is not None and time.monotonic() - cached.fetched < TERMS_TTL_SECONDS
    if cached is not None and fresh_enough and not recheck:
        return cached
    lock = runtime._refreshing[sale_id]
    if cached is not None and lock.locked() and not recheck:
        return cached
    async with lock:  # a recheck waits for a read under way and takes its result
        again = runtime._cache.get(sale_id)
        if again is not None and again is not cached:
            return again
        fresh = await _read_terms(runtime, sale_id)
    runtime._cache[sale_id] = fresh
    return fresh


async def _read_terms(runtime: FlashRuntime, sale_id: int) -> _Cached:
    async with runtime.open_uow() as uow:
        sale = await _load(uow.session, sale_id)
        await _keep_time(uow, runtime, sale)
        await uow.commit()
        snapshot = (await catalog.sku_snapshots(uow.session, [sale.sku_id]))[sale.sku_id]
        origin = await live.session_origin(uow.session, sale.session_id)
        now = runtime.clock.now()
        standing = await supervision.standing(
            uow.session,
            now=now,
            anchor_ids=(sale.anchor_id,),
            room_ids=(sale.room_id,),
            product_ids=(sale.product_id,),
            flash_sale_ids=(sale.id,),
        )
        view = _out(
            sale,
            now,
            standing.block(
                anchor_id=sale.anchor_id,
                room_id=sale.room_id,
                product_ids=(sale.product_id,),
                flash_sale_id=sale.id,
            ),
        )
        if _note_block(runtime, view):
            await runtime.broker.publish(session_channel(view.session_id), sale_frame(view))
        return _Cached(
            terms=SaleTerms(
                sale_id=sale.id,
                sku=snapshot,
                price=sale.price,
                per_user_limit=sale.per_user_limit,
                origin=origin,
            ),
            status=FlashSaleStatus(sale.status),
            starts_at=sale.starts_at,
            ends_at=sale.ends_at,
            fetched=time.monotonic(),
            standing=standing,
        )


async def snapshot_of(session: AsyncSession, sale: FlashSale) -> Snapshot:
    """What the store must hold for a sale, from the database."""
    holdings = await session.execute(
        select(FlashHolding.user_id, FlashHolding.quantity).where(
            FlashHolding.sale_id == sale.id, FlashHolding.quantity > 0
        )
    )
    held = {user_id: quantity for user_id, quantity in holdings.all()}
    rows = (
        await session.execute(
            select(
                FlashReservation.user_id,
                FlashReservation.idempotency_key,
                FlashReservation.order_id,
                FlashReservation.status,
            ).where(FlashReservation.sale_id == sale.id)
        )
    ).all()
    active = [r.order_id for r in rows if r.status == "active"]
    unpaid: set[int] = set()
    for at in range(0, len(active), 5000):
        statuses = await commerce.order_statuses(session, active[at : at + 5000])
        unpaid |= {o for o, s in statuses.items() if s == OrderStatus.pending_payment}
    return Snapshot(
        remaining=_remaining(sale),
        held=held,
        pending={r.user_id: r.order_id for r in rows if r.order_id in unpaid},
        keys={f"{r.user_id}:{r.idempotency_key}": r.order_id for r in rows},
    )


async def ensure_loaded(runtime: FlashRuntime, sale_id: int) -> bool:
    """Load an open sale into the store if it is not there (start, Redis restarted empty).

    True when the store holds the sale afterwards (loaded by us or by someone else), False
    when the sale is not open.
    """
    async with runtime._loading[sale_id]:
        if await runtime.store.remaining(sale_id) is not None:
            return True
        async with runtime.open_uow() as uow:
            # The sale's counts and its buyers' keys from one snapshot: a batch committing
            # between the two reads would be in the keys but not in the remaining units, and
            # its settle would then never take its units off the rebuilt store.
            await read_one_snapshot(uow.session)
            sale = await _load(uow.session, sale_id)
            if sale.status not in OPEN_STATUSES:
                return False
            snapshot = await snapshot_of(uow.session, sale)
        if await runtime.store.load(sale_id, snapshot):
            log.info(
                "flash sale %d loaded into the %s store: %d remaining, %d buyers",
                sale_id,
                runtime.store_kind,
                snapshot.remaining,
                len(snapshot.held),
            )
        return True


def _check_open(cached: _Cached, now: datetime) -> None:
    # A sanction first (frozen sale, delisted product, suspended room or anchor): as this
    # worker read it at most TERMS_TTL_SECONDS ago; the writer re-reads it in its transaction.
    refused = cached.refusal()
    if refused is not None:
        raise refused
    if cached.status == FlashSaleStatus.ended or (cached.ends_at and cached.ends_at <= now):
        raise SaleEnded("this flash sale has ended")
    if cached.status == FlashSaleStatus.scheduled:
        raise SaleNotLive(
            "this flash sale has not started",
            details={"starts_at": cached.starts_at.isoformat() if cached.starts_at else None},
        )


async def _replay(
    runtime: FlashRuntime, actor: Identity, sale_id: int, key: str, quantity: int, order_id: int
) -> OrderOut:
    async with runtime.open_uow() as uow:
        reserved = await uow.session.scalar(
            select(FlashReservation.quantity).where(
                FlashReservation.sale_id == sale_id,
                FlashReservation.user_id == actor.id,
                FlashReservation.idempotency_key == key,
            )
        )
        if reserved is not None and reserved != quantity:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for a different purchase; use a fresh key",
                details={"order_id": order_id},
            )
        order = (await commerce.orders_by_id(uow.session, [order_id])).get(order_id)
    if order is None:
        raise OrderNotFound("order not found", details={"order_id": order_id})
    return order


async def _written_order(
    runtime: FlashRuntime, actor: Identity, sale_id: int, key: str
) -> int | None:
    """Wait a while for a purchase with this key that another worker is writing."""
    deadline = time.monotonic() + REPLAY_WAIT_SECONDS
    while True:
        async with runtime.open_uow() as uow:
            order_id = await uow.session.scalar(
                select(FlashReservation.order_id).where(
                    FlashReservation.sale_id == sale_id,
                    FlashReservation.user_id == actor.id,
                    FlashReservation.idempotency_key == key,
                )
            )
        if order_id is not None or time.monotonic() > deadline:
            return order_id
        await asyncio.sleep(0.05)


async def _settle_pending(runtime: FlashRuntime, actor: Identity, sale_id: int, value: str) -> None:
    """The buyer has an unpaid purchase per the store: is it really still unpaid?"""
    mark = parse_mark(value)
    if mark is not None:
        stamp, key = mark
        if (
            sale_id,
            actor.id,
            key,
        ) in runtime._in_flight or time.time() - stamp < STALE_MARK_SECONDS:
            raise PendingOrderExists("your other purchase of this sale is being placed")
        written = await _written_order(runtime, actor, sale_id, key)
        await runtime.store.clear(
            sale_id, user_id=actor.id, value=value, key=key, release_held=written is None
        )
        if written is not None:
            # Written, but its worker died before telling the store: the store is behind.
            await ensure_loaded(runtime, sale_id)
        return
    order_id = int(value)
    async with runtime.open_uow() as uow:
        status = (await commerce.order_statuses(uow.session, [order_id])).get(order_id)
        if status == OrderStatus.pending_payment:
            raise PendingOrderExists(
                "pay or cancel your unpaid order of this flash sale first",
                details={"order_id": order_id},
            )
        if status == OrderStatus.cancelled:
            released = await _release_orders(uow, runtime, [order_id])
            await uow.commit()
            if released:
                return
    await runtime.store.clear(sale_id, user_id=actor.id, value=value, key=None)


async def buy(
    runtime: FlashRuntime,
    *,
    actor: Identity,
    sale_id: int,
    quantity: int,
    idempotency_key: str,
    ip: str | None,
) -> tuple[OrderOut, bool]:
    """Buy from a flash sale: (the order, whether it was made now rather than replayed)."""
    await runtime.limits.check(user_id=actor.id, ip=ip, now=runtime.clock.now().timestamp())
    key = commerce.check_idempotency_key(idempotency_key)
    cached = await _terms(runtime, sale_id)
    if cached.refusal() is not None:
        # A sanction is read again before it refuses, so a lift holds at once; a stopped sale
        # has no burst to protect, and requests arriving together share one read.
        cached = await _terms(runtime, sale_id, recheck=True)
    terms = cached.terms
    for _ in range(ATTEMPTS):
        _check_open(cached, runtime.clock.now())
        take = await runtime.store.take(
            sale_id,
            user_id=actor.id,
            key=key,
            quantity=quantity,
            limit=terms.per_user_limit,
            now=time.time(),
        )
        match take.outcome:
            case Outcome.ok:
                return await _write(runtime, actor, terms, take, key, quantity), True
            case Outcome.missing:
                if not await ensure_loaded(runtime, sale_id):
                    runtime.forget(sale_id)
                    cached = await _terms(runtime, sale_id)
            case Outcome.duplicate:
                return await _duplicate(runtime, actor, sale_id, key, quantity, take), False
            case Outcome.pending:
                await _settle_pending(runtime, actor, sale_id, take.existing)
            case Outcome.limit:
                raise LimitExceeded(
                    f"at most {terms.per_user_limit} per buyer in this sale",
                    details={"per_user_limit": terms.per_user_limit},
                )
            case Outcome.sold_out:
                raise SoldOut("sold out", details={"sale_id": sale_id})
    raise PurchaseInProgress("the sale is busy; try again", details={"sale_id": sale_id})


async def _write(
    runtime: FlashRuntime, actor: Identity, terms: SaleTerms, take: Take, key: str, quantity: int
) -> OrderOut:
    purchase = Purchase(
        terms=terms,
        user_id=actor.id,
        key=key,
        quantity=quantity,
        request_hash=purchase_hash(terms.sale_id, quantity),
        epoch=take.epoch,
    )
    slot = (terms.sale_id, actor.id, key)
    runtime._in_flight[slot] = purchase
    try:
        result = await runtime.writer.submit(purchase)
    finally:
        runtime._in_flight.pop(slot, None)
    if isinstance(result, int):  # the key had an order already
        return await _replay(runtime, actor, terms.sale_id, key, quantity, result)
    return result


async def _duplicate(
    runtime: FlashRuntime, actor: Identity, sale_id: int, key: str, quantity: int, take: Take
) -> OrderOut:
    mark = parse_mark(take.existing)
    if mark is None:
        return await _replay(runtime, actor, sale_id, key, quantity, int(take.existing))
    twin = runtime._in_flight.get((sale_id, actor.id, key))
    if twin is not None:
        try:
            result = await asyncio.shield(twin.done)
        except Exception:
            result = None
        if isinstance(result, OrderOut):
            return await _replay(runtime, actor, sale_id, key, quantity, result.id)
    written = await _written_order(runtime, actor, sale_id, key)
    if written is not None:
        return await _replay(runtime, actor, sale_id, key, quantity, written)
    if time.time() - mark[0] >= STALE_MARK_SECONDS:
        # Nothing was written under this key: the purchase died with its worker.
        await runtime.store.clear(
            sale_id, user_id=actor.id, value=take.existing, key=key, release_held=True
        )
    raise PurchaseInProgress(
        "a purchase with this Idempotency-Key is still being placed; retry shortly"
    )


# ---------------------------------------------------------------- releasing unpaid units


async def _release_orders(uow: UnitOfWork, runtime: FlashRuntime, order_ids: Sequence[int]) -> int:
    """Release the reservations of these orders that are cancelled (or unpaid and overdue).

    Units go back to the sale (or to the SKU once the sale has ended); the store hears of it
    after commit. Returns how many reservations were released.
    """
    session = uow.session
    now = runtime.clock.now()
    rows = (
        await session.execute(
            select(FlashReservation.order_id, FlashReservation.expires_at).where(
                FlashReservation.order_id.in_(order_ids), FlashReservation.status == "active"
            )
        )
    ).all()
    overdue = [r.order_id for r in rows if r.expires_at <= now]
    await commerce.cancel_unpaid(session, overdue, now=now, reason=CancelReason.payment_timeout)
    statuses = await commerce.order_statuses(session, [r.order_id for r in rows])
    cancelled = [o for o, s in statuses.items() if s == OrderStatus.cancelled]
    paid = [
        o
        for o, s in statuses.items()
        if s not in (OrderStatus.cancelled, OrderStatus.pending_payment)
    ]
    if paid:
        await session.execute(
            update(FlashReservation)
            .where(FlashReservation.order_id.in_(paid), FlashReservation.status == "active")
            .values(status="paid")
            .execution_options(synchronize_session=False)
        )
    if not cancelled:
        return 0
    released = (
        await session.execute(
            update(FlashReservation)
            .where(FlashReservation.order_id.in_(cancelled), FlashReservation.status == "active")
            .values(status="released", released_at=now)
            .returning(
                FlashReservation.sale_id,
                FlashReservation.user_id,
                FlashReservation.quantity,
                FlashReservation.order_id,
            )
            .execution_options(synchronize_session=False)
        )
    ).all()
    by_sale: dict[int, list[Released]] = defaultdict(list)
    for sale_id, user_id, qty, order_id in released:
        by_sale[sale_id].append(Released(user_id, qty, order_id))
    to_store: dict[int, tuple[int, list[Released]]] = {}  # sale -> (live session, released)
    for sale_id in sorted(by_sale):
        items = by_sale[sale_id]
        units = sum(r.quantity for r in items)
        sale = await _load(session, sale_id, lock=True)
        for r in items:
            await session.execute(
                update(FlashHolding)
                .where(FlashHolding.sale_id == sale_id, FlashHolding.user_id == r.user_id)
                .values(quantity=FlashHolding.quantity - r.quantity)
                .execution_options(synchronize_session=False)
            )
        if sale.status == FlashSaleStatus.ended:
            # The sale is over: the units go back to the SKU like the rest of its unsold.
            sale.sold -= units
            sale.returned += units
            await catalog.release_stock(session, sku_id=sale.sku_id, quantity=units)
            continue
        sale.sold -= units
        if sale.status == FlashSaleStatus.sold_out:
            sale.status = FlashSaleStatus.live.value
            reopened = await _view(session, sale, now)
            uow.publish_after_commit(session_channel(sale.session_id), sale_frame(reopened))
        to_store[sale_id] = (sale.session_id, items)
        await runtime.store.begin(sale_id)
    await session.flush()

    async def tell_store() -> None:
        for sale_id, (session_id, items) in to_store.items():
            await runtime.store.release(sale_id, items)
            runtime.forget(sale_id)
            runtime.push_stock(sale_id, session_id)

    uow.after_commit(tell_store)
    return len(released)


async def _release_due(uow: UnitOfWork, runtime: FlashRuntime, *, sale_id: int | None) -> int:
    query = (
        select(FlashReservation.order_id)
        .where(
            FlashReservation.status == "active",
            FlashReservation.expires_at <= runtime.clock.now(),
        )
        .order_by(FlashReservation.expires_at)
        .limit(SWEEP_BATCH)
    )
    if sale_id is not None:
        query = query.where(FlashReservation.sale_id == sale_id)
    due = list((await uow.session.scalars(query)).all())
    return await _release_orders(uow, runtime, due) if due else 0


async def run_sweep(runtime: FlashRuntime) -> int:
    """The periodic job: keep sales' times and release expired unpaid reservations."""
    async with runtime.open_uow() as uow:
        now = runtime.clock.now()
        timed = await uow.session.scalars(
            select(FlashSale).where(
                FlashSale.status != FlashSaleStatus.ended.value,
                ((FlashSale.starts_at <= now) & (FlashSale.status == "scheduled"))
                | (FlashSale.ends_at <= now),
            )
        )
        for sale in timed.all():
            await _keep_time(uow, runtime, sale)
        released = await _release_due(uow, runtime, sale_id=None)
        await _announce_blocks(uow, runtime, now)
        await uow.commit()
    return released


async def _announce_blocks(uow: UnitOfWork, runtime: FlashRuntime, now: datetime) -> None:
    """Tell the rooms of sales frozen or unfrozen (or whose product, room or anchor was
    sanctioned or lifted) since this process last looked: a sale frame after commit."""
    sales = list(
        await uow.session.scalars(
            select(FlashSale).where(FlashSale.status != FlashSaleStatus.ended.value)
        )
    )
    blocks = await _blocks(uow.session, sales, now)
    for sale in sales:
        out = _out(sale, now, blocks.get(sale.id))
        if _note_block(runtime, out):
            uow.publish_after_commit(session_channel(out.session_id), sale_frame(out))


# ---------------------------------------------------------------- reconciliation


async def reconcile_sale(runtime: FlashRuntime, sale_id: int) -> Books | None:
    """Compare the store with the database; log and correct drift when the books are still."""
    before = await runtime.store.books(sale_id)
    if before is None:
        await ensure_loaded(runtime, sale_id)
        before = await runtime.store.books(sale_id)
    async with runtime.open_uow() as uow:
        sale = await _load(uow.session, sale_id)
        database = _remaining(sale) if sale.status in OPEN_STATUSES else 0
    after = await runtime.store.books(sale_id)
    now = runtime.clock.now()
    if before is None or after is None:
        books = Books(database, None, None, None, now)
        runtime.books[sale_id] = books
        return books
    if before.recovered or after.recovered:
        log.warning(
            "flash sale %d: %d units of purchases lost with a dead worker given back",
            sale_id,
            before.recovered + after.recovered,
        )
    still = (
        before.generation == after.generation
        and before.committing == 0
        and after.committing == 0
        and before.remaining + before.in_flight == after.remaining + after.in_flight
    )
    drift = after.remaining + after.in_flight - database if still else None
    if drift:
        log.warning(
            "flash sale %d: stock store drift %+d (store %d + in flight %d, database %d)",
            sale_id,
            drift,
            after.remaining,
            after.in_flight,
            database,
        )
        runtime.drift_total += abs(drift)
        await runtime.store.adjust(sale_id, -drift, generation=after.generation)
    books = Books(database, after.remaining, after.in_flight, drift, now)
    runtime.books[sale_id] = books
    return books


async def run_reconcile(runtime: FlashRuntime) -> int:
    """The periodic job (and the start-up check): reconcile every open sale."""
    await runtime.store.heartbeat()
    async with runtime.open_uow() as uow:
        open_ids = list(
            (
                await uow.session.scalars(
                    select(FlashSale.id).where(
                        FlashSale.status.in_([s.value for s in OPEN_STATUSES])
                    )
                )
            ).all()
        )
    for sale_id in open_ids:
        try:
            await reconcile_sale(runtime, sale_id)
        except Exception:
            log.exception("reconciling flash sale %d failed", sale_id)
    return len(open_ids)


async def stock_books(
    uow: UnitOfWork, runtime: FlashRuntime, *, actor: Identity, sale_id: int
) -> StockBooksOut:
    """Reconcile one sale now and show the books (operators and the sale's sellers)."""
    sale = await _load(uow.session, sale_id)
    if not actor.is_operator:
        await _require_seller(uow.session, actor, anchor_id=sale.anchor_id, brand_id=sale.brand_id)
    books = await reconcile_sale(runtime, sale_id)
    assert books is not None
    return StockBooksOut(
        sale_id=sale_id,
        store=runtime.store_kind,
        database_remaining=books.database_remaining,
        store_remaining=books.store_remaining,
        in_flight=books.in_flight,
        drift=books.drift,
        checked_at=books.checked_at,
    )


async def personal_data(session: AsyncSession, user_id: int) -> PersonalRows:
    """A user's flash-sale holdings and reservations (a privacy export; both are kept on
    deletion, since they back the orders)."""
    return await accounts.collect_rows(
        session,
        {
            "flash_holdings": select(FlashHolding.__table__).where(FlashHolding.user_id == user_id),
            "flash_reservations": select(FlashReservation.__table__).where(
                FlashReservation.user_id == user_id
            ),
        },
    )
