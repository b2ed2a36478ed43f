"""Chat written in batches (group commit): one transaction per batch, rules per message, in order."""

from __future__ import annotations

import asyncio
import dataclasses

from sqlalchemy import select

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Identity, Role
from livecart.bootstrap import Container
from livecart.core.clock import FrozenClock
from livecart.live import service as live
from livecart.live.models import ChatMessage, LiveSession
from livecart.live.schemas import ModerationAction
from livecart.realtime.broker import session_channel
from livecart.realtime.chat_writer import ChatWriter
from tests.support import make_user, qualify_anchor


async def _identity(container: Container, user_id: int) -> Identity:
    async with container.uow() as uow:
        found = await accounts.load_identity(uow.session, user_id)
    assert found is not None
    return found


async def _live_session(container: Container, anchor: Identity) -> int:
    await qualify_anchor(container, anchor.id)
    async with container.uow() as uow:
        room = await live.create_room(uow.session, clock=container.clock, actor=anchor, title="R")
        created = await live.create_session(
            uow.session, clock=container.clock, actor=anchor, room_id=room.id, title="S"
        )
        await live.start_session(uow, clock=container.clock, actor=anchor, session_id=created.id)
        await uow.commit()
    return created.id


async def test_one_batch_applies_the_rules_per_message_in_order_then_publishes(
    any_backend: str, container: Container, clock: FrozenClock
) -> None:
    anchor = await _identity(container, await make_user(container, Role.anchor, name="Mia"))
    alice = await _identity(container, await make_user(container, name="alice"))
    bob = await _identity(container, await make_user(container, name="bob"))
    session_id = await _live_session(container, anchor)
    async with container.uow() as uow:
        await live.moderate(
            uow,
            clock=clock,
            actor=anchor,
            session_id=session_id,
            action=ModerationAction.slow_mode,
            seconds=30,
        )
        await live.moderate(
            uow,
            clock=clock,
            actor=anchor,
            session_id=session_id,
            action=ModerationAction.mute,
            user_id=bob.id,
        )
        await uow.commit()
    subscription = await container.broker.subscribe(session_channel(session_id))
    writer = ChatWriter(
        unit_of_work=container.uow,
        clock=clock,
        banned_words=["scamlink"],
        lexicon=container.lexicon,
    )
    try:
        posts = [
            (alice, "first"),
            (alice, "second, too soon for slow mode"),
            (bob, "muted"),
            (anchor, "staff are exempt"),
            (anchor, "even twice, but not from SCAMLINK"),
            (anchor, "last"),
        ]
        # Submitted without yielding: the writer takes all six as one batch.
        futures = [
            writer.submit(actor=actor, session_id=session_id, text=text) for actor, text in posts
        ]
        outcomes = await asyncio.gather(*futures)
    finally:
        await writer.aclose()
    assert writer.batches == 1 and writer.written == 6
    codes = [o.error.code if o.error else None for o in outcomes]
    assert codes == [None, "slow_mode", "muted", None, "banned_word", None]
    assert all(o.message_id is not None for o in outcomes)
    published = []
    async with asyncio.timeout(10):
        async for frame in subscription:
            published.append(frame["text"])
            if len(published) == 3:
                break
    await subscription.close()
    assert published == ["first", "staff are exempt", "last"]
    async with container.uow() as uow:
        stored = (
            await uow.session.scalars(
                select(ChatMessage)
                .where(ChatMessage.session_id == session_id)
                .order_by(ChatMessage.id)
            )
        ).all()
        counted = await uow.session.get(LiveSession, session_id)
    assert [(m.text, m.status, m.reason) for m in stored] == [
        ("first", "shown", None),
        ("second, too soon for slow mode", "blocked", "slow_mode"),
        ("muted", "blocked", "muted"),
        ("staff are exempt", "shown", None),
        ("even twice, but not from SCAMLINK", "blocked", "banned_word"),
        ("last", "shown", None),
    ]
    assert counted is not None and counted.messages == 3


async def test_a_batch_that_cannot_be_stored_fails_every_message_and_publishes_none(
    any_backend: str, container: Container, clock: FrozenClock
) -> None:
    anchor = await _identity(container, await make_user(container, Role.anchor, name="Mia"))
    session_id = await _live_session(container, anchor)
    subscription = await container.broker.subscribe(session_channel(session_id))
    writer = ChatWriter(
        unit_of_work=container.uow, clock=clock, banned_words=[], lexicon=container.lexicon
    )
    try:
        good = writer.submit(actor=anchor, session_id=session_id, text="fine")
        # An author who does not exist breaks the foreign key: the whole batch is rolled back.
        ghost = dataclasses.replace(anchor, id=987_654)
        bad = writer.submit(actor=ghost, session_id=session_id, text="from nobody")
        results = await asyncio.gather(good, bad, return_exceptions=True)
        assert [getattr(r, "code", None) for r in results] == ["chat_unavailable"] * 2
        after = await writer.submit(actor=anchor, session_id=session_id, text="again")
        assert after.error is None and after.shown is not None
    finally:
        await writer.aclose()
    async with asyncio.timeout(10):
        async for frame in subscription:
            assert frame["text"] == "again"  # nothing of the failed batch was published
            break
    await subscription.close()
