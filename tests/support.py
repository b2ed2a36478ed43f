"""Helpers for tests: make users with roles and log them in."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import httpx

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from tests.conftest import need

_counter = itertools.count(1)
PASSWORD = "correct horse battery"


async def make_user(
    container: Container,
    *roles: Role,
    brand_id: int | None = None,
    room_id: int | None = None,
    name: str | None = None,
) -> int:
    """Create a user with roles directly through the service; returns the id."""
    n = next(_counter)
    async with container.uow() as uow:
        user = await accounts.register(
            uow.session,
            clock=container.clock,
            email=f"user{n}@example.com",
            password=PASSWORD,
            display_name=name or f"User {n}",
        )
        for role in roles:
            await accounts.grant_role(
                uow.session,
                clock=container.clock,
                actor=None,
                user_id=user.id,
                role=role,
                brand_id=brand_id if role == Role.merchant else None,
                room_id=room_id if role == Role.moderator else None,
            )
        await uow.commit()
        return user.id


async def email_of(container: Container, user_id: int) -> str:
    async with container.uow() as uow:
        return (await accounts.get_user(uow.session, user_id)).email


async def token_for(client: httpx.AsyncClient, container: Container, user_id: int) -> str:
    """Log in through the API and return the bearer token."""
    email = await email_of(container, user_id)
    r = await client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


async def auth(client: httpx.AsyncClient, container: Container, user_id: int) -> dict[str, str]:
    """Authorization headers for a user."""
    return {"Authorization": f"Bearer {await token_for(client, container, user_id)}"}


def shared_data_dir() -> Path:
    """$LIVECART_SHARED_DATA, else ../shared/data beside the checkout, else /work/shared/data."""
    configured = os.environ.get("LIVECART_SHARED_DATA")
    if configured:
        return Path(configured)
    beside = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return beside if beside.is_dir() else Path("/work/shared/data")


def shared_file(name: str) -> Path:
    """A real data file; skipped when absent, a failure under LIVECART_TEST_STRICT=1."""
    path = shared_data_dir() / name
    need(path.is_file(), f"{path} is missing (set LIVECART_SHARED_DATA to the shared data folder)")
    return path
