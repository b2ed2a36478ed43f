"""Scarcity claims parsed from English and Chinese text, and checked against the real stock."""

from __future__ import annotations

import pytest

from livecart.supervision.scarcity import (
    ScarcityClaimFalse,
    false_claim,
    parse_claims,
    scarcity_refusal,
)

CLAIMS = [
    # English
    ("Only 3 left, grab yours!", 3),
    ("only 12 pieces left in this colour", 12),
    ("Just 5 units remaining at this price", 5),
    ("Hurry, only two left!", 2),
    ("We have only 7 in stock", 7),
    ("The last 10 pieces of the silk scarf", 10),
    ("final 4 sets, then it's gone", 4),
    ("3 left in stock", 3),
    ("Only 20 bottles left", 20),
    ("down to the last 6", 6),
    ("ONLY 9 LEFT", 9),
    ("only １５ left", 15),  # full-width digits
    ("just one of these left", 1),
    # Chinese
    ("仅剩最后5件", 5),
    ("只剩10件了，手慢无", 10),
    ("还剩3件，抓紧下单", 3),
    ("库存仅剩 8 件", 8),
    ("最后三单！", 3),
    ("只有最后两件了", 2),
    ("剩余十五瓶", 15),
    ("最后二十套，卖完就没了", 20),
    ("就剩一百零五份", 105),
    ("库存只有4盒", 4),
    ("最后１０件", 10),
    ("最后一个了", 1),
]

NOT_CLAIMS = [
    "Only 5 minutes left in the live!",
    "just 2 hours remaining before we close",
    "the last 10 years of research",
    "I left 3 comments yesterday",
    "turn left at the 3rd light",
    "Buy 3 get 1 free",
    "Size 3 fits most",
    "down to the last minute",
    "This is the last one I will show tonight, promise.",
    "第3件半价",
    "买3件送1件",
    "最后一个问题：怎么洗？",
    "还剩5分钟",
    "最后3天",
    "剩下的时间不多了",
    "最后一小时优惠",
    "库存充足，放心买",
    "我买了两件，很喜欢",
    "最近三天发货",
]


@pytest.mark.parametrize(("text", "quantity"), CLAIMS)
def test_claims_are_found_with_their_quantity(text: str, quantity: int) -> None:
    claims = parse_claims(text)
    assert [c.quantity for c in claims] == [quantity], claims
    assert claims[0].text  # the matched words, for the error's details


@pytest.mark.parametrize("text", NOT_CLAIMS)
def test_ordinary_sentences_are_not_claims(text: str) -> None:
    assert parse_claims(text) == []


def test_at_least_twenty_sentences_each_way_in_both_languages() -> None:
    def chinese(text: str) -> bool:
        return any("\u4e00" <= ch <= "\u9fff" for ch in text)

    assert len(CLAIMS) + len(NOT_CLAIMS) >= 40
    assert sum(chinese(t) for t, _ in CLAIMS) >= 10
    assert sum(not chinese(t) for t, _ in CLAIMS) >= 10
    assert sum(chinese(t) for t in NOT_CLAIMS) >= 8
    assert sum(not chinese(t) for t in NOT_CLAIMS) >= 8


def test_zero_width_characters_do_not_hide_a_claim() -> None:
    assert [c.quantity for c in parse_claims("only\u200b 3 left")] == [3]


def test_two_claims_in_one_message() -> None:
    assert [c.quantity for c in parse_claims("Red: only 2 left. Blue: last 5 pieces")] == [2, 5]


def test_a_claim_below_the_real_stock_is_refused_with_the_numbers() -> None:
    error = scarcity_refusal("仅剩最后5件，抢完就没了", stocks=[50], field="banner")
    assert isinstance(error, ScarcityClaimFalse)
    assert error.code == "scarcity_claim_false" and error.status == 422
    assert error.details["claimed"] == 5 and error.details["stock"] == 50
    assert error.details["field"] == "banner" and error.details["text"] == "仅剩最后5件"


@pytest.mark.parametrize(
    ("text", "stocks"),
    [
        ("only 3 left", [3]),  # true
        ("only 10 left", [4]),  # more than there is: not scarcity
        ("only 3 left", [0]),  # nothing in stock: the claim is not about units left
        ("only 3 left", []),  # nothing to compare with
        ("Size M: only 3 left", [3, 40, 40]),  # true of one variant
        ("Welcome everyone!", [100]),
    ],
)
def test_claims_that_could_be_true_pass(text: str, stocks: list[int]) -> None:
    assert scarcity_refusal(text, stocks=stocks) is None


def test_the_smallest_stock_with_units_is_the_bar() -> None:
    found = false_claim("only 3 left", stocks=[0, 8, 20])
    assert found is not None and found[1] == 8
