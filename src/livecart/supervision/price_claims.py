"""Lowest-price claims: "lowest price ever", "史上最低价" checked against the price history
(issue 5, item 4: fake discounts).

`parse_claims(text)` finds the claims that the price now is the lowest the goods have ever
had, in English and Chinese. `price_claim_refusal(text, prices=...)` is the check the hosts'
chat and the anchor scripts go through: `prices` are (price now, lowest price ever) of each
SKU the claim may be about, and a claim is refused (`price_claim_false`) only when every one
of them costs more now than it once did, so a claim true of any variant passes (the same
rule as scarcity claims: never refuse a claim that could be true).

A claim about the whole market ("全网最低价", "cheapest online") cannot be checked here; the
lexicon's `absolute_terms` and `fake_discount` rules cover it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from livecart.core.errors import InvalidInput
from livecart.supervision.scarcity import normalise

RULE_ID = "fake_discount"


class PriceClaimFalse(InvalidInput):
    """A text claims the lowest price ever while the price has been lower (fake discount)."""

    code = "price_claim_false"


@dataclass(frozen=True)
class Claim:
    """The words of one lowest-price claim and where they are in the normalised text."""

    text: str
    start: int
    end: int


_PATTERNS = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"\b(?:the\s+)?(?:lowest|cheapest)\s+(?:price\s+)?ever\b",
        r"\b(?:lowest|cheapest)\s+(?:price\s+)?in\s+history\b",
        r"\ball[- ]time\s+low(?:est)?\b",
        r"\bnever\s+been\s+(?:this\s+)?cheap(?:er)?\b",
        r"\bnever\s+(?:this|so)\s+cheap\b",
        r"史上最低(?:价|价格)?",
        r"历史(?:最低|新低)(?:价|价格)?",
        r"史低价?",
        r"(?:从来|从未|从)没(?:有)?(?:这么|这样|如此)便宜(?:过)?",
    )
]


def parse_claims(text: str) -> list[Claim]:
    """The lowest-price claims of a text, in the order they appear (none: [])."""
    normal = normalise(text)
    found: dict[int, Claim] = {}
    for pattern in _PATTERNS:
        for match in pattern.finditer(normal):
            start, end = match.start(), match.end()
            if any(c.start < end and start < c.end for c in found.values()):
                continue  # the same words matched by another pattern
            found[start] = Claim(match.group(0).strip(), start, end)
    return [found[start] for start in sorted(found)]


def price_claim_refusal(
    text: str, *, prices: Iterable[tuple[int, int]], field: str = "text", kind: str = "chat"
) -> PriceClaimFalse | None:
    """The error for a text claiming the lowest price ever when no SKU it may be about is at
    its lowest price ever ((price now, lowest ever) pairs, minor units), or None (also when
    there is nothing to compare with)."""
    pairs = list(prices)
    if not pairs or any(now <= lowest for now, lowest in pairs):
        return None
    claims = parse_claims(text)
    if not claims:
        return None
    claim = claims[0]
    price, lowest = min(pairs, key=lambda pair: (pair[0] - pair[1], pair[0]))
    reason = f"claims the lowest price ever but the price {price} was {lowest} before"
    # `hits` has the shape of compliance hits, so the risk signals keep it like one.
    hit = {"field": field, "kind": kind, "rule_id": RULE_ID, "action": "block"}
    return PriceClaimFalse(
        f"the {field} {reason} (fake discount)",
        details={
            "field": field,
            "rule_id": RULE_ID,
            "price": price,
            "lowest": lowest,
            "text": claim.text,
            "hits": [{**hit, "text": claim.text, "reason": reason}],
        },
    )
