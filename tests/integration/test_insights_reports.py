"""Dashboard reports against orders made here: exact funnel counts and GMV per session,
anchor and brand, who may see which, and the same numbers from the CLI with --json."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from livecart.accounts import service as accounts
from livecart.bootstrap import Container
from livecart.core.clock import FrozenClock
from livecart.core.errors import PermissionDenied
from livecart.events import service as events
from livecart.events.schemas import EventType
from livecart.insights import service as insights
from livecart.insights.report_commands import app as report_app
from livecart.insights.reports import FunnelBy, Scope
from tests.e2e.world import World, build_world
from tests.support import auth, make_user

API = "/api/v1"
ANONYMOUS = "8d7f5a1e-2b3c-4d5e-8f90-123456789abc"


@pytest.fixture
def clock() -> FrozenClock:
    """Yesterday: the shop's first day is yesterday, Dave buys today (tokens are never issued
    in the future, which the token check refuses)."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))


async def _buy(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sku_id: int,
    quantity: int,
    session_id: int | None,
    *,
    pay: bool,
) -> dict[str, Any]:
    body: dict[str, Any] = {"items": [{"sku_id": sku_id, "quantity": quantity}]}
    if session_id is not None:
        body["session_id"] = session_id
    placed = await client.post(
        f"{API}/orders", json=body, headers={**headers, "Idempotency-Key": f"k-{sku_id}-{quantity}"}
    )
    assert placed.status_code == 201, placed.text
    order: dict[str, Any] = placed.json()
    if pay:
        paid = await client.post(f"{API}/orders/{order['id']}/pay", headers=headers)
        assert paid.status_code == 200, paid.text
    return order


async def _shop(client: httpx.AsyncClient, container: Container, clock: FrozenClock) -> World:
    """Alice, Bob and an anonymous browser watch the world's live session; Alice and Bob click
    and cart; Alice orders and pays, Bob orders and does not pay; Dave, who never watched,
    buys without a session the next day and pays (Bob's order has expired by then: still
    an order placed, never paid)."""
    world = await build_world(container)
    dave_id = await make_user(container, name="Dave")
    people = {"alice": world.alice_id, "bob": world.bob_id}
    headers = {name: await auth(client, container, uid) for name, uid in people.items()}
    live = {"session_id": world.session_id, "room_id": world.room_id, "anchor_id": world.anchor_id}
    now = clock.now()
    watched = [
        events.new_event(EventType.JOIN, occurred_at=now, consumer_id=uid, **live)
        for uid in (world.alice_id, world.bob_id)
    ]
    watched.append(
        events.new_event(EventType.JOIN, occurred_at=now, anonymous_id=ANONYMOUS, **live)
    )
    # Bob joins twice (a reload): still one viewer.
    watched.append(
        events.new_event(EventType.JOIN, occurred_at=now, consumer_id=world.bob_id, **live)
    )
    for uid in (world.alice_id, world.bob_id):
        for kind in (EventType.PRODUCT_CLICK, EventType.DETAIL_VIEW):
            watched.append(
                events.new_event(
                    kind, occurred_at=now, consumer_id=uid, product_id=world.product_id, **live
                )
            )
    # The anonymous viewer clicks too, but never carts or buys.
    watched.append(
        events.new_event(
            EventType.PRODUCT_CLICK,
            occurred_at=now,
            anonymous_id=ANONYMOUS,
            product_id=world.product_id,
            **live,
        )
    )
    events.emit(container, *watched)
    for name in ("alice", "bob"):
        carted = await client.post(
            f"{API}/cart/items",
            json={"sku_id": world.sku_ids[0], "quantity": 1, "session_id": world.session_id},
            headers=headers[name],
        )
        assert carted.status_code == 200, carted.text
    await _buy(client, headers["alice"], world.sku_ids[0], 2, world.session_id, pay=True)
    await _buy(client, headers["bob"], world.sku_ids[1], 1, world.session_id, pay=False)
    clock.advance(days=1)
    dave = await auth(client, container, dave_id)  # a token of the new day
    await _buy(client, dave, world.sku_ids[0], 1, None, pay=True)
    await container.events.flush()
    return world


def _steps(row: Any) -> tuple[int, ...]:
    return (
        row.viewers, row.product_clickers, row.carters, row.buyers, row.payers,
        row.orders, row.paid_orders,
    )  # fmt: skip


async def test_funnel_and_gmv_count_the_orders_made(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    world = await _shop(client, container, clock)
    root = container.settings.event_log_dir
    async with container.uow() as uow:
        operator = await accounts.load_identity(uow.session, world.operator_id)
        assert operator is not None

        async def funnel(by: FunnelBy, scope: Scope | None = None) -> dict[int, tuple[int, ...]]:
            report = await insights.funnel_report(
                uow.session, log_root=root, actor=operator, by=by, scope=scope or Scope()
            )
            return {row.key: _steps(row) for row in report.rows}

        # viewers, clickers, carters, buyers, payers, orders, paid orders
        assert await funnel(FunnelBy.session) == {world.session_id: (3, 3, 2, 2, 1, 2, 1)}
        assert await funnel(FunnelBy.anchor) == {world.anchor_id: (3, 3, 2, 2, 1, 2, 1)}
        # The brand also has Dave's order outside any session: a buyer who watched nothing.
        assert await funnel(FunnelBy.brand) == {world.brand_id: (3, 3, 2, 3, 2, 3, 2)}

        report = await insights.gmv_report(
            uow.session, log_root=root, actor=operator, scope=Scope()
        )
        day_one, day_two = (clock.now() - timedelta(days=1)).date(), clock.now().date()
        rows = [
            (r.day, r.currency, r.orders, r.gmv, r.paid_orders, r.paid_gmv) for r in report.rows
        ]
        # Alice 2 x 89.00 paid, Bob 1 x 199.00 unpaid; the next day Dave 1 x 89.00 paid.
        assert rows == [
            (day_one, "CNY", 2, 2 * 8900 + 19900, 1, 2 * 8900),
            (day_two, "CNY", 1, 8900, 1, 8900),
        ]
        by_anchor = await insights.gmv_report(
            uow.session, log_root=root, actor=operator, scope=Scope(anchor_id=world.anchor_id)
        )
        assert [(r.day, r.orders, r.gmv) for r in by_anchor.rows] == [(day_one, 2, 37700)]
        other = await insights.gmv_report(
            uow.session, log_root=root, actor=operator, scope=Scope(brand_id=world.brand_id + 99)
        )
        assert other.rows == []


async def test_merchants_and_anchors_see_only_their_own(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    world = await _shop(client, container, clock)
    root = container.settings.event_log_dir
    stranger_id = await make_user(container, name="Stranger")
    async with container.uow() as uow:
        merchant = await accounts.load_identity(uow.session, world.merchant_id)
        anchor = await accounts.load_identity(uow.session, world.anchor_id)
        stranger = await accounts.load_identity(uow.session, stranger_id)
        assert merchant is not None and anchor is not None and stranger is not None
        own = await insights.funnel_report(
            uow.session,
            log_root=root,
            actor=merchant,
            by=FunnelBy.session,
            scope=Scope(brand_id=world.brand_id),
        )
        assert [_steps(r) for r in own.rows] == [(3, 3, 2, 2, 1, 2, 1)]
        mine = await insights.gmv_report(
            uow.session, log_root=root, actor=anchor, scope=Scope(anchor_id=world.anchor_id)
        )
        assert sum(r.orders for r in mine.rows) == 2
        refused = [
            (merchant, Scope(brand_id=world.brand_id + 1)),
            (merchant, Scope()),
            (anchor, Scope(anchor_id=world.anchor_id + 1)),
            (anchor, Scope()),
            (stranger, Scope(anchor_id=stranger_id + 1)),
            (None, Scope()),
        ]
        for actor, scope in refused:
            with pytest.raises(PermissionDenied):
                await insights.gmv_report(uow.session, log_root=root, actor=actor, scope=scope)


async def test_cli_prints_the_same_reports_as_json(
    client: httpx.AsyncClient,
    container: Container,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = await _shop(client, container, clock)
    settings = container.settings
    monkeypatch.setenv("LIVECART_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    data_dir = str(settings.data_dir)
    # A thread of its own: the command runs its own event loop, as it does from a shell.
    result = await asyncio.to_thread(
        runner.invoke, report_app, ["funnel", "--by", "brand", "--data-dir", data_dir, "--json"]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["steps"] == ["viewers", "product_clickers", "carters", "buyers", "payers"]
    (row,) = printed["rows"]
    assert row["key"] == world.brand_id and row["label"] == "Lumen Tea"
    assert [row[s] for s in printed["steps"]] == [3, 3, 2, 3, 2]
    result = await asyncio.to_thread(
        runner.invoke,
        report_app,
        ["gmv", "--by", "day", "--brand", str(world.brand_id), "--data-dir", data_dir, "--json"],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [(r["orders"], r["gmv"], r["paid_gmv"]) for r in rows] == [
        (2, 37700, 17800),
        (1, 8900, 8900),
    ]
