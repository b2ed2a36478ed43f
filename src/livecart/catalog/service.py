"""Catalog: brands, products, SKUs, media, price history and the stock counter of record."""

from __future__ import annotations

import enum
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import anyio
from pydantic import JsonValue
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import attributes as orm_attributes
from sqlalchemy.orm.util import identity_key

from livecart.accounts.schemas import Identity
from livecart.catalog import knowledge
from livecart.catalog.errors import (
    BadMedia,
    BrandNameTaken,
    BrandNotFound,
    CurrencyMismatch,
    MediaNotFound,
    MediaTooLarge,
    OriginalPriceNotSupported,
    ProductNotFound,
    SkuCodeTaken,
    SkuNotFound,
)
from livecart.catalog.models import (
    Brand,
    KnowledgeCard,
    PriceHistory,
    Product,
    ProductMedia,
    Sku,
)
from livecart.catalog.schemas import (
    UPLOAD_TYPES,
    BrandOut,
    BrandRef,
    FaqPair,
    KnowledgeCardIn,
    KnowledgeCardOut,
    MediaKind,
    MediaOut,
    MediaUpload,
    PriceChangeOut,
    ProductCard,
    ProductOut,
    ProductStatus,
    SkuIn,
    SkuOut,
    SkuSnapshot,
)
from livecart.core.clock import Clock, SystemClock
from livecart.core.errors import InvalidInput, PermissionDenied
from livecart.supervision import sanctions
from livecart.supervision import service as supervision
from livecart.supervision.risk_schemas import SanctionBlock
from livecart.supervision.schemas import FieldHit, ScanKind

MEDIA_URL_PREFIX = "/api/v1/media/"
ORIGINAL_PRICE_WINDOW = timedelta(days=7)  # a discount is measured from the 7-day lowest


class Unset(enum.Enum):
    """A keyword left out (as opposed to set to None)."""

    token = 0


UNSET = Unset.token

# The first bytes of each accepted upload type: a file must look like what it says it is.
_SIGNATURES: dict[str, Sequence[tuple[int, bytes]]] = {
    "image/jpeg": [(0, b"\xff\xd8\xff")],
    "image/png": [(0, b"\x89PNG\r\n\x1a\n")],
    "image/gif": [(0, b"GIF87a"), (0, b"GIF89a")],
    "image/webp": [(0, b"RIFF"), (8, b"WEBP")],
    "video/mp4": [(4, b"ftyp")],
    "video/webm": [(0, b"\x1a\x45\xdf\xa3")],
}
_ALL_OF = {"image/webp"}  # types whose signature parts must all match (others: any one)


# ---------------------------------------------------------------- permissions and output


def _can_manage(actor: Identity | None, brand_id: int, *, operators: bool = True) -> bool:
    """Brand staff (and operators, where allowed); None is the command line or the seeder."""
    if actor is None:
        return True
    return brand_id in actor.brand_ids or (operators and actor.is_operator)


def _require_manage(actor: Identity | None, brand_id: int, *, operators: bool = True) -> None:
    if not _can_manage(actor, brand_id, operators=operators):
        raise PermissionDenied(
            "only staff of this brand may change its catalogue", details={"brand_id": brand_id}
        )


def media_url(media: ProductMedia) -> str:
    """Where a browser fetches a media item."""
    return f"{MEDIA_URL_PREFIX}{media.id}" if media.path else (media.url or "")


def _image_url(product: Product) -> str | None:
    for media in product.media:
        if media.kind == MediaKind.image:
            return media_url(media)
    return None


def _sku_out(sku: Sku) -> SkuOut:
    return SkuOut(
        id=sku.id,
        code=sku.code,
        price=sku.price,
        currency=sku.currency,
        stock=sku.stock,
        attributes=sku.attributes,
        original_price=sku.original_price,
    )


def _media_out(media: ProductMedia) -> MediaOut:
    return MediaOut(
        id=media.id,
        kind=MediaKind(media.kind),
        url=media_url(media),
        content_type=media.content_type,
    )


def _brand_out(brand: Brand) -> BrandOut:
    return BrandOut(id=brand.id, name=brand.name, description=brand.description)


def _compliance_fields(
    title: str | None, description: str | None
) -> list[tuple[str, ScanKind, str]]:
    fields: list[tuple[str, ScanKind, str]] = []
    if title is not None:
        fields.append(("title", "product_title", title))
    if description:
        fields.append(("description", "product_description", description))
    return fields


async def _delistings(
    session: AsyncSession, product_ids: Iterable[int], now: datetime | None
) -> dict[int, SanctionBlock]:
    """The operators' delistings in force over these products (one query)."""
    ids = set(product_ids)
    if not ids:
        return {}
    found = await sanctions.standing(session, now=now or SystemClock().now(), product_ids=ids)
    blocks = {pid: found.block(product_ids=(pid,)) for pid in ids}
    return {pid: block for pid, block in blocks.items() if block is not None}


async def delisted_ids(
    session: AsyncSession, product_ids: Iterable[int], *, now: datetime
) -> set[int]:
    """Which of these products an operator's delisting holds now (rooms leave them out)."""
    return set(await _delistings(session, product_ids, now))


def product_out(
    product: Product, *, lexicon: supervision.Lexicon, delisted: SanctionBlock | None = None
) -> ProductOut:
    """The full view of a product, with the compliance warnings of its title and description
    and the operator's delisting in force, if any (the status then says `delisted`)."""
    warnings: list[FieldHit] = supervision.field_warnings(
        _compliance_fields(product.title, product.description), lexicon=lexicon
    )
    return ProductOut(
        id=product.id,
        brand_id=product.brand_id,
        brand=BrandRef(id=product.brand.id, name=product.brand.name),
        title=product.title,
        description=product.description,
        category=product.category,
        attributes=product.attributes,
        status=ProductStatus.delisted if delisted else ProductStatus(product.status),
        image_url=_image_url(product),
        media=[_media_out(m) for m in product.media],
        skus=[_sku_out(s) for s in product.skus],
        created_at=product.created_at,
        updated_at=product.updated_at,
        compliance_warnings=warnings,
        delisted=delisted,
    )


def _card(product: Product, delisted: SanctionBlock | None = None) -> ProductCard:
    cheapest = min(product.skus, key=lambda s: s.price, default=None)
    return ProductCard(
        id=product.id,
        title=product.title,
        category=product.category,
        brand=BrandRef(id=product.brand.id, name=product.brand.name),
        image_url=_image_url(product),
        price_min=cheapest.price if cheapest else None,
        currency=cheapest.currency if cheapest else None,
        status=ProductStatus.delisted if delisted else ProductStatus(product.status),
        skus=[_sku_out(s) for s in product.skus],
        delisted=delisted,
    )


def variant_label(title: str, code: str, attributes: dict[str, JsonValue]) -> str:
    """Product title plus what tells the variant apart, e.g. 'Silk scarf (red, M)'."""
    parts = [str(v) for v in attributes.values() if isinstance(v, str | int | float) and v != ""]
    return f"{title} ({', '.join(parts) if parts else code})"


# ---------------------------------------------------------------- brands


async def create_brand(
    session: AsyncSession, *, clock: Clock, actor: Identity | None, name: str, description: str = ""
) -> BrandOut:
    """Register a brand; operators only (None is the command line)."""
    if actor is not None and not actor.is_operator:
        raise PermissionDenied("only operators register brands")
    taken = await session.scalar(select(Brand.id).where(func.lower(Brand.name) == name.lower()))
    if taken is not None:
        raise BrandNameTaken("a brand with this name exists", details={"field": "name"})
    brand = Brand(name=name, description=description, created_at=clock.now())
    session.add(brand)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # a concurrent registration of the same name
        raise BrandNameTaken("a brand with this name exists", details={"field": "name"}) from exc
    return _brand_out(brand)


async def get_brand(session: AsyncSession, brand_id: int) -> BrandOut:
    """One brand, or brand_not_found."""
    brand = await session.get(Brand, brand_id)
    if brand is None:
        raise BrandNotFound("brand not found", details={"brand_id": brand_id})
    return _brand_out(brand)


async def list_brands(
    session: AsyncSession, *, limit: int = 100, offset: int = 0
) -> list[BrandOut]:
    """Brands by name."""
    rows = await session.scalars(select(Brand).order_by(Brand.name).limit(limit).offset(offset))
    return [_brand_out(b) for b in rows]


# ---------------------------------------------------------------- products


def _record_price(
    session: AsyncSession, *, clock: Clock, actor: Identity | None, sku: Sku, old: int | None
) -> None:
    session.add(
        PriceHistory(
            sku_id=sku.id,
            old_price=old,
            new_price=sku.price,
            currency=sku.currency,
            changed_at=clock.now(),
            changed_by=actor.id if actor else None,
        )
    )


async def _load_product(session: AsyncSession, product_id: int) -> Product:
    product = await session.get(Product, product_id)
    if product is None:
        raise ProductNotFound("product not found", details={"product_id": product_id})
    return product


async def create_product(
    session: AsyncSession,
    *,
    clock: Clock,
    lexicon: supervision.Lexicon,
    actor: Identity | None,
    brand_id: int,
    title: str,
    category: str,
    skus: Sequence[SkuIn],
    description: str = "",
    attributes: dict[str, JsonValue] | None = None,
) -> ProductOut:
    """List a product with its SKUs for a brand (its merchants or operators).

    A title or description that breaks a blocking compliance rule is refused (422
    `compliance_blocked`); warn-only hits come back in `compliance_warnings`.
    """
    brand = await session.get(Brand, brand_id)
    if brand is None:
        raise BrandNotFound("brand not found", details={"brand_id": brand_id})
    _require_manage(actor, brand_id)
    supervision.check_fields(_compliance_fields(title, description), lexicon=lexicon)
    if not skus:
        raise InvalidInput("a product needs at least one SKU", details={"field": "skus"})
    codes = [s.code for s in skus]
    if len(set(codes)) != len(codes):
        raise SkuCodeTaken("SKU codes must be unique within a product", details={"field": "skus"})
    if len({s.currency for s in skus}) > 1:
        raise CurrencyMismatch("all SKUs of a product use one currency")
    now = clock.now()
    product = Product(
        brand=brand,
        title=title,
        description=description,
        category=category,
        attributes=dict(attributes or {}),
        status=ProductStatus.active.value,
        created_at=now,
        updated_at=now,
        media=[],
        skus=[
            Sku(
                code=s.code,
                price=s.price,
                currency=s.currency,
                stock=s.stock,
                attributes=dict(s.attributes),
            )
            for s in skus
        ],
    )
    session.add(product)
    await session.flush()
    for sku in product.skus:
        _record_price(session, clock=clock, actor=actor, sku=sku, old=None)
    await session.flush()
    return product_out(product, lexicon=lexicon)


def _visible(actor: Identity | None, product: Product, *, delisted: bool = False) -> bool:
    # A reader given as None is anonymous, not the command line.
    if product.status == ProductStatus.active and not delisted:
        return True
    return actor is not None and _can_manage(actor, product.brand_id)


async def get_product(
    session: AsyncSession,
    *,
    lexicon: supervision.Lexicon,
    actor: Identity | None,
    product_id: int,
    now: datetime | None = None,
) -> ProductOut:
    """A product; delisted ones (by the brand or by an operator's sanction) only for its
    brand's staff and operators, who see the delisting's reason."""
    product = await _load_product(session, product_id)
    delisted = (await _delistings(session, [product_id], now)).get(product_id)
    if not _visible(actor, product, delisted=delisted is not None):
        raise ProductNotFound("product not found", details={"product_id": product_id})
    return product_out(product, lexicon=lexicon, delisted=delisted)


async def list_products(
    session: AsyncSession,
    *,
    actor: Identity | None,
    brand_id: int | None = None,
    category: str | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> list[ProductCard]:
    """Product cards, newest first; delisted ones (by the brand or by an operator's sanction)
    only for their brand's staff and operators, with the sanction's reason."""
    now = now or SystemClock().now()
    stmt = select(Product).order_by(Product.id.desc()).limit(limit).offset(offset)
    if brand_id is not None:
        stmt = stmt.where(Product.brand_id == brand_id)
    if category:
        stmt = stmt.where(Product.category == category)
    if q:
        stmt = stmt.where(func.lower(Product.title).contains(q.lower(), autoescape=True))
    if actor is None or not actor.is_operator:
        managed = sorted(actor.brand_ids) if actor is not None else []
        active = (Product.status == ProductStatus.active.value) & Product.id.not_in(
            sanctions.delisted_products(now)
        )
        stmt = stmt.where(active | Product.brand_id.in_(managed)) if managed else stmt.where(active)
    rows = list((await session.scalars(stmt)).unique())
    delisted = await _delistings(session, [p.id for p in rows], now)
    return [_card(p, delisted.get(p.id)) for p in rows]


async def update_product(
    session: AsyncSession,
    *,
    clock: Clock,
    lexicon: supervision.Lexicon,
    actor: Identity | None,
    product_id: int,
    title: str | None = None,
    description: str | None = None,
    category: str | None = None,
    attributes: dict[str, JsonValue] | None = None,
    status: ProductStatus | None = None,
) -> ProductOut:
    """Edit a product or (de)list it; its brand's merchants or operators.

    A new title or description is checked like on create; fields not sent are not re-checked,
    so a product can still be delisted after the lexicon changed.
    """
    product = await _load_product(session, product_id)
    _require_manage(actor, product.brand_id)
    supervision.check_fields(_compliance_fields(title, description), lexicon=lexicon)
    if title is not None:
        product.title = title
    if description is not None:
        product.description = description
    if category is not None:
        product.category = category
    if attributes is not None:
        product.attributes = dict(attributes)
    if status is not None:
        product.status = status.value
    product.updated_at = clock.now()
    await session.flush()
    # An operator's delisting outlasts the brand's own relisting: the view keeps saying so.
    delisted = (await _delistings(session, [product_id], clock.now())).get(product_id)
    return product_out(product, lexicon=lexicon, delisted=delisted)


# ---------------------------------------------------------------- SKUs and prices


async def add_sku(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Identity | None,
    product_id: int,
    code: str,
    price: int,
    currency: str,
    stock: int,
    attributes: dict[str, JsonValue] | None = None,
) -> SkuOut:
    """Add a variant to a product; its brand's merchants."""
    product = await _load_product(session, product_id)
    _require_manage(actor, product.brand_id, operators=False)
    if any(s.code == code for s in product.skus):
        raise SkuCodeTaken("this product has a SKU with this code", details={"field": "code"})
    if any(s.currency != currency for s in product.skus):
        raise CurrencyMismatch(
            "all SKUs of a product use one currency",
            details={"field": "currency", "expected": product.skus[0].currency},
        )
    sku = Sku(
        code=code, price=price, currency=currency, stock=stock, attributes=dict(attributes or {})
    )
    product.skus.append(sku)
    product.updated_at = clock.now()
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # the same code added concurrently
        raise SkuCodeTaken(
            "this product has a SKU with this code", details={"field": "code"}
        ) from exc
    _record_price(session, clock=clock, actor=actor, sku=sku, old=None)
    await session.flush()
    return _sku_out(sku)


async def _load_sku(session: AsyncSession, sku_id: int) -> tuple[Sku, Product]:
    sku = await session.get(Sku, sku_id)
    if sku is None:
        raise SkuNotFound("SKU not found", details={"sku_id": sku_id})
    return sku, await _load_product(session, sku.product_id)


async def update_sku(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Identity | None,
    sku_id: int,
    price: int | None = None,
    stock: int | None = None,
    attributes: dict[str, JsonValue] | None = None,
    original_price: int | Unset | None = UNSET,
) -> SkuOut:
    """Set a SKU's price, stock, attributes or "was" price; its brand's merchants.

    Price changes are logged. A "was" price is a discount claim: it must be above the price
    and may not exceed the lowest price of the 7 days before (checked before the new price
    takes effect); `None` takes the claim down.
    """
    sku, product = await _load_sku(session, sku_id)
    _require_manage(actor, product.brand_id, operators=False)
    if not isinstance(original_price, Unset):
        if original_price is not None:
            await _check_original_price(
                session, clock=clock, sku=sku, original=original_price, price=price
            )
        sku.original_price = original_price
    if price is not None and price != sku.price:
        old = sku.price
        sku.price = price
        _record_price(session, clock=clock, actor=actor, sku=sku, old=old)
    if stock is not None:
        sku.stock = stock
    if attributes is not None:
        sku.attributes = dict(attributes)
    product.updated_at = clock.now()
    await session.flush()
    return _sku_out(sku)


async def price_history(session: AsyncSession, sku_id: int) -> list[PriceChangeOut]:
    """Every price a SKU has had, oldest first."""
    if await session.get(Sku, sku_id) is None:
        raise SkuNotFound("SKU not found", details={"sku_id": sku_id})
    rows = await session.scalars(
        select(PriceHistory)
        .where(PriceHistory.sku_id == sku_id)
        .order_by(PriceHistory.changed_at, PriceHistory.id)
    )
    return [
        PriceChangeOut(
            old_price=r.old_price,
            new_price=r.new_price,
            currency=r.currency,
            changed_at=r.changed_at,
        )
        for r in rows
    ]


async def _check_original_price(
    session: AsyncSession, *, clock: Clock, sku: Sku, original: int, price: int | None
) -> None:
    now = clock.now()
    lowest_7d = await lowest_price_since(session, sku.id, now - ORIGINAL_PRICE_WINDOW)
    selling = sku.price if price is None else price
    if original <= selling or original > lowest_7d:
        raise OriginalPriceNotSupported(
            "an original price must be above the price and at most the lowest price of the "
            "previous 7 days",
            details={
                "original_price": original,
                "price": selling,
                "lowest_price_7d": lowest_7d,
                "lowest_price_30d": await lowest_price_since(
                    session, sku.id, now - timedelta(days=30)
                ),
            },
        )


async def lowest_price_since(session: AsyncSession, sku_id: int, since: datetime) -> int:
    """The lowest price the SKU has had from `since` until now (price-truth rules).

    That is the lowest of the prices set inside the window and the price in force when the
    window opened.
    """
    sku = await session.get(Sku, sku_id)
    if sku is None:
        raise SkuNotFound("SKU not found", details={"sku_id": sku_id})
    inside = await session.scalar(
        select(func.min(PriceHistory.new_price)).where(
            PriceHistory.sku_id == sku_id, PriceHistory.changed_at >= since
        )
    )
    before = await session.scalar(
        select(PriceHistory.new_price)
        .where(PriceHistory.sku_id == sku_id, PriceHistory.changed_at < since)
        .order_by(PriceHistory.changed_at.desc(), PriceHistory.id.desc())
        .limit(1)
    )
    prices = [p for p in (inside, before, sku.price) if p is not None]
    return min(prices)


# ---------------------------------------------------------------- stock


def _refresh_stock(session: AsyncSession, sku_id: int, stock: int) -> None:
    # Keep an already loaded SKU object truthful without a second query.
    loaded = session.identity_map.get(identity_key(Sku, sku_id))
    if loaded is not None:
        orm_attributes.set_committed_value(loaded, "stock", stock)


async def take_stock(session: AsyncSession, *, sku_id: int, quantity: int) -> bool:
    """Take stock in one conditional update; False when there is not enough (nothing changes)."""
    if quantity <= 0:
        raise InvalidInput("quantity must be positive", details={"field": "quantity"})
    result = await session.execute(
        update(Sku)
        .where(Sku.id == sku_id, Sku.stock >= quantity)
        .values(stock=Sku.stock - quantity)
        .returning(Sku.stock)
        .execution_options(synchronize_session=False)
    )
    left = result.scalar_one_or_none()
    if left is None:
        return False
    _refresh_stock(session, sku_id, left)
    return True


async def release_stock(session: AsyncSession, *, sku_id: int, quantity: int) -> None:
    """Give stock back (cancelled or expired orders)."""
    if quantity <= 0:
        raise InvalidInput("quantity must be positive", details={"field": "quantity"})
    result = await session.execute(
        update(Sku)
        .where(Sku.id == sku_id)
        .values(stock=Sku.stock + quantity)
        .returning(Sku.stock)
        .execution_options(synchronize_session=False)
    )
    left = result.scalar_one_or_none()
    if left is None:
        raise SkuNotFound("SKU not found", details={"sku_id": sku_id})
    _refresh_stock(session, sku_id, left)


# ---------------------------------------------------------------- other domains


async def product_cards(
    session: AsyncSession, product_ids: Iterable[int]
) -> dict[int, ProductCard]:
    """Cards of the given products, whatever their status (orders show delisted ones too)."""
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    rows = await session.scalars(select(Product).where(Product.id.in_(ids)))
    return {p.id: _card(p) for p in rows.unique()}


async def sku_stocks(session: AsyncSession, product_ids: Iterable[int]) -> list[int]:
    """The stock of every SKU of these products (a scarcity claim in chat is checked against
    them; units set aside for a flash sale are not among them: live adds the sales')."""
    ids = sorted(set(product_ids))
    if not ids:
        return []
    return list(await session.scalars(select(Sku.stock).where(Sku.product_id.in_(ids))))


async def sku_price_lows(
    session: AsyncSession, product_ids: Iterable[int]
) -> list[tuple[int, int]]:
    """(price now, lowest price ever) of every SKU in stock of these products, minor units (a
    "lowest price ever" claim in chat or a script is checked against them). The lowest is of
    every price the SKU's history records and the price now (one grouped query)."""
    ids = sorted(set(product_ids))
    if not ids:
        return []
    rows = await session.execute(
        select(Sku.price, func.min(PriceHistory.new_price))
        .outerjoin(PriceHistory, PriceHistory.sku_id == Sku.id)
        .where(Sku.product_id.in_(ids), Sku.stock > 0)
        .group_by(Sku.id, Sku.price)
    )
    return [(price, price if low is None else min(price, low)) for price, low in rows]


async def sku_snapshots(
    session: AsyncSession, sku_ids: Iterable[int], *, now: datetime | None = None
) -> dict[int, SkuSnapshot]:
    """The current price, stock, brand and title of each SKU; `product_status` is `delisted`
    while an operator's delisting holds, so carts, checkout and orders refuse it."""
    ids = sorted(set(sku_ids))
    if not ids:
        return {}
    rows = (
        await session.execute(
            select(Sku, Product.title, Product.brand_id, Product.status)
            .join(Product, Product.id == Sku.product_id)
            .where(Sku.id.in_(ids))
        )
    ).all()
    delisted = await _delistings(session, {sku.product_id for sku, *_ in rows}, now)
    found: dict[int, SkuSnapshot] = {}
    for sku, title, brand_id, status in rows:
        if sku.product_id in delisted:
            status = ProductStatus.delisted.value
        found[sku.id] = SkuSnapshot(
            sku_id=sku.id,
            product_id=sku.product_id,
            brand_id=brand_id,
            code=sku.code,
            title=variant_label(title, sku.code, sku.attributes),
            price=sku.price,
            currency=sku.currency,
            stock=sku.stock,
            product_status=ProductStatus(status),
        )
    return found


# ---------------------------------------------------------------- media


def _matches_signature(content_type: str, head: bytes) -> bool:
    checks = [head[at : at + len(magic)] == magic for at, magic in _SIGNATURES[content_type]]
    return all(checks) if content_type in _ALL_OF else any(checks)


async def _store_upload(upload: MediaUpload, *, media_dir: Path, max_bytes: int) -> str:
    """Write the upload under a random name; returns that name. Never uses the client's name."""
    kind_ext = UPLOAD_TYPES.get(upload.content_type)
    if kind_ext is None:
        raise BadMedia(
            "this file type is not accepted",
            details={"content_type": upload.content_type, "accepted": sorted(UPLOAD_TYPES)},
        )
    await anyio.Path(media_dir).mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16) + kind_ext[1]
    target = anyio.Path(media_dir / name)
    size = 0
    head = b""
    try:
        async with await anyio.open_file(target, "xb") as out:
            async for chunk in upload.chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise MediaTooLarge("the file is too large", details={"max_bytes": max_bytes})
                if len(head) < 16:
                    head += chunk[: 16 - len(head)]
                await out.write(chunk)
        if size == 0:
            raise BadMedia("the file is empty")
        if not _matches_signature(upload.content_type, head):
            raise BadMedia(
                "the file's content does not match its type",
                details={"content_type": upload.content_type},
            )
    except BaseException:
        await target.unlink(missing_ok=True)
        raise
    return name


async def add_media(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Identity | None,
    product_id: int,
    kind: MediaKind | None = None,
    url: str | None = None,
    upload: MediaUpload | None = None,
    media_dir: Path | None = None,
    max_bytes: int = 20 * 1024 * 1024,
) -> MediaOut:
    """Attach an image or video to a product: an external http(s) `url` of `kind`, or an
    `upload` stored under `media_dir`. Its brand's merchants only."""
    product = await _load_product(session, product_id)
    _require_manage(actor, product.brand_id, operators=False)
    if (url is None) == (upload is None):
        raise BadMedia("give either a url or an uploaded file")
    position = 1 + max((m.position for m in product.media), default=-1)
    media = ProductMedia(position=position, created_at=clock.now())
    if upload is not None:
        if media_dir is None:
            raise ValueError("media_dir is required for uploads")
        media.path = await _store_upload(upload, media_dir=media_dir, max_bytes=max_bytes)
        media.kind = UPLOAD_TYPES[upload.content_type][0].value
        media.content_type = upload.content_type
    else:
        assert url is not None
        if kind is None:
            raise BadMedia("say whether the url is an image or a video", details={"field": "kind"})
        if not url.lower().startswith(("https://", "http://")):
            raise BadMedia("media urls are http(s)", details={"field": "url"})
        media.kind = kind.value
        media.url = url
    product.media.append(media)
    product.updated_at = clock.now()
    await session.flush()
    return _media_out(media)


@dataclass(frozen=True)
class MediaLocation:
    """Where to serve a media item from: a stored file or an external URL."""

    file: Path | None
    url: str | None
    content_type: str | None


async def locate_media(session: AsyncSession, *, media_id: int, media_dir: Path) -> MediaLocation:
    """Resolve a media item to its file under media_dir, or to its external URL."""
    media = await session.get(ProductMedia, media_id)
    if media is None:
        raise MediaNotFound("media not found", details={"media_id": media_id})
    if media.path:
        # Stored names are ours, but a name must never lead outside the media directory.
        if Path(media.path).name != media.path or media.path.startswith("."):
            raise MediaNotFound("media file missing", details={"media_id": media_id})
        path = media_dir / media.path
        if not await anyio.Path(path).is_file():
            raise MediaNotFound("media file missing", details={"media_id": media_id})
        return MediaLocation(file=path, url=None, content_type=media.content_type)
    return MediaLocation(file=None, url=media.url, content_type=None)


# ---------------------------------------------------------------- knowledge cards


def _facts(product: Product) -> knowledge.ProductFacts:
    return knowledge.ProductFacts(
        title=product.title,
        description=product.description,
        category=product.category,
        attributes=product.attributes,
        skus=[
            knowledge.SkuFacts(
                code=s.code,
                price=s.price,
                currency=s.currency,
                stock=s.stock,
                attributes=s.attributes,
            )
            for s in product.skus
        ],
    )


def _compliance_notes(product: Product, *, lexicon: supervision.Lexicon) -> list[str]:
    hits = supervision.field_warnings(
        _compliance_fields(product.title, product.description), lexicon=lexicon
    )
    notes = [
        f"{hit.field}: \u201c{hit.text}\u201d \u2013 {hit.reason} ({hit.rule_id}, {hit.action})"
        for hit in hits
    ]
    return list(dict.fromkeys(notes)) or ["No compliance rule is hit by the title or description."]


async def _findings(session: AsyncSession, product_id: int) -> list[str]:
    """The latest quality inspection of the product's selection review, as card lines."""
    inspection = await supervision.latest_inspection(session, product_id=product_id)
    if inspection is None:
        return []
    verdict = "passed" if inspection.passed else "failed"
    day = inspection.inspected_at.date().isoformat()
    found = [f"Inspection {day} ({verdict}, sample {inspection.sample_id})"]
    return found + [line.strip() for line in inspection.findings.splitlines() if line.strip()]


def _card_out(
    card: KnowledgeCard, product: Product, findings: list[str] | None = None
) -> KnowledgeCardOut:
    return KnowledgeCardOut(
        product_id=product.id,
        brand_id=product.brand_id,
        title=product.title,
        selling_points=list(card.selling_points),
        specifications=dict(card.specifications),
        faqs=[FaqPair(question=f["question"], answer=f["answer"]) for f in card.faqs],
        compliance_notes=list(card.compliance_notes),
        inspection_findings=findings or [],
        edited=card.edited_by is not None,
        generated_at=card.generated_at,
        updated_at=card.updated_at,
    )


def _generate_into(
    card: KnowledgeCard, product: Product, *, lexicon: supervision.Lexicon, now: datetime
) -> None:
    made = knowledge.generate(_facts(product))
    card.selling_points = made.selling_points
    card.specifications = made.specifications
    card.faqs = made.faqs
    card.compliance_notes = _compliance_notes(product, lexicon=lexicon)
    card.edited_by = None
    card.generated_at = now
    card.updated_at = now


async def _card_row(
    session: AsyncSession, product: Product, *, clock: Clock, lexicon: supervision.Lexicon
) -> KnowledgeCard:
    card = await session.scalar(select(KnowledgeCard).where(KnowledgeCard.product_id == product.id))
    if card is None:
        card = KnowledgeCard(product_id=product.id)
        _generate_into(card, product, lexicon=lexicon, now=clock.now())
        session.add(card)
        await session.flush()
    return card


async def get_knowledge_card(
    session: AsyncSession,
    *,
    clock: Clock,
    lexicon: supervision.Lexicon,
    actor: Identity | None,
    product_id: int,
) -> KnowledgeCardOut:
    """A product's knowledge card, generated on first read (anyone who may see the product)."""
    product = await _load_product(session, product_id)
    if not _visible(actor, product):
        raise ProductNotFound("product not found", details={"product_id": product_id})
    card = await _card_row(session, product, clock=clock, lexicon=lexicon)
    return _card_out(card, product, await _findings(session, product.id))


async def update_knowledge_card(
    session: AsyncSession,
    *,
    clock: Clock,
    lexicon: supervision.Lexicon,
    actor: Identity | None,
    product_id: int,
    card_in: KnowledgeCardIn,
) -> KnowledgeCardOut:
    """Replace a card's selling points, specifications and answers (merchants of the brand).

    The brand's own words are scanned like the product's: a blocking hit refuses the edit
    (422 `compliance_blocked`); the compliance notes are computed again.
    """
    product = await _load_product(session, product_id)
    _require_manage(actor, product.brand_id, operators=False)
    texts = [*card_in.selling_points, *(f.answer for f in card_in.faqs)]
    supervision.check_fields(
        [(f"card[{i}]", "product_description", t) for i, t in enumerate(texts)], lexicon=lexicon
    )
    card = await _card_row(session, product, clock=clock, lexicon=lexicon)
    card.selling_points = list(card_in.selling_points)
    card.specifications = dict(card_in.specifications)
    card.faqs = [f.model_dump() for f in card_in.faqs]
    card.compliance_notes = _compliance_notes(product, lexicon=lexicon)
    card.edited_by = actor.id if actor is not None else None
    card.updated_at = clock.now()
    await session.flush()
    return _card_out(card, product, await _findings(session, product.id))


async def regenerate_knowledge_card(
    session: AsyncSession,
    *,
    clock: Clock,
    lexicon: supervision.Lexicon,
    actor: Identity | None,
    product_id: int,
) -> KnowledgeCardOut:
    """Generate the card again from the product as it is now (merchants of the brand, operators);
    merchants' edits are replaced."""
    product = await _load_product(session, product_id)
    _require_manage(actor, product.brand_id)
    card = await _card_row(session, product, clock=clock, lexicon=lexicon)
    _generate_into(card, product, lexicon=lexicon, now=clock.now())
    await session.flush()
    return _card_out(card, product, await _findings(session, product.id))


async def knowledge_cards(
    session: AsyncSession,
    *,
    clock: Clock,
    lexicon: supervision.Lexicon,
    product_ids: Iterable[int],
) -> dict[int, KnowledgeCardOut]:
    """Cards of the given products, generated where missing (the console, answer suggestions)."""
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    products = (await session.scalars(select(Product).where(Product.id.in_(ids)))).unique()
    return {
        p.id: _card_out(
            await _card_row(session, p, clock=clock, lexicon=lexicon),
            p,
            await _findings(session, p.id),
        )
        for p in products
    }
