"""Walks every API route with every role: the declared access rule holds for each.

Each route's dependency tree says who may call it: `required_identity` means signed-in users,
`require_role(...)` names roles. Anonymous callers must get 401 there, callers without the role
403, and nobody may ever get a 5xx for an empty or wrong request.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from livecart.accounts.dependencies import required_identity
from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from tests.support import auth, make_user

ROLE_CLOSURE = "require_role.<locals>.check"


def _walk(dependant: Dependant) -> list[Any]:
    found = [dependant.call]
    for sub in dependant.dependencies:
        found.extend(_walk(sub))
    return found


def access_rule(route: APIRoute) -> tuple[bool, set[Role]]:
    """(needs a signed-in user, roles of which one is required)."""
    calls = _walk(route.dependant)
    roles: set[Role] = set()
    for call in calls:
        if getattr(call, "__qualname__", "") == ROLE_CLOSURE:
            cells = [c.cell_contents for c in (call.__closure__ or ())]
            for cell in cells:
                if isinstance(cell, tuple):
                    roles.update(r for r in cell if isinstance(r, Role))
    return (required_identity in calls or bool(roles)), roles


def api_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    """(full path, route) of every /api/v1 route, looking through included routers."""
    found: list[tuple[str, APIRoute]] = []
    for entry in app.routes:
        router = getattr(entry, "original_router", None)  # FastAPI >= 0.16x keeps includes lazy
        prefix = getattr(getattr(entry, "include_context", None), "prefix", "")
        children = router.routes if router is not None else [entry]
        for route in children:
            if isinstance(route, APIRoute) and (prefix + route.path).startswith("/api/v1"):
                found.append((prefix + route.path, route))
    return found


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


async def test_every_route_declares_and_enforces_its_callers(
    app: FastAPI, client: httpx.AsyncClient, container: Container
) -> None:
    routes = api_routes(app)
    assert len(routes) >= 5
    users = {
        Role.consumer: await make_user(container),
        Role.anchor: await make_user(container, Role.anchor),
        Role.operator: await make_user(container, Role.operator),
    }
    headers = {role: await auth(client, container, uid) for role, uid in users.items()}
    checked = 0
    for path, route in routes:
        needs_user, roles = access_rule(route)
        for method in route.methods - {"HEAD", "OPTIONS"}:
            url = concrete(path)
            anonymous = await client.request(method, url, json={})
            assert anonymous.status_code < 500, (method, url, anonymous.text)
            assert "error" in anonymous.json() or anonymous.status_code < 400, (method, url)
            if needs_user:
                assert anonymous.status_code == 401, (method, url, anonymous.status_code)
            for role, hdrs in headers.items():
                response = await client.request(method, url, json={}, headers=hdrs)
                assert response.status_code < 500, (method, url, role, response.text)
                allowed = not roles or role in roles
                if not allowed:
                    assert response.status_code == 403, (method, url, role, response.status_code)
                    assert response.json()["error"]["code"] == "permission_denied"
            checked += 1
    assert checked == sum(len(r.methods - {"HEAD", "OPTIONS"}) for _, r in routes)


async def test_buyer_estimate_is_for_the_rooms_staff_only(
    app: FastAPI, client: httpx.AsyncClient, container: Container
) -> None:
    """GET /sessions/{id}/buyer-estimate: signed in, then an object-level check (room staff)."""
    from tests.e2e.world import build_world

    path = "/api/v1/sessions/{session_id}/buyer-estimate"
    route = dict(api_routes(app))[path]
    assert access_rule(route) == (True, set())
    world = await build_world(container)
    url = path.format(session_id=world.session_id)
    assert (await client.get(url)).status_code == 401
    outsider = await make_user(container, Role.anchor)
    for user_id, status in ((world.alice_id, 403), (outsider, 403), (world.anchor_id, 200)):
        response = await client.get(url, headers=await auth(client, container, user_id))
        assert response.status_code == status, (user_id, response.text)
