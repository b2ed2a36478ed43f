"""The operator's marketing page: segment builder with a live count, segment sizes, stage
flows (sankey) and campaign uplift with 95% intervals (ECharts)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from livecart.accounts.schemas import Role
from livecart.core.http import UoW
from livecart.insights.portrait_query import field_menu
from livecart.marketing import service as marketing
from livecart.marketing.schemas import ReportOut, SegmentOut, StageFlowOut
from livecart.web.dependencies import PageUser, login_redirect
from livecart.web.pages import PageRoute, gate
from livecart.web.rendering import render

router = APIRouter(include_in_schema=False, route_class=PageRoute)


def sizes_chart(segments: list[SegmentOut]) -> dict[str, Any]:
    """Saved segments and their sizes now."""
    return {"labels": [s.name for s in segments], "sizes": [s.size or 0 for s in segments]}


def flows_chart(flows: list[StageFlowOut]) -> dict[str, Any]:
    """Stage moves as a two-column sankey (from -> to), so moves back and forth draw no cycle."""
    links: list[dict[str, Any]] = [
        {
            "source": f"from {f.from_stage or 'entry'}",
            "target": f"to {f.to_stage}",
            "value": f.moves,
        }
        for f in flows
    ]
    nodes = sorted(
        {str(link["source"]) for link in links} | {str(link["target"]) for link in links}
    )
    return {"nodes": [{"name": n} for n in nodes], "links": links}


def uplift_chart(reports: list[ReportOut]) -> dict[str, Any]:
    """Conversion uplift (points) and GMV per consumer uplift (major units) with their CIs."""

    def points(value: float | None) -> float | None:
        return None if value is None else round(100 * value, 2)

    def major(value: float | None) -> float | None:
        return None if value is None else round(value / 100, 2)

    measured = [r for r in reports if r.conversion_uplift.estimate is not None]
    return {
        "labels": [f"#{r.campaign_id} {r.name}" for r in measured],
        "conversion": [
            [
                points(r.conversion_uplift.estimate),
                points(r.conversion_uplift.low),
                points(r.conversion_uplift.high),
            ]
            for r in measured
        ],
        "gmv": [
            [major(r.gmv_uplift.estimate), major(r.gmv_uplift.low), major(r.gmv_uplift.high)]
            for r in measured
        ],
    }


@router.get("/operator/marketing")
async def marketing_page(request: Request, user: PageUser, uow: UoW) -> Response:
    denied = await gate(request, user, Role.operator)
    if denied is not None or user is None:
        return denied or login_redirect(request)
    segments = await marketing.list_segments(uow.session, actor=user)
    stages = await marketing.stage_counts(uow.session, actor=user, track=marketing.LIFECYCLE)
    flows = await marketing.stage_flows(uow.session, actor=user, track=marketing.LIFECYCLE)
    campaigns = await marketing.list_campaigns(uow.session, actor=user)
    reports = [
        await marketing.campaign_report(uow.session, actor=user, campaign_id=c.id)
        for c in campaigns
        if c.status.value != "draft"
    ]
    charts = {
        "sizes": sizes_chart(segments),
        "flows": flows_chart(flows),
        "uplift": uplift_chart(reports),
    }
    context = {
        "segments": segments,
        "stages": stages,
        "reports": reports,
        "emails": {c.id: c.emails_by_status for c in campaigns},
        "fields": field_menu(),
        "charts": charts,
    }
    return render(request, "marketing.html", user, context)
