"""A buyer pays, cancels and confirms receipt of orders from /orders in Chromium."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import BrowserContext, Dialog, Locator, Page, expect

from tests.conftest import LiveServer
from tests.e2e.conftest import login, on_server_db
from tests.e2e.world import build_world, click_and_reload, place_order


def stock(page: Page, product_id: int, sku_id: int) -> int:
    """A SKU's stock as the public product API shows it."""
    response = page.request.get(f"/api/v1/products/{product_id}")
    assert response.ok, response.text()
    return int(next(s["stock"] for s in response.json()["skus"] if s["id"] == sku_id))


def test_buyer_pays_cancels_and_confirms_receipt_from_the_orders_page(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)
    small, big = world.sku_ids

    def order(sku_id: int, quantity: int, until: str) -> int:
        return on_server_db(
            live_server,
            lambda c: place_order(
                c, world, buyer_id=world.alice_id, sku_id=sku_id, quantity=quantity, until=until
            ),
        )

    to_pay = order(small, 1, "pending_payment")
    to_cancel = order(big, 3, "pending_payment")
    delivered = order(small, 2, "delivered")
    page = new_context(viewport={"width": 1280, "height": 800}).new_page()
    login(page, live_server, world.alice_id, "/orders")
    assert stock(page, world.product_id, big) == 17  # 20 less the 3 waiting for payment

    rows = page.locator("[data-testid=orders] tbody tr")
    expect(rows).to_have_count(3)

    def row_of(order_id: int) -> tuple[Locator, Locator]:
        row = page.locator(f"tr[data-order-id='{order_id}']")
        return row, row.locator("[data-testid=order-status]")

    pay_row, pay_status = row_of(to_pay)
    expect(pay_status).to_have_text("pending payment")
    expect(pay_row).to_contain_text("pay by")
    click_and_reload(page, pay_row.get_by_role("button", name="Pay (sandbox)"))
    expect(pay_status).to_have_text("paid")
    expect(pay_row.locator("button")).to_have_count(0)

    # Cancelling asks first; saying no keeps the order.
    cancel_row, cancel_status = row_of(to_cancel)
    page.once("dialog", lambda dialog: dialog.dismiss())
    cancel_row.get_by_role("button", name="Cancel").click()
    expect(cancel_status).to_have_text("pending payment")
    assert stock(page, world.product_id, big) == 17
    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    click_and_reload(page, cancel_row.get_by_role("button", name="Cancel"))
    assert asked == [f"Cancel order #{to_cancel}?"]
    expect(cancel_status).to_have_text("cancelled")
    expect(cancel_row.locator("button")).to_have_count(0)
    assert stock(page, world.product_id, big) == 20  # back on sale

    done_row, done_status = row_of(delivered)
    expect(done_status).to_have_text("delivered")
    click_and_reload(page, done_row.get_by_role("button", name="Confirm receipt"))
    expect(done_status).to_have_text("completed")
    expect(done_row.locator("button")).to_have_count(0)

    page.reload()
    expect(rows.locator("[data-testid=order-status]")).to_have_text(
        ["completed", "cancelled", "paid"]
    )
    for order_id, status in ((to_pay, "paid"), (to_cancel, "cancelled"), (delivered, "completed")):
        response = page.request.get(f"/api/v1/orders/{order_id}")
        assert response.ok, response.text()
        assert response.json()["status"] == status
