"""REST routes of the catalog: brands, products, SKUs, price history and media."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from livecart.accounts.dependencies import Operator, OptionalUser, require_role
from livecart.accounts.schemas import Identity, Role
from livecart.catalog import service
from livecart.catalog.errors import BadMedia, MediaTooLarge
from livecart.catalog.schemas import (
    UPLOAD_TYPES,
    BrandIn,
    BrandOut,
    KnowledgeCardIn,
    KnowledgeCardOut,
    MediaOut,
    MediaUpload,
    MediaUrlIn,
    PriceChangeOut,
    ProductCard,
    ProductIn,
    ProductOut,
    ProductPatch,
    SkuIn,
    SkuOut,
    SkuPatch,
)
from livecart.core.errors import DomainError
from livecart.core.http import ContainerDep, UoW
from livecart.supervision import service as supervision

router = APIRouter(tags=["catalog"])

BrandStaff = Annotated[Identity, Depends(require_role(Role.merchant, Role.operator))]
BrandMerchant = Annotated[Identity, Depends(require_role(Role.merchant))]

CHUNK = 64 * 1024
# Multipart framing around the file; a body larger than this plus the limit is refused unread.
MULTIPART_OVERHEAD = 64 * 1024

_MEDIA_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "application/json": {"schema": MediaUrlIn.model_json_schema()},
        },
    }
}


@router.post(
    "/brands",
    status_code=201,
    response_model=BrandOut,
    summary="Register a brand (operator)",
)
async def create_brand(
    body: BrandIn, actor: Operator, uow: UoW, container: ContainerDep
) -> BrandOut:
    brand = await service.create_brand(
        uow.session,
        clock=container.clock,
        actor=actor,
        name=body.name,
        description=body.description,
    )
    await uow.commit()
    return brand


@router.get("/brands", response_model=list[BrandOut], summary="List brands (anyone)")
async def list_brands(
    uow: UoW,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[BrandOut]:
    return await service.list_brands(uow.session, limit=limit, offset=offset)


@router.get("/brands/{brand_id}", response_model=BrandOut, summary="One brand (anyone)")
async def get_brand(brand_id: int, uow: UoW) -> BrandOut:
    return await service.get_brand(uow.session, brand_id)


@router.post(
    "/products",
    status_code=201,
    response_model=ProductOut,
    summary="List a product with its SKUs (merchant of the brand, operator)",
    description=(
        "The title and description are scanned by the compliance lexicon "
        "(kinds `product_title`, `product_description`). A blocking hit refuses the product "
        "with 422 `compliance_blocked` (`details.rule_ids`, `details.hits`: field, rule_id, "
        "text, reason...); warn-only hits are accepted and listed in `compliance_warnings`."
    ),
    responses={422: {"description": "`compliance_blocked`, or invalid input"}},
)
async def create_product(
    body: ProductIn, actor: BrandStaff, uow: UoW, container: ContainerDep
) -> ProductOut:
    try:
        product = await service.create_product(
            uow.session,
            clock=container.clock,
            lexicon=container.lexicon,
            actor=actor,
            brand_id=body.brand_id,
            title=body.title,
            description=body.description,
            category=body.category,
            attributes=body.attributes,
            skus=body.skus,
        )
    except DomainError as refused:
        await _keep_refusal(uow, container, refused, brand_id=body.brand_id)
        raise
    await _keep_warnings(uow, container, product)
    await uow.commit()
    return product


async def _keep_refusal(
    uow: UoW, container: ContainerDep, refused: DomainError, **subject: int
) -> None:
    """A refused text or price claim is a risk signal (docs/supervision.md)."""
    await supervision.keep_refusal(
        uow, container.uow, clock=container.clock, refused=refused, **subject
    )


async def _keep_warnings(uow: UoW, container: ContainerDep, product: ProductOut) -> None:
    await supervision.record_product_warnings(
        uow.session,
        clock=container.clock,
        hits=product.compliance_warnings,
        brand_id=product.brand_id,
        product_id=product.id,
    )


@router.get(
    "/products",
    response_model=list[ProductCard],
    summary="Product cards (anyone; delisted ones only for brand staff and operators)",
)
async def list_products(
    actor: OptionalUser,
    uow: UoW,
    brand_id: int | None = None,
    category: Annotated[str | None, Query(max_length=80)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ProductCard]:
    return await service.list_products(
        uow.session,
        actor=actor,
        brand_id=brand_id,
        category=category,
        q=q,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/products/{product_id}",
    response_model=ProductOut,
    summary="One product (anyone; delisted ones only for brand staff and operators)",
    description="`compliance_warnings` are computed on read with the lexicon in force.",
)
async def get_product(
    product_id: int, actor: OptionalUser, uow: UoW, container: ContainerDep
) -> ProductOut:
    return await service.get_product(
        uow.session, lexicon=container.lexicon, actor=actor, product_id=product_id
    )


@router.patch(
    "/products/{product_id}",
    response_model=ProductOut,
    summary="Edit or (de)list a product (merchant of the brand, operator)",
    description=(
        "A new title or description is scanned like on create: a blocking hit gives 422 "
        "`compliance_blocked` and nothing changes; warn-only hits come back in "
        "`compliance_warnings`. Fields not sent are not re-checked."
    ),
    responses={422: {"description": "`compliance_blocked`, or invalid input"}},
)
async def update_product(
    product_id: int, body: ProductPatch, actor: BrandStaff, uow: UoW, container: ContainerDep
) -> ProductOut:
    try:
        product = await service.update_product(
            uow.session,
            clock=container.clock,
            lexicon=container.lexicon,
            actor=actor,
            product_id=product_id,
            title=body.title,
            description=body.description,
            category=body.category,
            attributes=body.attributes,
            status=body.status,
        )
    except DomainError as refused:
        await _keep_refusal(uow, container, refused, product_id=product_id)
        raise
    if body.title is not None or body.description is not None:
        await _keep_warnings(uow, container, product)
    await uow.commit()
    return product


@router.post(
    "/products/{product_id}/skus",
    status_code=201,
    response_model=SkuOut,
    summary="Add a SKU to a product (merchant of the brand)",
)
async def add_sku(
    product_id: int, body: SkuIn, actor: BrandMerchant, uow: UoW, container: ContainerDep
) -> SkuOut:
    sku = await service.add_sku(
        uow.session,
        clock=container.clock,
        actor=actor,
        product_id=product_id,
        code=body.code,
        price=body.price,
        currency=body.currency,
        stock=body.stock,
        attributes=body.attributes,
    )
    await uow.commit()
    return sku


@router.patch(
    "/skus/{sku_id}",
    response_model=SkuOut,
    summary="Set a SKU's price, stock, attributes or original price (merchant of the brand)",
    description=(
        "Fields left out stay as they are. `original_price` is the struck-through 'was' price "
        "of a discount claim: it must be above the price and at most the lowest price of the "
        "previous 7 days (409 `original_price_not_supported` with `lowest_price_7d` and "
        "`lowest_price_30d`); null takes the claim down."
    ),
)
async def update_sku(
    sku_id: int, body: SkuPatch, actor: BrandMerchant, uow: UoW, container: ContainerDep
) -> SkuOut:
    try:
        sku = await service.update_sku(
            uow.session,
            clock=container.clock,
            actor=actor,
            sku_id=sku_id,
            price=body.price,
            stock=body.stock,
            attributes=body.attributes,
            original_price=(
                body.original_price if "original_price" in body.model_fields_set else service.UNSET
            ),
        )
    except DomainError as refused:
        await _keep_refusal(uow, container, refused, sku_id=sku_id)
        raise
    await uow.commit()
    return sku


@router.get(
    "/skus/{sku_id}/price-history",
    response_model=list[PriceChangeOut],
    summary="Every price a SKU has had, oldest first (anyone)",
)
async def price_history(sku_id: int, uow: UoW) -> list[PriceChangeOut]:
    return await service.price_history(uow.session, sku_id)


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk


@router.post(
    "/products/{product_id}/media",
    status_code=201,
    response_model=MediaOut,
    summary="Attach an image or video: multipart `file` or JSON {kind, url} (brand merchant)",
    openapi_extra=_MEDIA_BODY,
)
async def add_media(
    product_id: int, request: Request, actor: BrandMerchant, uow: UoW, container: ContainerDep
) -> MediaOut:
    settings = container.settings
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > settings.media_max_bytes + MULTIPART_OVERHEAD:
            raise MediaTooLarge(
                "the file is too large", details={"max_bytes": settings.media_max_bytes}
            )
        form = await request.form(max_files=1, max_fields=5)
        try:
            file = form.get("file")
            if not isinstance(file, UploadFile):
                raise BadMedia("send the file in the form field `file`", details={"field": "file"})
            file_type = (file.content_type or "").split(";")[0].strip().lower()
            if file_type not in UPLOAD_TYPES:
                raise BadMedia(
                    "this file type is not accepted",
                    details={"content_type": file_type, "accepted": sorted(UPLOAD_TYPES)},
                )
            media = await service.add_media(
                uow.session,
                clock=container.clock,
                actor=actor,
                product_id=product_id,
                upload=MediaUpload(content_type=file_type, chunks=_chunks(file)),
                media_dir=settings.media_dir,
                max_bytes=settings.media_max_bytes,
            )
        finally:
            await form.close()
    else:
        try:
            body = MediaUrlIn.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_url=False)) from exc
        media = await service.add_media(
            uow.session,
            clock=container.clock,
            actor=actor,
            product_id=product_id,
            kind=body.kind,
            url=str(body.url),
        )
    await uow.commit()
    return media


@router.get(
    "/media/{media_id}",
    response_model=None,
    response_class=Response,
    summary="A product image or video: the stored file, or a redirect to its URL (anyone)",
    responses={
        200: {"content": {t: {} for t in UPLOAD_TYPES}, "description": "The stored file."},
        307: {"description": "The media lives at an external URL."},
    },
)
async def serve_media(media_id: int, uow: UoW, container: ContainerDep) -> Response:
    where = await service.locate_media(
        uow.session, media_id=media_id, media_dir=container.settings.media_dir
    )
    if where.file is not None:
        return FileResponse(
            where.file,
            media_type=where.content_type,
            headers={
                # Stored names are random and never reused, so the bytes never change.
                "Cache-Control": "public, max-age=31536000, immutable",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
            },
        )
    return RedirectResponse(str(where.url), status_code=307)


# ---------------------------------------------------------------- knowledge cards

CardReader = Annotated[Identity, Depends(require_role(Role.merchant, Role.operator, Role.anchor))]


@router.get(
    "/products/{product_id}/knowledge-card",
    response_model=KnowledgeCardOut,
    summary="A product's knowledge card (merchants, operators, anchors)",
    description="Generated from the product on first read; merchants of the brand edit it.",
)
async def get_knowledge_card(
    product_id: int, actor: CardReader, uow: UoW, container: ContainerDep
) -> KnowledgeCardOut:
    card = await service.get_knowledge_card(
        uow.session,
        clock=container.clock,
        lexicon=container.lexicon,
        actor=actor,
        product_id=product_id,
    )
    await uow.commit()
    return card


@router.put(
    "/products/{product_id}/knowledge-card",
    response_model=KnowledgeCardOut,
    summary="Replace a card's selling points, specifications and answers (merchant of the brand)",
    description=(
        "Selling points and answers are scanned like a product description: a blocking hit "
        "gives 422 `compliance_blocked`. Compliance notes are computed, not sent."
    ),
)
async def put_knowledge_card(
    product_id: int,
    body: KnowledgeCardIn,
    actor: BrandMerchant,
    uow: UoW,
    container: ContainerDep,
) -> KnowledgeCardOut:
    card = await service.update_knowledge_card(
        uow.session,
        clock=container.clock,
        lexicon=container.lexicon,
        actor=actor,
        product_id=product_id,
        card_in=body,
    )
    await uow.commit()
    return card


@router.post(
    "/products/{product_id}/knowledge-card/regenerate",
    response_model=KnowledgeCardOut,
    summary="Generate a card again from the product (merchant of the brand, operator)",
)
async def regenerate_knowledge_card(
    product_id: int, actor: BrandStaff, uow: UoW, container: ContainerDep
) -> KnowledgeCardOut:
    card = await service.regenerate_knowledge_card(
        uow.session,
        clock=container.clock,
        lexicon=container.lexicon,
        actor=actor,
        product_id=product_id,
    )
    await uow.commit()
    return card
