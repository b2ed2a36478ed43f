"""Input and output shapes of the live domain: rooms, sessions, showcase, chat, moderation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field, model_validator

from livecart.catalog.schemas import ProductCard
from livecart.core.schemas import InputModel, OutputModel

Title = Annotated[str, Field(min_length=1, max_length=120)]


class SessionStatus(StrEnum):
    scheduled = "scheduled"
    live = "live"
    ended = "ended"


class ModerationAction(StrEnum):
    mute = "mute"
    unmute = "unmute"
    ban = "ban"
    unban = "unban"
    slow_mode = "slow_mode"


class ChatStatus(StrEnum):
    shown = "shown"
    blocked = "blocked"
    deleted = "deleted"


@dataclass(frozen=True)
class SessionOrigin:
    """Where an order comes from: the session, its room and its anchor."""

    session_id: int
    room_id: int
    anchor_id: int
    status: SessionStatus


class RoomIn(InputModel):
    title: Title
    description: str = Field(default="", max_length=2000)


class RoomOut(OutputModel):
    id: int
    anchor_id: int
    title: str
    description: str
    slow_mode_seconds: int
    created_at: datetime


class SessionIn(InputModel):
    title: Title
    scheduled_at: AwareDatetime | None = None


class SessionStatusOut(OutputModel):
    id: int
    status: SessionStatus


class PersonOut(OutputModel):
    id: int
    display_name: str


class StatisticsOut(OutputModel):
    viewers: int
    peak_viewers: int
    watch_seconds: int
    messages: int
    likes: int
    orders: int
    gmv: int
    currency: str


class SessionView(OutputModel):
    """Everything a page or client needs to show one session."""

    id: int
    room_id: int
    title: str
    status: SessionStatus
    scheduled_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    anchor: PersonOut
    cohosts: list[PersonOut]
    pinned: ProductCard | None
    showcase: list[ProductCard]
    statistics: StatisticsOut


class SessionSummary(OutputModel):
    """One line of the home page: live now or upcoming."""

    id: int
    room_id: int
    title: str
    status: SessionStatus
    scheduled_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    anchor: PersonOut
    viewers: int
    pinned: ProductCard | None


class CohostIn(InputModel):
    anchor_id: int = Field(ge=1)


class ProductRefIn(InputModel):
    product_id: int = Field(ge=1)


class ModerationIn(InputModel):
    action: ModerationAction
    user_id: int | None = Field(default=None, ge=1)
    minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 365)
    seconds: int | None = Field(default=None, ge=0, le=3600)
    reason: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _fields_fit_action(self) -> ModerationIn:
        if self.action == ModerationAction.slow_mode:
            if self.seconds is None:
                raise ValueError("slow_mode needs seconds (0 turns it off)")
            if self.user_id is not None or self.minutes is not None:
                raise ValueError("slow_mode takes seconds only")
        else:
            if self.user_id is None:
                raise ValueError(f"{self.action.value} needs a user_id")
            if self.seconds is not None:
                raise ValueError("only slow_mode takes seconds")
            if self.minutes is not None and self.action not in (
                ModerationAction.mute,
                ModerationAction.ban,
            ):
                raise ValueError("only mute and ban take minutes")
        return self


class ModerationOut(OutputModel):
    session_id: int
    room_id: int
    action: ModerationAction
    user_id: int | None
    until: datetime | None
    slow_mode_seconds: int


class ChatUser(OutputModel):
    id: int | None
    name: str


class ChatMessageOut(OutputModel):
    """A shown chat message; the `chat` frame has the same fields."""

    id: int
    user: ChatUser
    text: str
    at: datetime


class ReservationOut(OutputModel):
    session_id: int
    reserved: bool
    reservations: int
