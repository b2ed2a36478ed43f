"""The broker fans room events out to every socket: in process here, Redis in redis_broker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

log = logging.getLogger(__name__)

Message = dict[str, Any]


class Subscription(Protocol):
    """Messages published on one channel, in order, until closed."""

    def __aiter__(self) -> AsyncIterator[Message]: ...

    async def close(self) -> None: ...


class Broker(Protocol):
    """Publish/subscribe by channel name (one channel per live session)."""

    async def start(self) -> None: ...

    async def publish(self, channel: str, message: Message) -> None: ...

    async def subscribe(self, channel: str) -> Subscription: ...

    async def aclose(self) -> None: ...


class _MemorySubscription:
    def __init__(self, broker: InMemoryBroker, channel: str, maxsize: int) -> None:
        self._broker = broker
        self._channel = channel
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=maxsize)

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while True:
            message = await self.queue.get()
            if message is None:
                return
            yield message

    async def close(self) -> None:
        self._broker._remove(self._channel, self)
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            pass


class InMemoryBroker:
    """Fan-out inside one process; a subscriber that falls behind loses messages, not the room."""

    def __init__(self, subscriber_queue: int = 1024) -> None:
        self._subscriber_queue = subscriber_queue
        self._channels: dict[str, set[_MemorySubscription]] = {}
        self.dropped = 0

    async def start(self) -> None:
        """Nothing to connect to."""

    async def publish(self, channel: str, message: Message) -> None:
        """Deliver to every current subscriber of the channel without waiting on any."""
        for subscription in list(self._channels.get(channel, ())):
            try:
                subscription.queue.put_nowait(message)
            except asyncio.QueueFull:
                self.dropped += 1

    async def subscribe(self, channel: str) -> Subscription:
        """Start receiving the channel's messages."""
        subscription = _MemorySubscription(self, channel, self._subscriber_queue)
        self._channels.setdefault(channel, set()).add(subscription)
        return subscription

    def subscribers(self, channel: str) -> int:
        """How many subscriptions the channel has (the hub keeps one per session)."""
        return len(self._channels.get(channel, ()))

    def _remove(self, channel: str, subscription: _MemorySubscription) -> None:
        subscribers = self._channels.get(channel)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._channels[channel]

    async def aclose(self) -> None:
        """Close every subscription."""
        for subscribers in list(self._channels.values()):
            for subscription in list(subscribers):
                await subscription.close()


def session_channel(session_id: int) -> str:
    """The broker channel of one live session."""
    return f"session:{session_id}"
