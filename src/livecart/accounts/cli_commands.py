"""Account commands for the CLI, each one unit of work."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from livecart.accounts import service
from livecart.accounts.models import User
from livecart.accounts.schemas import RegisterIn, Role, UserOut
from livecart.core.errors import InvalidInput

if TYPE_CHECKING:
    from livecart.bootstrap import Container


async def create_user(
    container: Container,
    *,
    email: str,
    password: str,
    roles: list[str],
    brand_id: int | None,
    room_id: int | None,
    display_name: str | None,
) -> UserOut:
    """Create a user and grant roles (the CLI is trusted like an operator)."""
    valid = RegisterIn(
        email=email, password=password, display_name=display_name or email.split("@")[0][:60]
    )
    try:
        wanted = [Role(r) for r in roles]
    except ValueError as exc:
        raise InvalidInput(f"unknown role; choose from {[r.value for r in Role]}") from exc
    async with container.uow() as uow:
        user = await service.register(
            uow.session,
            clock=container.clock,
            email=valid.email,
            password=valid.password,
            display_name=valid.display_name,
        )
        for role in wanted:
            if role == Role.consumer:
                continue
            await service.grant_role(
                uow.session,
                clock=container.clock,
                actor=None,
                user_id=user.id,
                role=role,
                brand_id=brand_id if role == Role.merchant else None,
                room_id=room_id if role == Role.moderator else None,
            )
        await uow.commit()
        return service.to_out(user)


async def list_all(container: Container) -> list[UserOut]:
    """Every user, oldest first."""
    async with container.uow() as uow:
        users = (await uow.session.scalars(select(User).order_by(User.id))).all()
        return [service.to_out(u) for u in users]
