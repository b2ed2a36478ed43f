"""A signed-in user's privacy page (personalisation on or off, a download of everything held
about them, account deletion) and the unsubscribe link of marketing e-mails, which works
without a login: the same choices as `PUT /api/v1/me/privacy`, `GET /api/v1/me/export` and
`DELETE /api/v1/me`, for people rather than programs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from livecart.accounts import privacy
from livecart.accounts import service as accounts
from livecart.core.errors import DomainError, RateLimited
from livecart.core.http import ContainerDep, UoW
from livecart.web.dependencies import PageUser, login_redirect
from livecart.web.pages import PageRoute
from livecart.web.rendering import render

router = APIRouter(include_in_schema=False, route_class=PageRoute)

SAVED = {
    "on": "Saved: what you watch and buy may choose what you are shown and sent.",
    "off": "Saved: nothing is chosen for you any more, and no targeted message is sent to you.",
}


@router.get("/account/privacy")
async def privacy_page(
    request: Request, user: PageUser, uow: UoW, saved: str | None = None
) -> Response:
    if user is None:
        return login_redirect(request)
    allowed = await accounts.personalisation_allowed(uow.session, user.id)
    context = {"personalisation": allowed, "saved": SAVED.get(saved or ""), "error": None}
    return render(request, "account_privacy.html", user, context)


@router.post("/account/privacy")
async def set_privacy(
    request: Request,
    user: PageUser,
    uow: UoW,
    container: ContainerDep,
    personalisation: Annotated[str, Form(pattern="^(on|off)$")],
) -> Response:
    if user is None:
        return login_redirect(request)
    await accounts.set_personalisation(uow.session, actor=user, allowed=personalisation == "on")
    await uow.commit()
    container.identities.forget(user.id)
    return RedirectResponse(f"/account/privacy?saved={personalisation}", status_code=303)


@router.get("/account/export.json")
async def export_download(
    request: Request, user: PageUser, uow: UoW, container: ContainerDep
) -> Response:
    if user is None:
        return login_redirect(request)
    data = await privacy.export(uow.session, container=container, user_id=user.id)
    return Response(
        data.model_dump_json(indent=2),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="livecart-my-data.json"'},
    )


@router.post("/account/delete")
async def delete_account(
    request: Request,
    user: PageUser,
    uow: UoW,
    container: ContainerDep,
    password: Annotated[str, Form(max_length=128)],
) -> Response:
    if user is None:
        return login_redirect(request)
    try:
        await accounts.check_password_again(
            uow.session,
            clock=container.clock,
            failures=container.login_failures,
            actor=user,
            password=password,
        )
    except DomainError as exc:
        allowed = await accounts.personalisation_allowed(uow.session, user.id)
        error = (
            f"Too many wrong passwords. Try again in {max(1, round(exc.retry_after))} seconds."
            if isinstance(exc, RateLimited)
            else "That is not your password: the account is not deleted."
        )
        context = {"personalisation": allowed, "saved": None, "error": error}
        return render(request, "account_privacy.html", user, context, status_code=exc.status)
    deleted = await privacy.delete_account(uow, container=container, user_id=user.id)
    response = render(
        request,
        "account_done.html",
        None,
        {
            "heading": "Your account is deleted",
            "message": "Your name, e-mail, chat and viewing history are erased. Orders stay for "
            f"the accounts under the pseudonym {deleted.pseudonym}. You are signed out.",
        },
    )
    response.delete_cookie(container.settings.session_cookie_name, path="/")
    return response


@router.get("/unsubscribe")
async def unsubscribe_form(
    request: Request, token: Annotated[str, Query(max_length=2000)] = ""
) -> Response:
    # A GET changes nothing: mail scanners open links; the button (or the mail client's
    # one-click POST) does.
    return render(request, "unsubscribe.html", None, {"token": token})


@router.post("/unsubscribe")
async def unsubscribe(
    request: Request,
    uow: UoW,
    container: ContainerDep,
    token: Annotated[str, Query(max_length=2000)],
) -> Response:
    """RFC 8058 one-click (`List-Unsubscribe=One-Click` in the body) or the page's button:
    the signed token in the link is the credential, so no login and no CSRF token."""
    user_id = await accounts.unsubscribe(
        uow.session,
        tokens=container.tokens,
        secret=container.secret,
        token=token,
        now=container.clock.now(),
    )
    await uow.commit()
    container.identities.forget(user_id)
    return render(
        request,
        "account_done.html",
        None,
        {
            "heading": "You are unsubscribed",
            "message": "No more messages chosen for you will be sent, by e-mail or in the app, "
            "and what you watch and buy no longer chooses what you are shown. You can switch "
            "it back on your privacy page.",
        },
    )
