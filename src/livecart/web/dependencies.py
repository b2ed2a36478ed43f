"""Who is looking at a page: the session cookie, checked against its CSRF token on writes."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse

from livecart.accounts.dependencies import CSRF_HEADER, SAFE_METHODS, identify
from livecart.accounts.schemas import Identity
from livecart.core.errors import PermissionDenied
from livecart.core.http import UoW, container_of
from livecart.core.security import check_csrf, csrf_token_for


def session_cookie(request: Request) -> str | None:
    """The raw page-session cookie, if any."""
    return request.cookies.get(container_of(request).settings.session_cookie_name)


def csrf_token(request: Request) -> str:
    """The CSRF token pages embed for the current session ("" when signed out)."""
    cookie = session_cookie(request)
    if not cookie:
        return ""
    return csrf_token_for(cookie, secret=container_of(request).secret)


async def _check_page_csrf(request: Request) -> None:
    cookie = session_cookie(request)
    if request.method in SAFE_METHODS or not cookie:
        return
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()
        value = form.get("csrf_token")
        given = value if isinstance(value, str) else None
    if not check_csrf(cookie, given, secret=container_of(request).secret):
        raise PermissionDenied("missing or wrong CSRF token", code="csrf_failed")


async def page_identity(request: Request, uow: UoW) -> Identity | None:
    """The signed-in user of a page request, or None; writes must carry the CSRF token."""
    identity = await identify(request, uow, None)
    if identity is not None:
        await _check_page_csrf(request)
    return identity


PageUser = Annotated[Identity | None, Depends(page_identity)]


def safe_next(target: str | None, default: str = "/") -> str:
    """A post-login destination that stays on this site (a local absolute path)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return default
    return target


def login_redirect(request: Request) -> RedirectResponse:
    """Send an anonymous visitor to the login page, coming back here afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here, safe='')}", status_code=303)
