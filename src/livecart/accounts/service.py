"""Accounts: registration, authentication, identities and role grants."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts.errors import (
    BadCredentials,
    BadRoleGrant,
    EmailTaken,
    LoginThrottled,
    UnsubscribeLinkInvalid,
    WrongPassword,
)
from livecart.accounts.models import RoleGrant, User
from livecart.accounts.schemas import GrantOut, Identity, PersonalRows, Role, UserOut
from livecart.core.clock import Clock
from livecart.core.errors import NotFound, PermissionDenied
from livecart.core.ratelimit import FailureCounter
from livecart.core.security import (
    TokenCache,
    burn_password_check,
    create_access_token,
    hash_password,
    verify_password,
)


def _normalise_email(email: str) -> str:
    return email.strip().lower()


def to_out(user: User) -> UserOut:
    """The public view of a user."""
    roles = sorted({Role.consumer, *(Role(g.role) for g in user.grants)})
    return UserOut(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        roles=roles,
        grants=[
            GrantOut(role=Role(g.role), brand_id=g.brand_id, room_id=g.room_id) for g in user.grants
        ],
    )


def identity_of(user: User) -> Identity:
    """Build the caller identity from a loaded user."""
    roles = frozenset({Role.consumer, *(Role(g.role) for g in user.grants)})
    return Identity(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        roles=roles,
        brand_ids=frozenset(
            g.brand_id for g in user.grants if g.role == Role.merchant and g.brand_id
        ),
        moderated_room_ids=frozenset(
            g.room_id for g in user.grants if g.role == Role.moderator and g.room_id
        ),
        personalisation=user.personalisation,
    )


async def register(
    session: AsyncSession,
    *,
    clock: Clock,
    email: str,
    password: str,
    display_name: str,
    password_hash: str | None = None,
) -> User:
    """Create a consumer account (`password_hash`: a precomputed hash, for bulk seeding)."""
    email = _normalise_email(email)
    exists = await session.scalar(select(User.id).where(User.email == email))
    if exists is not None:
        raise EmailTaken("an account with this e-mail already exists", details={"field": "email"})
    user = User(
        email=email,
        display_name=display_name,
        password_hash=password_hash or hash_password(password),
        created_at=clock.now(),
        grants=[],
    )
    session.add(user)
    await session.flush()
    return user


async def authenticate(
    session: AsyncSession,
    *,
    clock: Clock,
    failures: FailureCounter,
    email: str,
    password: str,
    client_key: str,
) -> User:
    """Check credentials; repeated failures for an e-mail or client are throttled."""
    email = _normalise_email(email)
    now = clock.now().timestamp()
    keys = (f"email:{email}", f"client:{client_key}")
    wait = max(failures.blocked_for(key, now) for key in keys)
    if wait > 0:
        raise LoginThrottled("too many failed logins; try again later", retry_after=round(wait, 1))
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        burn_password_check(password)
    if user is None or not user.is_active or not verify_password(user.password_hash, password):
        for key in keys:
            failures.fail(key, now)
        raise BadCredentials("wrong e-mail or password")
    failures.reset(keys[0])
    return user


async def get_user(session: AsyncSession, user_id: int) -> User:
    """Load an active user or raise not_found."""
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise NotFound("user not found", code="user_not_found")
    return user


async def load_identity(session: AsyncSession, user_id: int) -> Identity | None:
    """The identity of an active user id, or None (one query: it runs on most requests)."""
    rows = (
        await session.execute(
            select(
                User.email,
                User.display_name,
                User.is_active,
                User.personalisation,
                RoleGrant.role,
                RoleGrant.brand_id,
                RoleGrant.room_id,
            )
            .outerjoin(RoleGrant, RoleGrant.user_id == User.id)
            .where(User.id == user_id)
        )
    ).all()
    if not rows or not rows[0].is_active:
        return None
    grants = [r for r in rows if r.role is not None]
    return Identity(
        id=user_id,
        email=rows[0].email,
        display_name=rows[0].display_name,
        roles=frozenset({Role.consumer, *(Role(g.role) for g in grants)}),
        brand_ids=frozenset(g.brand_id for g in grants if g.role == Role.merchant and g.brand_id),
        moderated_room_ids=frozenset(
            g.room_id for g in grants if g.role == Role.moderator and g.room_id
        ),
        personalisation=rows[0].personalisation,
    )


async def grant_role(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Identity | None,
    user_id: int,
    role: Role,
    brand_id: int | None = None,
    room_id: int | None = None,
) -> User:
    """Give a user a role; only operators may (actor None means the command line)."""
    if actor is not None and not actor.is_operator:
        raise PermissionDenied("only operators grant roles")
    if role == Role.consumer:
        raise BadRoleGrant("every user is a consumer already", details={"field": "role"})
    if role == Role.merchant and brand_id is None:
        raise BadRoleGrant("a merchant grant names a brand_id", details={"field": "brand_id"})
    if role == Role.moderator and room_id is None:
        raise BadRoleGrant("a moderator grant names a room_id", details={"field": "room_id"})
    if role not in (Role.merchant,) and brand_id is not None:
        raise BadRoleGrant("only merchant grants take a brand_id", details={"field": "brand_id"})
    if role not in (Role.moderator,) and room_id is not None:
        raise BadRoleGrant("only moderator grants take a room_id", details={"field": "room_id"})
    user = await get_user(session, user_id)
    for grant in user.grants:
        if grant.role == role and grant.brand_id == brand_id and grant.room_id == room_id:
            return user
    user.grants.append(
        RoleGrant(
            role=role.value,
            brand_id=brand_id,
            room_id=room_id,
            granted_by=actor.id if actor else None,
            created_at=clock.now(),
        )
    )
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        what = "brand" if brand_id is not None else "room"
        raise NotFound(f"{what} not found", code=f"{what}_not_found") from exc
    return user


async def revoke_role(
    session: AsyncSession,
    *,
    actor: Identity,
    user_id: int,
    role: Role,
    brand_id: int | None = None,
    room_id: int | None = None,
) -> User:
    """Take a role away; operators only."""
    if not actor.is_operator:
        raise PermissionDenied("only operators revoke roles")
    user = await get_user(session, user_id)
    user.grants = [
        g
        for g in user.grants
        if not (g.role == role and g.brand_id == brand_id and g.room_id == room_id)
    ]
    await session.flush()
    return user


async def list_users(
    session: AsyncSession,
    *,
    actor: Identity,
    query: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[User]:
    """Users for the operator console, newest first."""
    if not actor.is_operator:
        raise PermissionDenied("only operators list users")
    stmt = select(User).order_by(User.id.desc()).limit(limit).offset(offset)
    if query:
        like = f"%{query.lower()}%"
        stmt = stmt.where(User.email.like(like) | func.lower(User.display_name).like(like))
    return (await session.scalars(stmt)).all()


async def display_names(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    """Display names for a set of user ids."""
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids)))
    return {row.id: row.display_name for row in rows}


# ---------------------------------------------------------------- privacy

# Replaces a deleted account's password hash: not an Argon2 hash, so no password matches it.
UNUSABLE_PASSWORD = "!deleted"  # noqa: S105 - a marker, not a secret


async def personalisation_allowed(session: AsyncSession, user_id: int) -> bool:
    """Whether this consumer allows personalisation (False for unknown and deleted accounts).

    Ranking and targeted marketing call this (or `opted_out_among`) before reading a portrait:
    it reads the database, so a change holds from the next request on, on every worker.
    """
    allowed = await session.scalar(
        select(User.personalisation).where(User.id == user_id, User.is_active.is_(True))
    )
    return bool(allowed)


async def active_user_ids(session: AsyncSession, user_ids: Collection[int]) -> set[int]:
    """The ids among these of accounts that exist and are not deleted."""
    if not user_ids:
        return set()
    rows = await session.scalars(
        select(User.id).where(User.id.in_(set(user_ids)), User.deleted_at.is_(None))
    )
    return set(rows)


async def email_addresses(session: AsyncSession, user_ids: Collection[int]) -> dict[int, str]:
    """The e-mail address of each active, not deleted account among these ids."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(User.id, User.email).where(
            User.id.in_(set(user_ids)), User.is_active.is_(True), User.deleted_at.is_(None)
        )
    )
    return {uid: email for uid, email in rows}


async def opted_out_among(session: AsyncSession, user_ids: Collection[int]) -> set[int]:
    """The ids among these that must not get personalised content or targeted messages."""
    if not user_ids:
        return set()
    allowed = await session.scalars(
        select(User.id).where(
            User.id.in_(set(user_ids)),
            User.is_active.is_(True),
            User.personalisation.is_(True),
        )
    )
    return set(user_ids) - set(allowed)


async def set_personalisation(session: AsyncSession, *, actor: Identity, allowed: bool) -> bool:
    """Switch the caller's consent to personalisation on or off; returns the new value."""
    user = await get_user(session, actor.id)
    user.personalisation = allowed
    await session.flush()
    return user.personalisation


# How long the link in a marketing e-mail that switches targeted messages off stays valid.
UNSUBSCRIBE_LINK_DAYS = 365


def unsubscribe_token(user_id: int, *, secret: str, now: datetime) -> str:
    """The signed token of a marketing e-mail's unsubscribe link (the link is the credential:
    following it needs no login)."""
    minutes = UNSUBSCRIBE_LINK_DAYS * 24 * 60
    return create_access_token(
        secret=secret, user_id=user_id, now=now, minutes=minutes, kind="unsubscribe"
    )


async def unsubscribe(
    session: AsyncSession, *, tokens: TokenCache, secret: str, token: str, now: datetime
) -> int:
    """Switch personalisation off for the account an unsubscribe link names; its user id."""
    user_id = tokens.read(token, secret=secret, now=now, kind="unsubscribe")
    user = None if user_id is None else await session.get(User, user_id)
    if user is None or user.deleted_at is not None or not user.is_active:
        raise UnsubscribeLinkInvalid("this unsubscribe link is not valid (or has expired)")
    user.personalisation = False
    await session.flush()
    return user.id


async def check_password_again(
    session: AsyncSession,
    *,
    clock: Clock,
    failures: FailureCounter,
    actor: Identity,
    password: str,
) -> None:
    """Confirm a grave request with the caller's password; failures count as failed logins."""
    user = await get_user(session, actor.id)
    key = f"email:{user.email}"
    now = clock.now().timestamp()
    wait = failures.blocked_for(key, now)
    if wait > 0:
        raise LoginThrottled("too many wrong passwords; try again later", retry_after=wait)
    if not verify_password(user.password_hash, password):
        failures.fail(key, now)
        raise WrongPassword("the password is not right", details={"field": "password"})


async def collect_rows(session: AsyncSession, queries: Mapping[str, Select[Any]]) -> PersonalRows:
    """Run `select(table)` queries and return their rows as dicts, by table name."""
    found: PersonalRows = {}
    for table, query in queries.items():
        found[table] = [dict(row) for row in (await session.execute(query)).mappings()]
    return found


async def personal_data(session: AsyncSession, user_id: int) -> PersonalRows:
    """The account row and role grants of a user, every column."""
    return await collect_rows(
        session,
        {
            "users": select(User.__table__).where(User.id == user_id),
            "role_grants": select(RoleGrant.__table__).where(RoleGrant.user_id == user_id),
        },
    )


async def pseudonymise(
    session: AsyncSession, *, user_id: int, now: datetime
) -> tuple[str, datetime]:
    """Replace the account's personal values, drop its grants, lock it; idempotent.

    The row stays, so orders and messages keep a buyer and an author, now a pseudonym.
    Returns the pseudonym and when the account was deleted.
    """
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user not found", code="user_not_found")
    deleted_at = user.deleted_at
    if deleted_at is None:
        pseudonym = f"deleted-{secrets.token_hex(8)}"
        user.email = f"{pseudonym}@deleted.invalid"
        user.display_name = pseudonym
        user.deleted_at = deleted_at = now
    user.password_hash = UNUSABLE_PASSWORD
    user.is_active = False
    user.personalisation = False
    user.grants.clear()
    await session.flush()
    return user.display_name, deleted_at


async def deletions_to_finish(
    session: AsyncSession, *, now: datetime, delay: timedelta, lookback: timedelta
) -> list[int]:
    """Accounts deleted at least `delay` ago whose last erasure ran before `delay` had passed
    (the second pass was lost with its worker), or never completed; deletions older than
    `lookback` are only retried while their erasure never completed."""
    rows = await session.execute(
        select(User.id, User.deleted_at, User.erased_at).where(
            User.deleted_at.is_not(None),
            User.deleted_at <= now - delay,
            or_(User.erased_at.is_(None), User.deleted_at >= now - lookback),
        )
    )
    return [
        user_id
        for user_id, deleted_at, erased_at in rows
        if erased_at is None or (deleted_at is not None and erased_at < deleted_at + delay)
    ]


async def mark_erased(session: AsyncSession, *, user_id: int, now: datetime) -> None:
    """Record that an erasure pass, the event log included, has completed."""
    await session.execute(update(User).where(User.id == user_id).values(erased_at=now))
