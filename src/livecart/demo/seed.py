"""Seed the demo world through the domain services, with frozen clocks set in the past.

Accounts, catalogue and rooms first; then `history_days` of past live sessions with viewers
whose behaviour differs by persona (loyal big spenders, regulars, occasional viewers, window
shoppers, lapsed fans, night owls), their orders in every state, and their behaviour events
in the Parquet log on the dates they happened; then one or two sessions live now and a few
scheduled ones. Every batch is its own unit of work. A seeded `random.Random` makes it
reproducible.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Identity, Role
from livecart.catalog import service as catalog
from livecart.catalog.schemas import MediaUpload, SkuIn
from livecart.core.clock import Clock, FrozenClock, SystemClock
from livecart.core.security import hash_password
from livecart.demo import world

if TYPE_CHECKING:
    from livecart.bootstrap import Container as DemoContainer

Progress = Callable[[str, int, int], None]

HEARTBEAT_SECONDS = 60
CST = timedelta(hours=8)  # the demo audience lives in China Standard Time
# Local start hour and sessions per week of each anchor.
SCHEDULE = {"lily": (20, 4), "wang": (12, 3), "mia": (19, 3), "lin": (15, 2), "kevin": (23, 5)}
# Order states by the age of the order, as an order moves on in real life.
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
    history_days: int = 90
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


def _at(moment: datetime) -> FrozenClock:
    return FrozenClock(moment)


def _event_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


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
                await accounts.grant_role(
                    s, clock=_at(founded), actor=None, user_id=who.id, role=Role.anchor
                )
                anchors[spec.key] = who
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
                    cat.brand_of[out.id] = spec.key
                await uow.commit()
            self.count("brands")
            self.count("products", len(cat.products[spec.key]))
            self.count("skus", sum(len(cat.skus[p]) for p in cat.products[spec.key]))
            self.count("users")
            self.progress("catalogue", done + 1, len(brands))
        return cat

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


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


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
    staff = await seeder.seed_staff()
    cat = await seeder.seed_catalogue(staff)
    await seeder.seed_consumers(list(cat.brand_ids), list(staff.anchors))
    # Rooms, past sessions with orders and behaviour events, and the live sessions follow
    # once the live and commerce services exist (see the report of this change).
    return SeedReport(seeded=True, seconds=time.perf_counter() - began, counts=seeder.counts)
