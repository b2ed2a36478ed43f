"""Dashboard pages: the funnel and GMV charts (ECharts) for operators, merchants and anchors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from livecart.accounts.schemas import Identity, Role
from livecart.catalog import service as catalog
from livecart.core.http import UoW, container_of
from livecart.core.money import CURRENCY_EXPONENTS
from livecart.insights import service as insights
from livecart.insights.reports import FunnelBy, FunnelReport, GmvReport, Scope
from livecart.web.dependencies import PageUser, login_redirect
from livecart.web.pages import PageRoute, error_page, gate
from livecart.web.rendering import render

router = APIRouter(include_in_schema=False, route_class=PageRoute)

STEP_LABELS = {
    "viewers": "Viewers",
    "product_clickers": "Product clicks",
    "carters": "Cart",
    "buyers": "Orders",
    "payers": "Paid",
}


def _funnel_chart(report: FunnelReport, title: str) -> dict[str, Any]:
    return {
        "kind": "funnel",
        "id": f"funnel-{report.by.value}",
        "title": title,
        "groups": [row.label for row in report.rows],
        "steps": [STEP_LABELS[s] for s in report.steps],
        "values": [[getattr(row, s) for row in report.rows] for s in report.steps],
    }


def _gmv_chart(report: GmvReport, title: str, chart_id: str = "gmv") -> dict[str, Any]:
    currencies = sorted({row.currency for row in report.rows})
    days = sorted({row.day.isoformat() for row in report.rows})
    series = []
    for currency in currencies:
        scale = 10 ** CURRENCY_EXPONENTS.get(currency, 2)
        by_day = {row.day.isoformat(): row for row in report.rows if row.currency == currency}
        for name, field in (("GMV", "gmv"), ("paid", "paid_gmv")):
            series.append(
                {
                    "name": f"{name} ({currency})",
                    "data": [getattr(by_day[d], field) / scale if d in by_day else 0 for d in days],
                }
            )
    return {"kind": "gmv", "id": chart_id, "title": title, "days": days, "series": series}


async def _reports(
    request: Request, uow: UoW, user: Identity, scope: Scope, funnels: tuple[FunnelBy, ...]
) -> tuple[list[FunnelReport], GmvReport]:
    root = container_of(request).settings.event_log_dir
    found = [
        await insights.funnel_report(uow.session, log_root=root, actor=user, by=by, scope=scope)
        for by in funnels
    ]
    gmv = await insights.gmv_report(uow.session, log_root=root, actor=user, scope=scope)
    return found, gmv


def _page(
    request: Request,
    user: Identity,
    *,
    heading: str,
    funnels: list[FunnelReport],
    gmv: GmvReport,
    gmv_title: str,
    extra: dict[str, Any] | None = None,
) -> Response:
    titles = {
        FunnelBy.session: "Funnel per live session",
        FunnelBy.anchor: "Funnel per anchor",
        FunnelBy.brand: "Funnel per brand",
    }
    charts = [_funnel_chart(r, titles[r.by]) for r in funnels]
    charts.append(_gmv_chart(gmv, gmv_title))
    context = {
        "heading": heading,
        "funnels": funnels,
        "gmv": gmv,
        "charts": charts,
        "step_labels": STEP_LABELS,
        **(extra or {}),
    }
    return render(request, "dashboard.html", user, context)


@router.get("/operator/dashboard")
async def operator_dashboard(
    request: Request,
    user: PageUser,
    uow: UoW,
    anchor_id: Annotated[str, Query(alias="anchor", max_length=12)] = "",
    brand_id: Annotated[str, Query(alias="brand", max_length=12)] = "",
) -> Response:
    denied = await gate(request, user, Role.operator)
    if denied is not None or user is None:
        return denied or login_redirect(request)
    # The filter form sends "" for "all".
    anchor = int(anchor_id) if anchor_id.isdigit() else None
    brand = int(brand_id) if brand_id.isdigit() else None
    funnels, _ = await _reports(
        request, uow, user, Scope(), (FunnelBy.session, FunnelBy.anchor, FunnelBy.brand)
    )
    # GMV: the whole platform, or one anchor's or one brand's when chosen.
    gmv_scope = Scope(anchor_id=anchor, brand_id=brand)
    root = container_of(request).settings.event_log_dir
    gmv = await insights.gmv_report(uow.session, log_root=root, actor=user, scope=gmv_scope)
    anchors = next(r for r in funnels if r.by is FunnelBy.anchor).rows
    brands = await catalog.list_brands(uow.session, limit=500)
    chosen = "all orders"
    if anchor is not None:
        chosen = next(
            (f"anchor {r.label}" for r in anchors if r.key == anchor), f"anchor #{anchor}"
        )
    if brand is not None:
        chosen += f", brand {next((b.name for b in brands if b.id == brand), f'#{brand}')}"
    return _page(
        request,
        user,
        heading="Platform dashboard",
        funnels=funnels,
        gmv=gmv,
        gmv_title=f"GMV per day: {chosen}",
        extra={
            "filter": {
                "anchors": [(r.key, r.label) for r in anchors],
                "brands": [(b.id, b.name) for b in brands],
                "anchor": anchor,
                "brand": brand,
            }
        },
    )


@router.get("/merchant/dashboard")
async def merchant_dashboard(
    request: Request,
    user: PageUser,
    uow: UoW,
    brand_id: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    denied = await gate(request, user, Role.merchant)
    if denied is not None or user is None:
        return denied or login_redirect(request)
    if not user.brand_ids:
        return await error_page(request, 403, "You are not a member of any brand.")
    chosen = brand_id if brand_id is not None else min(user.brand_ids)
    funnels, gmv = await _reports(
        request, uow, user, Scope(brand_id=chosen), (FunnelBy.session, FunnelBy.anchor)
    )
    brand = await catalog.get_brand(uow.session, chosen)
    return _page(
        request,
        user,
        heading=f"{brand.name}: brand dashboard",
        funnels=funnels,
        gmv=gmv,
        gmv_title=f"GMV per day: {brand.name}",
    )


@router.get("/console/dashboard")
async def anchor_dashboard(request: Request, user: PageUser, uow: UoW) -> Response:
    denied = await gate(request, user, Role.anchor)
    if denied is not None or user is None:
        return denied or login_redirect(request)
    funnels, gmv = await _reports(
        request, uow, user, Scope(anchor_id=user.id), (FunnelBy.session, FunnelBy.brand)
    )
    return _page(
        request,
        user,
        heading="My sessions: dashboard",
        funnels=funnels,
        gmv=gmv,
        gmv_title="GMV per day of my sessions",
    )
