"""Keywords of consumers' chat, English and Chinese, counted in Python after the engine step.

The engines only select the chat texts (the same rows on DuckDB and Spark); segmenting
Chinese needs a dictionary (jieba's, through rjieba) that neither engine has, so words are cut
and counted here.
Counting does not depend on row order, and the top list breaks ties by the word, so the
result is the same whichever engine selected the texts.

- English: runs of letters and digits starting with a letter, lower-cased; at least 3
  characters; stop words dropped.
- Chinese: each run of CJK characters cut with jieba's dictionary (precise mode, no HMM, so
  unknown words are not guessed differently from one run to the next); at least 2 characters;
  stop words dropped. The cutting is rjieba (Rust bindings of jieba-rs, the same dictionary and
  the same precise-mode cut as the Python jieba, which loaded its dictionary in about 0.7 s per
  process against about 0.1 s here).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa

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


def _cut_chinese(run: str) -> list[str]:
    """One run of CJK characters cut in precise mode without HMM."""
    import rjieba  # imported on first use: the import builds the dictionary (about 0.1 s)

    return rjieba.cut(run, hmm=False)


def words(text: str) -> Iterator[str]:
    """The keywords of one message, in order (a word may repeat)."""
    for token in _TOKEN.findall(text.lower()):
        if _CJK.match(token):
            for word in _cut_chinese(token):
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


# --- set-based counting: each distinct message is cut once, counts are Arrow operations ---

KEYWORD_ARROW_SCHEMA = pa.schema(
    [
        pa.field("consumer_key", pa.string(), nullable=False),
        pa.field("word", pa.string(), nullable=False),
        pa.field("count", pa.int64(), nullable=False),
    ]
)


def _ranks(values: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """The distinct values in code point order, and for each value its index among them
    (-1 for null): integer codes that sort as the values do."""
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    order = np.asarray(pc.sort_indices(encoded.dictionary), dtype=np.int64)
    rank = np.empty(len(order) + 1, dtype=np.int64)
    rank[order] = np.arange(len(order))
    rank[-1] = -1  # where a null's code (-1) lands
    codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)
    return encoded.dictionary.take(pa.array(order)), rank[codes]


def keyword_table(keys: pa.Array, texts: pa.Array, counts: pa.Array) -> pa.Table:
    """Word counts per consumer (KEYWORD_ARROW_SCHEMA, rows by consumer key, then word) from
    (consumer key, message, how many times the consumer sent it) rows, as the engines group
    them.

    Each distinct message is cut once (`words`); keys and words become integer codes (their
    ranks in code point order) and the counts are summed per (key, word) code with NumPy, so
    the cost grows with the distinct messages and the rows, not with the messages sent.
    """
    import pyarrow.compute as pc

    keys = pc.cast(keys, pa.string())
    texts = pc.cast(texts, pa.string())
    times = np.asarray(pc.fill_null(pc.cast(counts, pa.int64()), 0).to_numpy(), np.int64)
    distinct_texts, text_code = _ranks(texts)
    cut = [list(words(text)) if text else [] for text in distinct_texts.to_pylist()]
    vocabulary = sorted({word for found in cut for word in found})
    if not vocabulary:
        return KEYWORD_ARROW_SCHEMA.empty_table()
    word_rank = {word: i for i, word in enumerate(vocabulary)}
    # A word twice in a message is listed twice: counted twice, as sent.
    per_text = [np.array([word_rank[w] for w in found], np.int64) for found in cut]
    sizes = np.array([len(found) for found in cut], np.int64)
    text_start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    text_words = np.concatenate(per_text)
    distinct_keys, key_code = _ranks(keys)
    row_words = np.where(text_code >= 0, sizes[np.maximum(text_code, 0)], 0)
    rows = np.repeat(np.arange(len(row_words)), row_words)
    within = np.arange(len(rows)) - np.repeat(np.cumsum(row_words) - row_words, row_words)
    word = text_words[text_start[text_code[rows]] + within]
    pair = key_code[rows] * len(vocabulary) + word
    unique, inverse = np.unique(pair, return_inverse=True)
    summed = np.bincount(inverse, weights=times[rows], minlength=len(unique))
    return pa.table(
        {
            "consumer_key": distinct_keys.take(pa.array(unique // len(vocabulary))),
            "word": pa.array(vocabulary, pa.string()).take(pa.array(unique % len(vocabulary))),
            "count": pa.array(np.rint(summed).astype(np.int64)),
        },
        schema=KEYWORD_ARROW_SCHEMA,
    )


def keyword_table_of(counts: dict[str, dict[str, int]]) -> pa.Table:
    """A {consumer key: {word: count}} mapping as a KEYWORD_ARROW_SCHEMA table."""
    keys = [key for key, words_ in counts.items() for _ in words_]
    found = [word for words_ in counts.values() for word in words_]
    numbers = [n for words_ in counts.values() for n in words_.values()]
    return pa.table(
        {"consumer_key": keys, "word": found, "count": numbers}, schema=KEYWORD_ARROW_SCHEMA
    )


def keyword_dict(table: pa.Table) -> dict[str, dict[str, int]]:
    """A KEYWORD_ARROW_SCHEMA table as {consumer key: {word: count}}."""
    out: dict[str, dict[str, int]] = {}
    for key, word, n in zip(
        table.column("consumer_key").to_pylist(),
        table.column("word").to_pylist(),
        table.column("count").to_pylist(),
        strict=True,
    ):
        out.setdefault(key, {})[word] = n
    return out


def top_keyword_lists(table: pa.Table, keys: pa.Array, n: int = TOP_KEYWORDS) -> pa.Array:
    """For each of keys, its n most frequent words (as `top_keywords`: ties broken by the
    word in code point order), as a list array aligned with keys (empty when none)."""
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return pa.array([[] for _ in range(len(keys))], pa.list_(pa.string()))
    owners, owner = _ranks(table.column("consumer_key"))
    vocabulary, word = _ranks(table.column("word"))
    count = np.asarray(table.column("count").to_numpy(), np.int64)
    # By owner, then most frequent first, then word: np.lexsort's last key sorts first.
    ranked = np.lexsort((word, -count, owner))
    owner, word = owner[ranked], word[ranked]
    per_owner = np.bincount(owner, minlength=len(owners))
    owner_start = np.concatenate([[0], np.cumsum(per_owner)[:-1]]).astype(np.int64)
    where = pc.index_in(keys, value_set=owners)
    found = pc.is_valid(where).to_numpy(zero_copy_only=False)
    index = np.asarray(pc.fill_null(where, 0).to_numpy(zero_copy_only=False), np.int64)
    lengths = np.where(found, np.minimum(per_owner[index], n), 0)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    source = np.repeat(owner_start[index], lengths) + (
        np.arange(int(offsets[-1])) - np.repeat(offsets[:-1], lengths)
    )
    values = vocabulary.take(pa.array(word[source], pa.int64()))
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)
