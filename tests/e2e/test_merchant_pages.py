"""A merchant works the catalogue and the brand's orders through the page buttons in Chromium."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from tests.conftest import LiveServer
from tests.e2e.conftest import login, on_server_db
from tests.e2e.world import build_world, click_and_reload, place_order


def api_get(page: Page, path: str) -> Any:
    """GET the JSON API with the page's session cookie, as the page's scripts would."""
    response = page.request.get(path)
    assert response.ok, f"GET {path}: {response.status} {response.text()}"
    return response.json()


def test_merchant_creates_edits_delists_and_relists_products(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)
    page = new_context(viewport={"width": 1360, "height": 900}).new_page()
    login(page, live_server, world.merchant_id, "/merchant")

    brand = page.locator(f"[data-testid=brand-{world.brand_id}]")
    expect(brand.locator("h2")).to_have_text("Lumen Tea")
    expect(brand.locator("tbody tr")).to_have_count(1)
    expect(brand.locator(f"tr[data-product-id='{world.product_id}']")).to_contain_text(
        "Jasmine pearl green tea"
    )

    # A new product through the form, then its second SKU through the row's "Add SKU" form.
    form = page.locator("[data-testid=new-product]")
    form.get_by_label("Title").fill("Tieguanyin oolong")
    form.get_by_label("Category").fill("tea")
    form.get_by_label("Description").fill("Roasted, from Anxi")
    form.get_by_label("Code").fill("TG-100")
    form.get_by_label("Price").fill("59.90")
    form.get_by_label("Currency").select_option("CNY")
    form.get_by_label("Stock").fill("30")
    click_and_reload(page, form.get_by_role("button", name="Create product"))

    new_row = brand.locator("tbody tr", has_text="Tieguanyin oolong")
    expect(new_row).to_have_count(1)
    expect(new_row).to_contain_text("from CNY 59.90")
    new_id = int(new_row.get_attribute("data-product-id") or "0")
    new_row.get_by_label("New SKU code").fill("TG-250")
    new_row.get_by_label("New SKU price").fill("129")
    new_row.get_by_label("New SKU stock").fill("12")
    click_and_reload(page, new_row.get_by_role("button", name="Add SKU"))
    new_row = brand.locator(f"tr[data-product-id='{new_id}']")
    expect(new_row.get_by_label("Price of TG-100 (CNY)")).to_have_value("59.90")
    expect(new_row.get_by_label("Stock of TG-100")).to_have_value("30")
    expect(new_row.get_by_label("Price of TG-250 (CNY)")).to_have_value("129.00")
    expect(new_row.get_by_label("Stock of TG-250")).to_have_value("12")
    created = api_get(page, f"/api/v1/products/{new_id}")
    assert created["title"] == "Tieguanyin oolong"
    assert created["description"] == "Roasted, from Anxi"
    assert [(s["code"], s["price"], s["currency"], s["stock"]) for s in created["skus"]] == [
        ("TG-100", 5990, "CNY", 30),
        ("TG-250", 12900, "CNY", 12),
    ]

    # A new price and stock for the 100 g jasmine pack.
    row = brand.locator(f"tr[data-product-id='{world.product_id}']")
    sku_form = row.locator("[data-testid=sku-JP-100]")
    sku_form.get_by_label("Price of JP-100 (CNY)").fill("79.50")
    sku_form.get_by_label("Stock of JP-100").fill("45")
    click_and_reload(page, sku_form.get_by_role("button", name="Save"))
    expect(row.get_by_label("Price of JP-100 (CNY)")).to_have_value("79.50")
    expect(row.get_by_label("Stock of JP-100")).to_have_value("45")
    expect(row.get_by_label("Price of JP-250 (CNY)")).to_have_value("199.00")  # untouched

    # Delist, then list again; each shows after the reload.
    click_and_reload(page, row.get_by_role("button", name="Delist"))
    expect(row.locator(".status")).to_have_text("delisted")
    assert api_get(page, f"/api/v1/products/{world.product_id}")["status"] == "delisted"
    click_and_reload(page, row.get_by_role("button", name="List again"))
    expect(row.locator(".status")).to_have_text("active")
    expect(row.get_by_role("button", name="Delist")).to_be_visible()

    page.reload()
    expect(row.get_by_label("Price of JP-100 (CNY)")).to_have_value("79.50")
    expect(row.locator(".status")).to_have_text("active")
    product = api_get(page, f"/api/v1/products/{world.product_id}")
    assert product["status"] == "active"
    sku = next(s for s in product["skus"] if s["code"] == "JP-100")
    assert (sku["price"], sku["stock"]) == (7950, 45)
    history = api_get(page, f"/api/v1/skus/{sku['id']}/price-history")
    assert [(h["old_price"], h["new_price"]) for h in history] == [(None, 8900), (8900, 7950)]
    untouched = next(s for s in product["skus"] if s["code"] == "JP-250")
    untouched_history = api_get(page, f"/api/v1/skus/{untouched['id']}/price-history")
    assert [h["new_price"] for h in untouched_history] == [19900]


def test_merchant_ships_then_delivers_a_paid_order_of_their_brand(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)
    order_id = on_server_db(
        live_server,
        lambda c: place_order(
            c, world, buyer_id=world.alice_id, sku_id=world.sku_ids[1], quantity=2, until="paid"
        ),
    )
    page = new_context(viewport={"width": 1360, "height": 900}).new_page()
    login(page, live_server, world.merchant_id, "/merchant/orders")

    rows = page.locator("[data-testid=brand-orders] tbody tr")
    expect(rows).to_have_count(1)
    row = page.locator(f"tr[data-order-id='{order_id}']")
    expect(row).to_contain_text("2 × Jasmine pearl green tea")
    expect(row).to_contain_text("CNY 398.00")
    expect(row.locator(".status")).to_have_text("paid")
    expect(row.get_by_role("button", name="Mark delivered")).to_have_count(0)

    click_and_reload(page, row.get_by_role("button", name="Mark shipped"))
    expect(row.locator(".status")).to_have_text("shipped")
    expect(row.get_by_role("button", name="Mark shipped")).to_have_count(0)

    click_and_reload(page, row.get_by_role("button", name="Mark delivered"))
    expect(row.locator(".status")).to_have_text("delivered")
    expect(row.locator("button")).to_have_count(0)

    assert api_get(page, f"/api/v1/orders/{order_id}")["status"] == "delivered"
    # The status filter finds it under "delivered" and not under "paid".
    page.get_by_label("Status").select_option("delivered")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(f"tr[data-order-id='{order_id}']")).to_have_count(1)
    page.goto("/merchant/orders?status=paid")
    expect(page.locator(".empty")).to_contain_text("No orders with this status")


def test_merchant_prices_in_yen_have_no_minor_units(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)
    page = new_context(viewport={"width": 1360, "height": 900}).new_page()
    login(page, live_server, world.merchant_id, "/merchant")

    form = page.locator("[data-testid=new-product]")
    form.get_by_label("Title").fill("Uji matcha")
    form.get_by_label("Category").fill("tea")
    form.get_by_label("Code").fill("UM-30")
    form.get_by_label("Price").fill("1500")
    form.get_by_label("Currency").select_option("JPY")
    form.get_by_label("Stock").fill("8")
    click_and_reload(page, form.get_by_role("button", name="Create product"))

    row = page.locator(f"[data-testid=brand-{world.brand_id}] tbody tr", has_text="Uji matcha")
    expect(row).to_contain_text("from JPY 1,500")
    expect(row.get_by_label("Price of UM-30 (JPY)")).to_have_value("1500")
    product_id = int(row.get_attribute("data-product-id") or "0")

    row.get_by_label("New SKU code").fill("UM-100")
    row.get_by_label("New SKU price").fill("4200")
    row.get_by_label("New SKU stock").fill("3")
    click_and_reload(page, row.get_by_role("button", name="Add SKU"))
    # Saving a row unchanged keeps its price.
    click_and_reload(
        page, row.locator("[data-testid=sku-UM-30]").get_by_role("button", name="Save")
    )
    expect(row.get_by_label("Price of UM-100 (JPY)")).to_have_value("4200")

    skus = api_get(page, f"/api/v1/products/{product_id}")["skus"]
    assert [(s["code"], s["price"], s["currency"]) for s in skus] == [
        ("UM-30", 1500, "JPY"),
        ("UM-100", 4200, "JPY"),
    ]
