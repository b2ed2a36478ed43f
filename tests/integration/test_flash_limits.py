"""Buying rate limits shared by workers: token buckets in Redis."""

from __future__ import annotations

import uuid

import httpx
import pytest
from redis.asyncio import Redis

from livecart.bootstrap import Container
from livecart.core.ratelimit import RedisBuckets
from livecart.settings import Settings
from tests.integration.test_flash_sales import buy, flash_world
from tests.integration.test_orders_flow import consumers


async def test_two_workers_count_against_one_bucket(redis_url: str) -> None:
    prefix = f"test-limits-{uuid.uuid4().hex[:8]}:"
    one, two = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        a = RedisBuckets(one, prefix, capacity=3, per_seconds=9)
        b = RedisBuckets(two, prefix, capacity=3, per_seconds=9)
        assert [await a.take("u:1", 100.0), await b.take("u:1", 100.0)] == [0.0, 0.0]
        assert await a.take("u:1", 100.0) == 0.0
        assert await b.take("u:1", 100.0) == pytest.approx(3.0)  # one token per 3 s
        assert await a.take("u:2", 100.0) == 0.0  # another key has its own bucket
        assert await b.take("u:1", 103.0) == 0.0  # refilled
    finally:
        await one.delete(*[k async for k in one.scan_iter(match=f"{prefix}*")])
        await one.aclose()
        await two.aclose()


@pytest.fixture
def settings(settings: Settings, redis_url: str) -> Settings:
    """The Redis stock store, whose rate limits live in Redis too."""
    return settings.model_copy(
        update={
            "redis_url": redis_url,
            "redis_prefix": f"test-{uuid.uuid4().hex[:8]}:",
            "flash_stock_store": "redis",
        }
    )


async def test_with_the_redis_store_purchases_are_limited_through_redis(
    client: httpx.AsyncClient, container: Container, redis_url: str
) -> None:
    world = await flash_world(client, container, quantity=5)
    (a,) = await consumers(container, 1)
    burst = container.settings.flash_user_burst
    statuses = [(await buy(client, world.sale_id, a)).status_code for _ in range(burst)]
    assert statuses[0] == 201 and 429 not in statuses
    r = await buy(client, world.sale_id, a)
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) >= 1
    redis = Redis.from_url(redis_url)
    try:
        buckets = [
            k
            async for k in redis.scan_iter(match=f"{container.settings.redis_prefix}flash-limits:*")
        ]
    finally:
        await redis.aclose()
    assert buckets, "the buckets are kept in Redis"
