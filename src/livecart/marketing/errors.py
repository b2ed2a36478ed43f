"""Errors of the marketing domain."""

from __future__ import annotations

from livecart.core.errors import Conflict, InvalidInput, NotFound


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
