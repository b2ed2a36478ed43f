"""Shapes of the supervision domain: compliance rules, lexicon files, hits and scan results."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from livecart.core.schemas import InputModel

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


# ---------------------------------------------------------------- qualifications and selection (E)

QualificationKind = Literal["business_licence", "category_permit", "identity_verification"]
QualificationSubject = Literal["brand", "anchor"]
ReviewStatus = Literal["pending", "approved", "rejected"]
SelectionStatus = Literal["submitted", "selected", "inspected", "approved", "rejected"]
# The kinds a brand holds and the kind an anchor holds.
BRAND_KINDS: tuple[QualificationKind, ...] = ("business_licence", "category_permit")
ANCHOR_KINDS: tuple[QualificationKind, ...] = ("identity_verification",)
Category = Annotated[str, Field(min_length=1, max_length=80)]
Reference = Annotated[str, Field(min_length=1, max_length=500)]


class QualificationIn(InputModel):
    """A merchant's licence or permit for their brand (`brand_id`), or an anchor's identity
    verification for themselves (no `brand_id`; `date_of_birth` required)."""

    kind: QualificationKind
    brand_id: int | None = None
    number: str = Field(min_length=1, max_length=100)
    issuer: str = Field(min_length=1, max_length=200)
    valid_from: date
    expires_on: date
    categories: list[Category] = Field(default_factory=list, max_length=50)
    date_of_birth: date | None = None
    document_ref: Reference | None = None

    @model_validator(mode="after")
    def _consistent(self) -> QualificationIn:
        if self.expires_on <= self.valid_from:
            raise ValueError("expires_on must be after valid_from")
        if self.kind in BRAND_KINDS and self.brand_id is None:
            raise ValueError(f"a {self.kind} belongs to a brand: brand_id is required")
        if self.kind in ANCHOR_KINDS and self.brand_id is not None:
            raise ValueError("an identity verification is the anchor's own: no brand_id")
        if self.kind == "category_permit" and not self.categories:
            raise ValueError("a category permit names the categories it covers")
        if self.kind != "category_permit" and self.categories:
            raise ValueError("only a category permit names categories")
        if self.kind == "identity_verification" and self.date_of_birth is None:
            raise ValueError("an identity verification needs the date of birth")
        if self.kind != "identity_verification" and self.date_of_birth is not None:
            raise ValueError("only an identity verification carries a date of birth")
        return self


class ReviewIn(InputModel):
    """An operator's decision on a pending qualification; a rejection says why."""

    decision: Literal["approve", "reject"]
    note: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _reason_for_rejection(self) -> ReviewIn:
        if self.decision == "reject" and not self.note:
            raise ValueError("a rejection needs a note saying why")
        return self


class QualificationOut(BaseModel):
    """A qualification record as its owner and operators see it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    subject: QualificationSubject
    brand_id: int | None
    user_id: int | None
    kind: QualificationKind
    number: str
    issuer: str
    valid_from: date
    expires_on: date
    categories: list[str]
    date_of_birth: date | None
    document_ref: str | None
    status: ReviewStatus
    submitted_by: int | None
    submitted_at: datetime
    reviewer_id: int | None
    review_note: str
    reviewed_at: datetime | None


class SelectionIn(InputModel):
    """A merchant submits one of their brand's products for live selling."""

    product_id: int
    note: str = Field(default="", max_length=2000)


class SelectionDecisionIn(InputModel):
    """An operator's selection review (`select`), final approval (`approve`) or rejection."""

    decision: Literal["select", "approve", "reject"]
    reason: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _reason_for_rejection(self) -> SelectionDecisionIn:
        if self.decision == "reject" and not self.reason:
            raise ValueError("a rejection needs a reason")
        return self


class InspectionIn(InputModel):
    """A quality inspection of a sample: what was found, photos, and whether it passed."""

    sample_id: str = Field(min_length=1, max_length=64)
    findings: str = Field(min_length=1, max_length=5000)
    photos: list[Reference] = Field(default_factory=list, max_length=20)
    passed: bool


class InspectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    selection_id: int
    product_id: int
    sample_id: str
    findings: str
    photos: list[str]
    passed: bool
    inspector_id: int | None
    inspected_at: datetime


class SelectionOut(BaseModel):
    """A product's selection record with its inspections, newest last."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    product_id: int
    brand_id: int
    status: SelectionStatus
    note: str
    submitted_by: int | None
    submitted_at: datetime
    reviewer_id: int | None
    reason: str
    decided_at: datetime | None
    inspections: list[InspectionOut] = Field(default_factory=list)


# ------------------------------------------------ end of qualifications and selection (E)
