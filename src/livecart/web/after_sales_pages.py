"""After-sales pages: a buyer's return request from the orders page, the merchant's queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from livecart.accounts.schemas import Role
from livecart.commerce import service as commerce
from livecart.commerce.schemas import (
    EVIDENCE_MAX,
    FAULT_REASONS,
    AfterSalesRequestIn,
    AfterSalesRequestOut,
    AfterSalesStatus,
    ReturnReason,
)
from livecart.core.errors import InvalidInput
from livecart.core.http import ContainerDep, UoW
from livecart.web.dependencies import PageUser, login_redirect
from livecart.web.pages import PageRoute, gate
from livecart.web.rendering import render

router = APIRouter(include_in_schema=False, route_class=PageRoute)

API = "/api/v1"
AFTER_SALES_ACTIONS = {
    "answer": "POST " + API + "/after-sales/{id}/answer",
    "receive": "POST " + API + "/after-sales/{id}/receive",
}
REASON_LABELS = {
    ReturnReason.no_reason: "No reason (7-day return)",
    ReturnReason.quality: "Quality problem",
    ReturnReason.not_as_described: "Not as described",
    ReturnReason.damaged: "Arrived damaged",
    ReturnReason.wrong_item: "Wrong item",
    ReturnReason.other: "Other",
}


def _line(value: str) -> tuple[int, int]:
    """The form's "order_id:sku_id"."""
    order_id, _, sku_id = value.partition(":")
    if not (order_id.isdigit() and sku_id.isdigit()):
        raise InvalidInput("choose an order line", details={"field": "line"})
    return int(order_id), int(sku_id)


@router.post("/orders/after-sales")
async def request_after_sales(
    request: Request,
    user: PageUser,
    uow: UoW,
    container: ContainerDep,
    line: Annotated[str, Form(max_length=30)],
    quantity: Annotated[int, Form()],
    reason: Annotated[str, Form(max_length=30)],
    text: Annotated[str, Form(max_length=2000)] = "",
    evidence: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """The orders page's form: a line, units, reason, words and photo links (one a line)."""
    if user is None:
        return login_redirect(request)
    order_id, sku_id = _line(line)
    links = [link.strip() for link in evidence.splitlines() if link.strip()]
    try:
        body = AfterSalesRequestIn.model_validate(
            {
                "sku_id": sku_id,
                "quantity": quantity,
                "reason": reason,
                "text": text,
                "evidence": links,
            }
        )
    except ValidationError as exc:
        raise InvalidInput(
            "check the request: a known reason, 1 to 99 units and at most "
            f"{EVIDENCE_MAX} photo links of up to 500 characters each"
        ) from exc
    await commerce.create_after_sales_request(
        uow.session,
        clock=container.clock,
        actor=user,
        order_id=order_id,
        body=body,
        policy=commerce.after_sales_policy(container.settings),
    )
    await uow.commit()
    return RedirectResponse("/orders#returns", status_code=303)


@router.get("/merchant/after-sales")
async def after_sales_queue(
    request: Request, user: PageUser, uow: UoW, container: ContainerDep
) -> Response:
    """Every request of the merchant's brands, waiting ones first with their SLA timers."""
    denied = await gate(request, user, Role.merchant)
    if denied is not None or user is None:
        return denied or login_redirect(request)
    requests: list[AfterSalesRequestOut] = []
    for brand_id in sorted(user.brand_ids):
        requests += await commerce.list_brand_after_sales(
            uow.session, actor=user, brand_id=brand_id, limit=200
        )
    now = container.clock.now()
    waiting = [r for r in requests if r.status == AfterSalesStatus.requested]
    context = {
        "waiting": waiting,
        "others": [r for r in requests if r.status != AfterSalesStatus.requested],
        "now": now,
        "seconds_left": {r.id: int((r.answer_due_at - now).total_seconds()) for r in waiting},
        "answer_hours": container.settings.after_sales_answer_hours,
        "reasons": {r.value: REASON_LABELS[r] for r in ReturnReason},
        "faults": {r.value for r in FAULT_REASONS},
        "actions": AFTER_SALES_ACTIONS,
    }
    return render(request, "merchant_after_sales.html", user, context)
