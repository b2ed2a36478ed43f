"""The session WebSocket over real sockets: chat rules, moderation, frames, batches, slow clients.

Sockets ask for batches (`batch=1`, as the browser does) unless a test says otherwise: every
message is then a JSON array of frames, which `recv_frame` hands out one frame at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import weakref
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Role
from livecart.bootstrap import Container, build_container
from livecart.catalog import service as catalog
from livecart.catalog.schemas import SkuIn
from livecart.core.clock import FrozenClock
from livecart.events.service import open_log
from livecart.events.sink import log_files
from livecart.live import service as live
from livecart.live.models import ChatMessage
from livecart.realtime.broker import InMemoryBroker, session_channel
from livecart.realtime.schemas import staff_frame
from livecart.settings import Settings
from tests.conftest import LiveServer
from tests.support import approve_for_live, make_user, qualify_anchor, token_for

API = "/api/v1"
Frame = dict[str, Any]


@dataclass
class World:
    server: LiveServer
    container: Container  # a second container on the test's loop, same database
    http: httpx.AsyncClient
    anchor_id: int
    alice_id: int
    bob_id: int
    carol_id: int
    room_id: int
    session_id: int
    product_id: int

    async def token(self, user_id: int) -> str:
        return await token_for(self.http, self.container, user_id)

    async def headers(self, user_id: int) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(user_id)}"}

    def ws_url(
        self, token: str | None = None, session_id: int | None = None, *, batch: bool = True
    ) -> str:
        url = f"ws://127.0.0.1:{self.server.port}/ws/sessions/{session_id or self.session_id}"
        query = [*(["batch=1"] if batch else []), *([f"token={token}"] if token else [])]
        return f"{url}?{'&'.join(query)}" if query else url

    async def socket(
        self, user_id: int | None, *, batch: bool = True, **options: Any
    ) -> ClientConnection:
        """A connected socket whose hello has been read."""
        token = await self.token(user_id) if user_id else None
        url = self.ws_url(token, batch=batch)
        ws = await connect(url, origin=self.server.url, **options)  # type: ignore[arg-type]
        hello = await next_frame(ws, "hello")
        assert hello["session_id"] == self.session_id
        return ws


_unread: weakref.WeakKeyDictionary[ClientConnection, deque[Frame]] = weakref.WeakKeyDictionary()


def frames_of(message: str | bytes) -> list[Frame]:
    """The frames of one server message: a batch (JSON array) or a single frame."""
    decoded = json.loads(message)
    return decoded if isinstance(decoded, list) else [decoded]


async def recv_frame(ws: ClientConnection) -> Frame:
    """The socket's next frame, whether it came alone or in a batch."""
    unread = _unread.setdefault(ws, deque())
    while not unread:
        unread.extend(frames_of(await ws.recv()))
    return unread.popleft()


async def next_frame(ws: ClientConnection, kind: str, timeout: float = 10) -> Frame:
    """The next frame of the given type, skipping others."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await recv_frame(ws)
            if frame["type"] == kind:
                return frame


async def frames_until(ws: ClientConnection, stop: str, timeout: float = 10) -> list[Frame]:
    """Every frame up to and including a chat frame whose text is `stop`."""
    seen: list[Frame] = []
    async with asyncio.timeout(timeout):
        while True:
            frame = await recv_frame(ws)
            seen.append(frame)
            if frame["type"] == "chat" and frame["text"] == stop:
                return seen


def chats(frames: list[Frame]) -> list[str]:
    return [f["text"] for f in frames if f["type"] == "chat"]


async def build_world(server: LiveServer, *, start: bool = True) -> World:
    container = build_container(server.settings)
    anchor_id = await make_user(container, Role.anchor, name="Mia")
    alice_id = await make_user(container, name="alice")
    bob_id = await make_user(container, name="Bob")
    carol_id = await make_user(container, name="Carol")
    async with container.uow() as uow:
        brand = await catalog.create_brand(
            uow.session, clock=container.clock, actor=None, name="Lumen", description=""
        )
        product = await catalog.create_product(
            uow.session,
            clock=container.clock,
            lexicon=container.lexicon,
            actor=None,
            brand_id=brand.id,
            title="Jasmine tea",
            category="tea",
            skus=[SkuIn(code="JT-1", price=8900, currency="CNY", stock=9)],
        )
        await uow.commit()
    await qualify_anchor(container, anchor_id)
    await approve_for_live(container, product.id)
    async with container.uow() as uow:
        anchor = await accounts.load_identity(uow.session, anchor_id)
        assert anchor is not None
        room = await live.create_room(uow.session, clock=container.clock, actor=anchor, title="T")
        created = await live.create_session(
            uow.session, clock=container.clock, actor=anchor, room_id=room.id, title="Teas"
        )
        await live.add_to_showcase(
            uow.session,
            clock=container.clock,
            actor=anchor,
            session_id=created.id,
            product_id=product.id,
        )
        if start:
            await live.start_session(
                uow, clock=container.clock, actor=anchor, session_id=created.id
            )
        await uow.commit()
    return World(
        server=server,
        container=container,
        http=httpx.AsyncClient(base_url=server.url, timeout=10),
        anchor_id=anchor_id,
        alice_id=alice_id,
        bob_id=bob_id,
        carol_id=carol_id,
        room_id=room.id,
        session_id=created.id,
        product_id=product.id,
    )


@contextlib.asynccontextmanager
async def world_on(server: LiveServer, *, start: bool = True) -> AsyncIterator[World]:
    world = await build_world(server, start=start)
    try:
        yield world
    finally:
        await world.http.aclose()
        await world.container.engine.dispose()


@contextlib.contextmanager
def custom_server(settings: Settings, **overrides: Any) -> Iterator[LiveServer]:
    """A live server with changed settings (and a frozen clock when `clock` is given)."""
    clock = overrides.pop("clock", None)
    server = LiveServer(settings.model_copy(update=overrides), clock=clock)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def world(live_server: LiveServer) -> AsyncIterator[World]:
    async with world_on(live_server) as built:
        yield built


async def test_two_viewers_chat_and_the_rules_of_chat(any_backend: str, world: World) -> None:
    alice = await world.socket(world.alice_id)
    bob = await world.socket(world.bob_id)
    anonymous = await world.socket(None)

    await alice.send(json.dumps({"type": "chat", "text": "  hello everyone  "}))
    got = await next_frame(bob, "chat")
    assert got["text"] == "hello everyone"
    assert got["user"] == {"id": world.alice_id, "name": "alice"}
    assert (await next_frame(anonymous, "chat"))["text"] == "hello everyone"

    await alice.send(json.dumps({"type": "chat", "text": "x" * 301}))
    assert (await next_frame(alice, "error"))["error"]["code"] == "message_too_long"
    # Too long was refused before the bucket: these two are alice's 2nd and 3rd tokens.
    await alice.send(json.dumps({"type": "chat", "text": "buy at SCAMLINK now"}))
    assert (await next_frame(alice, "error"))["error"]["code"] == "banned_word"
    await alice.send(json.dumps({"type": "chat", "text": "x" * 300}))
    seen = await frames_until(bob, "x" * 300)
    assert not any("SCAMLINK" in json.dumps(f) for f in seen)

    await anonymous.send(json.dumps({"type": "chat", "text": "hi"}))
    assert (await next_frame(anonymous, "error"))["error"]["code"] == "not_authenticated"
    await anonymous.send(json.dumps({"type": "ping"}))
    await next_frame(anonymous, "pong")
    await bob.send(json.dumps({"type": "shout", "text": "hi"}))
    assert (await next_frame(bob, "error"))["error"]["code"] == "invalid_frame"
    await bob.send("x" * 10_000)
    assert (await next_frame(bob, "error"))["error"]["code"] == "frame_too_large"

    async with world.container.uow() as uow:
        stored = (
            await uow.session.scalars(
                select(ChatMessage)
                .where(ChatMessage.session_id == world.session_id)
                .order_by(ChatMessage.id)
            )
        ).all()
    assert [(m.status, m.reason) for m in stored] == [
        ("shown", None),
        ("blocked", "banned_word"),
        ("shown", None),
    ]
    r = await world.http.get(f"{API}/sessions/{world.session_id}/messages")
    assert [m["text"] for m in r.json()] == ["hello everyone", "x" * 300]
    for ws in (alice, bob, anonymous):
        await ws.close()


async def test_twenty_messages_at_once_only_the_bucket_passes(settings: Settings) -> None:
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    with custom_server(settings, clock=clock) as server:
        async with world_on(server) as world:
            alice = await world.socket(world.alice_id)
            bob = await world.socket(world.bob_id)
            carol = await world.socket(world.carol_id)
            for n in range(20):
                await alice.send(json.dumps({"type": "chat", "text": f"m{n}"}))
            errors = [await next_frame(alice, "error") for _ in range(17)]
            assert {e["error"]["code"] for e in errors} == {"rate_limited"}
            assert all(e["error"]["details"]["retry_after"] > 0 for e in errors)
            await carol.send(json.dumps({"type": "chat", "text": "marker"}))
            seen = await frames_until(bob, "marker")
            assert chats(seen) == ["m0", "m1", "m2", "marker"]
            for ws in (alice, bob, carol):
                await ws.close()


async def test_mute_and_ban_through_rest_hold_on_open_sockets(
    any_backend: str, world: World
) -> None:
    alice = await world.socket(world.alice_id)
    bob = await world.socket(world.bob_id)
    carol = await world.socket(world.carol_id)
    anchor = await world.headers(world.anchor_id)
    url = f"{API}/sessions/{world.session_id}/moderation"

    r = await world.http.post(
        url, json={"action": "mute", "user_id": world.alice_id}, headers=anchor
    )
    assert r.status_code == 200, r.text
    assert (await next_frame(alice, "moderation"))["action"] == "mute"
    await alice.send(json.dumps({"type": "chat", "text": "am I heard?"}))
    assert (await next_frame(alice, "error"))["error"]["code"] == "muted"
    await carol.send(json.dumps({"type": "chat", "text": "marker one"}))
    seen = await frames_until(bob, "marker one")
    assert chats(seen) == ["marker one"]
    assert not any(f["type"] == "moderation" for f in seen)  # bystanders are not told

    r = await world.http.post(
        url, json={"action": "ban", "user_id": world.alice_id}, headers=anchor
    )
    assert r.status_code == 200
    assert (await next_frame(alice, "error"))["error"]["code"] == "banned"
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(10):
            while True:
                await recv_frame(alice)
    assert alice.close_code == 4403
    token = await world.token(world.alice_id)
    again = await connect(world.ws_url(token), origin=world.server.url)
    assert (await recv_frame(again))["error"]["code"] == "banned"
    with pytest.raises(ConnectionClosed):
        await recv_frame(again)
    assert again.close_code == 4403

    await carol.send(json.dumps({"type": "chat", "text": "marker two"}))
    assert chats(await frames_until(bob, "marker two")) == ["marker two"]
    for ws in (bob, carol):
        await ws.close()


async def test_staff_frames_reach_the_anchor_and_not_the_viewers(world: World) -> None:
    anchor = await world.socket(world.anchor_id)
    bob = await world.socket(world.bob_id)
    broker = world.server.container.broker
    await broker.publish(
        session_channel(world.session_id), staff_frame("alert", kind="overturn", level=2)
    )
    await bob.send(json.dumps({"type": "chat", "text": "after the alert"}))
    alert = await next_frame(anchor, "alert")
    assert (alert["kind"], alert["audience"]) == ("overturn", "staff")
    seen = await frames_until(bob, "after the alert")
    assert not any(f["type"] == "alert" for f in seen)
    await anchor.close()
    await bob.close()


async def test_origin_is_checked_and_bad_tokens_refused(world: World) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(world.ws_url(), origin="http://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    no_origin = await connect(world.ws_url())
    assert (await recv_frame(no_origin))["type"] == "hello"
    await no_origin.close()
    bad = await connect(world.ws_url("not-a-token"), origin=world.server.url)  # type: ignore[arg-type]
    refusal = json.loads(await bad.recv())
    assert isinstance(refusal, list) and len(refusal) == 1
    assert refusal[0]["error"]["code"] == "invalid_token"
    with pytest.raises(ConnectionClosed):
        await bad.recv()
    assert bad.close_code == 4401
    # Without batch=1 a refusal is one frame object, as before batches existed.
    url = world.ws_url(session_id=99999, batch=False)
    missing = await connect(url, origin=world.server.url)  # type: ignore[arg-type]
    assert json.loads(await missing.recv())["error"]["code"] == "session_not_found"


async def test_status_and_pin_frames_follow_rest(live_server: LiveServer) -> None:
    async with world_on(live_server, start=False) as world:
        viewer = await connect(world.ws_url(), origin=world.server.url)  # type: ignore[arg-type]
        hello = await next_frame(viewer, "hello")
        assert hello["status"] == "scheduled" and hello["you"] is None and hello["pinned"] is None
        anchor = await world.headers(world.anchor_id)
        base = f"{API}/sessions/{world.session_id}"
        assert (await world.http.post(f"{base}/start", headers=anchor)).status_code == 200
        assert (await next_frame(viewer, "status"))["status"] == "live"
        r = await world.http.post(
            f"{base}/pin", json={"product_id": world.product_id}, headers=anchor
        )
        assert r.status_code == 200
        pin = await next_frame(viewer, "pin")
        assert pin["product"]["id"] == world.product_id
        assert (
            pin["product"]["title"] == "Jasmine tea" and pin["product"]["skus"][0]["price"] == 8900
        )
        late = await world.socket(world.bob_id)
        assert (await world.http.delete(f"{base}/pin", headers=anchor)).status_code == 204
        await next_frame(viewer, "unpin")
        await next_frame(late, "unpin")
        assert (await world.http.post(f"{base}/end", headers=anchor)).status_code == 200
        assert (await next_frame(viewer, "status"))["status"] == "ended"
        await late.send(json.dumps({"type": "chat", "text": "still here?"}))
        assert (await next_frame(late, "error"))["error"]["code"] == "session_not_live"
        await viewer.close()
        await late.close()


async def test_statistics_count_messages_likes_and_peak_viewers(world: World) -> None:
    alice = await world.socket(world.alice_id)
    bob = await world.socket(world.bob_id)
    assert (await next_frame(bob, "viewers"))["count"] == 2
    for _ in range(5):
        await alice.send(json.dumps({"type": "like"}))
    total = 0
    async with asyncio.timeout(10):
        while total < 5:
            total = (await next_frame(bob, "like"))["total"]
    assert total == 5
    await alice.send(json.dumps({"type": "chat", "text": "love it"}))
    await next_frame(bob, "chat")
    await alice.close()
    assert (await next_frame(bob, "viewers"))["count"] == 1
    stats = (await world.http.get(f"{API}/sessions/{world.session_id}")).json()["statistics"]
    assert stats["messages"] == 1 and stats["likes"] == 5
    assert stats["peak_viewers"] == 2 and stats["viewers"] == 1
    await bob.close()


async def test_a_slow_client_is_dropped_and_the_others_get_everything(settings: Settings) -> None:
    with custom_server(
        settings,
        socket_queue_size=2,
        chat_bucket_capacity=100_000,
        chat_max_length=25_000,
        ws_max_frame_bytes=65_536,
    ) as server:
        async with world_on(server) as world:
            # Never reads: a tiny receive buffer, a one-frame client queue and no compression
            # (repetitive text would deflate to nothing), so the server's buffers fill soon.
            raw = socket.socket()
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            raw.connect(("127.0.0.1", server.port))
            raw.setblocking(False)
            slow = await connect(
                world.ws_url(), origin=server.url, sock=raw, max_queue=1, compression=None
            )  # type: ignore[arg-type]
            bob = await world.socket(world.bob_id, batch=False)  # one frame per message
            alice = await world.socket(world.alice_id)
            received: list[str] = []

            async def read_all(ws: ClientConnection, into: list[str] | None) -> None:
                with contextlib.suppress(ConnectionClosed):
                    async for message in ws:
                        for frame in frames_of(message):
                            if into is not None and frame["type"] == "chat":
                                into.append(frame["text"])

            readers = [
                asyncio.create_task(read_all(bob, received)),
                asyncio.create_task(read_all(alice, None)),
            ]
            hub = server.container.hub
            sent: list[str] = []
            # Big messages fill the slow socket's kernel buffers (up to tcp_wmem's 4 MB).
            for n in range(1000):
                text = f"{n:05d}" + "y" * 20_000
                await alice.send(json.dumps({"type": "chat", "text": text}))
                sent.append(text)
                if n % 10 == 9:
                    async with asyncio.timeout(30):
                        while len(received) < len(sent):
                            await asyncio.sleep(0.01)
                    if hub.dropped:
                        break
            assert hub.dropped == 1
            for n in range(3):
                text = f"after {n}"
                await alice.send(json.dumps({"type": "chat", "text": text}))
                sent.append(text)
            async with asyncio.timeout(30):
                while len(received) < len(sent):
                    await asyncio.sleep(0.05)
            assert received == sent
            # The dropped socket ends with "try again later" once it reads its backlog.
            with pytest.raises(ConnectionClosed):
                async with asyncio.timeout(30):
                    while True:
                        await recv_frame(slow)
            assert slow.close_code == 1013
            await bob.close()
            await alice.close()
            await asyncio.gather(*readers)


async def test_deleted_messages_are_withdrawn_and_one_subscription_serves_a_session(
    world: World,
) -> None:
    alice = await world.socket(world.alice_id)
    bob = await world.socket(world.bob_id)
    broker = world.server.container.broker
    assert isinstance(broker, InMemoryBroker)
    assert broker.subscribers(session_channel(world.session_id)) == 1
    await alice.send(json.dumps({"type": "chat", "text": "rude words"}))
    message = await next_frame(bob, "chat")
    r = await world.http.delete(
        f"{API}/sessions/{world.session_id}/messages/{message['id']}",
        headers=await world.headers(world.anchor_id),
    )
    assert r.status_code == 204
    assert (await next_frame(bob, "chat_deleted"))["id"] == message["id"]
    assert (await world.http.get(f"{API}/sessions/{world.session_id}/messages")).json() == []
    await alice.close()
    await bob.close()


async def test_slow_mode_holds_for_viewers_not_for_staff(settings: Settings) -> None:
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    with custom_server(settings, clock=clock) as server:
        async with world_on(server) as world:
            alice = await world.socket(world.alice_id)
            host = await world.socket(world.anchor_id)
            r = await world.http.post(
                f"{API}/sessions/{world.session_id}/moderation",
                json={"action": "slow_mode", "seconds": 10},
                headers=await world.headers(world.anchor_id),
            )
            assert r.status_code == 200
            assert (await next_frame(alice, "moderation"))["seconds"] == 10
            await alice.send(json.dumps({"type": "chat", "text": "one"}))
            await next_frame(alice, "chat")
            await alice.send(json.dumps({"type": "chat", "text": "two"}))
            error = (await next_frame(alice, "error"))["error"]
            assert error["code"] == "slow_mode" and error["details"]["retry_after"] == 10
            for text in ("host one", "host two"):
                await host.send(json.dumps({"type": "chat", "text": text}))
            assert chats(await frames_until(alice, "host two")) == ["host one", "host two"]
            clock.advance(seconds=11)
            await alice.send(json.dumps({"type": "chat", "text": "three"}))
            seen = chats(await frames_until(host, "three"))
            assert seen == ["one", "host one", "host two", "three"]
            await alice.close()
            await host.close()


async def test_watch_time_from_heartbeats_reaches_statistics_and_the_event_log(
    settings: Settings,
) -> None:
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    with custom_server(settings, clock=clock, heartbeat_seconds=0.0) as server:
        async with world_on(server) as world:
            alice = await world.socket(world.alice_id)
            await alice.send(json.dumps({"type": "like"}))
            await next_frame(alice, "like")
            clock.advance(seconds=40)
            url = f"{API}/sessions/{world.session_id}"
            async with asyncio.timeout(10):
                while (await world.http.get(url)).json()["statistics"]["watch_seconds"] < 40:
                    await asyncio.sleep(0.1)
            await alice.close()
            root = server.settings.event_log_dir
            query = (
                "SELECT event_type, sum(coalesce(watch_seconds, 0)) FROM events "
                "WHERE session_id = ? AND consumer_id = ? GROUP BY event_type"
            )
            found: dict[str, float] = {}
            async with asyncio.timeout(10):
                while "leave" not in found:
                    await asyncio.sleep(0.2)
                    if log_files(root):
                        with open_log(root) as db:
                            rows = db.execute(query, [world.session_id, world.alice_id]).fetchall()
                        found = {kind: float(seconds) for kind, seconds in rows}
            assert found["join"] == 0 and found["like"] == 0
            assert found["heartbeat"] + found["leave"] == 40
            stats = (await world.http.get(url)).json()["statistics"]
            assert stats["watch_seconds"] == 40 and stats["likes"] == 1


async def test_a_batch_is_one_message_of_frames_in_order_and_old_clients_get_them_one_by_one(
    settings: Settings,
) -> None:
    # A batch goes out when it holds 3 frames (the window is too long to end first); no tick
    # (viewer counts) during the test, so the 3 frames are the 3 chat messages.
    with custom_server(
        settings, ws_batch_seconds=60.0, ws_batch_max_frames=3, realtime_tick_seconds=3600.0
    ) as server:
        async with world_on(server) as world:
            alice = await world.socket(world.alice_id)
            bob = await world.socket(world.bob_id)
            old = await world.socket(None, batch=False)
            for n in range(3):
                await alice.send(json.dumps({"type": "chat", "text": f"m{n}"}))
            async with asyncio.timeout(10):
                batch = json.loads(await bob.recv())
                singles = [json.loads(await old.recv()) for _ in range(3)]
            assert [(f["type"], f["text"]) for f in batch] == [("chat", f"m{n}") for n in range(3)]
            assert [f["text"] for f in singles] == ["m0", "m1", "m2"]
            # Idle sockets were written by the fan-out itself, without waking their sender task.
            assert server.container.hub.direct_writes >= 2
            # Replies to a socket's own frames do not wait for the batch.
            await bob.send(json.dumps({"type": "ping"}))
            async with asyncio.timeout(10):
                assert json.loads(await bob.recv()) == [{"type": "pong"}]
            await old.send(json.dumps({"type": "ping"}))
            async with asyncio.timeout(10):
                assert json.loads(await old.recv()) == {"type": "pong"}
            for ws in (alice, bob, old):
                await ws.close()


@pytest.mark.parametrize("compression", [False, True])
async def test_permessage_deflate_follows_the_setting(
    settings: Settings, compression: bool
) -> None:
    with custom_server(settings, ws_compression=compression) as server:
        async with world_on(server) as world:
            ws = await connect(world.ws_url(), origin=server.url, compression="deflate")  # type: ignore[arg-type]
            names = [type(e).__name__ for e in ws.protocol.extensions]
            await ws.close()
    assert names == (["PerMessageDeflate"] if compression else [])
