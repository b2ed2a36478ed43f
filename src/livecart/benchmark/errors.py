"""Errors of the benchmark-only routes (the codes match the flash-sale API's)."""

from __future__ import annotations

from livecart.core.errors import Conflict, NotFound


class SoldOut(Conflict):
    code = "sold_out"


class LimitExceeded(Conflict):
    code = "limit_exceeded"


class SkuNotFound(NotFound):
    code = "sku_not_found"
