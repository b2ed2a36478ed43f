"""Input and output shapes of flash sales."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field

from livecart.commerce.schemas import Id
from livecart.core.money import MinorUnits
from livecart.core.schemas import InputModel, OutputModel
from livecart.supervision.risk_schemas import SanctionBlock

MAX_SALE_QUANTITY = 1_000_000
MAX_PER_USER = 99
Units = Annotated[int, Field(ge=1, le=MAX_PER_USER, strict=True)]


class FlashSaleStatus(StrEnum):
    scheduled = "scheduled"
    live = "live"
    sold_out = "sold_out"
    ended = "ended"


OPEN_STATUSES = (FlashSaleStatus.live, FlashSaleStatus.sold_out)


class FlashSaleIn(InputModel):
    session_id: Id
    sku_id: Id
    price: Annotated[int, Field(ge=1, le=10**12, strict=True)] = Field(
        description="Flash price in minor units; below the SKU's lowest price of 30 days."
    )
    quantity: Annotated[int, Field(ge=1, le=MAX_SALE_QUANTITY, strict=True)] = Field(
        description="Units set aside from the SKU's stock for the sale."
    )
    per_user_limit: Units = Field(default=1, description="Units one buyer may hold in all.")
    starts_at: AwareDatetime | None = Field(
        default=None, description="When the sale opens by itself (else: when started)."
    )
    ends_at: AwareDatetime | None = Field(default=None, description="When it closes by itself.")
    banner: str = Field(
        default="",
        max_length=200,
        description="A line shown over the countdown. Compliance-scanned (kind "
        "`flash_sale_banner`: 422 `compliance_blocked`); a claimed remaining quantity below "
        "the sale's units is fake scarcity (422 `scarcity_claim_false`).",
    )


class FlashSaleBannerIn(InputModel):
    banner: str = Field(
        max_length=200,
        description="The new banner, checked like on create against the units remaining now.",
    )


class FlashOrderIn(InputModel):
    quantity: Units = 1


class FlashSaleOut(OutputModel):
    id: int
    status: FlashSaleStatus
    session_id: int
    room_id: int
    sku_id: int
    product_id: int
    title: str
    price: MinorUnits
    regular_price: MinorUnits
    lowest_price_30d: MinorUnits
    currency: str
    quantity: int
    sold: int = Field(description="Units held by unpaid and paid orders.")
    remaining: int
    per_user_limit: int
    starts_at: datetime | None
    ends_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    server_time: datetime = Field(description="The server's clock, for countdowns.")
    banner: str = Field(default="", description="The seller's line shown over the countdown.")
    blocked: SanctionBlock | None = Field(
        default=None,
        description="The sanction in force that stops purchases (`flash_sale_frozen`, "
        "`product_delisted`, `room_suspended` or `anchor_suspended`), else null.",
    )


class FlashSaleStatusOut(OutputModel):
    id: int
    status: FlashSaleStatus


class StockBooksOut(OutputModel):
    """Reconciliation of the stock store against the database, for operators."""

    sale_id: int
    store: str
    database_remaining: int
    store_remaining: int | None
    in_flight: int | None
    drift: int | None
    checked_at: datetime | None
