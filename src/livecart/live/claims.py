"""A host's claims about the goods on show, checked against the catalog: "only 3 left"
against the stock (supervision.scarcity) and "lowest price ever" against the price history
(supervision.price_claims). Used by the hosts' chat (`service.post_chats`) and the anchor
scripts (`scripts.save_script`), which differ in what is on show and in how they report where
a claim is."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from livecart.catalog import service as catalog
from livecart.core.errors import DomainError
from livecart.live.schemas import SaleUnits
from livecart.supervision import price_claims, scarcity

Check = Callable[[str], DomainError | None]


async def claim_checks(
    session: AsyncSession,
    *,
    text: str,
    product_ids: Sequence[int],
    session_id: int,
    sale_units: SaleUnits | None,
    field: str,
    kind: str,
) -> list[Check]:
    """The checks a host's text (or a part of it) must pass, with the catalog read once; none
    for a text without a claim (nothing is read then).

    A quantity claim is compared with the stock of every SKU of the products and the units
    left in the session's open flash sales; a lowest-price claim with each SKU in stock's
    lowest price ever, and not while a flash sale of the session is open (its price, held
    below the 30-day lowest by the flash-sale rule, may be what the claim is about).
    """
    counts, prices = scarcity.parse_claims(text), price_claims.parse_claims(text)
    if not counts and not prices:
        return []
    sales = await sale_units(session, session_id) if sale_units is not None else []
    checks: list[Check] = []
    if counts:
        stocks = await catalog.sku_stocks(session, product_ids) + sales
        checks.append(partial(scarcity.scarcity_refusal, stocks=stocks, field=field, kind=kind))
    if prices and not sales:
        lows = await catalog.sku_price_lows(session, product_ids)
        checks.append(
            partial(price_claims.price_claim_refusal, prices=lows, field=field, kind=kind)
        )
    return checks
