"""Stored consumer portraits over HTTP: the caller's own, and any consumer's for operators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from livecart.accounts.dependencies import CurrentUser, Operator
from livecart.core.http import UoW
from livecart.insights import service
from livecart.insights.schemas import PortraitOut

router = APIRouter(tags=["insights"])

PORTRAIT_FIELDS_TEXT = (
    "Fields, formulas and tags are in docs/insights.md (Stored portraits). The portrait is as "
    "of the last `livecart insights portraits --store` run that saw new events."
)


@router.get(
    "/me/portrait",
    response_model=PortraitOut,
    summary="The caller's own consumer portrait (signed-in)",
    description="What the platform has computed about the caller: viewing, interaction, "
    "browsing and buying figures, RFM and customer-base scores, keywords, tags, affinities and "
    "fan levels. 404 `portrait_not_found` before a portrait run has seen the caller. "
    + PORTRAIT_FIELDS_TEXT,
)
async def my_portrait(identity: CurrentUser, uow: UoW) -> PortraitOut:
    return await service.get_portrait(uow.session, user_id=identity.id)


@router.get(
    "/insights/portraits",
    response_model=list[PortraitOut],
    summary="Stored consumer portraits, biggest spenders first (operator)",
    description="`tag` keeps the portraits carrying that tag (night_owl, loyal_fan, ...). "
    + PORTRAIT_FIELDS_TEXT,
)
async def portraits(
    actor: Operator,
    uow: UoW,
    tag: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[PortraitOut]:
    return await service.list_portraits(uow.session, tag=tag, limit=limit)


@router.get(
    "/insights/portraits/{user_id}",
    response_model=PortraitOut,
    summary="One consumer's stored portrait (operator)",
    description="404 `portrait_not_found` when no portrait is stored for the user. "
    + PORTRAIT_FIELDS_TEXT,
)
async def portrait(user_id: int, actor: Operator, uow: UoW) -> PortraitOut:
    return await service.get_portrait(uow.session, user_id=user_id)
