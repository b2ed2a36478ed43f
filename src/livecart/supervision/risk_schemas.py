"""Shapes of sanctions, appeals, the audit log, consumer reports, risk scores and alerts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from livecart.core.schemas import InputModel, OutputModel


class SanctionKind(StrEnum):
    warn = "warn"
    delist_product = "delist_product"
    freeze_flash_sale = "freeze_flash_sale"
    suspend_room = "suspend_room"
    suspend_anchor = "suspend_anchor"


class SubjectKind(StrEnum):
    anchor = "anchor"
    room = "room"
    product = "product"
    flash_sale = "flash_sale"
    brand = "brand"


# What each sanction applies to (a warning may name any subject).
SANCTION_SUBJECTS: dict[SanctionKind, SubjectKind | None] = {
    SanctionKind.warn: None,
    SanctionKind.delist_product: SubjectKind.product,
    SanctionKind.freeze_flash_sale: SubjectKind.flash_sale,
    SanctionKind.suspend_room: SubjectKind.room,
    SanctionKind.suspend_anchor: SubjectKind.anchor,
}


class AppealStatus(StrEnum):
    none = "none"
    pending = "pending"
    upheld = "upheld"
    lifted = "lifted"


class SanctionIn(InputModel):
    kind: SanctionKind
    # Needed for a warning only; the other kinds imply it.
    subject_kind: SubjectKind | None = None
    subject_id: int = Field(gt=0)
    reason: str = Field(min_length=1, max_length=2000)
    ends_at: datetime | None = None


class SanctionOut(OutputModel):
    id: int
    kind: SanctionKind
    subject_kind: SubjectKind
    subject_id: int
    reason: str
    party_user_id: int | None
    party_brand_id: int | None
    created_by: int | None
    created_at: datetime
    ends_at: datetime | None
    lifted_at: datetime | None
    active: bool = False
    appeal_status: AppealStatus
    appeal_text: str
    appealed_at: datetime | None
    appeal_decided_at: datetime | None


class SanctionBlock(OutputModel):
    """A sanction in force that stops something (shown on sales and merchants' products)."""

    code: str = Field(
        description="The refusal's error code: flash_sale_frozen, product_delisted, "
        "room_suspended or anchor_suspended."
    )
    reason: str = Field(description="The operator's reason.")
    sanction_id: int
    until: datetime | None = Field(description="When it ends by itself (null: until lifted).")


class LiftIn(InputModel):
    reason: str = Field(min_length=1, max_length=2000)


class AppealIn(InputModel):
    text: str = Field(min_length=1, max_length=2000)


class AppealDecisionIn(InputModel):
    decision: Literal["uphold", "lift"]
    reason: str = Field(min_length=1, max_length=2000)


class AuditOut(OutputModel):
    id: int
    at: datetime
    actor_id: int | None
    actor_role: str
    action: str
    subject_kind: str
    subject_id: int
    reason: str
    details: dict[str, Any]


class ReportKind(StrEnum):
    fake_goods = "fake_goods"
    misrepresentation = "misrepresentation"
    anchor_misconduct = "anchor_misconduct"


class ReportStatus(StrEnum):
    new = "new"
    in_review = "in_review"
    actioned = "actioned"
    dismissed = "dismissed"


class ReportIn(InputModel):
    """A consumer's report, from a live room (session_id) or an order (order_id)."""

    kind: ReportKind
    text: str = Field(min_length=1, max_length=4000)
    # Links or storage keys of photos, screenshots, receipts.
    evidence: list[str] = Field(default_factory=list, max_length=10)
    session_id: int | None = Field(default=None, gt=0)
    order_id: int | None = Field(default=None, gt=0)
    product_id: int | None = Field(default=None, gt=0)


class ReportTarget(OutputModel):
    """What a report is about, resolved from its room or order by the caller."""

    session_id: int | None = None
    order_id: int | None = None
    product_id: int | None = None
    anchor_id: int | None = None
    brand_id: int | None = None


class ReportTriageIn(InputModel):
    status: Literal["in_review", "actioned", "dismissed"]
    reason: str = Field(min_length=1, max_length=2000)


class ReportOut(OutputModel):
    id: int
    reporter_id: int
    kind: ReportKind
    session_id: int | None
    order_id: int | None
    product_id: int | None
    anchor_id: int | None
    brand_id: int | None
    text: str
    evidence: list[str]
    status: ReportStatus
    handled_by: int | None
    created_at: datetime
    updated_at: datetime


RiskSubject = Literal["brand", "product", "anchor"]
RiskLevel = Literal["low", "watch", "review", "act"]


class RiskContribution(OutputModel):
    """One signal of a risk score: its measured value, weight and share of the score."""

    signal: str
    value: float
    weight: float
    contribution: float
    detail: str


class RiskScoreOut(OutputModel):
    subject_kind: RiskSubject
    subject_id: int
    score: float
    level: RiskLevel
    contributions: list[RiskContribution]


class ComplianceHitOut(OutputModel):
    """One kept compliance hit or price-truth violation of a subject (docs/supervision.md,
    "Compliance hits and price-truth violations"): what was checked, whether it was refused
    (`block`) or accepted with a warning (`warn`), the rule and the matched words."""

    at: datetime
    source: str
    action: str
    rule_id: str
    excerpt: str
    session_id: int | None


class AlertOut(OutputModel):
    id: int
    session_id: int
    kind: str
    at: datetime
    negative: int
    window_seconds: int
    terms: list[str]
