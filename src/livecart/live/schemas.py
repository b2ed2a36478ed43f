"""Input and output shapes of the live domain: rooms, sessions, showcase, chat, moderation,
anchor scripts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from livecart.catalog.schemas import ProductCard
from livecart.core.schemas import InputModel, OutputModel
from livecart.supervision.schemas import FieldHit

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

Title = Annotated[str, Field(min_length=1, max_length=120)]

# The units left in a live session's open flash sales (`flashsale.service.units_left_in_session`,
# passed in by the caller: flashsale builds on live). Set aside from the SKUs' stock, they are
# what a host's scarcity claim in chat or in the script may be about during a sale.
SaleUnits = Callable[["AsyncSession", int], Awaitable[list[int]]]


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


# An anchor script is read aloud over a whole session: 20,000 characters is about two hours of
# talking points, and bounds what one save scans.
SCRIPT_MAX_LENGTH = 20_000


class ScriptIn(InputModel):
    """The whole script of a session, as the host wrote it."""

    # Kept exactly as sent (no trimming): hit offsets and lines index this text.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    text: str = Field(
        max_length=SCRIPT_MAX_LENGTH,
        description="The talking points, up to 20,000 characters; an empty text clears it.",
    )
    base_version: int | None = Field(
        default=None,
        ge=0,
        description="The version this edit started from (0: none yet). When given and another "
        "save came in since, the save is refused with 409 `script_changed`; omit to overwrite.",
    )


class ScriptHit(FieldHit):
    """A compliance hit in a script: `start`/`end` index the script's text, `line` and
    `column` (both from 1) say where it is for people."""

    line: int
    column: int


class ScriptOut(OutputModel):
    """A session's current anchor script (version 0, empty text: none written yet)."""

    session_id: int
    version: int = Field(description="Increases by one with each save; 0 when none is saved.")
    text: str
    updated_at: datetime | None
    updated_by: PersonOut | None
    compliance_warnings: list[ScriptHit] = Field(
        default_factory=list,
        description="The warn-only hits found when this version was saved (the text was "
        "accepted with them).",
    )
