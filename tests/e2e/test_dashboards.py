"""Dashboards in Chromium: every ECharts chart of the operator's, the merchant's and the
anchor's dashboard is drawn with data; the home page shows a 'For you' row."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import BrowserContext, Page, expect

from livecart.accounts import service as accounts
from livecart.bootstrap import Container
from livecart.commerce import service as commerce
from livecart.commerce.schemas import OrderItemIn
from livecart.events import service as events
from livecart.events.schemas import EventType
from tests.conftest import LiveServer
from tests.e2e.conftest import login, on_server_db, screenshot
from tests.e2e.world import World, build_world

ANONYMOUS = "0b0f6c2e-3a52-4a3e-9d1c-2f1f7a1d9e11"


async def _activity(container: Container, world: World) -> None:
    """Alice, Bob and an anonymous viewer watch and click; Alice buys and pays, Bob buys."""
    live = {"session_id": world.session_id, "room_id": world.room_id, "anchor_id": world.anchor_id}
    now = container.clock.now()
    seen = [
        events.new_event(EventType.JOIN, occurred_at=now, anonymous_id=ANONYMOUS, **live),
        *(
            events.new_event(kind, occurred_at=now, consumer_id=uid, product_id=pid, **live)
            for uid in (world.alice_id, world.bob_id)
            for kind, pid in ((EventType.JOIN, None), (EventType.PRODUCT_CLICK, world.product_id))
        ),
    ]
    events.emit(container, *seen)
    for buyer_id, pay in ((world.alice_id, True), (world.bob_id, False)):
        async with container.uow() as uow:
            buyer = await accounts.load_identity(uow.session, buyer_id)
            assert buyer is not None
            order = await commerce.create_order(
                uow,
                clock=container.clock,
                sink=container,
                actor=buyer,
                items=[OrderItemIn(sku_id=world.sku_ids[0], quantity=2)],
                session_id=world.session_id,
                idempotency_key=f"dashboard-{buyer_id}",
                payment_minutes=container.settings.order_payment_minutes,
            )
            if pay:
                await commerce.pay_order(
                    uow,
                    clock=container.clock,
                    provider=container.payments,
                    sink=container,
                    actor=buyer,
                    order_id=order.id,
                )
            await uow.commit()
    await container.events.flush()


def _charts_have_data(page: Page) -> dict[str, int]:
    """Points per chart, read from ECharts itself."""
    page.wait_for_selector("body[data-charts-ready='1']")
    found: dict[str, int] = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('[data-chart]')].map(el => {
            const chart = echarts.getInstanceByDom(el);
            const series = chart ? chart.getOption().series : [];
            const points = series.reduce((n, s) => n + (s.data || []).filter(v => v).length, 0);
            return [el.dataset.chart, points];
        }))"""
    )
    return found


def test_dashboards_draw_every_chart_with_data(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)
    on_server_db(live_server, lambda c: _activity(c, world))
    viewport = {"width": 1360, "height": 1000}

    def open_page() -> Page:
        context = new_context(viewport=viewport)
        context.set_default_timeout(30_000)  # the shared machine is slow at times
        return context.new_page()

    page = open_page()
    login(page, live_server, world.operator_id, "/operator/dashboard")
    points = _charts_have_data(page)
    assert set(points) == {"funnel-session", "funnel-anchor", "funnel-brand", "gmv"}
    assert all(n > 0 for n in points.values()), points
    row = page.locator(f"table[data-funnel='session'] tr[data-key='{world.session_id}'] td")
    # viewers, product clicks, cart, orders, paid
    expect(row).to_have_text([f"session #{world.session_id}", "3", "2", "0", "2", "1", "2", "1"])
    screenshot(page, "dashboard-operator.png")
    page.get_by_label("GMV of anchor").select_option(str(world.anchor_id))
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**anchor={world.anchor_id}*")
    assert _charts_have_data(page)["gmv"] > 0

    merchant = open_page()
    login(merchant, live_server, world.merchant_id, "/merchant/dashboard")
    points = _charts_have_data(merchant)
    assert set(points) == {"funnel-session", "funnel-anchor", "gmv"}
    assert all(n > 0 for n in points.values()), points
    expect(merchant.locator("h1")).to_have_text("Lumen Tea: brand dashboard")
    screenshot(merchant, "dashboard-merchant.png")

    anchor = open_page()
    login(anchor, live_server, world.anchor_id, "/console")
    anchor.get_by_role("link", name="Dashboard of my sessions").click()
    anchor.wait_for_url("**/console/dashboard")
    points = _charts_have_data(anchor)
    assert set(points) == {"funnel-session", "funnel-brand", "gmv"}
    assert all(n > 0 for n in points.values()), points
    screenshot(anchor, "dashboard-anchor.png")

    # A consumer may not open the operator's dashboard.
    alice = open_page()
    login(alice, live_server, world.alice_id, "/")
    section = alice.get_by_test_id("for-you")
    expect(section).to_be_visible()
    expect(section).to_have_attribute("data-personalised", "1")
    expect(section.locator(".for-you-item").first).to_be_visible()
    response = alice.goto("/operator/dashboard")
    assert response is not None and response.status == 403
