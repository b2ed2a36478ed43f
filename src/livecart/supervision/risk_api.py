"""REST routes of sanctions and appeals, the audit log, consumer reports, risk and alerts.

A thin router: it resolves who a sanction or report concerns through the owning domain's
service (live, catalog, flashsale, commerce) and hands the rest to the supervision service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from livecart.accounts.dependencies import CurrentUser, Operator
from livecart.catalog import service as catalog
from livecart.commerce import service as commerce
from livecart.core.db import UnitOfWork
from livecart.core.http import ContainerDep, UoW
from livecart.flashsale import service as flashsale
from livecart.live import service as live
from livecart.supervision import service
from livecart.supervision.risk_schemas import (
    AlertOut,
    AppealDecisionIn,
    AppealIn,
    AppealStatus,
    AuditOut,
    ComplianceHitOut,
    LiftIn,
    ReportIn,
    ReportOut,
    ReportStatus,
    ReportTarget,
    ReportTriageIn,
    RiskScoreOut,
    RiskSubject,
    SanctionIn,
    SanctionKind,
    SanctionOut,
    SubjectKind,
)
from livecart.supervision.sanctions import SanctionParty

router = APIRouter(prefix="/supervision", tags=["supervision"])

Limit = Annotated[int, Query(ge=1, le=500)]


# ---------------------------------------------------------------- audit log


@router.get("/audit", response_model=list[AuditOut], summary="The audit log (operator)")
async def audit(
    actor: Operator,
    uow: UoW,
    action: str | None = None,
    subject_kind: str | None = None,
    subject_id: int | None = None,
    actor_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: Limit = 100,
) -> list[AuditOut]:
    return await service.audit_log(
        uow.session,
        action=action,
        subject_kind=subject_kind,
        subject_id=subject_id,
        actor_id=actor_id,
        since=since,
        until=until,
        before_id=before_id,
        limit=limit,
    )


# ---------------------------------------------------------------- sanctions


async def _party(uow: UnitOfWork, container: ContainerDep, body: SanctionIn) -> SanctionParty:
    """Who may appeal: resolved from the subject by the domain that owns it (404 if none)."""
    kind = body.subject_kind
    if body.kind is not SanctionKind.warn:
        kind = {
            SanctionKind.delist_product: SubjectKind.product,
            SanctionKind.freeze_flash_sale: SubjectKind.flash_sale,
            SanctionKind.suspend_room: SubjectKind.room,
            SanctionKind.suspend_anchor: SubjectKind.anchor,
        }[body.kind]
    if kind is SubjectKind.anchor:
        return SanctionParty(user_id=body.subject_id)
    if kind is SubjectKind.room:
        room = await live.get_room(uow.session, body.subject_id)
        return SanctionParty(user_id=room.anchor_id)
    if kind is SubjectKind.product:
        product = await catalog.get_product(
            uow.session, lexicon=container.lexicon, actor=None, product_id=body.subject_id
        )
        return SanctionParty(brand_id=product.brand_id)
    if kind is SubjectKind.flash_sale:
        sale = await flashsale.get_sale(uow, container.flash, body.subject_id)
        origin = await live.session_origin(uow.session, sale.session_id)
        return SanctionParty(user_id=origin.anchor_id)
    if kind is SubjectKind.brand:
        return SanctionParty(brand_id=body.subject_id)
    return SanctionParty()


@router.post(
    "/sanctions",
    status_code=201,
    response_model=SanctionOut,
    summary="Sanction (operator)",
)
async def impose(
    body: SanctionIn, actor: Operator, uow: UoW, container: ContainerDep
) -> SanctionOut:
    party = await _party(uow, container, body)
    out = await service.impose_sanction(
        uow.session, clock=container.clock, actor=actor, data=body, party=party
    )
    await uow.commit()
    return out


@router.get(
    "/sanctions",
    response_model=list[SanctionOut],
    summary="Sanctions: all (operator), one's own (the sanctioned anchor or brand)",
)
async def list_all(
    actor: CurrentUser,
    uow: UoW,
    container: ContainerDep,
    subject_kind: SubjectKind | None = None,
    subject_id: int | None = None,
    active: bool | None = None,
    appeal_status: AppealStatus | None = None,
    limit: Limit = 100,
) -> list[SanctionOut]:
    return await service.list_sanctions(
        uow.session,
        clock=container.clock,
        actor=actor,
        subject_kind=subject_kind,
        subject_id=subject_id,
        active=active,
        appeal_status=appeal_status,
        limit=limit,
    )


@router.get(
    "/sanctions/{sanction_id}",
    response_model=SanctionOut,
    summary="One sanction (operator or the sanctioned party)",
)
async def get_one(
    sanction_id: int, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> SanctionOut:
    return await service.get_sanction(
        uow.session, clock=container.clock, actor=actor, sanction_id=sanction_id
    )


@router.post(
    "/sanctions/{sanction_id}/lift",
    response_model=SanctionOut,
    summary="Lift (operator)",
)
async def lift(
    sanction_id: int, body: LiftIn, actor: Operator, uow: UoW, container: ContainerDep
) -> SanctionOut:
    out = await service.lift_sanction(
        uow.session, clock=container.clock, actor=actor, sanction_id=sanction_id, data=body
    )
    await uow.commit()
    return out


@router.post(
    "/sanctions/{sanction_id}/appeal",
    response_model=SanctionOut,
    summary="Appeal a sanction (the sanctioned anchor or brand member)",
)
async def appeal(
    sanction_id: int, body: AppealIn, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> SanctionOut:
    out = await service.appeal_sanction(
        uow.session, clock=container.clock, actor=actor, sanction_id=sanction_id, data=body
    )
    await uow.commit()
    return out


@router.post(
    "/sanctions/{sanction_id}/appeal/decision",
    response_model=SanctionOut,
    summary="Uphold or lift an appealed sanction (operator)",
)
async def decide(
    sanction_id: int, body: AppealDecisionIn, actor: Operator, uow: UoW, container: ContainerDep
) -> SanctionOut:
    out = await service.decide_appeal(
        uow.session, clock=container.clock, actor=actor, sanction_id=sanction_id, data=body
    )
    await uow.commit()
    return out


# ---------------------------------------------------------------- overturn alerts


@router.get(
    "/alerts", response_model=list[AlertOut], summary="Overturn alerts, newest first (operator)"
)
async def alerts(
    actor: Operator, uow: UoW, since: datetime | None = None, limit: Limit = 50
) -> list[AlertOut]:
    return await service.recent_alerts(uow.session, since=since, limit=limit)


# ---------------------------------------------------------------- consumer reports


@router.post(
    "/reports",
    status_code=201,
    response_model=ReportOut,
    summary="Report fake goods, misrepresentation or misconduct (signed-in consumer)",
)
async def file_report(
    body: ReportIn, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> ReportOut:
    target = ReportTarget(session_id=body.session_id, product_id=body.product_id)
    if body.order_id is not None:
        order = await commerce.get_order(
            uow.session, clock=container.clock, actor=actor, order_id=body.order_id
        )
        items = [item.product_id for item in order.items]
        target.order_id = order.id
        target.brand_id = order.brand_id
        target.anchor_id = order.anchor_id
        target.session_id = target.session_id or order.session_id
        if target.product_id is None and len(items) == 1:
            target.product_id = items[0]
    if target.session_id is not None:
        origin = await live.session_origin(uow.session, target.session_id)
        target.anchor_id = origin.anchor_id
    if target.product_id is not None and target.brand_id is None:
        cards = await catalog.product_cards(uow.session, [target.product_id])
        if target.product_id in cards:
            target.brand_id = cards[target.product_id].brand.id
    out = await service.file_report(
        uow, clock=container.clock, actor=actor, data=body, target=target
    )
    await uow.commit()
    return out


@router.get(
    "/reports",
    response_model=list[ReportOut],
    summary="The triage queue (operator) or one's own reports (signed-in user)",
)
async def reports(
    actor: CurrentUser, uow: UoW, status: ReportStatus | None = None, limit: Limit = 100
) -> list[ReportOut]:
    return await service.list_reports(uow.session, actor=actor, status=status, limit=limit)


@router.post(
    "/reports/{report_id}/triage",
    response_model=ReportOut,
    summary="Move a report on: in review, actioned, dismissed (operator)",
)
async def triage(
    report_id: int, body: ReportTriageIn, actor: Operator, uow: UoW, container: ContainerDep
) -> ReportOut:
    out = await service.triage_report(
        uow.session, clock=container.clock, actor=actor, report_id=report_id, data=body
    )
    await uow.commit()
    return out


# ---------------------------------------------------------------- risk scores


@router.get(
    "/risk/{subject_kind}/{subject_id}",
    response_model=RiskScoreOut,
    summary="A brand's, product's or anchor's risk score with each signal's share (operator)",
    description=(
        "Each signal gives weight x min(value / saturation, 1) points (90 days): return_rate, "
        "complaint_rate, reports, overturn_alerts (every session of the anchor), warnings, "
        "compliance_hits (refused host chat, scripts and product texts, warn hits of product "
        "texts, anchor scripts and host chat), "
        "price_truth (refused 'original price' claims and flash prices), bot_activity "
        "(bot-like accounts in the anchor's sessions, from `livecart risk detect-bots`). "
        "Each contribution's `detail` says what its value counts; they add up to `score` "
        "(0-100). Levels: low < 25 <= watch < 50 <= review < 75 <= act."
    ),
)
async def risk(
    subject_kind: RiskSubject,
    subject_id: int,
    actor: Operator,
    uow: UoW,
    container: ContainerDep,
) -> RiskScoreOut:
    return await service.risk_score(
        uow.session, subject_kind=subject_kind, subject_id=subject_id, now=container.clock.now()
    )


@router.get(
    "/risk/{subject_kind}/{subject_id}/hits",
    response_model=list[ComplianceHitOut],
    summary="The compliance hits behind a subject's risk score, newest first (operator)",
    description=(
        "The kept rows of the compliance_hits and price_truth signals in the score's window "
        "(90 days): refused (`block`) and accepted with a warning (`warn`) texts and price "
        "claims, with what was checked (`source`), the rule, the matched words (`excerpt`, "
        "never the whole text) and the session. At most `limit`."
    ),
)
async def risk_hits(
    subject_kind: RiskSubject,
    subject_id: int,
    actor: Operator,
    uow: UoW,
    container: ContainerDep,
    limit: Limit = 100,
) -> list[ComplianceHitOut]:
    found = await service.recent_compliance_hits(
        uow.session,
        subject_kind=subject_kind,
        subject_ids=[subject_id],
        now=container.clock.now(),
        per_subject=limit,
    )
    return found.get(subject_id, [])
