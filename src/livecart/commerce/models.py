"""Tables of carts, orders, order items, payments, after-sales requests and refunds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livecart.core.db import Base, MinorUnitsColumn


class CartItem(Base):
    __tablename__ = "cart_items"
    __table_args__ = (UniqueConstraint("user_id", "sku_id", name="uq_cart_items_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    quantity: Mapped[int]
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="SET NULL")
    )
    added_at: Mapped[datetime]


class Order(Base):
    """pending_payment -> paid -> shipped -> delivered -> completed, or cancelled."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_orders_idempotency"),
        Index("ix_orders_status_deadline", "status", "payment_deadline"),
        Index("ix_orders_session", "session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending_payment")
    # What the buyer pays: the lines' sum less `discount` (the payment must match it).
    total: Mapped[MinorUnitsColumn]
    currency: Mapped[str] = mapped_column(String(3))
    discount: Mapped[MinorUnitsColumn] = mapped_column(default=0, server_default="0")
    # The coupon redeemed by this order (marketing's coupons; given back if it is cancelled).
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id", ondelete="SET NULL"))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="SET NULL")
    )
    anchor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="SET NULL"))
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    payment_deadline: Mapped[datetime]
    created_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(40))
    # Set for flash-sale orders: their units belong to the sale, not to the SKU's stock, so
    # cancelling one gives nothing back to the SKU (the flash-sale domain releases them).
    flash_sale_id: Mapped[int | None] = mapped_column(
        ForeignKey("flash_sales.id", ondelete="SET NULL")
    )
    items: Mapped[list[OrderItem]] = relationship(
        lazy="selectin", order_by="OrderItem.id", cascade="all, delete-orphan"
    )


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    title: Mapped[str] = mapped_column(String(200))  # a snapshot, as sold
    quantity: Mapped[int]
    unit_price: Mapped[MinorUnitsColumn]  # price of record at the time of the order
    currency: Mapped[str] = mapped_column(String(3))
    # This line's share of the order's coupon discount (refunds give back what was paid).
    discount: Mapped[MinorUnitsColumn] = mapped_column(default=0, server_default="0")


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("provider", "reference", name="uq_payments_reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(30))
    reference: Mapped[str] = mapped_column(String(100))
    amount: Mapped[MinorUnitsColumn]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))  # succeeded | failed
    created_at: Mapped[datetime]


class CategoryReturnRule(Base):
    """Whether a product category allows 7-day no-reason returns (set by operators).

    Categories are the free-text `products.category`; a category without a row follows the
    documented default (`commerce.service.default_no_reason_returns`).
    """

    __tablename__ = "category_return_rules"

    category: Mapped[str] = mapped_column(String(80), primary_key=True)
    no_reason_returns: Mapped[bool]
    note: Mapped[str] = mapped_column(String(300), default="")
    updated_at: Mapped[datetime]
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class AfterSalesRequest(Base):
    """A buyer's return or refund request on one order line, and the merchant's answer.

    requested -> rejected | awaiting_return (goods to come back) -> refunded, or
    requested -> refunded (refund only: the goods never left). `auto_approved` marks an
    answer the SLA job gave because the merchant did not answer in time.
    """

    __tablename__ = "after_sales_requests"
    __table_args__ = (
        Index("ix_after_sales_requests_status_due", "status", "answer_due_at"),
        Index("ix_after_sales_requests_brand", "brand_id", "requested_at"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    order_item_id: Mapped[int] = mapped_column(ForeignKey("order_items.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    kind: Mapped[str] = mapped_column(String(20))  # return_refund | refund_only
    reason: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text, default="")
    # References to photos: media URLs or ids the buyer uploaded elsewhere (see after-sales.md).
    evidence: Mapped[list[str]] = mapped_column(JSON, default=list)
    quantity: Mapped[int]
    amount: Mapped[MinorUnitsColumn]  # unit price of record x quantity
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default="requested")
    requested_at: Mapped[datetime]
    answer_due_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    answer_reason: Mapped[str] = mapped_column(Text, default="")
    auto_approved: Mapped[bool] = mapped_column(default=False)
    goods_received_at: Mapped[datetime | None]
    refunded_at: Mapped[datetime | None]


class Refund(Base):
    """Money given back through the payment provider; one row per idempotency key."""

    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_refunds_idempotency"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("after_sales_requests.id", ondelete="SET NULL")
    )
    cause: Mapped[str] = mapped_column(String(20))  # after_sales | late_payment
    idempotency_key: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(30))
    reference: Mapped[str] = mapped_column(String(100))  # the provider's refund reference
    amount: Mapped[MinorUnitsColumn]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))  # succeeded
    created_at: Mapped[datetime]
