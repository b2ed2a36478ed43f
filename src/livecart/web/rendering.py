"""The Jinja2 environment of the pages (autoescaped), built on first use."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from livecart.accounts.schemas import Identity, Role
from livecart.core.money import CURRENCY_EXPONENTS, format_money
from livecart.web.dependencies import csrf_token

TEMPLATES_DIR = Path(__file__).parent / "templates"

# Navigation entries and the role that shows them (None: every signed-in user).
NAV: tuple[tuple[str, str, Role | None], ...] = (
    ("/orders", "My orders", None),
    ("/account/privacy", "Privacy", None),
    ("/console", "Console", Role.anchor),
    ("/merchant", "Catalogue", Role.merchant),
    ("/merchant/orders", "Brand orders", Role.merchant),
    ("/merchant/after-sales", "After-sales", Role.merchant),
    ("/merchant/scorecard", "Scorecard", Role.merchant),
    ("/merchant/service", "Service", Role.merchant),
    ("/operator", "Users & roles", Role.operator),
    ("/operator/dashboard", "Dashboard", Role.operator),
    ("/operator/reviews", "Reviews", Role.operator),
    ("/operator/risk", "Risk", Role.operator),
    ("/operator/marketing", "Marketing", Role.operator),
    ("/merchant/dashboard", "Brand dashboard", Role.merchant),
)


def _money(amount: int | None, currency: str | None) -> str:
    if amount is None or currency is None:
        return "—"
    return format_money(amount, currency)


def _exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS.get(currency, 2)


def _major(amount: int, currency: str) -> str:
    # For an input's value: "129.90" (CNY), "1500" (JPY); the page scales it back by the exponent.
    exponent = _exponent(currency)
    if exponent == 0:
        return str(amount)
    major, minor = divmod(amount, 10**exponent)
    return f"{major}.{minor:0{exponent}d}"


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M UTC")


@cache
def templates() -> Jinja2Templates:
    """The template renderer; autoescape is on for every template."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["money"] = _money
    env.filters["when"] = _when
    env.filters["major"] = _major
    env.filters["exponent"] = _exponent
    return Jinja2Templates(env=env)


def nav_for(user: Identity | None) -> list[tuple[str, str]]:
    """The navigation links the user may follow."""
    if user is None:
        return []
    return [(href, label) for href, label, role in NAV if role is None or user.has(role)]


def render(
    request: Request,
    name: str,
    user: Identity | None,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    """Render a page with the caller, navigation and CSRF token in its context."""
    base: dict[str, Any] = {
        "user": user,
        "roles": sorted(r.value for r in user.roles) if user else [],
        "nav": nav_for(user),
        "csrf_token": csrf_token(request),
        "path": request.url.path,
    }
    return templates().TemplateResponse(
        request, name, {**base, **(context or {})}, status_code=status_code
    )
