"""Lowest-price claims: which words claim the lowest price ever, and when the claim is false."""

from __future__ import annotations

import pytest

from livecart.supervision.price_claims import parse_claims, price_claim_refusal

CLAIMS = [
    ("Lowest price ever, grab it", "Lowest price ever"),
    ("this is the cheapest ever", "the cheapest ever"),
    ("the lowest ever!", "the lowest ever"),
    ("lowest price in history today", "lowest price in history"),
    ("an all-time low for this serum", "all-time low"),
    ("All time lowest", "All time lowest"),
    ("it has never been this cheap", "never been this cheap"),
    ("never been cheaper", "never been cheaper"),
    ("never so cheap", "never so cheap"),
    ("史上最低价，快来抢", "史上最低价"),
    ("今天史上最低！", "史上最低"),
    ("历史最低价", "历史最低价"),
    ("价格历史新低", "历史新低"),
    ("这是史低", "史低"),
    ("从来没有这么便宜过", "从来没有这么便宜过"),
    ("从没这么便宜", "从没这么便宜"),
    ("ＬＯＷＥＳＴ ＰＲＩＣＥ ＥＶＥＲ", "LOWEST PRICE EVER"),  # full-width letters
]
ORDINARY = [
    "the lowest price today",
    "ever tried jasmine tea?",
    "cheapest shipping in town",
    "is this the lowest you can go?",
    "a low price, a high quality",
    "最低价是多少",
    "历史悠久的茶园",
    "便宜又好喝",
    "全网最低价",  # a claim about other shops: the lexicon's absolute_terms, not ours
]


@pytest.mark.parametrize(("text", "words"), CLAIMS)
def test_lowest_price_claims_are_found(text: str, words: str) -> None:
    assert [claim.text for claim in parse_claims(text)] == [words]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_sentences_claim_nothing(text: str) -> None:
    assert parse_claims(text) == []


def test_a_claim_is_refused_only_when_no_sku_is_at_its_lowest() -> None:
    text = "史上最低价！lowest price ever"
    # One variant at its lowest: the claim may be about it.
    assert price_claim_refusal(text, prices=[(8900, 7900), (4500, 4500)]) is None
    assert price_claim_refusal(text, prices=[]) is None  # nothing to compare with
    assert price_claim_refusal("welcome", prices=[(8900, 7900)]) is None
    refused = price_claim_refusal(text, prices=[(8900, 7900), (5000, 3000)], field="chat")
    assert refused is not None and refused.code == "price_claim_false"
    details = refused.details or {}
    # The first claim, and the SKU closest to its lowest.
    assert (details["text"], details["price"], details["lowest"]) == ("史上最低价", 8900, 7900)
    (hit,) = details["hits"]
    assert (hit["rule_id"], hit["action"], hit["field"], hit["text"]) == (
        "fake_discount",
        "block",
        "chat",
        "史上最低价",
    )
