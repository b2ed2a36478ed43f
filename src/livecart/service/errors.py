"""Errors of customer service (questions, answers, tickets)."""

from __future__ import annotations

from livecart.core.errors import Conflict, NotFound


class QuestionNotFound(NotFound):
    code = "question_not_found"


class TicketNotFound(NotFound):
    code = "ticket_not_found"


class AlreadyAnswered(Conflict):
    code = "question_already_answered"


class TicketNotResolved(Conflict):
    """Satisfaction is rated once a ticket is resolved."""

    code = "ticket_not_resolved"


class TicketClosed(Conflict):
    code = "ticket_closed"
