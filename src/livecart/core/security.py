"""Password hashing (Argon2id), signed access tokens and CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
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


def resolve_secret(secret_key: str | None, data_dir: Path) -> str:
    """The signing secret: the configured one, else generated once and kept in the data dir
    (the server and the command line share it)."""
    if secret_key:
        return secret_key
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


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


class TokenCache:
    """Tokens already verified (signature checked once): token -> (user id, kind, expiry).

    A burst of requests with the same bearer token pays for one HMAC check; the expiry is still
    compared with the clock on every use. Bounded: cleared when full.
    """

    def __init__(self, max_entries: int = 50_000) -> None:
        self._max = max_entries
        self._seen: dict[str, tuple[int, str, int]] = {}

    def read(self, token: str, *, secret: str, now: datetime, kind: str = "access") -> int | None:
        """The user id of a valid, unexpired token of the given kind, or None."""
        known = self._seen.get(token)
        if known is None:
            try:
                payload = jwt.decode(
                    token,
                    secret,
                    algorithms=["HS256"],
                    # Times are checked against the platform's clock below, not the system's:
                    # PyJWT would refuse a token issued by a clock ahead of it ("iat").
                    options={"verify_exp": False, "verify_iat": False, "require": ["exp"]},
                )
                known = (int(payload["sub"]), str(payload.get("kind")), int(payload["exp"]))
            except (jwt.PyJWTError, KeyError, ValueError):
                return None
            if len(self._seen) >= self._max:
                self._seen.clear()
            self._seen[token] = known
        user_id, token_kind, expires = known
        if token_kind != kind or expires < int(now.timestamp()):
            return None
        return user_id
