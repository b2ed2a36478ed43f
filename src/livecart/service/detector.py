"""Is a chat message a question? Rules for English and Chinese, no model.

A message is a question when it ends (or a clause of it ends) with a question mark, `?` or the
full-width `？`, or when it opens with an interrogative (English: how, what, which, does, can,
is it ...) or holds a Chinese question word or particle (吗, 呢 at the end; 怎么, 多少, 几, 能不能,
有没有, 是不是, 什么, 哪 ...). Exclamations that merely contain such a word ("what a deal!",
"太好了吧") are not questions: the interrogative has to open the clause, the particle has to
end it. The language is Chinese when the message holds CJK characters, else English.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Language = Literal["en", "zh"]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CLAUSES = re.compile(r"[.!。！;；\n]+")
_WORDS = re.compile(r"[a-z']+")

# Words that open an English question (the first word of a clause).
_EN_OPENERS = frozenset(
    {
        "how", "what", "which", "who", "whom", "whose", "when", "where", "why",
        "does", "do", "did", "can", "could", "will", "would", "should", "shall",
        "is", "are", "was", "were", "has", "have", "may", "anyone", "anybody",
    }
)  # fmt: skip
# Openers that are questions only when a subject follows ("is it", "do you", "can i" ...).
_EN_NEED_SUBJECT = frozenset(
    {"is", "are", "was", "were", "has", "have", "do", "does", "did", "may"}
)
_EN_SUBJECTS = frozenset(
    {
        "it", "this", "that", "these", "those", "there", "you", "i", "we", "they", "he",
        "she", "the", "a", "an", "my", "your", "its", "anyone", "anybody", "someone",
    }
)  # fmt: skip
# "do it now" is an order, "does it" a question.
_EN_SINGULAR = frozenset({"it", "this", "that", "there", "he", "she"})
# "what a deal", "how nice": exclamations built on an interrogative.
_EN_EXCLAIM = re.compile(r"^(what an?|what a|how (nice|cool|cute|great|lovely|beautiful|pretty))\b")
# Polite requests that are questions in meaning.
_EN_REQUESTS = re.compile(r"\b(please (tell|let me know|show)|i wonder|i'd like to know)\b")

# Chinese question words anywhere in the clause, and particles that end one.
_ZH_WORDS = (
    "怎么", "怎样", "怎麼", "如何", "多少", "多大", "多长", "多久", "多重", "几",
    "能不能", "可不可以", "有没有", "是不是", "会不会", "要不要", "好不好", "行不行",
    "什么", "啥", "哪", "为什么", "为啥", "请问",
)  # fmt: skip
_ZH_PARTICLES = ("吗", "嘛", "呢", "么")
# Words with 几 or 哪 in them that ask nothing.
_ZH_NOT_QUESTIONS = ("几乎", "哪怕", "茶几", "什么都", "怎么都", "多少有点")


@dataclass(frozen=True)
class Detected:
    """A message found to be a question, with its language and why."""

    language: Language
    reason: str


def language_of(text: str) -> Language:
    """'zh' when the text holds CJK characters, else 'en'."""
    return "zh" if _CJK.search(text) else "en"


def _english_clause(clause: str) -> str | None:
    words = _WORDS.findall(clause.lower())
    if not words:
        return None
    if _EN_EXCLAIM.match(" ".join(words)):
        return None
    first = words[0]
    if first in _EN_OPENERS:
        if first not in _EN_NEED_SUBJECT:
            return f"opens with '{first}'"
        singular = first == "do" and len(words) > 1 and words[1] in _EN_SINGULAR
        if len(words) > 1 and words[1] in _EN_SUBJECTS and not singular:
            return f"opens with '{first} {words[1]}'"
    if _EN_REQUESTS.search(clause.lower()):
        return "asks to be told"
    return None


def _chinese_clause(clause: str) -> str | None:
    text = clause.strip(" ，,~～…")
    if not text:
        return None
    for particle in _ZH_PARTICLES:
        if text.endswith(particle) or text.endswith(particle + "啊"):
            return f"ends with '{particle}'"
    cleaned = text
    for phrase in _ZH_NOT_QUESTIONS:
        cleaned = cleaned.replace(phrase, "")
    for word in _ZH_WORDS:
        if word in cleaned:
            return f"holds '{word}'"
    return None


def detect(text: str) -> Detected | None:
    """The question found in a chat message, or None."""
    normal = unicodedata.normalize("NFKC", text).strip()
    if not normal:
        return None
    language = language_of(normal)
    if "?" in normal:  # NFKC folds the full-width ？ into ?
        return Detected(language, "question mark")
    for clause in _CLAUSES.split(normal):
        reason = _chinese_clause(clause) if language == "zh" else None
        if reason is None:
            reason = _english_clause(clause)
        if reason is not None:
            return Detected(language, reason)
    return None


def is_question(text: str) -> bool:
    """Whether a chat message is a question."""
    return detect(text) is not None
