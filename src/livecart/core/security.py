"""Password hashing (Argon2id), signed access tokens and CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2-cffi defaults to Argon2id with RFC 9106 low-memory params


def hash_password(password: str) -> str:
    """Hash a password with Argon2id."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Check a password against its Argon2id hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_hex(16))


def burn_password_check(password: str) -> None:
    """Spend the time of one verification so unknown users answer as slowly as known ones."""
    verify_password(_dummy_hash(), password)


def create_access_token(
    *, secret: str, user_id: int, now: datetime, minutes: int, kind: str = "access"
) -> str:
    """Sign a token naming the user; `kind` separates API tokens from page sessions."""
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "kind": kind,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=minutes)).timestamp()),
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(payload, secret, algorithm="HS256")


def read_access_token(
    token: str, *, secret: str, now: datetime, kind: str = "access"
) -> int | None:
    """Return the user id of a valid token of the given kind, or None."""
    try:
        payload = jwt.decode(
            token, secret, algorithms=["HS256"], options={"verify_exp": False, "require": ["exp"]}
        )
    except jwt.PyJWTError:
        return None
    if payload.get("kind") != kind or int(payload["exp"]) < int(now.timestamp()):
        return None
    try:
        return int(payload["sub"])
    except (KeyError, ValueError):
        return None


def csrf_token_for(session_token: str, *, secret: str) -> str:
    """The CSRF token bound to one page session (synchroniser token derived by HMAC)."""
    return hmac.new(secret.encode(), b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def check_csrf(session_token: str, given: str | None, *, secret: str) -> bool:
    """Constant-time check of a CSRF token against the session it must belong to."""
    return bool(given) and hmac.compare_digest(
        csrf_token_for(session_token, secret=secret), given or ""
    )


def sign(payload: bytes, *, secret: str) -> str:
    """HMAC-SHA256 hex signature, used by payment webhooks."""
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
