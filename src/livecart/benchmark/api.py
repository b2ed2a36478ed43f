"""Benchmark-only routes, mounted when `LIVECART_BENCH_ROUTES=1` (never in production).

- `POST /api/v1/bench/noop` is the ceiling of the flash-sale burst benchmark: the same server
  stack, the same authentication (bearer token checked, the account loaded) and the same unit of
  work as a purchase, and nothing else.
- `POST /api/v1/bench/baseline/skus/{sku_id}/orders` is its baseline: an order placed the usual
  way, one transaction with `SELECT ... FOR UPDATE` on the stock row (see `service.py`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query

from livecart.accounts.dependencies import CurrentUser
from livecart.benchmark import service
from livecart.benchmark.schemas import BaselineOrderIn, BaselineOrderOut
from livecart.core.http import ContainerDep, UoW

router = APIRouter(prefix="/bench", tags=["benchmark"])

DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", description="One per purchase attempt.")
]
PerUserLimit = Annotated[int, Query(ge=1, le=99, description="Units one buyer may hold.")]


@router.post("/noop", summary="Authenticated no-op (benchmark ceiling; signed-in user)")
async def noop(identity: CurrentUser) -> dict[str, int]:
    """Authenticate the caller and answer; the cheapest request a buyer can make."""
    return {"user_id": identity.id}


@router.post(
    "/baseline/skus/{sku_id}/orders",
    status_code=201,
    response_model=BaselineOrderOut,
    summary="Buy with a row lock on the stock (benchmark baseline; signed-in user)",
)
async def baseline_order(
    sku_id: DbId,
    body: BaselineOrderIn,
    actor: CurrentUser,
    uow: UoW,
    container: ContainerDep,
    idempotency_key: IdempotencyKey = None,
    limit: PerUserLimit = 1,
) -> BaselineOrderOut:
    """Place an order in pending_payment the usual way; 409 sold_out or limit_exceeded."""
    order = await service.place_baseline_order(
        uow.session,
        clock=container.clock,
        buyer_id=actor.id,
        sku_id=sku_id,
        quantity=body.quantity,
        idempotency_key=idempotency_key,
        per_user_limit=limit,
        payment_minutes=container.settings.order_payment_minutes,
    )
    await uow.commit()
    return order
