"""REST routes of the commerce domain: orders, cart, payments and the provider webhook."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request

from livecart.accounts.dependencies import CurrentUser, Merchant, require_role
from livecart.accounts.schemas import Identity, Role
from livecart.commerce import service
from livecart.commerce.errors import (
    OrderExpired,
    PaymentFailed,
    UnknownProvider,
    WebhookTooLarge,
)
from livecart.commerce.payments import SIGNATURE_HEADER
from livecart.commerce.schemas import (
    CartItemIn,
    CartOut,
    CheckoutIn,
    CheckoutOut,
    OrderIn,
    OrderOut,
    OrderStatus,
    WebhookOut,
)
from livecart.core.db import UnitOfWork
from livecart.core.http import ContainerDep, UoW

if TYPE_CHECKING:
    from livecart.bootstrap import Container

router = APIRouter(tags=["commerce"])

DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="A fresh random value per purchase attempt; retries reuse it.",
    ),
]
MerchantOrOperator = Annotated[Identity, Depends(require_role(Role.merchant, Role.operator))]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
MAX_WEBHOOK_BYTES = 64 * 1024


async def _bounded_body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_WEBHOOK_BYTES:
            raise WebhookTooLarge(f"webhook bodies are at most {MAX_WEBHOOK_BYTES} bytes")
    return bytes(body)


@router.post(
    "/orders",
    status_code=201,
    response_model=OrderOut,
    summary="Buy now: place an order, idempotent per Idempotency-Key (signed-in user)",
)
async def create_order(
    body: OrderIn,
    actor: CurrentUser,
    uow: UoW,
    container: ContainerDep,
    idempotency_key: IdempotencyKey = None,
) -> OrderOut:
    order = await service.create_order(
        uow,
        clock=container.clock,
        sink=container,
        actor=actor,
        items=body.items,
        session_id=body.session_id,
        idempotency_key=service.check_idempotency_key(idempotency_key),
        payment_minutes=container.settings.order_payment_minutes,
    )
    await uow.commit()
    return service.order_out(order)


@router.get(
    "/orders",
    response_model=list[OrderOut],
    summary="The caller's own orders, newest first (signed-in user)",
)
async def my_orders(
    actor: CurrentUser,
    uow: UoW,
    container: ContainerDep,
    status: OrderStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[OrderOut]:
    orders = await service.list_my_orders(
        uow.session, clock=container.clock, actor=actor, status=status, limit=limit, offset=offset
    )
    await uow.commit()  # orders found overdue were expired on the way
    return orders


@router.get(
    "/orders/{order_id}",
    response_model=OrderOut,
    summary="One order (its buyer, the brand's merchants, operators; 404 for anyone else)",
)
async def get_order(
    order_id: DbId, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> OrderOut:
    order = await service.get_order(
        uow.session, clock=container.clock, actor=actor, order_id=order_id
    )
    out = service.order_out(order)
    await uow.commit()
    return out


@router.post(
    "/orders/{order_id}/pay",
    response_model=OrderOut,
    summary="Pay an order through the payment provider (its buyer)",
)
async def pay_order(
    order_id: DbId, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> OrderOut:
    try:
        order = await service.pay_order(
            uow,
            clock=container.clock,
            provider=container.payments,
            sink=container,
            actor=actor,
            order_id=order_id,
        )
    except (OrderExpired, PaymentFailed):
        await uow.commit()  # the expiry, or the record of the declined or late payment, stands
        raise
    out = service.order_out(order)
    await uow.commit()
    return out


async def _change_state(
    change: service.OrderStateChange,
    order_id: int,
    actor: Identity,
    uow: UnitOfWork,
    container: Container,
) -> OrderOut:
    """Apply one order state change in the request's unit of work and answer the order."""
    order = await change(uow.session, clock=container.clock, actor=actor, order_id=order_id)
    out = service.order_out(order)
    await uow.commit()
    return out


@router.post(
    "/orders/{order_id}/ship",
    response_model=OrderOut,
    summary="Mark a paid order shipped (merchant of the order's brand)",
)
async def ship_order(
    order_id: DbId, actor: Merchant, uow: UoW, container: ContainerDep
) -> OrderOut:
    return await _change_state(service.ship_order, order_id, actor, uow, container)


@router.post(
    "/orders/{order_id}/deliver",
    response_model=OrderOut,
    summary="Mark a shipped order delivered (merchant of the brand, or operator for the carrier)",
)
async def deliver_order(
    order_id: DbId, actor: MerchantOrOperator, uow: UoW, container: ContainerDep
) -> OrderOut:
    return await _change_state(service.deliver_order, order_id, actor, uow, container)


@router.post(
    "/orders/{order_id}/complete",
    response_model=OrderOut,
    summary="Confirm receipt of a delivered order (its buyer)",
)
async def complete_order(
    order_id: DbId, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> OrderOut:
    return await _change_state(service.complete_order, order_id, actor, uow, container)


@router.post(
    "/orders/{order_id}/cancel",
    response_model=OrderOut,
    summary="Cancel an unpaid order; its stock goes back on sale (its buyer)",
)
async def cancel_order(
    order_id: DbId, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> OrderOut:
    return await _change_state(service.cancel_order, order_id, actor, uow, container)


@router.get(
    "/brands/{brand_id}/orders",
    response_model=list[OrderOut],
    summary="A brand's orders, newest first (merchant of the brand, operator)",
)
async def brand_orders(
    brand_id: DbId,
    actor: MerchantOrOperator,
    uow: UoW,
    container: ContainerDep,
    status: OrderStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[OrderOut]:
    orders = await service.list_brand_orders(
        uow.session,
        clock=container.clock,
        actor=actor,
        brand_id=brand_id,
        status=status,
        limit=limit,
        offset=offset,
    )
    await uow.commit()
    return orders


@router.get("/cart", response_model=CartOut, summary="The caller's cart (signed-in user)")
async def get_cart(actor: CurrentUser, uow: UoW) -> CartOut:
    return await service.get_cart(uow.session, actor=actor)


@router.post(
    "/cart/items",
    response_model=CartOut,
    summary="Put a SKU in the cart or set its quantity (signed-in user)",
)
async def add_to_cart(
    body: CartItemIn, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> CartOut:
    cart = await service.add_to_cart(
        uow,
        clock=container.clock,
        sink=container,
        actor=actor,
        sku_id=body.sku_id,
        quantity=body.quantity,
        session_id=body.session_id,
    )
    await uow.commit()
    return cart


@router.delete(
    "/cart/items/{sku_id}",
    response_model=CartOut,
    summary="Take a SKU out of the cart (signed-in user)",
)
async def remove_from_cart(sku_id: DbId, actor: CurrentUser, uow: UoW) -> CartOut:
    cart = await service.remove_from_cart(uow.session, actor=actor, sku_id=sku_id)
    await uow.commit()
    return cart


@router.post(
    "/cart/checkout",
    status_code=201,
    response_model=CheckoutOut,
    summary="Turn the cart into one order per brand, idempotent per Idempotency-Key "
    "(signed-in user)",
)
async def checkout(
    actor: CurrentUser,
    uow: UoW,
    container: ContainerDep,
    body: CheckoutIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> CheckoutOut:
    orders = await service.checkout(
        uow,
        clock=container.clock,
        sink=container,
        actor=actor,
        idempotency_key=service.check_idempotency_key(idempotency_key),
        payment_minutes=container.settings.order_payment_minutes,
    )
    out = CheckoutOut(orders=[service.order_out(o) for o in orders])
    await uow.commit()
    return out


@router.post(
    "/payments/webhooks/{provider}",
    response_model=WebhookOut,
    summary="A payment provider's signed webhook (anyone; the signature is the credential)",
)
async def payment_webhook(
    provider: Annotated[str, Path(max_length=30)],
    request: Request,
    uow: UoW,
    container: ContainerDep,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
) -> WebhookOut:
    if provider != container.payments.name:
        raise UnknownProvider("no such payment provider", details={"provider": provider})
    result = await service.apply_webhook(
        uow,
        clock=container.clock,
        provider=container.payments,
        sink=container,
        body=await _bounded_body(request),
        signature=signature,
    )
    await uow.commit()
    return result
