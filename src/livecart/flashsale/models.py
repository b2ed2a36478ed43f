"""Tables of flash sales, the units each buyer holds and the reservations behind orders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from livecart.core.db import Base, MinorUnitsColumn


class FlashSale(Base):
    """Limited units of one SKU at a flash price in one live session.

    scheduled -> live -> sold_out | ended. `quantity` units were moved out of the SKU's stock
    when the sale was created; `sold` counts the units held by unpaid and paid orders (the
    guard that makes overselling impossible even if the fast stock store is wrong) and
    `returned` the units given back to the SKU when the sale ended.
    """

    __tablename__ = "flash_sales"
    __table_args__ = (
        CheckConstraint("sold >= 0 AND returned >= 0", name="counts_not_negative"),
        CheckConstraint("sold + returned <= quantity", name="never_oversold"),
        CheckConstraint("per_user_limit >= 1", name="limit_positive"),
        Index("ix_flash_sales_session", "session_id"),
        Index("ix_flash_sales_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id"))
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    anchor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    title: Mapped[str] = mapped_column(String(200))  # the SKU as sold, a snapshot
    # The seller's line shown over the countdown: compliance-scanned and its claimed
    # remaining units checked against the sale's (migration 0012).
    banner: Mapped[str] = mapped_column(String(200), default="", server_default="")
    price: Mapped[MinorUnitsColumn]
    regular_price: Mapped[MinorUnitsColumn]  # the SKU's price when the sale was created
    lowest_price_30d: Mapped[MinorUnitsColumn]
    currency: Mapped[str] = mapped_column(String(3))
    quantity: Mapped[int]
    sold: Mapped[int] = mapped_column(default=0)
    returned: Mapped[int] = mapped_column(default=0)
    per_user_limit: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class FlashHolding(Base):
    """Units of a sale held by one buyer (unpaid and paid): the per-user limit's guard."""

    __tablename__ = "flash_holdings"
    __table_args__ = (CheckConstraint("quantity >= 0", name="holding_not_negative"),)

    sale_id: Mapped[int] = mapped_column(
        ForeignKey("flash_sales.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    quantity: Mapped[int]


class FlashReservation(Base):
    """Units taken by one purchase: active until released (unpaid past its TTL, cancelled).

    The idempotency key is unique per buyer and sale, so a retried purchase finds its order.
    """

    __tablename__ = "flash_reservations"
    __table_args__ = (
        UniqueConstraint("sale_id", "user_id", "idempotency_key", name="uq_flash_reservations_key"),
        Index("ix_flash_reservations_due", "status", "expires_at"),
        Index("ix_flash_reservations_sale_user", "sale_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("flash_sales.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    quantity: Mapped[int]
    idempotency_key: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | released
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]
    released_at: Mapped[datetime | None]
