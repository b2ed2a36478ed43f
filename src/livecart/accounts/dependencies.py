"""Who is calling: bearer tokens for the API, a session cookie with CSRF for pages."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from starlette.requests import HTTPConnection

from livecart.accounts import service
from livecart.accounts.schemas import Identity, IdentityCache, Role
from livecart.core.db import UnitOfWork
from livecart.core.errors import PermissionDenied, Unauthenticated
from livecart.core.http import UoW, container_of
from livecart.core.security import check_csrf

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"


async def identify(
    connection: HTTPConnection, uow: UnitOfWork, bearer: str | None
) -> Identity | None:
    """Resolve the caller from a bearer token, else from the page session cookie."""
    container = container_of(connection)
    now = container.clock.now()
    if bearer:
        user_id = container.tokens.read(bearer, secret=container.secret, now=now, kind="access")
        if user_id is None:
            raise Unauthenticated("the access token is invalid or expired", code="invalid_token")
        identity = await _identity(container.identities, uow, user_id)
        if identity is None:
            raise Unauthenticated("the account is disabled", code="invalid_token")
        return identity
    cookie = connection.cookies.get(container.settings.session_cookie_name)
    if not cookie:
        return None
    user_id = container.tokens.read(cookie, secret=container.secret, now=now, kind="session")
    return None if user_id is None else await _identity(container.identities, uow, user_id)


async def _identity(cache: IdentityCache, uow: UnitOfWork, user_id: int) -> Identity | None:
    known = cache.get(user_id, time.monotonic())
    if known is not None:
        return known
    identity = await service.load_identity(uow.session, user_id)
    if identity is not None:
        cache.put(identity, time.monotonic())
    return identity


async def _csrf_checked(request: Request) -> None:
    if request.method in SAFE_METHODS or request.headers.get("authorization"):
        return
    container = container_of(request)
    cookie = request.cookies.get(container.settings.session_cookie_name)
    if not cookie:
        return
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        given = value if isinstance(value, str) else None
    if not check_csrf(cookie, given, secret=container.secret):
        raise PermissionDenied("missing or wrong CSRF token", code="csrf_failed")


async def optional_identity(
    request: Request, uow: UoW, bearer: Annotated[str | None, Depends(oauth2_scheme)]
) -> Identity | None:
    """The caller if signed in, else None (anonymous)."""
    identity = await identify(request, uow, bearer)
    if identity is not None and not bearer:
        await _csrf_checked(request)
    return identity


async def required_identity(
    identity: Annotated[Identity | None, Depends(optional_identity)],
) -> Identity:
    """The caller; 401 if anonymous."""
    if identity is None:
        raise Unauthenticated("sign in first")
    return identity


def require_role(*roles: Role) -> Callable[[Identity], Awaitable[Identity]]:
    """A dependency that lets through callers holding any of the roles."""

    async def check(identity: Annotated[Identity, Depends(required_identity)]) -> Identity:
        if not any(identity.has(role) for role in roles):
            names = ", ".join(r.value for r in roles)
            raise PermissionDenied(f"this needs the role {names}", details={"roles": list(roles)})
        return identity

    return check


OptionalUser = Annotated[Identity | None, Depends(optional_identity)]
CurrentUser = Annotated[Identity, Depends(required_identity)]
Operator = Annotated[Identity, Depends(require_role(Role.operator))]
Anchor = Annotated[Identity, Depends(require_role(Role.anchor))]
Merchant = Annotated[Identity, Depends(require_role(Role.merchant))]
