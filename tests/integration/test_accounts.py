from __future__ import annotations

import httpx

from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from tests.support import PASSWORD, auth, make_user


async def test_register_login_me(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/auth/register",
        json={"email": "Ann@Example.com", "password": "s3cret-pass", "display_name": "Ann"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["email"] == "ann@example.com" and body["roles"] == ["consumer"]
    r = await client.post(
        "/api/v1/auth/token", data={"username": "ann@example.com", "password": "s3cret-pass"}
    )
    assert r.status_code == 200 and r.json()["token_type"] == "bearer"
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["display_name"] == "Ann"


async def test_register_rejects_server_owned_and_duplicate(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/auth/register",
        json={
            "email": "b@example.com",
            "password": "longenough",
            "display_name": "B",
            "roles": ["operator"],
        },
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_field"
    ok = {"email": "b@example.com", "password": "longenough", "display_name": "B"}
    assert (await client.post("/api/v1/auth/register", json=ok)).status_code == 201
    r = await client.post("/api/v1/auth/register", json=ok)
    assert r.status_code == 409 and r.json()["error"]["code"] == "email_taken"
    r = await client.post("/api/v1/auth/register", json={**ok, "email": "not-an-email"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"


async def test_login_throttled_after_failures(
    client: httpx.AsyncClient, container: Container
) -> None:
    uid = await make_user(container)
    r = await client.get(f"/api/v1/users/{uid}")  # unknown route shape still uses the error body
    assert "error" in r.json()
    for _ in range(container.settings.login_max_failures):
        r = await client.post(
            "/api/v1/auth/token", data={"username": "nobody@example.com", "password": "x"}
        )
        assert r.status_code == 401 and r.json()["error"]["code"] == "bad_credentials"
    r = await client.post(
        "/api/v1/auth/token", data={"username": "nobody@example.com", "password": PASSWORD}
    )
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


async def test_me_requires_valid_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/me")).status_code == 401
    r = await client.get("/api/v1/me", headers={"Authorization": "Bearer garbage"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"


async def test_only_operators_grant_roles(client: httpx.AsyncClient, container: Container) -> None:
    operator = await make_user(container, Role.operator)
    consumer = await make_user(container)
    r = await client.post(
        f"/api/v1/users/{consumer}/roles",
        json={"role": "anchor"},
        headers=await auth(client, container, consumer),
    )
    assert r.status_code == 403
    r = await client.post(
        f"/api/v1/users/{consumer}/roles",
        json={"role": "anchor"},
        headers=await auth(client, container, operator),
    )
    assert r.status_code == 200 and "anchor" in r.json()["roles"]
    r = await client.post(
        f"/api/v1/users/{consumer}/roles",
        json={"role": "merchant"},
        headers=await auth(client, container, operator),
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_role_grant"
    r = await client.post(
        f"/api/v1/users/{consumer}/roles",
        json={"role": "merchant", "brand_id": 999},
        headers=await auth(client, container, operator),
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "brand_not_found"
