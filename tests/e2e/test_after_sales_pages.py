"""After-sales in Chromium: a buyer asks for a no-reason return on /orders, the merchant
approves it and receives the goods in the after-sales queue (refunded through the sandbox
provider), and the brand scorecard draws its ECharts with the rates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from livecart.accounts import service as accounts
from livecart.bootstrap import Container
from livecart.commerce import service as commerce
from livecart.commerce.schemas import AfterSalesRequestIn, ReturnReason
from tests.conftest import LiveServer
from tests.e2e.conftest import login, on_server_db, screenshot
from tests.e2e.world import World, build_world, click_and_reload, place_order


async def complain(container: Container, world: World, order_id: int) -> int:
    """Bob asks for a refund on a fault (quality) through the service; the request's id."""
    async with container.uow() as uow:
        bob = await accounts.load_identity(uow.session, world.bob_id)
        assert bob is not None
        request = await commerce.create_after_sales_request(
            uow.session,
            clock=container.clock,
            actor=bob,
            order_id=order_id,
            body=AfterSalesRequestIn(
                sku_id=world.sku_ids[1], quantity=1, reason=ReturnReason.quality, text="bitter"
            ),
            policy=commerce.after_sales_policy(container.settings),
        )
        await uow.commit()
        return request.id


def chart_option(page: Page, chart_id: str) -> dict[str, Any]:
    """The option ECharts holds for one of the scorecard's charts, once it is drawn."""
    selector = f"#scorecard-{chart_id}"
    page.wait_for_function(
        "sel => window.echarts && window.echarts.getInstanceByDom(document.querySelector(sel))",
        arg=selector,
    )
    option: dict[str, Any] = page.evaluate(
        "sel => { const o = window.echarts.getInstanceByDom(document.querySelector(sel))"
        ".getOption(); return {x: o.xAxis[0].data, series: o.series.map("
        "s => ({name: s.name, type: s.type, data: s.data}))}; }",
        selector,
    )
    return option


def test_a_return_is_refunded_from_the_pages_and_the_scorecard_charts_the_rates(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)
    small, big = world.sku_ids

    def order(buyer_id: int, sku_id: int, quantity: int, until: str) -> int:
        return on_server_db(
            live_server,
            lambda c: place_order(
                c, world, buyer_id=buyer_id, sku_id=sku_id, quantity=quantity, until=until
            ),
        )

    returned = order(world.alice_id, small, 2, "delivered")
    complained = order(world.bob_id, big, 1, "delivered")
    order(world.bob_id, small, 1, "paid")
    on_server_db(live_server, lambda c: complain(c, world, complained))

    buyer = new_context(viewport={"width": 1280, "height": 900}).new_page()
    login(buyer, live_server, world.alice_id, "/orders")
    returns = buyer.locator("[data-testid=returns]")
    expect(returns.locator("[data-testid=request-return]")).to_be_visible()
    returns.locator("[data-testid=return-line]").select_option(f"{returned}:{small}")
    returns.get_by_label("Units").fill("1")
    returns.locator("[data-testid=return-reason]").select_option("no_reason")
    returns.get_by_label("What happened").fill("changed my mind")
    with buyer.expect_navigation():
        returns.get_by_role("button", name="Send request").click()
    mine = returns.locator("[data-testid=after-sales] tbody tr")
    expect(mine).to_have_count(1)
    expect(mine.locator("[data-testid=after-sales-status]")).to_have_text("requested")
    expect(mine).to_contain_text("changed my mind")

    merchant = new_context(viewport={"width": 1280, "height": 900}).new_page()
    login(merchant, live_server, world.merchant_id, "/merchant/after-sales")
    queue = merchant.locator("[data-testid=after-sales-queue] tbody tr")
    expect(queue).to_have_count(2)
    row = queue.filter(has_text="changed my mind")
    expect(row.locator("[data-testid=sla-timer]")).to_have_text("47 h 59 min left")
    click_and_reload(merchant, row.get_by_role("button", name="Approve"))
    answered = merchant.locator("[data-testid=after-sales-answered] tbody tr")
    expect(answered).to_have_count(1)
    expect(answered).to_contain_text("awaiting return")
    click_and_reload(merchant, answered.get_by_role("button", name="Goods received: refund"))
    expect(answered).to_contain_text("refunded")

    buyer.reload()
    expect(mine.locator("[data-testid=after-sales-status]")).to_have_text("refunded")
    refunds = buyer.request.get(f"/api/v1/orders/{returned}/refunds")
    assert refunds.ok, refunds.text()
    (refund,) = refunds.json()
    assert refund["amount"] == 8900 and refund["currency"] == "CNY"
    assert refund["provider"] == "sandbox" and refund["reference"].startswith("sbx_re_")

    # Three paid orders: one returned (no reason), one complained about (and waiting).
    merchant.goto("/merchant/scorecard")
    figures = merchant.locator("[data-testid=scorecard-figures]")
    expect(figures.locator("[data-figure=orders]")).to_have_text("3")
    expect(figures.locator("[data-figure=returns]")).to_have_text("2")
    expect(figures.locator("[data-figure=complaints]")).to_have_text("1")
    expect(figures.locator("[data-slot=risk-score]")).to_be_visible()
    expect(figures.locator("[data-slot=service-score]")).to_be_visible()
    products = chart_option(merchant, "products")
    assert products["x"] == ["Jasmine pearl green tea"]
    assert [(s["name"], s["type"], s["data"]) for s in products["series"]] == [
        ("return rate", "bar", [66.7]),
        ("complaint rate", "bar", [33.3]),
    ]
    weeks = chart_option(merchant, "weeks")
    assert len(weeks["x"]) == 12
    rates = {s["name"]: s["data"] for s in weeks["series"]}
    assert rates["return rate"][-1] == 66.7 and rates["complaint rate"][-1] == 33.3
    assert rates["paid orders"][-1] == 3 and sum(rates["paid orders"]) == 3
    screenshot(merchant, "brand-scorecard.png")

    operator = new_context(viewport={"width": 1280, "height": 900}).new_page()
    login(operator, live_server, world.operator_id, f"/operator/brands/{world.brand_id}/scorecard")
    expect(operator.locator("h1")).to_have_text("Brand scorecard: Lumen Tea")
    assert chart_option(operator, "products")["series"][0]["data"] == [66.7]
