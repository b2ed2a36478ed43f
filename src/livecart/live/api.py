"""REST routes of the live domain: rooms, sessions, co-hosts, showcase, pin, moderation,
anchor scripts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from livecart.accounts.dependencies import Anchor, CurrentUser
from livecart.catalog.schemas import ProductCard
from livecart.core.errors import DomainError
from livecart.core.http import ContainerDep, UoW
from livecart.flashsale import service as flash
from livecart.live import service
from livecart.live.schemas import (
    ChatMessageOut,
    CohostIn,
    ModerationIn,
    ModerationOut,
    PersonOut,
    ProductRefIn,
    ReservationOut,
    RoomIn,
    RoomOut,
    ScriptIn,
    ScriptOut,
    SessionIn,
    SessionStatus,
    SessionStatusOut,
    SessionSummary,
    SessionView,
)
from livecart.supervision import service as supervision

router = APIRouter(tags=["live"])

Limit = Annotated[int, Query(ge=1, le=200)]


# ---------------------------------------------------------------- rooms


@router.post("/rooms", status_code=201, response_model=RoomOut, summary="Open a room (anchor)")
async def create_room(body: RoomIn, actor: Anchor, uow: UoW, container: ContainerDep) -> RoomOut:
    room = await service.create_room(
        uow.session,
        clock=container.clock,
        actor=actor,
        title=body.title,
        description=body.description,
    )
    await uow.commit()
    return room


@router.get("/rooms/{room_id}", response_model=RoomOut, summary="One room (anyone)")
async def get_room(room_id: int, uow: UoW) -> RoomOut:
    return await service.get_room(uow.session, room_id)


@router.get("/rooms", response_model=list[RoomOut], summary="Rooms, newest first (anyone)")
async def list_rooms(uow: UoW, anchor_id: int | None = None, limit: Limit = 100) -> list[RoomOut]:
    return await service.list_rooms(uow.session, anchor_id=anchor_id, limit=limit)


# ---------------------------------------------------------------- sessions


@router.post(
    "/rooms/{room_id}/sessions",
    status_code=201,
    response_model=SessionStatusOut,
    summary="Schedule a session (the room's anchor)",
)
async def create_session(
    room_id: int, body: SessionIn, actor: Anchor, uow: UoW, container: ContainerDep
) -> SessionStatusOut:
    created = await service.create_session(
        uow.session,
        clock=container.clock,
        actor=actor,
        room_id=room_id,
        title=body.title,
        scheduled_at=body.scheduled_at,
    )
    await uow.commit()
    return created


@router.post(
    "/sessions/{session_id}/start",
    response_model=SessionStatusOut,
    summary="Go live (the room's anchor or a co-host)",
)
async def start_session(
    session_id: int, actor: Anchor, uow: UoW, container: ContainerDep
) -> SessionStatusOut:
    result = await service.start_session(
        uow, clock=container.clock, actor=actor, session_id=session_id
    )
    await uow.commit()
    return result


@router.post(
    "/sessions/{session_id}/end",
    response_model=SessionStatusOut,
    summary="End the broadcast (the room's anchor or a co-host)",
)
async def end_session(
    session_id: int, actor: Anchor, uow: UoW, container: ContainerDep
) -> SessionStatusOut:
    result = await service.end_session(
        uow, clock=container.clock, actor=actor, session_id=session_id
    )
    await uow.commit()
    return result


@router.get(
    "/sessions/{session_id}",
    response_model=SessionView,
    summary="A session with hosts, showcase, pinned product and statistics (anyone)",
    description="Products under an operator's delisting are left out of the showcase and pin.",
)
async def get_session(session_id: int, uow: UoW, container: ContainerDep) -> SessionView:
    return await service.get_session_view(
        uow.session, session_id, hub=container.hub, now=container.clock.now()
    )


@router.get(
    "/sessions",
    response_model=list[SessionSummary],
    summary="Sessions by status: live now, upcoming, ended (anyone)",
)
async def list_sessions(
    uow: UoW, container: ContainerDep, status: SessionStatus | None = None, limit: Limit = 50
) -> list[SessionSummary]:
    return await service.list_sessions(uow.session, status=status, limit=limit, hub=container.hub)


# ---------------------------------------------------------------- co-hosts


@router.post(
    "/sessions/{session_id}/cohosts",
    response_model=list[PersonOut],
    summary="Invite an anchor to co-host (the room's anchor)",
)
async def add_cohost(
    session_id: int, body: CohostIn, actor: Anchor, uow: UoW, container: ContainerDep
) -> list[PersonOut]:
    cohosts = await service.add_cohost(
        uow.session,
        clock=container.clock,
        actor=actor,
        session_id=session_id,
        anchor_id=body.anchor_id,
    )
    await uow.commit()
    return cohosts


@router.delete(
    "/sessions/{session_id}/cohosts/{anchor_id}",
    response_model=list[PersonOut],
    summary="Withdraw a co-host (the room's anchor)",
)
async def remove_cohost(
    session_id: int, anchor_id: int, actor: Anchor, uow: UoW
) -> list[PersonOut]:
    cohosts = await service.remove_cohost(
        uow.session, actor=actor, session_id=session_id, anchor_id=anchor_id
    )
    await uow.commit()
    return cohosts


# ---------------------------------------------------------------- showcase and pin


@router.post(
    "/sessions/{session_id}/showcase",
    response_model=list[ProductCard],
    summary="Add an active product approved for live to the showcase (anchor or co-host)",
)
async def add_to_showcase(
    session_id: int, body: ProductRefIn, actor: Anchor, uow: UoW, container: ContainerDep
) -> list[ProductCard]:
    cards = await service.add_to_showcase(
        uow.session,
        clock=container.clock,
        actor=actor,
        session_id=session_id,
        product_id=body.product_id,
        permit_categories=container.settings.permit_categories,
    )
    await uow.commit()
    return cards


@router.delete(
    "/sessions/{session_id}/showcase/{product_id}",
    response_model=list[ProductCard],
    summary="Remove a product from the showcase (anchor or co-host)",
)
async def remove_from_showcase(
    session_id: int, product_id: int, actor: Anchor, uow: UoW
) -> list[ProductCard]:
    cards = await service.remove_from_showcase(
        uow, actor=actor, session_id=session_id, product_id=product_id
    )
    await uow.commit()
    return cards


@router.post(
    "/sessions/{session_id}/pin",
    response_model=ProductCard,
    summary="Pin a showcase product as 'now explaining' (anchor or co-host)",
)
async def pin(
    session_id: int, body: ProductRefIn, actor: Anchor, uow: UoW, container: ContainerDep
) -> ProductCard:
    card = await service.pin_product(
        uow, clock=container.clock, actor=actor, session_id=session_id, product_id=body.product_id
    )
    await uow.commit()
    return card


@router.delete(
    "/sessions/{session_id}/pin",
    status_code=204,
    response_class=Response,
    summary="Unpin the product (anchor or co-host)",
)
async def unpin(session_id: int, actor: Anchor, uow: UoW) -> Response:
    await service.unpin_product(uow, actor=actor, session_id=session_id)
    await uow.commit()
    return Response(status_code=204)


# ---------------------------------------------------------------- chat and moderation


@router.post(
    "/sessions/{session_id}/moderation",
    response_model=ModerationOut,
    summary="Moderate: mute, ban, slow mode... (room staff: anchor, co-host, moderator, operator)",
)
async def moderate(
    session_id: int, body: ModerationIn, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> ModerationOut:
    result = await service.moderate(
        uow,
        clock=container.clock,
        actor=actor,
        session_id=session_id,
        action=body.action,
        user_id=body.user_id,
        minutes=body.minutes,
        seconds=body.seconds,
        reason=body.reason,
    )
    await uow.commit()
    return result


@router.delete(
    "/sessions/{session_id}/messages/{message_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a chat message (room staff)",
)
async def delete_message(
    session_id: int, message_id: int, actor: CurrentUser, uow: UoW
) -> Response:
    await service.delete_message(uow, actor=actor, session_id=session_id, message_id=message_id)
    await uow.commit()
    return Response(status_code=204)


@router.get(
    "/sessions/{session_id}/messages",
    response_model=list[ChatMessageOut],
    summary="Recent shown chat messages, oldest first (anyone)",
)
async def recent_messages(session_id: int, uow: UoW, limit: Limit = 50) -> list[ChatMessageOut]:
    return await service.recent_messages(uow.session, session_id=session_id, limit=limit)


# ---------------------------------------------------------------- reservations


@router.post(
    "/sessions/{session_id}/reservation",
    response_model=ReservationOut,
    summary="Be reminded of an upcoming session (signed-in user)",
)
async def reserve(
    session_id: int, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> ReservationOut:
    result = await service.reserve(
        uow.session, clock=container.clock, actor=actor, session_id=session_id
    )
    await uow.commit()
    return result


@router.delete(
    "/sessions/{session_id}/reservation",
    response_model=ReservationOut,
    summary="Cancel the reminder (signed-in user)",
)
async def cancel_reservation(session_id: int, actor: CurrentUser, uow: UoW) -> ReservationOut:
    result = await service.cancel_reservation(uow.session, actor=actor, session_id=session_id)
    await uow.commit()
    return result


# ---------------------------------------------------------------- anchor scripts


@router.get(
    "/sessions/{session_id}/script",
    response_model=ScriptOut,
    summary="The session's anchor script (its hosts and moderators, operators)",
    description=(
        "The current script (version 0 and an empty text when none was saved), with the "
        "warn-only compliance hits found when it was saved. `version` reads one of the last 20 "
        "kept versions (404 `script_version_not_found`). Viewers get 403 `not_room_staff`."
    ),
)
async def get_script(
    session_id: int,
    actor: CurrentUser,
    uow: UoW,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> ScriptOut:
    return await service.get_script(
        uow.session, actor=actor, session_id=session_id, version=version
    )


@router.put(
    "/sessions/{session_id}/script",
    response_model=ScriptOut,
    summary="Save the session's anchor script (the session's anchor or a co-host)",
    description=(
        "Scanned by the compliance lexicon (kind `anchor_script`): a blocking hit refuses the "
        "save with 422 `compliance_blocked` (`details.rule_ids`; `details.hits`, each with "
        "`rule_id`, `action`, `text`, `reason`, `start`/`end` offsets into the text and its "
        "`line` and `column`) and nothing is stored; warn-only hits are stored with the script "
        'and returned in `compliance_warnings`. A claimed remaining quantity ("only 3 left") '
        "below the stock of every SKU in the showcase and the units left in every open flash "
        "sale of the session gives 422 `scarcity_claim_false` (with `line`); a claimed lowest "
        'price ever ("lowest price ever", "历史新低") while every SKU in stock of the showcase '
        "has been cheaper, and no flash sale of the session is open, 422 `price_claim_false` "
        "(with `line`, `price`, `lowest`). A refused save "
        "is kept as a compliance hit of its author for the risk score. "
        "403 `not_host` for anyone but the session's anchor and co-hosts, 403 "
        "`anchor_suspended` / `room_suspended` under a sanction, 409 `session_ended` "
        "once the session ended, 409 `script_changed` when `base_version` is not the current "
        "version."
    ),
)
async def save_script(
    session_id: int, body: ScriptIn, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> ScriptOut:
    try:
        script = await service.save_script(
            uow.session,
            clock=container.clock,
            lexicon=container.lexicon,
            actor=actor,
            session_id=session_id,
            text=body.text,
            base_version=body.base_version,
            sale_units=flash.units_left_in_session,
        )
    except DomainError as refused:
        # A refused script is a risk signal of its author.
        await supervision.keep_refusal(
            uow,
            container.uow,
            clock=container.clock,
            refused=refused,
            session_id=session_id,
            anchor_id=actor.id,
        )
        raise
    await uow.commit()
    return script
