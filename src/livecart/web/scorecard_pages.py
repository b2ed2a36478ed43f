"""The brand scorecard: after-sales return and complaint rates per product and per week, the
brand's risk score with each signal's contribution (supervision), and its service score next
to the platform's (customer service)."""

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
from livecart.service import service as customer_service
from livecart.service.schemas import ServiceScoreOut
from livecart.supervision import service as supervision
from livecart.supervision.risk_schemas import RiskScoreOut
from livecart.web.dependencies import PageUser, login_redirect
from livecart.web.pages import PageRoute, gate
from livecart.web.rendering import render

router = APIRouter(include_in_schema=False, route_class=PageRoute)


def _pct(value: float) -> float:
    return round(100 * value, 1)


# The service score's components, in the order the page shows them: key, the table's label,
# the chart's (short) label.
SERVICE_COMPONENTS: tuple[tuple[str, str, str], ...] = (
    ("question_response", "live questions answered within 5 min", "questions ≤ 5 min"),
    ("ticket_response", "tickets answered within 24 h", "tickets ≤ 24 h"),
    ("resolution", "tickets resolved", "resolved"),
    ("satisfaction", "satisfaction", "satisfaction"),
)


def risk_chart(risk: RiskScoreOut) -> dict[str, Any]:
    """One bar per signal: its contribution in points of the 0-100 score (any signals)."""
    return {
        "id": "risk",
        "kind": "bars",
        "unit": "points",
        "title": f"Risk score {risk.score:.1f} of 100 ({risk.level}): contribution per signal",
        "labels": [c.signal for c in risk.contributions],
        "series": [
            {
                "name": "contribution",
                "data": [round(c.contribution, 1) for c in risk.contributions],
            }
        ],
    }


def service_chart(brand: ServiceScoreOut, platform: ServiceScoreOut) -> dict[str, Any]:
    """The service components of the brand beside the platform's, in percent (None: no data)."""

    def row(score: ServiceScoreOut) -> list[float | None]:
        values = [score.components.get(key) for key, _, _ in SERVICE_COMPONENTS]
        return [_pct(v) if v is not None else None for v in values]

    return {
        "id": "service",
        "kind": "bars",
        "title": "Service score components: brand and platform (%)",
        "labels": [short for _, _, short in SERVICE_COMPONENTS],
        "series": [
            {"name": "brand", "data": row(brand)},
            {"name": "platform", "data": row(platform)},
        ],
    }


def duration(seconds: float | None) -> str:
    """A median time for people: '42 s', '3 min 20 s', '5 h 12 min', '2 d 3 h'; '—' without data."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"


def scorecard_charts(report: BrandAfterSalesReport) -> list[dict[str, Any]]:
    """What the page's after-sales ECharts draw (rates in percent, rounded to 0.1)."""
    pct = _pct
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
    now = container.clock.now()
    risk = await supervision.risk_score(
        uow.session, subject_kind="brand", subject_id=brand.id, now=now
    )
    service_score = await customer_service.service_score(uow.session, brand_id=brand.id, now=now)
    # The platform's score is shown to the brand's staff too: it is what they are compared with.
    platform_score = await customer_service.service_score(uow.session, brand_id=None, now=now)
    charts = [
        *scorecard_charts(report),
        risk_chart(risk),
        service_chart(service_score, platform_score),
    ]
    context = {
        "brand": brand,
        "report": report,
        "charts": charts,
        "risk_score": risk,
        "service_score": service_score,
        "platform_score": platform_score,
        "service_components": SERVICE_COMPONENTS,
        "duration": duration,
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
