"""The marketing page in Chromium: the segment builder counts live while a rule is edited and
saves it; segment sizes, lifecycle stage flows (sankey) and campaign uplift with 95% error bars
are drawn by ECharts from the data (read back with getOption)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.demo.marketing import seed_marketing
from livecart.insights.models import ConsumerPortrait
from livecart.marketing import service as marketing
from tests.conftest import LiveServer
from tests.e2e.conftest import login, on_server_db, screenshot
from tests.integration.test_marketing import store_portrait
from tests.support import make_user


async def marketing_world(container: Container) -> dict[str, Any]:
    """40 portrayed consumers, two runs of the stage job, a segment and a measured campaign."""
    operator_id = await make_user(container, Role.operator, name="Olga Operator")
    people = [await make_user(container) for _ in range(40)]
    for i, uid in enumerate(people):
        await store_portrait(
            container,
            uid,
            beauty=(i % 10) / 10,
            expected=(i % 4) / 4,
            sessions=i % 5,
            orders=i % 3 if i % 2 else 0,
            recency=10 if i % 4 else 90,
            p_alive=0.8,
        )
    async with container.uow() as uow:
        await marketing.run_stages(uow.session, clock=container.clock)
        # A week later, the first ten buy: they move on (new/engaged -> converted, ...).
        for uid in people[:10]:
            portrait = await uow.session.get(ConsumerPortrait, uid)
            assert portrait is not None
            portrait.orders, portrait.recency_days = portrait.orders + 1, 1
        await uow.session.flush()
        await marketing.run_stages(uow.session, clock=container.clock)
        operator = await accounts.load_identity(uow.session, operator_id)
        await uow.commit()
    assert operator is not None
    campaign_id = await seed_marketing(
        container, operator=operator, consumer_ids=people, now=container.clock.now()
    )
    return {"operator_id": operator_id, "campaign_id": campaign_id, "people": len(people)}


def chart_option(page: Page, chart_id: str) -> dict[str, Any]:
    """The option ECharts holds for one of the page's charts, once drawn."""
    selector = f"#mk-chart-{chart_id}"
    page.wait_for_function(
        "sel => window.echarts && window.echarts.getInstanceByDom(document.querySelector(sel))",
        arg=selector,
    )
    option: dict[str, Any] = page.evaluate(
        "sel => { const o = window.echarts.getInstanceByDom(document.querySelector(sel))"
        ".getOption(); return {x: o.xAxis ? o.xAxis[0].data : null, series: o.series.map("
        "s => ({name: s.name, type: s.type, data: s.data, links: s.links || null}))}; }",
        selector,
    )
    return option


def test_marketing_page_builds_segments_and_draws_flows_and_uplift(
    live_server: LiveServer, new_context: Any
) -> None:
    world = on_server_db(live_server, marketing_world)
    page = new_context(viewport={"width": 1280, "height": 900}).new_page()
    login(page, live_server, world["operator_id"], "/operator/marketing")
    expect(page.locator("h1")).to_have_text("Marketing")

    # The builder: no condition matches every portrait; one condition narrows it live.
    count = page.get_by_test_id("live-count")
    expect(count).to_have_text(str(world["people"]))
    page.click("#mk-add")
    row = page.locator("#mk-conditions .mk-condition").first
    row.locator(".mk-kind").select_option("affinity")
    row.locator(".mk-key").fill("beauty")
    row.locator(".mk-op").select_option(">")
    row.locator(".mk-value").fill("0.6")
    expect(count).to_have_text("12")  # beauty 0.7, 0.8, 0.9: 3 of every 10
    page.fill("#mk-name", "Beauty lovers")
    page.click("#mk-save")
    page.wait_for_load_state("load")
    expect(page.locator("text=Beauty lovers").first).to_be_visible()

    sizes = chart_option(page, "sizes")
    assert sizes["x"] is not None and "Beauty lovers" in sizes["x"]
    bars = dict(zip(sizes["x"], sizes["series"][0]["data"], strict=True))
    assert bars["Beauty lovers"] == 12

    flows = chart_option(page, "flows")
    (sankey,) = flows["series"]
    assert sankey["type"] == "sankey"
    moves = {(link["source"], link["target"]): link["value"] for link in sankey["links"]}
    assert sum(v for (src, _), v in moves.items() if src == "from entry") == world["people"]
    assert any(src != "from entry" for src, _ in moves)  # the second run moved people on
    screenshot(page, "marketing-segments.png")

    uplift = chart_option(page, "uplift")
    names = [s["name"] for s in uplift["series"]]
    assert names == [
        "conversion uplift",
        "conversion 95% CI",
        "GMV per consumer uplift",
        "GMV 95% CI",
    ]
    estimate = uplift["series"][0]["data"][0]
    _, low, high = uplift["series"][1]["data"][0]
    assert low <= estimate <= high
    page.locator("[data-testid=chart-uplift]").scroll_into_view_if_needed()
    screenshot(page, "marketing-uplift.png")
    page.locator("[data-testid=chart-flows]").scroll_into_view_if_needed()
    screenshot(page, "marketing-flows.png")
