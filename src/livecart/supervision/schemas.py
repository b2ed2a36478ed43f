"""Shapes of the supervision domain: compliance rules, lexicon files, hits and scan results."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ScanKind = Literal[
    "product_title", "product_description", "anchor_script", "flash_sale_banner", "chat"
]
SCAN_KINDS: tuple[ScanKind, ...] = (
    "product_title",
    "product_description",
    "anchor_script",
    "flash_sale_banner",
    "chat",
)
Language = Literal["en", "zh"]
Action = Literal["block", "warn"]
RuleId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class LexiconModel(BaseModel):
    """Lexicon files are written by people: unknown keys are mistakes, not extensions."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LanguagePatterns(LexiconModel):
    """What a rule looks for in one language, and what it lets pass.

    English terms and regexes match case-insensitively between word boundaries (Latin letters
    and digits); Chinese ones match as substrings. A hit that overlaps a match of `allow` or
    `allow_regexes` (same rule, same language) is dropped: "best-before", 最近, 第一次.
    """

    terms: list[str] = Field(default_factory=list)
    regexes: list[str] = Field(default_factory=list)
    allow: list[str] = Field(default_factory=list)
    allow_regexes: list[str] = Field(default_factory=list)


class Rule(LexiconModel):
    """One compliance rule: what it looks for, what it does on a hit, and the law behind it."""

    id: RuleId
    category: str = Field(min_length=1, max_length=64)
    action: Action
    reason: str = Field(min_length=1, max_length=2000)
    # The kinds of text the rule applies to; None means all of them.
    kinds: list[ScanKind] | None = None
    patterns: dict[Language, LanguagePatterns]

    @property
    def languages(self) -> list[Language]:
        """The languages this rule has patterns for."""
        return list(self.patterns)


class LexiconFile(LexiconModel):
    """A lexicon file. With `extends: "default"` its rules replace the packaged rules of the
    same id and add the others; without it, its rules are the whole lexicon."""

    version: Literal[1] = 1
    extends: Literal["default"] | None = None
    rules: list[Rule]

    @model_validator(mode="after")
    def _unique_ids(self) -> LexiconFile:
        ids = [rule.id for rule in self.rules]
        duplicated = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
        if duplicated:
            raise ValueError(f"rule ids must be unique, repeated: {', '.join(duplicated)}")
        return self


class Hit(BaseModel):
    """One match of a rule: offsets are into the text as given (before normalisation)."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    category: str
    action: Action
    language: Language
    text: str
    start: int
    end: int
    reason: str


class FieldHit(Hit):
    """A hit in one field of a record (a product's title or description, a chat text)."""

    field: str
    kind: ScanKind


class ScanResult(BaseModel):
    """Every hit in order of position; blocked when any hit's rule blocks."""

    model_config = ConfigDict(frozen=True)

    kind: ScanKind
    blocked: bool
    hits: list[Hit]
    warnings: list[Hit]
