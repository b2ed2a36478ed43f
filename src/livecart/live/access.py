"""Who may do what in a live session: the one place the service and the anchor scripts ask."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts.schemas import Identity
from livecart.live.errors import SessionNotFound
from livecart.live.models import LiveSession


async def load_session(session: AsyncSession, session_id: int) -> LiveSession:
    """The live session, or SessionNotFound."""
    live = await session.get(LiveSession, session_id)
    if live is None:
        raise SessionNotFound("live session not found", details={"session_id": session_id})
    return live


def is_host(actor: Identity, live: LiveSession) -> bool:
    """The session's anchor or one of its co-hosts."""
    return actor.id == live.anchor_id or any(c.anchor_id == actor.id for c in live.cohosts)


def is_staff(actor: Identity | None, live: LiveSession) -> bool:
    """A host, a moderator of the session's room, or an operator."""
    if actor is None:
        return False
    return actor.is_operator or is_host(actor, live) or live.room_id in actor.moderated_room_ids
