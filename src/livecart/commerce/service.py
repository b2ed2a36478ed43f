"""Commerce: idempotent orders with atomic stock, carts, payments and the order life cycle.

Stock is taken with catalog's conditional update, one SKU at a time in SKU id order (so two
orders never wait on each other in a cycle); a missing unit raises, and the caller's unit of
work rolls everything back. Every change of an order's state is a conditional update on its
current status, so a payment and the expiry sweep can never both win.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, delete, distinct, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Identity, PersonalRows
from livecart.catalog import service as catalog
from livecart.catalog.schemas import ProductStatus, SkuSnapshot
from livecart.commerce.errors import (
    AfterSalesNotFound,
    AlreadyPaid,
    AnswerReasonRequired,
    CartEmpty,
    IdempotencyKeyInvalid,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    InvalidTransition,
    MixedOrder,
    NoReasonReturnNotAllowed,
    NothingToRefund,
    OrderExpired,
    OrderInTransit,
    OrderItemNotFound,
    OrderNotFound,
    OrderNotReturnable,
    OutOfStock,
    PaymentFailed,
    PaymentMismatch,
    ProductUnavailable,
    ReturnQuantityExceeded,
    ReturnWindowClosed,
    SessionNotLive,
    TooManyUnits,
    UnknownSku,
)
from livecart.commerce.models import (
    AfterSalesRequest,
    CartItem,
    CategoryReturnRule,
    Order,
    OrderItem,
    Payment,
    Refund,
)
from livecart.commerce.payments import PAYMENT_SUCCEEDED, PaymentProvider
from livecart.commerce.schemas import (
    FAULT_REASONS,
    IDEMPOTENCY_KEY_MAX,
    MAX_UNITS,
    AfterSalesKind,
    AfterSalesPeriod,
    AfterSalesRate,
    AfterSalesRequestIn,
    AfterSalesRequestOut,
    AfterSalesStatus,
    BrandAfterSalesReport,
    CancelReason,
    CartItemOut,
    CartOut,
    CategoryReturnRuleOut,
    OrderItemIn,
    OrderOut,
    OrderStatus,
    ProductAfterSalesRate,
    RefundOut,
    ReturnReason,
    WebhookOut,
)
from livecart.core.clock import Clock
from livecart.core.db import UnitOfWork
from livecart.core.errors import NotFound, PermissionDenied
from livecart.events import service as events
from livecart.events.schemas import EventType
from livecart.live import service as live
from livecart.live.schemas import SessionOrigin, SessionStatus
from livecart.marketing import coupons
from livecart.marketing.errors import CouponNotApplicable
from livecart.marketing.schemas import CouponLine
from livecart.settings import Settings

_KEY_PATTERN = re.compile(rf"^[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_MAX}}}$")
SWEEP_BATCH = 500

Line = tuple[int, int]  # (sku_id, quantity)


# ---------------------------------------------------------------- idempotency


def check_idempotency_key(value: str | None) -> str:
    """The Idempotency-Key header: required, 1..100 visible ASCII characters."""
    if value is None or value == "":
        raise IdempotencyKeyRequired(
            "send an Idempotency-Key header (a fresh random value per purchase attempt)"
        )
    if not _KEY_PATTERN.match(value):
        raise IdempotencyKeyInvalid(
            f"the Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters"
        )
    return value


def merge_lines(items: Iterable[OrderItemIn]) -> list[Line]:
    """Merge repeated SKUs into one line each, sorted by SKU id."""
    merged: dict[int, int] = defaultdict(int)
    for item in items:
        merged[item.sku_id] += item.quantity
    for sku_id, quantity in merged.items():
        if quantity > MAX_UNITS:
            raise TooManyUnits(
                f"at most {MAX_UNITS} units of one SKU per order",
                details={"sku_id": sku_id, "quantity": quantity},
            )
    return sorted(merged.items())


def request_hash(
    lines: Sequence[Line], session_id: int | None, coupon_id: int | None = None
) -> str:
    """sha256 of the canonical order request (merged, sorted lines, the session, the coupon)."""
    request: dict[str, Any] = {"items": [list(line) for line in lines], "session_id": session_id}
    if coupon_id is not None:  # absent otherwise, so hashes of orders without coupons stay
        request["coupon_id"] = coupon_id
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _checkout_prefix(key: str) -> str:
    # Checkout makes one order per brand, each needing its own key under the unique
    # constraint; they share this prefix (hashed so that any key fits the column).
    return f"checkout:{hashlib.sha256(key.encode()).hexdigest()[:40]}:"


# ---------------------------------------------------------------- reading orders


def order_out(order: Order) -> OrderOut:
    """The public view of an order."""
    return OrderOut.model_validate(order)


async def _reload(session: AsyncSession, order_id: int) -> Order:
    order = await session.scalar(
        select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    )
    if order is None:
        raise OrderNotFound("order not found", details={"order_id": order_id})
    return order


def _is_brand_staff(actor: Identity, order: Order) -> bool:
    return order.brand_id in actor.brand_ids


def _can_see(actor: Identity, order: Order) -> bool:
    return order.user_id == actor.id or _is_brand_staff(actor, order) or actor.is_operator


async def _visible_order(session: AsyncSession, actor: Identity, order_id: int) -> Order:
    # Strangers get the same 404 as for a missing order: ids reveal nothing.
    order = await session.get(Order, order_id)
    if order is None or not _can_see(actor, order):
        raise OrderNotFound("order not found", details={"order_id": order_id})
    return order


def _overdue(order: Order, now: datetime) -> bool:
    return order.status == OrderStatus.pending_payment and order.payment_deadline <= now


async def get_order(
    session: AsyncSession, *, clock: Clock, actor: Identity, order_id: int
) -> Order:
    """One order for its buyer, its brand's staff or an operator (else 404); expires it if due."""
    order = await _visible_order(session, actor, order_id)
    if _overdue(order, clock.now()):
        await _cancel(session, order.id, now=clock.now(), reason=CancelReason.payment_timeout)
        order = await _reload(session, order.id)
    return order


async def _expire_listed(session: AsyncSession, orders: Sequence[Order], now: datetime) -> bool:
    expired = False
    for order in orders:
        if _overdue(order, now):
            expired |= await _cancel(
                session, order.id, now=now, reason=CancelReason.payment_timeout
            )
    return expired


async def list_my_orders(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Identity,
    status: OrderStatus | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[OrderOut]:
    """The caller's orders, newest first."""
    stmt = select(Order).where(Order.user_id == actor.id)
    return await _listing(session, stmt, clock=clock, status=status, limit=limit, offset=offset)


async def list_brand_orders(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Identity,
    brand_id: int,
    status: OrderStatus | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[OrderOut]:
    """Orders of a brand, newest first (its merchants and operators)."""
    if brand_id not in actor.brand_ids and not actor.is_operator:
        raise PermissionDenied(
            "only staff of this brand see its orders", details={"brand_id": brand_id}
        )
    stmt = select(Order).where(Order.brand_id == brand_id)
    return await _listing(session, stmt, clock=clock, status=status, limit=limit, offset=offset)


async def _listing(
    session: AsyncSession,
    stmt: Select[Order],
    *,
    clock: Clock,
    status: OrderStatus | None,
    limit: int,
    offset: int,
) -> list[OrderOut]:
    now = clock.now()
    # Overdue orders are expired first, so that a status filter sees them as they really are.
    overdue = (
        await session.scalars(
            stmt.where(
                Order.status == OrderStatus.pending_payment, Order.payment_deadline <= now
            ).limit(SWEEP_BATCH)
        )
    ).all()
    if await _expire_listed(session, overdue, now):
        session.expire_all()
    if status is not None:
        stmt = stmt.where(Order.status == status)
    rows = await session.scalars(
        stmt.order_by(Order.created_at.desc(), Order.id.desc())
        .limit(limit)
        .offset(offset)
        .execution_options(populate_existing=True)
    )
    return [order_out(o) for o in rows.all()]


# ---------------------------------------------------------------- placing orders


@dataclass
class _Draft:
    """One order about to be inserted."""

    brand_id: int
    currency: str
    lines: list[tuple[SkuSnapshot, int]]
    session_id: int | None
    origin: SessionOrigin | None
    key: str
    request_hash: str
    coupon_id: int | None = None
    # Each line's share of the coupon's discount (same order as `lines`); empty: no coupon.
    coupon_shares: list[int] | None = None


def _coupon_lines(draft: _Draft) -> list[CouponLine]:
    return [
        CouponLine(
            product_id=snap.product_id,
            brand_id=snap.brand_id,
            currency=snap.currency,
            amount=snap.price * quantity,
        )
        for snap, quantity in draft.lines
    ]


async def _apply_coupon(
    session: AsyncSession, *, now: datetime, actor: Identity, coupon_id: int, drafts: list[_Draft]
) -> None:
    """Price the coupon on each draft and attach it where it takes the most off."""
    terms = await coupons.coupon_for_checkout(
        session, user_id=actor.id, coupon_id=coupon_id, now=now
    )
    best: tuple[_Draft, list[int]] | None = None
    refused: CouponNotApplicable | None = None
    for draft in drafts:
        try:
            shares = coupons.price(terms, _coupon_lines(draft))
        except CouponNotApplicable as error:
            # "Below the minimum spend" says more than "out of scope": keep that one.
            if refused is None or (error.details or {}).get("reason") != "scope":
                refused = error
            continue
        if best is None or sum(shares) > sum(best[1]):
            best = (draft, shares)
    if best is None:
        assert refused is not None
        raise refused
    best[0].coupon_id, best[0].coupon_shares = terms.id, best[1]


async def _redeem_coupons(
    session: AsyncSession, *, now: datetime, actor: Identity, orders: Sequence[Order]
) -> None:
    for order in orders:
        if order.coupon_id is not None:
            await coupons.redeem(
                session,
                coupon_id=order.coupon_id,
                user_id=actor.id,
                order_id=order.id,
                discount=order.discount,
                now=now,
            )


def _check_snapshots(
    snapshots: dict[int, SkuSnapshot], lines: Sequence[Line]
) -> list[tuple[SkuSnapshot, int]]:
    checked: list[tuple[SkuSnapshot, int]] = []
    for sku_id, quantity in lines:
        snap = snapshots.get(sku_id)
        if snap is None:
            raise UnknownSku("no such SKU", details={"sku_id": sku_id})
        if snap.product_status != ProductStatus.active:
            raise ProductUnavailable("this product is not on sale", details={"sku_id": sku_id})
        checked.append((snap, quantity))
    return checked


async def _live_origin(session: AsyncSession, session_id: int | None) -> SessionOrigin | None:
    if session_id is None:
        return None
    origin = await live.session_origin(session, session_id)
    if origin.status != SessionStatus.live:
        raise SessionNotLive("this live session is not on air", details={"session_id": session_id})
    return origin


async def _insert(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Identity,
    drafts: Sequence[_Draft],
    payment_minutes: int,
) -> list[Order]:
    now = clock.now()
    orders: list[Order] = []
    for draft in drafts:
        shares = draft.coupon_shares or [0] * len(draft.lines)
        order = Order(
            user_id=actor.id,
            brand_id=draft.brand_id,
            status=OrderStatus.pending_payment.value,
            total=sum(snap.price * quantity for snap, quantity in draft.lines) - sum(shares),
            currency=draft.currency,
            discount=sum(shares),
            coupon_id=draft.coupon_id,
            session_id=draft.origin.session_id if draft.origin else None,
            anchor_id=draft.origin.anchor_id if draft.origin else None,
            room_id=draft.origin.room_id if draft.origin else None,
            idempotency_key=draft.key,
            request_hash=draft.request_hash,
            payment_deadline=now + timedelta(minutes=payment_minutes),
            created_at=now,
            items=[
                OrderItem(
                    sku_id=snap.sku_id,
                    product_id=snap.product_id,
                    title=snap.title[:200],
                    quantity=quantity,
                    unit_price=snap.price,
                    currency=snap.currency,
                    discount=share,
                )
                for (snap, quantity), share in zip(draft.lines, shares, strict=True)
            ],
        )
        session.add(order)
        orders.append(order)
    # Inserting first claims the idempotency keys: a duplicate request waits here on the
    # unique constraint instead of queueing for stock it will never use.
    await session.flush()
    return orders


async def _take_stock(session: AsyncSession, lines: Iterable[Line]) -> None:
    for sku_id, quantity in sorted(lines):
        if not await catalog.take_stock(session, sku_id=sku_id, quantity=quantity):
            raise OutOfStock("not enough stock", details={"sku_id": sku_id})


def _order_events(uow: UnitOfWork, sink: events.HasEventSink, order: Order, now: datetime) -> None:
    events.emit_after_commit(
        uow,
        sink,
        *(
            events.new_event(
                EventType.ORDER,
                occurred_at=now,
                consumer_id=order.user_id,
                session_id=order.session_id,
                room_id=order.room_id,
                anchor_id=order.anchor_id,
                product_id=item.product_id,
                sku_id=item.sku_id,
                order_id=order.id,
                quantity=item.quantity,
                amount=item.unit_price * item.quantity,
                currency=item.currency,
            )
            for item in order.items
        ),
    )


async def _winner(uow: UnitOfWork, actor: Identity, key: str) -> Order:
    order = await uow.session.scalar(
        select(Order).where(Order.user_id == actor.id, Order.idempotency_key == key)
    )
    if order is None:
        raise OrderNotFound("order not found")
    return order


def _replay(order: Order, expected_hash: str) -> Order:
    if order.request_hash != expected_hash:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used for a different order; use a fresh key",
            details={"order_id": order.id},
        )
    return order


async def create_order(
    uow: UnitOfWork,
    *,
    clock: Clock,
    sink: events.HasEventSink,
    actor: Identity,
    items: Sequence[OrderItemIn],
    session_id: int | None,
    idempotency_key: str,
    payment_minutes: int,
    coupon_id: int | None = None,
) -> Order:
    """Place one order (or return the one this key already made), redeem its coupon (if one
    is named) and take its stock."""
    session = uow.session
    key = check_idempotency_key(idempotency_key)
    lines = merge_lines(items)
    digest = request_hash(lines, session_id, coupon_id)
    existing = await session.scalar(
        select(Order).where(Order.user_id == actor.id, Order.idempotency_key == key)
    )
    if existing is not None:
        return _replay(existing, digest)
    origin = await _live_origin(session, session_id)
    checked = _check_snapshots(await catalog.sku_snapshots(session, [s for s, _ in lines]), lines)
    if len({snap.brand_id for snap, _ in checked}) > 1:
        raise MixedOrder("one order holds one brand's products; use the cart for several")
    if len({snap.currency for snap, _ in checked}) > 1:
        raise MixedOrder("one order is paid in one currency")
    draft = _Draft(
        brand_id=checked[0][0].brand_id,
        currency=checked[0][0].currency,
        lines=checked,
        session_id=session_id,
        origin=origin,
        key=key,
        request_hash=digest,
    )
    if coupon_id is not None:
        await _apply_coupon(
            session, now=clock.now(), actor=actor, coupon_id=coupon_id, drafts=[draft]
        )
    try:
        (order,) = await _insert(
            session, clock=clock, actor=actor, drafts=[draft], payment_minutes=payment_minutes
        )
    except IntegrityError:
        # Another request with this key committed first: drop ours, answer with theirs.
        await uow.rollback()
        return _replay(await _winner(uow, actor, key), digest)
    # The coupon is taken before the stock: a lost race on it costs no stock lock.
    await _redeem_coupons(session, now=clock.now(), actor=actor, orders=[order])
    await _take_stock(session, lines)
    _order_events(uow, sink, order, clock.now())
    return order


# ---------------------------------------------------------------- flash-sale orders


@dataclass(frozen=True)
class FlashOrderDraft:
    """One flash-sale purchase to be written in a batch (its stock is already held)."""

    user_id: int
    flash_sale_id: int
    sku: SkuSnapshot
    unit_price: int
    quantity: int
    origin: SessionOrigin
    request_hash: str


async def insert_flash_orders(
    session: AsyncSession, drafts: Sequence[FlashOrderDraft], *, now: datetime, deadline: datetime
) -> list[int]:
    """Insert many pending flash-sale orders in two statements; their ids in draft order.

    Stock is not taken here: the flash sale holds the units. The idempotency key is kept by the
    flash sale's reservation, so the order's own key stays empty.
    """
    if not drafts:
        return []
    order_rows = [
        {
            "user_id": d.user_id,
            "brand_id": d.sku.brand_id,
            "status": OrderStatus.pending_payment.value,
            "total": d.unit_price * d.quantity,
            "currency": d.sku.currency,
            "session_id": d.origin.session_id,
            "anchor_id": d.origin.anchor_id,
            "room_id": d.origin.room_id,
            "request_hash": d.request_hash,
            "payment_deadline": deadline,
            "created_at": now,
            "flash_sale_id": d.flash_sale_id,
        }
        for d in drafts
    ]
    result = await session.execute(
        insert(Order).returning(Order.id, sort_by_parameter_order=True), order_rows
    )
    ids = list(result.scalars())
    await session.execute(
        insert(OrderItem),
        [
            {
                "order_id": order_id,
                "sku_id": d.sku.sku_id,
                "product_id": d.sku.product_id,
                "title": d.sku.title[:200],
                "quantity": d.quantity,
                "unit_price": d.unit_price,
                "currency": d.sku.currency,
            }
            for order_id, d in zip(ids, drafts, strict=True)
        ],
    )
    return ids


def flash_order_events(
    uow: UnitOfWork,
    sink: events.HasEventSink,
    drafts: Sequence[FlashOrderDraft],
    ids: Sequence[int],
    now: datetime,
) -> None:
    """Behaviour events of flash-sale orders, written once the batch has committed."""
    events.emit_after_commit(
        uow,
        sink,
        *(
            events.new_event(
                EventType.ORDER,
                occurred_at=now,
                consumer_id=d.user_id,
                session_id=d.origin.session_id,
                room_id=d.origin.room_id,
                anchor_id=d.origin.anchor_id,
                product_id=d.sku.product_id,
                sku_id=d.sku.sku_id,
                order_id=order_id,
                quantity=d.quantity,
                amount=d.unit_price * d.quantity,
                currency=d.sku.currency,
            )
            for d, order_id in zip(drafts, ids, strict=True)
        ),
    )


async def orders_by_id(session: AsyncSession, order_ids: Iterable[int]) -> dict[int, OrderOut]:
    """Orders as their owners see them, by id (flash-sale replies and replays)."""
    ids = sorted(set(order_ids))
    if not ids:
        return {}
    rows = await session.scalars(select(Order).where(Order.id.in_(ids)))
    return {o.id: order_out(o) for o in rows}


async def order_statuses(session: AsyncSession, order_ids: Iterable[int]) -> dict[int, OrderStatus]:
    """The status of each order."""
    ids = sorted(set(order_ids))
    if not ids:
        return {}
    rows = await session.execute(select(Order.id, Order.status).where(Order.id.in_(ids)))
    return {order_id: OrderStatus(status) for order_id, status in rows}


async def cancel_unpaid(
    session: AsyncSession, order_ids: Sequence[int], *, now: datetime, reason: CancelReason
) -> list[int]:
    """Cancel the orders among these that are still unpaid; the ids cancelled now."""
    if not order_ids:
        return []
    won = await session.execute(
        update(Order)
        .where(Order.id.in_(order_ids), Order.status == OrderStatus.pending_payment)
        .values(status=OrderStatus.cancelled.value, cancelled_at=now, cancel_reason=reason.value)
        .returning(Order.id, Order.coupon_id)
        .execution_options(synchronize_session=False)
    )
    cancelled_rows = list(won)
    cancelled = [order_id for order_id, _ in cancelled_rows]
    await _release(session, cancelled)
    # Their coupons can be used again (an expired one stays unusable: expiry is the clock's).
    await coupons.release(session, coupon_ids=[c for _, c in cancelled_rows if c is not None])
    return cancelled


# ---------------------------------------------------------------- cart


async def get_cart(session: AsyncSession, *, actor: Identity) -> CartOut:
    """The caller's cart, priced at today's prices of record."""
    rows = (
        await session.scalars(
            select(CartItem).where(CartItem.user_id == actor.id).order_by(CartItem.id)
        )
    ).all()
    snapshots = await catalog.sku_snapshots(session, [r.sku_id for r in rows])
    items: list[CartItemOut] = []
    for row in rows:
        snap = snapshots.get(row.sku_id)
        if snap is None:
            continue
        items.append(
            CartItemOut(
                sku_id=row.sku_id,
                product_id=snap.product_id,
                brand_id=snap.brand_id,
                title=snap.title,
                quantity=row.quantity,
                unit_price=snap.price,
                currency=snap.currency,
                stock=snap.stock,
                available=snap.product_status == ProductStatus.active
                and snap.stock >= row.quantity,
                session_id=row.session_id,
                added_at=row.added_at,
            )
        )
    currencies = {i.currency for i in items}
    single = len(currencies) == 1
    return CartOut(
        items=items,
        total=sum(i.unit_price * i.quantity for i in items)
        if single
        else (0 if not items else None),
        currency=next(iter(currencies)) if single else None,
    )


async def add_to_cart(
    uow: UnitOfWork,
    *,
    clock: Clock,
    sink: events.HasEventSink,
    actor: Identity,
    sku_id: int,
    quantity: int,
    session_id: int | None,
) -> CartOut:
    """Put a SKU in the cart, or set its quantity when it is there already."""
    session = uow.session
    ((snap, _),) = _check_snapshots(
        await catalog.sku_snapshots(session, [sku_id]), [(sku_id, quantity)]
    )
    origin = await live.session_origin(session, session_id) if session_id is not None else None
    now = clock.now()
    row = await session.scalar(
        select(CartItem).where(CartItem.user_id == actor.id, CartItem.sku_id == sku_id)
    )
    if row is None:
        session.add(
            CartItem(
                user_id=actor.id,
                sku_id=sku_id,
                quantity=quantity,
                session_id=session_id,
                added_at=now,
            )
        )
        try:
            await session.flush()
        except IntegrityError:
            # The same SKU added twice at once (a double click): the other insert won.
            await uow.rollback()
            row = await session.scalar(
                select(CartItem).where(CartItem.user_id == actor.id, CartItem.sku_id == sku_id)
            )
            if row is None:
                raise
    if row is not None:
        row.quantity = quantity
        row.session_id = session_id or row.session_id
        row.added_at = now
        await session.flush()
    events.emit_after_commit(
        uow,
        sink,
        events.new_event(
            EventType.ADD_TO_CART,
            occurred_at=now,
            consumer_id=actor.id,
            session_id=session_id,
            room_id=origin.room_id if origin else None,
            anchor_id=origin.anchor_id if origin else None,
            product_id=snap.product_id,
            sku_id=sku_id,
            quantity=quantity,
            amount=snap.price * quantity,
            currency=snap.currency,
        ),
    )
    return await get_cart(session, actor=actor)


async def remove_from_cart(session: AsyncSession, *, actor: Identity, sku_id: int) -> CartOut:
    """Take a SKU out of the cart (nothing happens when it is not there)."""
    await session.execute(
        delete(CartItem).where(CartItem.user_id == actor.id, CartItem.sku_id == sku_id)
    )
    return await get_cart(session, actor=actor)


async def _origin_or_none(session: AsyncSession, session_id: int | None) -> SessionOrigin | None:
    if session_id is None:
        return None
    try:
        return await live.session_origin(session, session_id)
    except NotFound:  # the session was deleted since; the order simply has no origin
        return None


async def checkout(
    uow: UnitOfWork,
    *,
    clock: Clock,
    sink: events.HasEventSink,
    actor: Identity,
    idempotency_key: str,
    payment_minutes: int,
    coupon_id: int | None = None,
) -> list[Order]:
    """Turn the cart into one order per brand (and currency), redeem the coupon (if one is
    named) on the order where it takes the most off, take the stock, empty the cart."""
    session = uow.session
    prefix = _checkout_prefix(check_idempotency_key(idempotency_key))
    made = await _orders_with_prefix(session, actor, prefix)
    if made:
        return made
    rows = (
        await session.scalars(
            select(CartItem).where(CartItem.user_id == actor.id).order_by(CartItem.added_at.desc())
        )
    ).all()
    if not rows:
        # A concurrent checkout with this key may have committed (and emptied the cart) since
        # the first look: its orders and the empty cart commit together, so look again.
        made = await _orders_with_prefix(session, actor, prefix)
        if made:
            return made
        raise CartEmpty("the cart is empty")
    lines = sorted((r.sku_id, r.quantity) for r in rows)
    checked = _check_snapshots(await catalog.sku_snapshots(session, [s for s, _ in lines]), lines)
    groups: dict[tuple[int, str], list[tuple[SkuSnapshot, int]]] = defaultdict(list)
    for snap, quantity in checked:
        groups[(snap.brand_id, snap.currency)].append((snap, quantity))
    latest_session: dict[tuple[int, str], int | None] = {}
    by_sku = {snap.sku_id: group for group, members in groups.items() for snap, _ in members}
    for row in rows:  # newest first: an order is credited to the last session that sold into it
        group = by_sku[row.sku_id]
        if latest_session.get(group) is None:
            latest_session[group] = row.session_id
    drafts: list[_Draft] = []
    for (brand_id, currency), members in sorted(groups.items()):
        session_id = latest_session.get((brand_id, currency))
        group_lines = [(snap.sku_id, quantity) for snap, quantity in members]
        drafts.append(
            _Draft(
                brand_id=brand_id,
                currency=currency,
                lines=members,
                session_id=session_id,
                origin=await _origin_or_none(session, session_id),
                key=f"{prefix}{brand_id}:{currency}",
                request_hash=request_hash(group_lines, session_id),
            )
        )
    if coupon_id is not None:
        await _apply_coupon(
            session, now=clock.now(), actor=actor, coupon_id=coupon_id, drafts=drafts
        )
    try:
        orders = await _insert(
            session, clock=clock, actor=actor, drafts=drafts, payment_minutes=payment_minutes
        )
    except IntegrityError:
        await uow.rollback()
        made = await _orders_with_prefix(session, actor, prefix)
        if not made:
            raise
        return made
    await _redeem_coupons(session, now=clock.now(), actor=actor, orders=orders)
    await _take_stock(session, lines)
    await session.execute(delete(CartItem).where(CartItem.user_id == actor.id))
    now = clock.now()
    for order in orders:
        _order_events(uow, sink, order, now)
    return orders


async def _orders_with_prefix(session: AsyncSession, actor: Identity, prefix: str) -> list[Order]:
    found = await session.scalars(
        select(Order)
        .where(Order.user_id == actor.id, Order.idempotency_key.startswith(prefix, autoescape=True))
        .order_by(Order.id)
    )
    return list(found.all())


# ---------------------------------------------------------------- state changes

# ship_order, deliver_order, complete_order and cancel_order share this call shape.
OrderStateChange = Callable[..., Awaitable[Order]]


async def _release(session: AsyncSession, order_ids: Sequence[int]) -> None:
    if not order_ids:
        return
    totals: dict[int, int] = defaultdict(int)
    rows = await session.execute(
        select(OrderItem.sku_id, OrderItem.quantity)
        .join(Order, Order.id == OrderItem.order_id)
        # A flash-sale order's units go back to the sale, which the flashsale domain does.
        .where(OrderItem.order_id.in_(order_ids), Order.flash_sale_id.is_(None))
    )
    for sku_id, quantity in rows:
        totals[sku_id] += quantity
    for sku_id in sorted(totals):  # the same order as taking stock: no lock cycles
        await catalog.release_stock(session, sku_id=sku_id, quantity=totals[sku_id])


async def _cancel(
    session: AsyncSession, order_id: int, *, now: datetime, reason: CancelReason
) -> bool:
    """Cancel an unpaid order and give its stock back; False if it was no longer unpaid."""
    return bool(await cancel_unpaid(session, [order_id], now=now, reason=reason))


async def expire_overdue(session: AsyncSession, *, clock: Clock, limit: int = SWEEP_BATCH) -> int:
    """Cancel unpaid orders past their deadline and give their stock back; returns how many."""
    now = clock.now()
    due = (
        await session.scalars(
            select(Order.id)
            .where(Order.status == OrderStatus.pending_payment, Order.payment_deadline <= now)
            .order_by(Order.id)
            .limit(limit)
        )
    ).all()
    return len(await cancel_unpaid(session, due, now=now, reason=CancelReason.payment_timeout))


async def run_expiry_sweep(open_uow: Callable[[], UnitOfWork], *, clock: Clock) -> int:
    """The periodic job: expire overdue orders in a unit of work of its own."""
    async with open_uow() as uow:
        expired = await expire_overdue(uow.session, clock=clock)
        await uow.commit()
    return expired


async def _step(
    session: AsyncSession,
    order: Order,
    *,
    action: str,
    source: OrderStatus,
    target: OrderStatus,
    stamp: str,
    now: datetime,
) -> Order:
    moved = await session.scalar(
        update(Order)
        .where(Order.id == order.id, Order.status == source)
        .values({"status": target.value, stamp: now})
        .returning(Order.id)
        .execution_options(synchronize_session=False)
    )
    if moved is None:
        current = await _reload(session, order.id)
        raise InvalidTransition(
            f"an order can be {action} only when {source.value}",
            details={"order_id": order.id, "status": current.status, "action": action},
        )
    return await _reload(session, order.id)


async def ship_order(
    session: AsyncSession, *, clock: Clock, actor: Identity, order_id: int
) -> Order:
    """paid -> shipped (a merchant of the order's brand)."""
    order = await _visible_order(session, actor, order_id)
    if not _is_brand_staff(actor, order):
        raise PermissionDenied("only the brand's merchants ship its orders")
    return await _step(
        session,
        order,
        action="shipped",
        source=OrderStatus.paid,
        target=OrderStatus.shipped,
        stamp="shipped_at",
        now=clock.now(),
    )


async def deliver_order(
    session: AsyncSession, *, clock: Clock, actor: Identity, order_id: int
) -> Order:
    """shipped -> delivered (the brand's merchants or an operator, standing in for the carrier)."""
    order = await _visible_order(session, actor, order_id)
    if not (_is_brand_staff(actor, order) or actor.is_operator):
        raise PermissionDenied("only the brand's merchants or operators mark deliveries")
    return await _step(
        session,
        order,
        action="delivered",
        source=OrderStatus.shipped,
        target=OrderStatus.delivered,
        stamp="delivered_at",
        now=clock.now(),
    )


async def complete_order(
    session: AsyncSession, *, clock: Clock, actor: Identity, order_id: int
) -> Order:
    """delivered -> completed (the buyer confirms receipt)."""
    order = await _visible_order(session, actor, order_id)
    if order.user_id != actor.id:
        raise PermissionDenied("only the buyer confirms receipt")
    return await _step(
        session,
        order,
        action="completed",
        source=OrderStatus.delivered,
        target=OrderStatus.completed,
        stamp="completed_at",
        now=clock.now(),
    )


async def cancel_order(
    session: AsyncSession, *, clock: Clock, actor: Identity, order_id: int
) -> Order:
    """pending_payment -> cancelled by the buyer; the stock goes back on sale."""
    order = await _visible_order(session, actor, order_id)
    if order.user_id != actor.id:
        raise PermissionDenied("only the buyer cancels an order")
    now = clock.now()
    reason = CancelReason.payment_timeout if _overdue(order, now) else CancelReason.buyer
    if not await _cancel(session, order.id, now=now, reason=reason):
        current = await _reload(session, order.id)
        raise InvalidTransition(
            "only unpaid orders can be cancelled",
            details={"order_id": order.id, "status": current.status, "action": "cancelled"},
        )
    return await _reload(session, order.id)


# ---------------------------------------------------------------- payments


async def pay_order(
    uow: UnitOfWork,
    *,
    clock: Clock,
    provider: PaymentProvider,
    sink: events.HasEventSink,
    actor: Identity,
    order_id: int,
) -> Order:
    """Charge the buyer through the provider; its signed webhook marks the order paid.

    Raises OrderExpired after cancelling an overdue order, and PaymentFailed after recording a
    declined charge: the caller should commit what was recorded before answering.
    """
    session = uow.session
    order = await _visible_order(session, actor, order_id)
    if order.user_id != actor.id:
        raise OrderNotFound("order not found", details={"order_id": order_id})
    now = clock.now()
    if _overdue(order, now):
        await _cancel(session, order.id, now=now, reason=CancelReason.payment_timeout)
        raise OrderExpired("the time to pay this order has run out", details={"order_id": order.id})
    if order.status == OrderStatus.cancelled:
        raise OrderExpired("this order was cancelled", details={"order_id": order.id})
    if order.status != OrderStatus.pending_payment:
        raise AlreadyPaid("this order is paid already", details={"order_id": order.id})
    charge = await provider.charge(order_id=order.id, amount=order.total, currency=order.currency)
    await apply_webhook(
        uow,
        clock=clock,
        provider=provider,
        sink=sink,
        body=charge.webhook_body,
        signature=charge.webhook_signature,
    )
    order = await _reload(session, order.id)
    if charge.status != "succeeded":
        raise PaymentFailed("the payment was declined", details={"order_id": order.id})
    if order.status != OrderStatus.paid:
        # The expiry sweep cancelled it between our check and the charge.
        raise OrderExpired("this order was cancelled", details={"order_id": order.id})
    return order


async def apply_webhook(
    uow: UnitOfWork,
    *,
    clock: Clock,
    provider: PaymentProvider,
    sink: events.HasEventSink,
    body: bytes,
    signature: str | None,
) -> WebhookOut:
    """Apply a provider's signed webhook; the same webhook twice changes nothing more."""
    session = uow.session
    event = provider.verify_webhook(body, signature)
    known = await session.scalar(
        select(Payment.id).where(
            Payment.provider == provider.name, Payment.reference == event.reference
        )
    )
    if known is not None:
        return await _duplicate(session, event.order_id)
    order = await session.get(Order, event.order_id)
    if order is None:
        raise OrderNotFound("order not found", details={"order_id": event.order_id})
    succeeded = event.type == PAYMENT_SUCCEEDED
    if succeeded and (event.amount != order.total or event.currency != order.currency):
        raise PaymentMismatch(
            "the payment does not match the order's total",
            details={"order_id": order.id, "amount": event.amount, "currency": event.currency},
        )
    now = clock.now()
    payment = Payment(
        order_id=order.id,
        provider=provider.name,
        reference=event.reference,
        amount=event.amount,
        currency=event.currency,
        status="succeeded" if succeeded else "failed",
        created_at=now,
    )
    session.add(payment)
    try:
        await session.flush()
    except IntegrityError:
        # The same webhook, delivered twice at once: the other delivery recorded it.
        await uow.rollback()
        return await _duplicate(session, event.order_id)
    if not succeeded:
        return WebhookOut(
            received=True, order_id=order.id, status=OrderStatus(order.status), duplicate=False
        )
    paid = await session.scalar(
        update(Order)
        .where(Order.id == order.id, Order.status == OrderStatus.pending_payment)
        .values(status=OrderStatus.paid.value, paid_at=now)
        .returning(Order.id)
        .execution_options(synchronize_session=False)
    )
    order = await _reload(session, order.id)
    if paid is not None:
        await _record_payment(uow, sink, order, now)
    elif order.status == OrderStatus.cancelled:
        # The money came after the order was cancelled (its deadline passed): it goes back.
        await _refund_late_payment(session, clock=clock, provider=provider, payment=payment)
    return WebhookOut(
        received=True, order_id=order.id, status=OrderStatus(order.status), duplicate=False
    )


async def _duplicate(session: AsyncSession, order_id: int) -> WebhookOut:
    order = await session.get(Order, order_id)
    return WebhookOut(
        received=True,
        order_id=order_id,
        status=OrderStatus(order.status) if order else None,
        duplicate=True,
    )


async def _record_payment(
    uow: UnitOfWork, sink: events.HasEventSink, order: Order, now: datetime
) -> None:
    events.emit_after_commit(
        uow,
        sink,
        events.new_event(
            EventType.PAYMENT,
            occurred_at=now,
            consumer_id=order.user_id,
            session_id=order.session_id,
            room_id=order.room_id,
            anchor_id=order.anchor_id,
            order_id=order.id,
            quantity=sum(i.quantity for i in order.items),
            amount=order.total,
            currency=order.currency,
        ),
    )
    if order.session_id is None:
        return
    names = await accounts.display_names(uow.session, {order.user_id} if order.user_id else set())
    first = order.items[0].title if order.items else ""
    more = len(order.items) - 1
    await live.record_sale(
        uow,
        session_id=order.session_id,
        order_id=order.id,
        amount=order.total,
        currency=order.currency,
        buyer_name=names.get(order.user_id or 0, ""),
        product_title=f"{first} and {more} more" if more > 0 else first,
        quantity=sum(i.quantity for i in order.items),
        at=now,
    )


async def personal_data(session: AsyncSession, user_id: int) -> PersonalRows:
    """A user's cart, orders, order items, payments, after-sales requests and refunds."""
    theirs = select(Order.id).where(Order.user_id == user_id)
    return await accounts.collect_rows(
        session,
        {
            "cart_items": select(CartItem.__table__).where(CartItem.user_id == user_id),
            "orders": select(Order.__table__).where(Order.user_id == user_id),
            "order_items": select(OrderItem.__table__).where(OrderItem.order_id.in_(theirs)),
            "payments": select(Payment.__table__).where(Payment.order_id.in_(theirs)),
            "after_sales_requests": select(AfterSalesRequest.__table__).where(
                AfterSalesRequest.user_id == user_id
            ),
            "refunds": select(Refund.__table__).where(Refund.order_id.in_(theirs)),
        },
    )


async def erase_personal_data(session: AsyncSession, user_id: int) -> None:
    """For a deleted account: the cart goes; orders, payments, after-sales requests and
    refunds stay for the accounts, without what the buyer wrote or showed as evidence."""
    await session.execute(delete(CartItem).where(CartItem.user_id == user_id))
    await session.execute(
        update(AfterSalesRequest)
        .where(AfterSalesRequest.user_id == user_id)
        .values(text="", evidence=[])
        .execution_options(synchronize_session=False)
    )


# ---------------------------------------------------------------- after-sales: rules

# A category whose name holds one of these takes no 7-day no-reason return unless an operator's
# rule says otherwise: perishable, made for one buyer, or consumed on delivery (digital).
NO_REASON_EXCLUDED_WORDS = (
    "fresh",
    "food",
    "grocery",
    "perishable",
    "custom",
    "personalised",
    "personalized",
    "made to order",
    "digital",
    "virtual",
    "gift card",
    "software",
    "生鲜",
    "食品",
    "定制",
    "数字",
    "虚拟",
)
AUTO_APPROVAL_REASON = (
    "approved automatically: the merchant did not answer within the {hours:g} h SLA"
)


@dataclass(frozen=True)
class AfterSalesPolicy:
    """The windows and the answer SLA a request is held to (from settings)."""

    no_reason_days: int = 7
    fault_days: int = 15
    answer_hours: float = 48.0


def after_sales_policy(settings: Settings) -> AfterSalesPolicy:
    """The policy the settings describe (`LIVECART_NO_REASON_RETURN_DAYS` and the others)."""
    return AfterSalesPolicy(
        no_reason_days=settings.no_reason_return_days,
        fault_days=settings.fault_return_days,
        answer_hours=settings.after_sales_answer_hours,
    )


def default_no_reason_returns(category: str) -> bool:
    """The built-in rule for a category without an operator's rule."""
    name = category.casefold()
    return not any(word in name for word in NO_REASON_EXCLUDED_WORDS)


async def category_return_rule(session: AsyncSession, category: str) -> CategoryReturnRuleOut:
    """Whether a category takes no-reason returns: the operator's rule, else the default."""
    row = await session.get(CategoryReturnRule, category)
    if row is None:
        return CategoryReturnRuleOut(
            category=category,
            no_reason_returns=default_no_reason_returns(category),
            note="",
            default=True,
        )
    return CategoryReturnRuleOut(
        category=row.category, no_reason_returns=row.no_reason_returns, note=row.note, default=False
    )


async def list_category_return_rules(session: AsyncSession) -> list[CategoryReturnRuleOut]:
    """The operators' rules (categories without one follow the default)."""
    rows = await session.scalars(select(CategoryReturnRule).order_by(CategoryReturnRule.category))
    return [
        CategoryReturnRuleOut(
            category=r.category, no_reason_returns=r.no_reason_returns, note=r.note, default=False
        )
        for r in rows
    ]


async def set_category_return_rule(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Identity,
    category: str,
    no_reason_returns: bool,
    note: str,
) -> CategoryReturnRuleOut:
    """Set whether a category takes 7-day no-reason returns (operators)."""
    if not actor.is_operator:
        raise PermissionDenied("only operators set return rules")
    row = await session.get(CategoryReturnRule, category)
    if row is None:
        row = CategoryReturnRule(category=category)
        session.add(row)
    row.no_reason_returns = no_reason_returns
    row.note = note
    row.updated_at = clock.now()
    row.updated_by = actor.id
    await session.flush()
    return await category_return_rule(session, category)


# ---------------------------------------------------------------- after-sales: requests


def after_sales_out(request: AfterSalesRequest) -> AfterSalesRequestOut:
    """The public view of an after-sales request."""
    return AfterSalesRequestOut.model_validate(request)


async def _visible_request(
    session: AsyncSession, actor: Identity, request_id: int
) -> AfterSalesRequest:
    request = await session.get(AfterSalesRequest, request_id)
    if request is None or not (
        request.user_id == actor.id or request.brand_id in actor.brand_ids or actor.is_operator
    ):
        raise AfterSalesNotFound("after-sales request not found", details={"id": request_id})
    return request


async def _reload_request(session: AsyncSession, request_id: int) -> AfterSalesRequest:
    request = await session.scalar(
        select(AfterSalesRequest)
        .where(AfterSalesRequest.id == request_id)
        .execution_options(populate_existing=True)
    )
    if request is None:
        raise AfterSalesNotFound("after-sales request not found", details={"id": request_id})
    return request


def _window(order: Order, policy: AfterSalesPolicy, reason: ReturnReason) -> tuple[datetime, int]:
    start = order.delivered_at or order.paid_at
    assert start is not None  # delivered and completed orders were paid and delivered
    days = policy.no_reason_days if reason == ReturnReason.no_reason else policy.fault_days
    return start, days


def refund_share(line_paid: int, line_units: int, earlier_units: int, units: int) -> int:
    """What `units` more units of a line give back: the line's paid amount (after its coupon
    share) split by units, as floor(paid x (earlier + units) / n) - floor(paid x earlier / n),
    so the slices of a line add up to exactly what was paid for it."""
    return (line_paid * (earlier_units + units)) // line_units - (
        line_paid * earlier_units
    ) // line_units


async def create_after_sales_request(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Identity,
    order_id: int,
    body: AfterSalesRequestIn,
    policy: AfterSalesPolicy,
) -> AfterSalesRequest:
    """A buyer asks to return (delivered) or be refunded (paid, not shipped) on one line.

    Delivered and completed orders: a return, within `no_reason_days` of delivery for no
    reason (if the category allows) or `fault_days` for a fault. Paid orders not yet shipped:
    a refund only, any reason, no window (nothing left the warehouse). Shipped: wait for it.
    """
    order = await _visible_order(session, actor, order_id)
    if order.user_id != actor.id:
        raise OrderNotFound("order not found", details={"order_id": order_id})
    # An order holds one line per SKU (lines are merged when it is placed).
    item = next((i for i in order.items if i.sku_id == body.sku_id), None)
    if item is None:
        raise OrderItemNotFound("no such line in this order", details={"sku_id": body.sku_id})
    now = clock.now()
    status = OrderStatus(order.status)
    if status == OrderStatus.shipped:
        raise OrderInTransit(
            "the goods are on their way: ask once they are delivered",
            details={"order_id": order.id},
        )
    if status == OrderStatus.paid:
        kind = AfterSalesKind.refund_only
    elif status in (OrderStatus.delivered, OrderStatus.completed):
        kind = AfterSalesKind.return_refund
        start, days = _window(order, policy, body.reason)
        if now > start + timedelta(days=days):
            raise ReturnWindowClosed(
                f"{'no-reason' if body.reason == ReturnReason.no_reason else 'fault'} returns "
                f"are taken within {days} days of delivery",
                details={"order_id": order.id, "delivered_at": start.isoformat(), "days": days},
            )
        if body.reason == ReturnReason.no_reason:
            category = (await catalog.product_cards(session, [item.product_id]))[
                item.product_id
            ].category
            rule = await category_return_rule(session, category)
            if not rule.no_reason_returns:
                raise NoReasonReturnNotAllowed(
                    "this product's category takes no no-reason returns; give the fault",
                    details={"category": category},
                )
    else:
        raise OrderNotReturnable(
            "only paid orders can be returned or refunded",
            details={"order_id": order.id, "status": order.status},
        )
    asked = await session.scalar(
        select(func.coalesce(func.sum(AfterSalesRequest.quantity), 0)).where(
            AfterSalesRequest.order_item_id == item.id,
            AfterSalesRequest.status != AfterSalesStatus.rejected.value,
        )
    )
    if int(asked or 0) + body.quantity > item.quantity:
        raise ReturnQuantityExceeded(
            "more units than the line holds (counting earlier requests)",
            details={"order_item_id": item.id, "bought": item.quantity, "asked": int(asked or 0)},
        )
    request = AfterSalesRequest(
        order_id=order.id,
        order_item_id=item.id,
        user_id=actor.id,
        brand_id=order.brand_id,
        product_id=item.product_id,
        kind=kind.value,
        reason=body.reason.value,
        text=body.text,
        evidence=list(body.evidence),
        quantity=body.quantity,
        amount=refund_share(
            item.unit_price * item.quantity - item.discount,
            item.quantity,
            int(asked or 0),
            body.quantity,
        ),
        currency=item.currency,
        status=AfterSalesStatus.requested.value,
        requested_at=now,
        answer_due_at=now + timedelta(hours=policy.answer_hours),
        auto_approved=False,
    )
    session.add(request)
    await session.flush()
    return request


async def get_after_sales_request(
    session: AsyncSession, *, actor: Identity, request_id: int
) -> AfterSalesRequest:
    """One request for its buyer, the brand's staff or an operator (else 404)."""
    return await _visible_request(session, actor, request_id)


async def list_my_after_sales(
    session: AsyncSession, *, actor: Identity, order_ids: Sequence[int] | None = None
) -> list[AfterSalesRequestOut]:
    """The caller's requests, newest first (optionally of some orders only)."""
    stmt = select(AfterSalesRequest).where(AfterSalesRequest.user_id == actor.id)
    if order_ids is not None:
        stmt = stmt.where(AfterSalesRequest.order_id.in_(list(order_ids)))
    rows = await session.scalars(
        stmt.order_by(AfterSalesRequest.requested_at.desc(), AfterSalesRequest.id.desc())
    )
    return [after_sales_out(r) for r in rows]


async def list_brand_after_sales(
    session: AsyncSession,
    *,
    actor: Identity,
    brand_id: int,
    status: AfterSalesStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AfterSalesRequestOut]:
    """A brand's requests: open ones first by answer deadline, then the rest newest first."""
    if brand_id not in actor.brand_ids and not actor.is_operator:
        raise PermissionDenied(
            "only staff of this brand see its after-sales", details={"brand_id": brand_id}
        )
    stmt = select(AfterSalesRequest).where(AfterSalesRequest.brand_id == brand_id)
    if status is not None:
        stmt = stmt.where(AfterSalesRequest.status == status.value)
    open_first = (AfterSalesRequest.status != AfterSalesStatus.requested.value).asc()
    rows = await session.scalars(
        stmt.order_by(
            open_first, AfterSalesRequest.answer_due_at.asc(), AfterSalesRequest.id.desc()
        )
        .limit(limit)
        .offset(offset)
    )
    return [after_sales_out(r) for r in rows]


async def _move(
    session: AsyncSession,
    request_id: int,
    *,
    source: AfterSalesStatus,
    target: AfterSalesStatus,
    values: dict[str, Any],
) -> bool:
    moved = await session.scalar(
        update(AfterSalesRequest)
        .where(AfterSalesRequest.id == request_id, AfterSalesRequest.status == source.value)
        .values(status=target.value, **values)
        .returning(AfterSalesRequest.id)
        .execution_options(synchronize_session=False)
    )
    return moved is not None


async def _restore_stock(session: AsyncSession, request: AfterSalesRequest) -> None:
    item = await session.get(OrderItem, request.order_item_id)
    assert item is not None  # the foreign key holds it
    # Flash-sale units come back to the SKU too: the sale is long over when goods return.
    await catalog.release_stock(session, sku_id=item.sku_id, quantity=request.quantity)


async def _approve(
    session: AsyncSession,
    request: AfterSalesRequest,
    *,
    clock: Clock,
    provider: PaymentProvider,
    answered_by: int | None,
    reason: str,
    auto: bool,
) -> bool:
    """Approve a request still waiting for an answer; False if someone answered first."""
    now = clock.now()
    answer = {
        "answered_at": now,
        "answered_by": answered_by,
        "answer_reason": reason,
        "auto_approved": auto,
    }
    if request.kind == AfterSalesKind.return_refund:
        return await _move(
            session,
            request.id,
            source=AfterSalesStatus.requested,
            target=AfterSalesStatus.awaiting_return,
            values=answer,
        )
    # Refund only: the goods never left, so the units and the money go back at once.
    if not await _move(
        session,
        request.id,
        source=AfterSalesStatus.requested,
        target=AfterSalesStatus.refunded,
        values={**answer, "refunded_at": now},
    ):
        return False
    await _restore_stock(session, request)
    await _refund_request(session, request, clock=clock, provider=provider)
    return True


async def answer_after_sales_request(
    session: AsyncSession,
    *,
    clock: Clock,
    provider: PaymentProvider,
    actor: Identity,
    request_id: int,
    approve: bool,
    reason: str,
) -> AfterSalesRequest:
    """The brand's merchant approves or rejects (with a reason) a waiting request."""
    request = await _visible_request(session, actor, request_id)
    if request.brand_id not in actor.brand_ids:
        raise PermissionDenied("only the brand's merchants answer its after-sales")
    reason = reason.strip()
    if approve:
        done = await _approve(
            session,
            request,
            clock=clock,
            provider=provider,
            answered_by=actor.id,
            reason=reason,
            auto=False,
        )
    else:
        if not reason:
            raise AnswerReasonRequired("a rejection needs a reason the buyer can read")
        done = await _move(
            session,
            request.id,
            source=AfterSalesStatus.requested,
            target=AfterSalesStatus.rejected,
            values={"answered_at": clock.now(), "answered_by": actor.id, "answer_reason": reason},
        )
    if not done:
        current = await _reload_request(session, request.id)
        raise InvalidTransition(
            "this request was answered already",
            details={"id": request.id, "status": current.status, "action": "answer"},
        )
    return await _reload_request(session, request.id)


async def receive_returned_goods(
    session: AsyncSession,
    *,
    clock: Clock,
    provider: PaymentProvider,
    actor: Identity,
    request_id: int,
) -> AfterSalesRequest:
    """The merchant has the goods back: the units return to stock and the money is refunded.

    Idempotent: a request already refunded is answered as it is, with its one refund.
    """
    request = await _visible_request(session, actor, request_id)
    if request.brand_id not in actor.brand_ids:
        raise PermissionDenied("only the brand's merchants receive its returns")
    now = clock.now()
    if await _move(
        session,
        request.id,
        source=AfterSalesStatus.awaiting_return,
        target=AfterSalesStatus.refunded,
        values={"goods_received_at": now, "refunded_at": now},
    ):
        await _restore_stock(session, request)
        await _refund_request(session, request, clock=clock, provider=provider)
    else:
        current = await _reload_request(session, request.id)
        if current.status != AfterSalesStatus.refunded:
            raise InvalidTransition(
                "goods come back only for an approved return",
                details={"id": request.id, "status": current.status, "action": "receive"},
            )
        await _refund_request(session, current, clock=clock, provider=provider)
    return await _reload_request(session, request.id)


async def approve_overdue_requests(
    session: AsyncSession,
    *,
    clock: Clock,
    provider: PaymentProvider,
    answer_hours: float,
    limit: int = SWEEP_BATCH,
) -> int:
    """Approve requests whose merchant let the SLA pass (consumer-friendly); how many."""
    now = clock.now()
    due = (
        await session.scalars(
            select(AfterSalesRequest)
            .where(
                AfterSalesRequest.status == AfterSalesStatus.requested.value,
                AfterSalesRequest.answer_due_at <= now,
            )
            .order_by(AfterSalesRequest.answer_due_at, AfterSalesRequest.id)
            .limit(limit)
        )
    ).all()
    approved = 0
    for request in due:
        approved += await _approve(
            session,
            request,
            clock=clock,
            provider=provider,
            answered_by=None,
            reason=AUTO_APPROVAL_REASON.format(hours=answer_hours),
            auto=True,
        )
    return approved


async def run_after_sales_sweep(
    open_uow: Callable[[], UnitOfWork],
    *,
    clock: Clock,
    provider: PaymentProvider,
    answer_hours: float,
) -> int:
    """The periodic job: auto-approve overdue requests in a unit of work of its own."""
    async with open_uow() as uow:
        approved = await approve_overdue_requests(
            uow.session, clock=clock, provider=provider, answer_hours=answer_hours
        )
        await uow.commit()
    return approved


# ---------------------------------------------------------------- after-sales: refunds


def refund_out(refund: Refund) -> RefundOut:
    """The public view of a refund."""
    return RefundOut.model_validate(refund)


async def _refund_request(
    session: AsyncSession, request: AfterSalesRequest, *, clock: Clock, provider: PaymentProvider
) -> Refund:
    payment = await session.scalar(
        select(Payment)
        .where(Payment.order_id == request.order_id, Payment.status == "succeeded")
        .order_by(Payment.id)
        .limit(1)
    )
    if payment is None:
        raise NothingToRefund("this order has no payment", details={"order_id": request.order_id})
    return await refund_once(
        session,
        clock=clock,
        provider=provider,
        payment=payment,
        amount=request.amount,
        key=f"after-sales:{request.id}",
        cause="after_sales",
        request_id=request.id,
    )


async def refund_once(
    session: AsyncSession,
    *,
    clock: Clock,
    provider: PaymentProvider,
    payment: Payment,
    amount: int,
    key: str,
    cause: str,
    request_id: int | None,
) -> Refund:
    """Refund part of a payment under an idempotency key: a retry returns the first refund.

    The key goes to the provider too, so a refund the provider made but whose record was
    rolled back here is answered, not made again, on the retry; `refunds.idempotency_key` is
    unique, so two workers cannot both record one.
    """
    known = await session.scalar(select(Refund).where(Refund.idempotency_key == key))
    if known is not None:
        return known
    refunded = await session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(Refund.payment_id == payment.id)
    )
    if amount <= 0 or int(refunded or 0) + amount > payment.amount:
        raise NothingToRefund(
            "refunds may not exceed the payment",
            details={"payment_id": payment.id, "refunded": int(refunded or 0), "asked": amount},
        )
    answer = await provider.refund(
        payment_reference=payment.reference,
        amount=amount,
        currency=payment.currency,
        idempotency_key=key,
    )
    refund = Refund(
        order_id=payment.order_id,
        payment_id=payment.id,
        request_id=request_id,
        cause=cause,
        idempotency_key=key,
        provider=provider.name,
        reference=answer.reference,
        amount=answer.amount,
        currency=answer.currency,
        status=answer.status,
        created_at=clock.now(),
    )
    session.add(refund)
    await session.flush()
    return refund


async def order_refunds(
    session: AsyncSession, *, actor: Identity, order_id: int
) -> list[RefundOut]:
    """Refunds of an order (its buyer, the brand's staff, operators)."""
    await _visible_order(session, actor, order_id)
    rows = await session.scalars(
        select(Refund).where(Refund.order_id == order_id).order_by(Refund.id)
    )
    return [refund_out(r) for r in rows]


async def _refund_late_payment(
    session: AsyncSession, *, clock: Clock, provider: PaymentProvider, payment: Payment
) -> Refund:
    """A payment that arrived after its order was cancelled goes straight back."""
    return await refund_once(
        session,
        clock=clock,
        provider=provider,
        payment=payment,
        amount=payment.amount,
        key=f"late-payment:{payment.provider}:{payment.reference}",
        cause="late_payment",
        request_id=None,
    )


# ---------------------------------------------------------------- after-sales rates

RateGroup = Literal["product", "brand", "anchor", "session"]
_ORDER_KEYS: dict[str, Any] = {
    "brand": Order.brand_id,
    "anchor": Order.anchor_id,
    "session": Order.session_id,
}


@dataclass(frozen=True)
class _Counts:
    orders: dict[int, int]
    returns: dict[int, int]
    complaints: dict[int, int]


async def _rate_counts(
    session: AsyncSession,
    *,
    group_by: RateGroup,
    since: datetime | None,
    until: datetime | None = None,
    brand_id: int | None = None,
) -> _Counts:
    paid: list[ColumnElement[bool]] = [Order.paid_at.is_not(None)]
    if since is not None:
        paid.append(Order.paid_at >= since)
    if until is not None:
        paid.append(Order.paid_at < until)
    if brand_id is not None:
        paid.append(Order.brand_id == brand_id)
    if group_by == "product":
        order_key: Any = OrderItem.product_id
        orders_stmt = (
            select(order_key, func.count(distinct(Order.id)))
            .join(Order, Order.id == OrderItem.order_id)
            .where(*paid)
            .group_by(order_key)
        )
        request_key: Any = AfterSalesRequest.product_id
    else:
        order_key = _ORDER_KEYS[group_by]
        orders_stmt = (
            select(order_key, func.count(Order.id))
            .where(*paid, order_key.is_not(None))
            .group_by(order_key)
        )
        request_key = order_key
    base = (
        select(request_key, func.count(distinct(AfterSalesRequest.order_id)))
        .join(Order, Order.id == AfterSalesRequest.order_id)
        .where(*paid, request_key.is_not(None))
        .group_by(request_key)
    )
    returns_stmt = base.where(AfterSalesRequest.status != AfterSalesStatus.rejected.value)
    complaints_stmt = base.where(AfterSalesRequest.reason.in_([r.value for r in FAULT_REASONS]))
    return _Counts(
        orders={int(k): int(n) for k, n in await session.execute(orders_stmt)},
        returns={int(k): int(n) for k, n in await session.execute(returns_stmt)},
        complaints={int(k): int(n) for k, n in await session.execute(complaints_stmt)},
    )


def _rates_of(counts: _Counts) -> list[AfterSalesRate]:
    rates: list[AfterSalesRate] = []
    for key in sorted(counts.orders):
        orders = counts.orders[key]
        returns, complaints = counts.returns.get(key, 0), counts.complaints.get(key, 0)
        rates.append(
            AfterSalesRate(
                key=key,
                orders=orders,
                returns=returns,
                complaints=complaints,
                return_rate=returns / orders,
                complaint_rate=complaints / orders,
            )
        )
    return rates


async def after_sales_rates(
    session: AsyncSession, *, group_by: RateGroup, since: datetime | None
) -> list[AfterSalesRate]:
    """Return and complaint rates per product, brand, anchor or live session, by key.

    Orders are paid orders (`paid_at` set, and at or after `since` when given); anchors and
    sessions come from the order's attribution (`orders.anchor_id`, `orders.session_id`, set
    when it was placed in a live session), so orders placed outside a session count only for
    products and brands. A return is an order with a request that was not rejected; a
    complaint an order with a request giving a fault reason, whatever its outcome.
    """
    return _rates_of(await _rate_counts(session, group_by=group_by, since=since))


def _period(start: datetime, end: datetime, counts: _Counts, brand_id: int) -> AfterSalesPeriod:
    orders = counts.orders.get(brand_id, 0)
    returns, complaints = counts.returns.get(brand_id, 0), counts.complaints.get(brand_id, 0)
    return AfterSalesPeriod(
        start=start,
        end=end,
        orders=orders,
        returns=returns,
        complaints=complaints,
        return_rate=returns / orders if orders else 0.0,
        complaint_rate=complaints / orders if orders else 0.0,
    )


async def brand_after_sales_report(
    session: AsyncSession, *, clock: Clock, brand_id: int, weeks: int = 12
) -> BrandAfterSalesReport:
    """The brand scorecard's after-sales part: the last `weeks` weeks, by product and week.

    Weeks end at the next UTC midnight, so a week's bars stay put during a day.
    """
    now = clock.now()
    until = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    since = until - timedelta(weeks=weeks)
    totals = await _rate_counts(
        session, group_by="brand", since=since, until=until, brand_id=brand_id
    )
    by_product = _rates_of(
        await _rate_counts(session, group_by="product", since=since, until=until, brand_id=brand_id)
    )
    cards = await catalog.product_cards(session, [r.key for r in by_product])
    products = [
        ProductAfterSalesRate(
            **rate.model_dump(), title=cards[rate.key].title if rate.key in cards else "?"
        )
        for rate in by_product
    ]
    periods: list[AfterSalesPeriod] = []
    for week in range(weeks):
        start = since + timedelta(weeks=week)
        end = start + timedelta(weeks=1)
        counts = await _rate_counts(
            session, group_by="brand", since=start, until=end, brand_id=brand_id
        )
        periods.append(_period(start, end, counts, brand_id))
    open_now = AfterSalesRequest.status == AfterSalesStatus.requested.value
    mine = AfterSalesRequest.brand_id == brand_id
    open_requests = await session.scalar(select(func.count()).where(mine, open_now))
    overdue = await session.scalar(
        select(func.count()).where(mine, open_now, AfterSalesRequest.answer_due_at <= now)
    )
    refunded = await session.execute(
        select(Refund.currency, func.sum(Refund.amount))
        .join(Order, Order.id == Refund.order_id)
        .where(Order.brand_id == brand_id, Refund.created_at >= since)
        .group_by(Refund.currency)
    )
    return BrandAfterSalesReport(
        brand_id=brand_id,
        since=since,
        until=until,
        totals=_period(since, until, totals, brand_id),
        products=products,
        weeks=periods,
        open_requests=int(open_requests or 0),
        overdue_requests=int(overdue or 0),
        refunded_amount={str(c): int(a) for c, a in refunded},
    )
