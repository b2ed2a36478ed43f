"""Errors of the accounts domain."""

from __future__ import annotations

from livecart.core.errors import (
    Conflict,
    InvalidInput,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
)


class EmailTaken(Conflict):
    code = "email_taken"


class BadCredentials(Unauthenticated):
    code = "bad_credentials"


class LoginThrottled(RateLimited):
    code = "login_throttled"


class BadRoleGrant(InvalidInput):
    code = "bad_role_grant"


class WrongPassword(PermissionDenied):
    code = "wrong_password"


class UnsubscribeLinkInvalid(InvalidInput):
    code = "unsubscribe_link_invalid"
