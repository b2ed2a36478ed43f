"""Accounts: registration, authentication, identities and role grants."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts.errors import BadCredentials, BadRoleGrant, EmailTaken, LoginThrottled
from livecart.accounts.models import RoleGrant, User
from livecart.accounts.schemas import GrantOut, Identity, Role, UserOut
from livecart.core.clock import Clock
from livecart.core.errors import NotFound, PermissionDenied
from livecart.core.ratelimit import FailureCounter
from livecart.core.security import burn_password_check, hash_password, verify_password


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
