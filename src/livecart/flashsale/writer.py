"""Group commit: purchases that took stock in the store are written in batches.

One task drains a queue: it takes every purchase waiting (up to `batch_max`), writes them in
one transaction, settles them in the stock store and only then answers each buyer, so a 201
always means the order is durable, and a burst costs one transaction per batch rather than one
per order. While a batch commits, the next one gathers.

Inside the transaction the database re-checks what the store decided, so the store can never
oversell even if it is wrong (rebuilt after a Redis flush, a worker killed mid-batch):

1. a key already in `flash_reservations` is a replay: answer with its order (looked up only
   when a first attempt failed on the reservations' unique key: the store checks keys);
2. `UPDATE flash_sales SET sold = sold + n WHERE sold + returned + n <= quantity` (and
   `status = 'sold_out'` when those are the last units), one row update per batch; when short,
   take what fits in arrival order, the rest is sold out;
3. an upsert of `flash_holdings` with `quantity + new <= per_user_limit` per buyer;
4. orders, their items and the reservations in three multi-row inserts.

Before any of that, one query reads the sanctions in force over the batch's sales, products,
rooms and anchors: a sale frozen (or its product delisted, its room or anchor suspended) on any
worker refuses every purchase written after the sanction committed, whatever a worker's cached
view of the sale still says (`flash_sale_frozen`, `product_delisted`, ...).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.catalog.schemas import SkuSnapshot
from livecart.commerce import service as commerce
from livecart.commerce.schemas import OrderItemOut, OrderOut, OrderStatus
from livecart.core.clock import Clock
from livecart.core.db import UnitOfWork
from livecart.core.errors import DomainError
from livecart.events import service as events
from livecart.flashsale.errors import (
    LimitExceeded,
    PendingOrderExists,
    SaleEnded,
    SoldOut,
    StoreUnavailable,
)
from livecart.flashsale.models import FlashHolding, FlashReservation, FlashSale
from livecart.flashsale.schemas import OPEN_STATUSES, FlashSaleStatus
from livecart.flashsale.stock import Settled, StockStore
from livecart.live.schemas import SessionOrigin
from livecart.supervision import sanctions as supervision

log = logging.getLogger(__name__)

ATTEMPTS = 3  # a batch that loses a race on a unique key is rewritten with the winner known


@dataclass(frozen=True)
class SaleTerms:
    """What a purchase needs to know about its sale; cached per process."""

    sale_id: int
    sku: SkuSnapshot
    price: int
    per_user_limit: int
    origin: SessionOrigin


@dataclass(eq=False)
class Purchase:
    """One buyer's request that took stock in the store and waits to be written."""

    terms: SaleTerms
    user_id: int
    key: str
    quantity: int
    request_hash: str
    epoch: str
    done: asyncio.Future[OrderOut | int] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    # Filled in by the batch: the order written, an existing order (replay) or an error.
    order_id: int | None = None
    existing_order_id: int | None = None
    error: DomainError | None = None


@dataclass
class BatchOutcome:
    purchases: list[Purchase]
    orders: dict[int, OrderOut] = field(default_factory=dict)  # order id -> reply
    sold_out_sales: set[int] = field(default_factory=set)


def _upsert(session: AsyncSession) -> Callable[..., postgresql.Insert | sqlite.Insert]:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def _replays(
    session: AsyncSession, sale_id: int, group: Sequence[Purchase], *, look: bool
) -> None:
    """Mark replays (keys with an order already) and a buyer's second purchase in the batch.

    The store has checked the keys, so the first attempt does not ask the database; a key it
    missed (a rebuilt store) fails the reservations' unique key, and the retry looks.
    """
    known: dict[tuple[int, str], int] = {}
    if look:
        pairs = {(p.user_id, p.key) for p in group}
        rows = await session.execute(
            select(
                FlashReservation.user_id,
                FlashReservation.idempotency_key,
                FlashReservation.order_id,
            )
            .where(FlashReservation.sale_id == sale_id)
            .where(tuple_(FlashReservation.user_id, FlashReservation.idempotency_key).in_(pairs))
        )
        known = {(user, key): order for user, key, order in rows}
    first: dict[tuple[int, str], Purchase] = {}
    buyers: set[int] = set()
    for p in group:
        pair = (p.user_id, p.key)
        if pair in known:
            p.existing_order_id = known[pair]
        elif pair in first or p.user_id in buyers:
            # The store lets neither through twice; only a rebuilt store could.
            p.error = PendingOrderExists("finish or cancel your unpaid order of this sale first")
        else:
            first[pair] = p
            buyers.add(p.user_id)


def _sold_plus(units: int) -> dict[str, Any]:
    """SET clauses adding units to `sold`, turning the sale sold_out when they are the last."""
    return {
        "sold": FlashSale.sold + units,
        "status": case(
            (
                FlashSale.sold + FlashSale.returned + units >= FlashSale.quantity,
                FlashSaleStatus.sold_out.value,
            ),
            else_=FlashSale.status,
        ),
    }


async def _take_units(
    session: AsyncSession, sale_id: int, group: list[Purchase], outcome: BatchOutcome
) -> list[Purchase]:
    """Add the batch's units to `sold`, or as many purchases as fit; the purchases taken."""
    wanted = sum(p.quantity for p in group)
    status = await session.scalar(
        update(FlashSale)
        .where(
            FlashSale.id == sale_id,
            FlashSale.status.in_([s.value for s in OPEN_STATUSES]),
            FlashSale.sold + FlashSale.returned + wanted <= FlashSale.quantity,
        )
        .values(_sold_plus(wanted))
        .returning(FlashSale.status)
        .execution_options(synchronize_session=False)
    )
    if status is not None:
        if status == FlashSaleStatus.sold_out:
            outcome.sold_out_sales.add(sale_id)
        return group
    row = (
        await session.execute(
            select(FlashSale.status, FlashSale.quantity, FlashSale.sold, FlashSale.returned)
            .where(FlashSale.id == sale_id)
            .with_for_update()
        )
    ).one()
    if row.status not in OPEN_STATUSES:
        for p in group:
            p.error = SaleEnded("this flash sale has ended")
        return []
    room = row.quantity - row.sold - row.returned
    fitted: list[Purchase] = []
    for p in group:
        if p.quantity <= room:
            fitted.append(p)
            room -= p.quantity
        else:
            p.error = SoldOut("sold out", details={"sale_id": sale_id})
    if fitted:
        status = await session.scalar(
            update(FlashSale)
            .where(FlashSale.id == sale_id)
            .values(_sold_plus(sum(p.quantity for p in fitted)))
            .returning(FlashSale.status)
            .execution_options(synchronize_session=False)
        )
        if status == FlashSaleStatus.sold_out:
            outcome.sold_out_sales.add(sale_id)
    return fitted


async def _hold(
    session: AsyncSession, terms: SaleTerms, group: list[Purchase], outcome: BatchOutcome
) -> list[Purchase]:
    """Add each buyer's units to their holding if within the limit; the purchases that fit."""
    insert = _upsert(session)
    statement = insert(FlashHolding).values(
        [{"sale_id": terms.sale_id, "user_id": p.user_id, "quantity": p.quantity} for p in group]
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[FlashHolding.sale_id, FlashHolding.user_id],
        set_={"quantity": FlashHolding.quantity + statement.excluded.quantity},
        where=FlashHolding.quantity + statement.excluded.quantity <= terms.per_user_limit,
    ).returning(FlashHolding.user_id)
    within = set((await session.scalars(upsert)).all())
    held = [p for p in group if p.user_id in within]
    over = [p for p in group if p.user_id not in within]
    for p in over:
        p.error = LimitExceeded(
            f"at most {terms.per_user_limit} per buyer in this sale",
            details={"per_user_limit": terms.per_user_limit},
        )
    if over:
        # Their units were counted in `sold` (and may have made the sale sold_out): undo that.
        await session.execute(
            update(FlashSale)
            .where(FlashSale.id == terms.sale_id)
            .values(
                sold=FlashSale.sold - sum(p.quantity for p in over),
                status=case(
                    (
                        FlashSale.status == FlashSaleStatus.sold_out.value,
                        FlashSaleStatus.live.value,
                    ),
                    else_=FlashSale.status,
                ),
            )
            .execution_options(synchronize_session=False)
        )
        outcome.sold_out_sales.discard(terms.sale_id)
    return held


def _reply(p: Purchase, order_id: int, now: datetime, deadline: datetime) -> OrderOut:
    sku = p.terms.sku
    return OrderOut(
        id=order_id,
        status=OrderStatus.pending_payment,
        total=p.terms.price * p.quantity,
        currency=sku.currency,
        brand_id=sku.brand_id,
        items=[
            OrderItemOut(
                sku_id=sku.sku_id,
                product_id=sku.product_id,
                title=sku.title[:200],
                quantity=p.quantity,
                unit_price=p.terms.price,
                currency=sku.currency,
            )
        ],
        session_id=p.terms.origin.session_id,
        anchor_id=p.terms.origin.anchor_id,
        payment_deadline=deadline,
        created_at=now,
        flash_sale_id=p.terms.sale_id,
    )


async def write_batch(
    uow: UnitOfWork,
    purchases: list[Purchase],
    *,
    clock: Clock,
    sink: events.HasEventSink,
    reservation_minutes: float,
    look_for_replays: bool = False,
) -> BatchOutcome:
    """Write one batch in the unit of work (the caller commits); decide every purchase."""
    session = uow.session
    outcome = BatchOutcome(purchases)
    now = clock.now()
    deadline = now + timedelta(minutes=reservation_minutes)
    by_sale: dict[int, list[Purchase]] = defaultdict(list)
    for p in purchases:
        p.order_id = p.existing_order_id = p.error = None
        by_sale[p.terms.sale_id].append(p)
    firsts = [group[0].terms for group in by_sale.values()]
    standing = await supervision.standing(
        session,
        now=now,
        anchor_ids={t.origin.anchor_id for t in firsts},
        room_ids={t.origin.room_id for t in firsts},
        product_ids={t.sku.product_id for t in firsts},
        flash_sale_ids=set(by_sale),
    )
    for sale_id in sorted(by_sale):  # one lock order for every batch
        group = by_sale[sale_id]
        terms = group[0].terms
        await _replays(session, sale_id, group, look=look_for_replays)
        fresh = [p for p in group if p.existing_order_id is None and p.error is None]
        if not fresh:
            continue
        refusal = standing.refusal(
            anchor_id=terms.origin.anchor_id,
            room_id=terms.origin.room_id,
            product_ids=(terms.sku.product_id,),
            flash_sale_id=sale_id,
        )
        if refusal is not None:
            for p in fresh:
                p.error = standing.refusal(
                    anchor_id=terms.origin.anchor_id,
                    room_id=terms.origin.room_id,
                    product_ids=(terms.sku.product_id,),
                    flash_sale_id=sale_id,
                )
            continue
        fresh = await _take_units(session, sale_id, fresh, outcome)
        if fresh:
            fresh = await _hold(session, terms, fresh, outcome)
        if not fresh:
            continue
        drafts = [
            commerce.FlashOrderDraft(
                user_id=p.user_id,
                flash_sale_id=sale_id,
                sku=terms.sku,
                unit_price=terms.price,
                quantity=p.quantity,
                origin=terms.origin,
                request_hash=p.request_hash,
            )
            for p in fresh
        ]
        ids = await commerce.insert_flash_orders(session, drafts, now=now, deadline=deadline)
        insert = _upsert(session)
        await session.execute(
            insert(FlashReservation),
            [
                {
                    "sale_id": sale_id,
                    "user_id": p.user_id,
                    "order_id": order_id,
                    "quantity": p.quantity,
                    "idempotency_key": p.key,
                    "status": "active",
                    "expires_at": deadline,
                    "created_at": now,
                }
                for p, order_id in zip(fresh, ids, strict=True)
            ],
        )
        commerce.flash_order_events(uow, sink, drafts, ids, now)
        for p, order_id in zip(fresh, ids, strict=True):
            p.order_id = order_id
            outcome.orders[order_id] = _reply(p, order_id, now, deadline)
    return outcome


class GroupCommitWriter:
    """The queue and the task that writes it in batches (one per process)."""

    def __init__(
        self,
        *,
        open_uow: Callable[[], UnitOfWork],
        store: StockStore,
        clock: Clock,
        sink: events.HasEventSink,
        reservation_minutes: float,
        batch_max: int,
        on_written: Callable[[BatchOutcome], Awaitable[None]],
    ) -> None:
        self._open_uow = open_uow
        self._store = store
        self._clock = clock
        self._sink = sink
        self._minutes = reservation_minutes
        self._batch_max = batch_max
        self._on_written = on_written
        self._queue: asyncio.Queue[Purchase] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.written = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="flash-group-commit")

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None

    async def submit(self, purchase: Purchase) -> OrderOut | int:
        """Queue a purchase and wait until its batch is durable: the order, or an existing id."""
        self.start()
        self._queue.put_nowait(purchase)
        return await asyncio.shield(purchase.done)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except Exception:  # never leave a buyer waiting
                log.exception("flash-sale batch failed")
                for p in batch:
                    if not p.done.done():
                        p.done.set_exception(StoreUnavailable("the order was not saved; try again"))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[Purchase]) -> None:
        groups = sorted({(p.terms.sale_id, p.epoch) for p in batch})
        for sale_id, _ in groups:
            await self._store.begin(sale_id)
        outcome: BatchOutcome | None = None
        failure: Exception | None = None
        for attempt in range(ATTEMPTS):
            try:
                async with self._open_uow() as uow:
                    outcome = await write_batch(
                        uow,
                        batch,
                        clock=self._clock,
                        sink=self._sink,
                        reservation_minutes=self._minutes,
                        look_for_replays=attempt > 0,
                    )
                    await uow.commit()
                break
            except IntegrityError as exc:  # a twin purchase committed first on another worker
                log.info("flash-sale batch lost a race (attempt %d): %s", attempt + 1, exc.orig)
                failure = exc
            except Exception as exc:
                log.exception("flash-sale batch could not be written")
                failure = exc
                break
        if outcome is None:
            for p in batch:
                p.order_id = p.existing_order_id = None
                p.error = StoreUnavailable("the order was not saved; try again")
            log.warning("flash-sale batch of %d failed: %s", len(batch), failure)
        await self._settle(batch)
        self.batches += 1
        self.written += sum(1 for p in batch if p.order_id is not None)
        for p in batch:
            if p.done.done():
                continue
            if p.order_id is not None and outcome is not None:
                p.done.set_result(outcome.orders[p.order_id])
            elif p.existing_order_id is not None:
                p.done.set_result(p.existing_order_id)
            else:
                p.done.set_exception(p.error or StoreUnavailable("not saved; try again"))
        if outcome is not None:
            try:
                await self._on_written(outcome)
            except Exception:
                log.exception("after a flash-sale batch")

    async def _settle(self, batch: list[Purchase]) -> None:
        by_sale: dict[tuple[int, str], list[Settled]] = defaultdict(list)
        for p in batch:
            by_sale[(p.terms.sale_id, p.epoch)].append(
                Settled(p.user_id, p.key, p.quantity, p.order_id, p.existing_order_id)
            )
        for (sale_id, epoch), settled in by_sale.items():
            try:
                await self._store.settle(sale_id, epoch, settled)
            except Exception:  # the store is behind now; reconciliation will catch it
                log.exception("could not settle flash sale %d in the stock store", sale_id)
