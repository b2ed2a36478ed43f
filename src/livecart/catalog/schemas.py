"""Input and output shapes of the catalog: brands, products, SKUs, media, cards and snapshots."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, HttpUrl, JsonValue, model_validator

from livecart.core.money import Currency, MinorUnits
from livecart.core.schemas import InputModel, OutputModel
from livecart.supervision.risk_schemas import SanctionBlock
from livecart.supervision.schemas import FieldHit

MAX_ATTRIBUTE_KEY = 64


def _bounded_object(
    max_keys: int, max_bytes: int
) -> Callable[[dict[str, JsonValue]], dict[str, JsonValue]]:
    """A check keeping free-form attribute objects small enough to store and show."""

    def check(value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        if len(value) > max_keys:
            raise ValueError(f"at most {max_keys} attributes")
        for key in value:
            if not key.strip() or len(key) > MAX_ATTRIBUTE_KEY:
                raise ValueError(f"attribute names are 1..{MAX_ATTRIBUTE_KEY} characters")
        size = len(json.dumps(value, ensure_ascii=False).encode())
        if size > max_bytes:
            raise ValueError(f"attributes take at most {max_bytes} bytes as JSON")
        return value

    return check


# Material, size chart, usage, origin...: whatever a viewer needs to judge the product.
ProductAttributes = Annotated[dict[str, JsonValue], AfterValidator(_bounded_object(50, 20_000))]
# Colour, size...: what tells one variant from another.
SkuAttributes = Annotated[dict[str, JsonValue], AfterValidator(_bounded_object(20, 4_000))]
StockCount = Annotated[int, Field(ge=0, le=10**9, strict=True)]
SkuCode = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]
Title = Annotated[str, Field(min_length=1, max_length=200)]
Category = Annotated[str, Field(min_length=1, max_length=80)]
Description = Annotated[str, Field(max_length=10_000)]


class ProductStatus(StrEnum):
    active = "active"
    delisted = "delisted"


class MediaKind(StrEnum):
    image = "image"
    video = "video"


# Content types accepted for uploads, with the file extension they are stored under.
UPLOAD_TYPES: dict[str, tuple[MediaKind, str]] = {
    "image/jpeg": (MediaKind.image, ".jpg"),
    "image/png": (MediaKind.image, ".png"),
    "image/webp": (MediaKind.image, ".webp"),
    "image/gif": (MediaKind.image, ".gif"),
    "video/mp4": (MediaKind.video, ".mp4"),
    "video/webm": (MediaKind.video, ".webm"),
}


class BrandIn(InputModel):
    name: str = Field(min_length=1, max_length=120)
    description: Description = ""


class BrandOut(OutputModel):
    id: int
    name: str
    description: str


class BrandRef(OutputModel):
    id: int
    name: str


class SkuIn(InputModel):
    code: SkuCode
    price: MinorUnits
    currency: Currency
    stock: StockCount
    attributes: SkuAttributes = Field(default_factory=dict)


class ProductIn(InputModel):
    brand_id: int
    title: Title
    description: Description = ""
    category: Category
    attributes: ProductAttributes = Field(default_factory=dict)
    skus: list[SkuIn] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _skus_consistent(self) -> ProductIn:
        codes = [s.code for s in self.skus]
        if len(set(codes)) != len(codes):
            raise ValueError("SKU codes must be unique within a product")
        if len({s.currency for s in self.skus}) > 1:
            raise ValueError("all SKUs of a product use one currency")
        return self


class ProductPatch(InputModel):
    """Fields left out (or null) stay as they are."""

    title: Title | None = None
    description: Description | None = None
    category: Category | None = None
    attributes: ProductAttributes | None = None
    status: ProductStatus | None = None


class SkuPatch(InputModel):
    """Price and stock are set to the given values; left out means unchanged."""

    price: MinorUnits | None = None
    stock: StockCount | None = None
    attributes: SkuAttributes | None = None
    # The struck-through "was" price of a discount claim; null takes the claim down. It must be
    # above the price and at most the lowest price of the previous 7 days.
    original_price: MinorUnits | None = None


@dataclass(frozen=True)
class MediaUpload:
    """An uploaded file on its way to the media directory (chunks are read once)."""

    content_type: str
    chunks: AsyncIterable[bytes]


class MediaUrlIn(InputModel):
    kind: MediaKind
    url: HttpUrl = Field(max_length=1000)


class SkuOut(OutputModel):
    id: int
    code: str
    price: int
    currency: str
    stock: int
    attributes: dict[str, JsonValue]
    original_price: int | None = None


class MediaOut(OutputModel):
    id: int
    kind: MediaKind
    # Where a browser fetches it: "/api/v1/media/{id}" for stored files, else the external URL.
    url: str
    content_type: str | None


class ProductOut(OutputModel):
    id: int
    brand_id: int
    brand: BrandRef
    title: str
    description: str
    category: str
    attributes: dict[str, JsonValue]
    status: ProductStatus
    image_url: str | None
    media: list[MediaOut]
    skus: list[SkuOut]
    created_at: datetime
    updated_at: datetime
    # Compliance hits of the title and description (empty when clean), computed on read with
    # the lexicon in force: warn-only, unless the lexicon changed after the text was accepted.
    compliance_warnings: list[FieldHit] = Field(default_factory=list)
    delisted: SanctionBlock | None = Field(
        default=None,
        description="The operator's delisting in force (code `product_delisted`, reason, "
        "until); `status` is then `delisted` and only the brand's staff and operators see it.",
    )


class ProductCard(OutputModel):
    """What showcases, pins, lists and orders show of a product (the real-time `card`)."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: int
    title: str
    category: str
    brand: BrandRef
    image_url: str | None
    price_min: int | None
    currency: str | None
    status: ProductStatus
    skus: list[SkuOut]
    delisted: SanctionBlock | None = None  # in listings: the operator's delisting in force


class SkuSnapshot(OutputModel):
    """A SKU as commerce needs it to take an order: price of record, brand, title, stock."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    sku_id: int
    product_id: int
    brand_id: int
    code: str
    title: str
    price: int
    currency: str
    stock: int
    product_status: ProductStatus


class PriceChangeOut(OutputModel):
    old_price: int | None
    new_price: int
    currency: str
    changed_at: datetime


# ---------------------------------------------------------------- knowledge cards

CardLine = Annotated[str, Field(min_length=1, max_length=500)]
SpecName = Annotated[str, Field(min_length=1, max_length=80)]
SpecValue = Annotated[str, Field(min_length=1, max_length=500)]


class FaqPair(InputModel):
    """A common question and the answer the brand gives to it."""

    question: Annotated[str, Field(min_length=1, max_length=300)]
    answer: Annotated[str, Field(min_length=1, max_length=1000)]


class KnowledgeCardIn(InputModel):
    """A merchant's edit of a card; every list replaces the stored one (compliance notes are
    computed, not edited)."""

    selling_points: list[CardLine] = Field(default_factory=list, max_length=20)
    specifications: dict[SpecName, SpecValue] = Field(default_factory=dict, max_length=50)
    faqs: list[FaqPair] = Field(default_factory=list, max_length=50)


class KnowledgeCardOut(OutputModel):
    """A product's knowledge card as the anchor console and the merchant page show it."""

    product_id: int
    brand_id: int
    title: str
    selling_points: list[str]
    specifications: dict[str, str]
    faqs: list[FaqPair]
    compliance_notes: list[str]
    # Quality-inspection findings of the product's latest selection review, where one exists.
    inspection_findings: list[str] = Field(default_factory=list)
    edited: bool  # changed by a merchant since it was generated
    generated_at: datetime
    updated_at: datetime
