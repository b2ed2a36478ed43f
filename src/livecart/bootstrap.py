"""Composition root: builds engines, broker, event sink, providers and the clock from Settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from livecart.accounts.schemas import IdentityCache
from livecart.commerce.payments import PaymentProvider, SandboxPaymentProvider
from livecart.core.clock import Clock, SystemClock
from livecart.core.db import UnitOfWork, build_engine
from livecart.core.ratelimit import FailureCounter, KeyedBuckets, RedisBuckets
from livecart.core.security import TokenCache, resolve_secret
from livecart.events.sink import EventSink, ParquetEventSink
from livecart.flashsale.service import (
    Buckets,
    BuyLimits,
    FlashRuntime,
    LocalBuckets,
    units_left_in_session,
)
from livecart.flashsale.stock import MemoryStockStore, RedisStockStore, StockStore
from livecart.insights.willbuy_live import WillBuyModels
from livecart.marketing.delivery import Outbox
from livecart.marketing.mail import mailer_from
from livecart.realtime.broker import Broker, InMemoryBroker
from livecart.realtime.hub import Hub
from livecart.realtime.redis_broker import RedisBroker
from livecart.realtime.viewer_counts import LocalViewerCounts, RedisViewerCounts, ViewerCounts
from livecart.settings import Settings
from livecart.supervision.service import Lexicon, load_lexicon

log = logging.getLogger(__name__)


@dataclass
class Container:
    """Everything long-lived that a request, socket or job may need."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    broker: Broker
    events: EventSink
    payments: PaymentProvider
    secret: str
    login_failures: FailureCounter
    tokens: TokenCache
    identities: IdentityCache
    event_limits: KeyedBuckets
    hub: Hub
    # The compliance rules, loaded once (LIVECART_COMPLIANCE_LEXICON, else the packaged default).
    lexicon: Lexicon
    flash: FlashRuntime = field(init=False)
    # The newest will-buy model on disk (None until one is trained); reloaded by a job.
    willbuy: WillBuyModels = field(init=False)
    # Marketing e-mail (None when LIVECART_SMTP_HOST is unset: e-mail campaigns are refused).
    outbox: Outbox | None = field(init=False)
    background: list[asyncio.Task[None]] = field(default_factory=list)

    def uow(self) -> UnitOfWork:
        """A fresh unit of work."""
        return UnitOfWork(self.sessionmaker, publisher=self.broker)

    def every(self, seconds: float, job: Callable[[], Awaitable[object]], name: str) -> None:
        """Run a job periodically in the background; each run is independent and logged on error."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await job()
                except Exception:
                    log.exception("periodic job %s failed", name)

        self.background.append(asyncio.create_task(loop(), name=name))

    def once(self, job: Callable[[], Awaitable[object]], name: str) -> None:
        """Run a job once in the background (a start-up check, a campaign's first e-mail
        round), logged on error; the task leaves `background` when it ends."""

        async def run() -> None:
            try:
                await job()
            except Exception:
                log.exception("background job %s failed", name)

        task = asyncio.create_task(run(), name=name)
        self.background.append(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        with contextlib.suppress(ValueError):  # already cleared on shutdown
            self.background.remove(task)


def build_container(settings: Settings, *, clock: Clock | None = None) -> Container:
    """Wire the process from settings; no I/O here besides reading the secret and the lexicon."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = resolve_secret(settings.secret_key, settings.data_dir)
    engine = build_engine(settings.async_database_url)
    clock = clock or SystemClock()
    lexicon = load_lexicon(settings.compliance_lexicon)
    # With Redis, room events and viewer counts are shared by every worker.
    broker: Broker
    viewer_counts: ViewerCounts
    if settings.redis_url:
        broker = RedisBroker(settings.redis_url, prefix=settings.redis_prefix)
        viewer_counts = RedisViewerCounts(
            settings.redis_url, prefix=f"{settings.redis_prefix}viewers:"
        )
    else:
        broker, viewer_counts = InMemoryBroker(), LocalViewerCounts()
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    events = ParquetEventSink(
        settings.event_log_dir,
        batch_size=settings.events_batch_size,
        flush_seconds=settings.events_flush_seconds,
    )
    container = Container(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        clock=clock,
        broker=broker,
        events=events,
        hub=Hub(
            broker=broker,
            sessionmaker=sessionmaker,
            clock=clock,
            settings=settings,
            events=events,
            viewer_counts=viewer_counts,
            lexicon=lexicon,
            sale_units=units_left_in_session,
        ),
        lexicon=lexicon,
        payments=SandboxPaymentProvider(settings.payment_webhook_secret or secret),
        secret=secret,
        login_failures=FailureCounter(settings.login_max_failures, settings.login_window_seconds),
        tokens=TokenCache(),
        identities=IdentityCache(settings.identity_cache_seconds),
        event_limits=KeyedBuckets(settings.events_client_burst, settings.events_client_per_seconds),
    )
    container.flash = build_flash(container)
    mailer = mailer_from(settings)
    container.outbox = (
        Outbox(
            container.uow,
            mailer,
            clock,
            secret=secret,
            base_url=settings.base_url,
            background=container.once,
        )
        if mailer is not None
        else None
    )
    container.willbuy = WillBuyModels(
        settings.willbuy_models_root,
        settings.event_log_dir,
        stale_seconds=2 * settings.heartbeat_seconds + settings.events_flush_seconds,
    )
    return container


def build_flash(container: Container) -> FlashRuntime:
    """Flash sales' stock store (memory, or Redis shared by workers), writer and limits."""
    settings = container.settings
    store: StockStore
    user_limits: Buckets
    ip_limits: Buckets
    if settings.flash_stock_store == "redis":
        if not settings.redis_url:
            raise ValueError("LIVECART_FLASH_STOCK_STORE=redis needs LIVECART_REDIS_URL")
        redis_store = store = RedisStockStore(settings.redis_url, settings.redis_prefix)
        limits_prefix = f"{settings.redis_prefix}flash-limits:"
        user_limits = RedisBuckets(
            redis_store.client,
            limits_prefix,
            settings.flash_user_burst,
            settings.flash_user_per_seconds,
        )
        ip_limits = RedisBuckets(
            redis_store.client,
            limits_prefix,
            settings.flash_ip_burst,
            settings.flash_ip_per_seconds,
        )
    else:
        store = MemoryStockStore()
        user_limits = LocalBuckets(
            KeyedBuckets(settings.flash_user_burst, settings.flash_user_per_seconds)
        )
        ip_limits = LocalBuckets(
            KeyedBuckets(settings.flash_ip_burst, settings.flash_ip_per_seconds)
        )
    return FlashRuntime(
        store=store,
        store_kind=settings.flash_stock_store,
        open_uow=container.uow,
        clock=container.clock,
        broker=container.broker,
        sink=container,
        limits=BuyLimits(user=user_limits, ip=ip_limits),
        reservation_minutes=settings.flash_reservation_minutes,
        push_seconds=settings.flash_stock_push_seconds,
        batch_max=settings.flash_batch_max,
    )


@contextlib.asynccontextmanager
async def running(container: Container) -> AsyncIterator[Container]:
    """Start background parts of a container and close everything on exit."""
    await container.events.start()
    await container.broker.start()
    await container.flash.start()
    try:
        yield container
    finally:
        await container.flash.close()
        tasks = list(container.background)  # ending tasks remove themselves
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        container.background.clear()
        await container.hub.aclose()
        await container.events.aclose()
        await container.broker.aclose()
        await container.engine.dispose()
