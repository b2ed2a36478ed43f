"""Tables of the supervision domain.

Sections: qualifications and product selection (engineer E); sanctions, audit log and risk
(engineer F) below their own marker.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import DDL, JSON, Date, ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from livecart.core.db import Base

# ---------------------------------------------------------------- qualifications and selection


class Qualification(Base):
    """A licence, permit or identity verification of a brand or an anchor, reviewed by an
    operator. Brand rows carry `brand_id`, anchor rows `user_id` (the anchor)."""

    __tablename__ = "qualifications"
    __table_args__ = (
        Index("ix_qualifications_brand_kind", "brand_id", "kind"),
        Index("ix_qualifications_user_kind", "user_id", "kind"),
        Index("ix_qualifications_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(10))  # brand | anchor
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # business_licence | category_permit | identity_verification
    kind: Mapped[str] = mapped_column(String(30))
    number: Mapped[str] = mapped_column(String(100))
    issuer: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    # The categories a category permit covers (empty for the other kinds).
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Identity verification only: the anchor must be at least 16 on the day they go live.
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    # Where the scanned document is kept (a storage key or URL); never served publicly.
    document_ref: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(10))  # pending | approved | rejected
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime]
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    review_note: Mapped[str] = mapped_column(Text, default="")
    reviewed_at: Mapped[datetime | None]


class ProductSelection(Base):
    """A product submitted for live selling and where it stands in selection review.

    submitted -> selected (operator's selection review) -> inspected (a passed quality
    inspection) -> approved (for live); any open step -> rejected, with the reason.
    """

    __tablename__ = "product_selections"
    __table_args__ = (
        Index("ix_product_selections_product", "product_id"),
        Index("ix_product_selections_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(Text, default="")  # the merchant's pitch
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime]
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")  # the last decision's reason
    decided_at: Mapped[datetime | None]


class QualityInspection(Base):
    """An inspection of a sample of a product in selection: what was found, photos, verdict."""

    __tablename__ = "quality_inspections"
    __table_args__ = (Index("ix_quality_inspections_product", "product_id", "inspected_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    selection_id: Mapped[int] = mapped_column(
        ForeignKey("product_selections.id", ondelete="CASCADE")
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    sample_id: Mapped[str] = mapped_column(String(64))
    findings: Mapped[str] = mapped_column(Text)
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)  # storage keys or URLs
    passed: Mapped[bool]
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    inspected_at: Mapped[datetime]


# ------------------------------------------------ end of qualifications and selection (E)


# ---------------------------------------------------------------- sanctions and risk (issue 5, F)


class AuditEntry(Base):
    """One supervision action: who, what, when, why. Append-only: triggers refuse UPDATE and
    DELETE (created by migration 0008 and, for test set-up, with the table below)."""

    __tablename__ = "supervision_audit"
    __table_args__ = (Index("ix_supervision_audit_subject", "subject_kind", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    # None for the platform itself (an automatic warning from a risk threshold).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int]
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Sanction(Base):
    """A warning, delisting, freeze or suspension of a product, flash sale, room or anchor,
    with its optional end and the sanctioned party's appeal."""

    __tablename__ = "supervision_sanctions"
    __table_args__ = (Index("ix_supervision_sanctions_subject", "subject_kind", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject_kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    # Who may appeal: the sanctioned anchor (or the room's), or the members of the brand.
    party_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    party_brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    lifted_at: Mapped[datetime | None]
    lifted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    appeal_status: Mapped[str] = mapped_column(String(20), default="none")
    appeal_text: Mapped[str] = mapped_column(Text, default="")
    appeal_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    appealed_at: Mapped[datetime | None]
    appeal_decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    appeal_decided_at: Mapped[datetime | None]


class ConsumerReport(Base):
    """A consumer's report of fake goods, misrepresentation or anchor misconduct."""

    __tablename__ = "supervision_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("live_sessions.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), index=True)
    anchor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    handled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class NegativeSignal(Base):
    """One negative chat message or complaint in a live session, for the overturn window.

    Holds the matched lexicon term, not the message: the window needs no one's words."""

    __tablename__ = "supervision_negative_signals"
    __table_args__ = (Index("ix_supervision_negative_signals_window", "session_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(16))
    term: Mapped[str] = mapped_column(String(64))


class OverturnAlert(Base):
    """An overturn alert raised for a live session (operators' dashboard, cooldown)."""

    __tablename__ = "supervision_alerts"
    __table_args__ = (Index("ix_supervision_alerts_session", "session_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default="overturn")
    at: Mapped[datetime] = mapped_column(index=True)
    negative: Mapped[int]
    window_seconds: Mapped[int]
    terms: Mapped[list[str]] = mapped_column(JSON, default=list)


# ---------------------------------------------------------------- risk signals (issue 5, item 7)


class ComplianceHit(Base):
    """One rule hit or price-truth violation kept for the risk signals (migration 0011).

    `source` says what was checked: product_title, product_description, chat (a host's
    message) for the lexicon; original_price, flash_sale_price for price truth. `action` is
    `block` (the text or claim was refused) or `warn` (accepted with a warning). `excerpt` is
    the matched words (the lexicon term, or the claimed price against the lowest): never the
    whole message. No foreign keys: it is a log that outlives what it names."""

    __tablename__ = "supervision_compliance_hits"
    __table_args__ = (
        Index("ix_supervision_compliance_hits_brand", "brand_id", "at"),
        Index("ix_supervision_compliance_hits_product", "product_id", "at"),
        Index("ix_supervision_compliance_hits_anchor", "anchor_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(8))
    rule_id: Mapped[str] = mapped_column(String(64))
    excerpt: Mapped[str] = mapped_column(String(200), default="")
    brand_id: Mapped[int | None]
    product_id: Mapped[int | None]
    anchor_id: Mapped[int | None]
    session_id: Mapped[int | None]
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class BotFinding(Base):
    """What one bot-like detector found in one live session: how many accounts, and why.

    Written by `risk_bots.detect_bot_activity` from the behaviour-event log; one row per
    session and detector, replaced when the detector runs again. Counts only, no user ids."""

    __tablename__ = "supervision_bot_findings"
    __table_args__ = (
        Index("ix_supervision_bot_findings_anchor", "anchor_id", "seen_at"),
        Index("uq_supervision_bot_findings_session", "session_id", "detector", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int]
    anchor_id: Mapped[int]
    detector: Mapped[str] = mapped_column(String(32))
    accounts: Mapped[int]
    detail: Mapped[str] = mapped_column(String(300), default="")
    seen_at: Mapped[datetime]  # the first flagged event (the 90-day window counts from it)
    detected_at: Mapped[datetime]


# The audit log is append-only, enforced by the database itself. Migration 0008 creates the
# same triggers; these listeners create them wherever `metadata.create_all` makes the table.
# TRUNCATE (the table owner's maintenance, and the test set-up between tests) is not refused.
AUDIT_TRIGGERS: dict[str, tuple[str, ...]] = {
    "sqlite": (
        "CREATE TRIGGER supervision_audit_no_update BEFORE UPDATE ON supervision_audit "
        "BEGIN SELECT RAISE(ABORT, 'supervision_audit is append-only'); END",
        "CREATE TRIGGER supervision_audit_no_delete BEFORE DELETE ON supervision_audit "
        "BEGIN SELECT RAISE(ABORT, 'supervision_audit is append-only'); END",
    ),
    "postgresql": (
        "CREATE OR REPLACE FUNCTION supervision_audit_refuse() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'supervision_audit is append-only'; END; $$ LANGUAGE plpgsql",
        "CREATE TRIGGER supervision_audit_no_change BEFORE UPDATE OR DELETE ON supervision_audit "
        "FOR EACH ROW EXECUTE FUNCTION supervision_audit_refuse()",
    ),
}

for _dialect, _statements in AUDIT_TRIGGERS.items():
    for _statement in _statements:
        event.listen(
            AuditEntry.__table__,
            "after_create",
            DDL(_statement).execute_if(dialect=_dialect),  # type: ignore[no-untyped-call]
        )
