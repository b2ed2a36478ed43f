"""Errors of the flash-sale domain, with their stable codes."""

from __future__ import annotations

from livecart.core.errors import Conflict, DomainError, InvalidInput, NotFound


class FlashSaleNotFound(NotFound):
    code = "flash_sale_not_found"


class PriceNotLowest(Conflict):
    """A flash price must be below the SKU's lowest price of the previous 30 days."""

    code = "price_not_lowest"


class NotInShowcase(Conflict):
    code = "not_in_showcase"


class NotEnoughStock(Conflict):
    """The SKU has fewer units than the sale wants to set aside."""

    code = "not_enough_stock"


class InvalidWindow(InvalidInput):
    code = "invalid_window"


class SaleNotLive(Conflict):
    code = "sale_not_live"


class SaleEnded(Conflict):
    code = "sale_ended"


class SoldOut(Conflict):
    code = "sold_out"


class LimitExceeded(Conflict):
    code = "limit_exceeded"


class PendingOrderExists(Conflict):
    """At most one unpaid order per buyer per flash sale."""

    code = "pending_order_exists"


class PurchaseInProgress(Conflict):
    """The same Idempotency-Key is still being written; retry shortly."""

    code = "purchase_in_progress"


class StoreUnavailable(DomainError):
    """The order could not be made durable (database or stock store down); nothing was taken."""

    status = 503
    code = "try_again"
