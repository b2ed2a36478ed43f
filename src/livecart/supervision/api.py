"""REST routes of qualifications and product selection review (issue 5, items 1 and 2).

Merchants file their brand's licences and permits and submit products for live selling;
anchors file their identity verification; operators review both. The router looks the product
up through the catalog service and hands the rest to the supervision service.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from livecart.accounts.dependencies import CurrentUser, Merchant, Operator, require_role
from livecart.accounts.schemas import Identity, Role
from livecart.catalog import service as catalog
from livecart.catalog.errors import ProductNotFound
from livecart.core.http import ContainerDep, UoW
from livecart.supervision import service
from livecart.supervision.schemas import (
    InspectionIn,
    InspectionOut,
    QualificationIn,
    QualificationOut,
    ReviewIn,
    ReviewStatus,
    SelectionDecisionIn,
    SelectionIn,
    SelectionOut,
    SelectionStatus,
)

router = APIRouter(prefix="/supervision", tags=["supervision"])

Limit = Annotated[int, Query(ge=1, le=500)]
MerchantOrAnchor = Annotated[Identity, Depends(require_role(Role.merchant, Role.anchor))]
SelectionReader = Annotated[Identity, Depends(require_role(Role.merchant, Role.operator))]
InspectionReader = Annotated[
    Identity, Depends(require_role(Role.merchant, Role.anchor, Role.operator))
]


class ReviewQueueOut(BaseModel):
    """What waits for an operator: pending qualifications and open selection records."""

    qualifications: list[QualificationOut]
    selections: list[SelectionOut]


# ---------------------------------------------------------------- qualifications


@router.post(
    "/qualifications",
    status_code=201,
    response_model=QualificationOut,
    summary="File a brand's licence or permit (its merchant) or one's identity (anchor)",
)
async def submit_qualification(
    body: QualificationIn, actor: MerchantOrAnchor, uow: UoW, container: ContainerDep
) -> QualificationOut:
    out = await service.submit_qualification(
        uow.session, clock=container.clock, actor=actor, body=body
    )
    await uow.commit()
    return out


@router.get(
    "/qualifications",
    response_model=list[QualificationOut],
    summary="Qualification records the caller may see (operators: all)",
)
async def list_qualifications(
    actor: CurrentUser,
    uow: UoW,
    status: ReviewStatus | None = None,
    brand_id: int | None = None,
    user_id: int | None = None,
    limit: Limit = 200,
) -> list[QualificationOut]:
    return await service.list_qualifications(
        uow.session, actor=actor, status=status, brand_id=brand_id, user_id=user_id, limit=limit
    )


@router.get(
    "/qualifications/{qualification_id}",
    response_model=QualificationOut,
    summary="One qualification record (its owner or an operator)",
)
async def get_qualification(
    qualification_id: int, actor: CurrentUser, uow: UoW
) -> QualificationOut:
    return await service.get_qualification(
        uow.session, actor=actor, qualification_id=qualification_id
    )


@router.post(
    "/qualifications/{qualification_id}/review",
    response_model=QualificationOut,
    summary="Approve or reject a pending qualification (operator)",
)
async def review_qualification(
    qualification_id: int, body: ReviewIn, actor: Operator, uow: UoW, container: ContainerDep
) -> QualificationOut:
    out = await service.review_qualification(
        uow.session,
        clock=container.clock,
        actor=actor,
        qualification_id=qualification_id,
        body=body,
    )
    await uow.commit()
    return out


@router.get(
    "/reviews",
    response_model=ReviewQueueOut,
    summary="The review queue: pending qualifications, open selections (operator)",
)
async def review_queue(actor: Operator, uow: UoW, limit: Limit = 200) -> ReviewQueueOut:
    qualifications = await service.list_qualifications(
        uow.session, actor=actor, status="pending", limit=limit
    )
    selections = [
        s
        for status in ("submitted", "selected", "inspected")
        for s in await service.list_selections(uow.session, actor=actor, status=status, limit=limit)
    ]
    return ReviewQueueOut(qualifications=qualifications, selections=selections)


# ---------------------------------------------------------------- product selection


@router.post(
    "/selections",
    status_code=201,
    response_model=SelectionOut,
    summary="Submit a product of one's brand for live selling (merchant)",
)
async def submit_for_live(
    body: SelectionIn, actor: Merchant, uow: UoW, container: ContainerDep
) -> SelectionOut:
    card = (await catalog.product_cards(uow.session, [body.product_id])).get(body.product_id)
    if card is None:
        raise ProductNotFound("product not found", details={"product_id": body.product_id})
    out = await service.submit_for_live(
        uow.session,
        clock=container.clock,
        actor=actor,
        product_id=card.id,
        brand_id=card.brand.id,
        note=body.note,
    )
    await uow.commit()
    return out


@router.get(
    "/selections",
    response_model=list[SelectionOut],
    summary="Selection records (operators: all; merchants: their brands')",
)
async def list_selections(
    actor: SelectionReader,
    uow: UoW,
    status: SelectionStatus | None = None,
    product_id: int | None = None,
    limit: Limit = 200,
) -> list[SelectionOut]:
    return await service.list_selections(
        uow.session, actor=actor, status=status, product_id=product_id, limit=limit
    )


@router.get(
    "/selections/{selection_id}",
    response_model=SelectionOut,
    summary="One selection record with its inspections (operator, the brand's merchants)",
)
async def get_selection(selection_id: int, actor: SelectionReader, uow: UoW) -> SelectionOut:
    return await service.get_selection(uow.session, actor=actor, selection_id=selection_id)


@router.post(
    "/selections/{selection_id}/decision",
    response_model=SelectionOut,
    summary="Select, approve for live or reject a selection (operator)",
)
async def decide_selection(
    selection_id: int,
    body: SelectionDecisionIn,
    actor: Operator,
    uow: UoW,
    container: ContainerDep,
) -> SelectionOut:
    out = await service.decide_selection(
        uow.session, clock=container.clock, actor=actor, selection_id=selection_id, body=body
    )
    await uow.commit()
    return out


@router.post(
    "/selections/{selection_id}/inspections",
    status_code=201,
    response_model=SelectionOut,
    summary="Record a quality inspection of a selected product (operator)",
)
async def record_inspection(
    selection_id: int, body: InspectionIn, actor: Operator, uow: UoW, container: ContainerDep
) -> SelectionOut:
    out = await service.record_inspection(
        uow.session, clock=container.clock, actor=actor, selection_id=selection_id, body=body
    )
    await uow.commit()
    return out


@router.get(
    "/products/{product_id}/inspection",
    response_model=InspectionOut | None,
    summary="A product's latest quality inspection, or null (merchant, anchor, operator)",
)
async def latest_inspection(
    product_id: int, actor: InspectionReader, uow: UoW
) -> InspectionOut | None:
    return await service.latest_inspection(uow.session, product_id=product_id)
