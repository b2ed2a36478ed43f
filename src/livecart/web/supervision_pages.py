"""Supervision pages: the operator's review queue of qualifications and product selection."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from starlette.responses import Response

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Role
from livecart.catalog import service as catalog
from livecart.core.http import UoW, container_of
from livecart.supervision import service as supervision
from livecart.web.dependencies import PageUser, login_redirect
from livecart.web.pages import PageRoute, gate
from livecart.web.rendering import render

router = APIRouter(include_in_schema=False, route_class=PageRoute)


def _age(born: date | None, today: date) -> int | None:
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


@router.get("/operator/reviews")
async def operator_reviews(request: Request, user: PageUser, uow: UoW) -> Response:
    """Pending qualifications and open selection records, each with its decision form."""
    denied = await gate(request, user, Role.operator)
    if denied is not None or user is None:
        return denied or login_redirect(request)
    today = container_of(request).clock.now().date()
    qualifications = await supervision.list_qualifications(
        uow.session, actor=user, status="pending"
    )
    selections = [
        s
        for status in ("submitted", "selected", "inspected")
        for s in await supervision.list_selections(uow.session, actor=user, status=status)
    ]
    cards = await catalog.product_cards(uow.session, [s.product_id for s in selections])
    brands = {b.id: b.name for b in await catalog.list_brands(uow.session, limit=1000)}
    people = await accounts.display_names(
        uow.session, {q.user_id for q in qualifications if q.user_id is not None}
    )
    rows = [
        {
            "record": q,
            "owner": (
                brands.get(q.brand_id, f"brand #{q.brand_id}")
                if q.brand_id is not None
                else people.get(q.user_id or 0, f"user #{q.user_id}")
            ),
            "age": _age(q.date_of_birth, today),
            "expired": q.expires_on < today,
        }
        for q in qualifications
    ]
    return render(
        request,
        "supervision_reviews.html",
        user,
        {
            "qualifications": rows,
            "selections": [
                {"record": s, "card": cards.get(s.product_id), "brand": brands.get(s.brand_id)}
                for s in selections
            ],
            "minimum_age": supervision.MINIMUM_ANCHOR_AGE,
        },
    )
