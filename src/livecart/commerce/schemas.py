"""Input and output shapes of commerce: orders, carts and payment webhooks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from livecart.core.schemas import InputModel, OutputModel

MAX_UNITS = 99
MAX_LINES = 50
IDEMPOTENCY_KEY_MAX = 100

Quantity = Annotated[int, Field(ge=1, le=MAX_UNITS, strict=True)]
Id = Annotated[int, Field(ge=1, le=2**31 - 1, strict=True)]


class OrderStatus(StrEnum):
    pending_payment = "pending_payment"
    paid = "paid"
    shipped = "shipped"
    delivered = "delivered"
    completed = "completed"
    cancelled = "cancelled"


class CancelReason(StrEnum):
    buyer = "buyer"
    payment_timeout = "payment_timeout"


class OrderItemIn(InputModel):
    sku_id: Id
    quantity: Quantity


class OrderIn(InputModel):
    """Only what the buyer chooses; prices, totals and status come from the server."""

    items: list[OrderItemIn] = Field(min_length=1, max_length=MAX_LINES)
    session_id: Id | None = None


class CartItemIn(InputModel):
    sku_id: Id
    quantity: Quantity
    session_id: Id | None = None


class CheckoutIn(InputModel):
    """Checkout takes everything from the cart; the body is empty (or absent)."""


class OrderItemOut(OutputModel):
    sku_id: int
    product_id: int
    title: str
    quantity: int
    unit_price: int
    currency: str


class OrderOut(OutputModel):
    id: int
    status: OrderStatus
    total: int
    currency: str
    brand_id: int
    items: list[OrderItemOut]
    session_id: int | None
    anchor_id: int | None
    payment_deadline: datetime
    created_at: datetime
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: CancelReason | None = None
    flash_sale_id: int | None = None


class CheckoutOut(OutputModel):
    orders: list[OrderOut]


class CartItemOut(OutputModel):
    sku_id: int
    product_id: int
    brand_id: int
    title: str
    quantity: int
    unit_price: int  # today's price of record; the order takes the price at checkout
    currency: str
    stock: int
    available: bool  # listed and enough stock right now
    session_id: int | None
    added_at: datetime


class CartOut(OutputModel):
    items: list[CartItemOut]
    # Sum of the lines when they share one currency; None for a mixed-currency cart.
    total: int | None
    currency: str | None


class WebhookOut(OutputModel):
    received: bool
    order_id: int | None
    status: OrderStatus | None
    duplicate: bool
