"""Errors of the live domain (REST responses and WebSocket error frames share them)."""

from __future__ import annotations

from livecart.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, RateLimited


class RoomNotFound(NotFound):
    code = "room_not_found"


class SessionNotFound(NotFound):
    code = "session_not_found"


class MessageNotFound(NotFound):
    code = "message_not_found"


class ProductNotFound(NotFound):
    code = "product_not_found"


class NotRoomStaff(PermissionDenied):
    code = "not_room_staff"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class RoomAlreadyLive(Conflict):
    code = "room_already_live"


class NotInShowcase(Conflict):
    code = "not_in_showcase"


class SessionEnded(Conflict):
    code = "session_ended"


class SessionNotLive(Conflict):
    code = "session_not_live"


class SessionNotScheduled(Conflict):
    code = "session_not_scheduled"


class CannotSanctionStaff(Conflict):
    code = "cannot_sanction_staff"


class ScheduledInPast(InvalidInput):
    code = "scheduled_in_past"


class NotAnAnchor(InvalidInput):
    code = "not_an_anchor"


class ProductUnavailable(Conflict):
    """The product exists but is not on sale (same code and status as in commerce)."""

    code = "product_unavailable"


class BadModeration(InvalidInput):
    code = "bad_moderation"


# Chat rules; sent as WebSocket error frames.


class MessageTooLong(InvalidInput):
    code = "message_too_long"


class MessageEmpty(InvalidInput):
    code = "message_empty"


class BannedWord(InvalidInput):
    code = "banned_word"


class Muted(PermissionDenied):
    code = "muted"


class Banned(PermissionDenied):
    code = "banned"


class SlowMode(RateLimited):
    code = "slow_mode"


class ChatRateLimited(RateLimited):
    code = "rate_limited"


# Anchor scripts.


class ScriptChanged(Conflict):
    """Another host saved the script since the version this edit started from."""

    code = "script_changed"
