"""After-sales over HTTP: returns and refunds, the windows, category rules, the merchant's
answer and its SLA, refunds through the sandbox provider (exact, idempotent, stock back), the
late payment refunded, and the return and complaint rates on a known set of orders.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from livecart.accounts.schemas import Role
from livecart.app import create_app
from livecart.bootstrap import Container
from livecart.commerce import service as commerce
from livecart.commerce.errors import NothingToRefund
from livecart.commerce.models import AfterSalesRequest, Payment, Refund
from livecart.commerce.payments import PAYMENT_SUCCEEDED, SIGNATURE_HEADER, SandboxPaymentProvider
from livecart.core.clock import FrozenClock
from livecart.core.security import create_access_token
from livecart.settings import Settings
from tests.integration import test_orders_flow as orders_flow
from tests.integration.test_orders_flow import API, Shop, live_session, order, stock_of
from tests.support import PASSWORD, make_user


def lasting(container: Container, user_id: int) -> dict[str, str]:
    """Bearer headers that outlive the clock moves of these tests (60 days).

    Issued at the real time: the token library refuses an issue time in the future.
    """
    token = create_access_token(
        secret=container.secret, user_id=user_id, now=datetime.now(UTC), minutes=60 * 24 * 60
    )
    return {"Authorization": f"Bearer {token}"}


async def consumers(container: Container, count: int) -> list[dict[str, str]]:
    return [lasting(container, await make_user(container)) for _ in range(count)]


async def make_shop(client: httpx.AsyncClient, container: Container, *stocks: int) -> Shop:
    """A shop whose merchant's headers last as long as the buyers'."""
    shop = await orders_flow.make_shop(client, container, *stocks)
    merchant = await make_user(container, Role.merchant, brand_id=shop.brand_id)
    shop.merchant = lasting(container, merchant)
    return shop


def sandbox(container: Container) -> SandboxPaymentProvider:
    provider = container.payments
    assert isinstance(provider, SandboxPaymentProvider)
    return provider


async def paid_order(
    client: httpx.AsyncClient,
    shop: Shop,
    buyer: dict[str, str],
    quantity: int,
    *,
    session_id: int | None = None,
) -> dict[str, Any]:
    r = await order(
        client, buyer, [{"sku_id": shop.sku_ids[0], "quantity": quantity}], session_id=session_id
    )
    assert r.status_code == 201, r.text
    r = await client.post(f"{API}/orders/{r.json()['id']}/pay", headers=buyer)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def delivered_order(
    client: httpx.AsyncClient, shop: Shop, buyer: dict[str, str], quantity: int
) -> dict[str, Any]:
    placed = await paid_order(client, shop, buyer, quantity)
    for action in ("ship", "deliver"):
        r = await client.post(f"{API}/orders/{placed['id']}/{action}", headers=shop.merchant)
        assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def ask(
    client: httpx.AsyncClient,
    buyer: dict[str, str],
    placed: dict[str, Any],
    *,
    reason: str = "no_reason",
    quantity: int = 1,
    **extra: Any,
) -> httpx.Response:
    (item,) = placed["items"]
    return await client.post(
        f"{API}/orders/{placed['id']}/after-sales",
        json={"sku_id": item["sku_id"], "quantity": quantity, "reason": reason, **extra},
        headers=buyer,
    )


async def refunds_of(container: Container, order_id: int) -> list[Refund]:
    async with container.uow() as uow:
        return list(
            (await uow.session.scalars(select(Refund).where(Refund.order_id == order_id))).all()
        )


async def test_a_no_reason_return_within_7_days_is_refunded_through_the_sandbox(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    shop = await make_shop(client, container, 10)
    (buyer,) = await consumers(container, 1)
    placed = await delivered_order(client, shop, buyer, 3)
    assert await stock_of(container, shop.sku_ids[0]) == 7
    clock.advance(days=6, hours=23)

    r = await ask(
        client,
        buyer,
        placed,
        quantity=2,
        text="changed my mind",
        evidence=["/api/v1/media/1", "photo-2.jpg"],
    )
    assert r.status_code == 201, r.text
    request = r.json()
    assert request["status"] == "requested" and request["kind"] == "return_refund"
    assert request["amount"] == 2 * shop.prices[0] and request["currency"] == "CNY"
    assert request["evidence"] == ["/api/v1/media/1", "photo-2.jpg"]
    assert request["answer_due_at"] > request["requested_at"]
    # Two more units than are left on the line are refused.
    r = await ask(client, buyer, placed, quantity=2)
    assert r.status_code == 422 and r.json()["error"]["code"] == "return_quantity_exceeded"

    r = await client.post(
        f"{API}/after-sales/{request['id']}/answer", json={"approve": True}, headers=shop.merchant
    )
    assert r.status_code == 200 and r.json()["status"] == "awaiting_return", r.text
    assert await stock_of(container, shop.sku_ids[0]) == 7  # the goods are not back yet
    assert await refunds_of(container, placed["id"]) == []

    r = await client.post(f"{API}/after-sales/{request['id']}/receive", headers=shop.merchant)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "refunded" and done["goods_received_at"] and done["refunded_at"]
    assert await stock_of(container, shop.sku_ids[0]) == 9

    r = await client.get(f"{API}/orders/{placed['id']}/refunds", headers=buyer)
    assert r.status_code == 200, r.text
    (refund,) = r.json()
    assert refund["amount"] == 2 * shop.prices[0] and refund["currency"] == "CNY"
    assert refund["provider"] == "sandbox" and refund["status"] == "succeeded"
    assert refund["cause"] == "after_sales" and refund["request_id"] == request["id"]
    made = sandbox(container).refunds[f"after-sales:{request['id']}"]
    assert made.reference == refund["reference"] and made.amount == refund["amount"]
    async with container.uow() as uow:
        payment = await uow.session.scalar(select(Payment).where(Payment.order_id == placed["id"]))
        assert payment is not None and made.payment_reference == payment.reference
    # The buyer sees the request, a stranger does not.
    r = await client.get(f"{API}/after-sales", headers=buyer)
    assert [x["id"] for x in r.json()] == [request["id"]]
    (stranger,) = await consumers(container, 1)
    r = await client.get(f"{API}/after-sales/{request['id']}", headers=stranger)
    assert r.status_code == 404 and r.json()["error"]["code"] == "after_sales_not_found"
    r = await client.get(f"{API}/orders/{placed['id']}/refunds", headers=stranger)
    assert r.status_code == 404


async def test_day_8_is_refused_for_no_reason_but_a_fault_is_still_taken(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    shop = await make_shop(client, container, 10)
    (buyer,) = await consumers(container, 1)
    placed = await delivered_order(client, shop, buyer, 1)
    clock.advance(days=7, seconds=1)
    r = await ask(client, buyer, placed)
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "return_window_closed" and error["details"]["days"] == 7
    r = await ask(client, buyer, placed, reason="damaged", text="arrived torn")
    assert r.status_code == 201, r.text
    clock.advance(days=8)  # day 15 and more: the fault window is over too
    r = await client.post(
        f"{API}/orders/{placed['id']}/complete", headers=buyer
    )  # completing does not move the window, it runs from delivery
    assert r.status_code == 200, r.text
    r = await ask(client, buyer, placed, reason="quality")
    assert r.status_code == 409 and r.json()["error"]["code"] == "return_window_closed"


async def test_a_category_without_no_reason_returns_takes_fault_returns(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 10)
    (buyer,) = await consumers(container, 1)
    operator = lasting(container, await make_user(container, Role.operator))
    r = await client.get(f"{API}/return-rules/accessories")
    assert r.json() == {
        "category": "accessories",
        "no_reason_returns": True,
        "note": "",
        "default": True,
    }
    r = await client.get(f"{API}/return-rules/fresh%20food")
    assert r.json()["no_reason_returns"] is False and r.json()["default"] is True
    r = await client.put(
        f"{API}/return-rules/accessories",
        json={"no_reason_returns": False, "note": "worn close to the skin"},
        headers=operator,
    )
    assert r.status_code == 200 and r.json()["default"] is False, r.text
    r = await client.put(
        f"{API}/return-rules/accessories", json={"no_reason_returns": True}, headers=shop.merchant
    )
    assert r.status_code == 403

    placed = await delivered_order(client, shop, buyer, 2)
    r = await ask(client, buyer, placed)
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "no_reason_return_not_allowed"
    r = await ask(client, buyer, placed, reason="not_as_described", text="the colour is off")
    assert r.status_code == 201 and r.json()["reason"] == "not_as_described", r.text


def test_the_default_rule_of_a_category() -> None:
    for category in ("Fresh food", "customised mugs", "digital goods", "生鲜水果", "Gift cards"):
        assert not commerce.default_no_reason_returns(category), category
    for category in ("accessories", "Scarves", "home appliances", "服装"):
        assert commerce.default_no_reason_returns(category), category


async def test_the_merchant_rejects_with_a_reason_and_answers_once(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 10)
    other = await make_shop(client, container, 1)
    (buyer,) = await consumers(container, 1)
    placed = await delivered_order(client, shop, buyer, 1)
    request = (await ask(client, buyer, placed, reason="other", text="not my taste")).json()
    url = f"{API}/after-sales/{request['id']}/answer"

    r = await client.post(url, json={"approve": False}, headers=shop.merchant)
    assert r.status_code == 422 and r.json()["error"]["code"] == "answer_reason_required"
    r = await client.post(url, json={"approve": True}, headers=other.merchant)
    assert r.status_code == 404  # another brand's merchant does not even see it
    r = await client.post(url, json={"approve": False, "reason": "worn"}, headers=shop.merchant)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "rejected" and r.json()["answer_reason"] == "worn"
    r = await client.post(url, json={"approve": True}, headers=shop.merchant)
    assert r.status_code == 409 and r.json()["error"]["details"]["status"] == "rejected"
    r = await client.post(f"{API}/after-sales/{request['id']}/receive", headers=shop.merchant)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"
    assert await refunds_of(container, placed["id"]) == []
    assert await stock_of(container, shop.sku_ids[0]) == 9
    # A rejected request frees its units: the buyer may ask again (a fault this time).
    r = await ask(client, buyer, placed, reason="quality", text="the seam opened")
    assert r.status_code == 201, r.text


async def test_the_sla_job_approves_what_the_merchant_left_unanswered(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    shop = await make_shop(client, container, 10)
    (buyer,) = await consumers(container, 1)
    returned = await delivered_order(client, shop, buyer, 1)
    unshipped = await paid_order(client, shop, buyer, 2)
    assert await stock_of(container, shop.sku_ids[0]) == 7
    back = (await ask(client, buyer, returned, reason="wrong_item")).json()
    refund_only = (await ask(client, buyer, unshipped, quantity=2)).json()
    assert refund_only["kind"] == "refund_only"
    hours = container.settings.after_sales_answer_hours
    assert hours == 48

    async def sweep() -> int:
        return await commerce.run_after_sales_sweep(
            container.uow, clock=clock, provider=container.payments, answer_hours=hours
        )

    clock.advance(hours=47, minutes=59)
    assert await sweep() == 0
    clock.advance(minutes=1)
    assert await sweep() == 2
    assert await sweep() == 0

    r = await client.get(f"{API}/after-sales/{back['id']}", headers=buyer)
    auto = r.json()
    assert auto["status"] == "awaiting_return" and auto["auto_approved"] is True
    assert "48 h SLA" in auto["answer_reason"]
    r = await client.get(f"{API}/after-sales/{refund_only['id']}", headers=buyer)
    assert r.json()["status"] == "refunded" and r.json()["auto_approved"] is True
    (refund,) = await refunds_of(container, unshipped["id"])
    assert refund.amount == unshipped["total"] == 2 * shop.prices[0]
    assert await stock_of(container, shop.sku_ids[0]) == 9  # the unshipped units are back
    # The merchant can no longer answer what the job approved.
    r = await client.post(
        f"{API}/after-sales/{back['id']}/answer",
        json={"approve": False, "reason": "late"},
        headers=shop.merchant,
    )
    assert r.status_code == 409


async def test_a_refund_is_made_once_however_often_it_is_retried(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 10)
    (buyer,) = await consumers(container, 1)
    placed = await delivered_order(client, shop, buyer, 3)
    request = (await ask(client, buyer, placed, quantity=3, reason="damaged")).json()
    r = await client.post(
        f"{API}/after-sales/{request['id']}/answer", json={"approve": True}, headers=shop.merchant
    )
    assert r.status_code == 200, r.text
    for _ in range(3):
        r = await client.post(f"{API}/after-sales/{request['id']}/receive", headers=shop.merchant)
        assert r.status_code == 200 and r.json()["status"] == "refunded", r.text
    (refund,) = await refunds_of(container, placed["id"])
    assert refund.amount == placed["total"] == 3 * shop.prices[0]
    assert await stock_of(container, shop.sku_ids[0]) == 10  # given back once, not three times
    keys = [k for k in sandbox(container).refunds if k == f"after-sales:{request['id']}"]
    assert len(keys) == 1

    # The same key straight to the service answers the same refund; a new key cannot take
    # more than was paid.
    async with container.uow() as uow:
        payment = await uow.session.scalar(select(Payment).where(Payment.order_id == placed["id"]))
        assert payment is not None
        again = await commerce.refund_once(
            uow.session,
            clock=container.clock,
            provider=container.payments,
            payment=payment,
            amount=1,
            key=f"after-sales:{request['id']}",
            cause="after_sales",
            request_id=request["id"],
        )
        assert again.id == refund.id and again.amount == refund.amount
        with pytest.raises(NothingToRefund):
            await commerce.refund_once(
                uow.session,
                clock=container.clock,
                provider=container.payments,
                payment=payment,
                amount=1,
                key="another-key",
                cause="after_sales",
                request_id=None,
            )
        count = await uow.session.scalar(
            select(func.count()).select_from(Refund).where(Refund.order_id == placed["id"])
        )
        assert count == 1


async def test_a_payment_after_the_timeout_cancellation_is_refunded(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    shop = await make_shop(client, container, 5)
    (buyer,) = await consumers(container, 1)
    r = await order(client, buyer, [{"sku_id": shop.sku_ids[0], "quantity": 2}])
    placed = r.json()
    clock.advance(minutes=container.settings.order_payment_minutes, seconds=1)
    async with container.uow() as uow:
        assert await commerce.expire_overdue(uow.session, clock=clock) == 1
        await uow.commit()
    assert await stock_of(container, shop.sku_ids[0]) == 5

    body, signature = sandbox(container).signed(
        {
            "type": PAYMENT_SUCCEEDED,
            "reference": "sbx_late_1",
            "order_id": placed["id"],
            "amount": placed["total"],
            "currency": "CNY",
        }
    )
    for duplicate in (False, True):
        r = await client.post(
            f"{API}/payments/webhooks/sandbox",
            content=body,
            headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "cancelled" and r.json()["duplicate"] is duplicate
    (refund,) = await refunds_of(container, placed["id"])
    assert refund.cause == "late_payment" and refund.request_id is None
    assert refund.amount == placed["total"] == 2 * shop.prices[0] and refund.currency == "CNY"
    assert sandbox(container).refunds[refund.idempotency_key].payment_reference == "sbx_late_1"
    assert await stock_of(container, shop.sku_ids[0]) == 5  # nothing taken again
    r = await client.get(f"{API}/orders/{placed['id']}", headers=buyer)
    assert r.json()["status"] == "cancelled"


async def test_rates_per_product_brand_anchor_and_session_on_a_known_set(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    shop = await make_shop(client, container, 50)
    other = await make_shop(client, container, 50)
    session_id, anchor_id, _ = await live_session(client, container)
    buyers = await consumers(container, 6)
    operator = lasting(container, await make_user(container, Role.operator))
    # Brand A: orders 0 and 1 in the live session, 2 and 3 outside; one unpaid (not counted).
    placed = [
        await paid_order(client, shop, buyers[0], 1, session_id=session_id),
        await paid_order(client, shop, buyers[1], 2, session_id=session_id),
        await paid_order(client, shop, buyers[2], 1),
        await paid_order(client, shop, buyers[3], 1),
    ]
    r = await order(client, buyers[4], [{"sku_id": shop.sku_ids[0], "quantity": 1}])
    assert r.status_code == 201
    await paid_order(client, other, buyers[5], 1)  # brand B: an order, no request
    # order 0: no reason (a return, no complaint); order 1: damaged, rejected (a complaint,
    # no return); order 2: quality (both), asked twice on the same order (counted once).
    assert (await ask(client, buyers[0], placed[0])).status_code == 201
    rejected = (await ask(client, buyers[1], placed[1], reason="damaged")).json()
    r = await client.post(
        f"{API}/after-sales/{rejected['id']}/answer",
        json={"approve": False, "reason": "no damage on the photos"},
        headers=shop.merchant,
    )
    assert r.status_code == 200, r.text
    assert (await ask(client, buyers[2], placed[2], reason="quality")).status_code == 201
    # Order 2 held one unit, so a second request on it is refused; the rate counts orders.
    assert (await ask(client, buyers[2], placed[2], reason="quality")).status_code == 422

    async def rates(group_by: str, **params: str) -> dict[int, dict[str, Any]]:
        r = await client.get(
            f"{API}/after-sales-rates", params={"group_by": group_by, **params}, headers=operator
        )
        assert r.status_code == 200, r.text
        return {row["key"]: row for row in r.json()}

    brands = await rates("brand")
    assert brands[shop.brand_id] == {
        "key": shop.brand_id,
        "orders": 4,
        "returns": 2,
        "complaints": 2,
        "return_rate": 0.5,
        "complaint_rate": 0.5,
    }
    assert brands[other.brand_id]["orders"] == 1 and brands[other.brand_id]["returns"] == 0
    products = await rates("product")
    assert products[shop.product_id]["orders"] == 4
    assert products[shop.product_id]["returns"] == 2
    sessions = await rates("session")
    assert sessions == {
        session_id: {
            "key": session_id,
            "orders": 2,
            "returns": 1,
            "complaints": 1,
            "return_rate": 0.5,
            "complaint_rate": 0.5,
        }
    }
    anchors = await rates("anchor")
    assert anchors[anchor_id]["orders"] == 2 and anchors[anchor_id]["complaints"] == 1
    # Since: only orders paid from then on.
    cut = clock.now() + timedelta(hours=1)
    clock.advance(hours=2)
    late = await paid_order(client, shop, buyers[3], 1)
    assert (await ask(client, buyers[3], late, reason="wrong_item")).status_code == 201
    recent = await rates("brand", since=cut.isoformat())
    assert recent[shop.brand_id]["orders"] == 1
    assert recent[shop.brand_id]["complaint_rate"] == 1.0
    # The service F reads gives the same numbers.
    async with container.uow() as uow:
        direct = await commerce.after_sales_rates(uow.session, group_by="brand", since=None)
    mine = next(r for r in direct if r.key == shop.brand_id)
    assert (mine.orders, mine.returns, mine.complaints) == (5, 3, 3)
    # Only operators read platform-wide rates.
    r = await client.get(
        f"{API}/after-sales-rates", params={"group_by": "brand"}, headers=shop.merchant
    )
    assert r.status_code == 403


async def test_the_brand_report_counts_per_product_and_week(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    shop = await make_shop(client, container, 20)
    other = await make_shop(client, container, 5)
    buyers = await consumers(container, 3)
    first = await delivered_order(client, shop, buyers[0], 1)
    assert (await ask(client, buyers[0], first, reason="quality")).status_code == 201
    clock.advance(days=8)
    await paid_order(client, shop, buyers[1], 1)
    await paid_order(client, shop, buyers[2], 1)
    r = await client.get(f"{API}/brands/{shop.brand_id}/after-sales/report", headers=shop.merchant)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["totals"]["orders"] == 3 and report["totals"]["complaints"] == 1
    (product,) = report["products"]
    assert product["key"] == shop.product_id and product["title"].startswith("Silk scarf")
    assert product["return_rate"] == 1 / 3
    weekly = [(w["orders"], w["returns"]) for w in report["weeks"] if w["orders"]]
    assert weekly == [(1, 1), (2, 0)]
    assert report["open_requests"] == 1 and report["overdue_requests"] == 1
    r = await client.get(f"{API}/brands/{shop.brand_id}/after-sales/report", headers=other.merchant)
    assert r.status_code == 403


async def test_the_buyers_words_and_evidence_are_exported_and_erased(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 5)
    buyer_id = await make_user(container)
    buyer = lasting(container, buyer_id)
    placed = await paid_order(client, shop, buyer, 1)
    request = (
        await ask(
            client,
            buyer,
            placed,
            reason="other",
            text="call me on 555-0100",
            evidence=["https://photos.example/me.jpg"],
        )
    ).json()
    r = await client.post(
        f"{API}/after-sales/{request['id']}/answer", json={"approve": True}, headers=shop.merchant
    )
    assert r.json()["status"] == "refunded", r.text

    r = await client.get(f"{API}/me/export", headers=buyer)
    assert r.status_code == 200, r.text
    tables = r.json()["tables"]
    (exported,) = tables["after_sales_requests"]
    assert exported["text"] == "call me on 555-0100"
    assert exported["evidence"] == ["https://photos.example/me.jpg"]
    assert [x["amount"] for x in tables["refunds"]] == [placed["total"]]

    r = await client.request("DELETE", f"{API}/me", json={"password": PASSWORD}, headers=buyer)
    assert r.status_code == 200, r.text
    async with container.uow() as uow:
        stored = await uow.session.get(AfterSalesRequest, request["id"], populate_existing=True)
        assert stored is not None
        assert stored.text == "" and stored.evidence == [] and stored.status == "refunded"
    assert len(await refunds_of(container, placed["id"])) == 1  # the accounts keep it


async def test_two_merchants_receiving_at_once_refund_once(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 10)
    second = lasting(container, await make_user(container, Role.merchant, brand_id=shop.brand_id))
    (buyer,) = await consumers(container, 1)
    placed = await delivered_order(client, shop, buyer, 2)
    request = (await ask(client, buyer, placed, quantity=2)).json()
    r = await client.post(
        f"{API}/after-sales/{request['id']}/answer", json={"approve": True}, headers=second
    )
    assert r.status_code == 200, r.text
    url = f"{API}/after-sales/{request['id']}/receive"
    answers = await asyncio.gather(
        client.post(url, headers=shop.merchant), client.post(url, headers=second)
    )
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert {a.json()["status"] for a in answers} == {"refunded"}
    (refund,) = await refunds_of(container, placed["id"])
    assert refund.amount == 2 * shop.prices[0]
    assert await stock_of(container, shop.sku_ids[0]) == 10


async def test_the_sla_job_runs_in_the_background(settings: Settings, clock: FrozenClock) -> None:
    app = create_app(settings.model_copy(update={"after_sales_sweep_seconds": 0.05}), clock=clock)
    async with app.router.lifespan_context(app):
        container: Container = app.state.container
        assert "after-sales-sla-sweep" in {t.get_name() for t in container.background}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            shop = await make_shop(client, container, 3)
            (buyer,) = await consumers(container, 1)
            placed = await paid_order(client, shop, buyer, 1)
            request = (await ask(client, buyer, placed)).json()
            clock.advance(hours=settings.after_sales_answer_hours)
            for _ in range(200):  # the job runs every 50 ms; give it up to 10 s
                if await refunds_of(container, placed["id"]):
                    break
                await asyncio.sleep(0.05)
            r = await client.get(f"{API}/after-sales/{request['id']}", headers=buyer)
            assert r.json()["status"] == "refunded" and r.json()["auto_approved"] is True
            assert len(await refunds_of(container, placed["id"])) == 1
