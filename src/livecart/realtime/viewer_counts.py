"""Viewers of a session in other processes: none in one process, summed through Redis otherwise.

The hub counts its own sockets; a `ViewerCounts` adds what the other workers reported. With
Redis every process writes its count of each session it serves to the hash
`livecart:viewers:{session_id}` (field: the process, value: "count timestamp") once per tick,
and reads the other fields back in the same round trip. Entries older than `stale_seconds`
(a worker that died) are ignored and deleted; the key expires when no worker refreshes it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from livecart.realtime.redis_broker import command_client

log = logging.getLogger(__name__)


class ViewerCounts(Protocol):
    """Sockets watching a session in the other processes, as of the last refresh."""

    def others(self, session_id: int) -> int: ...

    def wants_refresh(self) -> bool: ...

    async def refresh(self, local: Mapping[int, int]) -> None: ...

    async def aclose(self) -> None: ...


class LocalViewerCounts:
    """One process serves every socket: there are no others."""

    def others(self, session_id: int) -> int:
        """Always none."""
        return 0

    def wants_refresh(self) -> bool:
        """Nothing to refresh."""
        return False

    async def refresh(self, local: Mapping[int, int]) -> None:
        """Nothing to share."""

    async def aclose(self) -> None:
        """Nothing to close."""


def process_name() -> str:
    """This process among the workers (unique also for two apps in one process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RedisViewerCounts:
    """Every worker's count per session in a Redis hash; totals cached once per tick."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "livecart:viewers:",
        stale_seconds: float = 10.0,
        watch_seconds: float = 60.0,
    ) -> None:
        self._url = url
        self._prefix = prefix
        self._stale = stale_seconds
        self._watch = watch_seconds
        self._client: Redis | None = None
        self.field = process_name()
        self._others: dict[int, int] = {}
        # Sessions asked about without local sockets (the session view), with when last asked.
        self._asked: dict[int, float] = {}
        self._written: set[int] = set()

    def _redis(self) -> Redis:
        if self._client is None:
            self._client = command_client(self._url)
        return self._client

    def key(self, session_id: int) -> str:
        """The hash of one session's counts."""
        return f"{self._prefix}{session_id}"

    def others(self, session_id: int) -> int:
        """Viewers in the other processes as of the last refresh."""
        if session_id not in self._others:
            self._asked[session_id] = time.monotonic()
        return self._others.get(session_id, 0)

    def wants_refresh(self) -> bool:
        """Whether a session was asked about that no refresh has read yet."""
        return any(s not in self._others for s in self._asked)

    async def refresh(self, local: Mapping[int, int]) -> None:
        """Write this process's counts and read everyone's, in one round trip."""
        # Wall time, not the app clock: liveness of workers, which a frozen test clock breaks.
        now = time.time()
        monotonic = time.monotonic()
        self._asked = {s: t for s, t in self._asked.items() if monotonic - t < self._watch}
        sessions = set(local) | set(self._asked) | self._written
        if not sessions:
            self._others = {}
            return
        ttl = max(1, int(self._stale * 3))
        ordered = sorted(sessions)
        async with self._redis().pipeline(transaction=False) as pipe:
            for session_id in ordered:
                key = self.key(session_id)
                count = local.get(session_id, 0)
                if count:
                    pipe.hset(key, self.field, f"{count} {now:.3f}")
                    pipe.expire(key, ttl)
                elif session_id in self._written:
                    pipe.hdel(key, self.field)
                pipe.hgetall(key)
            results = await pipe.execute()
        self._written = {s for s in ordered if local.get(s, 0)}
        tables = [r for r in results if isinstance(r, dict)]
        others: dict[int, int] = {}
        for session_id, table in zip(ordered, tables, strict=True):
            others[session_id] = await self._sum_others(session_id, table, now)
        self._others = others

    async def _sum_others(self, session_id: int, table: dict[bytes, bytes], now: float) -> int:
        total = 0
        stale: list[bytes] = []
        for name, value in table.items():
            if name.decode() == self.field:
                continue
            try:
                count, written = value.decode().split()
                if now - float(written) > self._stale:
                    stale.append(name)
                    continue
                total += int(count)
            except ValueError:
                stale.append(name)
        if stale:
            await self._redis().hdel(self.key(session_id), *[n.decode() for n in stale])
        return total

    async def aclose(self) -> None:
        """Take this process's counts out and close the connection."""
        if self._client is None:
            return
        with contextlib.suppress(RedisError, OSError):
            async with self._client.pipeline(transaction=False) as pipe:
                for session_id in self._written:
                    pipe.hdel(self.key(session_id), self.field)
                await pipe.execute()
        await self._client.aclose()
        self._client = None
