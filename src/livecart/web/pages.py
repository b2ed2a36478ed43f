"""Server-rendered pages: login, home, live room, console, merchant, operator, my orders."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.responses import Response

from livecart.accounts import service as accounts
from livecart.accounts.dependencies import identify
from livecart.accounts.schemas import Identity, RegisterIn, Role
from livecart.catalog import service as catalog
from livecart.commerce import service as commerce
from livecart.commerce.schemas import OrderOut, OrderStatus
from livecart.core.errors import DomainError, PermissionDenied, RateLimited
from livecart.core.http import ContainerDep, UoW, container_of, origin_allowed
from livecart.core.money import CURRENCY_EXPONENTS
from livecart.core.security import create_access_token
from livecart.flashsale import service as flash
from livecart.live import service as live
from livecart.live.schemas import SCRIPT_MAX_LENGTH, SessionStatus, SessionSummary, SessionView
from livecart.live.service import ViewerCounter
from livecart.web.after_sales_view import orders_page_after_sales
from livecart.web.dependencies import PageUser, login_redirect, safe_next
from livecart.web.rendering import render

_HEADINGS = {
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    422: "Check your input",
    429: "Slow down",
}


class PageRoute(APIRoute):
    """A page route: domain errors become an HTML page instead of the JSON error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except DomainError as exc:
                return await error_page(request, exc.status, exc.message)

        return page_handler


router = APIRouter(include_in_schema=False, route_class=PageRoute)


async def error_page(request: Request, status: int, message: str) -> Response:
    """An HTML error page for the caller (resolved again: the failing route may not have)."""
    user: Identity | None = None
    try:
        async with container_of(request).uow() as uow:
            user = await identify(request, uow, None)
    except DomainError:
        user = None
    heading = _HEADINGS.get(status, "Something went wrong")
    return render(
        request, "error.html", user, {"heading": heading, "message": message}, status_code=status
    )


async def gate(
    request: Request, user: Identity | None, role: Role | None = None
) -> Response | None:
    """None when the caller may see the page; else the login redirect or a 403 page."""
    if user is None:
        return login_redirect(request)
    if role is not None and not user.has(role):
        return await error_page(request, 403, f"This page is for users with the {role} role.")
    return None


def client_key(request: Request) -> str:
    """The client address used for login throttling."""
    return request.client.host if request.client else "unknown"


def _same_origin(request: Request) -> bool:
    """Whether a cookie-less form post comes from our own pages (no login CSRF)."""
    if request.headers.get("origin") == "null":
        return False
    settings = container_of(request).settings
    return origin_allowed(request, base_url=settings.base_url, allowed=settings.allowed_origins)


def _sign_in(request: Request, user_id: int, target: str) -> Response:
    container = container_of(request)
    minutes = container.settings.access_token_minutes
    token = create_access_token(
        secret=container.secret,
        user_id=user_id,
        now=container.clock.now(),
        minutes=minutes,
        kind="session",
    )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        container.settings.session_cookie_name,
        token,
        max_age=minutes * 60,
        httponly=True,
        samesite="lax",
        secure=container.settings.cookie_secure,
        path="/",
    )
    return response


# --- accounts -----------------------------------------------------------------------------


@router.get("/login")
async def login_form(request: Request, user: PageUser, next: str | None = None) -> Response:
    target = safe_next(next)
    if user is not None:
        return RedirectResponse(target, status_code=303)
    return render(request, "login.html", None, {"next": target, "email": "", "error": None})


@router.post("/login")
async def login(
    request: Request,
    uow: UoW,
    container: ContainerDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=128)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    target = safe_next(next)
    context: dict[str, Any] = {"next": target, "email": email}
    if not _same_origin(request):
        return await error_page(request, 403, "This form must be sent from livecart's own pages.")
    try:
        found = await accounts.authenticate(
            uow.session,
            clock=container.clock,
            failures=container.login_failures,
            email=email,
            password=password,
            client_key=client_key(request),
        )
    except RateLimited as exc:
        wait = max(1, round(exc.retry_after))
        context["error"] = f"Too many failed logins. Try again in {wait} seconds."
        response = render(request, "login.html", None, context, status_code=429)
        response.headers["Retry-After"] = str(wait)
        return response
    except DomainError:
        context["error"] = "Wrong e-mail or password."
        return render(request, "login.html", None, context, status_code=401)
    return _sign_in(request, found.id, target)


@router.get("/register")
async def register_form(request: Request, user: PageUser, next: str | None = None) -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    context = {"next": safe_next(next), "email": "", "display_name": "", "error": None}
    return render(request, "register.html", None, context)


_REGISTER_PROBLEMS = {
    "email": "Enter a valid e-mail address.",
    "password": "The password needs 8 to 128 characters.",
    "display_name": "The display name needs 1 to 60 characters.",
}


@router.post("/register")
async def register(
    request: Request,
    uow: UoW,
    container: ContainerDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=200)],
    display_name: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    target = safe_next(next)
    context: dict[str, Any] = {"next": target, "email": email, "display_name": display_name}
    if not _same_origin(request):
        return await error_page(request, 403, "This form must be sent from livecart's own pages.")
    problem = None
    try:
        body = RegisterIn(email=email, password=password, display_name=display_name)
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0]) if exc.errors() else "input"
        problem = _REGISTER_PROBLEMS.get(field, "Check the form and try again.")
    else:
        try:
            created = await accounts.register(
                uow.session,
                clock=container.clock,
                email=body.email,
                password=body.password,
                display_name=body.display_name,
            )
            await uow.commit()
        except DomainError as exc:
            problem = exc.message
    if problem is not None:
        context["error"] = problem
        return render(request, "register.html", None, context, status_code=422)
    return _sign_in(request, created.id, target)


@router.post("/logout")
async def logout(request: Request, user: PageUser, container: ContainerDep) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(container.settings.session_cookie_name, path="/")
    return response


# --- merchant -----------------------------------------------------------------------------


@router.get("/merchant")
async def merchant_catalogue(request: Request, user: PageUser, uow: UoW) -> Response:
    denied = await gate(request, user, Role.merchant)
    if denied is not None or user is None:
        return denied or login_redirect(request)
    brands = [await catalog.get_brand(uow.session, bid) for bid in sorted(user.brand_ids)]
    products = {
        b.id: await catalog.list_products(uow.session, actor=user, brand_id=b.id, limit=200)
        for b in brands
    }
    context = {
        "brands": brands,
        "products_by_brand": products,
        "currencies": sorted(CURRENCY_EXPONENTS),
    }
    return render(request, "merchant.html", user, context)


# --- operator -----------------------------------------------------------------------------


@router.get("/operator")
async def operator_users(
    request: Request,
    user: PageUser,
    uow: UoW,
    q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    denied = await gate(request, user, Role.operator)
    if denied is not None or user is None:
        return denied or login_redirect(request)
    found = await accounts.list_users(uow.session, actor=user, query=q or None, limit=200)
    brands = await catalog.list_brands(uow.session, limit=500)
    context = {
        "users": [accounts.to_out(u) for u in found],
        "q": q,
        "brands": brands,
        "brand_names": {b.id: b.name for b in brands},
        "grantable": [r.value for r in Role if r != Role.consumer],
    }
    return render(request, "operator.html", user, context)


# --- home and the viewer room ---------------------------------------------------------------


def _hub(request: Request) -> ViewerCounter | None:
    counter: ViewerCounter | None = getattr(container_of(request), "hub", None)
    return counter


@router.get("/")
async def home(request: Request, user: PageUser, uow: UoW) -> Response:
    hub = _hub(request)
    live_now = await live.list_sessions(uow.session, status=SessionStatus.live, hub=hub)
    upcoming = await live.list_sessions(uow.session, status=SessionStatus.scheduled, limit=24)
    reserved: set[int] = set()
    if user is not None:
        reserved = await live.reserved_among(
            uow.session, user_id=user.id, session_ids=[item.id for item in upcoming]
        )
    context = {"live_now": live_now, "upcoming": upcoming, "reserved": reserved}
    return render(request, "home.html", user, context)


@router.post("/live/{session_id}/reserve")
async def reserve(
    session_id: int, request: Request, user: PageUser, uow: UoW, container: ContainerDep
) -> Response:
    if user is None:
        return RedirectResponse("/login?next=/", status_code=303)
    await live.reserve(uow.session, clock=container.clock, actor=user, session_id=session_id)
    await uow.commit()
    return RedirectResponse("/#upcoming", status_code=303)


@router.get("/live/{session_id}")
async def viewer_room(
    session_id: int, request: Request, user: PageUser, uow: UoW, container: ContainerDep
) -> Response:
    view = await live.get_session_view(
        uow.session, session_id, hub=_hub(request), now=container.clock.now()
    )
    room_data = {
        "session_id": view.id,
        "status": view.status.value,
        "user": {"id": user.id, "name": user.display_name} if user else None,
        "pinned": view.pinned.model_dump(mode="json") if view.pinned else None,
        "showcase": [card.model_dump(mode="json") for card in view.showcase],
        "likes": view.statistics.likes,
        "flash_sales": [
            sale.model_dump(mode="json")
            for sale in await flash.list_sales(
                uow.session, clock=container.clock, session_id=view.id
            )
        ],
    }
    context = {
        "live": view,
        "anchor_name": view.anchor.display_name,
        "viewers": view.statistics.viewers,
        "likes": view.statistics.likes,
        "chat_max_length": container.settings.chat_max_length,
        "room_data": room_data,
    }
    return render(request, "room.html", user, context)


# --- anchor console -----------------------------------------------------------------------

API = "/api/v1"
CONSOLE_ACTIONS = {
    "create_room": f"{API}/rooms",
    "create_session": API + "/rooms/{room_id}/sessions",
    "go_live": API + "/sessions/{id}/start",
    "end": API + "/sessions/{id}/end",
    "showcase": API + "/sessions/{id}/showcase",
    "showcase_item": API + "/sessions/{id}/showcase/{product_id}",
    "flash_sales": f"{API}/flash-sales",
    "flash_start": API + "/flash-sales/{id}/start",
    "flash_end": API + "/flash-sales/{id}/end",
}


@router.get("/console")
async def console(request: Request, user: PageUser, uow: UoW) -> Response:
    denied = await gate(request, user, Role.anchor)
    if denied is not None or user is None:
        return denied or login_redirect(request)
    rooms = await live.list_rooms(uow.session, anchor_id=user.id)
    room_ids = {r.id for r in rooms}
    sessions: dict[int, list[SessionSummary]] = {r.id: [] for r in rooms}
    if room_ids:
        for item in await live.list_sessions(uow.session, room_ids=room_ids, limit=500):
            sessions[item.room_id].append(item)
    context = {"rooms": rooms, "sessions_by_room": sessions, "actions": CONSOLE_ACTIONS}
    return render(request, "console.html", user, context)


async def _console_view(request: Request, user: Identity, uow: UoW, session_id: int) -> SessionView:
    if not await live.staff_of(uow.session, session_id=session_id, actor=user):
        raise PermissionDenied("only this session's hosts and moderators use its console")
    return await live.get_session_view(uow.session, session_id, hub=_hub(request))


@router.get("/console/sessions/{session_id}")
async def console_session(
    session_id: int, request: Request, user: PageUser, uow: UoW, container: ContainerDep
) -> Response:
    if user is None:
        return login_redirect(request)
    view = await _console_view(request, user, uow, session_id)
    room = await live.get_room(uow.session, view.room_id)
    products = await catalog.list_products(uow.session, actor=user, limit=200)
    in_showcase = {card.id for card in view.showcase}
    console_data = {
        "session_id": view.id,
        "room_id": view.room_id,
        "you": user.id,
        "endpoints": {
            "pin": f"{API}/sessions/{view.id}/pin",
            "moderation": f"{API}/sessions/{view.id}/moderation",
            "message": f"{API}/sessions/{view.id}/messages/{{message_id}}",
        },
    }
    context = {
        "live": view,
        "stats": view.statistics,
        "products": [p for p in products if p.id not in in_showcase],
        "slow_mode": room.slow_mode_seconds,
        "flash_sales": await flash.list_sales(
            uow.session, clock=container.clock, session_id=view.id
        ),
        "chat_max_length": container.settings.chat_max_length,
        "actions": CONSOLE_ACTIONS,
        "console_data": console_data,
        # The anchor script panel (console_script.html): the hosts edit it, other staff read.
        "script": await live.get_script(uow.session, actor=user, session_id=view.id),
        "script_max_length": SCRIPT_MAX_LENGTH,
    }
    return render(request, "console_session.html", user, context)


@router.get("/console/sessions/{session_id}/stats")
async def console_stats(session_id: int, request: Request, user: PageUser, uow: UoW) -> Response:
    if user is None:
        return login_redirect(request)
    view = await _console_view(request, user, uow, session_id)
    return render(request, "console_stats.html", user, {"stats": view.statistics})


# --- orders -------------------------------------------------------------------------------

ORDER_ACTIONS = {
    "pay": "POST " + API + "/orders/{id}/pay",
    "cancel": "POST " + API + "/orders/{id}/cancel",
    "confirm": "POST " + API + "/orders/{id}/complete",
    "ship": "POST " + API + "/orders/{id}/ship",
    "deliver": "POST " + API + "/orders/{id}/deliver",
}


@router.get("/orders")
async def my_orders(
    request: Request, user: PageUser, uow: UoW, container: ContainerDep
) -> Response:
    if user is None:
        return login_redirect(request)
    orders = await commerce.list_my_orders(
        uow.session, clock=container.clock, actor=user, limit=100
    )
    after_sales = await orders_page_after_sales(
        uow.session, actor=user, orders=orders, settings=container.settings
    )
    await uow.commit()  # listing may have expired overdue orders on the way
    context = {"orders": orders, "actions": ORDER_ACTIONS, **after_sales}
    return render(request, "orders.html", user, context)


@router.get("/merchant/orders")
async def brand_orders(
    request: Request,
    user: PageUser,
    uow: UoW,
    container: ContainerDep,
    status: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    denied = await gate(request, user, Role.merchant)
    if denied is not None or user is None:
        return denied or login_redirect(request)
    wanted = OrderStatus(status) if status in OrderStatus.__members__ else None
    orders: list[OrderOut] = []
    for brand_id in sorted(user.brand_ids):
        orders += await commerce.list_brand_orders(
            uow.session,
            clock=container.clock,
            actor=user,
            brand_id=brand_id,
            status=wanted,
            limit=200,
        )
    await uow.commit()
    orders.sort(key=lambda o: o.id, reverse=True)
    context = {
        "orders": orders,
        "status": wanted.value if wanted else "",
        "statuses": [s.value for s in OrderStatus],
        "actions": ORDER_ACTIONS,
    }
    return render(request, "merchant_orders.html", user, context)
