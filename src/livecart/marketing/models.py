"""Tables of segments, stage tracks, campaigns, holdout assignments and messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from livecart.core.db import Base, MinorUnitsColumn


class Segment(Base):
    """A saved rule over portrait fields and scores (`insights.portrait_query`)."""

    __tablename__ = "marketing_segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ConsumerStage(Base):
    """Where a consumer stands on one stage track (lifecycle, or one per brand)."""

    __tablename__ = "consumer_stages"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    track: Mapped[str] = mapped_column(String(64), primary_key=True)
    stage: Mapped[str] = mapped_column(String(32))
    entered_at: Mapped[datetime]


class StageTransition(Base):
    """One move of a consumer between stages of a track (stage-flow charts)."""

    __tablename__ = "stage_transitions"
    __table_args__ = (Index("ix_stage_transitions_track_at", "track", "moved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    track: Mapped[str] = mapped_column(String(64))
    from_stage: Mapped[str | None] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    moved_at: Mapped[datetime]


class Campaign(Base):
    """An action sent to a segment or a stage, with a random holdout kept from it."""

    __tablename__ = "marketing_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # in_app | coupon | invitation | email
    action: Mapped[str] = mapped_column(String(20))
    segment_id: Mapped[int | None] = mapped_column(
        ForeignKey("marketing_segments.id", ondelete="SET NULL")
    )
    track: Mapped[str | None] = mapped_column(String(64))
    stage: Mapped[str | None] = mapped_column(String(32))
    # An invitation's upcoming live session (reserved from the message's link).
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="SET NULL")
    )
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    coupon_code: Mapped[str | None] = mapped_column(String(40))
    coupon_amount: Mapped[MinorUnitsColumn | None]
    # The coupon's terms (docs/marketing.md, "Coupons at checkout"): percent instead of an
    # amount, a minimum spend, a brand or product scope, and days of validity from the send.
    coupon_percent: Mapped[int | None]
    coupon_min_spend: Mapped[MinorUnitsColumn] = mapped_column(default=0, server_default="0")
    coupon_brand_id: Mapped[int | None] = mapped_column(
        ForeignKey("brands.id", ondelete="SET NULL")
    )
    coupon_product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", ondelete="SET NULL")
    )
    coupon_valid_days: Mapped[int | None]
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    holdout_percent: Mapped[int] = mapped_column(default=10)
    window_days: Mapped[int] = mapped_column(default=14)
    # draft | sent | measured
    status: Mapped[str] = mapped_column(String(20), default="draft")
    opted_out: Mapped[int] = mapped_column(default=0)  # audience left out for their choice
    # Where the outcomes came from: events (the behaviour-event log) | simulated (demo).
    outcome_source: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    measured_at: Mapped[datetime | None]


class CampaignAssignment(Base):
    """A consumer's arm in a campaign (treated or holdout) and the outcome measured after."""

    __tablename__ = "campaign_assignments"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("marketing_campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    arm: Mapped[str] = mapped_column(String(10))  # treated | holdout
    assigned_at: Mapped[datetime]
    converted: Mapped[bool | None]
    gmv: Mapped[MinorUnitsColumn | None]  # minor units of the campaign's currency


class Message(Base):
    """A targeted message to a consumer: in the in-app inbox at once (`delivered`); an e-mail
    is also an outbox row (`queued` -> `sent` | `failed` | `cancelled`, `marketing.delivery`;
    `unknown`: sent before migration 0015 kept results)."""

    __tablename__ = "marketing_messages"
    __table_args__ = (Index("ix_marketing_messages_outbox", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("marketing_campaigns.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # in_app | email
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(300))
    coupon_code: Mapped[str | None] = mapped_column(String(40))
    # in_app: delivered; email: queued -> sent | failed | cancelled (or unknown)
    status: Mapped[str] = mapped_column(String(20), default="delivered")
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
    # E-mail only: tries so far, when the next may start (a try in flight holds it a lease
    # ahead), when the server took it, and why the last try did not.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(300))


class Coupon(Base):
    """One consumer's coupon from a coupon campaign, redeemed at most once at checkout.

    available -> redeemed (by an order, with a conditional update: one use) -> available again
    when that order is cancelled unpaid. Expiry is read from the clock, not stored as a state.
    """

    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("campaign_id", "user_id", name="uq_coupons_campaign_user"),
        Index("ix_coupons_user_status", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("marketing_campaigns.id", ondelete="SET NULL")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10))  # fixed | percent
    amount: Mapped[MinorUnitsColumn | None]  # fixed: minor units off
    percent: Mapped[int | None]  # percent: 1..90 off the eligible lines, rounded down
    min_spend: Mapped[MinorUnitsColumn] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3))
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id", ondelete="SET NULL"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default="available")  # available | redeemed
    # The order that redeemed it (a reference only: commerce owns orders) and what it took off.
    order_id: Mapped[int | None]
    discount: Mapped[MinorUnitsColumn | None]
    redeemed_at: Mapped[datetime | None]
