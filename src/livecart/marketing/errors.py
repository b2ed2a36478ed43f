"""Errors of the marketing domain."""

from __future__ import annotations

from livecart.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied


class SegmentNotFound(NotFound):
    code = "segment_not_found"


class CampaignNotFound(NotFound):
    code = "campaign_not_found"


class InvalidRule(InvalidInput):
    code = "invalid_segment_rule"


class InvalidAudience(InvalidInput):
    code = "invalid_audience"


class CampaignAlreadySent(Conflict):
    code = "campaign_already_sent"


class CampaignNotSent(Conflict):
    code = "campaign_not_sent"


class SessionNotUpcoming(Conflict):
    code = "session_not_upcoming"


class MessageNotFound(NotFound):
    code = "message_not_found"


class SmtpNotConfigured(Conflict):
    code = "smtp_not_configured"


class CouponNotFound(NotFound):
    code = "coupon_not_found"


class CouponNotYours(PermissionDenied):
    code = "coupon_not_yours"


class CouponExpired(Conflict):
    code = "coupon_expired"


class CouponAlreadyUsed(Conflict):
    code = "coupon_already_used"


class CouponNotApplicable(Conflict):
    code = "coupon_not_applicable"
