"""Simulated viewers, anchors and merchants that use the real API and WebSocket over loopback.

Viewers sign in with the bearer-token flow, join a live session's socket, chat, like, click
and look at products, add to cart, order (with an Idempotency-Key) and sometimes pay; they
come and go. Each live session's anchor re-pins a different showcase product every 45-90 s,
and merchants restock SKUs that run low. Every wait is at least a tenth of a second, every
error is logged and backed off, and `stop` ends everything cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import httpx
import websockets

from livecart.demo import world

log = logging.getLogger(__name__)

API = "/api/v1"
LOW_STOCK = 5
RESTOCK_TO = 60
FLASH_SALE_CHANCE = 0.4
FLASH_UNITS = 8
MIN_WAIT = 0.1


@dataclass
class SimulatorConfig:
    """Where and how hard to simulate; `pace` scales every wait (1.0 is human speed)."""

    base_url: str
    viewers: int = 40
    consumer_emails: list[str] = field(default_factory=list)
    password: str = world.DEMO_PASSWORD
    pace: float = 1.0
    max_actions: int | None = None  # stop after this many viewer actions (tests)
    seed: int = 7


@dataclass
class SimulatorStats:
    logins: int = 0
    joins: int = 0
    chats: int = 0
    likes: int = 0
    events: int = 0
    cart_adds: int = 0
    orders: int = 0
    payments: int = 0
    pins: int = 0
    restocks: int = 0
    flash_sales: int = 0
    flash_orders: int = 0
    errors: int = 0

    @property
    def actions(self) -> int:
        return self.chats + self.likes + self.events + self.cart_adds + self.orders


class Simulator:
    """Runs viewers, anchors and merchants until stopped or `max_actions` is reached."""

    def __init__(self, config: SimulatorConfig) -> None:
        parts = urlsplit(config.base_url)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the simulator only talks to a server on loopback")
        self.config = config
        self.rng = random.Random(config.seed)
        self.stats = SimulatorStats()
        self.stopping = asyncio.Event()
        self._ws_base = ("wss://" if parts.scheme == "https" else "ws://") + parts.netloc
        self._tokens: dict[str, str] = {}
        self._anchors: dict[int, str] = {}  # user id -> e-mail of the demo anchors met so far
        self._client: httpx.AsyncClient | None = None

    # ------------------------------------------------------------ plumbing

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("simulator not running")
        return self._client

    async def wait(self, low: float, high: float) -> None:
        """Sleep a human-paced random while, or less if stopping."""
        seconds = max(MIN_WAIT, self.rng.uniform(low, high) * self.config.pace)
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that arrives
        # as `stopping` is set, and the cancelled task then waits on its socket for ever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.stopping.wait()

    def _count(self, what: str) -> None:
        setattr(self.stats, what, getattr(self.stats, what) + 1)
        limit = self.config.max_actions
        if limit is not None and self.stats.actions >= limit:
            self.stopping.set()

    async def token(self, email: str) -> str:
        """A bearer token for a demo account (password flow), cached."""
        if email not in self._tokens:
            r = await self.client.post(
                f"{API}/auth/token", data={"username": email, "password": self.config.password}
            )
            r.raise_for_status()
            self._tokens[email] = str(r.json()["access_token"])
            self.stats.logins += 1
        return self._tokens[email]

    async def call(self, email: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """An authenticated API call as `email`."""
        headers = {
            "Authorization": f"Bearer {await self.token(email)}",
            **kwargs.pop("headers", {}),
        }
        r = await self.client.request(method, f"{API}{path}", headers=headers, **kwargs)
        if r.status_code == 401:
            self._tokens.pop(email, None)
        return r

    async def guarded(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        """Run a job again and again until stopping, backing off after each failure."""
        backoff = 1.0
        while not self.stopping.is_set():
            if await self.attempt(name, job, backoff):
                backoff = 1.0
            else:
                backoff = min(backoff * 2, 60.0)

    async def attempt(
        self, name: str, job: Callable[[], Awaitable[None]], backoff: float = 1.0
    ) -> bool:
        """Run a job once; on failure count and log it, wait `backoff` and return False."""
        try:
            await job()
            return True
        except (httpx.ConnectError, ConnectionRefusedError):
            # The server is not there (shutting down, restarting): say so in one line.
            self.stats.errors += 1
            log.info("demo %s cannot reach the server; retrying in %.0fs", name, backoff)
        except (httpx.HTTPError, OSError, websockets.WebSocketException, KeyError, ValueError):
            self.stats.errors += 1
            log.warning("demo %s failed; backing off %.0fs", name, backoff, exc_info=True)
        await self.wait(backoff, backoff * 1.5)
        return False

    # ------------------------------------------------------------ reading the room

    async def live_sessions(self) -> list[dict[str, Any]]:
        """Live sessions with their showcase (anonymous read)."""
        r = await self.client.get(f"{API}/sessions", params={"status": "live"})
        r.raise_for_status()
        sessions: list[dict[str, Any]] = r.json()
        return sessions

    async def showcase(self, session_id: int) -> list[dict[str, Any]]:
        """The product cards of a session's showcase."""
        r = await self.client.get(f"{API}/sessions/{session_id}")
        r.raise_for_status()
        cards: list[dict[str, Any]] = r.json().get("showcase", [])
        return cards

    # ------------------------------------------------------------ viewers

    async def viewer(self, slot: int) -> None:
        """One viewer slot: a consumer joins, stays a while, leaves; then another one comes."""
        emails = self.config.consumer_emails
        email = emails[(slot + self.rng.randrange(len(emails))) % len(emails)]
        sessions = await self.live_sessions()
        if not sessions:
            await self.wait(10, 20)
            return
        session = self.rng.choice(sessions)
        session_id = int(session["id"])
        cards = await self.showcase(session_id)
        token = await self.token(email)
        url = f"{self._ws_base}/ws/sessions/{session_id}?token={token}"
        async with websockets.connect(url, open_timeout=10, close_timeout=3) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
            pinned: dict[str, Any] | None = hello.get("pinned")
            self.stats.joins += 1

            async def read() -> None:
                nonlocal pinned
                async for raw in ws:
                    frame = json.loads(raw)
                    if frame.get("type") == "pin":
                        pinned = frame.get("product")
                    elif frame.get("type") == "flash_sale" and self.rng.random() < 0.5:
                        sale = frame.get("sale") or {}
                        if sale.get("status") == "live":
                            await self.attempt("flash buyer", partial(self.grab, email, sale))

            reader = asyncio.create_task(read())
            try:
                stay = self.rng.randint(4, 14)
                for _ in range(stay):
                    if self.stopping.is_set() or reader.done():
                        break
                    await self.act(email, ws, session_id, pinned or _pick(self.rng, cards))
                    await self.wait(3, 15)
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader
        await self.wait(5, 30)

    async def act(self, email: str, ws: Any, session_id: int, card: dict[str, Any] | None) -> None:
        """One human-sized action in the room."""
        roll = self.rng.random()
        if roll < 0.32:
            text = self.rng.choice(
                self.rng.choice((world.CHAT_GREETINGS, world.CHAT_QUESTIONS, world.CHAT_REACTIONS))
            )
            await ws.send(json.dumps({"type": "chat", "text": text}))
            self._count("chats")
        elif roll < 0.58:
            for _ in range(self.rng.randint(1, 4)):
                await ws.send(json.dumps({"type": "like"}))
            self._count("likes")
        elif card is None:
            return
        elif roll < 0.84:
            await self.look(email, session_id, card)
        else:
            await self.buy(email, session_id, card)

    async def look(self, email: str, session_id: int, card: dict[str, Any]) -> None:
        """Click the product card and maybe open its details (client behaviour events)."""
        for kind in ("product_click", "detail_view"):
            r = await self.call(
                email,
                "POST",
                "/events",
                json={
                    "events": [{"type": kind, "session_id": session_id, "product_id": card["id"]}]
                },
            )
            r.raise_for_status()
            self._count("events")
            if self.rng.random() < 0.4:
                break

    async def buy(self, email: str, session_id: int, card: dict[str, Any]) -> None:
        """Add a SKU to the cart, then maybe order it and maybe pay."""
        skus = [s for s in card.get("skus", []) if s.get("stock", 0) > 0]
        if not skus:
            return
        sku = self.rng.choice(skus)
        r = await self.call(
            email,
            "POST",
            "/cart/items",
            json={"sku_id": sku["id"], "quantity": 1, "session_id": session_id},
        )
        r.raise_for_status()
        self._count("cart_adds")
        if self.rng.random() < 0.45:
            return
        r = await self.call(
            email,
            "POST",
            "/orders",
            json={"items": [{"sku_id": sku["id"], "quantity": 1}], "session_id": session_id},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        if r.status_code == 409:  # sold out meanwhile: a merchant will restock
            return
        r.raise_for_status()
        self._count("orders")
        if self.rng.random() < 0.8:
            order_id = r.json()["id"]
            r = await self.call(email, "POST", f"/orders/{order_id}/pay")
            if r.status_code == 409:  # expired or paid meanwhile
                return
            r.raise_for_status()
            self.stats.payments += 1

    async def grab(self, email: str, sale: dict[str, Any]) -> None:
        """Rush for a flash sale that just opened; pay most of the time."""
        await self.wait(0.2, 3)
        r = await self.call(
            email,
            "POST",
            f"/flash-sales/{sale['id']}/orders",
            json={"quantity": 1},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        if r.status_code in (409, 429):  # sold out, already bought, too fast
            return
        r.raise_for_status()
        self._count("flash_orders")
        if self.rng.random() < 0.85:
            r = await self.call(email, "POST", f"/orders/{r.json()['id']}/pay")
            if r.status_code != 409:
                r.raise_for_status()
                self.stats.payments += 1

    # ------------------------------------------------------------ staff

    async def anchor_loop(self) -> None:
        """Anchors of live sessions re-pin a different showcase product every 45-90 s."""
        await self.wait(45, 90)
        for session in await self.live_sessions():
            anchor_email = await self.anchor_email(int(session["anchor"]["id"]))
            cards = await self.showcase(int(session["id"]))
            pinned = (session.get("pinned") or {}).get("id")
            choices = [c for c in cards if c["id"] != pinned]
            if anchor_email is None or not choices:
                continue
            card = self.rng.choice(choices)
            r = await self.call(
                anchor_email,
                "POST",
                f"/sessions/{session['id']}/pin",
                json={"product_id": card["id"]},
            )
            r.raise_for_status()
            self.stats.pins += 1
            await self.restock(cards)
            if self.rng.random() < FLASH_SALE_CHANCE:
                await self.flash_sale(anchor_email, int(session["id"]), card)

    async def flash_sale(self, anchor_email: str, session_id: int, card: dict[str, Any]) -> None:
        """The anchor announces a flash sale of the card just pinned: 20 s countdown, 3 min."""
        skus = [s for s in card.get("skus", []) if s.get("stock", 0) >= FLASH_UNITS]
        if not skus:
            return
        sku = self.rng.choice(skus)
        body = {
            "session_id": session_id,
            "sku_id": sku["id"],
            "price": sku["price"] * 6 // 10,
            "quantity": FLASH_UNITS,
            "per_user_limit": 1,
            "starts_at": _in_seconds(20 * self.config.pace),
            "ends_at": _in_seconds(200 * self.config.pace),
        }
        r = await self.call(anchor_email, "POST", "/flash-sales", json=body)
        if r.status_code == 409 and r.json()["error"]["code"] == "price_not_lowest":
            lowest = r.json()["error"]["details"]["lowest_price_30d"]
            body["price"] = lowest * 6 // 10
            r = await self.call(anchor_email, "POST", "/flash-sales", json=body)
        if r.status_code == 409:  # not enough stock meanwhile
            return
        r.raise_for_status()
        self.stats.flash_sales += 1
        # At the end of the countdown the viewers' pages read the sale, which opens it.
        await self.wait(20, 21)
        r = await self.call(anchor_email, "GET", f"/flash-sales/{r.json()['id']}")
        r.raise_for_status()

    async def anchor_email(self, anchor_id: int) -> str | None:
        """The demo e-mail of an anchor, found by signing the demo anchors in (once each)."""
        if anchor_id in self._anchors:
            return self._anchors[anchor_id]
        for spec in world.ANCHORS:
            if spec.email in self._anchors.values():
                continue
            try:
                r = await self.call(spec.email, "GET", "/me")
            except httpx.HTTPStatusError:  # an anchor a smaller world does not have
                continue
            if r.status_code == 200:
                self._anchors[int(r.json()["id"])] = spec.email
                if int(r.json()["id"]) == anchor_id:
                    return spec.email
        return None

    async def restock(self, cards: list[dict[str, Any]]) -> None:
        """The brand's merchant tops up SKUs that run low."""
        merchants = {b.name: b.merchant_email for b in world.BRANDS}
        for card in cards:
            email = merchants.get(card.get("brand", {}).get("name", ""))
            if email is None:
                continue
            for sku in card.get("skus", []):
                if sku.get("stock", 0) < LOW_STOCK:
                    r = await self.call(
                        email, "PATCH", f"/skus/{sku['id']}", json={"stock": RESTOCK_TO}
                    )
                    r.raise_for_status()
                    self.stats.restocks += 1

    # ------------------------------------------------------------ running

    async def run(self) -> SimulatorStats:
        """Run until `stop()` or `max_actions`; returns what happened."""
        if not self.config.consumer_emails:
            raise ValueError("no consumer accounts to simulate")
        # Idle connections are dropped before uvicorn's 5 s keep-alive ends, so a request
        # never races the server closing the connection it was sent on.
        limits = httpx.Limits(keepalive_expiry=3.0)
        async with httpx.AsyncClient(
            base_url=self.config.base_url, timeout=15, limits=limits
        ) as client:
            self._client = client
            tasks = [asyncio.create_task(self._staggered(n)) for n in range(self.config.viewers)]
            tasks.append(asyncio.create_task(self.guarded("anchor", self.anchor_loop)))
            try:
                await self.stopping.wait()
            finally:
                self.stopping.set()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                self._client = None
        return self.stats

    async def _staggered(self, slot: int) -> None:
        # Viewers arrive one by one, not all in the same second.
        await self.wait(0, 20)
        await self.guarded(f"viewer {slot}", lambda: self.viewer(slot))

    def stop(self) -> None:
        """Ask every simulated person to leave."""
        self.stopping.set()


def _pick(rng: random.Random, cards: list[dict[str, Any]]) -> dict[str, Any] | None:
    return rng.choice(cards) if cards else None


def _in_seconds(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def demo_consumer_emails(count: int) -> list[str]:
    """The e-mails of the seeded consumers (see seed.Seeder.seed_consumers)."""
    return [world.SHOWCASE_CONSUMER_EMAIL] + [
        f"consumer{i:04d}@{world.EMAIL_DOMAIN}" for i in range(1, count)
    ]
