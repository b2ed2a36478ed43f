"""REST routes of the events domain: the client-event endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request

from livecart.accounts.dependencies import OptionalUser
from livecart.core.http import ContainerDep
from livecart.events import service
from livecart.events.schemas import AcceptedOut, ClientEventsIn

router = APIRouter(tags=["events"])


def client_key(request: Request) -> str:
    """The client address used to throttle anonymous reporters."""
    return request.client.host if request.client else "unknown"


@router.post(
    "/events",
    status_code=202,
    response_model=AcceptedOut,
    summary="Report product clicks, detail views, heartbeats (anyone; anonymous: anonymous_id)",
)
async def report_events(
    body: ClientEventsIn, identity: OptionalUser, request: Request, container: ContainerDep
) -> AcceptedOut:
    accepted = await service.accept_client_events(
        sink=container,
        limits=container.event_limits,
        clock=container.clock,
        identity=identity,
        client_key=client_key(request),
        batch=body,
    )
    return AcceptedOut(accepted=accepted)
