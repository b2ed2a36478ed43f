"""Live: rooms, sessions, co-hosts, showcase and pin, chat storage, moderation, statistics.

Frames for the session's WebSocket channel are published through the unit of work, which hands
them to the broker after commit; a unit of work built without a publisher sends nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Identity, PersonalRows, Role
from livecart.catalog import service as catalog
from livecart.catalog.schemas import ProductCard, ProductStatus
from livecart.core.clock import Clock, SystemClock
from livecart.core.db import UnitOfWork
from livecart.core.errors import DomainError, NotFound, PermissionDenied
from livecart.live.access import is_host as _is_host
from livecart.live.access import is_staff as _is_staff
from livecart.live.access import load_session as _session
from livecart.live.claims import claim_checks
from livecart.live.errors import (
    BadModeration,
    Banned,
    BannedWord,
    CannotSanctionStaff,
    InvalidTransition,
    MessageNotFound,
    Muted,
    NotAnAnchor,
    NotInShowcase,
    NotRoomStaff,
    ProductNotFound,
    ProductUnavailable,
    RoomAlreadyLive,
    RoomNotFound,
    ScheduledInPast,
    SessionEnded,
    SessionNotFound,
    SessionNotLive,
    SessionNotScheduled,
    SlowMode,
)
from livecart.live.models import (
    ChatMessage,
    CoHost,
    LiveSession,
    Reservation,
    Room,
    RoomSanction,
    ShowcaseItem,
)
from livecart.live.schemas import (
    ChatMessageOut,
    ChatStatus,
    ChatUser,
    ModerationAction,
    ModerationOut,
    PersonOut,
    ReservationOut,
    RoomOut,
    SaleUnits,
    SessionOrigin,
    SessionStatus,
    SessionStatusOut,
    SessionSummary,
    SessionView,
    StatisticsOut,
)
from livecart.realtime.broker import session_channel
from livecart.supervision import service as supervision
from livecart.supervision.schemas import FieldHit

Frame = dict[str, Any]


class ViewerCounter(Protocol):
    """What the real-time hub tells the live domain: sockets watching a session now."""

    def viewers(self, session_id: int) -> int: ...


# ---------------------------------------------------------------- plumbing


def publish_after_commit(uow: UnitOfWork, session_id: int, frame: Frame) -> None:
    """Send a frame to the session's channel once the unit of work has committed."""
    uow.publish_after_commit(session_channel(session_id), frame)


async def _room(session: AsyncSession, room_id: int) -> Room:
    room = await session.get(Room, room_id)
    if room is None:
        raise RoomNotFound("room not found", details={"room_id": room_id})
    return room


def _require_anchor_of(actor: Identity, live: LiveSession) -> None:
    if actor.id != live.anchor_id:
        raise PermissionDenied("only the room's anchor may do this", code="not_room_anchor")


def _require_host(actor: Identity, live: LiveSession) -> None:
    if not _is_host(actor, live):
        raise PermissionDenied("only the room's anchor or a co-host may do this", code="not_host")


def _require_staff(actor: Identity, live: LiveSession) -> None:
    if not _is_staff(actor, live):
        raise NotRoomStaff("only the room's staff may moderate it")


def _room_out(room: Room) -> RoomOut:
    return RoomOut.model_validate(room)


# ---------------------------------------------------------------- rooms


async def create_room(
    session: AsyncSession, *, clock: Clock, actor: Identity, title: str, description: str = ""
) -> RoomOut:
    """Open a room for the calling anchor."""
    if not actor.has(Role.anchor):
        raise PermissionDenied("only anchors open rooms", code="not_an_anchor")
    room = Room(anchor_id=actor.id, title=title, description=description, created_at=clock.now())
    session.add(room)
    await session.flush()
    return _room_out(room)


async def get_room(session: AsyncSession, room_id: int) -> RoomOut:
    """One room."""
    return _room_out(await _room(session, room_id))


async def list_rooms(
    session: AsyncSession, *, anchor_id: int | None = None, limit: int = 100
) -> list[RoomOut]:
    """Rooms, newest first, optionally of one anchor."""
    stmt = select(Room).order_by(Room.id.desc()).limit(limit)
    if anchor_id is not None:
        stmt = stmt.where(Room.anchor_id == anchor_id)
    return [_room_out(r) for r in await session.scalars(stmt)]


# ---------------------------------------------------------------- sessions


async def create_session(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Identity,
    room_id: int,
    title: str,
    scheduled_at: datetime | None = None,
) -> SessionStatusOut:
    """Schedule a session in the anchor's own room."""
    room = await _room(session, room_id)
    if actor.id != room.anchor_id:
        raise PermissionDenied(
            "only the room's anchor schedules its sessions", code="not_room_anchor"
        )
    now = clock.now()
    if scheduled_at is not None and scheduled_at <= now:
        raise ScheduledInPast(
            "scheduled_at must be in the future", details={"field": "scheduled_at"}
        )
    live = LiveSession(
        room_id=room.id,
        anchor_id=room.anchor_id,
        title=title,
        status=SessionStatus.scheduled.value,
        scheduled_at=scheduled_at,
        created_at=now,
        showcase=[],
        cohosts=[],
    )
    session.add(live)
    await session.flush()
    return SessionStatusOut(id=live.id, status=SessionStatus.scheduled)


async def _transition(
    uow: UnitOfWork,
    *,
    session_id: int,
    source: SessionStatus,
    target: SessionStatus,
    values: dict[str, Any],
) -> None:
    # A conditional UPDATE, so two concurrent starts (or ends) cannot both succeed.
    stmt = (
        update(LiveSession)
        .where(LiveSession.id == session_id, LiveSession.status == source.value)
        .values(status=target.value, **values)
        .execution_options(synchronize_session=False)
    )
    try:
        async with uow.session.begin_nested():
            result = await uow.session.execute(stmt)
    except IntegrityError as exc:
        raise RoomAlreadyLive("this room already has a live session") from exc
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidTransition(
            f"only a {source.value} session can become {target.value}",
            details={"session_id": session_id, "to": target.value},
        )


async def start_session(
    uow: UnitOfWork, *, clock: Clock, actor: Identity, session_id: int
) -> SessionStatusOut:
    """scheduled -> live (room's anchor or a co-host); one live session per room."""
    live = await _session(uow.session, session_id)
    _require_host(actor, live)
    if live.status != SessionStatus.scheduled.value:
        raise InvalidTransition(
            f"a {live.status} session cannot start", details={"status": live.status}
        )
    busy = await uow.session.scalar(
        select(LiveSession.id).where(
            LiveSession.room_id == live.room_id,
            LiveSession.status == SessionStatus.live.value,
            LiveSession.id != live.id,
        )
    )
    if busy is not None:
        raise RoomAlreadyLive("this room already has a live session", details={"session_id": busy})
    # Sanctions gate (supervision): a suspended anchor or room cannot go live.
    await supervision.enforce(
        uow.session, now=clock.now(), anchor_id=actor.id, room_id=live.room_id
    )
    # Qualification gate (supervision): the anchor's identity verification, valid today, 16+.
    await supervision.check_can_go_live(
        uow.session, anchor_id=live.anchor_id, today=clock.now().date()
    )
    await _transition(
        uow,
        session_id=session_id,
        source=SessionStatus.scheduled,
        target=SessionStatus.live,
        values={"started_at": clock.now()},
    )
    await uow.session.refresh(live)
    publish_after_commit(uow, session_id, {"type": "status", "status": "live"})
    return SessionStatusOut(id=session_id, status=SessionStatus.live)


async def end_session(
    uow: UnitOfWork, *, clock: Clock, actor: Identity, session_id: int
) -> SessionStatusOut:
    """live -> ended (room's anchor or a co-host)."""
    live = await _session(uow.session, session_id)
    _require_host(actor, live)
    if live.status != SessionStatus.live.value:
        raise InvalidTransition(
            f"a {live.status} session cannot end", details={"status": live.status}
        )
    await _transition(
        uow,
        session_id=session_id,
        source=SessionStatus.live,
        target=SessionStatus.ended,
        values={"ended_at": clock.now()},
    )
    await uow.session.refresh(live)
    publish_after_commit(uow, session_id, {"type": "status", "status": "ended"})
    return SessionStatusOut(id=session_id, status=SessionStatus.ended)


async def session_origin(session: AsyncSession, session_id: int) -> SessionOrigin:
    """The room and anchor of a session, for orders placed in it."""
    row = (
        await session.execute(
            select(
                LiveSession.id, LiveSession.room_id, LiveSession.anchor_id, LiveSession.status
            ).where(LiveSession.id == session_id)
        )
    ).first()
    if row is None:
        raise SessionNotFound("live session not found", details={"session_id": session_id})
    return SessionOrigin(
        session_id=row.id,
        room_id=row.room_id,
        anchor_id=row.anchor_id,
        status=SessionStatus(row.status),
    )


async def session_anchors(session: AsyncSession, session_ids: Iterable[int]) -> dict[int, int]:
    """The anchor of each of these sessions (supervision's risk signals); unknown ids are left
    out."""
    wanted = set(session_ids)
    if not wanted:
        return {}
    rows = await session.execute(
        select(LiveSession.id, LiveSession.anchor_id).where(LiveSession.id.in_(wanted))
    )
    return {row.id: row.anchor_id for row in rows}


async def staff_of(session: AsyncSession, *, session_id: int, actor: Identity | None) -> bool:
    """Whether the caller may moderate the session (anchor, co-host, room moderator, operator)."""
    return _is_staff(actor, await _session(session, session_id))


async def _people(session: AsyncSession, ids: Iterable[int]) -> dict[int, PersonOut]:
    names = await accounts.display_names(session, set(ids))
    return {i: PersonOut(id=i, display_name=n) for i, n in names.items()}


def _statistics(live: LiveSession, viewers: int) -> StatisticsOut:
    return StatisticsOut(
        viewers=viewers,
        peak_viewers=live.peak_viewers,
        watch_seconds=live.watch_seconds,
        messages=live.messages,
        likes=live.likes,
        orders=live.orders,
        gmv=live.gmv,
        currency=live.currency,
    )


async def get_session_view(
    session: AsyncSession,
    session_id: int,
    *,
    hub: ViewerCounter | None = None,
    now: datetime | None = None,
) -> SessionView:
    """The full view of one session: hosts, showcase, pinned product, statistics (anyone).
    With `now` (the viewers' view), products under an operator's delisting are left out of
    the showcase and the pin; staff views pass no `now` and see them."""
    live = await _session(session, session_id)
    await session.refresh(live)
    people = await _people(session, [live.anchor_id, *(c.anchor_id for c in live.cohosts)])
    product_ids = [i.product_id for i in live.showcase]
    if live.pinned_product_id is not None:
        product_ids.append(live.pinned_product_id)
    cards = await catalog.product_cards(session, product_ids)
    if now is not None:
        for product_id in await catalog.delisted_ids(session, product_ids, now=now):
            cards.pop(product_id, None)
    viewers = hub.viewers(live.id) if hub is not None else 0
    return SessionView(
        id=live.id,
        room_id=live.room_id,
        title=live.title,
        status=SessionStatus(live.status),
        scheduled_at=live.scheduled_at,
        started_at=live.started_at,
        ended_at=live.ended_at,
        anchor=people.get(live.anchor_id, PersonOut(id=live.anchor_id, display_name="")),
        cohosts=[people[c.anchor_id] for c in live.cohosts if c.anchor_id in people],
        pinned=cards.get(live.pinned_product_id) if live.pinned_product_id else None,
        showcase=[cards[i] for i in product_ids[: len(live.showcase)] if i in cards],
        statistics=_statistics(live, viewers),
    )


async def list_sessions(
    session: AsyncSession,
    *,
    status: SessionStatus | None = None,
    room_ids: Iterable[int] | None = None,
    limit: int = 50,
    hub: ViewerCounter | None = None,
) -> list[SessionSummary]:
    """Sessions for the home page and consoles: live newest first, upcoming soonest first."""
    stmt = select(LiveSession).limit(limit)
    if status is not None:
        stmt = stmt.where(LiveSession.status == status.value)
    if room_ids is not None:
        stmt = stmt.where(LiveSession.room_id.in_(list(room_ids)))
    if status == SessionStatus.scheduled:
        stmt = stmt.order_by(LiveSession.scheduled_at.asc().nulls_last(), LiveSession.id)
    elif status == SessionStatus.ended:
        stmt = stmt.order_by(LiveSession.ended_at.desc(), LiveSession.id.desc())
    else:
        stmt = stmt.order_by(LiveSession.started_at.desc().nulls_last(), LiveSession.id.desc())
    found = list(await session.scalars(stmt))
    people = await _people(session, {s.anchor_id for s in found})
    cards = await catalog.product_cards(
        session, [s.pinned_product_id for s in found if s.pinned_product_id is not None]
    )
    return [
        SessionSummary(
            id=s.id,
            room_id=s.room_id,
            title=s.title,
            status=SessionStatus(s.status),
            scheduled_at=s.scheduled_at,
            started_at=s.started_at,
            ended_at=s.ended_at,
            anchor=people.get(s.anchor_id, PersonOut(id=s.anchor_id, display_name="")),
            viewers=hub.viewers(s.id) if hub is not None else 0,
            pinned=cards.get(s.pinned_product_id) if s.pinned_product_id else None,
        )
        for s in found
    ]


# ---------------------------------------------------------------- co-hosts


async def add_cohost(
    session: AsyncSession, *, clock: Clock, actor: Identity, session_id: int, anchor_id: int
) -> list[PersonOut]:
    """Invite another anchor to co-host (room's anchor); returns the co-hosts."""
    live = await _session(session, session_id)
    _require_anchor_of(actor, live)
    if live.status == SessionStatus.ended.value:
        raise SessionEnded("the session has ended")
    invitee = await accounts.load_identity(session, anchor_id)
    if invitee is None or not invitee.has(Role.anchor) or anchor_id == live.anchor_id:
        raise NotAnAnchor(
            "a co-host must be another user holding the anchor role",
            details={"field": "anchor_id"},
        )
    if all(c.anchor_id != anchor_id for c in live.cohosts):
        live.cohosts.append(
            CoHost(anchor_id=anchor_id, invited_by=actor.id, created_at=clock.now())
        )
        await session.flush()
    return await _cohosts(session, live)


async def remove_cohost(
    session: AsyncSession, *, actor: Identity, session_id: int, anchor_id: int
) -> list[PersonOut]:
    """Withdraw a co-host (room's anchor); returns the co-hosts left."""
    live = await _session(session, session_id)
    _require_anchor_of(actor, live)
    live.cohosts = [c for c in live.cohosts if c.anchor_id != anchor_id]
    await session.flush()
    return await _cohosts(session, live)


async def _cohosts(session: AsyncSession, live: LiveSession) -> list[PersonOut]:
    people = await _people(session, [c.anchor_id for c in live.cohosts])
    return [people[c.anchor_id] for c in live.cohosts if c.anchor_id in people]


# ---------------------------------------------------------------- showcase and pin


async def _showcase(session: AsyncSession, live: LiveSession) -> list[ProductCard]:
    ids = [i.product_id for i in live.showcase]
    cards = await catalog.product_cards(session, ids)
    return [cards[i] for i in ids if i in cards]


async def add_to_showcase(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Identity,
    session_id: int,
    product_id: int,
    permit_categories: Collection[str] | None = None,
) -> list[ProductCard]:
    """Put an active product in the session's showcase (anchor or co-host); it must be
    approved for live and its brand qualified (`permit_categories`: None, the default list)."""
    live = await _session(session, session_id)
    _require_host(actor, live)
    if live.status == SessionStatus.ended.value:
        raise SessionEnded("the session has ended")
    card = (await catalog.product_cards(session, [product_id])).get(product_id)
    if card is None:
        raise ProductNotFound("product not found", details={"product_id": product_id})
    if card.status != ProductStatus.active:
        raise ProductUnavailable("the product is not on sale", details={"product_id": product_id})
    # Sanctions gate (supervision): no delisted product, suspended anchor or room.
    await supervision.enforce(
        session, now=clock.now(), anchor_id=actor.id, room_id=live.room_id, product_ids=[product_id]
    )
    if all(i.product_id != product_id for i in live.showcase):
        # Selection and qualification gate (supervision): approved for live, brand licensed.
        await supervision.check_can_showcase(
            session,
            product_id=product_id,
            brand_id=card.brand.id,
            category=card.category,
            today=clock.now().date(),
            permit_categories=permit_categories,
        )
        position = max((i.position for i in live.showcase), default=-1) + 1
        live.showcase.append(
            ShowcaseItem(product_id=product_id, position=position, added_at=clock.now())
        )
        await session.flush()
    return await _showcase(session, live)


async def remove_from_showcase(
    uow: UnitOfWork, *, actor: Identity, session_id: int, product_id: int
) -> list[ProductCard]:
    """Take a product out of the showcase (anchor or co-host); unpins it if pinned."""
    live = await _session(uow.session, session_id)
    _require_host(actor, live)
    if all(i.product_id != product_id for i in live.showcase):
        raise NotInShowcase("the product is not in the showcase")
    live.showcase = [i for i in live.showcase if i.product_id != product_id]
    if live.pinned_product_id == product_id:
        live.pinned_product_id = None
        publish_after_commit(uow, session_id, {"type": "unpin"})
    await uow.session.flush()
    return await _showcase(uow.session, live)


async def pin_product(
    uow: UnitOfWork, *, clock: Clock, actor: Identity, session_id: int, product_id: int
) -> ProductCard:
    """Pin a showcase product as 'now explaining' (anchor or co-host); pushes a pin frame."""
    live = await _session(uow.session, session_id)
    _require_host(actor, live)
    if live.status == SessionStatus.ended.value:
        raise SessionEnded("the session has ended")
    if all(i.product_id != product_id for i in live.showcase):
        raise NotInShowcase("pin a product of the showcase", details={"product_id": product_id})
    card = (await catalog.product_cards(uow.session, [product_id]))[product_id]
    live.pinned_product_id = product_id
    await uow.session.flush()
    publish_after_commit(uow, session_id, {"type": "pin", "product": card.model_dump(mode="json")})
    return card


async def unpin_product(uow: UnitOfWork, *, actor: Identity, session_id: int) -> None:
    """Clear the pinned product (anchor or co-host); pushes an unpin frame."""
    live = await _session(uow.session, session_id)
    _require_host(actor, live)
    live.pinned_product_id = None
    await uow.session.flush()
    publish_after_commit(uow, session_id, {"type": "unpin"})


# ---------------------------------------------------------------- statistics


async def record_sale(
    uow: UnitOfWork,
    *,
    session_id: int,
    order_id: int,
    amount: int,
    currency: str,
    buyer_name: str,
    product_title: str,
    quantity: int,
    at: datetime | None = None,
) -> None:
    """Count an order in the session's statistics; after commit, push the anonymised ticker.

    `at` is the order's time from the caller's clock (the system clock when not given); the
    order id is not sent, so the ticker names no one.
    """
    # GMV is only summed in one currency: the first order's (or the session's default).
    same_currency = or_(LiveSession.currency == currency, LiveSession.orders == 0)
    result = await uow.session.execute(
        update(LiveSession)
        .where(LiveSession.id == session_id, same_currency)
        .values(orders=LiveSession.orders + 1, gmv=LiveSession.gmv + amount, currency=currency)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        result = await uow.session.execute(
            update(LiveSession)
            .where(LiveSession.id == session_id)
            .values(orders=LiveSession.orders + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise SessionNotFound("live session not found", details={"session_id": session_id})
    initial = buyer_name.strip()[:1].upper() or "*"
    frame = {
        "type": "purchase",
        "buyer": f"{initial}***",
        "product_title": product_title,
        "quantity": quantity,
        "at": (at or SystemClock().now()).isoformat(),
    }
    publish_after_commit(uow, session_id, frame)


async def add_counters(
    session: AsyncSession,
    *,
    session_id: int,
    likes: int = 0,
    watch_seconds: int = 0,
    viewers: int = 0,
) -> int:
    """Add likes and watch time and raise the peak of viewers; returns the likes total."""
    values: dict[str, Any] = {}
    if likes:
        values["likes"] = LiveSession.likes + likes
    if watch_seconds:
        values["watch_seconds"] = LiveSession.watch_seconds + watch_seconds
    if values:
        await session.execute(
            update(LiveSession)
            .where(LiveSession.id == session_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    if viewers:
        # Conditional, so concurrent workers only ever raise the peak.
        await session.execute(
            update(LiveSession)
            .where(LiveSession.id == session_id, LiveSession.peak_viewers < viewers)
            .values(peak_viewers=viewers)
            .execution_options(synchronize_session=False)
        )
    total = await session.scalar(select(LiveSession.likes).where(LiveSession.id == session_id))
    return int(total or 0)


async def record_statistics(
    session: AsyncSession,
    *,
    session_id: int,
    peak_viewers: int,
    watch_seconds: int,
    messages: int,
    likes: int,
) -> None:
    """Set a session's statistics outright (imports and the demo's history)."""
    live = await _session(session, session_id)
    live.peak_viewers = peak_viewers
    live.watch_seconds = watch_seconds
    live.messages = messages
    live.likes = likes
    await session.flush()


# ---------------------------------------------------------------- chat and moderation


def _chat_out(message: ChatMessage, name: str) -> ChatMessageOut:
    return ChatMessageOut(
        id=message.id,
        user=ChatUser(id=message.user_id, name=name),
        text=message.text,
        at=message.created_at,
    )


def chat_frame(message: ChatMessageOut) -> Frame:
    """The `chat` frame of a shown message."""
    return {"type": "chat", **message.model_dump(mode="json")}


async def recent_messages(
    session: AsyncSession, *, session_id: int, limit: int = 50
) -> list[ChatMessageOut]:
    """The latest shown messages of a session, oldest first (anyone)."""
    await _session(session, session_id)
    rows = list(
        await session.scalars(
            select(ChatMessage)
            .where(
                ChatMessage.session_id == session_id,
                ChatMessage.status == ChatStatus.shown.value,
            )
            .order_by(ChatMessage.created_at.desc(), ChatMessage.id.desc())
            .limit(limit)
        )
    )
    names = await accounts.display_names(session, {m.user_id for m in rows if m.user_id})
    return [_chat_out(m, names.get(m.user_id or 0, "")) for m in reversed(rows)]


def _active(now: datetime) -> Any:
    return and_(
        RoomSanction.lifted_at.is_(None),
        or_(RoomSanction.until.is_(None), RoomSanction.until > now),
    )


async def active_sanctions(
    session: AsyncSession, *, room_id: int, user_id: int, now: datetime
) -> dict[str, datetime | None]:
    """The user's current mute/ban in the room: kind -> until (None: indefinitely)."""
    rows = await session.execute(
        select(RoomSanction.kind, RoomSanction.until).where(
            RoomSanction.room_id == room_id, RoomSanction.user_id == user_id, _active(now)
        )
    )
    found: dict[str, datetime | None] = {}
    for kind, until in rows:
        if kind not in found:
            found[kind] = until
        else:
            current = found[kind]
            found[kind] = None if current is None or until is None else max(current, until)
    return found


@dataclass(frozen=True)
class SocketContext:
    """What the gateway needs to open a viewer's socket."""

    origin: SessionOrigin
    is_staff: bool
    banned: bool
    muted: bool
    slow_mode_seconds: int
    pinned: ProductCard | None
    likes: int


async def socket_context(
    session: AsyncSession, *, session_id: int, actor: Identity | None, now: datetime
) -> SocketContext:
    """Load the session, the caller's standing in its room and the state a new socket shows."""
    live = await _session(session, session_id)
    room = await _room(session, live.room_id)
    sanctions: dict[str, datetime | None] = {}
    staff = _is_staff(actor, live)
    if actor is not None and not staff:
        sanctions = await active_sanctions(session, room_id=room.id, user_id=actor.id, now=now)
    pinned = None
    if live.pinned_product_id is not None:
        pinned = (await catalog.product_cards(session, [live.pinned_product_id])).get(
            live.pinned_product_id
        )
    return SocketContext(
        origin=SessionOrigin(
            session_id=live.id,
            room_id=live.room_id,
            anchor_id=live.anchor_id,
            status=SessionStatus(live.status),
        ),
        is_staff=staff,
        banned="ban" in sanctions,
        muted="mute" in sanctions,
        slow_mode_seconds=room.slow_mode_seconds,
        pinned=pinned,
        likes=live.likes,
    )


@dataclass(frozen=True)
class ChatOutcome:
    """A stored message and, when it was not shown, the error to tell its author; a host's
    shown message may carry the warn-only compliance hits to tell its author."""

    message_id: int | None
    shown: ChatMessageOut | None
    error: DomainError | None
    warnings: tuple[FieldHit, ...] = ()


def _banned_word(text: str, banned_words: Sequence[str]) -> str | None:
    folded = text.casefold()
    return next((w for w in banned_words if w and w.casefold() in folded), None)


@dataclass(frozen=True)
class ChatPost:
    """One chat message to store: who wrote what, in which session."""

    actor: Identity
    session_id: int
    text: str


async def _sanctions_of(
    session: AsyncSession, *, room_id: int, user_ids: Iterable[int], now: datetime
) -> dict[int, dict[str, datetime | None]]:
    """Current mutes and bans of several users in one room: user -> kind -> until."""
    rows = await session.execute(
        select(RoomSanction.user_id, RoomSanction.kind, RoomSanction.until).where(
            RoomSanction.room_id == room_id,
            RoomSanction.user_id.in_(set(user_ids)),
            _active(now),
        )
    )
    found: dict[int, dict[str, datetime | None]] = {}
    for user_id, kind, until in rows:
        mine = found.setdefault(user_id, {})
        if kind not in mine:
            mine[kind] = until
        else:
            current = mine[kind]
            mine[kind] = None if current is None or until is None else max(current, until)
    return found


async def post_chat(
    uow: UnitOfWork,
    *,
    clock: Clock,
    actor: Identity,
    session_id: int,
    text: str,
    banned_words: Sequence[str],
    lexicon: supervision.Lexicon,
    sale_units: SaleUnits | None = None,
) -> ChatOutcome:
    """Store one chat message (shown or blocked with a reason); publish it after commit if shown.

    The caller has already checked the size and the per-user rate; see `post_chats`.
    """
    post = ChatPost(actor=actor, session_id=session_id, text=text)
    (outcome,) = await post_chats(
        uow,
        clock=clock,
        posts=[post],
        banned_words=banned_words,
        lexicon=lexicon,
        sale_units=sale_units,
    )
    if isinstance(outcome.error, SessionNotFound):
        raise outcome.error
    return outcome


async def post_chats(
    uow: UnitOfWork,
    *,
    clock: Clock,
    posts: Sequence[ChatPost],
    banned_words: Sequence[str],
    lexicon: supervision.Lexicon,
    sale_units: SaleUnits | None = None,
) -> list[ChatOutcome]:
    """Store chat messages in one transaction, in order; shown ones are published after commit.

    Each message gets the room's rules as if it had been posted alone (sanctions, slow mode
    counting the earlier messages of the same batch, banned words), read from the database so
    that moderation from any worker holds at once. The session's anchor and co-hosts advertise:
    their messages are scanned by the compliance lexicon (kind `chat`), and one that breaks a
    blocking rule is refused (`compliance_blocked`) and neither stored nor shown. Viewers'
    messages are not scanned. A batch costs a handful of statements
    whatever its size: this is the chat's group commit (`realtime.chat_writer`).
    """
    session = uow.session
    now = clock.now()
    lives: dict[int, LiveSession | DomainError] = {}
    for session_id in dict.fromkeys(p.session_id for p in posts):
        try:
            lives[session_id] = await _session(session, session_id)
        except DomainError as missing:
            lives[session_id] = missing
    rooms: dict[int, Room] = {}
    sanctions: dict[int, dict[int, dict[str, datetime | None]]] = {}
    for found in lives.values():
        if isinstance(found, LiveSession) and found.room_id not in rooms:
            rooms[found.room_id] = await _room(session, found.room_id)
            writers = {p.actor.id for p in posts if p.session_id == found.id}
            sanctions[found.room_id] = await _sanctions_of(
                session, room_id=found.room_id, user_ids=writers, now=now
            )
    # Supervision sanctions in force over the writers and rooms (one query per batch).
    standing = await supervision.standing(
        session, now=now, anchor_ids={p.actor.id for p in posts}, room_ids=set(rooms)
    )
    last_shown: dict[tuple[int, int], datetime | None] = {}
    outcomes: list[ChatOutcome] = []
    stored: list[tuple[int, ChatPost, ChatMessage]] = []
    warned: dict[int, list[FieldHit]] = {}  # outcome index -> warn-only hits of a host
    for post in posts:
        live = lives[post.session_id]
        if isinstance(live, DomainError):
            outcomes.append(ChatOutcome(None, None, live))
            continue
        if live.status != SessionStatus.live.value:
            closed = SessionNotLive("chat is open while the session is live")
            outcomes.append(ChatOutcome(None, None, closed))
            continue
        room = rooms[live.room_id]
        suspended = standing.refusal(anchor_id=post.actor.id, room_id=live.room_id)
        if suspended is not None:
            outcomes.append(ChatOutcome(None, None, suspended))
            continue
        if _is_host(post.actor, live):
            refused, warnings = supervision.chat_check(post.text, lexicon=lexicon)
            if refused is not None:
                # Kept for the risk signals; the batch commits whatever each message's outcome.
                await supervision.record_chat_refusal(
                    session, now=now, refused=refused, anchor_id=post.actor.id, session_id=live.id
                )
                outcomes.append(ChatOutcome(None, None, refused))
                continue
            # Claims about the goods on show: the pinned product, else the showcase.
            on_show = [live.pinned_product_id] if live.pinned_product_id else []
            checks = await claim_checks(
                session,
                text=post.text,
                product_ids=on_show or [item.product_id for item in live.showcase],
                session_id=live.id,
                sale_units=sale_units,
                field="chat",
                kind="chat",
            )
            fake = next((e for e in (check(post.text) for check in checks) if e), None)
            if fake is not None:
                await supervision.record_chat_refusal(
                    session, now=now, refused=fake, anchor_id=post.actor.id, session_id=live.id
                )
                outcomes.append(ChatOutcome(None, None, fake))
                continue
            if warnings:
                warned[len(outcomes)] = warnings
        error: DomainError | None = None
        if not _is_staff(post.actor, live):
            mine = sanctions[live.room_id].get(post.actor.id, {})
            if "ban" in mine:
                error = Banned("you are banned from this room")
            elif "mute" in mine:
                until = mine["mute"]
                error = Muted(
                    "you are muted in this room",
                    details={"until": until.isoformat() if until else None},
                )
            elif room.slow_mode_seconds > 0:
                key = (live.id, post.actor.id)
                if key not in last_shown:
                    last_shown[key] = await session.scalar(
                        select(func.max(ChatMessage.created_at)).where(
                            ChatMessage.session_id == live.id,
                            ChatMessage.user_id == post.actor.id,
                            ChatMessage.status == ChatStatus.shown.value,
                        )
                    )
                last = last_shown[key]
                if last is not None:
                    wait = room.slow_mode_seconds - (now - last).total_seconds()
                    if wait > 0:
                        error = SlowMode(
                            f"slow mode: one message every {room.slow_mode_seconds} s",
                            retry_after=round(wait, 1),
                        )
        if error is None and _banned_word(post.text, banned_words) is not None:
            error = BannedWord("the message contains a word that is not allowed here")
        if error is None and room.slow_mode_seconds > 0:
            last_shown[(live.id, post.actor.id)] = now
        message = ChatMessage(
            session_id=live.id,
            user_id=post.actor.id,
            text=post.text,
            status=ChatStatus.shown.value if error is None else ChatStatus.blocked.value,
            reason=None if error is None else error.code,
            created_at=now,
        )
        session.add(message)
        stored.append((len(outcomes), post, message))
        outcomes.append(ChatOutcome(None, None, error))
    if not stored:
        return outcomes
    await session.flush()
    shown_per_session: dict[int, int] = {}
    for index, post, message in stored:
        error = outcomes[index].error
        if error is not None:
            outcomes[index] = ChatOutcome(message.id, None, error)
            continue
        shown = _chat_out(message, post.actor.display_name)
        warnings = warned.get(index, [])
        if warnings:  # shown with a warning: it counts in the host's risk score
            await supervision.record_anchor_warnings(
                session,
                clock=clock,
                hits=warnings,
                anchor_id=post.actor.id,
                session_id=post.session_id,
            )
        outcomes[index] = ChatOutcome(message.id, shown, None, tuple(warnings))
        shown_per_session[post.session_id] = shown_per_session.get(post.session_id, 0) + 1
        publish_after_commit(uow, post.session_id, chat_frame(shown))
    for session_id, count in shown_per_session.items():
        await session.execute(
            update(LiveSession)
            .where(LiveSession.id == session_id)
            .values(messages=LiveSession.messages + count)
            .execution_options(synchronize_session=False)
        )
    return outcomes


async def delete_message(
    uow: UnitOfWork, *, actor: Identity, session_id: int, message_id: int
) -> None:
    """Hide a chat message (room staff); pushes chat_deleted."""
    live = await _session(uow.session, session_id)
    _require_staff(actor, live)
    message = await uow.session.get(ChatMessage, message_id)
    if message is None or message.session_id != session_id:
        raise MessageNotFound("message not found", details={"message_id": message_id})
    if message.status != ChatStatus.deleted.value:
        message.status = ChatStatus.deleted.value
        message.reason = f"deleted_by:{actor.id}"
        await uow.session.flush()
        publish_after_commit(uow, session_id, {"type": "chat_deleted", "id": message_id})


async def moderate(
    uow: UnitOfWork,
    *,
    clock: Clock,
    actor: Identity,
    session_id: int,
    action: ModerationAction,
    user_id: int | None = None,
    minutes: int | None = None,
    seconds: int | None = None,
    reason: str = "",
) -> ModerationOut:
    """Mute, unmute, ban, unban or set slow mode (room staff); pushes a moderation frame.

    Sockets already open obey at once: chat checks sanctions per message and the hub
    closes a banned user's sockets when the frame arrives.
    """
    session = uow.session
    live = await _session(session, session_id)
    _require_staff(actor, live)
    room = await _room(session, live.room_id)
    now = clock.now()
    until: datetime | None = None
    frame: Frame = {"type": "moderation", "action": action.value}
    if action == ModerationAction.slow_mode:
        room.slow_mode_seconds = int(seconds or 0)
        frame["seconds"] = room.slow_mode_seconds
    else:
        if user_id is None:
            raise BadModeration(f"{action.value} needs a user_id", details={"field": "user_id"})
        target = await accounts.load_identity(session, user_id)
        if target is None:
            raise NotFound("user not found", code="user_not_found")
        if _is_staff(target, live):
            raise CannotSanctionStaff("room staff cannot be muted or banned")
        frame["user_id"] = user_id
        if action in (ModerationAction.mute, ModerationAction.ban):
            until = now + timedelta(minutes=minutes) if minutes else None
            session.add(
                RoomSanction(
                    room_id=room.id,
                    user_id=user_id,
                    kind=action.value,
                    until=until,
                    reason=reason,
                    created_by=actor.id,
                    created_at=now,
                )
            )
            if until is not None:
                frame["seconds"] = int((until - now).total_seconds())
        else:
            kind = "mute" if action == ModerationAction.unmute else "ban"
            await session.execute(
                update(RoomSanction)
                .where(
                    RoomSanction.room_id == room.id,
                    RoomSanction.user_id == user_id,
                    RoomSanction.kind == kind,
                    _active(now),
                )
                .values(lifted_at=now)
                .execution_options(synchronize_session=False)
            )
    await session.flush()
    publish_after_commit(uow, session_id, frame)
    return ModerationOut(
        session_id=session_id,
        room_id=room.id,
        action=action,
        user_id=user_id,
        until=until,
        slow_mode_seconds=room.slow_mode_seconds,
    )


# ---------------------------------------------------------------- reservations


async def _reservation_count(session: AsyncSession, session_id: int) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Reservation).where(Reservation.session_id == session_id)
    )
    return int(count or 0)


async def reserve(
    session: AsyncSession, *, clock: Clock, actor: Identity, session_id: int
) -> ReservationOut:
    """Ask to be reminded of an upcoming session (signed-in user); idempotent."""
    live = await _session(session, session_id)
    if live.status != SessionStatus.scheduled.value:
        raise SessionNotScheduled("only upcoming sessions can be reserved")
    exists = await session.scalar(
        select(Reservation.id).where(
            Reservation.session_id == session_id, Reservation.user_id == actor.id
        )
    )
    if exists is None:
        try:
            async with session.begin_nested():
                session.add(
                    Reservation(session_id=session_id, user_id=actor.id, created_at=clock.now())
                )
                await session.flush()
        except IntegrityError:
            pass  # a concurrent request of the same user reserved it: the outcome is the same
    return ReservationOut(
        session_id=session_id,
        reserved=True,
        reservations=await _reservation_count(session, session_id),
    )


async def cancel_reservation(
    session: AsyncSession, *, actor: Identity, session_id: int
) -> ReservationOut:
    """Drop the caller's reminder; idempotent."""
    await _session(session, session_id)
    await session.execute(
        delete(Reservation).where(
            Reservation.session_id == session_id, Reservation.user_id == actor.id
        )
    )
    return ReservationOut(
        session_id=session_id,
        reserved=False,
        reservations=await _reservation_count(session, session_id),
    )


async def reserved_among(
    session: AsyncSession, *, user_id: int, session_ids: Iterable[int]
) -> set[int]:
    """Which of the given sessions the user has reserved (one query)."""
    ids = list(session_ids)
    if not ids:
        return set()
    rows = await session.scalars(
        select(Reservation.session_id).where(
            Reservation.user_id == user_id, Reservation.session_id.in_(ids)
        )
    )
    return set(rows)


async def reserved_user_ids(session: AsyncSession, *, session_id: int) -> list[int]:
    """Users who reserved a session (marketing sends them the reminder)."""
    rows = await session.scalars(
        select(Reservation.user_id).where(Reservation.session_id == session_id)
    )
    return list(rows)


async def personal_data(session: AsyncSession, user_id: int) -> PersonalRows:
    """A user's chat messages, sanctions against them and reservations (a privacy export)."""
    return await accounts.collect_rows(
        session,
        {
            "chat_messages": select(ChatMessage.__table__).where(ChatMessage.user_id == user_id),
            "room_sanctions": select(RoomSanction.__table__).where(RoomSanction.user_id == user_id),
            "session_reservations": select(Reservation.__table__).where(
                Reservation.user_id == user_id
            ),
        },
    )


async def erase_personal_data(session: AsyncSession, user_id: int) -> None:
    """For a deleted account: chat texts emptied (and hidden), sanction reasons emptied,
    reservations dropped. Idempotent."""
    await session.execute(
        update(ChatMessage)
        .where(ChatMessage.user_id == user_id)
        .values(text="", status=ChatStatus.deleted.value)
    )
    await session.execute(
        update(RoomSanction).where(RoomSanction.user_id == user_id).values(reason="")
    )
    await session.execute(delete(Reservation).where(Reservation.user_id == user_id))


# ---------------------------------------------------------------- anchor scripts (live/scripts.py)

from livecart.live.scripts import get_script as get_script  # noqa: E402
from livecart.live.scripts import save_script as save_script  # noqa: E402
