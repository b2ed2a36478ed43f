"""Consumer portrait page for operators: active hours, affinities, fan levels and RFM (ECharts)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Role
from livecart.core.errors import NotFound
from livecart.core.http import UoW
from livecart.insights import service as insights
from livecart.insights.schemas import PortraitOut
from livecart.web.dependencies import PageUser, login_redirect
from livecart.web.pages import PageRoute, error_page, gate
from livecart.web.rendering import render

router = APIRouter(include_in_schema=False, route_class=PageRoute)

AFFINITY_TITLES = {"category": "Categories", "brand": "Brands", "price_band": "Price bands"}


def portrait_charts(portrait: PortraitOut, anchor_names: dict[int, str]) -> list[dict[str, Any]]:
    """The charts of the page, as data for static/js/portrait.js."""
    charts: list[dict[str, Any]] = [
        {
            "kind": "bars",
            "id": "active-hours",
            "title": "Active hours (events per UTC hour)",
            "labels": [f"{h:02d}" for h in range(24)],
            "values": list(portrait.active_hours),
        }
    ]
    for kind, title in AFFINITY_TITLES.items():
        rows = [a for a in portrait.affinities if a.kind == kind]
        charts.append(
            {
                "kind": "hbars",
                "id": f"affinity-{kind.replace('_', '-')}",
                "title": f"Affinity: {title}",
                "labels": [a.key for a in rows],
                "values": [round(a.score, 4) for a in rows],
                "max": 1,
            }
        )
    charts.append(
        {
            "kind": "hbars",
            "id": "fan-levels",
            "title": "Fan level per anchor",
            "labels": [
                anchor_names.get(f.anchor_id, f"#{f.anchor_id}") for f in portrait.fan_levels
            ],
            "values": [f.level for f in portrait.fan_levels],
            "scores": [f.score for f in portrait.fan_levels],
        }
    )
    rfm = [portrait.rfm_r, portrait.rfm_f, portrait.rfm_m]
    charts.append(
        {
            "kind": "radar",
            "id": "rfm",
            "title": "RFM scores (1-5 among buyers)",
            "labels": ["Recency", "Frequency", "Monetary"],
            "values": [v or 0 for v in rfm],
        }
    )
    return charts


@router.get("/operator/consumers/{user_id}")
async def consumer_portrait_page(
    request: Request, user_id: int, user: PageUser, uow: UoW
) -> Response:
    denied = await gate(request, user, Role.operator)
    if denied is not None or user is None:
        return denied or login_redirect(request)
    try:
        portrait = await insights.get_portrait(uow.session, user_id=user_id)
    except NotFound:
        return await error_page(
            request,
            404,
            "No portrait for this consumer yet (run `livecart insights portraits --store`).",
        )
    names = await accounts.display_names(
        uow.session, {user_id, *(f.anchor_id for f in portrait.fan_levels)}
    )
    context = {
        "portrait": portrait,
        "consumer_name": names.get(user_id, f"#{user_id}"),
        "charts": portrait_charts(portrait, names),
    }
    return render(request, "consumer_portrait.html", user, context)
