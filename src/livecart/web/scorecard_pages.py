"""The brand scorecard: after-sales return and complaint rates per product and per week.

Two places are left for the lead to wire in other areas' scores (marked `SLOT` here and in
`brand_scorecard.html`): the risk score (supervision.service.risk_score) and the service score
(service.service.service_score).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from livecart.accounts.schemas import Identity, Role
from livecart.catalog import service as catalog
from livecart.catalog.schemas import BrandOut
from livecart.commerce import service as commerce
from livecart.commerce.schemas import BrandAfterSalesReport
from livecart.core.errors import PermissionDenied
from livecart.core.http import ContainerDep, UoW
from livecart.web.dependencies import PageUser, login_redirect
from livecart.web.pages import PageRoute, gate
from livecart.web.rendering import render

router = APIRouter(include_in_schema=False, route_class=PageRoute)


def scorecard_charts(report: BrandAfterSalesReport) -> list[dict[str, Any]]:
    """What the page's ECharts draw (rates in percent, rounded to 0.1)."""

    def pct(value: float) -> float:
        return round(100 * value, 1)

    return [
        {
            "id": "products",
            "kind": "bars",
            "title": "Return and complaint rate per product (%)",
            "labels": [p.title for p in report.products],
            "series": [
                {"name": "return rate", "data": [pct(p.return_rate) for p in report.products]},
                {
                    "name": "complaint rate",
                    "data": [pct(p.complaint_rate) for p in report.products],
                },
            ],
        },
        {
            "id": "weeks",
            "kind": "lines",
            "title": "Return and complaint rate per week of payment (%)",
            "labels": [w.start.date().isoformat() for w in report.weeks],
            # A week without paid orders has no rate (a gap), not a rate of 0.
            "series": [
                {
                    "name": "return rate",
                    "data": [pct(w.return_rate) if w.orders else None for w in report.weeks],
                },
                {
                    "name": "complaint rate",
                    "data": [pct(w.complaint_rate) if w.orders else None for w in report.weeks],
                },
            ],
            "orders": [w.orders for w in report.weeks],
        },
    ]


async def _scorecard(
    request: Request, user: Identity, uow: UoW, container: ContainerDep, brand: BrandOut
) -> Response:
    report = await commerce.brand_after_sales_report(
        uow.session, clock=container.clock, brand_id=brand.id
    )
    # ==== SLOT risk score: the lead wires supervision.service.risk_score(...) in here ====
    risk_score: Any = None
    # ==== SLOT service score: the lead wires service.service.service_score(...) in here ====
    service_score: Any = None
    context = {
        "brand": brand,
        "report": report,
        "charts": scorecard_charts(report),
        "risk_score": risk_score,
        "service_score": service_score,
    }
    return render(request, "brand_scorecard.html", user, context)


@router.get("/merchant/scorecard")
async def merchant_scorecard(
    request: Request,
    user: PageUser,
    uow: UoW,
    container: ContainerDep,
    brand_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    """The scorecard of one of the merchant's brands (the first unless `brand_id` names one)."""
    denied = await gate(request, user, Role.merchant)
    if denied is not None or user is None:
        return denied or login_redirect(request)
    if not user.brand_ids:
        raise PermissionDenied("you are not a merchant of any brand yet")
    chosen = brand_id if brand_id is not None else min(user.brand_ids)
    if chosen not in user.brand_ids:
        raise PermissionDenied("only staff of this brand see its scorecard")
    brand = await catalog.get_brand(uow.session, chosen)
    return await _scorecard(request, user, uow, container, brand)


@router.get("/operator/brands/{brand_id}/scorecard")
async def operator_scorecard(
    brand_id: int, request: Request, user: PageUser, uow: UoW, container: ContainerDep
) -> Response:
    """Any brand's scorecard, for operators."""
    denied = await gate(request, user, Role.operator)
    if denied is not None or user is None:
        return denied or login_redirect(request)
    brand = await catalog.get_brand(uow.session, brand_id)
    return await _scorecard(request, user, uow, container, brand)
