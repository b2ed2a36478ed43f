"""The WebSocket gateway: one socket per viewer per live session (`WS /ws/sessions/{id}`).

Origin is checked before the handshake is accepted; the caller is identified by the `token`
query parameter (bearer) or the page session cookie, and anonymous viewers watch read-only.
Each socket has a reader (this handler) and a sender task draining its bounded queue; see
`realtime.hub` for fan-out, batches and dropping slow clients. With `batch=1` in the query every
server message is a JSON array of frames (what the browser client asks for); without it, one
frame per message. An accepted chat message goes to the process's chat writer and the reader
goes on at once: the message's outcome (an error frame for its author, or the chat frame for
everyone once its batch has committed) comes back through the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from fastapi import APIRouter, WebSocket
from pydantic import ValidationError

from livecart.accounts.dependencies import identify
from livecart.accounts.schemas import Identity
from livecart.core.errors import DomainError, Unauthenticated
from livecart.core.http import container_of, origin_allowed
from livecart.events.schemas import EventType
from livecart.live import service as live
from livecart.live.errors import Banned, ChatRateLimited, MessageEmpty, MessageTooLong
from livecart.live.service import ChatOutcome
from livecart.realtime.hub import Client, CloseRequest, Hub, QueueItem, batch_message, encode
from livecart.realtime.schemas import (
    ChatIn,
    FrameTooLarge,
    InvalidFrame,
    LikeIn,
    client_frames,
    compliance_warning_frame,
    error_frame,
)

if TYPE_CHECKING:
    from livecart.bootstrap import Container

log = logging.getLogger(__name__)

router = APIRouter(tags=["realtime"])

CLOSE_TIMEOUT = 2.0


def _close_code(error: DomainError) -> int:
    # 4000 + the HTTP status, so browsers (which never see the handshake status) learn why.
    return 4000 + error.status


async def _deliver(websocket: WebSocket, item: QueueItem) -> None:
    if isinstance(item, CloseRequest):
        await websocket.close(code=item.code, reason=item.reason)
    elif isinstance(item, list):
        for text in item:
            await websocket.send_text(text)
    else:
        await websocket.send_text(item)


def _wants_batches(websocket: WebSocket) -> bool:
    return websocket.query_params.get("batch") == "1"


async def _refuse(websocket: WebSocket, error: DomainError) -> None:
    """Accept only to say why, then close: browsers cannot read a refused handshake."""
    await websocket.accept()
    text = encode(error_frame(error))
    await websocket.send_text(batch_message([text]) if _wants_batches(websocket) else text)
    await websocket.close(code=_close_code(error))


@router.websocket("/ws/sessions/{session_id}")
async def session_socket(websocket: WebSocket, session_id: int) -> None:
    """Watch a live session: server frames out; chat, like and ping in."""
    container: Container = container_of(websocket)
    settings = container.settings
    if not origin_allowed(websocket, base_url=settings.base_url, allowed=settings.allowed_origins):
        # Cross-site pages must not ride on a viewer's cookie: refuse the handshake (HTTP 403).
        await websocket.close(code=4403)
        return
    try:
        async with container.uow() as uow:
            identity = await identify(websocket, uow, websocket.query_params.get("token"))
            context = await live.socket_context(
                uow.session, session_id=session_id, actor=identity, now=container.clock.now()
            )
            recent = await live.recent_messages(
                uow.session, session_id=session_id, limit=settings.chat_recent_messages
            )
    except DomainError as error:
        await _refuse(websocket, error)
        return
    if context.banned:
        await _refuse(websocket, Banned("you are banned from this room"))
        return
    await websocket.accept()
    hub = container.hub
    client = hub.new_client(
        origin=context.origin,
        user_id=identity.id if identity else None,
        is_staff=context.is_staff,
        batched=_wants_batches(websocket),
    )
    you = None
    if identity is not None:
        you = {
            "id": identity.id,
            "display_name": identity.display_name,
            "can_chat": not context.muted,
            "is_staff": context.is_staff,
        }
    hub.send(
        client,
        {
            "type": "hello",
            "session_id": session_id,
            "status": context.origin.status.value,
            "you": you,
            "pinned": context.pinned.model_dump(mode="json") if context.pinned else None,
            "viewers": hub.viewers(session_id) + 1,
            "likes": context.likes,
            "slow_mode_seconds": context.slow_mode_seconds,
            "recent": [live.chat_frame(m) for m in recent],
        },
    )
    sender = client.start(lambda item: _deliver(websocket, item))
    await hub.join(client)
    reader = asyncio.create_task(_read(websocket, container, client, identity))
    try:
        await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reader, sender):
            task.cancel()
        for task in (reader, sender):
            with contextlib.suppress(BaseException):
                await task
        hub.leave(client)
        if sender.cancelled() and client.close_code is not None:
            # Dropped (slow) or shut down: the close frame may never get through a full buffer.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(websocket.close(code=client.close_code), CLOSE_TIMEOUT)


async def _read(
    websocket: WebSocket, container: Container, client: Client, identity: Identity | None
) -> None:
    hub = container.hub
    limit = container.settings.ws_max_frame_bytes
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        raw = message.get("text")
        if raw is None:
            raw_bytes = message.get("bytes") or b""
            size = len(raw_bytes)
        else:
            size = len(raw.encode())
        if size > limit:
            hub.send(
                client,
                error_frame(FrameTooLarge("the frame is too large", details={"max_bytes": limit})),
            )
            continue
        if raw is None:
            hub.send(client, error_frame(InvalidFrame("send JSON text frames")))
            continue
        try:
            frame = client_frames().validate_json(raw)
        except ValidationError:
            hub.send(
                client,
                error_frame(InvalidFrame("expected {type: chat|like|ping}; chat needs text")),
            )
            continue
        if isinstance(frame, ChatIn):
            await _chat(container, client, identity, frame.text)
        elif isinstance(frame, LikeIn):
            if identity is None:
                hub.send(client, error_frame(Unauthenticated("sign in to like")))
            else:
                hub.like(client)
        else:
            hub.send(client, {"type": "pong"})


async def _chat(container: Container, client: Client, identity: Identity | None, text: str) -> None:
    hub: Hub = container.hub
    settings = container.settings
    error: DomainError | None = None
    if identity is None:
        error = Unauthenticated("sign in to chat")
    elif not text:
        error = MessageEmpty("the message is empty")
    elif len(text) > settings.chat_max_length:
        error = MessageTooLong(
            f"at most {settings.chat_max_length} characters",
            details={"max_length": settings.chat_max_length},
        )
    else:
        wait = hub.chat_buckets.take(f"user:{identity.id}", container.clock.now().timestamp())
        if wait > 0:
            error = ChatRateLimited("slow down", retry_after=round(wait, 2))
    if error is not None or identity is None:
        hub.send(client, error_frame(error or Unauthenticated("sign in to chat")))
        return
    try:
        outcome = hub.chat.submit(actor=identity, session_id=client.session_id, text=text)
    except DomainError as exc:
        hub.send(client, error_frame(exc))
        return
    outcome.add_done_callback(lambda done: _chat_done(hub, client, text, done))


def _chat_done(hub: Hub, client: Client, text: str, done: asyncio.Future[ChatOutcome]) -> None:
    """Tell the author why a message was not shown (or what in it a host should not say),
    and record the chat behaviour event of a shown one."""
    if done.cancelled():
        return
    error = done.exception()
    if error is not None:
        if isinstance(error, DomainError):
            hub.send(client, error_frame(error))
        return
    outcome = done.result()
    if outcome.error is not None:
        hub.send(client, error_frame(outcome.error))
        return
    if outcome.warnings:
        hub.send(client, compliance_warning_frame(outcome.message_id, outcome.warnings))
    hub.behaviour(client, EventType.CHAT, text=text)
