"""Every page route with every role: 200, a redirect to the login page, or a 403 page."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from livecart.bootstrap import Container
from livecart.web.pages import PageRoute
from tests.e2e.world import World, build_world
from tests.support import PASSWORD, email_of

ROLES = ("anonymous", "consumer", "anchor", "merchant", "operator")
LOGIN = "login"

# path -> expected outcome per role: an int status, or LOGIN (303 to /login?next=...).
EXPECTED: dict[str, dict[str, int | str]] = {
    "/": dict.fromkeys(ROLES, 200),
    "/login": {"anonymous": 200, **dict.fromkeys(ROLES[1:], 303)},
    "/register": {"anonymous": 200, **dict.fromkeys(ROLES[1:], 303)},
    "/live/{session_id}": dict.fromkeys(ROLES, 200),
    "/orders": {"anonymous": LOGIN, **dict.fromkeys(ROLES[1:], 200)},
    "/account/privacy": {"anonymous": LOGIN, **dict.fromkeys(ROLES[1:], 200)},
    "/account/export.json": {"anonymous": LOGIN, **dict.fromkeys(ROLES[1:], 200)},
    "/unsubscribe": dict.fromkeys(ROLES, 200),
    "/console": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 200,
        "merchant": 403,
        "operator": 403,
    },
    "/console/sessions/{session_id}": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 200,
        "merchant": 403,
        "operator": 200,
    },
    "/console/sessions/{session_id}/stats": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 200,
        "merchant": 403,
        "operator": 200,
    },
    "/merchant": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 403,
        "merchant": 200,
        "operator": 403,
    },
    "/merchant/orders": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 403,
        "merchant": 200,
        "operator": 403,
    },
    "/merchant/service": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 403,
        "merchant": 200,
        "operator": 403,
    },
    "/merchant/products/{product_id}/knowledge": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 403,
        "merchant": 200,
        "operator": 403,
    },
    "/console/sessions/{session_id}/knowledge": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 200,
        "merchant": 403,
        "operator": 200,
    },
    "/operator/reviews": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 403,
        "merchant": 403,
        "operator": 200,
    },
    "/operator": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 403,
        "merchant": 403,
        "operator": 200,
    },
    "/merchant/after-sales": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 403,
        "merchant": 200,
        "operator": 403,
    },
    "/merchant/scorecard": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 403,
        "merchant": 200,
        "operator": 403,
    },
    "/operator/brands/{brand_id}/scorecard": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 403,
        "merchant": 403,
        "operator": 200,
    },
    "/operator/marketing": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 403,
        "merchant": 403,
        "operator": 200,
    },
    "/operator/risk": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 403,
        "merchant": 403,
        "operator": 200,
    },
    "/operator/risk/alerts": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 403,
        "merchant": 403,
        "operator": 200,
    },
    # No portrait is stored in this world: the operator is told so (404), others are refused.
    "/operator/consumers/{user_id}": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 403,
        "merchant": 403,
        "operator": 404,
    },
    "/operator/dashboard": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 403,
        "merchant": 403,
        "operator": 200,
    },
    "/merchant/dashboard": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 403,
        "merchant": 200,
        "operator": 403,
    },
    "/console/dashboard": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 200,
        "merchant": 403,
        "operator": 403,
    },
}


def page_paths(app: FastAPI) -> set[str]:
    """Every GET page route of the app."""
    found: set[str] = set()
    for entry in app.routes:
        router = getattr(entry, "original_router", None)
        children = router.routes if router is not None else [entry]
        for route in children:
            if isinstance(route, PageRoute) and "GET" in route.methods:
                found.add(route.path)
    return found


async def _login(client: httpx.AsyncClient, container: Container, user_id: int) -> None:
    email = await email_of(container, user_id)
    r = await client.post("/login", data={"email": email, "password": PASSWORD, "next": "/"})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/"


def _users(world: World) -> dict[str, int]:
    return {
        "consumer": world.alice_id,
        "anchor": world.anchor_id,
        "merchant": world.merchant_id,
        "operator": world.operator_id,
    }


@pytest.mark.parametrize("role", ROLES)
async def test_every_page_answers_each_role_as_declared(
    role: str, app: FastAPI, container: Container
) -> None:
    assert page_paths(app) == set(EXPECTED), "a page route without an expectation here"
    world = await build_world(container)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        if role != "anonymous":
            await _login(client, container, _users(world)[role])
        for path, outcomes in EXPECTED.items():
            url = path.format(
                session_id=world.session_id,
                brand_id=world.brand_id,
                product_id=world.product_id,
                user_id=world.alice_id,
            )
            r = await client.get(url)
            expected = outcomes[role]
            if expected == LOGIN:
                assert r.status_code == 303, (role, url, r.status_code)
                assert re.fullmatch(r"/login\?next=%2F.*", r.headers["location"]), r.headers
            else:
                assert r.status_code == expected, (role, url, r.status_code, r.text[:300])
                if expected != 303:
                    kind = "application/json" if url.endswith(".json") else "text/html"
                    assert r.headers["content-type"].startswith(kind), (url, r.headers)
            if expected == 403:
                assert "Not allowed" in r.text


async def test_page_forms_need_the_csrf_token(app: FastAPI, container: Container) -> None:
    world = await build_world(container)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await _login(client, container, world.alice_id)
        refused = await client.post("/logout", data={})
        assert refused.status_code == 403
        assert "CSRF" in refused.text
        page = await client.get("/orders")
        token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
        assert token is not None
        done = await client.post("/logout", data={"csrf_token": token.group(1)})
        assert done.status_code == 303
        assert (await client.get("/orders")).status_code == 303


async def test_login_is_throttled_with_a_page_message(app: FastAPI, container: Container) -> None:
    world = await build_world(container)
    email = await email_of(container, world.bob_id)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        statuses = []
        for _ in range(container.settings.login_max_failures + 1):
            r = await client.post("/login", data={"email": email, "password": "wrong password!"})
            statuses.append(r.status_code)
        assert statuses[:-1] == [401] * container.settings.login_max_failures
        assert statuses[-1] == 429
        assert "Too many failed logins" in r.text
        assert int(r.headers["Retry-After"]) > 0


async def test_login_refuses_a_foreign_origin_and_a_foreign_next(
    app: FastAPI, container: Container
) -> None:
    world = await build_world(container)
    email = await email_of(container, world.bob_id)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        form = {"email": email, "password": PASSWORD, "next": "https://evil.example/"}
        foreign = await client.post("/login", data=form, headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403
        ok = await client.post("/login", data=form, headers={"Origin": "http://testserver"})
        assert ok.status_code == 303
        assert ok.headers["location"] == "/"


async def test_home_shows_upcoming_sessions_and_the_callers_reservations(
    app: FastAPI, container: Container
) -> None:
    world = await build_world(container)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await _login(client, container, world.anchor_id)
        page = await client.get("/orders")
        token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
        assert token is not None
        headers = {"X-CSRF-Token": token.group(1)}
        upcoming = []
        for title in ("Morning teas", "Evening silk"):
            r = await client.post(
                f"/api/v1/rooms/{world.room_id}/sessions", json={"title": title}, headers=headers
            )
            assert r.status_code == 201, r.text
            upcoming.append(r.json()["id"])
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await _login(client, container, world.alice_id)
        home = await client.get("/")
        assert "Morning teas" in home.text and "Evening silk" in home.text
        assert "Reserved ✓" not in home.text
        token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', home.text)
        assert token is not None
        r = await client.post(f"/live/{upcoming[1]}/reserve", data={"csrf_token": token.group(1)})
        assert r.status_code == 303, r.text
        home = await client.get("/")
        cards = {
            title: home.text.split(f'<span class="title">{title}</span>')[1].split('class="card"')[
                0
            ]
            for title in ("Morning teas", "Evening silk")
        }
        assert "Reserved ✓" in cards["Evening silk"]
        assert "Reserved ✓" not in cards["Morning teas"]
        assert f'action="/live/{upcoming[0]}/reserve"' in cards["Morning teas"]
