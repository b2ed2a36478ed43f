"""The hub: this process's sockets per live session, fan-out, likes, viewers and watch time.

One broker subscription per session per process feeds every local socket of that session.
Each socket has a bounded queue drained by its own sender task; fan-out only ever calls
`put_nowait`, and a socket whose queue is full is dropped (closed with 1013), so a slow
client never delays the others. Likes, watch time and the viewer count are aggregated in
memory and written and published once per tick.

The viewer count is this process's sockets plus those of the other workers as reported by
`viewer_counts` (none in one process; summed through Redis with several workers), refreshed
once per tick; `viewers` is the only place that answers the question.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livecart.core.clock import Clock
from livecart.core.db import UnitOfWork
from livecart.core.ratelimit import KeyedBuckets
from livecart.events import service as events_service
from livecart.events.schemas import EventType
from livecart.events.sink import EventSink
from livecart.live import service as live
from livecart.live.errors import Banned
from livecart.live.schemas import SessionOrigin
from livecart.realtime.broker import Broker, Subscription, session_channel
from livecart.realtime.schemas import Frame, error_frame, like_frame, viewers_frame
from livecart.realtime.viewer_counts import LocalViewerCounts, ViewerCounts
from livecart.settings import Settings

log = logging.getLogger(__name__)


def encode(frame: Frame) -> str:
    """A frame as the JSON text sent on the socket."""
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


DROPPED_CODE = 1013  # "try again later": the client fell too far behind
BANNED_CODE = 4403
LIKES_PER_SECOND = 10


@dataclass(frozen=True)
class CloseRequest:
    """Queued after the frames a socket must still get, then the socket is closed."""

    code: int
    reason: str = ""


QueueItem = str | CloseRequest  # frames are JSON-encoded once per fan-out, not per socket


@dataclass(eq=False)
class Client:
    """One open socket: who it is, its send queue and its sender task."""

    session_id: int
    room_id: int
    anchor_id: int
    user_id: int | None
    is_staff: bool
    joined_at: datetime
    queue: asyncio.Queue[QueueItem]
    anonymous_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    last_beat: datetime | None = None
    next_beat: float = 0.0
    close_code: int | None = None
    sender: asyncio.Task[None] | None = None

    def start(self, send: Callable[[QueueItem], Awaitable[None]]) -> asyncio.Task[None]:
        """Start the sender task that drains the queue into the socket."""

        async def drain() -> None:
            while True:
                item = await self.queue.get()
                await send(item)
                if isinstance(item, CloseRequest):
                    self.close_code = item.code
                    return

        self.sender = asyncio.create_task(drain(), name=f"ws-send-{self.session_id}")
        return self.sender

    def stop(self, code: int) -> None:
        """Stop sending at once (the socket is to be closed with `code`)."""
        if self.close_code is None:
            self.close_code = code
        if self.sender is not None:
            self.sender.cancel()


@dataclass(eq=False)
class _SessionState:
    session_id: int
    subscription: Subscription
    reader: asyncio.Task[None] | None = None
    clients: set[Client] = field(default_factory=set)
    pending_likes: int = 0
    pending_watch: float = 0.0
    published_viewers: int = -1


class Hub:
    """Sockets, fan-out and aggregated counters of this process."""

    def __init__(
        self,
        *,
        broker: Broker,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: Settings,
        events: EventSink,
        viewer_counts: ViewerCounts | None = None,
    ) -> None:
        self.broker = broker
        self.viewer_counts = viewer_counts or LocalViewerCounts()
        self.clock = clock
        self.settings = settings
        self.events = events
        self._sessionmaker = sessionmaker
        self._sessions: dict[int, _SessionState] = {}
        self._lock = asyncio.Lock()
        self._ticker: asyncio.Task[None] | None = None
        self.chat_buckets = KeyedBuckets(
            settings.chat_bucket_capacity, settings.chat_bucket_per_seconds
        )
        # Likes are cheap to count but each is a behaviour event: a tapping bot gets ignored.
        self.like_buckets = KeyedBuckets(LIKES_PER_SECOND, 1.0)
        self.dropped = 0

    # ------------------------------------------------------------ sockets

    def viewers(self, session_id: int) -> int:
        """Sockets watching the session in every process (others as of the last tick)."""
        state = self._sessions.get(session_id)
        local = len(state.clients) if state else 0
        others = self.viewer_counts.others(session_id)
        if self.viewer_counts.wants_refresh():
            self._ensure_ticker()
        return local + others

    def _ensure_ticker(self) -> None:
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick_forever(), name="hub-tick")

    def new_client(self, *, origin: SessionOrigin, user_id: int | None, is_staff: bool) -> Client:
        """A client with its bounded queue, not yet receiving the session's frames."""
        now = self.clock.now()
        return Client(
            session_id=origin.session_id,
            room_id=origin.room_id,
            anchor_id=origin.anchor_id,
            user_id=user_id,
            is_staff=is_staff,
            joined_at=now,
            last_beat=now,
            next_beat=time.monotonic() + self.settings.heartbeat_seconds,
            queue=asyncio.Queue(maxsize=max(1, self.settings.socket_queue_size)),
        )

    async def join(self, client: Client) -> None:
        """Start fanning the session's frames out to the client."""
        async with self._lock:
            state = self._sessions.get(client.session_id)
            if state is None:
                subscription = await self.broker.subscribe(session_channel(client.session_id))
                state = _SessionState(client.session_id, subscription)
                state.reader = asyncio.create_task(
                    self._read(state), name=f"hub-read-{client.session_id}"
                )
                self._sessions[client.session_id] = state
            state.clients.add(client)
            self._ensure_ticker()
        self.behaviour(client, EventType.JOIN)

    def leave(self, client: Client) -> None:
        """Forget a closed socket; its last stretch of watch time is counted."""
        state = self._sessions.get(client.session_id)
        if state is None or client not in state.clients:
            return
        state.clients.discard(client)
        seconds = self._watched_since_beat(client)
        state.pending_watch += seconds
        self.behaviour(client, EventType.LEAVE, watch_seconds=seconds)

    def send(self, client: Client, item: Frame | QueueItem) -> bool:
        """Queue a frame without waiting; a full queue drops the client."""
        if client.close_code is not None:
            return False
        if isinstance(item, dict):
            item = encode(item)
        try:
            client.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1
            log.info("dropping a slow socket of session %s", client.session_id)
            client.stop(DROPPED_CODE)
            return False
        return True

    def like(self, client: Client) -> None:
        """Count a like (beyond LIKES_PER_SECOND per user they are ignored) for the next tick."""
        key = f"user:{client.user_id}" if client.user_id else f"anon:{client.anonymous_id}"
        if self.like_buckets.take(key, self.clock.now().timestamp()) > 0:
            return
        state = self._sessions.get(client.session_id)
        if state is not None:
            state.pending_likes += 1
        self.behaviour(client, EventType.LIKE)

    def behaviour(self, client: Client, kind: EventType, **fields: Any) -> None:
        """Write a behaviour event about the client's socket."""
        event = events_service.new_event(
            kind,
            occurred_at=self.clock.now(),
            consumer_id=client.user_id,
            anonymous_id=None if client.user_id else client.anonymous_id,
            session_id=client.session_id,
            room_id=client.room_id,
            anchor_id=client.anchor_id,
            **fields,
        )
        events_service.emit(self.events, event)

    # ------------------------------------------------------------ fan-out

    async def _read(self, state: _SessionState) -> None:
        try:
            async for message in state.subscription:
                try:
                    self._fan_out(state, message)
                except Exception:
                    log.exception("fan-out of a %s frame failed", message.get("type"))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("broker subscription of session %s failed", state.session_id)

    def _fan_out(self, state: _SessionState, frame: Frame) -> None:
        audience = list(state.clients)
        if frame.get("type") == "moderation":
            action, target = frame.get("action"), frame.get("user_id")
            if action == "ban":
                for client in audience:
                    if client.user_id == target and not client.is_staff:
                        self.send(client, error_frame(Banned("you are banned from this room")))
                        self.send(client, CloseRequest(BANNED_CODE, "banned"))
            if action != "slow_mode":
                # Who was sanctioned is for the staff and the person concerned only.
                audience = [c for c in audience if c.is_staff or c.user_id == target]
        encoded = encode(frame)
        for client in audience:
            self.send(client, encoded)

    # ------------------------------------------------------------ ticks

    def _watched_since_beat(self, client: Client) -> float:
        now = self.clock.now()
        last = client.last_beat or client.joined_at
        client.last_beat = now
        return max(0.0, (now - last).total_seconds())

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.realtime_tick_seconds)
            try:
                await self.tick()
            except Exception:
                log.exception("hub tick failed")

    async def tick(self) -> None:
        """Heartbeats, then write and publish likes, watch time and viewer counts."""
        monotonic = time.monotonic()
        try:
            async with asyncio.timeout(max(1.0, 2 * self.settings.realtime_tick_seconds)):
                await self.viewer_counts.refresh(
                    {s.session_id: len(s.clients) for s in self._sessions.values()}
                )
        except Exception:
            # Redis away: keep serving with the last totals known.
            log.warning("refreshing the viewer counts failed", exc_info=True)
        for state in list(self._sessions.values()):
            for client in list(state.clients):
                if monotonic >= client.next_beat:
                    client.next_beat = monotonic + self.settings.heartbeat_seconds
                    seconds = self._watched_since_beat(client)
                    state.pending_watch += seconds
                    self.behaviour(client, EventType.HEARTBEAT, watch_seconds=seconds)
            await self._flush(state)
            if not state.clients and not state.pending_likes and not state.pending_watch:
                await self._retire(state)

    async def _flush(self, state: _SessionState) -> None:
        likes, state.pending_likes = state.pending_likes, 0
        watch = int(state.pending_watch)
        state.pending_watch -= watch
        viewers = self.viewers(state.session_id)
        changed = viewers != state.published_viewers
        if not likes and not watch and not changed:
            return
        try:
            async with UnitOfWork(self._sessionmaker) as uow:
                total = await live.add_counters(
                    uow.session,
                    session_id=state.session_id,
                    likes=likes,
                    watch_seconds=watch,
                    viewers=viewers,
                )
                await uow.commit()
        except Exception:
            # Keep the counts for the next tick rather than lose them.
            state.pending_likes += likes
            state.pending_watch += watch
            raise
        channel = session_channel(state.session_id)
        if likes:
            await self.broker.publish(channel, like_frame(likes, total))
        if changed and state.clients:
            # Every worker knows the total, so each tells its own sockets (one frame, not N).
            state.published_viewers = viewers
            self._fan_out(state, viewers_frame(viewers))

    async def _retire(self, state: _SessionState) -> None:
        async with self._lock:
            if state.clients or self._sessions.get(state.session_id) is not state:
                return
            del self._sessions[state.session_id]
        if state.reader is not None:
            state.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await state.reader
        await state.subscription.close()

    async def aclose(self) -> None:
        """Stop ticking, write what is pending and close every socket's sender."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for state in list(self._sessions.values()):
            for client in list(state.clients):
                self.leave(client)
                client.stop(1001)
            try:
                await self._flush(state)
            except Exception:
                log.exception("final flush of session %s failed", state.session_id)
            await self._retire(state)
        await self.viewer_counts.aclose()
