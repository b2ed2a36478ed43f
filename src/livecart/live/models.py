"""Tables of rooms, sessions, co-hosts, showcase, chat, moderation and anchor scripts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livecart.core.db import Base, MinorUnitsColumn


class Room(Base):
    __tablename__ = "rooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    anchor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    # Moderation settings that hold across the room's sessions.
    slow_mode_seconds: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]


class LiveSession(Base):
    """One broadcast of a room: scheduled -> live -> ended."""

    __tablename__ = "live_sessions"
    __table_args__ = (
        Index("ix_live_sessions_status", "status", "scheduled_at"),
        # One live session per room, held by the database even when two starts race.
        Index(
            "uq_live_sessions_room_live",
            "room_id",
            unique=True,
            sqlite_where=text("status = 'live'"),
            postgresql_where=text("status = 'live'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    anchor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    scheduled_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    pinned_product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", ondelete="SET NULL")
    )
    # Statistics, kept up to date while live and final once ended.
    peak_viewers: Mapped[int] = mapped_column(default=0)
    watch_seconds: Mapped[int] = mapped_column(default=0)
    messages: Mapped[int] = mapped_column(default=0)
    likes: Mapped[int] = mapped_column(default=0)
    orders: Mapped[int] = mapped_column(default=0)
    gmv: Mapped[MinorUnitsColumn] = mapped_column(default=0)  # in `currency`
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    created_at: Mapped[datetime]
    showcase: Mapped[list[ShowcaseItem]] = relationship(
        lazy="selectin", order_by="ShowcaseItem.position", cascade="all, delete-orphan"
    )
    cohosts: Mapped[list[CoHost]] = relationship(lazy="selectin", cascade="all, delete-orphan")


class CoHost(Base):
    __tablename__ = "session_cohosts"
    __table_args__ = (UniqueConstraint("session_id", "anchor_id", name="uq_session_cohosts_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id", ondelete="CASCADE"))
    anchor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    invited_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class ShowcaseItem(Base):
    __tablename__ = "showcase_items"
    __table_args__ = (UniqueConstraint("session_id", "product_id", name="uq_showcase_items_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    position: Mapped[int] = mapped_column(default=0)
    added_at: Mapped[datetime]


class ChatMessage(Base):
    """Every chat message, including the rejected ones (status says why)."""

    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_session_time", "session_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(20), default="shown")  # shown | blocked | deleted
    reason: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]


class RoomSanction(Base):
    """A moderator's mute or ban of a user in a room, until `until` (None: for good)."""

    __tablename__ = "room_sanctions"
    __table_args__ = (Index("ix_room_sanctions_room_user", "room_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # mute | ban
    until: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    lifted_at: Mapped[datetime | None]


class Reservation(Base):
    """A consumer's reminder for an upcoming session."""

    __tablename__ = "session_reservations"
    __table_args__ = (
        UniqueConstraint("session_id", "user_id", name="uq_session_reservations_pair"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]


class SessionScript(Base):
    """One saved version of a session's anchor script (the talking points the hosts read).

    Each save adds a version; the highest is the current script. The warn-only compliance hits
    found when it was saved are kept with it (`warnings`); a text with a blocking hit is never
    stored. Older versions beyond `live.scripts.KEEP_VERSIONS` are dropped on save."""

    __tablename__ = "session_scripts"
    __table_args__ = (UniqueConstraint("session_id", "version", name="uq_session_scripts_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id", ondelete="CASCADE"))
    version: Mapped[int]
    text: Mapped[str] = mapped_column(Text, default="")
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    updated_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime]
