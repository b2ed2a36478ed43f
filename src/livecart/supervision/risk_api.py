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
    LiftIn,
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
