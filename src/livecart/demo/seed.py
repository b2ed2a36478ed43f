"""Seed the demo world through the domain services, with frozen clocks set in the past.

Accounts, catalogue and rooms first; then `history_days` of past live sessions with viewers
whose behaviour differs by persona (loyal big spenders, regulars, occasional viewers, window
shoppers, lapsed fans, night owls), their orders in every state, and their behaviour events
in the Parquet log on the dates they happened; then one or two sessions live now and a few
scheduled ones. Every batch is its own unit of work. A seeded `random.Random` makes it
reproducible.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Identity, Role
from livecart.catalog import service as catalog
from livecart.catalog.schemas import MediaUpload, SkuIn
from livecart.commerce import service as commerce
from livecart.commerce.errors import OutOfStock
from livecart.commerce.schemas import AfterSalesRequestIn, OrderItemIn, ReturnReason
from livecart.core.clock import Clock, FrozenClock, SystemClock
from livecart.core.db import UnitOfWork
from livecart.core.errors import DomainError
from livecart.core.security import hash_password
from livecart.demo import world
from livecart.demo.marketing import seed_marketing
from livecart.events import service as events
from livecart.events.schemas import BehaviourEvent, EventType
from livecart.events.sink import EventSink, ParquetEventSink
from livecart.insights import portrait_store
from livecart.insights.portraits import Engine as PortraitEngine
from livecart.insights.schemas import PortraitStoreReport
from livecart.live import service as live
from livecart.live.schemas import SessionStatus, SessionSummary
from livecart.supervision import service as supervision
from livecart.supervision.errors import QualificationExpired, QualificationMissing
from livecart.supervision.schemas import QualificationIn

if TYPE_CHECKING:
    from livecart.bootstrap import Container as DemoContainer

Progress = Callable[[str, int, int], None]
Chatter = tuple[int, str]  # a consumer's id and display name

HEARTBEAT_SECONDS = 60
LOW_STOCK = 5
RESTOCK = 80
SEED_BATCH = 20_000  # events per Parquet write while seeding: a few files per day, not hundreds
SESSIONS_PER_UNIT = 4  # past sessions written per unit of work (one connection, one commit)
STALE_LIVE = timedelta(hours=6)  # a live session older than this is ended on the next start
MIN_UPCOMING = 3  # fewer scheduled sessions ahead than this, and more are scheduled
CST = timedelta(hours=8)  # the demo audience lives in China Standard Time
# Local start hour and sessions per week of each anchor.
SCHEDULE = {"lily": (20, 4), "wang": (12, 3), "mia": (19, 3), "lin": (15, 2), "kevin": (23, 5)}
SYSTEM = Identity(
    id=0,
    email="system@livecart.example",
    display_name="demo seeder",
    roles=frozenset({Role.operator}),
)


@dataclass(frozen=True)
class WorldSize:
    """How big a world to seed; the defaults are the `livecart demo` world."""

    brands: int = 4
    products_per_brand: int = 12
    anchors: int = 5
    consumers: int = 500
    history_days: int = 60
    live_now: int = 2
    upcoming: int = 4
    seed: int = 20240518


SMALL = WorldSize(
    brands=3, products_per_brand=4, anchors=2, consumers=30, history_days=7, live_now=1, upcoming=2
)


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    name: str
    note: str = ""


@dataclass
class SeedReport:
    """What the seeding did (or found already there)."""

    seeded: bool
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    live_session_ids: list[int] = field(default_factory=list)
    # Seconds each consumer watched, as written into heartbeat and leave events (checks).
    watch_seconds: dict[int, int] = field(default_factory=dict)


@dataclass
class Persona:
    kind: str
    visit: float  # chance to watch a session of a favourite anchor
    buy: float  # chance to order during a watched session
    pay: float  # chance an order gets paid
    chat_per_min: float
    like_per_min: float
    watch_min: float  # median minutes watched
    basket: int  # most items per order
    night_owl: bool
    favourites: frozenset[str]
    brand_bias: dict[str, float]
    active_days: tuple[int, int]  # first and last day index of activity


@dataclass
class Consumer:
    id: int
    name: str
    persona: Persona


@dataclass
class Staff:
    operator: Identity
    merchants: dict[str, Identity]  # by brand key
    anchors: dict[str, Identity]  # by anchor key


@dataclass
class Catalogue:
    brand_ids: dict[str, int]
    products: dict[str, list[int]]  # product ids by brand key
    skus: dict[int, list[tuple[int, int]]]  # product id -> [(sku id, price)]
    brand_of: dict[int, str]  # product id -> brand key
    stock: dict[int, int] = field(default_factory=dict)  # sku id -> units left


def accounts_table(size: WorldSize = WorldSize()) -> list[DemoAccount]:
    """The demo accounts a newcomer can sign in with (all use world.DEMO_PASSWORD)."""
    rows = [DemoAccount("operator", world.OPERATOR_EMAIL, world.OPERATOR_NAME, "platform")]
    for brand in world.BRANDS[: size.brands]:
        rows.append(DemoAccount("merchant", brand.merchant_email, brand.merchant_name, brand.name))
    for anchor in world.ANCHORS[: size.anchors]:
        rows.append(DemoAccount("anchor", anchor.email, anchor.display_name, anchor.room_title))
    rows.append(
        DemoAccount(
            "consumer",
            world.SHOWCASE_CONSUMER_EMAIL,
            world.SHOWCASE_CONSUMER_NAME,
            "a regular buyer",
        )
    )
    return rows


async def is_seeded(container: DemoContainer) -> bool:
    """Whether the demo world is already in the database (its operator account exists)."""
    async with container.uow() as uow:
        found = await accounts.list_users(uow.session, actor=SYSTEM, query=world.OPERATOR_EMAIL)
        return any(u.email == world.OPERATOR_EMAIL for u in found)


# Demo returns: mostly no reason, some faults (complaints), with what a buyer would write.
AFTER_SALES_REASONS = (
    ReturnReason.no_reason,
    ReturnReason.no_reason,
    ReturnReason.no_reason,
    ReturnReason.quality,
    ReturnReason.damaged,
    ReturnReason.not_as_described,
    ReturnReason.wrong_item,
)
AFTER_SALES_TEXT = {
    ReturnReason.no_reason: "Changed my mind, unopened.",
    ReturnReason.quality: "The seam came apart after one wash.",
    ReturnReason.damaged: "The box arrived crushed.",
    ReturnReason.not_as_described: "The colour is much darker than in the live.",
    ReturnReason.wrong_item: "Got the wrong size.",
}


def _at(moment: datetime) -> FrozenClock:
    return FrozenClock(moment)


def _key(rng: random.Random) -> str:
    return f"{rng.getrandbits(96):024x}"


@dataclass
class _SeedSink:
    """What commerce needs to record its events: the seeding run's own sink."""

    events: EventSink


class Seeder:
    """One seeding run: keeps the ids it created and the random source."""

    def __init__(
        self, container: DemoContainer, size: WorldSize, progress: Progress | None, now: datetime
    ) -> None:
        self.c = container
        self.size = size
        self.rng = random.Random(size.seed)
        self.progress = progress or (lambda _step, _done, _total: None)
        self.now = now.replace(microsecond=0)
        self.start = self.now - timedelta(days=size.history_days)
        self.password_hash = hash_password(world.DEMO_PASSWORD)
        self.counts: dict[str, int] = {}
        self.watched: dict[int, int] = {}
        # Events of the unit of work being written, handed to the sink in one call after it.
        self.pending: list[BehaviourEvent] = []
        # Big batches written when full and at the end: history is emitted day by day,
        # so each write touches one or two date partitions.
        self.sink = _SeedSink(
            ParquetEventSink(
                container.settings.event_log_dir, batch_size=SEED_BATCH, max_buffered=10**7
            )
        )

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    # ------------------------------------------------------------ people

    async def _register(
        self, session: object, *, when: datetime, email: str, name: str
    ) -> Identity:
        user = await accounts.register(
            session,  # type: ignore[arg-type]
            clock=_at(when),
            email=email,
            password=world.DEMO_PASSWORD,
            display_name=name,
            password_hash=self.password_hash,
        )
        return accounts.identity_of(user)

    async def seed_staff(self) -> Staff:
        founded = self.start - timedelta(days=60)
        async with self.c.uow() as uow:
            s = uow.session
            op = await self._register(
                s, when=founded, email=world.OPERATOR_EMAIL, name=world.OPERATOR_NAME
            )
            await accounts.grant_role(
                s, clock=_at(founded), actor=None, user_id=op.id, role=Role.operator
            )
            anchors: dict[str, Identity] = {}
            for spec in world.ANCHORS[: self.size.anchors]:
                who = await self._register(
                    s, when=founded, email=spec.email, name=spec.display_name
                )
                granted = await accounts.grant_role(
                    s, clock=_at(founded), actor=None, user_id=who.id, role=Role.anchor
                )
                anchors[spec.key] = accounts.identity_of(granted)
            await uow.commit()
        self.count("users", 1 + len(anchors))
        return Staff(operator=op, merchants={}, anchors=anchors)

    # ------------------------------------------------------------ catalogue

    async def seed_catalogue(self, staff: Staff) -> Catalogue:
        cat = Catalogue(brand_ids={}, products={}, skus={}, brand_of={})
        brands = world.BRANDS[: self.size.brands]
        opened = self.start - timedelta(days=45)
        for done, spec in enumerate(brands):
            async with self.c.uow() as uow:
                s = uow.session
                brand = await catalog.create_brand(
                    s, clock=_at(opened), actor=None, name=spec.name, description=spec.description
                )
                merchant = await self._register(
                    s, when=opened, email=spec.merchant_email, name=spec.merchant_name
                )
                user = await accounts.grant_role(
                    s,
                    clock=_at(opened),
                    actor=None,
                    user_id=merchant.id,
                    role=Role.merchant,
                    brand_id=brand.id,
                )
                staff.merchants[spec.key] = accounts.identity_of(user)
                cat.brand_ids[spec.key] = brand.id
                cat.products[spec.key] = []
                for n, p in enumerate(spec.products[: self.size.products_per_brand]):
                    listed = opened + timedelta(days=n, hours=self.rng.randint(1, 8))
                    out = await catalog.create_product(
                        s,
                        clock=_at(listed),
                        lexicon=self.c.lexicon,
                        actor=staff.merchants[spec.key],
                        brand_id=brand.id,
                        title=p.title,
                        category=p.category,
                        description=p.description,
                        attributes=p.attributes,
                        skus=[
                            SkuIn(
                                code=k.code,
                                price=k.price,
                                currency=world.CURRENCY,
                                stock=k.stock,
                                attributes=dict(k.attributes),
                            )
                            for k in p.skus
                        ],
                    )
                    await catalog.add_media(
                        s,
                        clock=_at(listed),
                        actor=staff.merchants[spec.key],
                        product_id=out.id,
                        upload=MediaUpload(
                            "image/png", _one_chunk(world.product_png(p.colour, spec.colour))
                        ),
                        media_dir=self.c.settings.media_dir,
                    )
                    cat.products[spec.key].append(out.id)
                    cat.skus[out.id] = [(k.id, k.price) for k in out.skus]
                    cat.stock.update({k.id: k.stock for k in out.skus})
                    cat.brand_of[out.id] = spec.key
                await uow.commit()
            self.count("brands")
            self.count("products", len(cat.products[spec.key]))
            self.count("skus", sum(len(cat.skus[p]) for p in cat.products[spec.key]))
            self.count("users")
            self.progress("catalogue", done + 1, len(brands))
        return cat

    # ------------------------------------------------------------ qualifications

    async def seed_qualifications(self, staff: Staff, cat: Catalogue) -> None:
        """File approved qualifications so the world may go live: each anchor's identity
        verification, each brand's business licence and category permit, and each product's
        approval for live with a passed inspection. Only what is missing or no longer valid
        on the seeder's day is filed, so a refresh of an older world catches up too."""
        today = self.now.date()
        since = (self.start - timedelta(days=60)).date()
        until = today + timedelta(days=730)
        clock = _at(self.now)
        async with self.c.uow() as uow:
            s = uow.session
            for n, (key, anchor) in enumerate(sorted(staff.anchors.items())):
                try:
                    await supervision.check_can_go_live(s, anchor_id=anchor.id, today=today)
                    continue
                except (QualificationMissing, QualificationExpired):
                    pass
                await supervision.record_reviewed_qualification(
                    s,
                    clock=clock,
                    subject_id=anchor.id,
                    body=QualificationIn(
                        kind="identity_verification",
                        number=f"ID-DEMO-{key.upper()}",
                        issuer="Demo public security bureau",
                        valid_from=since,
                        expires_on=until,
                        date_of_birth=date(1990 + n % 8, 1 + n % 12, 10 + n),
                    ),
                    note="verified for the demo",
                )
                self.count("qualifications")
            cards = await catalog.product_cards(s, list(cat.brand_of))
            for key, brand_id in sorted(cat.brand_ids.items()):
                products = [p for p in cat.products.get(key, []) if p in cards]
                categories = sorted({cards[p].category for p in products})
                for product_id in products:
                    card = cards[product_id]
                    await supervision.record_approved_for_live(
                        s,
                        clock=clock,
                        product_id=product_id,
                        brand_id=brand_id,
                        findings=f"sample of {card.title} matches the listing",
                        sample_id=f"DEMO-{product_id}",
                    )
                    try:
                        await supervision.check_can_showcase(
                            s,
                            product_id=product_id,
                            brand_id=brand_id,
                            category=card.category,
                            today=today,
                            permit_categories=set(self.c.settings.permit_categories or ())
                            | supervision.DEFAULT_PERMIT_CATEGORIES,
                        )
                        continue
                    except (QualificationMissing, QualificationExpired):
                        pass
                    for kind, extra in (
                        ("business_licence", {}),
                        ("category_permit", {"categories": categories}),
                    ):
                        await supervision.record_reviewed_qualification(
                            s,
                            clock=clock,
                            subject_id=brand_id,
                            body=QualificationIn(
                                kind=kind,
                                brand_id=brand_id,
                                number=f"{kind[:2].upper()}-DEMO-{key.upper()}",
                                issuer="Demo market regulation administration",
                                valid_from=since,
                                expires_on=until,
                                **extra,
                            ),
                            note="checked for the demo",
                        )
                        self.count("qualifications")
            await uow.commit()

    # ------------------------------------------------------------ consumers

    def _persona(self, brand_keys: list[str], anchor_keys: list[str]) -> Persona:
        rng, days = self.rng, self.size.history_days
        kind = rng.choices(
            ["loyal", "regular", "occasional", "window", "lapsed"], [5, 15, 45, 25, 10]
        )[0]
        visit, buy, pay, chat, like, watch, basket = {
            "loyal": (0.75, 0.45, 0.97, 0.35, 1.5, 45.0, 4),
            "regular": (0.40, 0.22, 0.92, 0.15, 0.6, 25.0, 2),
            "occasional": (0.12, 0.10, 0.85, 0.05, 0.3, 12.0, 2),
            "window": (0.25, 0.0, 0.0, 0.12, 0.8, 18.0, 1),
            "lapsed": (0.35, 0.15, 0.85, 0.08, 0.4, 15.0, 2),
        }[kind]
        favourites = frozenset(
            rng.sample(anchor_keys, k=min(len(anchor_keys), rng.choice([1, 1, 2])))
        )
        bias = {k: rng.random() ** 2 for k in brand_keys}
        top = rng.choice(brand_keys)
        bias[top] += 2.0
        first = rng.randint(0, days // 3) if kind != "lapsed" else 0
        last = days if kind != "lapsed" else max(2, rng.randint(days // 5, days // 2))
        return Persona(
            kind,
            visit,
            buy,
            pay,
            chat,
            like,
            watch,
            basket,
            night_owl=rng.random() < 0.18,
            favourites=favourites,
            brand_bias=bias,
            active_days=(first, last),
        )

    async def seed_consumers(self, brand_keys: list[str], anchor_keys: list[str]) -> list[Consumer]:
        names = world.consumer_names(self.size.consumers, self.rng)
        people: list[Consumer] = []
        batch = 100
        for first in range(0, len(names), batch):
            async with self.c.uow() as uow:
                for i in range(first, min(first + batch, len(names))):
                    persona = self._persona(brand_keys, anchor_keys)
                    joined = self.start - timedelta(
                        days=self.rng.randint(1, 120), minutes=self.rng.randint(0, 1440)
                    )
                    if i == 0:  # the showcase consumer is a regular of the first anchor
                        email, name = world.SHOWCASE_CONSUMER_EMAIL, world.SHOWCASE_CONSUMER_NAME
                        persona.kind, persona.visit, persona.buy, persona.pay = (
                            "loyal",
                            0.7,
                            0.4,
                            1.0,
                        )
                        persona.active_days = (0, self.size.history_days)
                        persona.favourites = frozenset(anchor_keys[:1])
                    else:
                        email = f"consumer{i:04d}@{world.EMAIL_DOMAIN}"
                        name = names[i]
                    who = await self._register(uow.session, when=joined, email=email, name=name)
                    people.append(Consumer(who.id, name, persona))
                await uow.commit()
            self.progress("consumers", len(people), len(names))
        self.count("users", len(people))
        self.count("consumers", len(people))
        return people

    # ------------------------------------------------------------ rooms

    async def seed_rooms(self, staff: Staff) -> dict[str, int]:
        rooms: dict[str, int] = {}
        opened = self.start - timedelta(days=30)
        async with self.c.uow() as uow:
            for spec in world.ANCHORS[: self.size.anchors]:
                room = await live.create_room(
                    uow.session,
                    clock=_at(opened),
                    actor=staff.anchors[spec.key],
                    title=spec.room_title,
                    description=spec.room_description,
                )
                rooms[spec.key] = room.id
            await uow.commit()
        self.count("rooms", len(rooms))
        return rooms

    # ------------------------------------------------------------ history

    def _session_plan(self) -> list[tuple[datetime, str, str]]:
        """(start, anchor key, title) of every past session, oldest first."""
        plan = []
        for spec in world.ANCHORS[: self.size.anchors]:
            hour, per_week = SCHEDULE.get(spec.key, (20, 3))
            for day in range(self.size.history_days):
                if self.rng.random() >= per_week / 7:
                    continue
                local = (self.start + CST + timedelta(days=day)).replace(
                    hour=hour, minute=self.rng.choice([0, 0, 15, 30]), second=0
                )
                start = local - CST
                # Ended well before now (a session lasts at most 2.5 h).
                if start >= self.now - timedelta(hours=4):
                    continue
                plan.append((start, spec.key, self.rng.choice(spec.session_titles)))
        plan.sort()
        return plan

    def _showcase(self, cat: Catalogue, anchor_key: str, n: int = 8) -> list[int]:
        spec = next(a for a in world.ANCHORS if a.key == anchor_key)
        pool = [p for k in spec.brand_keys if k in cat.products for p in cat.products[k]]
        if len(pool) < n:
            pool += [p for ps in cat.products.values() for p in ps if p not in pool]
        return self.rng.sample(pool, k=min(n, len(pool)))

    def _emit(self, kind: EventType, at: datetime, **fields: Any) -> None:
        self.pending.append(events.new_event(kind, occurred_at=at, source="demo", **fields))

    def _hand_over_events(self) -> None:
        """Give the sink the events of a committed unit of work, in one call."""
        events.emit(self.sink, *self.pending)
        self.count("events", len(self.pending))
        self.pending = []

    def _watchers(
        self, people: list[Consumer], day: int, anchor_key: str, local_hour: int, growth: float
    ) -> list[Consumer]:
        late = local_hour >= 22 or local_hour < 2
        out = []
        for person in people:
            p = person.persona
            if not p.active_days[0] <= day <= p.active_days[1]:
                continue
            chance = p.visit * (1.0 if anchor_key in p.favourites else 0.12) * growth
            if late:
                chance *= 2.2 if p.night_owl else 0.35
            if self.rng.random() < chance:
                out.append(person)
        return out

    async def seed_history(
        self, staff: Staff, cat: Catalogue, rooms: dict[str, int], people: list[Consumer]
    ) -> None:
        plan = self._session_plan()
        for first in range(0, len(plan), SESSIONS_PER_UNIT):
            chunk = plan[first : first + SESSIONS_PER_UNIT]
            async with self.c.uow() as uow:
                for start, anchor_key, title in chunk:
                    await self._past_session(
                        uow, staff, cat, rooms, people, start, anchor_key, title
                    )
                await uow.commit()
            self._hand_over_events()
            self.progress("history", first + len(chunk), len(plan))

    def _presence(
        self, who: dict[str, Any], join: datetime, seconds: int, common: dict[str, Any]
    ) -> None:
        """join, a heartbeat a minute, leave: watch_seconds add up to `seconds` exactly."""
        self._emit(EventType.JOIN, join, **who, **common)
        done = 0
        while seconds - done > HEARTBEAT_SECONDS:
            done += HEARTBEAT_SECONDS
            self._emit(
                EventType.HEARTBEAT,
                join + timedelta(seconds=done),
                watch_seconds=float(HEARTBEAT_SECONDS),
                **who,
                **common,
            )
        self._emit(
            EventType.LEAVE,
            join + timedelta(seconds=seconds),
            watch_seconds=float(seconds - done),
            **who,
            **common,
        )

    async def _past_session(
        self,
        uow: UnitOfWork,
        staff: Staff,
        cat: Catalogue,
        rooms: dict[str, int],
        people: list[Consumer],
        start: datetime,
        anchor_key: str,
        title: str,
    ) -> None:
        rng = self.rng
        anchor = staff.anchors[anchor_key]
        minutes = rng.randint(90, 150)
        end = start + timedelta(minutes=minutes)
        day = (start - self.start).days
        growth = 0.7 + 0.5 * day / max(1, self.size.history_days)
        local_hour = (start + CST).hour
        showcase = self._showcase(cat, anchor_key, rng.randint(5, 8))
        viewers = self._watchers(people, day, anchor_key, local_hour, growth)
        s = uow.session
        sess = await live.create_session(
            s,
            clock=_at(start - timedelta(days=2)),
            actor=anchor,
            room_id=rooms[anchor_key],
            title=title,
            scheduled_at=start,
        )
        for product_id in showcase:
            await live.add_to_showcase(
                s,
                clock=_at(start - timedelta(hours=1)),
                actor=anchor,
                session_id=sess.id,
                product_id=product_id,
            )
        await live.start_session(uow, clock=_at(start), actor=anchor, session_id=sess.id)
        await live.pin_product(
            uow,
            clock=_at(start + timedelta(minutes=rng.uniform(0, minutes))),
            actor=anchor,
            session_id=sess.id,
            product_id=rng.choice(showcase),
        )
        session_id = sess.id
        common = {
            "session_id": session_id,
            "room_id": rooms[anchor_key],
            "anchor_id": anchor.id,
        }
        watch_total, chats, likes = 0, 0, 0
        spans: list[tuple[datetime, datetime]] = []
        for person in viewers:
            p = person.persona
            join = start + timedelta(seconds=int(minutes * 60 * rng.random() ** 1.6))
            left = int((end - join).total_seconds())
            watch = int(rng.lognormvariate(math.log(p.watch_min * 60), 0.7))
            watch = max(min(20, left), min(watch, left))
            leave = join + timedelta(seconds=watch)
            spans.append((join, leave))
            watch_total += watch
            self.watched[person.id] = self.watched.get(person.id, 0) + watch
            self._presence({"consumer_id": person.id}, join, watch, common)
            minutes_watched = watch / 60
            for _ in range(_poisson(rng, p.chat_per_min * minutes_watched)):
                lines = rng.choice(
                    [world.CHAT_GREETINGS, world.CHAT_QUESTIONS, world.CHAT_REACTIONS]
                )
                at = _between(rng, join, leave)
                self._emit(
                    EventType.CHAT, at, consumer_id=person.id, text=rng.choice(lines), **common
                )
                chats += 1
            n_likes = _poisson(rng, p.like_per_min * minutes_watched)
            likes += n_likes
            for _ in range(n_likes):
                at = _between(rng, join, leave)
                self._emit(EventType.LIKE, at, consumer_id=person.id, **common)
            weights = [p.brand_bias.get(cat.brand_of[x], 0.1) for x in showcase]
            looked = {
                rng.choices(showcase, weights)[0]
                for _ in range(_poisson(rng, 0.6 + minutes_watched / 15))
            }
            for product_id in sorted(looked):
                at = _between(rng, join, leave)
                self._emit(
                    EventType.PRODUCT_CLICK,
                    at,
                    consumer_id=person.id,
                    product_id=product_id,
                    **common,
                )
                if rng.random() < 0.55:
                    self._emit(
                        EventType.DETAIL_VIEW,
                        at + timedelta(seconds=rng.randint(2, 40)),
                        consumer_id=person.id,
                        product_id=product_id,
                        **common,
                    )
            if looked and rng.random() < p.buy * (1.2 if p.kind == "loyal" else 0.7):
                await self._order(uow, staff, person, cat, sorted(looked), common, join, leave)
        for _ in range(_poisson(rng, len(viewers) * 0.15)):  # passers-by, not signed in
            at = _between(rng, start, end - timedelta(minutes=5))
            anonymous = {"anonymous_id": _key(rng)}
            self._presence(anonymous, at, rng.randint(5, 240), common)
        await live.end_session(uow, clock=_at(end), actor=anchor, session_id=session_id)
        await live.record_statistics(
            uow.session,
            session_id=session_id,
            peak_viewers=_peak(spans),
            watch_seconds=watch_total,
            messages=chats,
            likes=likes,
        )
        self.count("sessions")

    async def _restock(
        self,
        session: AsyncSession,
        staff: Staff,
        cat: Catalogue,
        sku_id: int,
        product_id: int,
        at: datetime,
    ) -> None:
        """The brand's merchant tops up a SKU that runs low, as merchants do between shows."""
        await catalog.update_sku(
            session,
            clock=_at(at),
            actor=staff.merchants[cat.brand_of[product_id]],
            sku_id=sku_id,
            stock=RESTOCK,
        )
        cat.stock[sku_id] = RESTOCK
        self.count("restocks")

    async def _order(
        self,
        uow: UnitOfWork,
        staff: Staff,
        person: Consumer,
        cat: Catalogue,
        looked: list[int],
        common: dict[str, Any],
        join: datetime,
        leave: datetime,
    ) -> None:
        """An order from a watched session, moved on as far as its age allows."""
        rng, p = self.rng, person.persona
        by_brand: dict[str, list[int]] = {}
        for product_id in looked:
            by_brand.setdefault(cat.brand_of[product_id], []).append(product_id)
        brand_key = rng.choice(sorted(by_brand))
        at = _between(rng, join, leave)
        lines: dict[int, int] = {}
        for product_id in by_brand[brand_key][: p.basket]:
            sku_id, price = rng.choice(cat.skus[product_id])
            qty = 1 if rng.random() < 0.8 else rng.randint(2, max(2, min(p.basket, 3)))
            if cat.stock[sku_id] < qty + LOW_STOCK:
                await self._restock(
                    uow.session, staff, cat, sku_id, product_id, at - timedelta(minutes=30)
                )
            lines[sku_id] = qty
            self._emit(
                EventType.ADD_TO_CART,
                at - timedelta(seconds=rng.randint(10, 90)),
                consumer_id=person.id,
                product_id=product_id,
                sku_id=sku_id,
                quantity=qty,
                amount=price * qty,
                currency=world.CURRENCY,
                **common,
            )
        buyer = Identity(
            id=person.id, email="", display_name=person.name, roles=frozenset({Role.consumer})
        )
        try:
            async with uow.session.begin_nested():  # a sold-out SKU drops this order only
                order = await commerce.create_order(
                    uow,
                    clock=_at(at),
                    sink=self.sink,
                    actor=buyer,
                    items=[OrderItemIn(sku_id=k, quantity=q) for k, q in lines.items()],
                    session_id=common["session_id"],
                    idempotency_key=f"demo-{_key(rng)}",
                    payment_minutes=self.c.settings.order_payment_minutes,
                )
        except OutOfStock:
            return
        for sku_id, qty in lines.items():
            cat.stock[sku_id] -= qty
        self.count("orders")
        s = uow.session
        if rng.random() >= p.pay:
            # Never paid: the buyer cancels, or the payment window runs out.
            late = rng.random() < 0.6
            minutes = self.c.settings.order_payment_minutes + 1 if late else rng.randint(1, 10)
            await commerce.cancel_order(
                s, clock=_at(at + timedelta(minutes=minutes)), actor=buyer, order_id=order.id
            )
            for sku_id, qty in lines.items():
                cat.stock[sku_id] += qty
            self.count("orders_cancelled")
            return
        paid = at + timedelta(seconds=rng.randint(20, 300))
        await commerce.pay_order(
            uow,
            clock=_at(paid),
            provider=self.c.payments,
            sink=self.sink,
            actor=buyer,
            order_id=order.id,
        )
        merchant = staff.merchants[brand_key]
        moment = paid + timedelta(hours=rng.uniform(12, 48))
        if moment > self.now:
            self.count("orders_paid")
            return
        await commerce.ship_order(s, clock=_at(moment), actor=merchant, order_id=order.id)
        moment += timedelta(hours=rng.uniform(24, 96))
        if moment > self.now:
            self.count("orders_shipped")
            return
        await commerce.deliver_order(s, clock=_at(moment), actor=merchant, order_id=order.id)
        await self._after_sales(s, buyer=buyer, merchant=merchant, order=order, at=moment, cat=cat)
        moment += timedelta(hours=rng.uniform(6, 120))
        if moment > self.now or rng.random() < 0.15:  # some buyers never confirm
            self.count("orders_delivered")
            return
        await commerce.complete_order(s, clock=_at(moment), actor=buyer, order_id=order.id)
        self.count("orders_completed")

    async def _after_sales(
        self,
        session: AsyncSession,
        *,
        buyer: Identity,
        merchant: Identity,
        order: Any,
        at: datetime,
        cat: Catalogue,
    ) -> None:
        """Now and then a return after delivery, answered and refunded as time allows.

        Its own random stream (seeded by the order), so the rest of the world stays the same.
        """
        rng = random.Random(order.id * 7919)
        if rng.random() >= 0.08:
            return
        asked = at + timedelta(hours=rng.uniform(2, 120))
        if asked > self.now:
            return
        item = order.items[0]
        reason = rng.choice(AFTER_SALES_REASONS)
        try:
            async with session.begin_nested():  # e.g. a category without no-reason returns
                request = await commerce.create_after_sales_request(
                    session,
                    clock=_at(asked),
                    actor=buyer,
                    order_id=order.id,
                    body=AfterSalesRequestIn(
                        sku_id=item.sku_id, quantity=1, reason=reason, text=AFTER_SALES_TEXT[reason]
                    ),
                    policy=commerce.after_sales_policy(self.c.settings),
                )
        except DomainError:
            return
        self.count("after_sales_requests")
        answered = asked + timedelta(hours=rng.uniform(1, 40))
        if answered > self.now:
            return
        rejected = rng.random() < 0.2
        await commerce.answer_after_sales_request(
            session,
            clock=_at(answered),
            provider=self.c.payments,
            actor=merchant,
            request_id=request.id,
            approve=not rejected,
            reason="the photos show no fault" if rejected else "",
        )
        received = answered + timedelta(days=rng.uniform(2, 5))
        if rejected or received > self.now:
            return
        await commerce.receive_returned_goods(
            session,
            clock=_at(received),
            provider=self.c.payments,
            actor=merchant,
            request_id=request.id,
        )
        cat.stock[item.sku_id] += 1
        self.count("after_sales_refunded")

    # ------------------------------------------------------------ now

    async def seed_now(
        self, staff: Staff, cat: Catalogue, rooms: dict[str, int], chatters: list[Chatter]
    ) -> list[int]:
        """Bring "now" up to date: end stale live sessions, let shows that fell due take
        place, go live in the first anchors' rooms, and keep a few sessions upcoming.

        The first seeding and every later start of the demo run this same step.
        """
        keys = list(rooms)
        key_of = {who.id: key for key, who in staff.anchors.items()}
        live_ids: list[int] = []
        async with self.c.uow() as uow:
            s = uow.session
            on_air = await live.list_sessions(s, status=SessionStatus.live, limit=500)
            busy: set[int] = set()  # rooms whose live session stays on air
            for show in on_air:
                key = key_of.get(show.anchor.id)
                started = show.started_at
                if key is None or started is None or started >= self.now - STALE_LIVE:
                    busy.add(show.room_id)
                    continue
                ended = min(self.now, started + timedelta(minutes=self.rng.randint(90, 150)))
                await live.end_session(
                    uow, clock=_at(ended), actor=staff.anchors[key], session_id=show.id
                )
                self.count("sessions_ended")
            scheduled = await live.list_sessions(s, status=SessionStatus.scheduled, limit=500)
            upcoming = [x for x in scheduled if x.scheduled_at and x.scheduled_at > self.now]
            for show in scheduled:
                # A show that fell due while the demo was off took place then.
                key = key_of.get(show.anchor.id)
                due = show.scheduled_at
                if key is None or due is None or due > self.now or show.room_id in busy:
                    continue
                anchor = staff.anchors[key]
                await live.start_session(uow, clock=_at(due), actor=anchor, session_id=show.id)
                ended = min(self.now, due + timedelta(minutes=self.rng.randint(90, 150)))
                await live.end_session(uow, clock=_at(ended), actor=anchor, session_id=show.id)
                self.count("sessions_ended")
            for key in keys[: self.size.live_now]:
                if rooms[key] not in busy:
                    # The room's next show, if it falls due while this one is on air, is the
                    # one that goes live (early): else it would fall due in a busy room and
                    # stay listed as upcoming, overdue.
                    soon = [
                        x
                        for x in upcoming
                        if x.room_id == rooms[key]
                        and x.scheduled_at is not None
                        and x.scheduled_at <= self.now + STALE_LIVE
                    ]
                    planned = min(soon, key=lambda x: x.scheduled_at or self.now, default=None)
                    if planned is not None:
                        upcoming.remove(planned)
                    live_ids.append(
                        await self._go_live(uow, staff, cat, rooms, chatters, key, planned)
                    )
            live_ids += [x.id for x in on_air if x.room_id in busy]
            if len(upcoming) < min(MIN_UPCOMING, self.size.upcoming):
                await self._schedule(uow, staff, rooms, upcoming)
            await uow.commit()
        self.count("sessions_live", len(live_ids))
        return live_ids

    async def _go_live(
        self,
        uow: UnitOfWork,
        staff: Staff,
        cat: Catalogue,
        rooms: dict[str, int],
        chatters: list[Chatter],
        key: str,
        planned: SessionSummary | None = None,
    ) -> int:
        """A session of this anchor on air since a few minutes ago, with a showcase and a pin:
        `planned` (a scheduled show of the room, started early) or a new one."""
        anchor = staff.anchors[key]
        spec = next(a for a in world.ANCHORS if a.key == key)
        began = self.now - timedelta(minutes=self.rng.randint(20, 50))
        if planned is not None:
            session_id = planned.id
        else:
            created = await live.create_session(
                uow.session,
                clock=_at(began - timedelta(days=1)),
                actor=anchor,
                room_id=rooms[key],
                title=self.rng.choice(spec.session_titles),
                scheduled_at=began,
            )
            session_id = created.id
        showcase = self._showcase(cat, key)
        for product_id in showcase:
            await live.add_to_showcase(
                uow.session,
                clock=_at(began),
                actor=anchor,
                session_id=session_id,
                product_id=product_id,
            )
            for sku_id, _price in cat.skus[product_id]:
                if cat.stock[sku_id] < 20:
                    await self._restock(uow.session, staff, cat, sku_id, product_id, began)
        await live.start_session(uow, clock=_at(began), actor=anchor, session_id=session_id)
        await live.pin_product(
            uow, clock=_at(began), actor=anchor, session_id=session_id, product_id=showcase[0]
        )
        await self._recent_chat(uow, anchor, chatters, session_id, began)
        return session_id

    async def _schedule(
        self,
        uow: UnitOfWork,
        staff: Staff,
        rooms: dict[str, int],
        upcoming: list[SessionSummary],
    ) -> None:
        """Schedule sessions on the coming days until `size.upcoming` lie ahead."""
        keys = list(rooms)
        taken = {(x.room_id, (x.scheduled_at + CST).date()) for x in upcoming if x.scheduled_at}
        missing = self.size.upcoming - len(upcoming)
        n = 0
        while missing > 0 and n < 14 * len(keys):
            key = keys[n % len(keys)]
            hour, _ = SCHEDULE.get(key, (20, 3))
            when = (self.now + CST + timedelta(days=1 + n // len(keys))).replace(
                hour=hour, minute=0, second=0
            ) - CST
            n += 1
            if (rooms[key], (when + CST).date()) in taken:
                continue
            spec = next(a for a in world.ANCHORS if a.key == key)
            await live.create_session(
                uow.session,
                clock=_at(self.now),
                actor=staff.anchors[key],
                room_id=rooms[key],
                title=self.rng.choice(spec.session_titles),
                scheduled_at=when,
            )
            missing -= 1
            self.count("sessions_scheduled")

    async def load_world(self) -> tuple[Staff, Catalogue, dict[str, int], list[Chatter]]:
        """Staff, catalogue, rooms and some consumers of an already seeded world."""
        async with self.c.uow() as uow:
            s = uow.session

            async def identity(email: str) -> Identity | None:
                found = await accounts.list_users(s, actor=SYSTEM, query=email, limit=5)
                return next((accounts.identity_of(u) for u in found if u.email == email), None)

            staff = Staff(operator=SYSTEM, merchants={}, anchors={})
            for anchor_spec in world.ANCHORS:
                if (who := await identity(anchor_spec.email)) is not None:
                    staff.anchors[anchor_spec.key] = who
            for brand_spec in world.BRANDS:
                if (who := await identity(brand_spec.merchant_email)) is not None:
                    staff.merchants[brand_spec.key] = who
            key_of_brand = {b.name: b.key for b in world.BRANDS}
            cat = Catalogue(brand_ids={}, products={}, skus={}, brand_of={})
            for brand in await catalog.list_brands(s):
                if brand.name in key_of_brand:
                    cat.brand_ids[key_of_brand[brand.name]] = brand.id
                    cat.products[key_of_brand[brand.name]] = []
            key_of_id = {v: k for k, v in cat.brand_ids.items()}
            cards = await catalog.list_products(s, actor=None, limit=10_000)
            for card in sorted(cards, key=lambda c: c.id):
                if (brand_key := key_of_id.get(card.brand.id)) is None or not card.skus:
                    continue
                cat.products[brand_key].append(card.id)
                cat.brand_of[card.id] = brand_key
                cat.skus[card.id] = [(k.id, k.price) for k in card.skus]
                cat.stock.update({k.id: k.stock for k in card.skus})
            anchor_ids = {who.id: key for key, who in staff.anchors.items()}
            rooms: dict[str, int] = {}
            for room in sorted(await live.list_rooms(s, limit=500), key=lambda r: r.id):
                if (key := anchor_ids.get(room.anchor_id)) is not None:
                    rooms.setdefault(key, room.id)
            consumers = await accounts.list_users(s, actor=SYSTEM, query="consumer", limit=200)
            chatters = [(u.id, u.display_name) for u in consumers]
        return staff, cat, rooms, chatters

    async def _recent_chat(
        self,
        uow: UnitOfWork,
        anchor: Identity,
        chatters: list[Chatter],
        session_id: int,
        began: datetime,
    ) -> None:
        """A few minutes of chat so far, so the room is not silent before the first viewer."""
        rng = self.rng
        moments = sorted(_between(rng, began, self.now) for _ in range(16))
        for n, moment in enumerate(moments):
            if n % 6 == 0 or not chatters:
                who, text = anchor, rng.choice(world.ANCHOR_LINES)
            else:
                person_id, name = rng.choice(chatters)
                who = Identity(
                    id=person_id, email="", display_name=name, roles=frozenset({Role.consumer})
                )
                lines = rng.choice(
                    [world.CHAT_GREETINGS, world.CHAT_QUESTIONS, world.CHAT_REACTIONS]
                )
                text = rng.choice(lines)
            await live.post_chat(
                uow,
                clock=_at(moment),
                actor=who,
                session_id=session_id,
                text=text,
                banned_words=self.c.settings.banned_words,
                lexicon=self.c.lexicon,
            )
        self.count("chat_messages", len(moments))


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _between(rng: random.Random, a: datetime, b: datetime) -> datetime:
    return a + (b - a) * rng.random()


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; a normal approximation for large means)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _peak(spans: list[tuple[datetime, datetime]]) -> int:
    """Most viewers watching at the same moment."""
    marks = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    best = current = 0
    for _, step in marks:
        current += step
        best = max(best, current)
    return best


async def refresh(
    container: DemoContainer,
    size: WorldSize = WorldSize(),
    *,
    clock: Clock | None = None,
) -> SeedReport:
    """Bring an already seeded world's "now" up to date, through the seeder's own "now" step.

    Live sessions older than STALE_LIVE end, shows that fell due take place, the first
    anchors go live again with a showcase and a pin, and sessions are scheduled when fewer
    than MIN_UPCOMING lie ahead.
    """
    began = time.perf_counter()
    now = (clock or SystemClock()).now().astimezone(UTC)
    seeder = Seeder(container, size, None, now)
    seeder.rng = random.Random(f"{size.seed}-{seeder.now.isoformat()}")
    try:
        staff, cat, rooms, chatters = await seeder.load_world()
        await seeder.seed_qualifications(staff, cat)
        live_ids = await seeder.seed_now(staff, cat, rooms, chatters)
    finally:
        await seeder.sink.events.aclose()
    return SeedReport(
        seeded=False,
        seconds=time.perf_counter() - began,
        counts=seeder.counts,
        live_session_ids=live_ids,
    )


async def store_portraits(
    container: DemoContainer, *, now: datetime, progress: Progress | None = None
) -> PortraitStoreReport:
    """Fold the seeded event log into stored portraits (incremental: new log files only)."""
    tick = progress or (lambda _step, _done, _total: None)
    tick("portraits", 0, 2)

    def step(text: str) -> None:  # the store announces compacting, then recomputing
        if text.startswith("recomputing"):
            tick("portraits", 1, 2)

    async with container.uow() as uow:
        report = await portrait_store.store_portraits(
            uow.session,
            root=container.settings.event_log_dir,
            engine=PortraitEngine.duckdb,
            now=now,
            step=step,
        )
        await uow.commit()
    tick("portraits", 2, 2)
    return report


async def seed(
    container: DemoContainer,
    size: WorldSize = WorldSize(),
    *,
    progress: Progress | None = None,
    clock: Clock | None = None,
) -> SeedReport:
    """Seed the demo world unless it is there already."""
    if await is_seeded(container):
        return SeedReport(seeded=False)
    began = time.perf_counter()
    seeder = Seeder(container, size, progress, (clock or SystemClock()).now().astimezone(UTC))
    try:
        staff = await seeder.seed_staff()
        cat = await seeder.seed_catalogue(staff)
        await seeder.seed_qualifications(staff, cat)
        people = await seeder.seed_consumers(list(cat.brand_ids), list(staff.anchors))
        rooms = await seeder.seed_rooms(staff)
        await seeder.seed_history(staff, cat, rooms, people)
        live_ids = await seeder.seed_now(staff, cat, rooms, [(p.id, p.name) for p in people])
        # Portraits first, then marketing: segments and stage tracks read stored portraits.
        await seeder.sink.events.flush()
        stored = await store_portraits(container, now=seeder.now, progress=progress)
        seeder.count("portraits", stored.consumers)
        await seed_marketing(
            container, operator=staff.operator, consumer_ids=[p.id for p in people], now=seeder.now
        )
    finally:
        await seeder.sink.events.aclose()
    return SeedReport(
        seeded=True,
        seconds=time.perf_counter() - began,
        counts=seeder.counts,
        live_session_ids=live_ids,
        watch_seconds=seeder.watched,
    )
