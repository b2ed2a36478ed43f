"""Token buckets and failure counters kept in process memory."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis


@dataclass
class TokenBucket:
    """Allows `capacity` actions at once, refilled at `capacity / per_seconds` per second."""

    capacity: float
    per_seconds: float
    tokens: float = -1.0
    updated: float = 0.0

    def take(self, now: float, cost: float = 1.0) -> float:
        """Take a token; return 0 when allowed, else the seconds to wait before retrying."""
        rate = self.capacity / self.per_seconds
        if self.tokens < 0:
            self.tokens, self.updated = self.capacity, now
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * rate)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / rate


class KeyedBuckets:
    """One token bucket per key (user, IP), forgotten when full again."""

    def __init__(self, capacity: float, per_seconds: float, max_keys: int = 100_000) -> None:
        self.capacity = capacity
        self.per_seconds = per_seconds
        self.max_keys = max_keys
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key: str, now: float) -> float:
        """Take a token for key; 0 when allowed, else seconds to wait."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now)
            bucket = self._buckets[key] = TokenBucket(self.capacity, self.per_seconds)
        return bucket.take(now)

    def _prune(self, now: float) -> None:
        rate = self.capacity / self.per_seconds
        full = [
            k for k, b in self._buckets.items() if b.tokens + (now - b.updated) * rate >= b.capacity
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()


class FailureCounter:
    """Counts failures per key inside a sliding window (login throttling)."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self._failures: dict[str, list[float]] = {}

    def blocked_for(self, key: str, now: float) -> float:
        """Seconds the key must still wait, 0 if it may try."""
        recent = [t for t in self._failures.get(key, []) if now - t < self.window]
        self._failures[key] = recent
        if len(recent) >= self.limit:
            return self.window - (now - recent[0])
        return 0.0

    def fail(self, key: str, now: float) -> None:
        """Record one failure."""
        self._failures.setdefault(key, []).append(now)

    def reset(self, key: str) -> None:
        """Forget failures after a success."""
        self._failures.pop(key, None)


# KEYS: the bucket; ARGV: capacity, per_seconds, now, cost. Returns the seconds to wait.
_TAKE = """
local capacity, per = tonumber(ARGV[1]), tonumber(ARGV[2])
local rate, now, cost = capacity / per, tonumber(ARGV[3]), tonumber(ARGV[4])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(bucket[1]) or capacity
local updated = tonumber(bucket[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - updated) * rate)
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = (cost - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(per * 1000) + 1000)
return tostring(wait)
"""


class RedisBuckets:
    """The same token buckets kept in Redis, so that every worker counts against one limit."""

    def __init__(self, redis: Redis, prefix: str, capacity: float, per_seconds: float) -> None:
        self.capacity = capacity
        self.per_seconds = per_seconds
        self._prefix = prefix
        self._take = redis.register_script(_TAKE)

    async def take(self, key: str, now: float) -> float:
        """Take a token for key; 0 when allowed, else seconds to wait."""
        wait = await self._take(
            keys=[self._prefix + key], args=[self.capacity, self.per_seconds, repr(now), 1]
        )
        return float(wait)
