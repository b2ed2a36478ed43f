"""The verified-token cache and the identity cache behind authentication."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from livecart.accounts.schemas import Identity, IdentityCache, Role
from livecart.core.security import TokenCache, create_access_token

SECRET = "test-secret-key-which-is-long-enough-for-hs256"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_a_cached_token_still_expires_and_keeps_its_kind() -> None:
    cache = TokenCache()
    token = create_access_token(secret=SECRET, user_id=7, now=NOW, minutes=10)
    assert cache.read(token, secret=SECRET, now=NOW) == 7
    assert cache.read(token, secret=SECRET, now=NOW) == 7  # from the cache
    assert cache.read(token, secret=SECRET, now=NOW, kind="session") is None
    assert cache.read(token, secret=SECRET, now=NOW + timedelta(minutes=11)) is None


def test_times_are_the_platform_clocks_not_the_systems() -> None:
    # Issued by a clock a day ahead of the system's (a test's frozen clock, a skewed worker):
    # valid by that clock until it expires, whatever the system time says.
    ahead = datetime.now(UTC) + timedelta(days=1)
    token = create_access_token(secret=SECRET, user_id=7, now=ahead, minutes=10)
    assert TokenCache().read(token, secret=SECRET, now=ahead) == 7
    assert TokenCache().read(token, secret=SECRET, now=ahead + timedelta(minutes=11)) is None


def test_bad_tokens_are_refused_and_not_remembered() -> None:
    cache = TokenCache()
    token = create_access_token(secret=SECRET, user_id=7, now=NOW, minutes=10)
    assert cache.read(token, secret="another-secret-key-which-is-long-enough", now=NOW) is None
    assert cache.read(token[:-2] + "xx", secret=SECRET, now=NOW) is None
    assert cache.read("not a token", secret=SECRET, now=NOW) is None
    assert cache.read(token, secret=SECRET, now=NOW) == 7


def test_identities_are_kept_for_their_time_and_can_be_forgotten() -> None:
    alice = Identity(
        id=1, email="a@example.com", display_name="A", roles=frozenset({Role.consumer})
    )
    cache = IdentityCache(seconds=2.0)
    cache.put(alice, now=100.0)
    assert cache.get(1, now=101.9) is alice
    assert cache.get(1, now=102.0) is None
    cache.put(alice, now=200.0)
    cache.forget(1)
    assert cache.get(1, now=200.1) is None
    off = IdentityCache(seconds=0)
    off.put(alice, now=0.0)
    assert off.get(1, now=0.0) is None
