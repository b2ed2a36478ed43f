"""`GET /api/v1/sessions/{id}/buyer-estimate`: how many viewers are likely to buy now (staff)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from livecart.accounts.dependencies import CurrentUser
from livecart.core.errors import PermissionDenied
from livecart.core.http import ContainerDep, UoW
from livecart.core.schemas import OutputModel
from livecart.insights.willbuy_live import model_summary
from livecart.live import service as live_service
from livecart.live.schemas import SessionStatus

router = APIRouter(tags=["insights"])

# Same value as willbuy.LIKELY_THRESHOLD (not imported: that module loads numpy and DuckDB).
LIKELY_THRESHOLD = 0.5


class ModelOut(BaseModel):
    version: int
    trained_at: str | None
    auc: float | None = Field(description="AUC on the model's test sessions (the latest).")
    base_rate: float | None
    calibration: str | None = Field(
        default=None,
        description="How the probabilities were calibrated (`isotonic`); null for a model "
        "trained before calibration existed.",
    )
    ece: float | None = Field(
        default=None, description="Expected calibration error on the test sessions."
    )


class BuyerEstimateOut(OutputModel):
    """Viewers watching now, and how many of them the model expects to order in the session.

    The console's headline "N viewers likely to buy now" is `expected_buyers` rounded: the sum
    of the calibrated probabilities, the expected number of buyers among those watching.
    `likely_buyers` (P >= `threshold`) says how many single viewers stand out.
    """

    session_id: int
    as_of: datetime = Field(description="The time the estimate was made (kept up to 2 s).")
    model: ModelOut | None
    threshold: float
    viewers_scored: int = Field(description="Signed-in viewers watching who have not ordered.")
    likely_buyers: int | None = Field(
        description="Viewers whose calibrated P(orders later in the session) >= threshold."
    )
    expected_buyers: float | None = Field(
        description="Sum of the viewers' calibrated probabilities: the expected number of "
        "buyers among them (the console's headline, rounded)."
    )
    message: str


@router.get(
    "/sessions/{session_id}/buyer-estimate",
    response_model=BuyerEstimateOut,
    summary="Viewers likely to buy now (room staff: anchor, co-host, moderator, operator)",
)
async def buyer_estimate(
    session_id: int, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> BuyerEstimateOut:
    session = uow.session
    view = await live_service.get_session_view(session, session_id)
    if not await live_service.staff_of(session, session_id=session_id, actor=actor):
        raise PermissionDenied(
            "only the room's staff may see the buyer estimate", code="not_room_staff"
        )
    now = container.clock.now()
    out = BuyerEstimateOut(
        session_id=session_id,
        as_of=now,
        model=None,
        threshold=LIKELY_THRESHOLD,
        viewers_scored=0,
        likely_buyers=None,
        expected_buyers=None,
        message="No will-buy model yet: train one with `livecart insights willbuy train`.",
    )
    stored = container.willbuy.current
    if stored is None:
        return out
    out.model = ModelOut(**model_summary(stored))
    if view.status != SessionStatus.live or view.started_at is None:
        out.likely_buyers, out.expected_buyers = 0, 0.0
        out.message = "The session is not live."
        return out
    scored = await container.willbuy.score(
        session_id=session_id, anchor_id=view.anchor.id, started=view.started_at, now=now
    )
    if scored is None:  # pragma: no cover - the model was there a moment ago
        return out
    stored, result = scored
    out.model = ModelOut(**model_summary(stored))
    out.as_of = result.as_of or now
    out.viewers_scored = len(result.viewers)
    out.likely_buyers = sum(1 for p in result.probabilities if p >= LIKELY_THRESHOLD)
    out.expected_buyers = round(sum(result.probabilities), 2)
    out.message = (
        f"{round(out.expected_buyers)} of {out.viewers_scored} viewers likely to buy now "
        f"(sum of calibrated probabilities {out.expected_buyers:.1f}); "
        f"{out.likely_buyers} at P ≥ {LIKELY_THRESHOLD:g}."
    )
    return out
