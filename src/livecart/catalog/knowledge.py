"""A knowledge card generated from a product's own facts (no database, no network).

Selling points come from the description's sentences, specifications from the product's and
its SKUs' attributes, and the common questions from what viewers ask of every product (price,
variants, stock) plus one question per known attribute, in English and Chinese, so that a
question in either language finds its answer (see service/suggestions.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import JsonValue

from livecart.core.money import format_money

MAX_SELLING_POINTS = 5
_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])\s*|\n+")

# Attribute names we know how to ask about: (English question, Chinese question).
_ATTRIBUTE_QUESTIONS: dict[str, tuple[str, str]] = {
    "material": ("What is it made of?", "是什么材质的？"),
    "fabric": ("What fabric is it?", "是什么面料？"),
    "size": ("What size is it?", "尺寸多大？"),
    "dimensions": ("What are the dimensions?", "尺寸是多少？"),
    "weight": ("How heavy is it?", "重量是多少？"),
    "origin": ("Where is it made?", "产地是哪里？"),
    "care": ("How do I wash or care for it?", "怎么清洗保养？"),
    "warranty": ("Is there a warranty?", "保修多久？"),
    "capacity": ("What is the capacity?", "容量多大？"),
    "power": ("What is the power?", "功率多少？"),
    "voltage": ("What voltage does it use?", "电压是多少？"),
    "battery": ("How long does the battery last?", "电池能用多久？"),
    "ingredients": ("What are the ingredients?", "成分有哪些？"),
    "shelf_life": ("What is the shelf life?", "保质期多久？"),
    "colour": ("What colour is it?", "是什么颜色？"),
    "color": ("What color is it?", "是什么颜色？"),
}


@dataclass(frozen=True)
class SkuFacts:
    """What the card needs of one SKU."""

    code: str
    price: int
    currency: str
    stock: int
    attributes: dict[str, JsonValue]


@dataclass(frozen=True)
class ProductFacts:
    """What the card is generated from."""

    title: str
    description: str
    category: str
    attributes: dict[str, JsonValue]
    skus: Sequence[SkuFacts] = field(default_factory=tuple)


@dataclass(frozen=True)
class GeneratedCard:
    selling_points: list[str]
    specifications: dict[str, str]
    faqs: list[dict[str, str]]


def _text(value: JsonValue) -> str:
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def selling_points(title: str, description: str) -> list[str]:
    """The description's first sentences (the title when there is no description)."""
    points = [s.strip() for s in _SENTENCE_END.split(description) if len(s.strip()) >= 4]
    unique = list(dict.fromkeys(points))[:MAX_SELLING_POINTS]
    return unique or [title]


def _variants(skus: Sequence[SkuFacts]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for sku in skus:
        for name, value in sku.attributes.items():
            shown = _text(value)
            if shown and shown not in found.setdefault(name, []):
                found[name].append(shown)
    return found


def _price_text(skus: Sequence[SkuFacts]) -> str | None:
    if not skus:
        return None
    low = min(skus, key=lambda s: s.price)
    high = max(skus, key=lambda s: s.price)
    if low.price == high.price:
        return format_money(low.price, low.currency)
    return f"{format_money(low.price, low.currency)} – {format_money(high.price, high.currency)}"


def generate(product: ProductFacts) -> GeneratedCard:
    """A first card for the product, for its merchants to correct and extend."""
    specs: dict[str, str] = {"category": product.category}
    for name, value in product.attributes.items():
        shown = _text(value)
        if shown:
            specs[name] = shown[:500]
    variants = _variants(product.skus)
    for name, values in variants.items():
        specs.setdefault(name, ", ".join(values)[:500])
    faqs: list[dict[str, str]] = []
    price = _price_text(product.skus)
    if price is not None:
        faqs.append({"question": "How much is it?", "answer": f"{price}."})
        faqs.append({"question": "多少钱？", "answer": f"{price}。"})
    if variants:
        listed = "; ".join(f"{name}: {', '.join(values)}" for name, values in variants.items())
        faqs.append({"question": "Which sizes or colours are there?", "answer": f"{listed}."})
        faqs.append({"question": "有哪些颜色和尺码？", "answer": f"{listed}。"})
    if product.skus:
        in_stock = sum(s.stock for s in product.skus) > 0
        faqs.append(
            {
                "question": "Is it in stock?",
                "answer": "Yes, it is in stock." if in_stock else "It is sold out for now.",
            }
        )
        faqs.append({"question": "有货吗？", "answer": "有货。" if in_stock else "暂时售罄。"})
    for name, value in specs.items():
        questions = _ATTRIBUTE_QUESTIONS.get(name.strip().lower().replace(" ", "_"))
        if questions is None:
            continue
        english, chinese = questions
        faqs.append({"question": english, "answer": f"{name.capitalize()}: {value}."})
        faqs.append({"question": chinese, "answer": f"{name}：{value}。"})
    return GeneratedCard(
        selling_points=selling_points(product.title, product.description),
        specifications=specs,
        faqs=faqs,
    )
