"""Scarcity claims: "only 3 left", "仅剩最后5件" checked against the real stock (issue 5, item 4).

`parse_claims(text)` finds the remaining quantities a text claims, in English and Chinese
(digits, full-width digits, English number words one to twenty, Chinese numerals), and only
quantities of goods: "only 5 minutes left", "最后3天", "第3件半价" and "the last 10 years" are
not claims. `scarcity_refusal(text, stocks=...)` is the check the hosts' chat and flash-sale
banners go through: a claim lower than the real stock is fake scarcity (false urgency) and is
refused with `scarcity_claim_false`. A claim equal to or above the stock is not fake scarcity.

`stocks` are the quantities the claim may be about (the sale's remaining units; each SKU of
the product being shown). A claim is refused only when it is lower than every one of them that
has units left, so a true claim about any variant passes: the check never refuses a claim that
could be true, at the price of missing some that are not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from livecart.core.errors import InvalidInput


class ScarcityClaimFalse(InvalidInput):
    """A text claims fewer remaining units than there are (fake scarcity)."""

    code = "scarcity_claim_false"


@dataclass(frozen=True)
class Claim:
    """One claimed remaining quantity: the number, and where it is in the normalised text."""

    quantity: int
    text: str
    start: int
    end: int


_EN_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "fifty": 50,
    "hundred": 100,
}
_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_ZH_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}

_EN_NUM = r"(?P<num>\d{1,7}|" + "|".join(_EN_WORDS) + r")"
# Goods, not time: "only 5 minutes left" and "the last 10 years" are not stock claims.
_EN_UNIT = (
    r"(?:pieces?|pcs|units?|items?|bottles?|boxes|box|sets?|pairs?|packs?|bags?|jars?|tubes?"
    r"|cans?|cartons?|orders?|ones?|of (?:them|these|this|the stock))"
)
_EN_PATTERNS = [
    # only 3 left / just 5 units remaining / only 2 in stock / merely 4 pieces available
    rf"\b(?:only|just|merely|a mere)\s+{_EN_NUM}\s+(?:{_EN_UNIT}\s+)?"
    r"(?:left|remaining|in stock|available|to go)\b",
    # the last 10 pieces / final 3 units / last 5 left
    rf"\b(?:last|final)\s+{_EN_NUM}\s+(?:{_EN_UNIT}\b|(?:left|remaining|in stock)\b)",
    # 3 left in stock / 5 pieces left / 4 units remaining
    rf"\b{_EN_NUM}\s+(?:{_EN_UNIT}\s+(?:left|remaining)|(?:left|remaining)\s+in\s+stock)\b",
    # down to (the last) 3
    rf"\bdown to (?:the )?(?:last |final )?{_EN_NUM}\b(?!\s*(?:minutes?|hours?|days?|seconds?))",
]
_ZH_NUM = r"\s*(?P<num>\d{1,7}|[零〇一二两三四五六七八九十百千万]{1,6})\s*"
# Measure words of goods (not 天/分钟/小时/秒: time); 个 only where no noun follows it.
_ZH_UNIT = (
    r"(?:件|份|单|套|瓶|盒|支|双|台|只|包|袋|箱|罐|条|张|束|组|提|把|块|颗|枚|部|款"
    r"|个(?=$|[^\u4e00-\u9fff]|[了啦喽咯呀哦啊吧]))"
)
_ZH_PATTERNS = [
    # 仅剩最后5件 / 只剩10件 / 还剩3件 / 剩余3件 / 库存仅剩8件 / 就剩两单了
    rf"(?:仅|只|就|还|才)?(?:剩下|剩余|剩)(?:最后)?(?:的)?{_ZH_NUM}{_ZH_UNIT}",
    # 最后5件 / 最后三单 / 只有最后两件了 / 最后十套
    rf"最后(?:的)?{_ZH_NUM}{_ZH_UNIT}",
    # 库存只有3件 / 库存仅5件 / 仅有3件 / 只有2件了
    rf"(?:库存|现货)(?:仅|只)?(?:有|剩)?{_ZH_NUM}{_ZH_UNIT}",
    rf"(?:仅|只)有{_ZH_NUM}{_ZH_UNIT}(?:了|库存|现货|可抢)",
]
_PATTERNS = [re.compile(p, re.IGNORECASE) for p in _EN_PATTERNS + _ZH_PATTERNS]


def _zh_number(text: str) -> int | None:
    """A Chinese numeral (五, 十五, 二十, 一百零五, 两千) as an int, or None."""
    total = 0
    digit: int | None = None
    for char in text:
        if char in _ZH_DIGITS:
            digit = _ZH_DIGITS[char]
        elif char in _ZH_UNITS:
            unit = _ZH_UNITS[char]
            total += (1 if digit is None else digit) * unit
            digit = None
        else:
            return None
    return total + (digit or 0)


def _number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    lowered = text.lower()
    if lowered in _EN_WORDS:
        return _EN_WORDS[lowered]
    return _zh_number(text)


def normalise(text: str) -> str:
    """The text claims are looked for in: full-width digits and letters as ASCII, zero-width
    characters gone (like the scanner); also used by `price_claims`."""
    folded = unicodedata.normalize("NFKC", text)
    return re.sub(r"[\u200b-\u200d\u2060\ufeff]", "", folded)


def parse_claims(text: str) -> list[Claim]:
    """The remaining quantities the text claims, in the order they appear (none: [])."""
    normal = normalise(text)
    found: dict[int, Claim] = {}
    for pattern in _PATTERNS:
        for match in pattern.finditer(normal):
            quantity = _number(match.group("num"))
            if quantity is None:
                continue
            start, end = match.start(), match.end()
            if any(c.start < end and start < c.end for c in found.values()):
                continue  # the same words matched by another pattern
            found[start] = Claim(quantity, match.group(0).strip(), start, end)
    return [found[start] for start in sorted(found)]


def false_claim(text: str, *, stocks: Iterable[int]) -> tuple[Claim, int] | None:
    """The first claim below every stock that has units left, with the smallest such stock."""
    real = [s for s in stocks if s > 0]
    if not real:
        return None
    least = min(real)
    for claim in parse_claims(text):
        if claim.quantity < least:
            return claim, least
    return None


def scarcity_refusal(
    text: str, *, stocks: Iterable[int], field: str = "text", kind: str = "chat"
) -> ScarcityClaimFalse | None:
    """The error for a text whose claimed remaining quantity is below the real stock, or None."""
    found = false_claim(text, stocks=stocks)
    if found is None:
        return None
    claim, stock = found
    reason = f"claims {claim.quantity} left but {stock} are in stock (fake scarcity)"
    # `hits` has the shape of compliance hits, so the risk signals keep it like one.
    hit = {"field": field, "kind": kind, "rule_id": "fake_scarcity", "action": "block"}
    return ScarcityClaimFalse(
        f"the {field} {reason}",
        details={
            "field": field,
            "rule_id": "fake_scarcity",
            "claimed": claim.quantity,
            "stock": stock,
            "text": claim.text,
            "hits": [{**hit, "text": claim.text, "reason": reason}],
        },
    )
