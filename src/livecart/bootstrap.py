"""Composition root: builds engines, broker, event sink, providers and the clock from Settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from livecart.commerce.payments import PaymentProvider, SandboxPaymentProvider
from livecart.core.clock import Clock, SystemClock
from livecart.core.db import UnitOfWork, build_engine
from livecart.core.ratelimit import FailureCounter, KeyedBuckets
from livecart.events.sink import EventSink, ParquetEventSink
from livecart.realtime.broker import Broker, InMemoryBroker
from livecart.realtime.hub import Hub
from livecart.realtime.redis_broker import RedisBroker
from livecart.realtime.viewer_counts import LocalViewerCounts, RedisViewerCounts, ViewerCounts
from livecart.settings import Settings

log = logging.getLogger(__name__)


def resolve_secret(settings: Settings) -> str:
    """The signing secret: from settings, else generated once and kept in the data dir."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


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
    event_limits: KeyedBuckets
    hub: Hub
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


def build_container(settings: Settings, *, clock: Clock | None = None) -> Container:
    """Wire the process from settings; nothing here runs I/O besides reading the secret."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = resolve_secret(settings)
    engine = build_engine(settings.async_database_url)
    clock = clock or SystemClock()
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
    return Container(
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
        ),
        payments=SandboxPaymentProvider(settings.payment_webhook_secret or secret),
        secret=secret,
        login_failures=FailureCounter(settings.login_max_failures, settings.login_window_seconds),
        event_limits=KeyedBuckets(settings.events_client_burst, settings.events_client_per_seconds),
    )


@contextlib.asynccontextmanager
async def running(container: Container) -> AsyncIterator[Container]:
    """Start background parts of a container and close everything on exit."""
    await container.events.start()
    await container.broker.start()
    try:
        yield container
    finally:
        for task in container.background:
            task.cancel()
        for task in container.background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        container.background.clear()
        await container.hub.aclose()
        await container.events.aclose()
        await container.broker.aclose()
        await container.engine.dispose()
