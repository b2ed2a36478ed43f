"""HTTP plumbing shared by every router: the container, the unit of work, the error shape."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection

from livecart.core.db import UnitOfWork
from livecart.core.errors import DomainError, RateLimited

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from livecart.bootstrap import Container


def container_of(connection: HTTPConnection) -> Container:
    """The process container, set by the app's lifespan."""
    container: Container = connection.app.state.container
    return container


async def unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    """One unit of work per request; handlers commit it explicitly before answering."""
    async with container_of(request).uow() as uow:
        yield uow


ContainerDep = Annotated["Container", Depends(container_of)]
UoW = Annotated[UnitOfWork, Depends(unit_of_work)]

_STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
}


_HTTP_SCHEME = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


def origin_allowed(connection: HTTPConnection, *, base_url: str, allowed: list[str]) -> bool:
    """Whether a browser Origin is our own (same host and port as the request) or configured.

    No Origin header means a non-browser client, which cannot ride on a viewer's cookie.
    """
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    origin = origin.rstrip("/")
    if origin in {base_url.rstrip("/"), *(o.rstrip("/") for o in allowed)}:
        return True
    host = connection.headers.get("host")
    scheme = _HTTP_SCHEME.get(connection.url.scheme, connection.url.scheme)
    return host is not None and origin == f"{scheme}://{host}"


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one error shape of the API and of WebSocket error frames."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _validation_details(exc: RequestValidationError) -> dict[str, Any]:
    errors = []
    for err in exc.errors():
        errors.append(
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
                "type": err.get("type"),
                "message": err.get("msg"),
            }
        )
    return {"errors": errors}


def install_error_handlers(app: FastAPI) -> None:
    """Turn domain, validation and routing errors into the shared error shape."""

    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(max(1, round(exc.retry_after + 0.49)))
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(SQLAlchemyTimeoutError)
    async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
        # The database refused or dropped the connection, or the pool had none free in time:
        # nothing was committed, so the client may safely retry (with the same Idempotency-Key).
        log.error("database unavailable", exc_info=exc)
        return JSONResponse(
            error_body("try_again", "the service is busy; try again"),
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        unknown = any(e.get("type") == "extra_forbidden" for e in exc.errors())
        code = "unknown_field" if unknown else "invalid_input"
        message = "unknown or server-owned field in input" if unknown else "the input is not valid"
        return JSONResponse(error_body(code, message, _validation_details(exc)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )
