"""REST routes of commerce: orders, cart, payments, the provider webhook and after-sales."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request

from livecart.accounts.dependencies import CurrentUser, Merchant, Operator, require_role
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
    AfterSalesAnswerIn,
    AfterSalesRate,
    AfterSalesRequestIn,
    AfterSalesRequestOut,
    AfterSalesStatus,
    BrandAfterSalesReport,
    CartItemIn,
    CartOut,
    CategoryReturnRuleIn,
    CategoryReturnRuleOut,
    CheckoutIn,
    CheckoutOut,
    OrderIn,
    OrderOut,
    OrderStatus,
    RefundOut,
    WebhookOut,
)
from livecart.core.db import UnitOfWork
from livecart.core.errors import PermissionDenied
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
        coupon_id=body.coupon_id,
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
        coupon_id=body.coupon_id if body is not None else None,
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


# ---------------------------------------------------------------- after-sales

Category = Annotated[str, Path(min_length=1, max_length=80)]


@router.post(
    "/orders/{order_id}/after-sales",
    status_code=201,
    response_model=AfterSalesRequestOut,
    summary="Ask for a return or refund on one line of an order (its buyer)",
)
async def request_after_sales(
    order_id: DbId,
    body: AfterSalesRequestIn,
    actor: CurrentUser,
    uow: UoW,
    container: ContainerDep,
) -> AfterSalesRequestOut:
    request = await service.create_after_sales_request(
        uow.session,
        clock=container.clock,
        actor=actor,
        order_id=order_id,
        body=body,
        policy=service.after_sales_policy(container.settings),
    )
    out = service.after_sales_out(request)
    await uow.commit()
    return out


@router.get(
    "/orders/{order_id}/refunds",
    response_model=list[RefundOut],
    summary="Refunds of an order (its buyer, the brand's merchants, operators)",
)
async def order_refunds(order_id: DbId, actor: CurrentUser, uow: UoW) -> list[RefundOut]:
    return await service.order_refunds(uow.session, actor=actor, order_id=order_id)


@router.get(
    "/after-sales",
    response_model=list[AfterSalesRequestOut],
    summary="The caller's own return and refund requests, newest first (signed-in user)",
)
async def my_after_sales(actor: CurrentUser, uow: UoW) -> list[AfterSalesRequestOut]:
    return await service.list_my_after_sales(uow.session, actor=actor)


@router.get(
    "/after-sales/{request_id}",
    response_model=AfterSalesRequestOut,
    summary="One request (its buyer, the brand's merchants, operators; 404 for anyone else)",
)
async def get_after_sales(request_id: DbId, actor: CurrentUser, uow: UoW) -> AfterSalesRequestOut:
    request = await service.get_after_sales_request(uow.session, actor=actor, request_id=request_id)
    return service.after_sales_out(request)


@router.post(
    "/after-sales/{request_id}/answer",
    response_model=AfterSalesRequestOut,
    summary="Approve or reject (with a reason) a waiting request (merchant of the brand)",
)
async def answer_after_sales(
    request_id: DbId,
    body: AfterSalesAnswerIn,
    actor: Merchant,
    uow: UoW,
    container: ContainerDep,
) -> AfterSalesRequestOut:
    request = await service.answer_after_sales_request(
        uow.session,
        clock=container.clock,
        provider=container.payments,
        actor=actor,
        request_id=request_id,
        approve=body.approve,
        reason=body.reason,
    )
    out = service.after_sales_out(request)
    await uow.commit()
    return out


@router.post(
    "/after-sales/{request_id}/receive",
    response_model=AfterSalesRequestOut,
    summary="The returned goods arrived: stock back, refund (merchant of the brand; idempotent)",
)
async def receive_after_sales(
    request_id: DbId, actor: Merchant, uow: UoW, container: ContainerDep
) -> AfterSalesRequestOut:
    request = await service.receive_returned_goods(
        uow.session,
        clock=container.clock,
        provider=container.payments,
        actor=actor,
        request_id=request_id,
    )
    out = service.after_sales_out(request)
    await uow.commit()
    return out


@router.get(
    "/brands/{brand_id}/after-sales",
    response_model=list[AfterSalesRequestOut],
    summary="A brand's after-sales queue, waiting ones first by deadline (merchant, operator)",
)
async def brand_after_sales(
    brand_id: DbId,
    actor: MerchantOrOperator,
    uow: UoW,
    status: AfterSalesStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[AfterSalesRequestOut]:
    return await service.list_brand_after_sales(
        uow.session, actor=actor, brand_id=brand_id, status=status, limit=limit, offset=offset
    )


@router.get(
    "/brands/{brand_id}/after-sales/report",
    response_model=BrandAfterSalesReport,
    summary="A brand's return and complaint rates, per product and week (merchant, operator)",
)
async def brand_after_sales_report(
    brand_id: DbId, actor: MerchantOrOperator, uow: UoW, container: ContainerDep
) -> BrandAfterSalesReport:
    if brand_id not in actor.brand_ids and not actor.is_operator:
        raise PermissionDenied("only staff of this brand see its report")
    return await service.brand_after_sales_report(
        uow.session, clock=container.clock, brand_id=brand_id
    )


@router.get(
    "/after-sales-rates",
    response_model=list[AfterSalesRate],
    summary="Return and complaint rates by product, brand, anchor or session (operator)",
)
async def after_sales_rates(
    actor: Operator,
    uow: UoW,
    group_by: Annotated[Literal["product", "brand", "anchor", "session"], Query()],
    since: datetime | None = None,
) -> list[AfterSalesRate]:
    return await service.after_sales_rates(uow.session, group_by=group_by, since=since)


@router.get(
    "/return-rules",
    response_model=list[CategoryReturnRuleOut],
    summary="Categories with an operator's no-reason return rule (anyone)",
)
async def return_rules(uow: UoW) -> list[CategoryReturnRuleOut]:
    return await service.list_category_return_rules(uow.session)


@router.get(
    "/return-rules/{category}",
    response_model=CategoryReturnRuleOut,
    summary="Whether a category takes 7-day no-reason returns, and if by default (anyone)",
)
async def return_rule(category: Category, uow: UoW) -> CategoryReturnRuleOut:
    return await service.category_return_rule(uow.session, category)


@router.put(
    "/return-rules/{category}",
    response_model=CategoryReturnRuleOut,
    summary="Set whether a category takes 7-day no-reason returns (operator)",
)
async def set_return_rule(
    category: Category,
    body: CategoryReturnRuleIn,
    actor: Operator,
    uow: UoW,
    container: ContainerDep,
) -> CategoryReturnRuleOut:
    rule = await service.set_category_return_rule(
        uow.session,
        clock=container.clock,
        actor=actor,
        category=category,
        no_reason_returns=body.no_reason_returns,
        note=body.note,
    )
    await uow.commit()
    return rule
