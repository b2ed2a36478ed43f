"""REST routes of flash sales."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Header, Path, Request

from livecart.accounts.dependencies import CurrentUser, require_role
from livecart.accounts.schemas import Identity, Role
from livecart.commerce.schemas import OrderOut
from livecart.core.errors import DomainError
from livecart.core.http import ContainerDep, UoW
from livecart.flashsale import service
from livecart.flashsale.schemas import (
    FlashOrderIn,
    FlashSaleBannerIn,
    FlashSaleIn,
    FlashSaleOut,
    FlashSaleStatusOut,
    StockBooksOut,
)
from livecart.supervision import service as supervision
from livecart.supervision.errors import ComplianceBlocked
from livecart.supervision.scarcity import ScarcityClaimFalse

if TYPE_CHECKING:
    from livecart.bootstrap import Container

router = APIRouter(prefix="/flash-sales", tags=["flash sales"])

SaleId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Seller = Annotated[Identity, Depends(require_role(Role.anchor, Role.merchant))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="A fresh random value per purchase attempt; retries reuse it.",
    ),
]


def _flash(container: Container) -> service.FlashRuntime:
    return container.flash


@router.post(
    "",
    status_code=201,
    response_model=FlashSaleOut,
    summary="Create a flash sale of a showcased SKU (the session's anchor or the brand's merchant)",
    description=(
        "Sets `quantity` units of the SKU's stock aside at `price` (minor units), which must be "
        "below the SKU's lowest price of the previous 30 days (`price_not_lowest`). The sale "
        "opens at `starts_at` or when started, and closes at `ends_at` or when ended; unsold "
        "units go back to the SKU. Refused with 403 `product_delisted`, `room_suspended` or "
        "`anchor_suspended` while such a sanction holds. The optional `banner` is scanned by "
        "the compliance lexicon (422 `compliance_blocked`) and may not claim fewer remaining "
        "units than `quantity` (422 `scarcity_claim_false`)."
    ),
)
async def create_sale(
    body: FlashSaleIn, actor: Seller, uow: UoW, container: ContainerDep
) -> FlashSaleOut:
    try:
        out = await service.create_sale(
            uow, clock=container.clock, actor=actor, body=body, lexicon=container.lexicon
        )
    except DomainError as refused:
        # A price-truth violation or a refused banner is a risk signal.
        await supervision.keep_refusal(
            uow,
            container.uow,
            clock=container.clock,
            refused=refused,
            sku_id=body.sku_id,
            session_id=body.session_id,
        )
        raise
    await uow.commit()
    return out


@router.patch(
    "/{sale_id}",
    response_model=FlashSaleOut,
    summary="Change a flash sale's banner (the session's anchor or the brand's merchant)",
    description=(
        "The banner is checked like on create: 422 `compliance_blocked` for a blocking "
        "compliance hit, 422 `scarcity_claim_false` when it claims fewer units left than the "
        "sale has now; the room gets the sale again."
    ),
)
async def update_sale(
    sale_id: SaleId, body: FlashSaleBannerIn, actor: Seller, uow: UoW, container: ContainerDep
) -> FlashSaleOut:
    try:
        out = await service.update_banner(
            uow,
            _flash(container),
            actor=actor,
            sale_id=sale_id,
            body=body,
            lexicon=container.lexicon,
        )
    except (ComplianceBlocked, ScarcityClaimFalse) as refused:
        # Kept as a risk signal like a banner refused on create.
        sku_id, session_id = await service.sale_refs(uow.session, sale_id)
        await supervision.keep_refusal(
            uow,
            container.uow,
            clock=container.clock,
            refused=refused,
            sku_id=sku_id,
            session_id=session_id,
        )
        raise
    await uow.commit()
    return out


@router.post(
    "/{sale_id}/start",
    response_model=FlashSaleStatusOut,
    summary="Open a flash sale now; the room gets it with its countdown",
    description="403 `flash_sale_frozen` (or another sanction's code) while a sanction holds.",
)
async def start_sale(
    sale_id: SaleId, actor: Seller, uow: UoW, container: ContainerDep
) -> FlashSaleStatusOut:
    out = await service.start_sale(uow, _flash(container), actor=actor, sale_id=sale_id)
    await uow.commit()
    return out


@router.post(
    "/{sale_id}/end",
    response_model=FlashSaleStatusOut,
    summary="Close a flash sale; unsold units go back to the SKU's stock",
)
async def end_sale(
    sale_id: SaleId, actor: Seller, uow: UoW, container: ContainerDep
) -> FlashSaleStatusOut:
    out = await service.end_sale(uow, _flash(container), actor=actor, sale_id=sale_id)
    await uow.commit()
    return out


@router.get("/{sale_id}", response_model=FlashSaleOut, summary="A flash sale (anyone)")
async def get_sale(sale_id: SaleId, uow: UoW, container: ContainerDep) -> FlashSaleOut:
    out = await service.get_sale(uow, _flash(container), sale_id)
    await uow.commit()
    return out


@router.get(
    "/{sale_id}/stock",
    response_model=StockBooksOut,
    summary="Reconcile the stock store with the database now (operator or the sale's sellers)",
)
async def stock_books(
    sale_id: SaleId, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> StockBooksOut:
    return await service.stock_books(uow, _flash(container), actor=actor, sale_id=sale_id)


@router.post(
    "/{sale_id}/orders",
    status_code=201,
    response_model=OrderOut,
    summary="Buy from a flash sale, idempotent per Idempotency-Key (signed-in user)",
    description=(
        "201 with the order in `pending_payment` once it is durable; pay it within the "
        "reservation time or its units are sold again. The same key returns the same order. "
        "409 `sold_out`, `limit_exceeded`, `pending_order_exists` (one unpaid order per buyer "
        "per sale), `sale_not_live`, `sale_ended`; 429 `rate_limited` with Retry-After; 403 "
        "`flash_sale_frozen` while an operator's freeze holds (and `product_delisted`, "
        "`room_suspended`, `anchor_suspended` for those sanctions), on every worker from the "
        "moment the sanction is committed."
    ),
    responses={409: {"description": "sold out, over the limit, or an unpaid order exists"}},
)
async def buy(
    sale_id: SaleId,
    body: FlashOrderIn,
    actor: CurrentUser,
    request: Request,
    uow: UoW,
    container: ContainerDep,
    idempotency_key: IdempotencyKey = None,
) -> OrderOut:
    # The purchase is written by the group-commit writer in its own transaction; holding this
    # request's connection while waiting for it would drain the pool under a burst.
    await uow.release()
    order, _ = await service.buy(
        _flash(container),
        actor=actor,
        sale_id=sale_id,
        quantity=body.quantity,
        idempotency_key=idempotency_key or "",
        ip=request.client.host if request.client else None,
    )
    return order
