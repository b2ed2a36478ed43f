"""Stock stores: where a flash sale's remaining units are counted while orders burst in.

Both stores keep, per sale: the remaining units, the units each buyer holds, each buyer's
pending purchase, the idempotency keys seen, and the units taken but not yet written to the
database ("in flight", per worker). One `take` checks the key, the pending purchase, the
per-user limit and the stock and takes the units in one atomic step: a plain dict operation on
the single event loop (memory) or one Lua script (Redis, shared by every worker).

The database is the record; a store is a fast gate in front of it, rebuilt from the database
when empty (process start, Redis restarted), corrected by reconciliation, and never the last
word: the group-commit writer re-checks stock and limits in SQL.

Accounting: remaining + in flight = quantity - sold - returned (database), exactly, whenever
no batch is between its commit and its settle. Each load starts a new epoch; a batch taken in
an earlier epoch settles against the rebuilt numbers (its units are sold, the rebuild did not
know, unless its key is among the rebuilt keys), so a Redis flush mid-sale leaves the books
right whichever came first, the rebuild's reading of the database or the batch's commit.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from redis.asyncio import Redis

IN_FLIGHT_MARK = "~"  # a key or pending purchase not yet written: "~<unix time>~<key>"
WORKER_TTL_SECONDS = 15


class Outcome(StrEnum):
    ok = "ok"
    missing = "missing"  # the store does not hold this sale: load it from the database
    duplicate = "duplicate"  # this idempotency key was used: `existing` is its order or mark
    pending = "pending"  # the buyer has an unpaid purchase: `existing` is its order or mark
    limit = "limit"
    sold_out = "sold_out"


@dataclass(frozen=True)
class Take:
    outcome: Outcome
    remaining: int
    epoch: str
    existing: str = ""


@dataclass(frozen=True)
class Settled:
    """What became of one taken purchase once its batch was written (or failed)."""

    user_id: int
    key: str
    quantity: int
    order_id: int | None  # None: not written; its units go back
    existing_order_id: int | None = None  # the key already had this order (a replay)


@dataclass(frozen=True)
class Released:
    """Units of an unpaid purchase given back (expired or cancelled)."""

    user_id: int
    quantity: int
    order_id: int


@dataclass
class Snapshot:
    """A sale as the database knows it, to load a store from."""

    remaining: int
    held: dict[int, int] = field(default_factory=dict)
    pending: dict[int, int] = field(default_factory=dict)  # buyer -> unpaid order id
    keys: dict[str, int] = field(default_factory=dict)  # "<buyer>:<key>" -> order id


@dataclass(frozen=True)
class Books:
    """The store's side of reconciliation, read in one atomic step."""

    remaining: int
    in_flight: int
    generation: int  # counts settled batches
    committing: int  # batches between their database commit and their settle
    recovered: int  # units of dead workers' unfinished purchases given back just now


def in_flight_mark(now: float, key: str, quantity: int = 1) -> str:
    return f"{IN_FLIGHT_MARK}{now:.3f}{IN_FLIGHT_MARK}{quantity}{IN_FLIGHT_MARK}{key}"


def parse_mark(value: str) -> tuple[float, str] | None:
    """(time, key) of an in-flight mark, or None for an order id."""
    if not value.startswith(IN_FLIGHT_MARK):
        return None
    _, stamp, _quantity, key = value.split(IN_FLIGHT_MARK, 3)
    return float(stamp), key


def mark_quantity(value: str) -> int:
    """The units an in-flight mark holds for its buyer (0 for an order id)."""
    parts = value.split(IN_FLIGHT_MARK, 3)
    return int(parts[2]) if len(parts) == 4 and parts[2].isdigit() else 0


class StockStore(Protocol):
    async def take(
        self, sale_id: int, *, user_id: int, key: str, quantity: int, limit: int, now: float
    ) -> Take: ...

    async def begin(self, sale_id: int) -> None: ...

    async def settle(self, sale_id: int, epoch: str, settled: Sequence[Settled]) -> None: ...

    async def release(self, sale_id: int, released: Sequence[Released]) -> None: ...

    async def clear(
        self, sale_id: int, *, user_id: int, value: str, key: str | None, release_held: bool = False
    ) -> None:
        """Forget a buyer's pending purchase and key if they still hold `value`; with
        `release_held` (a purchase given up: its worker died before writing it) the buyer no
        longer holds its units either (the units themselves come back through `books`)."""
        ...

    async def load(self, sale_id: int, snapshot: Snapshot) -> bool: ...

    async def remaining(self, sale_id: int) -> int | None: ...

    async def books(self, sale_id: int) -> Books | None: ...

    async def adjust(self, sale_id: int, delta: int, *, generation: int) -> bool: ...

    async def drop(self, sale_id: int) -> None: ...

    async def heartbeat(self) -> None: ...

    async def close(self) -> None: ...


# ---------------------------------------------------------------- in process


@dataclass
class _Sale:
    remaining: int
    epoch: str
    held: dict[int, int] = field(default_factory=dict)
    pending: dict[int, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    in_flight: int = 0
    generation: int = 0
    committing: int = 0


class MemoryStockStore:
    """One process's counters; correct because every call runs on one event loop, unawaited."""

    def __init__(self) -> None:
        self._sales: dict[int, _Sale] = {}

    async def take(
        self, sale_id: int, *, user_id: int, key: str, quantity: int, limit: int, now: float
    ) -> Take:
        sale = self._sales.get(sale_id)
        if sale is None:
            return Take(Outcome.missing, 0, "")
        user_key = f"{user_id}:{key}"
        seen = sale.keys.get(user_key)
        if seen is not None:
            return Take(Outcome.duplicate, sale.remaining, sale.epoch, seen)
        pending = sale.pending.get(user_id)
        if pending is not None:
            return Take(Outcome.pending, sale.remaining, sale.epoch, pending)
        if sale.held.get(user_id, 0) + quantity > limit:
            return Take(Outcome.limit, sale.remaining, sale.epoch)
        if sale.remaining < quantity:
            return Take(Outcome.sold_out, sale.remaining, sale.epoch)
        sale.remaining -= quantity
        sale.held[user_id] = sale.held.get(user_id, 0) + quantity
        mark = in_flight_mark(now, key, quantity)
        sale.pending[user_id] = mark
        sale.keys[user_key] = mark
        sale.in_flight += quantity
        return Take(Outcome.ok, sale.remaining, sale.epoch)

    async def begin(self, sale_id: int) -> None:
        sale = self._sales.get(sale_id)
        if sale is not None:
            sale.committing += 1

    async def settle(self, sale_id: int, epoch: str, settled: Sequence[Settled]) -> None:
        sale = self._sales.get(sale_id)
        if sale is None:
            return
        sale.committing = max(0, sale.committing - 1)
        sale.generation += 1
        if sale.epoch != epoch:
            # Taken before the store was rebuilt. A written order the rebuild did not see (its
            # key is not in the rebuilt keys) holds units the rebuild counted as free.
            for s in settled:
                user_key = f"{s.user_id}:{s.key}"
                if s.order_id is None or sale.keys.get(user_key) == str(s.order_id):
                    continue
                sale.remaining -= s.quantity
                sale.held[s.user_id] = sale.held.get(s.user_id, 0) + s.quantity
                sale.keys[user_key] = str(s.order_id)
                sale.pending[s.user_id] = str(s.order_id)
            return
        for s in settled:
            user_key = f"{s.user_id}:{s.key}"
            sale.in_flight -= s.quantity
            if s.order_id is not None:
                sale.keys[user_key] = str(s.order_id)
                sale.pending[s.user_id] = str(s.order_id)
                continue
            sale.remaining += s.quantity
            sale.held[s.user_id] = max(0, sale.held.get(s.user_id, 0) - s.quantity)
            if s.existing_order_id is not None:
                sale.keys[user_key] = str(s.existing_order_id)
            else:
                sale.keys.pop(user_key, None)
            mark = sale.pending.get(s.user_id)
            if mark is not None and parse_mark(mark) is not None:
                del sale.pending[s.user_id]

    async def release(self, sale_id: int, released: Sequence[Released]) -> None:
        sale = self._sales.get(sale_id)
        if sale is None:
            return
        sale.committing = max(0, sale.committing - 1)
        sale.generation += 1
        for r in released:
            sale.remaining += r.quantity
            sale.held[r.user_id] = max(0, sale.held.get(r.user_id, 0) - r.quantity)
            if sale.pending.get(r.user_id) == str(r.order_id):
                del sale.pending[r.user_id]

    async def clear(
        self, sale_id: int, *, user_id: int, value: str, key: str | None, release_held: bool = False
    ) -> None:
        sale = self._sales.get(sale_id)
        if sale is None:
            return
        if sale.pending.get(user_id) == value:
            del sale.pending[user_id]
            if release_held:
                sale.held[user_id] = max(0, sale.held.get(user_id, 0) - mark_quantity(value))
        if key is not None and sale.keys.get(f"{user_id}:{key}") == value:
            del sale.keys[f"{user_id}:{key}"]

    async def load(self, sale_id: int, snapshot: Snapshot) -> bool:
        if sale_id in self._sales:
            return False
        self._sales[sale_id] = _Sale(
            remaining=snapshot.remaining,
            epoch=uuid.uuid4().hex,
            held=dict(snapshot.held),
            pending={u: str(o) for u, o in snapshot.pending.items()},
            keys={k: str(o) for k, o in snapshot.keys.items()},
        )
        return True

    async def remaining(self, sale_id: int) -> int | None:
        sale = self._sales.get(sale_id)
        return None if sale is None else sale.remaining

    async def books(self, sale_id: int) -> Books | None:
        sale = self._sales.get(sale_id)
        if sale is None:
            return None
        return Books(sale.remaining, sale.in_flight, sale.generation, sale.committing, 0)

    async def adjust(self, sale_id: int, delta: int, *, generation: int) -> bool:
        sale = self._sales.get(sale_id)
        if sale is None or sale.generation != generation or sale.committing:
            return False
        sale.remaining += delta
        return True

    async def drop(self, sale_id: int) -> None:
        self._sales.pop(sale_id, None)

    async def heartbeat(self) -> None:
        return None

    async def close(self) -> None:
        return None


# ---------------------------------------------------------------- Redis

# KEYS: stock held pending keys inflight epoch; ARGV: user key qty limit worker now
_TAKE = """
local stock = redis.call('GET', KEYS[1])
if not stock then return {'missing', 0, '', ''} end
stock = tonumber(stock)
local epoch = redis.call('GET', KEYS[6]) or ''
local user_key = ARGV[1] .. ':' .. ARGV[2]
local seen = redis.call('HGET', KEYS[4], user_key)
if seen then return {'duplicate', stock, epoch, seen} end
local pending = redis.call('HGET', KEYS[3], ARGV[1])
if pending then return {'pending', stock, epoch, pending} end
local qty = tonumber(ARGV[3])
local held = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if held + qty > tonumber(ARGV[4]) then return {'limit', stock, epoch, ''} end
if stock < qty then return {'sold_out', stock, epoch, ''} end
redis.call('DECRBY', KEYS[1], qty)
redis.call('HINCRBY', KEYS[2], ARGV[1], qty)
local mark = '~' .. ARGV[6] .. '~' .. ARGV[3] .. '~' .. ARGV[2]
redis.call('HSET', KEYS[3], ARGV[1], mark)
redis.call('HSET', KEYS[4], user_key, mark)
redis.call('HINCRBY', KEYS[5], ARGV[5], qty)
return {'ok', stock - qty, epoch, ''}
"""

# KEYS: stock held pending keys inflight epoch gen committing late; ARGV: worker epoch n,
# then n times: user key qty order existing ('' for none)
# While the sale is missing (Redis emptied, not rebuilt yet), written orders are noted in
# `late`, and the rebuild counts those its reading of the database did not see.
_SETTLE = """
if tonumber(redis.call('HGET', KEYS[8], ARGV[1]) or '0') > 0 then
  redis.call('HINCRBY', KEYS[8], ARGV[1], -1)
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  for i = 0, tonumber(ARGV[3]) - 1 do
    local base = 4 + i * 5
    if ARGV[base + 3] ~= '' then
      redis.call('HSET', KEYS[9], ARGV[base] .. ':' .. ARGV[base + 1],
        ARGV[base + 3] .. ':' .. ARGV[base + 2] .. ':' .. ARGV[base])
    end
  end
  return 0
end
redis.call('INCR', KEYS[7])
local current = redis.call('GET', KEYS[6]) or ''
local stale = current ~= ARGV[2]
local n = tonumber(ARGV[3])
for i = 0, n - 1 do
  local base = 4 + i * 5
  local user, key, qty = ARGV[base], ARGV[base + 1], tonumber(ARGV[base + 2])
  local order, existing = ARGV[base + 3], ARGV[base + 4]
  local user_key = user .. ':' .. key
  if stale then
    -- Taken before the rebuild: an order it did not see holds units it counted as free.
    if order ~= '' and redis.call('HGET', KEYS[4], user_key) ~= order then
      redis.call('DECRBY', KEYS[1], qty)
      redis.call('HINCRBY', KEYS[2], user, qty)
      redis.call('HSET', KEYS[4], user_key, order)
      redis.call('HSET', KEYS[3], user, order)
    end
  else
    redis.call('HINCRBY', KEYS[5], ARGV[1], -qty)
    if order ~= '' then
      redis.call('HSET', KEYS[4], user_key, order)
      redis.call('HSET', KEYS[3], user, order)
    else
      redis.call('INCRBY', KEYS[1], qty)
      local held = redis.call('HINCRBY', KEYS[2], user, -qty)
      if held < 0 then redis.call('HSET', KEYS[2], user, 0) end
      if existing ~= '' then
        redis.call('HSET', KEYS[4], user_key, existing)
      else
        redis.call('HDEL', KEYS[4], user_key)
      end
      local mark = redis.call('HGET', KEYS[3], user)
      if mark and string.sub(mark, 1, 1) == '~' then redis.call('HDEL', KEYS[3], user) end
    end
  end
end
return 1
"""

# KEYS: stock held pending gen committing; ARGV: worker n, then n times: user qty order
_RELEASE = """
if tonumber(redis.call('HGET', KEYS[5], ARGV[1]) or '0') > 0 then
  redis.call('HINCRBY', KEYS[5], ARGV[1], -1)
end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('INCR', KEYS[4])
for i = 0, tonumber(ARGV[2]) - 1 do
  local user, qty, order = ARGV[3 + i * 3], tonumber(ARGV[4 + i * 3]), ARGV[5 + i * 3]
  redis.call('INCRBY', KEYS[1], qty)
  local held = redis.call('HINCRBY', KEYS[2], user, -qty)
  if held < 0 then redis.call('HSET', KEYS[2], user, 0) end
  if redis.call('HGET', KEYS[3], user) == order then redis.call('HDEL', KEYS[3], user) end
end
return 1
"""

# KEYS: pending keys held; ARGV: user value user_key ('' for none) units of the mark
_CLEAR = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  if tonumber(ARGV[4]) > 0 then
    local held = redis.call('HINCRBY', KEYS[3], ARGV[1], -tonumber(ARGV[4]))
    if held < 0 then redis.call('HSET', KEYS[3], ARGV[1], 0) end
  end
end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[2], ARGV[3]) == ARGV[2] then
  redis.call('HDEL', KEYS[2], ARGV[3])
end
return 1
"""

# KEYS: stock inflight gen committing; ARGV: worker key prefix
# Gives back the in-flight units of workers whose heartbeat has expired, then reads the books.
_BOOKS = """
local stock = redis.call('GET', KEYS[1])
if not stock then return false end
local recovered = 0
local flights = redis.call('HGETALL', KEYS[2])
for i = 1, #flights, 2 do
  if redis.call('EXISTS', ARGV[1] .. flights[i]) == 0 then
    recovered = recovered + tonumber(flights[i + 1])
    redis.call('HDEL', KEYS[2], flights[i])
    redis.call('HDEL', KEYS[4], flights[i])
  end
end
if recovered ~= 0 then redis.call('INCRBY', KEYS[1], recovered) end
local in_flight = 0
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do in_flight = in_flight + tonumber(v) end
local committing = 0
for _, v in ipairs(redis.call('HVALS', KEYS[4])) do
  if tonumber(v) > 0 then committing = committing + tonumber(v) end
end
local gen = tonumber(redis.call('GET', KEYS[3]) or '0')
return {tonumber(redis.call('GET', KEYS[1])), in_flight, gen, committing, recovered}
"""

# KEYS: stock gen committing; ARGV: delta generation
_ADJUST = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') ~= tonumber(ARGV[2]) then return 0 end
for _, v in ipairs(redis.call('HVALS', KEYS[3])) do
  if tonumber(v) > 0 then return 0 end
end
redis.call('INCRBY', KEYS[1], tonumber(ARGV[1]))
return 1
"""

# KEYS: stock held pending keys inflight epoch gen committing late, then the staged held,
# pending and keys; ARGV: remaining, epoch, and 1/0 for each staged hash that exists.
# Loads a sale only if it is missing, in one step, counting the orders noted in `late`.
_LOAD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[8])
for i = 0, 2 do
  if ARGV[3 + i] == '1' then redis.call('RENAME', KEYS[10 + i], KEYS[2 + i]) end
end
local remaining = tonumber(ARGV[1])
local late = redis.call('HGETALL', KEYS[9])
for i = 1, #late, 2 do
  local order, qty, user = string.match(late[i + 1], '^(%d+):(%d+):(%d+)$')
  if order and redis.call('HGET', KEYS[4], late[i]) ~= order then
    remaining = remaining - tonumber(qty)
    redis.call('HINCRBY', KEYS[2], user, tonumber(qty))
    redis.call('HSET', KEYS[4], late[i], order)
    redis.call('HSET', KEYS[3], user, order)
  end
end
redis.call('DEL', KEYS[9])
redis.call('SET', KEYS[6], ARGV[2])
redis.call('SET', KEYS[7], 0)
redis.call('SET', KEYS[1], remaining)
return 1
"""

_PARTS = ("stock", "held", "pending", "keys", "inflight", "epoch", "gen", "committing", "late")
_LOAD_CHUNK = 5000


class RedisStockStore:
    """Counters in Redis shared by every worker; each step is one Lua script."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis: Redis = Redis.from_url(url, decode_responses=True)
        self._prefix = f"{prefix}flash:"
        self.worker = uuid.uuid4().hex[:12]
        self._take = self._redis.register_script(_TAKE)
        self._settle = self._redis.register_script(_SETTLE)
        self._release = self._redis.register_script(_RELEASE)
        self._clear = self._redis.register_script(_CLEAR)
        self._books = self._redis.register_script(_BOOKS)
        self._adjust = self._redis.register_script(_ADJUST)
        self._load = self._redis.register_script(_LOAD)

    @property
    def client(self) -> Redis:
        """The Redis connection (shared with the buying rate limits)."""
        return self._redis

    def _keys(self, sale_id: int, *parts: str) -> list[str]:
        return [f"{self._prefix}{sale_id}:{part}" for part in parts]

    @property
    def _worker_prefix(self) -> str:
        return f"{self._prefix}worker:"

    async def take(
        self, sale_id: int, *, user_id: int, key: str, quantity: int, limit: int, now: float
    ) -> Take:
        outcome, remaining, epoch, existing = await self._take(
            keys=self._keys(sale_id, *_PARTS[:6]),
            args=[user_id, key, quantity, limit, self.worker, f"{now:.3f}"],
        )
        return Take(Outcome(outcome), int(remaining), epoch, existing)

    async def begin(self, sale_id: int) -> None:
        await self._redis.hincrby(self._keys(sale_id, "committing")[0], self.worker, 1)

    async def settle(self, sale_id: int, epoch: str, settled: Sequence[Settled]) -> None:
        args: list[str | int] = [self.worker, epoch, len(settled)]
        for s in settled:
            args += [
                s.user_id,
                s.key,
                s.quantity,
                "" if s.order_id is None else s.order_id,
                "" if s.existing_order_id is None else s.existing_order_id,
            ]
        await self._settle(keys=self._keys(sale_id, *_PARTS), args=args)

    async def release(self, sale_id: int, released: Sequence[Released]) -> None:
        args: list[str | int] = [self.worker, len(released)]
        for r in released:
            args += [r.user_id, r.quantity, r.order_id]
        await self._release(
            keys=self._keys(sale_id, "stock", "held", "pending", "gen", "committing"), args=args
        )

    async def clear(
        self, sale_id: int, *, user_id: int, value: str, key: str | None, release_held: bool = False
    ) -> None:
        await self._clear(
            keys=self._keys(sale_id, "pending", "keys", "held"),
            args=[
                user_id,
                value,
                "" if key is None else f"{user_id}:{key}",
                mark_quantity(value) if release_held else 0,
            ],
        )

    async def load(self, sale_id: int, snapshot: Snapshot) -> bool:
        keys = self._keys(sale_id, *_PARTS)
        if await self._redis.exists(keys[0]):
            return False
        # Stage the hashes (they can be large), then swap them in with one script.
        staging = f"{self._prefix}{sale_id}:loading:{self.worker}:"
        staged = [staging + name for name in ("held", "pending", "keys")]
        parts: list[dict[str, str | int]] = [
            {str(u): q for u, q in snapshot.held.items()},
            {str(u): str(o) for u, o in snapshot.pending.items()},
            {k: str(o) for k, o in snapshot.keys.items()},
        ]
        async with self._redis.pipeline(transaction=False) as pipe:
            for name, values in zip(staged, parts, strict=True):
                pipe.delete(name)
                items = list(values.items())
                for at in range(0, len(items), _LOAD_CHUNK):
                    pipe.hset(name, mapping=dict(items[at : at + _LOAD_CHUNK]))
            await pipe.execute()
        try:
            loaded = await self._load(
                keys=[*keys, *staged],
                args=[snapshot.remaining, uuid.uuid4().hex, *(int(bool(v)) for v in parts)],
            )
        finally:
            await self._redis.delete(*staged)
        return bool(loaded)

    async def remaining(self, sale_id: int) -> int | None:
        value = await self._redis.get(self._keys(sale_id, "stock")[0])
        return None if value is None else int(value)

    async def books(self, sale_id: int) -> Books | None:
        result = await self._books(
            keys=self._keys(sale_id, "stock", "inflight", "gen", "committing"),
            args=[self._worker_prefix],
        )
        if not result:
            return None
        return Books(*(int(v) for v in result))

    async def adjust(self, sale_id: int, delta: int, *, generation: int) -> bool:
        done = await self._adjust(
            keys=self._keys(sale_id, "stock", "gen", "committing"), args=[delta, generation]
        )
        return bool(done)

    async def drop(self, sale_id: int) -> None:
        await self._redis.delete(*self._keys(sale_id, *_PARTS))

    async def heartbeat(self) -> None:
        await self._redis.set(
            self._worker_prefix + self.worker, int(time.time()), ex=WORKER_TTL_SECONDS
        )

    async def close(self) -> None:
        await self._redis.delete(self._worker_prefix + self.worker)
        await self._redis.aclose()
