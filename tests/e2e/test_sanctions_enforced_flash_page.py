"""A frozen flash sale in the browser: Buy is refused, the countdown says frozen and why."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import BrowserContext, expect

from livecart.accounts import service as accounts
from livecart.bootstrap import Container
from livecart.supervision import service as supervision
from livecart.supervision.risk_schemas import LiftIn, SanctionIn, SanctionKind
from livecart.supervision.sanctions import SanctionParty
from tests.conftest import LiveServer
from tests.e2e.conftest import login, on_server_db, screenshot
from tests.e2e.world import anchor_creates_sale, build_world

REASON = "the gift in the banner is not shipped"


def test_a_frozen_sale_shows_frozen_with_the_reason_and_cannot_be_bought(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)

    async def open_sale(container: Container) -> int:
        return await anchor_creates_sale(
            container,
            world,
            start=True,
            price=4500,
            quantity=3,
            banner="Last 3 pieces at this price",
        )

    sale_id = on_server_db(live_server, open_sale)
    alice = new_context().new_page()
    login(alice, live_server, world.alice_id, f"/live/{world.session_id}")
    expect(alice.locator("[data-testid=flash-banner]")).to_have_text("Last 3 pieces at this price")
    expect(alice.locator("[data-testid=flash-status]")).to_have_text("3 of 3 left")
    expect(alice.locator("[data-testid=flash-buy]")).to_be_enabled()

    async def freeze(container: Container) -> int:
        async with container.uow() as uow:
            operator = await accounts.load_identity(uow.session, world.operator_id)
            assert operator is not None
            out = await supervision.impose_sanction(
                uow.session,
                clock=container.clock,
                actor=operator,
                data=SanctionIn(
                    kind=SanctionKind.freeze_flash_sale, subject_id=sale_id, reason=REASON
                ),
                party=SanctionParty(user_id=world.anchor_id),
            )
            await uow.commit()
        return out.id

    sanction_id = on_server_db(live_server, freeze)
    # Alice's page still shows the sale open; her purchase is refused and the page learns why.
    alice.locator("[data-testid=flash-buy]").click()
    box = alice.locator("[data-testid=flash]")
    expect(alice.locator("[data-testid=flash-blocked]")).to_have_text(
        f"Frozen by the platform: {REASON}"
    )
    expect(box).to_have_attribute("data-blocked", "flash_sale_frozen")
    expect(alice.locator("[data-testid=flash-countdown]")).to_have_text("frozen")
    expect(alice.locator("[data-testid=flash-buy]")).to_be_disabled()
    screenshot(alice, "flash-frozen.png")
    # A viewer arriving now sees it frozen from the start.
    bob = new_context().new_page()
    login(bob, live_server, world.bob_id, f"/live/{world.session_id}")
    expect(bob.locator("[data-testid=flash-blocked]")).to_contain_text(REASON)
    expect(bob.locator("[data-testid=flash-buy]")).to_be_disabled()

    async def lift(container: Container) -> None:
        async with container.uow() as uow:
            operator = await accounts.load_identity(uow.session, world.operator_id)
            assert operator is not None
            await supervision.lift_sanction(
                uow.session,
                clock=container.clock,
                actor=operator,
                sanction_id=sanction_id,
                data=LiftIn(reason="shipped"),
            )
            await uow.commit()

    on_server_db(live_server, lift)
    bob.reload()
    expect(bob.locator("[data-testid=flash-status]")).to_have_text("3 of 3 left")
    expect(bob.locator("[data-testid=flash-blocked]")).to_have_count(0)
    bob.locator("[data-testid=flash-buy]").click()
    expect(bob.locator("[data-testid=flash]")).to_contain_text("Got it! Order #")
