"""Keywords of chat messages: the documented cutting rules (precise mode, no HMM)."""

from __future__ import annotations

import pytest

from livecart.insights.keywords import count_keywords, words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # jieba's own examples of precise mode.
        ("我来到北京清华大学", ["来到", "北京", "清华大学"]),
        # Without HMM the unknown word 杭研 is not guessed: it falls apart into single
        # characters, which are too short to be keywords.
        ("他来到了网易杭研大厦", ["来到", "网易", "大厦"]),
        # 大码 is not in the dictionary either (HMM would join it): 大 and 码 are dropped.
        ("有没有大码", []),
        # Stop words (这个, 多少, 有没有, 怎么样) and single characters are dropped.
        ("这个多少钱", []),
        ("有没有红色的", ["红色"]),
        ("质量怎么样？", ["质量"]),
        # English and Chinese in one message, in order.
        ("Love this colour 颜色好看", ["love", "colour", "颜色", "好看"]),
    ],
)
def test_words(text: str, expected: list[str]) -> None:
    assert list(words(text)) == expected


def test_counts_per_consumer() -> None:
    rows = [("a", "好看好看"), ("a", "颜色好看"), ("b", None), ("b", ""), ("c", "nice 好看")]
    assert count_keywords(rows) == {"a": {"好看": 3, "颜色": 1}, "c": {"nice": 1, "好看": 1}}
