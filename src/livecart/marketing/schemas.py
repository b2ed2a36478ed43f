"""Input and output shapes of marketing: segments, stages, campaigns, reports, messages."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, model_validator

from livecart.core.schemas import InputModel, OutputModel
from livecart.insights.portrait_query import RuleGroup

Name = Annotated[str, Field(min_length=1, max_length=120)]


class Action(StrEnum):
    in_app = "in_app"
    coupon = "coupon"
    invitation = "invitation"
    email = "email"


class Arm(StrEnum):
    treated = "treated"
    holdout = "holdout"


class CampaignStatus(StrEnum):
    draft = "draft"
    sent = "sent"
    measured = "measured"


class SegmentIn(InputModel):
    name: Name
    description: str = Field(default="", max_length=2000)
    rule: RuleGroup


class RuleIn(InputModel):
    """A draft rule, counted live while the segment builder edits it."""

    rule: RuleGroup


class SegmentOut(OutputModel):
    id: int
    name: str
    description: str
    rule: dict[str, Any]
    created_by: int
    created_at: datetime
    updated_at: datetime
    size: int | None = None


class CountOut(OutputModel):
    count: int


class FieldOut(OutputModel):
    field: str
    kind: str
    label: str


class CampaignIn(InputModel):
    name: Name
    action: Action
    segment_id: int | None = Field(default=None, ge=1)
    track: str | None = Field(default=None, max_length=64)
    stage: str | None = Field(default=None, max_length=32)
    session_id: int | None = Field(default=None, ge=1, description="an invitation's session")
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=4000)
    coupon_code: str | None = Field(default=None, min_length=3, max_length=40)
    coupon_amount: int | None = Field(
        default=None, ge=1, le=10**9, description="a fixed coupon: minor units off"
    )
    coupon_percent: int | None = Field(
        default=None,
        ge=1,
        le=90,
        description="a percent coupon: percent off the eligible lines, rounded down to the "
        "minor unit (give this or coupon_amount)",
    )
    coupon_min_spend: int = Field(
        default=0, ge=0, le=10**10, description="minimum eligible spend, minor units"
    )
    coupon_brand_id: int | None = Field(
        default=None, ge=1, description="the coupon counts only this brand's lines"
    )
    coupon_product_id: int | None = Field(
        default=None, ge=1, description="the coupon counts only this product's lines"
    )
    coupon_valid_days: int | None = Field(
        default=None, ge=1, le=365, description="days from the send (default: window_days)"
    )
    currency: str = Field(default="CNY", pattern="^[A-Z]{3}$")
    holdout_percent: int = Field(default=10, ge=1, le=50)
    window_days: int = Field(default=14, ge=1, le=90)

    @model_validator(mode="after")
    def _audience(self) -> CampaignIn:
        by_segment = self.segment_id is not None
        by_stage = self.track is not None and self.stage is not None
        if by_segment == by_stage:
            raise ValueError("give either segment_id, or track and stage")
        if self.action is Action.invitation and self.session_id is None:
            raise ValueError("an invitation needs the session_id of an upcoming live")
        if self.action is Action.coupon and (
            not self.coupon_code or (self.coupon_amount is None) == (self.coupon_percent is None)
        ):
            raise ValueError("a coupon needs coupon_code and one of coupon_amount, coupon_percent")
        return self


class CampaignOut(OutputModel):
    id: int
    name: str
    action: Action
    segment_id: int | None
    track: str | None
    stage: str | None
    session_id: int | None
    subject: str
    body: str
    coupon_code: str | None
    coupon_amount: int | None
    coupon_percent: int | None = None
    coupon_min_spend: int = 0
    coupon_brand_id: int | None = None
    coupon_product_id: int | None = None
    coupon_valid_days: int | None = None
    currency: str
    holdout_percent: int
    window_days: int
    status: CampaignStatus
    opted_out: int
    outcome_source: str | None
    note: str
    created_by: int
    created_at: datetime
    sent_at: datetime | None
    measured_at: datetime | None
    # E-mail campaigns: messages per status (queued, sent, failed, cancelled; docs/marketing.md).
    emails_by_status: dict[str, int] = Field(default_factory=dict)


class RunOut(OutputModel):
    campaign_id: int
    audience: int
    opted_out: int
    treated: int
    holdout: int
    in_app_messages: int
    emails: int


class DeliveryOut(OutputModel):
    """One round of the e-mail outbox: what became of the due e-mails it took."""

    sent: int
    failed: int  # refused for good by the server, or out of tries
    retrying: int  # not sent this time; due again later
    cancelled: int  # the consumer switched targeted messages off, or closed the account


class EmailBacklogOut(OutputModel):
    """E-mails not sent yet, for monitoring: a backlog that only grows means mail is stuck."""

    queued: int  # due now, later (after a failed try), or in flight under a lease
    due: int  # of those, what a round would take now
    oldest_queued_seconds: float  # age of the oldest unsent e-mail (mail server away); 0 if none
    oldest_due_seconds: float  # how long the longest-waiting due e-mail has been due (no round
    # runs: the e-mail job stopped); 0 if none


class ArmOut(OutputModel):
    arm: Arm
    consumers: int
    converted: int
    conversion_rate: float | None
    gmv: int  # minor units
    gmv_per_consumer: float | None  # minor units


class IntervalOut(OutputModel):
    """A difference (treated minus holdout) with its 95% confidence interval."""

    estimate: float | None
    low: float | None
    high: float | None
    method: str
    relative: float | None = None  # estimate over the holdout's level


class CouponCountsOut(OutputModel):
    """A coupon campaign's coupons: issued to the treated, redeemed by orders not cancelled."""

    issued: int
    redeemed: int
    redemption_rate: float | None
    discount: int = Field(description="minor units taken off by the redeemed coupons")


class ReportOut(OutputModel):
    campaign_id: int
    name: str
    status: CampaignStatus
    outcome_source: str | None
    note: str
    currency: str
    window_days: int
    opted_out: int
    arms: list[ArmOut]
    conversion_uplift: IntervalOut
    gmv_uplift: IntervalOut
    coupons: CouponCountsOut | None = None  # coupon campaigns only


class MessageOut(OutputModel):
    id: int
    campaign_id: int | None
    channel: str
    subject: str
    body: str
    link: str | None
    coupon_code: str | None
    status: str
    created_at: datetime
    read_at: datetime | None


class StageCountOut(OutputModel):
    track: str
    stage: str
    consumers: int


class StageFlowOut(OutputModel):
    track: str
    from_stage: str | None
    to_stage: str
    moves: int


class StageRunOut(OutputModel):
    tracks: int
    consumers: int
    moves: int


class InviteeOut(OutputModel):
    user_id: int
    score: float
    fan_level: int | None
    sessions_watched: int | None
    expected_purchases_30d: float | None


class InviteIn(InputModel):
    top: int = Field(default=50, ge=1, le=5000)
    subject: str = Field(default="You're invited to a live show", min_length=1, max_length=200)
    body: str = Field(default="", max_length=4000)
    holdout_percent: int = Field(default=10, ge=1, le=50)


# ---------------------------------------------------------------- coupons


class CouponKind(StrEnum):
    fixed = "fixed"
    percent = "percent"


class CouponState(StrEnum):
    available = "available"
    redeemed = "redeemed"
    expired = "expired"  # available but past expires_at (read from the clock)


class CouponOut(OutputModel):
    """One of my coupons, with its terms and what became of it."""

    id: int
    campaign_id: int | None
    code: str
    kind: CouponKind
    amount: int | None = Field(description="fixed coupons: minor units off")
    percent: int | None = Field(description="percent coupons: percent off, rounded down")
    min_spend: int = Field(description="minimum eligible spend, minor units")
    currency: str
    brand_id: int | None = Field(description="only this brand's lines count")
    product_id: int | None = Field(description="only this product's lines count")
    issued_at: datetime
    expires_at: datetime
    state: CouponState
    order_id: int | None = Field(description="the order that redeemed it")
    discount: int | None = Field(description="what that order took off, minor units")
    redeemed_at: datetime | None


class CouponLine(OutputModel):
    """One order line as a coupon sees it (commerce passes these to price a coupon)."""

    product_id: int
    brand_id: int
    currency: str
    amount: int  # unit price x quantity, minor units


class CouponTerms(OutputModel):
    """A coupon checked for its owner now (not used, not expired), ready to price."""

    id: int
    code: str
    kind: CouponKind
    amount: int | None
    percent: int | None
    min_spend: int
    currency: str
    brand_id: int | None
    product_id: int | None
