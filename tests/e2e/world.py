"""A small live world for browser tests, built through the services on the server's database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.catalog import service as catalog
from livecart.catalog.schemas import SkuIn
from livecart.commerce import service as commerce
from livecart.commerce.schemas import OrderItemIn
from livecart.flashsale import service as flash
from livecart.flashsale.schemas import FlashSaleIn
from livecart.live import service as live
from tests.support import approve_for_live, make_user, qualify_anchor


@dataclass(frozen=True)
class World:
    brand_id: int
    product_id: int
    sku_ids: list[int]
    anchor_id: int
    merchant_id: int
    operator_id: int
    alice_id: int
    bob_id: int
    room_id: int
    session_id: int


async def build_world(container: Container) -> World:
    """A brand with one product (two SKUs), an anchor live in a room with it in the showcase."""
    anchor_id = await make_user(container, Role.anchor, name="Mia Live")
    operator_id = await make_user(container, Role.operator, name="Olga Operator")
    alice_id = await make_user(container, name="Alice")
    bob_id = await make_user(container, name="Bob")
    async with container.uow() as uow:
        brand = await catalog.create_brand(
            uow.session, clock=container.clock, actor=None, name="Lumen Tea", description="Teas"
        )
        product = await catalog.create_product(
            uow.session,
            clock=container.clock,
            lexicon=container.lexicon,
            actor=None,
            brand_id=brand.id,
            title="Jasmine pearl green tea",
            category="tea",
            skus=[
                SkuIn(
                    code="JP-100",
                    price=8900,
                    currency="CNY",
                    stock=50,
                    attributes={"size": "100 g"},
                ),
                SkuIn(
                    code="JP-250",
                    price=19900,
                    currency="CNY",
                    stock=20,
                    attributes={"size": "250 g"},
                ),
            ],
        )
        await uow.commit()
    merchant_id = await make_user(container, Role.merchant, brand_id=brand.id, name="Max Merchant")
    await qualify_anchor(container, anchor_id)
    await approve_for_live(container, product.id)
    async with container.uow() as uow:
        anchor = await accounts.load_identity(uow.session, anchor_id)
        assert anchor is not None
        room = await live.create_room(
            uow.session, clock=container.clock, actor=anchor, title="Mia's tea house"
        )
        created = await live.create_session(
            uow.session, clock=container.clock, actor=anchor, room_id=room.id, title="Spring teas"
        )
        await live.add_to_showcase(
            uow.session,
            clock=container.clock,
            actor=anchor,
            session_id=created.id,
            product_id=product.id,
        )
        await uow.commit()
    async with container.uow() as uow:
        await live.start_session(uow, clock=container.clock, actor=anchor, session_id=created.id)
        await uow.commit()
    return World(
        brand_id=brand.id,
        product_id=product.id,
        sku_ids=[s.id for s in product.skus],
        anchor_id=anchor_id,
        merchant_id=merchant_id,
        operator_id=operator_id,
        alice_id=alice_id,
        bob_id=bob_id,
        room_id=room.id,
        session_id=created.id,
    )


async def anchor_creates_sale(
    container: Container, world: World, *, start: bool = False, **fields: Any
) -> int:
    """A flash sale of the world's first SKU in its session, created by its anchor (and
    started with `start`); fields go to FlashSaleIn."""
    async with container.uow() as uow:
        anchor = await accounts.load_identity(uow.session, world.anchor_id)
        assert anchor is not None
        sale = await flash.create_sale(
            uow,
            clock=container.clock,
            actor=anchor,
            lexicon=container.lexicon,
            body=FlashSaleIn(session_id=world.session_id, sku_id=world.sku_ids[0], **fields),
        )
        await uow.commit()
    if start:
        async with container.uow() as uow:
            await flash.start_sale(uow, container.flash, actor=anchor, sale_id=sale.id)
            await uow.commit()
    return sale.id


ORDER_STEPS = ("pending_payment", "paid", "shipped", "delivered")


async def place_order(
    container: Container,
    world: World,
    *,
    buyer_id: int,
    sku_id: int,
    quantity: int = 1,
    until: str = "pending_payment",
) -> int:
    """An order of the world's brand, moved on through the services to `until`; its id."""
    steps = ORDER_STEPS[: ORDER_STEPS.index(until) + 1]
    async with container.uow() as uow:
        buyer = await accounts.load_identity(uow.session, buyer_id)
        merchant = await accounts.load_identity(uow.session, world.merchant_id)
        assert buyer is not None and merchant is not None
        order = await commerce.create_order(
            uow,
            clock=container.clock,
            sink=container,
            actor=buyer,
            items=[OrderItemIn(sku_id=sku_id, quantity=quantity)],
            session_id=None,
            idempotency_key=f"e2e-{buyer_id}-{sku_id}-{quantity}-{until}",
            payment_minutes=container.settings.order_payment_minutes,
        )
        if "paid" in steps:
            await commerce.pay_order(
                uow,
                clock=container.clock,
                provider=container.payments,
                sink=container,
                actor=buyer,
                order_id=order.id,
            )
        if "shipped" in steps:
            await commerce.ship_order(
                uow.session, clock=container.clock, actor=merchant, order_id=order.id
            )
        if "delivered" in steps:
            await commerce.deliver_order(
                uow.session, clock=container.clock, actor=merchant, order_id=order.id
            )
        await uow.commit()
        return order.id


def click_and_reload(page: Page, target: Locator) -> None:
    """Click an action button of the pages (actions.js) and wait for the page to reload;
    on failure, say what the page's flash showed."""
    try:
        with page.expect_navigation(timeout=10_000):
            target.click()
    except PlaywrightError as exc:
        flash = page.locator(".flash-slot")
        shown = flash.inner_text() if flash.count() and flash.first.is_visible() else ""
        raise AssertionError(f"the page did not reload after the action; flash: {shown!r}") from exc
