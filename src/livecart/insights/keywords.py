"""Keywords of consumers' chat, English and Chinese, counted in Python after the engine step.

The engines only select the chat texts (the same rows on DuckDB and Spark); segmenting
Chinese needs a dictionary (jieba) that neither engine has, so words are cut and counted here.
Counting does not depend on row order, and the top list breaks ties by the word, so the
result is the same whichever engine selected the texts.

- English: runs of letters and digits starting with a letter, lower-cased; at least 3
  characters; stop words dropped.
- Chinese: each run of CJK characters cut by jieba (precise mode, no HMM, so unknown words are
  not guessed differently from one run to the next); at least 2 characters; stop words dropped.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

TOP_KEYWORDS = 10

_TOKEN = re.compile(r"[a-z][a-z0-9']*|[\u3400-\u4dbf\u4e00-\u9fff]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")

STOP_WORDS_EN = frozenset(
    """
    about after again all also and any are because been before being but can could did does
    doing don't down for from get got had has have having her here hers him his how i'm it's
    its just let like more most much not now off once only other our out over own same she
    should some such than that the their them then there these they this those too under until
    very was way we're were what when where which while who whom why will with would yes you
    you're your yours lol haha please thanks thank okay one two
    """.split()
)
STOP_WORDS_ZH = frozenset(
    """
    这个 那个 什么 怎么 怎么样 多少 为什么 哪里 哪个 哪些 几号 有没有 能不能 是不是
    我们 你们 他们 她们
    一个 一下 一点 没有 可以 就是 还是 不是 还有 这样 那样 这么 那么 然后 因为 所以 但是 如果 自己
    现在 今天 已经 真的 非常 特别 感觉 觉得 知道 大家 主播 宝宝 姐妹 哈哈 哈哈哈 谢谢 好的 可能 应该
    """.split()
)


@cache
def _jieba() -> Any:
    import jieba  # type: ignore[import-untyped]

    jieba.setLogLevel(60)
    jieba.initialize()
    return jieba


def words(text: str) -> Iterator[str]:
    """The keywords of one message, in order (a word may repeat)."""
    for token in _TOKEN.findall(text.lower()):
        if _CJK.match(token):
            for word in _jieba().cut(token, HMM=False):
                if len(word) >= 2 and word not in STOP_WORDS_ZH:
                    yield word
        else:
            word = token.strip("'")
            if len(word) >= 3 and word not in STOP_WORDS_EN:
                yield word


def count_keywords(rows: Iterable[tuple[str, str | None]]) -> dict[str, dict[str, int]]:
    """Word counts per consumer key from (consumer_key, text) rows."""
    counts: dict[str, Counter[str]] = {}
    for key, text in rows:
        if not text:
            continue
        found = list(words(text))
        if found:
            counts.setdefault(key, Counter()).update(found)
    return {key: dict(counter) for key, counter in counts.items()}


def merge_counts(*parts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Add keyword counts of several batches (the incremental state)."""
    merged: dict[str, Counter[str]] = {}
    for part in parts:
        for key, counts in part.items():
            merged.setdefault(key, Counter()).update(counts)
    return {key: dict(counter) for key, counter in merged.items()}


def top_keywords(counts: dict[str, int], n: int = TOP_KEYWORDS) -> list[tuple[str, int]]:
    """The n most frequent words, ties broken by the word (code point order)."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]
