"""Tables of users and their role grants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livecart.core.db import Base


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    # Consent to personalisation (portraits read for ranking, targeted marketing); on by
    # default, switched by the consumer (`PUT /me/privacy`).
    personalisation: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Set when the account was deleted (the row stays, pseudonymised, so orders keep their
    # buyer); `erased_at` when the last erasure pass, the event log included, completed.
    deleted_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]
    grants: Mapped[list[RoleGrant]] = relationship(
        back_populates="user",
        lazy="selectin",
        cascade="all, delete-orphan",
        foreign_keys="RoleGrant.user_id",
    )


class RoleGrant(Base):
    """A role held by a user; merchant grants name a brand, moderator grants a room."""

    __tablename__ = "role_grants"
    __table_args__ = (
        UniqueConstraint("user_id", "role", "brand_id", "room_id", name="uq_role_grants_scope"),
        Index("ix_role_grants_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    user: Mapped[User] = relationship(back_populates="grants", foreign_keys=[user_id])
