"""Readable tags on a portrait, each a documented rule over the portrait's fields.

Applied in Python to the engine's row (so the same row gives the same tags whichever engine
computed it); the rules are listed in docs/insights.md (Tags) and here, in order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

NIGHT_HOURS = (22, 23, 0, 1, 2, 3, 4, 5)  # UTC


def tags(
    row: Mapping[str, Any],
    *,
    fan_levels: Sequence[int] = (),
    price_bands: Mapping[str, float] | None = None,
    p_alive: float | None = None,
) -> list[str]:
    """The tags of one portrait row (PORTRAIT_ARROW_SCHEMA fields)."""
    found: list[str] = []
    hours = list(row["active_hours"])
    events = sum(hours)
    orders = int(row["orders"])
    viewed = int(row["products_viewed"])
    stay = row["average_stay_seconds"]
    # night owl: at least 10 events, 40% or more of them between 22:00 and 05:59 UTC
    if events >= 10 and sum(hours[h] for h in NIGHT_HOURS) >= 0.4 * events:
        found.append("night_owl")
    # bargain hunter: half or more of the product interest is in the lowest price band
    if price_bands and price_bands.get("under_50", 0.0) >= 0.5 and (viewed >= 3 or orders >= 1):
        found.append("bargain_hunter")
    # loyal fan: fan level 4 or more (score >= 100) with at least one anchor
    if any(level >= 4 for level in fan_levels):
        found.append("loyal_fan")
    # impulse buyer: bought, looking at no more than one product per order, short stays
    if orders >= 1 and viewed <= orders and (stay is None or stay < 600):
        found.append("impulse_buyer")
    # big spender: top spend quintile among buyers
    if row["m_score"] == 5:
        found.append("big_spender")
    # lapsing: a buyer whose last order is 60 days old or more, or P(alive) below 0.3
    recency = row["recency_days"]
    if orders >= 1 and (
        (recency is not None and recency >= 60) or (p_alive is not None and p_alive < 0.3)
    ):
        found.append("lapsing")
    # window shopper: 10 or more products viewed, never ordered
    if viewed >= 10 and orders == 0:
        found.append("window_shopper")
    # chatty: 20 or more chat messages
    if int(row["messages"]) >= 20:
        found.append("chatty")
    # curious: 3 or more questions
    if int(row["questions"]) >= 3:
        found.append("curious")
    # newcomer: seen on one day only
    if int(row["days_active"]) == 1:
        found.append("newcomer")
    return found
