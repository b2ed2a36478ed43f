"""The compliance scanner: absolute terms, false urgency, medical claims... in English and Chinese.

Rules are data (`lexicons/default.json`, or the file named by `LIVECART_COMPLIANCE_LEXICON`);
`load_lexicon` validates and compiles them once, and `scan` runs them over a text. Nothing is
read or compiled at import time. See docs/supervision.md for the rules and the decisions on
ambiguous words.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from pydantic import ValidationError

from livecart.supervision.errors import ComplianceBlocked, LexiconInvalid
from livecart.supervision.schemas import (
    Hit,
    Language,
    LanguagePatterns,
    LexiconFile,
    Rule,
    ScanKind,
    ScanResult,
)

# A Latin letter or digit: English terms match only between characters that are not one, so
# "best" does not hit "bestow", and "最好best" (no space) still hits.
_EN_WORD = r"[0-9a-z\u00c0-\u024f]"
_EN_BEFORE = rf"(?<!{_EN_WORD})"
_EN_AFTER = rf"(?!{_EN_WORD})"
# A capital letter that is not an escape such as \S or \W: it could never match.
_UPPER_CASE = re.compile(r"(?<!\\)[A-Z]")

# Typographic quotes and dashes written as their ASCII forms (NFKC leaves them), and
# zero-width characters removed, so "world’s best" and "最\u200b好" match like plain text.
_FOLD = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u200b": None,
        "\u200c": None,
        "\u200d": None,
        "\u2060": None,
        "\ufeff": None,
    }
)


@dataclass(frozen=True)
class Normalised:
    """Text after NFKC, lower-casing and folding, with each character's span in the original."""

    text: str
    starts: Sequence[int]
    ends: Sequence[int]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that normalised characters [start, end) came from."""
        return self.starts[start], self.ends[end - 1]


def _identity(text: str) -> Normalised:
    return Normalised(text, range(len(text)), range(1, len(text) + 1))


@lru_cache(maxsize=8192)
def _fold(piece: str) -> str:
    return unicodedata.normalize("NFKC", piece).lower().translate(_FOLD)


def _pieces(text: str) -> list[tuple[int, int, str]]:
    """(start, end, normalised) per character, or per base character with its combining marks
    (e + ◌́ is é only when normalised together)."""
    if not any(map(unicodedata.combining, text)):
        return [(i, i + 1, _fold(char)) for i, char in enumerate(text)]
    pieces: list[tuple[int, int, str]] = []
    i, size = 0, len(text)
    while i < size:
        j = i + 1
        while j < size and unicodedata.combining(text[j]):
            j += 1
        pieces.append((i, j, _fold(text[i:j])))
        i = j
    return pieces


def normalise(text: str) -> Normalised:
    """NFKC (full-width ＮＯ．１ becomes no.1), lower case, folded quotes and dashes."""
    if text.isascii():
        return _identity(text.lower())
    if not any(map(unicodedata.combining, text)):
        # The common case (Chinese with full-width punctuation): one character in, one out.
        folded = "".join(map(_fold, text))
        if len(folded) == len(text):
            return _identity(folded)
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for start, end, piece in _pieces(text):
        out.append(piece)
        starts.extend([start] * len(piece))
        ends.extend([end] * len(piece))
    return Normalised("".join(out), starts, ends)


def _normalised_term(term: str) -> str:
    return normalise(term).text.strip()


def _term_pattern(term: str, language: Language) -> str:
    """A plain term as a regex: English words separated by any whitespace, Chinese characters
    with optional whitespace between them (国 家 级 is still 国家级)."""
    text = _normalised_term(term)
    if language == "en":
        return r"\s+".join(re.escape(word) for word in text.split())
    return r"\s*".join(re.escape(char) for char in text if not char.isspace())


def _alternation(terms: list[str], regexes: list[str], language: Language) -> str | None:
    # Longest terms first, so "全网最低价" wins over "最" where both start.
    unique = {_normalised_term(term) for term in terms if term.strip()}
    ordered = sorted(unique, key=lambda term: (-len(term), term))
    parts = [_term_pattern(term, language) for term in ordered] + [f"(?:{r})" for r in regexes]
    if not parts:
        return None
    body = "|".join(parts)
    if language == "en":
        return f"{_EN_BEFORE}(?:{body}){_EN_AFTER}"
    return f"(?:{body})"


@dataclass(frozen=True)
class _Matcher:
    rule: Rule
    language: Language
    find: re.Pattern[str]
    allow: re.Pattern[str] | None

    def hits(self, normalised: Normalised, original: str) -> list[Hit]:
        found: list[Hit] = []
        allowed: list[tuple[int, int]] | None = None
        for match in self.find.finditer(normalised.text):
            start, end = match.span()
            if start == end:
                continue
            if allowed is None:
                # Only texts with a candidate pay for the allow-list.
                allow = self.allow.finditer(normalised.text) if self.allow else ()
                allowed = [m.span() for m in allow]
            # Overlap, not containment: "the best" is dropped by "best-before" too.
            if any(a < end and start < b for a, b in allowed):
                continue
            first, last = normalised.original_span(start, end)
            found.append(
                Hit(
                    rule_id=self.rule.id,
                    category=self.rule.category,
                    action=self.rule.action,
                    language=self.language,
                    text=original[first:last],
                    start=first,
                    end=last,
                    reason=self.rule.reason,
                )
            )
        return found


def _compile(rule: Rule, language: Language, patterns: LanguagePatterns) -> _Matcher | None:
    find = _alternation(patterns.terms, patterns.regexes, language)
    if find is None:
        return None
    allow = _alternation(patterns.allow, patterns.allow_regexes, language)
    for regex in patterns.regexes + patterns.allow_regexes:
        if _UPPER_CASE.search(regex):
            raise LexiconInvalid(
                f"rule {rule.id!r} ({language}): regexes see lower-cased text, "
                f"write {regex!r} in lower case",
                details={"rule_id": rule.id, "language": language, "regex": regex},
            )
    try:
        # No re.IGNORECASE: the text is lower-cased already, and case-insensitive matching
        # of non-ASCII text made scanning five times slower.
        return _Matcher(
            rule=rule,
            language=language,
            find=re.compile(find),
            allow=re.compile(allow) if allow else None,
        )
    except re.error as exc:
        raise LexiconInvalid(
            f"rule {rule.id!r} ({language}) has a regex that does not compile: {exc}",
            details={"rule_id": rule.id, "language": language, "error": str(exc)},
        ) from exc


class Lexicon:
    """Validated rules, compiled once: build it at start-up and keep it."""

    def __init__(self, rules: list[Rule], *, source: str) -> None:
        self.rules = rules
        self.source = source
        self._matchers = [
            matcher
            for rule in rules
            for language, patterns in rule.patterns.items()
            if (matcher := _compile(rule, language, patterns)) is not None
        ]

    def matchers_for(self, kind: ScanKind) -> list[_Matcher]:
        """The compiled rules that apply to this kind of text."""
        return [m for m in self._matchers if m.rule.kinds is None or kind in m.rule.kinds]


def _read(text: str, source: str) -> LexiconFile:
    try:
        return LexiconFile.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise LexiconInvalid(
            f"lexicon {source} is not valid JSON: {exc}", details={"source": source}
        ) from exc
    except ValidationError as exc:
        raise LexiconInvalid(
            f"lexicon {source} does not have the lexicon shape",
            details={
                "source": source,
                "errors": exc.errors(include_url=False, include_input=False),
            },
        ) from exc


def _default_file() -> LexiconFile:
    resource = files("livecart.supervision") / "lexicons" / "default.json"
    return _read(resource.read_text(encoding="utf-8"), "default")


def load_lexicon(path: Path | None = None) -> Lexicon:
    """The packaged default lexicon, or the file at `path` (LIVECART_COMPLIANCE_LEXICON)."""
    if path is None:
        return Lexicon(_default_file().rules, source="default")
    try:
        content = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LexiconInvalid(
            f"lexicon {path} cannot be read: {exc.strerror}", details={"source": str(path)}
        ) from exc
    loaded = _read(content, str(path))
    if loaded.extends is None:
        return Lexicon(loaded.rules, source=str(path))
    own = {rule.id: rule for rule in loaded.rules}
    base = _default_file().rules
    rules = [own.pop(rule.id, rule) for rule in base] + list(own.values())
    return Lexicon(rules, source=f"default+{path}")


def scan(text: str, *, kind: ScanKind, lexicon: Lexicon) -> ScanResult:
    """Every rule hit in `text`, in order of position; blocked if any hit's rule blocks."""
    normalised = normalise(text)
    hits = [hit for m in lexicon.matchers_for(kind) for hit in m.hits(normalised, text)]
    hits.sort(key=lambda hit: (hit.start, hit.end))
    return ScanResult(
        kind=kind,
        blocked=any(hit.action == "block" for hit in hits),
        hits=hits,
        warnings=[hit for hit in hits if hit.action == "warn"],
    )


def raise_if_blocked(result: ScanResult) -> None:
    """Raise ComplianceBlocked (422 `compliance_blocked`) with every hit if the text is blocked."""
    if not result.blocked:
        return
    rules = sorted({hit.rule_id for hit in result.hits if hit.action == "block"})
    raise ComplianceBlocked(
        f"the {result.kind.replace('_', ' ')} breaks compliance rules: {', '.join(rules)}",
        details={"kind": result.kind, "hits": [hit.model_dump() for hit in result.hits]},
    )
