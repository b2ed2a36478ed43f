"""Input and output of the benchmark-only routes."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from livecart.core.schemas import InputModel


class BaselineOrderIn(InputModel):
    """How many units of the SKU; the price and everything else come from the server."""

    quantity: Annotated[int, Field(ge=1, le=99, strict=True)]


class BaselineOrderOut(BaseModel):
    """The order the baseline placed (or the one an earlier request with the key placed)."""

    id: int
    status: str
    sku_id: int
    quantity: int
    total: int
    currency: str
