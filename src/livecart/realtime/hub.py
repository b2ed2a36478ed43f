"""The hub: this process's sockets per live session, fan-out, likes, viewers and watch time.

One broker subscription per session per process feeds every local socket of that session.
Frames from the broker are gathered per session for `ws_batch_seconds` (at most
`ws_batch_max_frames`) and each socket then gets the whole batch as one WebSocket message: a
JSON array of frames, encoded once per batch for every socket (clients that did not ask for
batches, `?batch=1`, get the same frames one message each, at the same moment). One message per
socket per batch instead of one per frame is what makes a busy room cheap: the cost of a send
(a task wake-up, framing, compression, a system call) is paid per message, not per frame.

Each socket has a bounded queue drained by its own sender task; fan-out only ever calls
`put_nowait`, and a socket whose queue is full is dropped (closed with 1013), so a slow
client never delays the others. Likes, watch time and the viewer count are aggregated in
memory and written and published once per tick. Chat messages are written by the process's
`ChatWriter` in batches (group commit) and reach the hub through the broker after commit.

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
from collections.abc import Callable, Coroutine, Generator
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
from livecart.live.schemas import SaleUnits, SessionOrigin
from livecart.realtime.broker import Broker, Subscription, session_channel
from livecart.realtime.chat_writer import ChatWriter
from livecart.realtime.schemas import (
    STAFF_AUDIENCE,
    Frame,
    error_frame,
    like_frame,
    viewers_frame,
)
from livecart.realtime.viewer_counts import LocalViewerCounts, ViewerCounts
from livecart.settings import Settings
from livecart.supervision import service as supervision

log = logging.getLogger(__name__)


def encode(frame: Frame) -> str:
    """A frame as the JSON text sent on the socket."""
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def batch_message(encoded: list[str]) -> str:
    """Encoded frames as one batch message: a JSON array, built without decoding them again."""
    return "[" + ",".join(encoded) + "]"


DROPPED_CODE = 1013  # "try again later": the client fell too far behind
BANNED_CODE = 4403
LIKES_PER_SECOND = 10


@dataclass(frozen=True)
class CloseRequest:
    """Queued after the frames a socket must still get, then the socket is closed."""

    code: int
    reason: str = ""


# A message, or the messages of one batch for a client that takes one frame per message:
# JSON-encoded once per batch, not per socket. A batch takes one place in a socket's queue.
QueueItem = str | list[str] | CloseRequest
Send = Callable[[QueueItem], Coroutine[Any, Any, None]]
SEND_FAILED_CODE = 1011


class _Rest:
    """The rest of a send coroutine that was started by hand and had to wait for `first`.

    Awaiting it hands what the coroutine waits for to the awaiting task, then sends the
    results back in, exactly as `await coroutine` would have from the start.
    """

    def __init__(self, coroutine: Coroutine[Any, Any, None], first: Any) -> None:
        self._coroutine = coroutine
        self._first = first

    def __await__(self) -> Generator[Any, Any, None]:
        waiting = self._first
        while True:
            try:
                result = yield waiting
            except BaseException as exc:  # cancellation included: the coroutine gets it
                try:
                    waiting = self._coroutine.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting = self._coroutine.send(result)
                except StopIteration:
                    return


@dataclass(eq=False)
class Client:
    """One open socket: who it is, its send queue and its sender task."""

    session_id: int
    room_id: int
    anchor_id: int
    user_id: int | None
    is_staff: bool
    joined_at: datetime
    queue: asyncio.Queue[QueueItem | _Rest]
    batched: bool = False  # the client takes batch messages (JSON arrays of frames)
    anonymous_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    last_beat: datetime | None = None
    next_beat: float = 0.0
    close_code: int | None = None
    sender: asyncio.Task[None] | None = None
    _send: Send | None = field(default=None, init=False, repr=False)
    # The sender task is writing (or about to): new items queue behind.
    _busy: bool = field(default=False, init=False, repr=False)

    def start(self, send: Send) -> asyncio.Task[None]:
        """Start the sender task that drains the queue into the socket."""
        self._send = send

        async def drain() -> None:
            while True:
                item = await self.queue.get()
                self._busy = True
                if isinstance(item, _Rest):
                    await item
                else:
                    await send(item)
                self._busy = False
                if isinstance(item, CloseRequest):
                    self.close_code = item.code
                    return

        self.sender = asyncio.create_task(drain(), name=f"ws-send-{self.session_id}")
        return self.sender

    def offer(self, item: QueueItem) -> bool:
        """Write a message at once when the socket is idle (True), else queue it (QueueFull).

        Writing to a socket whose transport takes more data never waits, so the fan-out writes
        it directly instead of waking the socket's sender task: one task wake-up per socket
        per batch saved. If the write has to wait after all (the peer is slow to read), the
        sender task finishes it, and what comes next queues behind it.
        """
        send = self._send
        if send is None or self._busy or not self.queue.empty() or isinstance(item, CloseRequest):
            self.queue.put_nowait(item)
            return False
        coroutine = send(item)
        try:
            waiting = coroutine.send(None)
        except StopIteration:
            return True
        except Exception:
            log.info("a socket of session %s failed to take a message", self.session_id)
            self.stop(SEND_FAILED_CODE)
            return False
        self._busy = True
        self.queue.put_nowait(_Rest(coroutine, waiting))
        return False

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
    batch: list[str] = field(default_factory=list)  # encoded frames for every socket
    flush_at: asyncio.TimerHandle | None = None


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
        lexicon: supervision.Lexicon,
        viewer_counts: ViewerCounts | None = None,
        sale_units: SaleUnits | None = None,
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
        self.chat = ChatWriter(
            unit_of_work=lambda: UnitOfWork(sessionmaker, publisher=broker),
            clock=clock,
            banned_words=settings.banned_words,
            lexicon=lexicon,
            sale_units=sale_units,
        )
        self.dropped = 0
        self.batches_sent = 0
        self.direct_writes = 0  # messages written by the fan-out itself, no task woken

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

    def new_client(
        self, *, origin: SessionOrigin, user_id: int | None, is_staff: bool, batched: bool = False
    ) -> Client:
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
            batched=batched,
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

    def send(self, client: Client, item: Frame | CloseRequest) -> bool:
        """Queue a frame for one socket, ahead of the next batch; a full queue drops the client."""
        if isinstance(item, dict):
            text = encode(item)
            return self._put(client, batch_message([text]) if client.batched else text)
        return self._put(client, item)

    def _put(self, client: Client, item: QueueItem) -> bool:
        if client.close_code is not None:
            return False
        try:
            if client.offer(item):
                self.direct_writes += 1
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
        if frame.get("type") == "moderation" and frame.get("action") != "slow_mode":
            self._moderate(state, frame)
            return
        if frame.get("audience") == STAFF_AUDIENCE:
            self._to_staff(state, frame)
            return
        state.batch.append(encode(frame))
        window = self.settings.ws_batch_seconds
        if window <= 0 or len(state.batch) >= self.settings.ws_batch_max_frames:
            self._flush_batch(state)
        elif state.flush_at is None:
            loop = asyncio.get_running_loop()
            state.flush_at = loop.call_later(window, self._flush_batch, state)

    def _moderate(self, state: _SessionState, frame: Frame) -> None:
        # Rare and addressed to a few sockets: sent at once, after what is already batched.
        self._flush_batch(state)
        target = frame.get("user_id")
        encoded = encode(frame)
        for client in list(state.clients):
            # Who was sanctioned is for the staff and the person concerned only.
            if client.is_staff or client.user_id == target:
                self.send_encoded(client, encoded)
            if frame.get("action") == "ban" and client.user_id == target and not client.is_staff:
                self.send(client, error_frame(Banned("you are banned from this room")))
                self.send(client, CloseRequest(BANNED_CODE, "banned"))

    def _to_staff(self, state: _SessionState, frame: Frame) -> None:
        # Alerts, questions and buyer counts for the console: staff sockets only, at once.
        self._flush_batch(state)
        encoded = encode(frame)
        for client in list(state.clients):
            if client.is_staff:
                self.send_encoded(client, encoded)

    def send_encoded(self, client: Client, encoded: str) -> bool:
        """Queue one already encoded frame for one socket."""
        return self._put(client, batch_message([encoded]) if client.batched else encoded)

    def _flush_batch(self, state: _SessionState) -> None:
        """Send the session's gathered frames to each of its sockets: one message per socket."""
        if state.flush_at is not None:
            state.flush_at.cancel()
            state.flush_at = None
        frames, state.batch = state.batch, []
        if not frames:
            return
        self.batches_sent += 1
        message = batch_message(frames)
        for client in list(state.clients):
            self._put(client, message if client.batched else frames)

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
        if state.flush_at is not None:
            state.flush_at.cancel()
            state.flush_at = None
        if state.reader is not None:
            state.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await state.reader
        await state.subscription.close()

    async def aclose(self) -> None:
        """Stop ticking, write what is pending and close every socket's sender."""
        await self.chat.aclose()
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
