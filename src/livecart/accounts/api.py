"""REST routes of accounts: register, token, me, role grants, user list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import OAuth2PasswordRequestForm

from livecart.accounts import service
from livecart.accounts.dependencies import CurrentUser, Operator
from livecart.accounts.schemas import RegisterIn, RoleGrantIn, TokenOut, UserOut
from livecart.core.http import ContainerDep, UoW
from livecart.core.security import create_access_token

router = APIRouter(tags=["accounts"])


def client_key(request: Request) -> str:
    """The client address used for throttling."""
    return request.client.host if request.client else "unknown"


@router.post(
    "/auth/register",
    status_code=201,
    response_model=UserOut,
    summary="Create a consumer account (anyone)",
)
async def register(body: RegisterIn, uow: UoW, container: ContainerDep) -> UserOut:
    user = await service.register(
        uow.session,
        clock=container.clock,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
    )
    await uow.commit()
    return service.to_out(user)


@router.post(
    "/auth/token",
    response_model=TokenOut,
    summary="OAuth2 password flow: get a bearer token (anyone)",
)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    uow: UoW,
    container: ContainerDep,
) -> TokenOut:
    user = await service.authenticate(
        uow.session,
        clock=container.clock,
        failures=container.login_failures,
        email=form.username,
        password=form.password,
        client_key=client_key(request),
    )
    minutes = container.settings.access_token_minutes
    access = create_access_token(
        secret=container.secret, user_id=user.id, now=container.clock.now(), minutes=minutes
    )
    return TokenOut(access_token=access, expires_in=minutes * 60)


@router.get("/me", response_model=UserOut, summary="The caller (signed-in user)")
async def me(identity: CurrentUser, uow: UoW) -> UserOut:
    return service.to_out(await service.get_user(uow.session, identity.id))


@router.post("/users/{user_id}/roles", response_model=UserOut, summary="Grant a role (operator)")
async def grant(
    user_id: int, body: RoleGrantIn, actor: Operator, uow: UoW, container: ContainerDep
) -> UserOut:
    user = await service.grant_role(
        uow.session,
        clock=container.clock,
        actor=actor,
        user_id=user_id,
        role=body.role,
        brand_id=body.brand_id,
        room_id=body.room_id,
    )
    await uow.commit()
    container.identities.forget(user_id)
    return service.to_out(user)


@router.delete("/users/{user_id}/roles", response_model=UserOut, summary="Revoke a role (operator)")
async def revoke(
    user_id: int, body: RoleGrantIn, actor: Operator, uow: UoW, container: ContainerDep
) -> UserOut:
    user = await service.revoke_role(
        uow.session,
        actor=actor,
        user_id=user_id,
        role=body.role,
        brand_id=body.brand_id,
        room_id=body.room_id,
    )
    await uow.commit()
    container.identities.forget(user_id)
    return service.to_out(user)


@router.get("/users", response_model=list[UserOut], summary="List users (operator)")
async def users(
    actor: Operator,
    uow: UoW,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[UserOut]:
    found = await service.list_users(uow.session, actor=actor, query=q, limit=limit, offset=offset)
    return [service.to_out(u) for u in found]
