"""Tables of brands, products, SKUs, media and price history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livecart.core.db import Base, MinorUnitsColumn


class Brand(Base):
    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (Index("ix_products_brand", "brand_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(80))
    # Material, size chart, usage, origin...: free-form facts a viewer needs to judge the product.
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | delisted
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    brand: Mapped[Brand] = relationship(lazy="joined", innerjoin=True)
    skus: Mapped[list[Sku]] = relationship(
        back_populates="product", lazy="selectin", order_by="Sku.id", cascade="all, delete-orphan"
    )
    media: Mapped[list[ProductMedia]] = relationship(
        lazy="selectin", order_by="ProductMedia.position", cascade="all, delete-orphan"
    )


class Sku(Base):
    __tablename__ = "skus"
    __table_args__ = (
        UniqueConstraint("product_id", "code", name="uq_skus_product_code"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    price: Mapped[MinorUnitsColumn]
    currency: Mapped[str] = mapped_column(String(3))
    stock: Mapped[int]
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # colour, size...
    # The "was" price shown struck through next to the price: a discount claim, so it may not
    # exceed the lowest price actually charged in the 7 days before it is set.
    original_price: Mapped[MinorUnitsColumn | None]
    product: Mapped[Product] = relationship(back_populates="skus")


class ProductMedia(Base):
    """An image or video, stored under data_dir/media (path) or elsewhere (url)."""

    __tablename__ = "product_media"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))  # image | video
    url: Mapped[str | None] = mapped_column(String(1000))
    path: Mapped[str | None] = mapped_column(String(300))
    content_type: Mapped[str | None] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]


class PriceHistory(Base):
    """One row whenever a SKU's price is set or changed (the base of price-truth checks)."""

    __tablename__ = "price_history"
    __table_args__ = (Index("ix_price_history_sku_time", "sku_id", "changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    old_price: Mapped[MinorUnitsColumn | None]
    new_price: Mapped[MinorUnitsColumn]
    currency: Mapped[str] = mapped_column(String(3))
    changed_at: Mapped[datetime]
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class KnowledgeCard(Base):
    """What an anchor needs at hand about a product during a live (issue 5, item 2).

    Generated from the product (title, description, SKUs, attributes) and then editable by the
    brand's merchants; `edited_by` is None while the card is as generated.
    """

    __tablename__ = "knowledge_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), unique=True
    )
    selling_points: Mapped[list[str]] = mapped_column(JSON, default=list)
    specifications: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    faqs: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)  # {question, answer}
    compliance_notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    edited_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    generated_at: Mapped[datetime]
    updated_at: Mapped[datetime]
