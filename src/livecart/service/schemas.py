"""Input and output shapes of customer service: questions, answers, tickets, service scores."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field

from livecart.core.schemas import InputModel, OutputModel

AnswerText = Annotated[str, Field(min_length=1, max_length=1000)]


class QuestionStatus(StrEnum):
    open = "open"
    answered = "answered"
    dismissed = "dismissed"


class AnswerMode(StrEnum):
    chat = "chat"  # posted in the live chat by the one who answers (a host)
    private = "private"  # kept for the asker (GET /me/questions)


class TicketStatus(StrEnum):
    open = "open"
    answered = "answered"
    resolved = "resolved"


class SuggestionOut(OutputModel):
    answer: str
    source: str  # card_faq | card_spec | past_answer
    score: float
    product_id: int | None = None
    matched: str = ""
    question_id: int | None = None


class QuestionOut(OutputModel):
    """A queued question; the `question` staff frame carries the same fields."""

    id: int
    session_id: int
    product_id: int | None
    product_title: str | None = None
    brand_id: int | None
    asker: str  # display name
    text: str
    language: str
    asked_at: datetime
    status: QuestionStatus
    suggestion: SuggestionOut | None
    first_response_at: datetime | None
    first_response_seconds: float | None
    answer: str | None
    answer_mode: AnswerMode | None


class AnswerIn(InputModel):
    text: AnswerText
    mode: AnswerMode = AnswerMode.chat


class TicketIn(InputModel):
    """A consumer's request; `order_id` names one of their orders (its brand gets the ticket),
    else `brand_id` is needed."""

    subject: Annotated[str, Field(min_length=1, max_length=200)]
    text: Annotated[str, Field(min_length=1, max_length=4000)]
    brand_id: int | None = None
    order_id: int | None = None
    after_sales_request_id: int | None = None


class TicketMessageIn(InputModel):
    text: Annotated[str, Field(min_length=1, max_length=4000)]


class RatingIn(InputModel):
    satisfaction: Annotated[int, Field(ge=1, le=5, strict=True)]


class TicketMessageOut(OutputModel):
    id: int
    from_staff: bool
    author: str
    text: str
    created_at: datetime


class TicketOut(OutputModel):
    id: int
    brand_id: int
    order_id: int | None
    after_sales_request_id: int | None
    subject: str
    status: TicketStatus
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    satisfaction: int | None
    messages: list[TicketMessageOut]


class ServiceScoreOut(OutputModel):
    """How well a brand (or the whole platform, `brand_id` None) deals with consumers' demands.

    `score` = 100 x the weighted mean of the components that have data (see docs/service.md,
    "Service score"); None when no component has data.
    """

    brand_id: int | None
    score: float | None
    components: dict[str, float | None]
    weights: dict[str, float]
    questions: int
    questions_answered: int
    questions_answered_in_time: int
    median_question_response_seconds: float | None
    tickets: int
    tickets_responded_in_time: int
    tickets_resolved: int
    median_ticket_response_seconds: float | None
    median_resolution_seconds: float | None
    ratings: int
    mean_satisfaction: float | None
    details: dict[str, Any] = Field(default_factory=dict)
