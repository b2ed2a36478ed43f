"""Real-time over a real Redis: the broker, two servers sharing rooms, reconnecting."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from redis.asyncio import Redis
from typer.testing import CliRunner

from livecart.cli import app as cli_app
from livecart.realtime.broker import Message, Subscription
from livecart.realtime.redis_broker import RedisBroker
from livecart.realtime.viewer_counts import RedisViewerCounts
from livecart.settings import Settings
from tests.conftest import LiveServer
from tests.integration.test_realtime_gateway import World, build_world, next_frame

pytestmark = pytest.mark.redis

WAIT = 10.0


@pytest.fixture
def prefix() -> str:
    """Keys and channels of this test only, so parallel runs on one Redis never meet."""
    return f"test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def broker(redis_url: str, prefix: str) -> AsyncIterator[RedisBroker]:
    started = RedisBroker(redis_url, prefix=prefix, subscriber_queue=8)
    await started.start()
    async with asyncio.timeout(WAIT):
        await started.connected.wait()
    try:
        yield started
    finally:
        await started.aclose()


async def receive(subscription: Subscription, timeout: float = WAIT) -> Message:
    async with asyncio.timeout(timeout):
        async for message in subscription:
            return message
    raise AssertionError("the subscription ended")


async def test_publish_reaches_every_subscriber_until_it_unsubscribes(
    broker: RedisBroker, redis_url: str, prefix: str
) -> None:
    first = await broker.subscribe("session:1")
    second = await broker.subscribe("session:1")
    other = await broker.subscribe("session:2")
    # A publisher in another process: a second broker on the same Redis.
    publisher = RedisBroker(redis_url, prefix=prefix)
    try:
        await publisher.publish("session:1", {"type": "chat", "text": "héllo", "n": 1})
        assert await receive(first) == {"type": "chat", "text": "héllo", "n": 1}
        assert await receive(second) == {"type": "chat", "text": "héllo", "n": 1}

        await second.close()
        assert broker.subscribers("session:1") == 1
        await publisher.publish("session:1", {"type": "chat", "n": 2})
        await publisher.publish("session:2", {"type": "pin", "n": 3})
        assert await receive(first) == {"type": "chat", "n": 2}
        assert await receive(other) == {"type": "pin", "n": 3}
        # The closed subscription ends instead of getting more messages.
        assert [m async for m in second] == []

        await first.close()
        assert broker.subscribers("session:1") == 0
        redis = Redis.from_url(redis_url)
        try:
            async with asyncio.timeout(WAIT):
                while True:
                    counts = dict(await redis.pubsub_numsub(f"{prefix}session:1"))
                    if counts[f"{prefix}session:1".encode()] == 0:
                        break
                    await asyncio.sleep(0.05)
        finally:
            await redis.aclose()
    finally:
        await publisher.aclose()
        await other.close()


async def test_a_subscriber_that_falls_behind_loses_messages_not_the_others(
    broker: RedisBroker,
) -> None:
    slow = await broker.subscribe("session:7")
    fast = await broker.subscribe("session:7")
    for n in range(20):  # the queues hold 8
        await broker.publish("session:7", {"n": n})
        assert await receive(fast) == {"n": n}
    assert broker.dropped >= 12
    assert (await receive(slow))["n"] == 0
    await slow.close()
    await fast.close()


async def test_the_broker_reconnects_and_resubscribes_when_redis_drops_it(
    broker: RedisBroker, redis_url: str
) -> None:
    subscription = await broker.subscribe("session:3")
    await broker.publish("session:3", {"n": 1})
    assert await receive(subscription) == {"n": 1}

    admin = Redis.from_url(redis_url, decode_responses=True)
    try:
        clients = await admin.client_list()
        ours = [c["id"] for c in clients if c.get("name") == broker.listener_name]
        assert len(ours) == 1
        assert await admin.client_kill_filter(_id=ours[0]) == 1
    finally:
        await admin.aclose()

    async with asyncio.timeout(WAIT):
        while broker.reconnects < 1 or not broker.connected.is_set():
            await asyncio.sleep(0.05)
    # Resubscribed: later messages arrive on the same subscription.
    async with asyncio.timeout(WAIT):
        while True:
            await broker.publish("session:3", {"n": 2})
            with contextlib.suppress(TimeoutError):
                assert await receive(subscription, timeout=0.5) == {"n": 2}
                break
    await subscription.close()


# ---------------------------------------------------------------- two servers, one Redis


@contextlib.contextmanager
def two_servers(settings: Settings) -> Iterator[tuple[LiveServer, LiveServer]]:
    a = LiveServer(settings)
    b = LiveServer(settings)
    a.start()
    try:
        b.start()
        try:
            yield a, b
        finally:
            b.stop()
    finally:
        a.stop()


async def frame_where(ws: Any, kind: str, **expected: Any) -> dict[str, Any]:
    """The first frame of the kind whose fields match, skipping the others."""
    async with asyncio.timeout(WAIT):
        while True:
            frame = await next_frame(ws, kind)
            if all(frame.get(k) == v for k, v in expected.items()):
                return frame


async def views_say(world: World, viewers: int) -> None:
    """Wait until the session view of the world's server counts `viewers`."""
    async with asyncio.timeout(WAIT):
        while True:
            r = await world.http.get(f"/api/v1/sessions/{world.session_id}")
            assert r.status_code == 200, r.text
            if r.json()["statistics"]["viewers"] == viewers:
                return
            await asyncio.sleep(0.1)


async def test_chat_pins_and_viewers_cross_between_two_servers(
    postgres_backend: str, settings: Settings, redis_url: str, prefix: str
) -> None:
    shared = settings.model_copy(
        update={"redis_url": redis_url, "redis_prefix": prefix, "realtime_tick_seconds": 0.2}
    )
    with two_servers(shared) as (a, b):
        world: World = await build_world(a)
        try:
            on_b = World(**{**world.__dict__, "server": b})
            alice = await world.socket(world.alice_id)  # on server A
            bob = await on_b.socket(world.bob_id)  # on server B
            # B counts A's socket too (once per tick), and so does A.
            await frame_where(bob, "viewers", count=2)
            await frame_where(alice, "viewers", count=2)

            await alice.send('{"type": "chat", "text": "from A"}')
            got = await frame_where(bob, "chat", text="from A")
            assert got["user"]["id"] == world.alice_id
            await bob.send('{"type": "chat", "text": "from B"}')
            await frame_where(alice, "chat", text="from B")

            anchor = await world.headers(world.anchor_id)
            r = await world.http.post(
                f"/api/v1/sessions/{world.session_id}/pin",
                json={"product_id": world.product_id},
                headers=anchor,
            )
            assert r.status_code == 200, r.text
            pin = await next_frame(bob, "pin")
            assert pin["product"]["id"] == world.product_id

            # The session view on B counts every worker's sockets...
            await views_say(on_b, 2)
            await bob.close()
            await frame_where(alice, "viewers", count=1)
            # ...also once B has none of its own.
            await views_say(on_b, 1)
            await alice.close()
        finally:
            await world.http.aclose()
            await world.container.broker.aclose()
            await world.container.engine.dispose()


def test_serve_refuses_several_workers_without_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIVECART_REDIS_URL", raising=False)
    result = CliRunner().invoke(cli_app, ["serve", "--workers", "2"])
    assert result.exit_code == 2
    assert "LIVECART_REDIS_URL" in result.output


async def test_viewer_counts_sum_live_workers_and_forget_dead_ones(
    redis_url: str, prefix: str
) -> None:
    one = RedisViewerCounts(redis_url, prefix=f"{prefix}viewers:", stale_seconds=5)
    two = RedisViewerCounts(redis_url, prefix=f"{prefix}viewers:", stale_seconds=5)
    admin = Redis.from_url(redis_url, decode_responses=True)
    key = one.key(9)
    try:
        # A worker that died a minute ago left its count behind.
        await admin.hset(key, "dead-worker", f"40 {time.time() - 60:.3f}")
        await one.refresh({9: 3})
        await two.refresh({9: 2})
        await one.refresh({9: 3})
        assert one.others(9) == 2 and two.others(9) == 3
        assert "dead-worker" not in await admin.hgetall(key)
        assert 0 < await admin.ttl(key) <= 15

        # A session only asked about is read on the next refresh; gone workers drop out.
        assert two.others(10) == 0 and two.wants_refresh()
        await one.refresh({9: 3, 10: 4})
        await two.refresh({9: 2})
        assert two.others(10) == 4 and not two.wants_refresh()
        await one.aclose()
        await two.refresh({9: 2})
        assert two.others(9) == 0 and two.others(10) == 0
    finally:
        await one.aclose()
        await two.aclose()
        await admin.delete(key, two.key(10))
        await admin.aclose()
