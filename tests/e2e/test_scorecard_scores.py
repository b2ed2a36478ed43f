"""The brand scorecard's risk and service scores in Chromium: the figures, the tables and the
ECharts series (after-sales rates, each risk signal's contribution, the service components of
the brand and of the platform) hold what the services compute for a seeded world."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import BrowserContext, Locator, Page, expect

from livecart.bootstrap import Container
from livecart.commerce import service as commerce
from livecart.commerce.schemas import BrandAfterSalesReport
from livecart.service import service as customer_service
from livecart.service.schemas import ServiceScoreOut
from livecart.supervision import service as supervision
from livecart.supervision.risk_schemas import RiskScoreOut
from tests.conftest import LiveServer
from tests.e2e.conftest import login, on_server_db, screenshot
from tests.e2e.risk_world import build_risk_world

COMPONENTS = ("question_response", "ticket_response", "resolution", "satisfaction")


def computed(
    server: LiveServer, brand_id: int
) -> tuple[RiskScoreOut, ServiceScoreOut, ServiceScoreOut, BrandAfterSalesReport]:
    """The brand's risk score, its and the platform's service scores, its after-sales report."""

    async def work(
        container: Container,
    ) -> tuple[RiskScoreOut, ServiceScoreOut, ServiceScoreOut, BrandAfterSalesReport]:
        async with container.uow() as uow:
            now = container.clock.now()
            return (
                await supervision.risk_score(
                    uow.session, subject_kind="brand", subject_id=brand_id, now=now
                ),
                await customer_service.service_score(uow.session, brand_id=brand_id, now=now),
                await customer_service.service_score(uow.session, brand_id=None, now=now),
                await commerce.brand_after_sales_report(
                    uow.session, clock=container.clock, brand_id=brand_id
                ),
            )

    return on_server_db(server, work)


def chart_option(page: Page, chart_id: str) -> dict[str, Any]:
    """The x labels and series ECharts holds for one of the scorecard's charts, once drawn."""
    selector = f"#scorecard-{chart_id}"
    page.wait_for_function(
        "sel => window.echarts && window.echarts.getInstanceByDom(document.querySelector(sel))",
        arg=selector,
    )
    option: dict[str, Any] = page.evaluate(
        "sel => { const o = window.echarts.getInstanceByDom(document.querySelector(sel))"
        ".getOption(); return {x: o.xAxis[0].data, unit: o.yAxis[0].name, series: o.series.map("
        "s => ({name: s.name, type: s.type, data: s.data}))}; }",
        selector,
    )
    return option


def pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def pct_text(value: float | None) -> str:
    return "—" if value is None else f"{round(100 * value, 1)} %"


def cells(table: Locator, row: str) -> Locator:
    return table.locator(f"tr[data-row='{row}'] td")


def check_scorecard(
    page: Page,
    risk: RiskScoreOut,
    brand: ServiceScoreOut,
    platform: ServiceScoreOut,
    report: BrandAfterSalesReport,
) -> None:
    figures = page.locator("[data-testid=scorecard-figures]")
    expect(figures.locator("[data-figure=orders]")).to_have_text(str(report.totals.orders))
    expect(figures.locator("[data-figure=risk-score]")).to_have_text(str(round(risk.score, 1)))
    expect(figures.locator("[data-figure=risk-level]")).to_have_text(risk.level)
    assert brand.score is not None and platform.score is not None
    expect(figures.locator("[data-figure=service-score]")).to_have_text(str(brand.score))
    expect(figures.locator("[data-figure=platform-service-score]")).to_have_text(
        str(platform.score)
    )

    # After-sales charts (the rates of the paid orders of the 12 weeks).
    products = chart_option(page, "products")
    assert products["x"] == [p.title for p in report.products]
    assert [s["data"] for s in products["series"]] == [
        [pct(p.return_rate) for p in report.products],
        [pct(p.complaint_rate) for p in report.products],
    ]
    weeks = chart_option(page, "weeks")
    assert len(weeks["x"]) == len(report.weeks)
    by_name = {s["name"]: s["data"] for s in weeks["series"]}
    assert by_name["paid orders"] == [w.orders for w in report.weeks]

    # Risk: one bar per signal, in points; the table beside it.
    drawn = chart_option(page, "risk")
    assert drawn["x"] == [c.signal for c in risk.contributions]
    assert drawn["unit"] == "points"
    (series,) = drawn["series"]
    assert series["type"] == "bar"
    assert series["data"] == [round(c.contribution, 1) for c in risk.contributions]
    assert sum(series["data"]) > 0, "the risk chart is empty"
    rows = page.locator("table[data-testid=risk-contributions] tbody tr")
    expect(rows).to_have_count(len(risk.contributions))
    for position, c in enumerate(risk.contributions):
        row = rows.nth(position)
        expect(row).to_have_attribute("data-signal", c.signal)
        expect(row.locator("td")).to_have_text(
            [
                c.signal,
                str(round(c.value, 3)),
                str(round(c.weight, 1)),
                str(round(c.contribution, 1)),
                c.detail,
            ]
        )

    # Service: the components of the brand beside the platform's, drawn and in the table.
    service = chart_option(page, "service")
    assert len(service["x"]) == len(COMPONENTS)
    assert [s["name"] for s in service["series"]] == ["brand", "platform"]
    assert service["series"][0]["data"] == [pct(brand.components[k]) for k in COMPONENTS]
    assert service["series"][1]["data"] == [pct(platform.components[k]) for k in COMPONENTS]
    assert any(v for v in service["series"][0]["data"]), "the service chart is empty"
    table = page.locator("table[data-testid=service-score]")
    expect(cells(table, "score")).to_have_text([str(brand.score), str(platform.score)])
    for key in COMPONENTS:
        expect(cells(table, key)).to_have_text(
            [pct_text(brand.components[key]), pct_text(platform.components[key])]
        )
    expect(cells(table, "tickets")).to_have_text(
        [f"{s.tickets_resolved} of {s.tickets}" for s in (brand, platform)]
    )
    expect(cells(table, "questions")).to_have_text(
        [f"{s.questions_answered_in_time} of {s.questions}" for s in (brand, platform)]
    )


def test_scorecard_shows_the_brands_risk_and_service_scores_beside_the_platforms(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    seeded = on_server_db(live_server, build_risk_world)
    world = seeded.world
    risk, brand, platform, report = computed(live_server, world.brand_id)
    # The seeded tickets (risk_world): Lumen Tea answered 1 h and 30 h after opening, one of
    # two resolved after 2 h and rated 5; Kettle Co answered after 30 min, resolved after 1 h,
    # rated 2.
    assert (brand.tickets, brand.tickets_responded_in_time, brand.tickets_resolved) == (2, 1, 1)
    assert brand.median_ticket_response_seconds == 15.5 * 3600
    assert brand.median_resolution_seconds == 2 * 3600
    assert brand.mean_satisfaction == 5.0 and platform.mean_satisfaction == 3.5
    assert platform.median_ticket_response_seconds == 3600
    assert platform.median_resolution_seconds == 1.5 * 3600
    assert brand.score != platform.score

    merchant = new_context(viewport={"width": 1360, "height": 1000})
    merchant.set_default_timeout(30_000)  # the shared machine is slow at times
    page = merchant.new_page()
    login(page, live_server, world.merchant_id, "/merchant/scorecard")
    check_scorecard(page, risk, brand, platform, report)
    table = page.locator("table[data-testid=service-score]")
    expect(cells(table, "ticket-first-response")).to_have_text(["15 h 30 min", "1 h 0 min"])
    expect(cells(table, "resolution-time")).to_have_text(["2 h 0 min", "1 h 30 min"])
    expect(cells(table, "question-first-response")).to_have_text(["—", "—"])
    expect(cells(table, "mean-satisfaction")).to_have_text(
        ["5.0 (1 rated)", "3.5 (2 rated)"], use_inner_text=True
    )
    page.set_viewport_size({"width": 1360, "height": 1500})  # down to the service table
    screenshot(page, "brand-scorecard.png")

    # The operator sees the same numbers on the brand's page; the other brand's merchant
    # cannot open it.
    operator = new_context(viewport={"width": 1360, "height": 1000}).new_page()
    login(operator, live_server, world.operator_id, f"/operator/brands/{world.brand_id}/scorecard")
    check_scorecard(operator, risk, brand, platform, report)
    other = new_context().new_page()
    login(other, live_server, seeded.other_merchant_id, "/")
    response = other.goto(f"/merchant/scorecard?brand_id={world.brand_id}")
    assert response is not None and response.status == 403
