"""The operators' risk dashboard: overturn alerts (polled every 2 s), risk scores with each
signal's contribution (ECharts bars), the review queue (subjects at level review or act, their
top signal and a sanction form), the report triage queue, sanctions and the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Identity, Role
from livecart.catalog import service as catalog
from livecart.core.errors import NotFound
from livecart.core.http import UoW, container_of
from livecart.supervision import service as supervision
from livecart.supervision.risk_schemas import (
    SANCTION_SUBJECTS,
    ComplianceHitOut,
    ReportStatus,
    RiskContribution,
    RiskScoreOut,
    RiskSubject,
)
from livecart.web.dependencies import PageUser, login_redirect
from livecart.web.pages import PageRoute, gate
from livecart.web.rendering import render

router = APIRouter(include_in_schema=False, route_class=PageRoute)

# Subjects drawn in the chart and the score table (the review queue lists all at review/act).
MAX_SHOWN = 30
QUEUE_LEVELS = ("review", "act")
# The newest compliance hits listed in a review-queue row.
HITS_SHOWN = 5
RISK_SUBJECTS: tuple[RiskSubject, ...] = ("brand", "product", "anchor")


@dataclass(frozen=True)
class QueueEntry:
    """A subject at level review or act, what drives it (its top signal and the newest
    compliance hits behind its score, refused and warned) and what may be done to it."""

    score: RiskScoreOut
    name: str
    top: RiskContribution
    sanction_kinds: list[str]
    link: str | None
    hits: list[ComplianceHitOut]


def sanction_kinds_for(subject_kind: RiskSubject) -> list[str]:
    """Sanctions that apply to a subject kind: a warning always, then the kind's own."""
    return [
        kind.value
        for kind, implied in SANCTION_SUBJECTS.items()
        if implied is None or implied.value == subject_kind
    ]


def top_signal(score: RiskScoreOut) -> RiskContribution:
    """The signal that gives the most points (the first of equals, in the score's order)."""
    return max(score.contributions, key=lambda c: c.contribution)


async def _name(
    session: AsyncSession, *, request: Request, actor: Identity, kind: RiskSubject, subject_id: int
) -> str:
    """What the operator reads for a subject: the brand's name, the product's title, the
    anchor's display name ('#id' alone when it is gone)."""
    try:
        if kind == "brand":
            return (await catalog.get_brand(session, subject_id)).name
        if kind == "product":
            product = await catalog.get_product(
                session,
                lexicon=container_of(request).lexicon,
                actor=actor,
                product_id=subject_id,
            )
            return product.title
    except NotFound:
        return f"#{subject_id}"
    names = await accounts.display_names(session, {subject_id})
    return names.get(subject_id, f"#{subject_id}")


def _link(kind: RiskSubject, subject_id: int) -> str | None:
    return f"/operator/brands/{subject_id}/scorecard" if kind == "brand" else None


@router.get("/operator/risk")
async def risk_dashboard(request: Request, user: PageUser, uow: UoW) -> Response:
    """Alerts, scores of the subjects at risk, the review queue, reports, sanctions, the log."""
    denied = await gate(request, user, Role.operator)
    if denied is not None or user is None:
        return denied or login_redirect(request)
    clock = container_of(request).clock
    now = clock.now()
    reports = await supervision.list_reports(uow.session, actor=user, limit=200)
    queue = [r for r in reports if r.status in (ReportStatus.new, ReportStatus.in_review)]
    queue.sort(key=lambda r: (r.status != ReportStatus.new, -r.id))
    sanctions = await supervision.list_sanctions(uow.session, clock=clock, actor=user, limit=50)
    # Every brand, product and anchor that some risk signal names (supervision decides which).
    scores: list[RiskScoreOut] = []
    for kind in RISK_SUBJECTS:
        scores.extend(await supervision.risk_scores(uow.session, subject_kind=kind, now=now))
    scores.sort(key=lambda s: (-s.score, s.subject_kind, s.subject_id))
    queued = [score for score in scores if score.level in QUEUE_LEVELS]
    hits = {
        kind: await supervision.recent_compliance_hits(
            uow.session,
            subject_kind=kind,
            subject_ids=[s.subject_id for s in queued if s.subject_kind == kind],
            now=now,
            per_subject=HITS_SHOWN,
        )
        for kind in RISK_SUBJECTS
    }
    review = [
        QueueEntry(
            score=score,
            name=await _name(
                uow.session,
                request=request,
                actor=user,
                kind=score.subject_kind,
                subject_id=score.subject_id,
            ),
            top=top_signal(score),
            sanction_kinds=sanction_kinds_for(score.subject_kind),
            link=_link(score.subject_kind, score.subject_id),
            hits=hits[score.subject_kind].get(score.subject_id, []),
        )
        for score in queued
    ]
    context = {
        "alerts": await supervision.recent_alerts(uow.session, limit=20),
        "scores": scores[:MAX_SHOWN],
        "scored": len(scores),
        "chart": [s.model_dump(mode="json") for s in scores[:MAX_SHOWN]],
        "review": review,
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
