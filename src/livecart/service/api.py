"""REST routes of customer service: live questions and answers, tickets, service scores."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from livecart.accounts.dependencies import CurrentUser, require_role
from livecart.accounts.schemas import Identity, Role
from livecart.core.http import ContainerDep, UoW
from livecart.service import service
from livecart.service.schemas import (
    AnswerIn,
    QuestionOut,
    QuestionStatus,
    RatingIn,
    ServiceScoreOut,
    TicketIn,
    TicketMessageIn,
    TicketOut,
    TicketStatus,
)

router = APIRouter(tags=["service"])

BrandStaff = Annotated[Identity, Depends(require_role(Role.merchant, Role.operator))]


@router.get(
    "/sessions/{session_id}/questions",
    response_model=list[QuestionOut],
    summary="A live session's queued questions, oldest first (its hosts and moderators)",
)
async def session_questions(
    session_id: int,
    actor: CurrentUser,
    uow: UoW,
    status: QuestionStatus | None = None,
) -> list[QuestionOut]:
    return await service.list_session_questions(
        uow.session, actor=actor, session_id=session_id, status=status
    )


@router.get(
    "/brands/{brand_id}/questions",
    response_model=list[QuestionOut],
    summary="Questions about a brand's products, newest first (its merchants, operators)",
)
async def brand_questions(
    brand_id: int, actor: BrandStaff, uow: UoW, status: QuestionStatus | None = None
) -> list[QuestionOut]:
    return await service.list_brand_questions(
        uow.session, actor=actor, brand_id=brand_id, status=status
    )


@router.get(
    "/me/questions",
    response_model=list[QuestionOut],
    summary="My questions asked in live chats and the answers (private ones too)",
)
async def my_questions(actor: CurrentUser, uow: UoW) -> list[QuestionOut]:
    return await service.my_questions(uow.session, actor=actor)


@router.post(
    "/questions/{question_id}/answer",
    response_model=QuestionOut,
    summary="Answer a question in chat or privately (session hosts, the brand's merchants)",
    description=(
        "`mode: chat` posts `@asker text` in the live chat as the caller (the rules of host "
        "chat apply: compliance, banned words; the session must be live); `mode: private` "
        "keeps the answer for the asker (GET /me/questions). The first answer sets the "
        "question's first-response time. 409 `question_already_answered` on a second answer."
    ),
)
async def answer_question(
    question_id: int, body: AnswerIn, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> QuestionOut:
    answered = await service.answer_question(
        uow,
        clock=container.clock,
        lexicon=container.lexicon,
        banned_words=container.settings.banned_words,
        actor=actor,
        question_id=question_id,
        text=body.text,
        mode=body.mode,
    )
    await uow.commit()
    return answered


@router.post(
    "/questions/{question_id}/dismiss",
    response_model=QuestionOut,
    summary="Take a question off the queue unanswered (session hosts, the brand's merchants)",
)
async def dismiss_question(
    question_id: int, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> QuestionOut:
    dismissed = await service.dismiss_question(
        uow, clock=container.clock, actor=actor, question_id=question_id
    )
    await uow.commit()
    return dismissed


@router.post(
    "/tickets",
    status_code=201,
    response_model=TicketOut,
    summary="Open a service ticket with a brand, about an order or in general (signed in)",
)
async def create_ticket(
    body: TicketIn, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> TicketOut:
    ticket = await service.create_ticket(
        uow.session, clock=container.clock, actor=actor, ticket_in=body
    )
    await uow.commit()
    return ticket


@router.get("/tickets", response_model=list[TicketOut], summary="My service tickets")
async def my_tickets(actor: CurrentUser, uow: UoW) -> list[TicketOut]:
    return await service.list_my_tickets(uow.session, actor=actor)


@router.get(
    "/tickets/{ticket_id}",
    response_model=TicketOut,
    summary="One ticket (its consumer, the brand's staff, operators)",
)
async def get_ticket(ticket_id: int, actor: CurrentUser, uow: UoW) -> TicketOut:
    return await service.get_ticket(uow.session, actor=actor, ticket_id=ticket_id)


@router.get(
    "/brands/{brand_id}/tickets",
    response_model=list[TicketOut],
    summary="A brand's service tickets, newest first (its merchants, operators)",
)
async def brand_tickets(
    brand_id: int, actor: BrandStaff, uow: UoW, status: TicketStatus | None = None
) -> list[TicketOut]:
    return await service.list_brand_tickets(
        uow.session, actor=actor, brand_id=brand_id, status=status
    )


@router.post(
    "/tickets/{ticket_id}/messages",
    response_model=TicketOut,
    summary="Write in a ticket (its consumer, the brand's staff); the brand's first is the "
    "first response",
)
async def add_ticket_message(
    ticket_id: int, body: TicketMessageIn, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> TicketOut:
    ticket = await service.add_ticket_message(
        uow.session, clock=container.clock, actor=actor, ticket_id=ticket_id, text=body.text
    )
    await uow.commit()
    return ticket


@router.post(
    "/tickets/{ticket_id}/resolve",
    response_model=TicketOut,
    summary="Mark a ticket resolved (its consumer, the brand's staff)",
)
async def resolve_ticket(
    ticket_id: int, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> TicketOut:
    ticket = await service.resolve_ticket(
        uow.session, clock=container.clock, actor=actor, ticket_id=ticket_id
    )
    await uow.commit()
    return ticket


@router.post(
    "/tickets/{ticket_id}/rating",
    response_model=TicketOut,
    summary="Rate a resolved ticket 1-5 (its consumer)",
)
async def rate_ticket(
    ticket_id: int, body: RatingIn, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> TicketOut:
    ticket = await service.rate_ticket(
        uow.session,
        clock=container.clock,
        actor=actor,
        ticket_id=ticket_id,
        satisfaction=body.satisfaction,
    )
    await uow.commit()
    return ticket


@router.get(
    "/service-scores",
    response_model=ServiceScoreOut,
    summary="The service score of a brand or the platform (merchants of the brand, operators)",
    description="Without `brand_id`: the platform's score (operators). See docs/service.md.",
)
async def service_score(
    actor: BrandStaff,
    uow: UoW,
    container: ContainerDep,
    brand_id: Annotated[int | None, Query()] = None,
) -> ServiceScoreOut:
    return await service.score_for(
        uow.session, actor=actor, brand_id=brand_id, now=container.clock.now()
    )
