"""Frames of the session WebSocket: what clients may send and how server frames are built."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from livecart.core.errors import DomainError
from livecart.core.schemas import InputModel

if TYPE_CHECKING:
    from livecart.supervision.schemas import FieldHit

Frame = dict[str, Any]

# A frame with this audience reaches only the session's staff sockets (anchor, co-hosts,
# moderators): console alerts, queued questions, buyer estimates.
STAFF_AUDIENCE = "staff"


class ChatIn(InputModel):
    type: Literal["chat"]
    text: str  # stripped; its length is checked against settings.chat_max_length


class LikeIn(InputModel):
    type: Literal["like"]


class PingIn(InputModel):
    type: Literal["ping"]


ClientFrame = Annotated[ChatIn | LikeIn | PingIn, Field(discriminator="type")]


@cache
def client_frames() -> TypeAdapter[ChatIn | LikeIn | PingIn]:
    """The validator of client frames (built on first use)."""
    return TypeAdapter(ClientFrame)


class InvalidFrame(DomainError):
    status = 422
    code = "invalid_frame"


class FrameTooLarge(DomainError):
    status = 413
    code = "frame_too_large"


def error_frame(error: DomainError) -> Frame:
    """An `error` frame with the same body as an HTTP error."""
    return {"type": "error", **error.to_dict()}


def compliance_warning_frame(message_id: int | None, hits: Sequence[FieldHit]) -> Frame:
    """To a host only: their message was shown, but these words break a warn-only compliance
    rule (each hit: rule_id, category, text, start, end, reason)."""
    return {
        "type": "compliance_warning",
        "message_id": message_id,
        "hits": [
            hit.model_dump(include={"rule_id", "category", "text", "start", "end", "reason"})
            for hit in hits
        ],
    }


def like_frame(count: int, total: int) -> Frame:
    """Likes since the last frame and the session's total."""
    return {"type": "like", "count": count, "total": total}


def viewers_frame(count: int) -> Frame:
    """The number of sockets watching the session."""
    return {"type": "viewers", "count": count}


def staff_frame(frame_type: str, **fields: Any) -> Frame:
    """A frame for the session's staff sockets only (published like any other frame)."""
    return {"type": frame_type, "audience": STAFF_AUDIENCE, **fields}


PONG: Frame = {"type": "pong"}
