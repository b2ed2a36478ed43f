"""The stock stores themselves: MemoryStockStore and RedisStockStore behave the same.

Each test runs against both (Redis with a key prefix of its own, deleted afterwards): what a
take decides (ok, duplicate key, pending purchase, per-user limit, sold out, missing sale),
what settle and release give back, loading only once, the books after a purchase taken before a
rebuild settles after it, and (Redis) a dead worker's in-flight units given back by `books()`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import pytest

from livecart.flashsale.stock import (
    MemoryStockStore,
    Outcome,
    RedisStockStore,
    Released,
    Settled,
    Snapshot,
    StockStore,
    in_flight_mark,
    parse_mark,
)
from tests.conftest import REDIS_URL, need
from tests.flash_servers import delete_prefix

SALE = 7


@pytest.fixture
def prefix() -> str:
    return f"tstore{uuid.uuid4().hex[:8]}:"


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[StockStore]:
    if request.param == "memory":
        yield MemoryStockStore()
        return
    need(REDIS_URL, "LIVECART_TEST_REDIS_URL is not set")
    redis_store = RedisStockStore(str(REDIS_URL), prefix)
    await redis_store.heartbeat()
    try:
        yield redis_store
    finally:
        await redis_store.close()
        await delete_prefix(str(REDIS_URL), prefix)


async def take(
    store: StockStore, user: int, key: str, *, quantity: int = 1, limit: int = 1
) -> tuple[Outcome, int, str]:
    t = await store.take(
        SALE, user_id=user, key=key, quantity=quantity, limit=limit, now=time.time()
    )
    return t.outcome, t.remaining, t.existing


async def in_line(store: StockStore) -> tuple[int, int]:
    """(remaining, in flight) with nothing committing."""
    books = await store.books(SALE)
    assert books is not None
    assert books.committing == 0
    return books.remaining, books.in_flight


async def test_takes_decide_key_pending_limit_and_sold_out(store: StockStore) -> None:
    assert (await take(store, 1, "a"))[0] == Outcome.missing
    assert await store.remaining(SALE) is None and await store.books(SALE) is None

    assert await store.load(SALE, Snapshot(remaining=3, held={9: 1}))
    # Loaded only once: a second load (another worker, a late rebuild) changes nothing.
    assert not await store.load(SALE, Snapshot(remaining=100))
    assert await store.remaining(SALE) == 3

    outcome, remaining, _ = await take(store, 1, "a")
    assert (outcome, remaining) == (Outcome.ok, 2)
    # The same key again: a duplicate, pointing at the purchase being written.
    outcome, remaining, existing = await take(store, 1, "a")
    assert (outcome, remaining) == (Outcome.duplicate, 2)
    mark = parse_mark(existing)
    assert mark is not None and mark[1] == "a"
    # Another key of the same buyer: one unpaid purchase at a time.
    outcome, _, pending = await take(store, 1, "b", limit=5)
    assert (outcome, pending) == (Outcome.pending, existing)
    # The per-user limit counts what the buyer already holds (9 holds 1 from the database).
    assert (await take(store, 9, "c"))[0] == Outcome.limit
    assert (await take(store, 2, "d", quantity=3, limit=3))[0] == Outcome.sold_out
    assert (await take(store, 2, "d", quantity=2, limit=2))[:2] == (Outcome.ok, 0)
    assert (await take(store, 3, "e"))[0] == Outcome.sold_out
    assert await in_line(store) == (0, 3)


async def test_settle_keeps_written_orders_and_gives_back_the_rest(store: StockStore) -> None:
    assert await store.load(SALE, Snapshot(remaining=3))
    _, _, _ = await take(store, 1, "a")
    _, _, _ = await take(store, 2, "b")
    _, _, _ = await take(store, 3, "c")
    epoch = (await store.take(SALE, user_id=4, key="x", quantity=1, limit=1, now=0)).epoch
    assert epoch  # sold out, but the answer still names the epoch

    await store.begin(SALE)
    books = await store.books(SALE)
    assert books is not None and books.committing == 1
    await store.settle(
        SALE,
        epoch,
        [
            Settled(1, "a", 1, order_id=101),  # written
            Settled(2, "b", 1, order_id=None),  # refused by the database: the unit goes back
            Settled(3, "c", 1, order_id=None, existing_order_id=55),  # the key had an order
        ],
    )
    books = await store.books(SALE)
    assert books is not None
    assert (books.remaining, books.in_flight, books.committing, books.generation) == (2, 0, 0, 1)
    assert await take(store, 1, "a") == (Outcome.duplicate, 2, "101")
    assert await take(store, 1, "z", limit=2) == (Outcome.pending, 2, "101")
    assert await take(store, 3, "c") == (Outcome.duplicate, 2, "55")
    # Buyer 2 holds nothing now and may buy again, even with the same key.
    assert (await take(store, 2, "b"))[:2] == (Outcome.ok, 1)


async def test_release_gives_units_and_the_buyers_limit_back(store: StockStore) -> None:
    assert await store.load(SALE, Snapshot(remaining=1))
    outcome, _, _ = await take(store, 1, "a")
    epoch = (await store.take(SALE, user_id=2, key="b", quantity=1, limit=1, now=0)).epoch
    assert outcome == Outcome.ok
    await store.begin(SALE)
    await store.settle(SALE, epoch, [Settled(1, "a", 1, order_id=101)])
    assert (await take(store, 2, "b"))[0] == Outcome.sold_out

    # The unpaid order expired: its unit is sold again, the buyer may buy again.
    await store.begin(SALE)
    await store.release(SALE, [Released(1, 1, 101)])
    assert await in_line(store) == (1, 0)
    assert (await take(store, 2, "b"))[:2] == (Outcome.ok, 0)
    await store.begin(SALE)
    await store.release(SALE, [Released(2, 1, 999)])  # not buyer 2's pending order: kept
    assert (await take(store, 2, "c", limit=3))[0] == Outcome.pending


async def test_clear_only_removes_the_value_it_was_given(store: StockStore) -> None:
    assert await store.load(SALE, Snapshot(remaining=5))
    _, _, _ = await take(store, 1, "a")
    _, _, mark = await take(store, 1, "a")
    await store.clear(SALE, user_id=1, value=in_flight_mark(0.0, "other"), key="a")
    assert (await take(store, 1, "a"))[0] == Outcome.duplicate
    await store.clear(SALE, user_id=1, value=mark, key="a")
    assert (await take(store, 1, "a", limit=2))[:2] == (Outcome.ok, 3)


async def _settled_across_a_rebuild(store: StockStore, rebuilt: str, quantity: int) -> None:
    """Buyer 1 takes a unit (key "a"); the store is emptied and rebuilt from the database,
    before or after the purchase's order (5) was committed; then the purchase settles."""
    assert await store.load(SALE, Snapshot(remaining=quantity))
    taken = await store.take(SALE, user_id=1, key="a", quantity=1, limit=1, now=time.time())
    assert taken.outcome == Outcome.ok
    await store.begin(SALE)
    await store.drop(SALE)  # Redis restarted empty (or the process lost its store)
    if rebuilt == "before the commit":
        snapshot = Snapshot(remaining=quantity)
    else:  # the order was already in the database when the rebuild read it
        snapshot = Snapshot(remaining=quantity - 1, held={1: 1}, pending={1: 5}, keys={"1:a": 5})
    assert await store.load(SALE, snapshot)
    probe = await store.take(SALE, user_id=99, key="p", quantity=99, limit=99, now=time.time())
    assert probe.outcome == Outcome.sold_out and probe.epoch != taken.epoch  # a new epoch
    await store.settle(SALE, taken.epoch, [Settled(1, "a", 1, order_id=5)])


REBUILT = ["before the commit", "after the commit"]


@pytest.mark.parametrize("rebuilt", REBUILT)
async def test_a_purchase_taken_before_a_rebuild_keeps_the_books_right(
    store: StockStore, rebuilt: str
) -> None:
    """remaining + in flight == quantity - sold, whichever came first: the rebuild's reading of
    the database or the commit of a purchase taken before the store was emptied."""
    quantity, sold = 10, 1
    await _settled_across_a_rebuild(store, rebuilt, quantity)
    remaining, in_flight = await in_line(store)
    assert remaining + in_flight == quantity - sold, (remaining, in_flight)
    assert await take(store, 1, "a") == (Outcome.duplicate, quantity - sold, "5")


@pytest.mark.parametrize("rebuilt", REBUILT)
async def test_a_purchase_taken_before_a_rebuild_still_counts_for_its_buyer(
    store: StockStore, rebuilt: str
) -> None:
    """After the settle the store knows buyer 1 holds a unit in an unpaid order: another key
    is refused (one unpaid order per buyer, and the limit of 1), as it would be without the
    rebuild."""
    await _settled_across_a_rebuild(store, rebuilt, 10)
    outcome, _, existing = await take(store, 1, "b")
    assert (outcome, existing) == (Outcome.pending, "5")


async def test_adjust_only_when_the_books_are_still(store: StockStore) -> None:
    assert await store.load(SALE, Snapshot(remaining=5))
    books = await store.books(SALE)
    assert books is not None
    assert not await store.adjust(SALE, -1, generation=books.generation + 1)
    await store.begin(SALE)  # a batch between its commit and its settle
    assert not await store.adjust(SALE, -1, generation=books.generation)
    await store.settle(SALE, "", [])
    books = await store.books(SALE)
    assert books is not None
    assert await store.adjust(SALE, -2, generation=books.generation)
    assert await store.remaining(SALE) == 3


async def test_redis_gives_back_the_units_in_flight_of_a_dead_worker(prefix: str) -> None:
    need(REDIS_URL, "LIVECART_TEST_REDIS_URL is not set")
    alive = RedisStockStore(str(REDIS_URL), prefix)
    dead = RedisStockStore(str(REDIS_URL), prefix)  # never sends a heartbeat: it was killed
    try:
        await alive.heartbeat()
        assert await alive.load(SALE, Snapshot(remaining=10))
        assert not await dead.load(SALE, Snapshot(remaining=10))
        for user in (1, 2, 3):
            t = await dead.take(SALE, user_id=user, key="k", quantity=1, limit=1, now=time.time())
            assert t.outcome == Outcome.ok
        await dead.begin(SALE)  # killed between its batch's commit and its settle
        t = await alive.take(SALE, user_id=4, key="k", quantity=2, limit=2, now=time.time())
        assert (t.outcome, t.remaining) == (Outcome.ok, 5)

        books = await alive.books(SALE)
        assert books is not None
        # The dead worker's 3 units are back; the live worker's 2 stay in flight.
        assert (books.recovered, books.remaining, books.in_flight, books.committing) == (
            3,
            8,
            2,
            0,
        )
        again = await alive.books(SALE)
        assert again is not None and (again.recovered, again.remaining) == (0, 8)
    finally:
        await dead.close()
        await alive.close()
        await delete_prefix(str(REDIS_URL), prefix)


async def test_steps_on_a_sale_the_store_lost_do_not_bring_it_back(store: StockStore) -> None:
    """After the store lost a sale (Redis emptied), a late settle, release or adjustment must
    leave it missing, so the next purchase rebuilds it from the database."""
    assert await store.load(SALE, Snapshot(remaining=5))
    taken = await store.take(SALE, user_id=1, key="k", quantity=1, limit=1, now=time.time())
    assert taken.outcome == Outcome.ok
    await store.begin(SALE)
    await store.drop(SALE)
    await store.settle(SALE, taken.epoch, [Settled(1, "k", 1, order_id=11)])
    await store.release(SALE, [Released(user_id=2, quantity=1, order_id=12)])
    assert not await store.adjust(SALE, 3, generation=0)
    assert await store.remaining(SALE) is None
    assert (await take(store, user=3, key="k"))[0] == Outcome.missing


@pytest.mark.parametrize("seen", [False, True], ids=["rebuild before the commit", "after"])
async def test_redis_counts_orders_written_while_the_sale_was_missing(
    prefix: str, seen: bool
) -> None:
    """Redis emptied; a batch commits and settles before the rebuild: its orders are noted,
    and the rebuild counts them unless its reading of the database already had them."""
    need(REDIS_URL, "LIVECART_TEST_REDIS_URL is not set")
    store = RedisStockStore(str(REDIS_URL), prefix)
    try:
        await store.heartbeat()
        assert await store.load(SALE, Snapshot(remaining=10))
        taken = await store.take(SALE, user_id=1, key="k", quantity=1, limit=1, now=time.time())
        await delete_prefix(str(REDIS_URL), prefix)  # Redis restarted empty
        await store.begin(SALE)
        await store.settle(SALE, taken.epoch, [Settled(1, "k", 1, order_id=11)])
        assert await store.remaining(SALE) is None
        snapshot = (
            Snapshot(remaining=9, held={1: 1}, pending={1: 11}, keys={"1:k": 11})
            if seen
            else Snapshot(remaining=10)
        )
        assert await store.load(SALE, snapshot)
        assert await store.remaining(SALE) == 9
        again = await store.take(SALE, user_id=1, key="k2", quantity=1, limit=1, now=time.time())
        assert (again.outcome, again.existing) == (Outcome.pending, "11")
        replay = await store.take(SALE, user_id=1, key="k", quantity=1, limit=1, now=time.time())
        assert (replay.outcome, replay.existing) == (Outcome.duplicate, "11")
    finally:
        await store.close()
