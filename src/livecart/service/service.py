"""Customer service: questions from live chat, answers, tickets after the live, service scores.

Questions: the chat writer hands every committed batch to `take_questions` (after its commit,
in a unit of work of its own, so a failure here never loses a chat message). Messages from
viewers that `detector.detect` finds to be questions are stored with the product they are
about (named in the question, else pinned at that moment), a suggested answer from the
product's knowledge card or the brand's past answers, and published as a `question` staff
frame: the anchor's console shows it, viewers never see it. The brand's service team sees the
same queue on /merchant/service.
"""

from __future__ import annotations

import asyncio
import logging
import re
import statistics
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Identity, PersonalRows
from livecart.catalog import service as catalog
from livecart.catalog.schemas import KnowledgeCardOut, ProductCard
from livecart.commerce import service as commerce
from livecart.core.clock import Clock
from livecart.core.db import UnitOfWork
from livecart.core.errors import InvalidInput, PermissionDenied
from livecart.flashsale import service as flash
from livecart.live import service as live
from livecart.live.schemas import SessionView
from livecart.realtime.broker import session_channel
from livecart.realtime.schemas import staff_frame
from livecart.service import detector, suggestions
from livecart.service.errors import (
    AlreadyAnswered,
    QuestionNotFound,
    TicketClosed,
    TicketNotFound,
    TicketNotResolved,
)
from livecart.service.models import Question, Ticket, TicketMessage
from livecart.service.schemas import (
    AnswerMode,
    QuestionOut,
    QuestionStatus,
    ServiceScoreOut,
    SuggestionOut,
    TicketIn,
    TicketMessageOut,
    TicketOut,
    TicketStatus,
)
from livecart.supervision import service as supervision

log = logging.getLogger(__name__)

# A live question is answered "in time" within 5 minutes, a ticket gets a first answer in a day.
QUESTION_TARGET = timedelta(minutes=5)
TICKET_TARGET = timedelta(hours=24)
PAST_ANSWERS = 300  # the brand's latest answered questions searched for a suggestion
SCORE_WEIGHTS: dict[str, float] = {
    "question_response": 0.30,
    "ticket_response": 0.25,
    "resolution": 0.25,
    "satisfaction": 0.20,
}
_TITLE_WORDS = re.compile(r"[a-z0-9]{3,}")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_TITLE_STOP = frozenset({"the", "and", "for", "with", "set", "pack", "new"})


# ---------------------------------------------------------------- questions from chat


@dataclass(frozen=True)
class AskedInChat:
    """A shown chat message found to be a question."""

    actor: Identity
    session_id: int
    message_id: int
    asker: str
    text: str
    detected: detector.Detected


def take_questions(
    unit_of_work: Callable[[], UnitOfWork],
    *,
    clock: Clock,
    lexicon: supervision.Lexicon,
    posts: Sequence[live.ChatPost],
    outcomes: Sequence[live.ChatOutcome],
) -> asyncio.Task[int] | None:
    """After a chat batch is committed: queue its questions in a task with its own unit of work
    (so the chat writer never waits for suggestions); the task, or None without questions.

    The task never raises (but for cancellation): chat must not depend on the service queue.
    """
    asked = [
        AskedInChat(post.actor, post.session_id, out.message_id, out.shown.user.name, post.text, d)
        for post, out in zip(posts, outcomes, strict=True)
        if out.shown is not None
        and out.message_id is not None
        and (d := detector.detect(post.text)) is not None
    ]
    if not asked:
        return None
    task = asyncio.create_task(
        _queue_in_own_unit(unit_of_work, clock=clock, lexicon=lexicon, asked=asked),
        name="service-questions",
    )
    _queueing.add(task)
    task.add_done_callback(_queueing.discard)
    return task


# Tasks queueing questions, kept referenced until done (asyncio holds tasks weakly).
_queueing: set[asyncio.Task[int]] = set()


async def _queue_in_own_unit(
    unit_of_work: Callable[[], UnitOfWork],
    *,
    clock: Clock,
    lexicon: supervision.Lexicon,
    asked: Sequence[AskedInChat],
) -> int:
    try:
        async with unit_of_work() as uow:
            queued = await queue_questions(uow, clock=clock, lexicon=lexicon, asked=asked)
            await uow.commit()
    except Exception:
        log.exception("%d chat questions could not be queued", len(asked))
        return 0
    return len(queued)


def _title_terms(title: str) -> set[str]:
    text = unicodedata.normalize("NFKC", title).lower()
    terms = {w for w in _TITLE_WORDS.findall(text) if w not in _TITLE_STOP}
    for run in _CJK_RUN.findall(text):
        terms.update(run[i : i + 2] for i in range(len(run) - 1))
    return terms


def match_product(text: str, view: SessionView) -> ProductCard | None:
    """The showcase product the question names (most title words in it), else the pinned one."""
    question = unicodedata.normalize("NFKC", text).lower()
    best: tuple[int, ProductCard] | None = None
    for card in view.showcase:
        hits = sum(1 for term in _title_terms(card.title) if term in question)
        if hits and (best is None or hits > best[0]):
            best = (hits, card)
    if best is not None:
        return best[1]
    return view.pinned


async def _past_answers(
    session: AsyncSession, brand_ids: Iterable[int]
) -> list[suggestions.PastAnswer]:
    ids = sorted(set(brand_ids))
    if not ids:
        return []
    rows = await session.execute(
        select(Question.id, Question.text, Question.answer)
        .where(
            Question.brand_id.in_(ids),
            Question.status == QuestionStatus.answered.value,
            Question.answer.is_not(None),
            Question.text != "",
        )
        .order_by(Question.first_response_at.desc())
        .limit(PAST_ANSWERS)
    )
    return [suggestions.PastAnswer(r.id, r.text, r.answer) for r in rows]


async def suggest_for(
    session: AsyncSession,
    *,
    clock: Clock,
    lexicon: supervision.Lexicon,
    text: str,
    product: ProductCard | None,
    view: SessionView | None,
) -> suggestions.Suggestion | None:
    """A suggested answer from the product's card (else the showcase's cards) and past answers."""
    if product is not None:
        ids = [product.id]
    elif view is not None:
        ids = [c.id for c in view.showcase]
    else:
        ids = []
    cards: dict[int, KnowledgeCardOut] = await catalog.knowledge_cards(
        session, clock=clock, lexicon=lexicon, product_ids=ids
    )
    past = await _past_answers(session, {c.brand_id for c in cards.values()})
    # TF-IDF (and the first import of scikit-learn) off the event loop.
    return await asyncio.to_thread(
        suggestions.suggest, text, cards=[cards[i] for i in ids if i in cards], past=past
    )


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else round((end - start).total_seconds(), 1)


def _question_out(
    question: Question, *, asker: str, product_title: str | None = None
) -> QuestionOut:
    return QuestionOut(
        id=question.id,
        session_id=question.session_id,
        product_id=question.product_id,
        product_title=product_title,
        brand_id=question.brand_id,
        asker=asker,
        text=question.text,
        language=question.language,
        asked_at=question.asked_at,
        status=QuestionStatus(question.status),
        suggestion=SuggestionOut(**question.suggestion) if question.suggestion else None,
        first_response_at=question.first_response_at,
        first_response_seconds=_seconds(question.asked_at, question.first_response_at),
        answer=question.answer,
        answer_mode=AnswerMode(question.answer_mode) if question.answer_mode else None,
    )


def _question_frame(out: QuestionOut) -> dict[str, Any]:
    return staff_frame("question", **out.model_dump(mode="json"))


async def queue_questions(
    uow: UnitOfWork, *, clock: Clock, lexicon: supervision.Lexicon, asked: Sequence[AskedInChat]
) -> list[QuestionOut]:
    """Store the questions viewers asked (hosts' and moderators' are not queued) and publish
    each to the session's staff after commit."""
    session = uow.session
    now = clock.now()
    views: dict[int, SessionView] = {}
    queued: list[QuestionOut] = []
    for item in asked:
        if await live.staff_of(session, session_id=item.session_id, actor=item.actor):
            continue
        if item.session_id not in views:
            views[item.session_id] = await live.get_session_view(session, item.session_id)
        view = views[item.session_id]
        product = match_product(item.text, view)
        suggestion = await suggest_for(
            session, clock=clock, lexicon=lexicon, text=item.text, product=product, view=view
        )
        if product is None and suggestion is not None and suggestion.product_id is not None:
            # Named by neither title nor pin: the product whose card answers it.
            product = next((c for c in view.showcase if c.id == suggestion.product_id), None)
        question = Question(
            session_id=item.session_id,
            product_id=product.id if product else None,
            brand_id=product.brand.id if product else None,
            message_id=item.message_id,
            asker_id=item.actor.id,
            text=item.text,
            language=item.detected.language,
            asked_at=now,
            suggestion=suggestion.to_dict() if suggestion else None,
            status=QuestionStatus.open.value,
        )
        session.add(question)
        await session.flush()
        out = _question_out(
            question, asker=item.asker, product_title=product.title if product else None
        )
        uow.publish_after_commit(session_channel(item.session_id), _question_frame(out))
        queued.append(out)
    return queued


async def _outs(session: AsyncSession, rows: Sequence[Question]) -> list[QuestionOut]:
    names = await accounts.display_names(session, {q.asker_id for q in rows if q.asker_id})
    cards = await catalog.product_cards(session, {q.product_id for q in rows if q.product_id})
    return [
        _question_out(
            q,
            asker=names.get(q.asker_id, "") if q.asker_id else "",
            product_title=cards[q.product_id].title if q.product_id in cards else None,
        )
        for q in rows
    ]


def _status_filter(status: QuestionStatus | None) -> ColumnElement[bool]:
    return true() if status is None else Question.status == status.value


async def list_session_questions(
    session: AsyncSession,
    *,
    actor: Identity,
    session_id: int,
    status: QuestionStatus | None = None,
    limit: int = 200,
) -> list[QuestionOut]:
    """A session's questions, oldest first (its hosts, moderators and operators)."""
    if not await live.staff_of(session, session_id=session_id, actor=actor):
        raise PermissionDenied("only this session's hosts and moderators see its questions")
    rows = await session.scalars(
        select(Question)
        .where(Question.session_id == session_id, _status_filter(status))
        .order_by(Question.id)
        .limit(limit)
    )
    return await _outs(session, list(rows))


def _require_brand(actor: Identity, brand_id: int) -> None:
    if brand_id not in actor.brand_ids and not actor.is_operator:
        raise PermissionDenied(
            "only this brand's staff see its service queue", details={"brand_id": brand_id}
        )


async def list_brand_questions(
    session: AsyncSession,
    *,
    actor: Identity,
    brand_id: int,
    status: QuestionStatus | None = None,
    limit: int = 200,
) -> list[QuestionOut]:
    """Questions about a brand's products, newest first (its merchants and operators)."""
    _require_brand(actor, brand_id)
    rows = await session.scalars(
        select(Question)
        .where(Question.brand_id == brand_id, _status_filter(status))
        .order_by(Question.id.desc())
        .limit(limit)
    )
    return await _outs(session, list(rows))


async def my_questions(session: AsyncSession, *, actor: Identity) -> list[QuestionOut]:
    """The caller's own questions and the answers they got (private ones included)."""
    rows = await session.scalars(
        select(Question)
        .where(Question.asker_id == actor.id)
        .order_by(Question.id.desc())
        .limit(200)
    )
    return await _outs(session, list(rows))


async def _question(session: AsyncSession, question_id: int) -> Question:
    question = await session.get(Question, question_id)
    if question is None:
        raise QuestionNotFound("question not found", details={"question_id": question_id})
    return question


async def _may_answer(session: AsyncSession, actor: Identity, question: Question) -> bool:
    """Hosts and moderators of the session, and the brand's merchants, answer (staff_of
    includes operators)."""
    if question.brand_id is not None and question.brand_id in actor.brand_ids:
        return True
    return await live.staff_of(session, session_id=question.session_id, actor=actor)


async def answer_question(
    uow: UnitOfWork,
    *,
    clock: Clock,
    lexicon: supervision.Lexicon,
    banned_words: Sequence[str],
    actor: Identity,
    question_id: int,
    text: str,
    mode: AnswerMode,
) -> QuestionOut:
    """Answer a queued question, in the live chat (as the one answering, a host) or privately
    to the asker; the first answer's time is the question's first response."""
    session = uow.session
    question = await _question(session, question_id)
    if not await _may_answer(session, actor, question):
        raise PermissionDenied("only the session's hosts and the brand's staff answer it")
    if question.status == QuestionStatus.answered.value:
        raise AlreadyAnswered("this question has been answered")
    names = await accounts.display_names(
        session, {question.asker_id} if question.asker_id else set()
    )
    asker = names.get(question.asker_id, "") if question.asker_id else ""
    if mode == AnswerMode.chat:
        said = f"@{asker} {text}" if asker else text
        posted = await live.post_chats(
            uow,
            clock=clock,
            posts=[live.ChatPost(actor=actor, session_id=question.session_id, text=said)],
            banned_words=banned_words,
            lexicon=lexicon,
            sale_units=flash.units_left_in_session,
        )
        if posted[0].error is not None:
            raise posted[0].error
    now = clock.now()
    question.first_response_at = question.first_response_at or now
    question.answered_by = actor.id
    question.answer = text
    question.answer_mode = mode.value
    question.status = QuestionStatus.answered.value
    await session.flush()
    out = (await _outs(session, [question]))[0]
    uow.publish_after_commit(
        session_channel(question.session_id),
        staff_frame("question_answered", **out.model_dump(mode="json")),
    )
    return out


async def dismiss_question(
    uow: UnitOfWork, *, clock: Clock, actor: Identity, question_id: int
) -> QuestionOut:
    """Take a question off the queue without answering (not a question after all, spam)."""
    session = uow.session
    question = await _question(session, question_id)
    if not await _may_answer(session, actor, question):
        raise PermissionDenied("only the session's hosts and the brand's staff handle it")
    if question.status == QuestionStatus.answered.value:
        raise AlreadyAnswered("this question has been answered")
    question.status = QuestionStatus.dismissed.value
    question.answered_by = actor.id
    question.first_response_at = question.first_response_at or clock.now()
    await session.flush()
    out = (await _outs(session, [question]))[0]
    uow.publish_after_commit(
        session_channel(question.session_id),
        staff_frame("question_answered", **out.model_dump(mode="json")),
    )
    return out


# ---------------------------------------------------------------- tickets


async def _ticket_out(session: AsyncSession, ticket: Ticket) -> TicketOut:
    messages = list(
        await session.scalars(
            select(TicketMessage)
            .where(TicketMessage.ticket_id == ticket.id)
            .order_by(TicketMessage.id)
        )
    )
    names = await accounts.display_names(session, {m.author_id for m in messages if m.author_id})
    return TicketOut(
        id=ticket.id,
        brand_id=ticket.brand_id,
        order_id=ticket.order_id,
        after_sales_request_id=ticket.after_sales_request_id,
        subject=ticket.subject,
        status=TicketStatus(ticket.status),
        created_at=ticket.created_at,
        first_response_at=ticket.first_response_at,
        resolved_at=ticket.resolved_at,
        satisfaction=ticket.satisfaction,
        messages=[
            TicketMessageOut(
                id=m.id,
                from_staff=m.from_staff,
                author=names.get(m.author_id, "") if m.author_id else "",
                text=m.text,
                created_at=m.created_at,
            )
            for m in messages
        ],
    )


async def create_ticket(
    session: AsyncSession, *, clock: Clock, actor: Identity, ticket_in: TicketIn
) -> TicketOut:
    """Open a service ticket with a brand, about one of the caller's orders or in general."""
    brand_id = ticket_in.brand_id
    if ticket_in.order_id is not None:
        order = await commerce.get_order(
            session, clock=clock, actor=actor, order_id=ticket_in.order_id
        )
        if order.user_id != actor.id:
            raise PermissionDenied("a ticket is about one of your own orders")
        if brand_id is not None and brand_id != order.brand_id:
            raise InvalidInput("the order is from another brand", details={"field": "brand_id"})
        brand_id = order.brand_id
    if brand_id is None:
        raise InvalidInput("name the order or the brand", details={"field": "brand_id"})
    await catalog.get_brand(session, brand_id)
    now = clock.now()
    ticket = Ticket(
        user_id=actor.id,
        brand_id=brand_id,
        order_id=ticket_in.order_id,
        after_sales_request_id=ticket_in.after_sales_request_id,
        subject=ticket_in.subject,
        status=TicketStatus.open.value,
        created_at=now,
    )
    session.add(ticket)
    await session.flush()
    session.add(
        TicketMessage(
            ticket_id=ticket.id,
            author_id=actor.id,
            from_staff=False,
            text=ticket_in.text,
            created_at=now,
        )
    )
    await session.flush()
    return await _ticket_out(session, ticket)


async def _visible_ticket(session: AsyncSession, actor: Identity, ticket_id: int) -> Ticket:
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None or not (
        ticket.user_id == actor.id or ticket.brand_id in actor.brand_ids or actor.is_operator
    ):
        raise TicketNotFound("ticket not found", details={"ticket_id": ticket_id})
    return ticket


async def get_ticket(session: AsyncSession, *, actor: Identity, ticket_id: int) -> TicketOut:
    """One ticket for its consumer, the brand's staff or an operator (else 404)."""
    return await _ticket_out(session, await _visible_ticket(session, actor, ticket_id))


async def list_my_tickets(session: AsyncSession, *, actor: Identity) -> list[TicketOut]:
    """The caller's tickets, newest first."""
    rows = await session.scalars(
        select(Ticket).where(Ticket.user_id == actor.id).order_by(Ticket.id.desc()).limit(200)
    )
    return [await _ticket_out(session, t) for t in rows]


async def list_brand_tickets(
    session: AsyncSession,
    *,
    actor: Identity,
    brand_id: int,
    status: TicketStatus | None = None,
    limit: int = 200,
) -> list[TicketOut]:
    """A brand's tickets, newest first (its merchants and operators)."""
    _require_brand(actor, brand_id)
    condition = true() if status is None else Ticket.status == status.value
    rows = await session.scalars(
        select(Ticket)
        .where(Ticket.brand_id == brand_id, condition)
        .order_by(Ticket.id.desc())
        .limit(limit)
    )
    return [await _ticket_out(session, t) for t in rows]


async def add_ticket_message(
    session: AsyncSession, *, clock: Clock, actor: Identity, ticket_id: int, text: str
) -> TicketOut:
    """A message in a ticket; the brand's first one is the ticket's first response."""
    ticket = await _visible_ticket(session, actor, ticket_id)
    if ticket.status == TicketStatus.resolved.value:
        raise TicketClosed("this ticket is resolved")
    from_staff = ticket.user_id != actor.id
    now = clock.now()
    session.add(
        TicketMessage(
            ticket_id=ticket.id,
            author_id=actor.id,
            from_staff=from_staff,
            text=text,
            created_at=now,
        )
    )
    if from_staff:
        ticket.first_response_at = ticket.first_response_at or now
        ticket.status = TicketStatus.answered.value
    else:
        ticket.status = TicketStatus.open.value
    await session.flush()
    return await _ticket_out(session, ticket)


async def resolve_ticket(
    session: AsyncSession, *, clock: Clock, actor: Identity, ticket_id: int
) -> TicketOut:
    """Mark a ticket resolved (its consumer or the brand's staff)."""
    ticket = await _visible_ticket(session, actor, ticket_id)
    if ticket.status == TicketStatus.resolved.value:
        raise TicketClosed("this ticket is resolved")
    ticket.status = TicketStatus.resolved.value
    ticket.resolved_at = clock.now()
    await session.flush()
    return await _ticket_out(session, ticket)


async def rate_ticket(
    session: AsyncSession, *, clock: Clock, actor: Identity, ticket_id: int, satisfaction: int
) -> TicketOut:
    """The consumer's satisfaction (1-5) with a resolved ticket; a later rating replaces it."""
    ticket = await _visible_ticket(session, actor, ticket_id)
    if ticket.user_id != actor.id:
        raise PermissionDenied("only the consumer who opened the ticket rates it")
    if ticket.status != TicketStatus.resolved.value:
        raise TicketNotResolved("a ticket is rated once it is resolved")
    ticket.satisfaction = satisfaction
    ticket.rated_at = clock.now()
    await session.flush()
    return await _ticket_out(session, ticket)


# ---------------------------------------------------------------- service score


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


async def service_score(
    session: AsyncSession, *, brand_id: int | None, now: datetime | None = None
) -> ServiceScoreOut:
    """The service score of a brand, or of the whole platform (`brand_id` None).

    Components (each a share between 0 and 1, None without data):
    question_response = live questions answered within 5 minutes / questions asked;
    ticket_response = tickets with a first answer within 24 h / tickets;
    resolution = resolved tickets / tickets;
    satisfaction = (mean rating - 1) / 4 over rated tickets.
    score = 100 x sum(weight x component) / sum(weights of components with data), weights
    0.30, 0.25, 0.25, 0.20. With `now`, questions and tickets still inside their target time
    and unanswered are left out (they are not late yet).
    """
    brand_filter_q = true() if brand_id is None else Question.brand_id == brand_id
    brand_filter_t = true() if brand_id is None else Ticket.brand_id == brand_id
    questions = (
        await session.execute(
            select(Question.asked_at, Question.first_response_at, Question.status).where(
                brand_filter_q, Question.status != QuestionStatus.dismissed.value
            )
        )
    ).all()
    q_counted = q_answered = q_in_time = 0
    q_delays: list[float] = []
    for asked_at, first, status in questions:
        if first is None and now is not None and now - asked_at < QUESTION_TARGET:
            continue
        q_counted += 1
        if status == QuestionStatus.answered.value and first is not None:
            q_answered += 1
            delay = first - asked_at
            q_delays.append(delay.total_seconds())
            if delay <= QUESTION_TARGET:
                q_in_time += 1
    tickets = (
        await session.execute(
            select(
                Ticket.created_at,
                Ticket.first_response_at,
                Ticket.resolved_at,
                Ticket.satisfaction,
            ).where(brand_filter_t)
        )
    ).all()
    t_counted = t_in_time = t_resolved = 0
    t_delays: list[float] = []
    resolutions: list[float] = []
    ratings: list[int] = []
    for created_at, first, resolved_at, satisfaction in tickets:
        if satisfaction is not None:
            ratings.append(satisfaction)
        if (
            first is None
            and resolved_at is None
            and now is not None
            and now - created_at < TICKET_TARGET
        ):
            continue
        t_counted += 1
        if first is not None:
            t_delays.append((first - created_at).total_seconds())
            if first - created_at <= TICKET_TARGET:
                t_in_time += 1
        if resolved_at is not None:
            t_resolved += 1
            resolutions.append((resolved_at - created_at).total_seconds())
    mean_rating = statistics.fmean(ratings) if ratings else None
    components: dict[str, float | None] = {
        "question_response": _share(q_in_time, q_counted),
        "ticket_response": _share(t_in_time, t_counted),
        "resolution": _share(t_resolved, t_counted),
        "satisfaction": (mean_rating - 1) / 4 if mean_rating is not None else None,
    }
    weighted = [(SCORE_WEIGHTS[k], v) for k, v in components.items() if v is not None]
    total_weight = sum(w for w, _ in weighted)
    score = round(100 * sum(w * v for w, v in weighted) / total_weight, 1) if weighted else None
    return ServiceScoreOut(
        brand_id=brand_id,
        score=score,
        components={k: (round(v, 4) if v is not None else None) for k, v in components.items()},
        weights=dict(SCORE_WEIGHTS),
        questions=q_counted,
        questions_answered=q_answered,
        questions_answered_in_time=q_in_time,
        median_question_response_seconds=_median(q_delays),
        tickets=t_counted,
        tickets_responded_in_time=t_in_time,
        tickets_resolved=t_resolved,
        median_ticket_response_seconds=_median(t_delays),
        median_resolution_seconds=_median(resolutions),
        ratings=len(ratings),
        mean_satisfaction=round(mean_rating, 2) if mean_rating is not None else None,
    )


async def score_for(
    session: AsyncSession, *, actor: Identity, brand_id: int | None, now: datetime
) -> ServiceScoreOut:
    """A brand's score for its staff and operators; the platform's for operators."""
    if brand_id is None and not actor.is_operator:
        raise PermissionDenied("the platform's service score is for operators")
    if brand_id is not None:
        _require_brand(actor, brand_id)
    return await service_score(session, brand_id=brand_id, now=now)


async def brands_with_service(session: AsyncSession) -> list[int]:
    """Brands that have questions or tickets (the CLI's list of scores)."""
    asked = await session.scalars(
        select(Question.brand_id).where(Question.brand_id.is_not(None)).distinct()
    )
    ticketed = await session.scalars(select(Ticket.brand_id).distinct())
    return sorted({b for b in asked if b is not None} | set(ticketed))


# ---------------------------------------------------------------- privacy


async def personal_data(session: AsyncSession, user_id: int) -> PersonalRows:
    """A user's questions, tickets and ticket messages (a privacy export)."""
    mine = select(Ticket.id).where(Ticket.user_id == user_id)
    return await accounts.collect_rows(
        session,
        {
            "service_questions": select(Question.__table__).where(Question.asker_id == user_id),
            "service_tickets": select(Ticket.__table__).where(Ticket.user_id == user_id),
            "service_ticket_messages": select(TicketMessage.__table__).where(
                TicketMessage.ticket_id.in_(mine)
            ),
        },
    )


async def erase_personal_data(session: AsyncSession, user_id: int) -> None:
    """For a deleted account: question texts and the answers to them emptied, ticket subjects
    and messages emptied. Timings, statuses and ratings stay (they make the service score)."""
    await session.execute(
        update(Question)
        .where(Question.asker_id == user_id)
        .values(text="", answer=None, suggestion=None)
    )
    await session.execute(update(Ticket).where(Ticket.user_id == user_id).values(subject=""))
    mine = select(Ticket.id).where(Ticket.user_id == user_id)
    await session.execute(
        update(TicketMessage).where(TicketMessage.ticket_id.in_(mine)).values(text="")
    )
