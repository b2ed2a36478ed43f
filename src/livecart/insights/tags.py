"""Readable tags on a portrait, each a documented rule over the portrait's fields.

Applied in Python to the engine's row (so the same row gives the same tags whichever engine
computed it); the rules are listed in docs/insights.md (Tags) and here, in order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

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


TAG_NAMES = (
    "night_owl",
    "bargain_hunter",
    "loyal_fan",
    "impulse_buyer",
    "big_spender",
    "lapsing",
    "window_shopper",
    "chatty",
    "curious",
    "newcomer",
)


def tag_lists(
    table: pa.Table,
    *,
    max_fan_level: np.ndarray,
    under_50: np.ndarray,
    p_alive: np.ndarray,
) -> pa.Array:
    """`tags` for every row of a portrait table at once (array operations, same rules, same
    order): a list array aligned with the rows.

    Per row: max_fan_level is the highest fan level with any anchor (0 without one), under_50
    the share of price-band affinity in `under_50` (0 without one), p_alive NaN when unknown.
    """
    import pyarrow.compute as pc

    n = table.num_rows

    def ints(name: str, missing: int) -> np.ndarray:
        column = pc.fill_null(table.column(name), missing)
        return np.asarray(column.to_numpy(), dtype=np.int64)

    hours = np.asarray(
        pc.list_flatten(table.column("active_hours")).to_numpy(), dtype=np.int64
    ).reshape(n, 24)
    events = hours.sum(axis=1)
    night = hours[:, list(NIGHT_HOURS)].sum(axis=1)
    orders = ints("orders", 0)
    viewed = ints("products_viewed", 0)
    stay = table.column("average_stay_seconds")
    short_stay = pc.fill_null(pc.less(stay, 600), True).to_numpy(zero_copy_only=False)
    recency = ints("recency_days", -1)
    alive = np.asarray(p_alive, dtype=np.float64)
    rules = np.column_stack(
        [
            (events >= 10) & (night >= 0.4 * events),
            (np.asarray(under_50) >= 0.5) & ((viewed >= 3) | (orders >= 1)),
            np.asarray(max_fan_level) >= 4,
            (orders >= 1) & (viewed <= orders) & short_stay,
            ints("m_score", 0) == 5,
            (orders >= 1) & ((recency >= 60) | (~np.isnan(alive) & (alive < 0.3))),
            (viewed >= 10) & (orders == 0),
            ints("messages", 0) >= 20,
            ints("questions", 0) >= 3,
            ints("days_active", 0) == 1,
        ]
    ).reshape(n, len(TAG_NAMES))
    _, which = np.nonzero(rules)  # row-major: each row's tags in rule order
    offsets = np.concatenate([[0], np.cumsum(rules.sum(axis=1))]).astype(np.int32)
    names = pa.array(TAG_NAMES, pa.string()).take(pa.array(which, pa.int64()))
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), names)
