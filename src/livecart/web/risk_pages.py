"""The operators' risk dashboard: overturn alerts (polled every 2 s), risk scores with each
signal's contribution (ECharts bars), the report triage queue and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from livecart.accounts.schemas import Role
from livecart.core.http import UoW, container_of
from livecart.supervision import service as supervision
from livecart.supervision.risk_schemas import ReportStatus, RiskScoreOut, RiskSubject
from livecart.web.dependencies import PageUser, login_redirect
from livecart.web.pages import PageRoute, gate
from livecart.web.rendering import render

router = APIRouter(include_in_schema=False, route_class=PageRoute)


@router.get("/operator/risk")
async def risk_dashboard(request: Request, user: PageUser, uow: UoW) -> Response:
    """Alerts, scores of the subjects named in reports and sanctions, the queue, the log."""
    denied = await gate(request, user, Role.operator)
    if denied is not None or user is None:
        return denied or login_redirect(request)
    clock = container_of(request).clock
    now = clock.now()
    queue = [
        report
        for status in (ReportStatus.new, ReportStatus.in_review)
        for report in await supervision.list_reports(uow.session, actor=user, status=status)
    ]
    sanctions = await supervision.list_sanctions(uow.session, clock=clock, actor=user, limit=50)
    subjects: dict[tuple[RiskSubject, int], None] = {}
    for report in queue:
        if report.anchor_id is not None:
            subjects[("anchor", report.anchor_id)] = None
        if report.product_id is not None:
            subjects[("product", report.product_id)] = None
        if report.brand_id is not None:
            subjects[("brand", report.brand_id)] = None
    for sanction in sanctions:
        if sanction.subject_kind.value == "anchor":
            subjects[("anchor", sanction.subject_id)] = None
        elif sanction.subject_kind.value == "product":
            subjects[("product", sanction.subject_id)] = None
        elif sanction.subject_kind.value == "brand":
            subjects[("brand", sanction.subject_id)] = None
    scores: list[RiskScoreOut] = []
    for kind, subject_id in list(subjects)[:30]:
        scores.append(
            await supervision.risk_score(
                uow.session, subject_kind=kind, subject_id=subject_id, now=now
            )
        )
    scores.sort(key=lambda s: -s.score)
    context = {
        "alerts": await supervision.recent_alerts(uow.session, limit=20),
        "scores": scores,
        "chart": [s.model_dump(mode="json") for s in scores],
        "queue": queue,
        "sanctions": sanctions,
        "audit": await supervision.audit_log(uow.session, limit=30),
    }
    return render(request, "risk_dashboard.html", user, context)


@router.get("/operator/risk/alerts")
async def risk_alerts(request: Request, user: PageUser, uow: UoW) -> Response:
    """The alerts list alone (htmx polls it every 2 s)."""
    denied = await gate(request, user, Role.operator)
    if denied is not None or user is None:
        return denied or login_redirect(request)
    alerts = await supervision.recent_alerts(uow.session, limit=20)
    return render(request, "risk_alerts.html", user, {"alerts": alerts})
