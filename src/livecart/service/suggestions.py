"""Suggested answers for a consumer's question: the knowledge card first, then past answers.

Three sources, each scored between 0 and 1, the best one above its threshold wins:

- `card_faq`: the card's common questions, compared with the question by TF-IDF over character
  n-grams (2 to 4 characters inside word boundaries, so Chinese needs no word segmentation and
  English copes with typos and plurals), cosine similarity;
- `card_spec`: a specification whose name (or a known synonym, English or Chinese) appears in
  the question answers with "name: value", score 0.5;
- `past_answer`: questions the brand answered before, compared the same way as the FAQ; their
  score is weighted by 0.9 so that the brand's curated card wins a tie.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from livecart.catalog.schemas import KnowledgeCardOut

Source = Literal["card_faq", "card_spec", "past_answer"]

MIN_SIMILARITY = 0.25
SPEC_SCORE = 0.5
PAST_WEIGHT = 0.9

# Specification names and what a viewer may call them.
_SPEC_SYNONYMS: dict[str, tuple[str, ...]] = {
    "material": ("material", "made of", "fabric", "材质", "材料", "面料", "什么做的"),
    "fabric": ("fabric", "material", "面料", "材质"),
    "size": ("size", "sizes", "big", "尺寸", "尺码", "大小", "多大"),
    "dimensions": ("dimension", "dimensions", "how big", "尺寸", "多大"),
    "weight": ("weight", "heavy", "weigh", "重量", "多重"),
    "origin": ("origin", "made in", "where is it made", "产地", "哪里产", "哪里生产"),
    "care": ("wash", "care", "clean", "洗", "清洗", "保养"),
    "warranty": ("warranty", "guarantee", "保修", "质保"),
    "capacity": ("capacity", "容量"),
    "power": ("power", "watt", "功率"),
    "voltage": ("voltage", "volt", "电压"),
    "colour": ("colour", "color", "colours", "colors", "颜色"),
    "color": ("colour", "color", "colours", "colors", "颜色"),
    "category": ("category", "类目", "品类"),
}


@dataclass(frozen=True)
class PastAnswer:
    """A question the brand answered before."""

    question_id: int
    question: str
    answer: str


@dataclass(frozen=True)
class Suggestion:
    """An answer to offer the anchor or the service team, and where it comes from."""

    answer: str
    source: Source
    score: float
    product_id: int | None = None
    matched: str = ""  # the FAQ question, specification name or past question it came from
    question_id: int | None = None  # for past answers

    def to_dict(self) -> dict[str, object]:
        """The JSON form stored with the question and sent in its frame."""
        return {
            "answer": self.answer,
            "source": self.source,
            "score": round(self.score, 3),
            "product_id": self.product_id,
            "matched": self.matched,
            "question_id": self.question_id,
        }


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower().strip()


def _similarities(query: str, candidates: Sequence[str]) -> list[float]:
    """Cosine similarity of the query to each candidate (TF-IDF over character n-grams)."""
    if not candidates:
        return []
    from sklearn.feature_extraction.text import TfidfVectorizer  # heavy: imported on use
    from sklearn.metrics.pairwise import linear_kernel

    texts = [_normal(c) for c in candidates]
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform([*texts, _normal(query)])
    except ValueError:  # nothing but one-character words: no n-gram at all
        return [0.0] * len(candidates)
    scores = linear_kernel(matrix[-1], matrix[:-1]).ravel()
    return [float(s) for s in scores]


def _spec_hit(question: str, card: KnowledgeCardOut) -> Suggestion | None:
    text = _normal(question)
    for name, value in card.specifications.items():
        key = _normal(name)
        words = (key, key.replace("_", " "), *_SPEC_SYNONYMS.get(key, ()))
        if any(word and word in text for word in words):
            return Suggestion(
                answer=f"{name}: {value}",
                source="card_spec",
                score=SPEC_SCORE,
                product_id=card.product_id,
                matched=name,
            )
    return None


def suggest(
    question: str, *, cards: Sequence[KnowledgeCardOut], past: Sequence[PastAnswer] = ()
) -> Suggestion | None:
    """The best answer for the question from the cards and past answers, or None."""
    found: list[Suggestion] = []
    faqs = [(card, faq) for card in cards for faq in card.faqs]
    faq_scores = _similarities(question, [faq.question for _, faq in faqs])
    for (card, faq), score in zip(faqs, faq_scores, strict=True):
        if score >= MIN_SIMILARITY:
            found.append(Suggestion(faq.answer, "card_faq", score, card.product_id, faq.question))
    for card in cards:
        hit = _spec_hit(question, card)
        if hit is not None:
            found.append(hit)
    past_scores = _similarities(question, [p.question for p in past])
    for item, score in zip(past, past_scores, strict=True):
        weighted = score * PAST_WEIGHT
        if score >= MIN_SIMILARITY:
            found.append(
                Suggestion(
                    item.answer, "past_answer", weighted, None, item.question, item.question_id
                )
            )
    return max(found, key=lambda s: s.score, default=None)
