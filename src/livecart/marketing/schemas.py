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
    coupon_amount: int | None = Field(default=None, ge=1, le=10**9)
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
        if self.action is Action.coupon and (not self.coupon_code or not self.coupon_amount):
            raise ValueError("a coupon needs coupon_code and coupon_amount")
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


class RunOut(OutputModel):
    campaign_id: int
    audience: int
    opted_out: int
    treated: int
    holdout: int
    in_app_messages: int
    emails: int


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
