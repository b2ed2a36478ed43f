"""Errors of the catalog domain."""

from __future__ import annotations

from livecart.core.errors import Conflict, DomainError, InvalidInput, NotFound


class BrandNotFound(NotFound):
    code = "brand_not_found"


class BrandNameTaken(Conflict):
    code = "brand_name_taken"


class ProductNotFound(NotFound):
    code = "product_not_found"


class SkuNotFound(NotFound):
    code = "sku_not_found"


class MediaNotFound(NotFound):
    code = "media_not_found"


class SkuCodeTaken(Conflict):
    code = "sku_code_taken"


class CurrencyMismatch(InvalidInput):
    code = "currency_mismatch"


class BadMedia(InvalidInput):
    code = "bad_media"


class MediaTooLarge(DomainError):
    status = 413
    code = "media_too_large"


class OriginalPriceNotSupported(Conflict):
    """A "was" price above the lowest price of the previous 7 days (a fake discount)."""

    code = "original_price_not_supported"
