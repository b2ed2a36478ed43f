"""The consumer portrait page in Chromium: active hours, affinities, fan levels and RFM are
drawn by ECharts from the stored portrait (read back with getOption)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.catalog import service as catalog
from livecart.catalog.schemas import SkuIn
from livecart.events.sink import ParquetEventSink
from livecart.insights import portrait_store
from livecart.insights.portraits import Engine
from tests.conftest import LiveServer
from tests.e2e.conftest import login, on_server_db, screenshot
from tests.integration.test_portrait_store import day_events
from tests.support import make_user


async def portrait_world(container: Container, root: Path) -> dict[str, int]:
    """Two products in the catalogue, three days of a fan's and a shopper's events, stored."""
    operator_id = await make_user(container, Role.operator, name="Olga Operator")
    fan = await make_user(container, name="Fiona Fan")
    shopper = await make_user(container, name="Sam Shopper")
    anchor = await make_user(container, Role.anchor, name="Mia Live")
    async with container.uow() as uow:
        brand = await catalog.create_brand(
            uow.session, clock=container.clock, actor=None, name="Rouge", description="Lipsticks"
        )
        for title, category, price in (
            ("Velvet lipstick", "beauty", 4900),
            ("Silk scarf", "fashion", 25900),
        ):
            await catalog.create_product(
                uow.session,
                clock=container.clock,
                lexicon=container.lexicon,
                actor=None,
                brand_id=brand.id,
                title=title,
                category=category,
                skus=[
                    SkuIn(
                        code=f"SKU-{category}", price=price, currency="CNY", stock=5, attributes={}
                    )
                ],
            )
        await uow.commit()
    sink = ParquetEventSink(root, batch_size=10_000, flush_seconds=3600, fsync=False)
    for day in (1, 2, 3):
        for event in day_events(day, fan, shopper, anchor):
            sink.emit(event)
        await sink.flush()
    async with container.uow() as uow:
        await portrait_store.store_portraits(
            uow.session, root=root, engine=Engine.duckdb, now=container.clock.now()
        )
        await uow.commit()
    return {"operator_id": operator_id, "fan": fan, "anchor": anchor}


def chart_data(page: Page, chart_id: str) -> list[Any]:
    """The data of the first series ECharts holds for one chart, once drawn."""
    selector = f"#chart-{chart_id}"
    page.wait_for_function(
        "sel => window.echarts && window.echarts.getInstanceByDom(document.querySelector(sel))",
        arg=selector,
    )
    data: list[Any] = page.evaluate(
        "sel => window.echarts.getInstanceByDom(document.querySelector(sel))"
        ".getOption().series[0].data",
        selector,
    )
    return data


def test_portrait_page_draws_every_chart_from_the_stored_portrait(
    live_server: LiveServer, new_context: Any, tmp_path: Path
) -> None:
    world = on_server_db(live_server, lambda c: portrait_world(c, tmp_path / "events"))
    page = new_context(viewport={"width": 1280, "height": 1100}).new_page()
    path = f"/operator/consumers/{world['fan']}"
    login(page, live_server, world["operator_id"], path)
    expect(page.locator("h1")).to_contain_text("Fiona Fan")
    expect(page.locator("[data-tag=loyal_fan]")).to_be_visible()

    hours = chart_data(page, "active-hours")
    assert len(hours) == 24 and hours[20] == 18 and hours[21] == 0  # 6 events a day at 20:xx
    # The fan ordered the lipstick (5 per order line): all weight in beauty, Rouge, under 50.
    assert chart_data(page, "affinity-category") == [1]
    assert chart_data(page, "affinity-brand") == [1]
    assert chart_data(page, "affinity-price-band") == [1]
    assert chart_data(page, "fan-levels") == [4]
    rfm = chart_data(page, "rfm")
    assert len(rfm) == 1 and len(rfm[0]["value"]) == 3 and all(v >= 1 for v in rfm[0]["value"])
    labels = page.evaluate(
        "() => window.echarts.getInstanceByDom(document.querySelector('#chart-fan-levels'))"
        ".getOption().yAxis[0].data"
    )
    assert labels == ["Mia Live"]
    screenshot(page, "portrait.png")

    # The charts are drawn at once for a reader who asked for less motion, as this context
    # did (tests/e2e/conftest.py), and grow into place for everyone else.
    animation = (
        "() => window.echarts.getInstanceByDom(document.querySelector('#chart-rfm'))"
        ".getOption().animation"
    )
    assert page.evaluate(animation) is False
    moving = new_context(reduced_motion="no-preference").new_page()
    login(moving, live_server, world["operator_id"], path)
    chart_data(moving, "rfm")
    assert moving.evaluate(animation) is not False
