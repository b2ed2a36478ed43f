"""The broker over Redis pub/sub: room events reach the sockets of every worker.

One pub/sub connection per process carries every channel this process listens to; the
messages of a channel are handed to its local subscribers through bounded queues, so a
subscriber that falls behind loses messages instead of holding up the reader. When Redis goes
away the reader reconnects with backoff and subscribes again to every channel in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import RedisError

from livecart.realtime.broker import Message, Subscription

log = logging.getLogger(__name__)

SUBSCRIBE_TIMEOUT = 5.0
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0
# A channel the reader always listens on, so the connection exists before any room is watched.
CONTROL_CHANNEL = "broker"


def command_client(url: str) -> Redis:
    """A client for short commands that gives up within seconds when Redis is away."""
    # A request's after-commit publish or the hub's tick must not hang on a dead Redis.
    return Redis.from_url(
        url,
        socket_connect_timeout=2,
        socket_timeout=2,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
    )


class _RedisSubscription:
    def __init__(self, broker: RedisBroker, channel: str, maxsize: int) -> None:
        self._broker = broker
        self._channel = channel
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=maxsize)
        self.closed = False

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while True:
            message = await self.queue.get()
            if message is None:
                return
            yield message

    def end(self) -> None:
        """Let the iteration stop, even if the queue is full of unread messages."""
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(None)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        await self._broker._remove(self._channel, self)
        self.end()


class RedisBroker:
    """Publish/subscribe through Redis; subscribers in this process share one connection."""

    def __init__(
        self, url: str, *, prefix: str = "livecart:", subscriber_queue: int = 1024
    ) -> None:
        self._url = url
        self._prefix = prefix
        self._subscriber_queue = subscriber_queue
        self._client: Redis | None = None
        self._listener: Redis | None = None
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._channels: dict[str, set[_RedisSubscription]] = {}
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self.connected = asyncio.Event()
        # The pub/sub connection's CLIENT SETNAME, to find it in CLIENT LIST.
        self.listener_name = f"{prefix}broker:{uuid.uuid4().hex[:8]}".replace(" ", "_")
        self.dropped = 0
        self.reconnects = 0

    # ------------------------------------------------------------ lifecycle

    def _redis(self) -> Redis:
        # Built on first use, on the loop that uses it (a container is built outside any loop).
        if self._client is None:
            self._client = command_client(self._url)
        return self._client

    def _listening_client(self) -> Redis:
        # No silent retries on the pub/sub connection: the reader reconnects, logs and
        # subscribes again itself; health checks find a connection that died quietly.
        if self._listener is None:
            self._listener = Redis.from_url(
                self._url,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=15,
                client_name=self.listener_name,
            )
        return self._listener

    async def start(self) -> None:
        """Open the pub/sub connection (reconnecting in the background if Redis is away)."""
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_forever(), name="redis-broker-reader")

    async def aclose(self) -> None:
        """Stop reading, end every subscription and close the connections."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        for subscribers in list(self._channels.values()):
            for subscription in list(subscribers):
                subscription.closed = True
                subscription.end()
        self._channels.clear()
        for client in (self._client, self._listener):
            if client is not None:
                await client.aclose()
        self._client = self._listener = None

    # ------------------------------------------------------------ broker

    def _key(self, channel: str) -> str:
        return f"{self._prefix}{channel}"

    async def publish(self, channel: str, message: Message) -> None:
        """Send a JSON-encoded message to every subscriber of the channel in every process."""
        payload = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        try:
            await self._redis().publish(self._key(channel), payload)
        except (RedisError, OSError):
            # Pub/sub is fire-and-forget anyway: a frame lost while Redis is away is logged.
            log.warning("redis publish on %s failed; the message is lost", channel, exc_info=True)

    async def subscribe(self, channel: str) -> Subscription:
        """Start receiving the channel's messages (once Redis confirmed, or after a timeout)."""
        subscription = _RedisSubscription(self, channel, self._subscriber_queue)
        subscribers = self._channels.setdefault(channel, set())
        subscribers.add(subscription)
        if len(subscribers) == 1:
            await self._subscribe_remote(channel)
        else:
            confirmation = self._confirmations.get(channel)
            if confirmation is not None:
                await self._wait(confirmation)
        return subscription

    def subscribers(self, channel: str) -> int:
        """How many subscriptions of this process the channel has."""
        return len(self._channels.get(channel, ()))

    async def _subscribe_remote(self, channel: str) -> None:
        confirmation = asyncio.get_running_loop().create_future()
        self._confirmations[channel] = confirmation
        pubsub = self._pubsub
        if pubsub is None or not self.connected.is_set():
            # The reader subscribes to every channel in use when it (re)connects.
            await self._wait(confirmation)
            return
        try:
            await pubsub.subscribe(self._key(channel))
        except (RedisError, OSError):
            log.warning("redis subscribe to %s failed; retried on reconnect", channel)
            return
        await self._wait(confirmation)

    async def _wait(self, confirmation: asyncio.Future[None]) -> None:
        # Bounded: while Redis is away the subscription still exists and fills on reconnect.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(confirmation), SUBSCRIBE_TIMEOUT)

    async def _remove(self, channel: str, subscription: _RedisSubscription) -> None:
        subscribers = self._channels.get(channel)
        if subscribers is None:
            return
        subscribers.discard(subscription)
        if subscribers:
            return
        del self._channels[channel]
        self._confirmations.pop(channel, None)
        pubsub = self._pubsub
        if pubsub is not None and self.connected.is_set():
            with contextlib.suppress(RedisError, OSError):
                await pubsub.unsubscribe(self._key(channel))

    # ------------------------------------------------------------ reader

    async def _read_forever(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            pubsub = self._listening_client().pubsub()
            try:
                channels = set(self._channels)
                await pubsub.subscribe(self._key(CONTROL_CHANNEL), *map(self._key, channels))
                self._pubsub = pubsub
                self.connected.set()
                # Channels asked for while the connection was being made.
                missing = set(self._channels) - channels
                if missing:
                    await pubsub.subscribe(*map(self._key, missing))
                if backoff > BACKOFF_FIRST:
                    self.reconnects += 1
                    log.warning("redis pub/sub reconnected; %d channels", len(self._channels))
                backoff = BACKOFF_FIRST
                await self._read(pubsub)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("redis pub/sub connection lost (%s); retrying in %.1fs", exc, backoff)
            finally:
                self.connected.clear()
                self._pubsub = None
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _read(self, pubsub: PubSub) -> None:
        while True:
            raw = await pubsub.get_message(timeout=1.0)
            if raw is None:
                continue
            self._dispatch(raw)

    def _dispatch(self, raw: dict[str, Any]) -> None:
        name = raw.get("channel")
        if isinstance(name, bytes):
            name = name.decode()
        if not isinstance(name, str) or not name.startswith(self._prefix):
            return
        channel = name[len(self._prefix) :]
        kind = raw.get("type")
        if kind == "subscribe":
            confirmation = self._confirmations.get(channel)
            if confirmation is not None and not confirmation.done():
                confirmation.set_result(None)
            return
        if kind != "message":
            return
        try:
            message = json.loads(raw["data"])
        except (ValueError, TypeError):
            log.warning("undecodable message on %s dropped", channel)
            return
        if not isinstance(message, dict):
            return
        for subscription in list(self._channels.get(channel, ())):
            try:
                subscription.queue.put_nowait(message)
            except asyncio.QueueFull:
                self.dropped += 1
