"""A coupon in Chromium: a consumer picks it in the room's cart, checks out, pays the discounted
total, and finds the discount on the orders page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from playwright.sync_api import BrowserContext, expect

from livecart.accounts import service as accounts
from livecart.bootstrap import Container
from livecart.commerce import service as commerce
from livecart.marketing import service as marketing
from livecart.marketing.schemas import Action, Arm, CampaignIn
from tests.conftest import LiveServer
from tests.e2e.conftest import login, on_server_db, screenshot
from tests.e2e.world import World, build_world


def _coupon_and_cart(world: World) -> Callable[[Container], Awaitable[int]]:
    async def work(container: Container) -> int:
        async with container.uow() as uow:
            operator = await accounts.load_identity(uow.session, world.operator_id)
            alice = await accounts.load_identity(uow.session, world.alice_id)
            assert operator is not None and alice is not None
            campaign = await marketing.create_campaign(
                uow.session,
                clock=container.clock,
                actor=operator,
                data=CampaignIn(
                    name="Tea coupon",
                    action=Action.coupon,
                    track=marketing.LIFECYCLE,
                    stage="new",
                    subject="20 off your tea",
                    coupon_code="TEA20",
                    coupon_amount=2000,
                    coupon_min_spend=10000,
                    holdout_percent=1,
                ),
            )
            assert marketing.arm_of(campaign.id, alice.id, 1) is Arm.treated
            await marketing.run_campaign(
                uow,
                clock=container.clock,
                actor=operator,
                campaign_id=campaign.id,
                outbox=None,
                base_url="http://127.0.0.1",
                audience=[alice.id],
            )
            await uow.commit()
        async with container.uow() as uow:
            await commerce.add_to_cart(
                uow,
                clock=container.clock,
                sink=container,
                actor=alice,
                sku_id=world.sku_ids[0],
                quantity=2,
                session_id=None,
            )
            await uow.commit()
        return campaign.id

    return work


def test_consumer_applies_a_coupon_at_checkout_and_pays_the_discounted_total(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)
    on_server_db(live_server, _coupon_and_cart(world))
    room_path = f"/live/{world.session_id}"
    alice = new_context(viewport={"width": 1280, "height": 800}).new_page()
    login(alice, live_server, world.alice_id, room_path)

    alice.click("[data-testid=cart-button]")
    choice = alice.locator("[data-testid=coupon]")
    expect(choice.locator("option")).to_have_count(2)
    expect(choice).to_contain_text("TEA20: CNY 20.00 off from CNY 100.00")
    choice.select_option(index=1)
    screenshot(alice, "coupon-cart.png")
    alice.click("[data-testid=checkout]")
    drawer = alice.locator("[data-testid=drawer]")
    expect(drawer.locator("[data-testid=discount]")).to_contain_text("CNY 20.00")
    expect(drawer).to_contain_text("CNY 158.00")  # 2 x 89.00 - 20.00
    alice.click("[data-testid=pay]")
    expect(alice.locator("[data-testid=paid]")).to_contain_text("Paid")

    alice.goto("/orders")
    row = alice.locator("[data-testid=orders] tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("CNY 158.00")
    expect(row.locator("[data-testid=order-discount]")).to_contain_text("CNY 20.00")
    expect(row.locator("[data-testid=order-status]")).to_have_text("paid")
