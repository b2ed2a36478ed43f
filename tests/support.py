"""Helpers for tests: make users with roles and log them in."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import text

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.catalog import service as catalog
from livecart.core.db import build_engine
from livecart.marketing import delivery
from livecart.supervision import service as supervision
from livecart.supervision.errors import QualificationExpired, QualificationMissing
from livecart.supervision.schemas import QualificationIn
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


# ---------------------------------------------------------------- qualifications (supervision gates)
# Starting a session needs the anchor's approved identity verification; showcasing a product
# needs its approval for live and its brand's licence (and permit, for permit categories).
# Happy-path set-ups call these; tests of the gates themselves build records through the API.


async def qualify_anchor(container: Container, user_id: int, *, years_old: int = 30) -> int:
    """File an approved identity verification for the anchor, valid for ten years from a
    year ago; returns its id."""
    today = container.clock.now().date()
    async with container.uow() as uow:
        record = await supervision.record_reviewed_qualification(
            uow.session,
            clock=container.clock,
            subject_id=user_id,
            body=QualificationIn(
                kind="identity_verification",
                number=f"ID-{user_id}",
                issuer="Test identity office",
                valid_from=today - timedelta(days=365),
                expires_on=today + timedelta(days=3650),
                date_of_birth=today.replace(year=today.year - years_old, day=1),
            ),
        )
        await uow.commit()
        return record.id


async def qualify_brand(
    container: Container, brand_id: int, *, categories: Sequence[str] = ()
) -> None:
    """File an approved business licence for the brand and, with `categories`, an approved
    category permit naming them; both valid for ten years from a year ago."""
    today = container.clock.now().date()
    valid = {
        "valid_from": today - timedelta(days=365),
        "expires_on": today + timedelta(days=3650),
    }
    bodies = [
        QualificationIn(
            kind="business_licence",
            brand_id=brand_id,
            number=f"BL-{brand_id}",
            issuer="Test market regulator",
            **valid,
        )
    ]
    if categories:
        bodies.append(
            QualificationIn(
                kind="category_permit",
                brand_id=brand_id,
                number=f"CP-{brand_id}",
                issuer="Test market regulator",
                categories=list(categories),
                **valid,
            )
        )
    async with container.uow() as uow:
        for body in bodies:
            await supervision.record_reviewed_qualification(
                uow.session, clock=container.clock, subject_id=brand_id, body=body
            )
        await uow.commit()


async def approve_for_live(container: Container, product_id: int) -> None:
    """Approve the product for live (selection passed, inspected) and qualify its brand for
    it when the brand is not yet; afterwards the product can be showcased."""
    async with container.uow() as uow:
        card = (await catalog.product_cards(uow.session, [product_id]))[product_id]
        await supervision.record_approved_for_live(
            uow.session, clock=container.clock, product_id=product_id, brand_id=card.brand.id
        )
        await uow.commit()
    today = container.clock.now().date()
    async with container.uow() as uow:
        try:
            await supervision.check_can_showcase(
                uow.session,
                product_id=product_id,
                brand_id=card.brand.id,
                category=card.category,
                today=today,
                permit_categories=container.settings.permit_categories,
            )
        except (QualificationMissing, QualificationExpired):
            missing = True
        else:
            missing = False
    if missing:
        await qualify_brand(container, card.brand.id, categories=[card.category])


async def campaign_rounds_done(container: Container) -> None:
    """Wait for the first e-mail rounds the server started in the background after campaign
    runs (the run request does not wait for the mail server)."""
    rounds = [
        task for task in container.background if task.get_name().startswith(delivery.CAMPAIGN_ROUND)
    ]
    if rounds:
        _, pending = await asyncio.wait(rounds, timeout=30)
        assert not pending, "a campaign's e-mail round did not finish in 30 s"


async def fresh_postgres_database(url: str, name: str) -> str:
    """Drop and create database `name` on the server of `url` (an async URL); its URL."""
    engine = build_engine(url, pool_size=1)
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        await conn.execute(text(f"CREATE DATABASE {name}"))
    await engine.dispose()
    return url.rsplit("/", 1)[0] + "/" + name
