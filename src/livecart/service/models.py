"""Tables of customer service: questions asked in live chat, service tickets and their messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from livecart.core.db import Base


class Question(Base):
    """A chat message found to be a question, queued for the anchor and the brand's team."""

    __tablename__ = "service_questions"
    __table_args__ = (
        Index("ix_service_questions_session", "session_id", "status"),
        Index("ix_service_questions_brand", "brand_id", "status"),
        Index("ix_service_questions_asker", "asker_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id", ondelete="CASCADE"))
    # The product pinned when it was asked, or the showcase product it names.
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_messages.id", ondelete="SET NULL")
    )
    asker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(String(1000))
    language: Mapped[str] = mapped_column(String(8))  # en | zh
    asked_at: Mapped[datetime]
    # {answer, source, score, product_id, matched, question_id} or None (nothing fitted)
    suggestion: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | answered | dismissed
    first_response_at: Mapped[datetime | None]
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    answer: Mapped[str | None] = mapped_column(Text)
    answer_mode: Mapped[str | None] = mapped_column(String(10))  # chat | private


class Ticket(Base):
    """A consumer's after-the-live service request to a brand (an order, a return ...)."""

    __tablename__ = "service_tickets"
    __table_args__ = (
        Index("ix_service_tickets_brand", "brand_id", "status"),
        Index("ix_service_tickets_user", "user_id"),
        CheckConstraint(
            "satisfaction IS NULL OR (satisfaction >= 1 AND satisfaction <= 5)",
            name="satisfaction_1_to_5",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))

    # An after-sales (return) request in commerce; no foreign key, the table is commerce's.
    after_sales_request_id: Mapped[int | None]
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | answered | resolved
    created_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    satisfaction: Mapped[int | None]
    rated_at: Mapped[datetime | None]


class TicketMessage(Base):
    """One message of a ticket's conversation, from the consumer or the brand's team."""

    __tablename__ = "service_ticket_messages"
    __table_args__ = (Index("ix_service_ticket_messages_ticket", "ticket_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("service_tickets.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_staff: Mapped[bool]
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
