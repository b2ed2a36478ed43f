"""Errors of the commerce domain: orders, carts, payments and after-sales."""

from __future__ import annotations

from livecart.core.errors import Conflict, InvalidInput, NotFound, Unauthenticated


class IdempotencyKeyRequired(InvalidInput):
    code = "idempotency_key_required"


class IdempotencyKeyInvalid(InvalidInput):
    code = "idempotency_key_invalid"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


class OrderNotFound(NotFound):
    code = "order_not_found"


class UnknownSku(InvalidInput):
    code = "unknown_sku"


class MixedOrder(InvalidInput):
    """Items of more than one brand or currency in one order."""

    code = "mixed_order"


class TooManyUnits(InvalidInput):
    code = "too_many_units"


class CartEmpty(InvalidInput):
    code = "cart_empty"


class CartItemNotFound(NotFound):
    code = "cart_item_not_found"


class OutOfStock(Conflict):
    code = "out_of_stock"


class ProductUnavailable(Conflict):
    code = "product_unavailable"


class SessionNotFound(NotFound):
    code = "session_not_found"


class SessionNotLive(Conflict):
    code = "session_not_live"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class OrderExpired(Conflict):
    code = "order_expired"


class AlreadyPaid(Conflict):
    code = "already_paid"


class PaymentFailed(Conflict):
    code = "payment_failed"


class WebhookTooLarge(InvalidInput):
    code = "webhook_too_large"


class PaymentMismatch(Conflict):
    code = "payment_mismatch"


class UnknownProvider(NotFound):
    code = "unknown_provider"


class BadSignature(Unauthenticated):
    code = "bad_signature"


# ---------------------------------------------------------------- after-sales


class AfterSalesNotFound(NotFound):
    code = "after_sales_not_found"


class OrderItemNotFound(NotFound):
    code = "order_item_not_found"


class OrderNotReturnable(Conflict):
    """Unpaid or cancelled orders have nothing to give back."""

    code = "order_not_returnable"


class OrderInTransit(Conflict):
    """Shipped, not yet delivered: ask once the goods arrive (the window starts then)."""

    code = "order_in_transit"


class ReturnWindowClosed(Conflict):
    code = "return_window_closed"


class NoReasonReturnNotAllowed(Conflict):
    """The product's category does not take 7-day no-reason returns; a fault reason may."""

    code = "no_reason_return_not_allowed"


class ReturnQuantityExceeded(InvalidInput):
    code = "return_quantity_exceeded"


class AnswerReasonRequired(InvalidInput):
    code = "answer_reason_required"


class NothingToRefund(Conflict):
    """No succeeded payment, or the refunds would exceed what was paid."""

    code = "nothing_to_refund"
