"""Errors of the events domain."""

from __future__ import annotations

from livecart.core.errors import InvalidInput, NotFound, RateLimited


class AnonymousIdRequired(InvalidInput):
    code = "anonymous_id_required"


class ClientEventsThrottled(RateLimited):
    code = "events_rate_limited"


class EventLogEmpty(NotFound):
    code = "event_log_empty"
