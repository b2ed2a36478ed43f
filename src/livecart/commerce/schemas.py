"""Input and output shapes of commerce: orders, carts and payment webhooks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, computed_field

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
    coupon_id: Id | None = Field(
        default=None,
        description="one of my coupons (GET /me/coupons) to redeem on this order; errors: "
        "coupon_not_found, coupon_not_yours, coupon_expired, coupon_already_used, "
        "coupon_not_applicable (details.reason: scope, min_spend, zero_discount)",
    )


class CartItemIn(InputModel):
    sku_id: Id
    quantity: Quantity
    session_id: Id | None = None


class CheckoutIn(InputModel):
    """Checkout takes everything from the cart; the body may name a coupon (or be absent)."""

    coupon_id: Id | None = Field(
        default=None,
        description="one of my coupons to redeem: it goes to the order (one per brand) where "
        "it takes the most off; same errors as POST /orders",
    )


class OrderItemOut(OutputModel):
    sku_id: int
    product_id: int
    title: str
    quantity: int
    unit_price: int
    currency: str
    discount: int = Field(default=0, description="this line's share of the coupon discount")


class OrderOut(OutputModel):
    id: int
    status: OrderStatus
    total: int = Field(description="what the buyer pays: the lines' sum less the discount")
    currency: str
    discount: int = Field(default=0, description="taken off by the coupon, minor units")
    coupon_id: int | None = Field(default=None, description="the coupon this order redeemed")
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

    @computed_field  # type: ignore[prop-decorator]
    @property
    def subtotal(self) -> int:
        """The lines' sum before the coupon (total + discount)."""
        return self.total + self.discount


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


# ---------------------------------------------------------------- after-sales

TEXT_MAX = 2000
EVIDENCE_MAX = 6


class ReturnReason(StrEnum):
    no_reason = "no_reason"
    quality = "quality"
    not_as_described = "not_as_described"
    damaged = "damaged"
    wrong_item = "wrong_item"
    other = "other"


# A request with one of these reasons blames the goods or the seller: it is a complaint.
FAULT_REASONS = frozenset(
    {
        ReturnReason.quality,
        ReturnReason.not_as_described,
        ReturnReason.damaged,
        ReturnReason.wrong_item,
    }
)


class AfterSalesKind(StrEnum):
    return_refund = "return_refund"  # delivered goods come back, then the money
    refund_only = "refund_only"  # paid, not shipped: nothing to send back


class AfterSalesStatus(StrEnum):
    requested = "requested"
    rejected = "rejected"
    awaiting_return = "awaiting_return"
    refunded = "refunded"


class AfterSalesRequestIn(InputModel):
    """What a buyer asks: the line (its SKU), how many units, why, and evidence (photos)."""

    sku_id: Id
    quantity: Quantity
    reason: ReturnReason
    text: str = Field(default="", max_length=TEXT_MAX)
    evidence: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=EVIDENCE_MAX
    )


class AfterSalesAnswerIn(InputModel):
    """The merchant's answer; a rejection needs a reason the buyer can read."""

    approve: bool
    reason: str = Field(default="", max_length=TEXT_MAX)


class CategoryReturnRuleIn(InputModel):
    no_reason_returns: bool
    note: str = Field(default="", max_length=300)


class CategoryReturnRuleOut(OutputModel):
    category: str
    no_reason_returns: bool
    note: str
    default: bool  # True when no operator rule exists and the built-in default applies


class RefundOut(OutputModel):
    id: int
    order_id: int
    request_id: int | None
    cause: str
    provider: str
    reference: str
    amount: int
    currency: str
    status: str
    created_at: datetime


class AfterSalesRequestOut(OutputModel):
    id: int
    order_id: int
    order_item_id: int
    user_id: int | None
    brand_id: int
    product_id: int
    kind: AfterSalesKind
    reason: ReturnReason
    text: str
    evidence: list[str]
    quantity: int
    amount: int
    currency: str
    status: AfterSalesStatus
    requested_at: datetime
    answer_due_at: datetime
    answered_at: datetime | None
    answer_reason: str
    auto_approved: bool
    goods_received_at: datetime | None
    refunded_at: datetime | None


class AfterSalesRate(OutputModel):
    """Return and complaint rates of one product, brand, anchor (user id) or live session.

    Over paid orders (paid_at since the cut-off): `returns` counts orders with a request that
    was not rejected, `complaints` orders with a request giving a fault reason (any outcome).
    For a product, an order counts when it holds the product and a request is on that product.
    """

    key: int
    orders: int
    returns: int
    complaints: int
    return_rate: float
    complaint_rate: float


class ProductAfterSalesRate(AfterSalesRate):
    """A product's rates with its title (the scorecard's table and bar chart)."""

    title: str


class AfterSalesPeriod(OutputModel):
    """Rates of the orders paid in one period [start, end) (the scorecard's time chart)."""

    start: datetime
    end: datetime
    orders: int
    returns: int
    complaints: int
    return_rate: float
    complaint_rate: float


class BrandAfterSalesReport(OutputModel):
    """What the brand scorecard shows of after-sales: totals, per product, per week, queue."""

    brand_id: int
    since: datetime
    until: datetime
    totals: AfterSalesPeriod
    products: list[ProductAfterSalesRate]
    weeks: list[AfterSalesPeriod]
    open_requests: int
    overdue_requests: int
    refunded_amount: dict[str, int]  # currency -> minor units refunded in the period
