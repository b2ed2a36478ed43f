"""Customer-service pages: the brand's service inbox, the knowledge-card editor, and the
console's knowledge-card panel (an htmx fragment)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from livecart.accounts.schemas import Role
from livecart.catalog import service as catalog
from livecart.catalog.schemas import KnowledgeCardOut
from livecart.core.http import ContainerDep, UoW
from livecart.live import service as live
from livecart.service import service
from livecart.service.schemas import QuestionOut, TicketOut
from livecart.web.dependencies import PageUser, login_redirect
from livecart.web.pages import PageRoute, gate
from livecart.web.rendering import render

router = APIRouter(include_in_schema=False, route_class=PageRoute)

API = "/api/v1"
SERVICE_ACTIONS = {
    "answer": API + "/questions/{id}/answer",
    "dismiss": API + "/questions/{id}/dismiss",
    "ticket_message": API + "/tickets/{id}/messages",
    "resolve": API + "/tickets/{id}/resolve",
    "card": API + "/products/{id}/knowledge-card",
    "regenerate": API + "/products/{id}/knowledge-card/regenerate",
}


@router.get("/merchant/service")
async def service_inbox(
    request: Request, user: PageUser, uow: UoW, container: ContainerDep
) -> Response:
    """Questions from live chats and tickets of the merchant's brands, with response timers."""
    denied = await gate(request, user, Role.merchant)
    if denied is not None or user is None:
        return denied or login_redirect(request)
    questions: list[QuestionOut] = []
    tickets: list[TicketOut] = []
    scores = []
    for brand_id in sorted(user.brand_ids):
        questions += await service.list_brand_questions(uow.session, actor=user, brand_id=brand_id)
        tickets += await service.list_brand_tickets(uow.session, actor=user, brand_id=brand_id)
        brand = await catalog.get_brand(uow.session, brand_id)
        score = await service.service_score(
            uow.session, brand_id=brand_id, now=container.clock.now()
        )
        scores.append((brand, score))
    open_first = sorted(questions, key=lambda q: (q.status != "open", -q.id))
    context = {
        "questions": open_first,
        "tickets": sorted(tickets, key=lambda t: (t.status == "resolved", -t.id)),
        "scores": scores,
        "actions": SERVICE_ACTIONS,
        "now": container.clock.now(),
    }
    return render(request, "merchant_service.html", user, context)


@router.get("/merchant/products/{product_id}/knowledge")
async def knowledge_editor(
    product_id: int, request: Request, user: PageUser, uow: UoW, container: ContainerDep
) -> Response:
    """A product's knowledge card, editable by the brand's merchants."""
    denied = await gate(request, user, Role.merchant)
    if denied is not None or user is None:
        return denied or login_redirect(request)
    card = await catalog.get_knowledge_card(
        uow.session,
        clock=container.clock,
        lexicon=container.lexicon,
        actor=user,
        product_id=product_id,
    )
    if card.brand_id not in user.brand_ids:
        return await _not_yours(request)
    await uow.commit()  # a card generated on first read is kept
    return render(
        request,
        "merchant_knowledge.html",
        user,
        {"card": card, "actions": SERVICE_ACTIONS},
    )


async def _not_yours(request: Request) -> Response:
    from livecart.web.pages import error_page

    return await error_page(request, 403, "Only this brand's merchants edit its cards.")


@router.get("/console/sessions/{session_id}/knowledge")
async def console_knowledge(
    session_id: int, request: Request, user: PageUser, uow: UoW, container: ContainerDep
) -> Response:
    """The knowledge cards of the pinned and showcased products, pinned first (a fragment)."""
    if user is None:
        return login_redirect(request)
    if not await live.staff_of(uow.session, session_id=session_id, actor=user):
        return await _not_staff(request)
    view = await live.get_session_view(uow.session, session_id)
    order = [view.pinned.id] if view.pinned else []
    order += [c.id for c in view.showcase if c.id not in order]
    cards = await catalog.knowledge_cards(
        uow.session, clock=container.clock, lexicon=container.lexicon, product_ids=order
    )
    await uow.commit()
    shown: list[KnowledgeCardOut] = [cards[i] for i in order if i in cards]
    pinned_id = view.pinned.id if view.pinned else None
    return render(request, "console_knowledge.html", user, {"cards": shown, "pinned_id": pinned_id})


async def _not_staff(request: Request) -> Response:
    from livecart.web.pages import error_page

    return await error_page(
        request, 403, "Only this session's hosts and moderators use its console."
    )
