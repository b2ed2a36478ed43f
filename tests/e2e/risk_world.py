"""A world with risk and service history for the risk dashboard and brand scorecard tests.

Built through the services on the live server's database: on top of `build_world` (the brand
Lumen Tea, its product, the anchor's live session), three paid orders of which two are
complained about, two consumer reports about those orders (actioned), two from the live
session (new; they also raise an overturn alert), service tickets of Lumen Tea and of a second
brand with known timings, and the product's description edited by its merchant with a word
the compliance lexicon warns about (accepted, kept as a hit of the product and its brand).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.catalog import service as catalog
from livecart.commerce import service as commerce
from livecart.commerce.schemas import AfterSalesRequestIn, ReturnReason
from livecart.core.clock import FrozenClock
from livecart.service import service as customer_service
from livecart.service.schemas import TicketIn
from livecart.supervision import service as supervision
from livecart.supervision.risk_schemas import (
    ReportIn,
    ReportKind,
    ReportTarget,
    ReportTriageIn,
)
from tests.e2e.world import World, build_world, place_order
from tests.support import make_user

WARNED_DESCRIPTION = "Spring harvest, the perfect gift for tea lovers."

# Written in Chinese on purpose: the screenshot shows whether CJK text renders.
REPORT_TEXTS = {
    ReportKind.fake_goods: "假货：茶叶和直播间里展示的不一样 (not the tea shown in the live)",
    ReportKind.misrepresentation: "The anchor said 'first harvest', the bag says otherwise",
}


@dataclass(frozen=True)
class RiskWorld:
    world: World
    other_brand_id: int
    other_merchant_id: int
    report_ids: list[int]
    actioned_report_ids: list[int]


async def _complain(container: Container, world: World, *, buyer_id: int, order_id: int) -> None:
    async with container.uow() as uow:
        buyer = await accounts.load_identity(uow.session, buyer_id)
        assert buyer is not None
        await commerce.create_after_sales_request(
            uow.session,
            clock=container.clock,
            actor=buyer,
            order_id=order_id,
            body=AfterSalesRequestIn(
                sku_id=world.sku_ids[0], quantity=1, reason=ReturnReason.quality, text="stale"
            ),
            policy=commerce.after_sales_policy(container.settings),
        )
        await uow.commit()


async def _report(
    container: Container,
    world: World,
    *,
    reporter_id: int,
    kind: ReportKind,
    order_id: int | None = None,
    actioned: bool = False,
) -> int:
    """A report from the live session (or about an order), actioned by the operator if asked."""
    async with container.uow() as uow:
        reporter = await accounts.load_identity(uow.session, reporter_id)
        operator = await accounts.load_identity(uow.session, world.operator_id)
        assert reporter is not None and operator is not None
        session_id = None if order_id is not None else world.session_id
        report = await supervision.file_report(
            uow,
            clock=container.clock,
            actor=reporter,
            data=ReportIn(
                kind=kind, text=REPORT_TEXTS[kind], session_id=session_id, order_id=order_id
            ),
            target=ReportTarget(
                session_id=session_id,
                order_id=order_id,
                product_id=world.product_id,
                anchor_id=world.anchor_id if session_id is not None else None,
                brand_id=world.brand_id,
            ),
        )
        if actioned:
            await supervision.triage_report(
                uow.session,
                clock=container.clock,
                actor=operator,
                report_id=report.id,
                data=ReportTriageIn(status="actioned", reason="seller confirmed the mix-up"),
            )
        await uow.commit()
        return report.id


async def _ticket(
    container: Container,
    *,
    buyer_id: int,
    brand_id: int,
    merchant_id: int,
    opened_hours_ago: float,
    answered_after_hours: float,
    resolved_after_hours: float | None,
    rating: int | None,
) -> None:
    """A ticket opened in the past, answered and maybe resolved and rated at known times."""
    clock = FrozenClock(container.clock.now() - timedelta(hours=opened_hours_ago))
    async with container.uow() as uow:
        buyer = await accounts.load_identity(uow.session, buyer_id)
        merchant = await accounts.load_identity(uow.session, merchant_id)
        assert buyer is not None and merchant is not None
        ticket = await customer_service.create_ticket(
            uow.session,
            clock=clock,
            actor=buyer,
            ticket_in=TicketIn(subject="Where is my tea?", text="Still waiting", brand_id=brand_id),
        )
        clock.advance(hours=answered_after_hours)
        await customer_service.add_ticket_message(
            uow.session, clock=clock, actor=merchant, ticket_id=ticket.id, text="On its way"
        )
        if resolved_after_hours is not None:
            clock.advance(hours=resolved_after_hours - answered_after_hours)
            await customer_service.resolve_ticket(
                uow.session, clock=clock, actor=merchant, ticket_id=ticket.id
            )
            if rating is not None:
                await customer_service.rate_ticket(
                    uow.session,
                    clock=clock,
                    actor=buyer,
                    ticket_id=ticket.id,
                    satisfaction=rating,
                )
        await uow.commit()


async def build_risk_world(container: Container) -> RiskWorld:
    """The world, its orders and complaints, reports and tickets (see the module's text)."""
    world = await build_world(container)
    small = world.sku_ids[0]
    complained = [
        await place_order(
            container, world, buyer_id=buyer, sku_id=small, quantity=quantity, until="delivered"
        )
        for buyer, quantity in ((world.alice_id, 2), (world.bob_id, 1))
    ]
    await place_order(container, world, buyer_id=world.bob_id, sku_id=small, until="paid")
    for buyer, order_id in zip((world.alice_id, world.bob_id), complained, strict=True):
        await _complain(container, world, buyer_id=buyer, order_id=order_id)
    # Two reports about the complained orders, actioned (each counts twice in the score) ...
    actioned_ids = [
        await _report(
            container,
            world,
            reporter_id=buyer,
            kind=ReportKind.fake_goods,
            order_id=order_id,
            actioned=True,
        )
        for buyer, order_id in zip((world.alice_id, world.bob_id), complained, strict=True)
    ]
    # ... and two new ones from the live session (the triage queue; they raise an alert).
    report_ids = [
        await _report(container, world, reporter_id=world.alice_id, kind=ReportKind.fake_goods),
        await _report(
            container, world, reporter_id=world.bob_id, kind=ReportKind.misrepresentation
        ),
    ]
    async with container.uow() as uow:
        merchant = await accounts.load_identity(uow.session, world.merchant_id)
        product = await catalog.update_product(
            uow.session,
            clock=container.clock,
            lexicon=container.lexicon,
            actor=merchant,
            product_id=world.product_id,
            description=WARNED_DESCRIPTION,
        )
        # As PATCH /products/{id} does after the edit.
        await supervision.record_product_warnings(
            uow.session,
            clock=container.clock,
            hits=product.compliance_warnings,
            brand_id=product.brand_id,
            product_id=product.id,
        )
        await uow.commit()
    async with container.uow() as uow:
        other = await catalog.create_brand(
            uow.session,
            clock=container.clock,
            actor=None,
            name="Kettle Co",
            description="Kettles",
        )
        await uow.commit()
    other_merchant = await make_user(container, Role.merchant, brand_id=other.id, name="Kim")
    # Lumen Tea: answered in 1 h, resolved, rated 5; answered after 30 h (late), still open.
    await _ticket(
        container,
        buyer_id=world.alice_id,
        brand_id=world.brand_id,
        merchant_id=world.merchant_id,
        opened_hours_ago=30,
        answered_after_hours=1,
        resolved_after_hours=2,
        rating=5,
    )
    await _ticket(
        container,
        buyer_id=world.bob_id,
        brand_id=world.brand_id,
        merchant_id=world.merchant_id,
        opened_hours_ago=50,
        answered_after_hours=30,
        resolved_after_hours=None,
        rating=None,
    )
    # Kettle Co: answered in 30 min, resolved after 1 h, rated 2 (the platform's mean is 3.5).
    await _ticket(
        container,
        buyer_id=world.alice_id,
        brand_id=other.id,
        merchant_id=other_merchant,
        opened_hours_ago=10,
        answered_after_hours=0.5,
        resolved_after_hours=1,
        rating=2,
    )
    return RiskWorld(
        world=world,
        other_brand_id=other.id,
        other_merchant_id=other_merchant,
        report_ids=report_ids,
        actioned_report_ids=actioned_ids,
    )
