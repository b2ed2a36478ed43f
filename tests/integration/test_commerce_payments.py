"""Payments: the signed provider webhook, duplicates, mismatches, and a race with the sweep."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pyarrow.parquet as pq
from sqlalchemy import func, select

from livecart.app import create_app
from livecart.bootstrap import Container
from livecart.commerce import service as commerce
from livecart.commerce.models import Order, Payment
from livecart.commerce.payments import SIGNATURE_HEADER, SandboxPaymentProvider
from livecart.core.clock import FrozenClock
from livecart.events.sink import log_files
from livecart.settings import Settings
from tests.integration.test_orders_flow import (
    API,
    consumers,
    live_session,
    make_shop,
    order,
    stock_of,
)

WEBHOOK = f"{API}/payments/webhooks/sandbox"


def webhook(container: Container, **payload: Any) -> tuple[bytes, dict[str, str]]:
    provider = container.payments
    assert isinstance(provider, SandboxPaymentProvider)
    body, signature = provider.signed(payload)
    return body, {SIGNATURE_HEADER: signature, "Content-Type": "application/json"}


async def test_webhook_signature_duplicates_and_mismatch(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 5)
    (buyer,) = await consumers(container, 1)
    placed = (await order(client, buyer, [{"sku_id": shop.sku_ids[0], "quantity": 1}])).json()
    payload = {
        "type": "payment.succeeded",
        "reference": "ext_123",
        "order_id": placed["id"],
        "amount": placed["total"],
        "currency": placed["currency"],
    }
    body, headers = webhook(container, **payload)

    r = await client.post(WEBHOOK, content=body, headers={SIGNATURE_HEADER: "0" * 64})
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_signature"
    r = await client.post(WEBHOOK, content=body)
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_signature"
    tampered = body.replace(str(placed["total"]).encode(), b"1")
    r = await client.post(WEBHOOK, content=tampered, headers=headers)
    assert r.status_code == 401
    r = await client.post(f"{API}/payments/webhooks/stripe", content=body, headers=headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_provider"
    assert (await client.get(f"{API}/orders/{placed['id']}", headers=buyer)).json()[
        "status"
    ] == "pending_payment"

    cheap, cheap_headers = webhook(container, **{**payload, "reference": "x", "amount": 1})
    r = await client.post(WEBHOOK, content=cheap, headers=cheap_headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "payment_mismatch"

    r = await client.post(WEBHOOK, content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "received": True,
        "order_id": placed["id"],
        "status": "paid",
        "duplicate": False,
    }
    again = await asyncio.gather(
        *(client.post(WEBHOOK, content=body, headers=headers) for _ in range(3))
    )
    assert [a.status_code for a in again] == [200] * 3
    assert all(a.json()["duplicate"] and a.json()["status"] == "paid" for a in again)
    async with container.uow() as uow:
        payments = await uow.session.scalar(select(func.count()).select_from(Payment))
    assert payments == 1
    r = await client.post(f"{API}/orders/{placed['id']}/pay", headers=buyer)
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_paid"


async def test_sweep_and_late_webhook_never_both_win(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    shop = await make_shop(client, container, 3)
    (buyer,) = await consumers(container, 1)
    sku = shop.sku_ids[0]
    placed = (await order(client, buyer, [{"sku_id": sku, "quantity": 3}])).json()
    clock.advance(minutes=container.settings.order_payment_minutes, seconds=1)
    body, headers = webhook(
        container,
        type="payment.succeeded",
        reference="late_1",
        order_id=placed["id"],
        amount=placed["total"],
        currency=placed["currency"],
    )
    swept, paid = await asyncio.gather(
        commerce.run_expiry_sweep(container.uow, clock=clock),
        client.post(WEBHOOK, content=body, headers=headers),
    )
    assert paid.status_code == 200, paid.text
    final = (await client.get(f"{API}/orders/{placed['id']}", headers=buyer)).json()
    if swept == 1:
        assert final["status"] == "cancelled" and paid.json()["status"] == "cancelled"
        assert await stock_of(container, sku) == 3
    else:
        assert final["status"] == "paid" and paid.json()["status"] == "paid"
        assert await stock_of(container, sku) == 0


async def test_behaviour_events_and_live_ticker(
    client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 5)
    (buyer,) = await consumers(container, 1)
    session_id, anchor_id, _ = await live_session(client, container)
    sku = shop.sku_ids[0]
    r = await client.post(
        f"{API}/cart/items",
        json={"sku_id": sku, "quantity": 1, "session_id": session_id},
        headers=buyer,
    )
    assert r.status_code == 200, r.text
    placed = (
        await order(client, buyer, [{"sku_id": sku, "quantity": 2}], session_id=session_id)
    ).json()
    failed = await order(client, buyer, [{"sku_id": sku, "quantity": 50}], session_id=session_id)
    assert failed.status_code == 409
    assert (await client.post(f"{API}/orders/{placed['id']}/pay", headers=buyer)).status_code == 200

    await container.events.flush()
    rows = [
        row
        for path in log_files(container.settings.event_log_dir)
        for row in pq.read_table(path).to_pylist()
    ]
    kinds = sorted(r["event_type"] for r in rows)
    assert kinds == ["add_to_cart", "order", "payment"]  # the failed order recorded nothing
    by_kind = {r["event_type"]: r for r in rows}
    assert by_kind["order"]["order_id"] == placed["id"] and by_kind["order"]["quantity"] == 2
    assert by_kind["payment"]["amount"] == placed["total"]
    for row in rows:
        assert row["session_id"] == session_id and row["anchor_id"] == anchor_id
        assert row["sku_id"] in (sku, None) and row["source"] == "server"


async def test_failed_and_oversized_webhooks(
    client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 5)
    (buyer,) = await consumers(container, 1)
    placed = (await order(client, buyer, [{"sku_id": shop.sku_ids[0], "quantity": 1}])).json()
    body, headers = webhook(
        container,
        type="payment.failed",
        reference="declined_1",
        order_id=placed["id"],
        amount=placed["total"],
        currency=placed["currency"],
    )
    r = await client.post(WEBHOOK, content=body, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "pending_payment", r.text
    async with container.uow() as uow:
        statuses = (await uow.session.scalars(select(Payment.status))).all()
    assert statuses == ["failed"]
    odd, odd_headers = webhook(container, type="refund.created", reference="r", order_id=1)
    r = await client.post(WEBHOOK, content=odd, headers=odd_headers)
    assert r.status_code == 401
    huge, huge_headers = webhook(container, padding="x" * 70_000)
    r = await client.post(WEBHOOK, content=huge, headers=huge_headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "webhook_too_large"
    # The buyer can still pay after a declined attempt.
    r = await client.post(f"{API}/orders/{placed['id']}/pay", headers=buyer)
    assert r.status_code == 200 and r.json()["status"] == "paid"


async def test_the_expiry_sweep_runs_in_the_background(
    settings: Settings, clock: FrozenClock
) -> None:
    app = create_app(settings.model_copy(update={"order_sweep_seconds": 0.05}), clock=clock)
    async with app.router.lifespan_context(app):
        container: Container = app.state.container
        assert "order-expiry-sweep" in {t.get_name() for t in container.background}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            shop = await make_shop(client, container, 2)
            (buyer,) = await consumers(container, 1)
            placed = await order(client, buyer, [{"sku_id": shop.sku_ids[0], "quantity": 2}])
            assert placed.status_code == 201
            clock.advance(minutes=settings.order_payment_minutes + 1)
            for _ in range(200):  # the job runs every 50 ms; give it up to 10 s
                if await stock_of(container, shop.sku_ids[0]) == 2:
                    break
                await asyncio.sleep(0.05)
            assert await stock_of(container, shop.sku_ids[0]) == 2
            async with container.uow() as uow:
                stored = await uow.session.get(Order, placed.json()["id"])
                assert stored is not None and stored.cancel_reason == "payment_timeout"
