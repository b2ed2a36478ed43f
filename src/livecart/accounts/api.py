"""REST routes of accounts: register, token, me, role grants, user list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import OAuth2PasswordRequestForm

from livecart.accounts import privacy, service
from livecart.accounts.dependencies import CurrentUser, Operator
from livecart.accounts.schemas import (
    AccountDeletedOut,
    DeleteAccountIn,
    PersonalDataOut,
    PrivacyIn,
    PrivacyOut,
    RegisterIn,
    RoleGrantIn,
    TokenOut,
    UserOut,
)
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


@router.get(
    "/me/privacy",
    response_model=PrivacyOut,
    summary="The caller's privacy choices (signed-in)",
    description="`personalisation`: whether the caller's portrait and scores may rank what "
    "they see and choose the marketing sent to them. On by default.",
)
async def my_privacy(identity: CurrentUser, uow: UoW) -> PrivacyOut:
    allowed = await service.personalisation_allowed(uow.session, identity.id)
    return PrivacyOut(personalisation=allowed)


@router.put(
    "/me/privacy",
    response_model=PrivacyOut,
    summary="Switch personalisation off or on (signed-in)",
    description="Holds from the next request on: ranking and targeted marketing read the "
    "choice from the database (`accounts.service.personalisation_allowed`).",
)
async def set_my_privacy(
    body: PrivacyIn, identity: CurrentUser, uow: UoW, container: ContainerDep
) -> PrivacyOut:
    allowed = await service.set_personalisation(
        uow.session, actor=identity, allowed=body.personalisation
    )
    await uow.commit()
    container.identities.forget(identity.id)
    return PrivacyOut(personalisation=allowed)


@router.get(
    "/me/export",
    response_model=PersonalDataOut,
    summary="Export everything held about the caller (signed-in)",
    description="Every personal column of every row about the caller, by table (account, "
    "role grants, chat messages, sanctions, reservations, cart, orders and their items and "
    "payments, flash-sale holdings and reservations), and the caller's behaviour events from "
    "the event log. The password hash is left out (`not_exported` says so).",
)
async def export_me(identity: CurrentUser, uow: UoW, container: ContainerDep) -> PersonalDataOut:
    return await privacy.export(uow.session, container=container, user_id=identity.id)


@router.delete(
    "/me",
    response_model=AccountDeletedOut,
    summary="Delete the caller's account (signed-in, password entered again)",
    description="E-mail, name and password are replaced by a pseudonym, role grants, cart "
    "and reservations deleted, chat texts and sanction reasons emptied, and the caller's "
    "chat texts, anonymous ids and properties removed from the behaviour-event log. Orders, "
    "their items and payments stay for the accounts, under the pseudonym. The account cannot "
    "sign in again; its tokens stop working at once on this worker and within "
    "`LIVECART_IDENTITY_CACHE_SECONDS` on the others.",
)
async def delete_me(
    body: DeleteAccountIn, identity: CurrentUser, uow: UoW, container: ContainerDep
) -> AccountDeletedOut:
    await service.check_password_again(
        uow.session,
        clock=container.clock,
        failures=container.login_failures,
        actor=identity,
        password=body.password,
    )
    return await privacy.delete_account(uow, container=container, user_id=identity.id)


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
