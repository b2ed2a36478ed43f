"""The flash-sale burst benchmark's baseline: an order placed the usual way, under a row lock.

One transaction per order: `SELECT ... FOR UPDATE` on the SKU's stock row, the per-user limit
checked with a query, then `UPDATE` of the stock and `INSERT` of the order and its item into
the ordinary orders tables. Every buyer of the SKU queues on that one row lock, which is what
the benchmark measures livecart's flash-sale stock store against.

The tables are named with SQLAlchemy Core (`table()` and `column()`), not through the models of
catalog and commerce: this package may not import them, and the baseline must not depend on
how those domains place orders.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import BigInteger, Integer, String, column, func, insert, select, table, update
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.benchmark.errors import LimitExceeded, SkuNotFound, SoldOut
from livecart.benchmark.schemas import BaselineOrderOut
from livecart.commerce.service import check_idempotency_key
from livecart.core.clock import Clock
from livecart.core.db import UTCDateTime

_skus = table(
    "skus",
    column("id", Integer),
    column("product_id", Integer),
    column("price", BigInteger),
    column("currency", String),
    column("stock", Integer),
)
_products = table("products", column("id", Integer), column("brand_id", Integer), column("title"))
_orders = table(
    "orders",
    column("id", Integer),
    column("user_id", Integer),
    column("brand_id", Integer),
    column("status", String),
    column("total", BigInteger),
    column("currency", String),
    column("idempotency_key", String),
    column("payment_deadline", UTCDateTime()),
    column("created_at", UTCDateTime()),
)
_items = table(
    "order_items",
    column("id", Integer),
    column("order_id", Integer),
    column("sku_id", Integer),
    column("product_id", Integer),
    column("title", String),
    column("quantity", Integer),
    column("unit_price", BigInteger),
    column("currency", String),
)
PENDING = "pending_payment"
CANCELLED = "cancelled"


_StockRow = tuple[int, int, str, int, int, str]


async def _lock_stock_row(session: AsyncSession, sku_id: int) -> _StockRow:
    """(stock, price, currency, product_id, brand_id, title) of the SKU, its row locked."""
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no FOR UPDATE: writing the row first takes the database's write lock for
        # the rest of the transaction, which serialises buyers the same way.
        await session.execute(update(_skus).where(_skus.c.id == sku_id).values(stock=_skus.c.stock))
    row = (
        await session.execute(
            select(
                _skus.c.stock,
                _skus.c.price,
                _skus.c.currency,
                _skus.c.product_id,
                _products.c.brand_id,
                _products.c.title,
            )
            .join_from(_skus, _products, _skus.c.product_id == _products.c.id)
            .where(_skus.c.id == sku_id)
            .with_for_update(of=_skus)
        )
    ).one_or_none()
    if row is None:
        raise SkuNotFound("no such SKU", details={"sku_id": sku_id})
    return int(row[0]), int(row[1]), str(row[2]), int(row[3]), int(row[4]), str(row[5])


async def place_baseline_order(
    session: AsyncSession,
    *,
    clock: Clock,
    buyer_id: int,
    sku_id: int,
    quantity: int,
    idempotency_key: str | None,
    per_user_limit: int,
    payment_minutes: int,
) -> BaselineOrderOut:
    """Lock the stock row, check key, limit and stock, take the stock and insert the order."""
    key = check_idempotency_key(idempotency_key)
    stock, price, currency, product_id, brand_id, title = await _lock_stock_row(session, sku_id)
    # Under the lock, so a retry of a request still in flight finds its order here.
    earlier = (
        await session.execute(
            select(_orders.c.id, _orders.c.status, _orders.c.total, _orders.c.currency)
            .where(_orders.c.user_id == buyer_id, _orders.c.idempotency_key == key)
            .limit(1)
        )
    ).one_or_none()
    if earlier is not None:
        bought_with_key = await session.scalar(
            select(func.coalesce(func.sum(_items.c.quantity), 0)).where(
                _items.c.order_id == earlier[0], _items.c.sku_id == sku_id
            )
        )
        return BaselineOrderOut(
            id=earlier[0],
            status=earlier[1],
            sku_id=sku_id,
            quantity=int(bought_with_key or 0),
            total=earlier[2],
            currency=earlier[3],
        )
    bought = await session.scalar(
        select(func.coalesce(func.sum(_items.c.quantity), 0))
        .select_from(_orders.join(_items, _items.c.order_id == _orders.c.id))
        .where(
            _orders.c.user_id == buyer_id,
            _items.c.sku_id == sku_id,
            _orders.c.status != CANCELLED,
        )
    )
    if int(bought or 0) + quantity > per_user_limit:
        raise LimitExceeded(
            f"at most {per_user_limit} units per buyer",
            details={"limit": per_user_limit, "bought": int(bought or 0)},
        )
    if stock < quantity:
        raise SoldOut("sold out", details={"remaining": stock})
    now = clock.now()
    await session.execute(
        update(_skus).where(_skus.c.id == sku_id).values(stock=_skus.c.stock - quantity)
    )
    total = price * quantity
    order_id = await session.scalar(
        insert(_orders)
        .values(
            user_id=buyer_id,
            brand_id=brand_id,
            status=PENDING,
            total=total,
            currency=currency,
            idempotency_key=key,
            payment_deadline=now + timedelta(minutes=payment_minutes),
            created_at=now,
        )
        .returning(_orders.c.id)
    )
    assert order_id is not None
    await session.execute(
        insert(_items).values(
            order_id=order_id,
            sku_id=sku_id,
            product_id=product_id,
            title=title[:200],
            quantity=quantity,
            unit_price=price,
            currency=currency,
        )
    )
    return BaselineOrderOut(
        id=order_id,
        status=PENDING,
        sku_id=sku_id,
        quantity=quantity,
        total=total,
        currency=currency,
    )
