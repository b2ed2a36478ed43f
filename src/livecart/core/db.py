"""Database engine, declarative base and the unit of work."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from types import TracebackType
from typing import Annotated, Any, ClassVar, Protocol, TypeVar

from sqlalchemy import BigInteger, DateTime, MetaData, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, mapped_column
from sqlalchemy.types import TypeDecorator

from livecart.core.clock import as_utc

log = logging.getLogger(__name__)
_T = TypeVar("_T")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Money in minor units: 64-bit, since input allows up to 10**12 and sums grow past int4.
MinorUnitsColumn = Annotated[int, mapped_column(BigInteger)]


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def build_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """Create the async engine for a normalised URL."""
    if url.startswith("sqlite"):
        # A small pool of open connections: opening one per request (a thread, the file, the
        # pragmas) cost ~10 ms of each request. SQLite runs one writer at a time anyway.
        engine = create_async_engine(url, pool_size=5, max_overflow=10, pool_timeout=30)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True
    )


def is_sqlite(engine: AsyncEngine | Engine) -> bool:
    """Whether the engine speaks SQLite (which serialises writers)."""
    return engine.dialect.name == "sqlite"


AfterCommit = Callable[[], Awaitable[object]]


async def read_one_snapshot(session: AsyncSession) -> None:
    """Make every later read of this transaction see one snapshot of the database.

    PostgreSQL's default READ COMMITTED lets each statement see commits made since the last;
    REPEATABLE READ pins the snapshot at the first statement. Call before the first query.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


async def hold_lock_until_commit(session: AsyncSession, key: int) -> None:
    """Wait for the lock named by key and hold it until this transaction ends, so the same
    step in other processes (several workers) runs after this one has committed.

    PostgreSQL: a transaction-level advisory lock; the waiting transaction's later reads
    (READ COMMITTED) see what the first one committed. SQLite takes no lock here: it has one
    writer at a time, and a transaction that read before another's commit cannot write
    after it.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


class Publisher(Protocol):
    """Where committed changes are announced (the real-time broker)."""

    async def publish(self, channel: str, message: dict[str, Any]) -> None: ...


class UnitOfWork:
    """One transaction per request, command or job; side effects run only after commit."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], publisher: Publisher | None = None
    ) -> None:
        self._sessionmaker = sessionmaker
        self._publisher = publisher
        self._after_commit: list[AfterCommit] = []
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        """The SQLAlchemy session of this unit of work."""
        if self._session is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._session

    def after_commit(self, callback: AfterCommit) -> None:
        """Schedule a side effect (publish, event) to run once the transaction has committed."""
        self._after_commit.append(callback)

    def publish_after_commit(self, channel: str, message: dict[str, Any]) -> None:
        """Announce a message on a broker channel once the transaction has committed."""
        publisher = self._publisher
        if publisher is None:
            return

        async def send() -> None:
            await publisher.publish(channel, message)

        self.after_commit(send)

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._sessionmaker()
        return self

    def fresh(self) -> UnitOfWork:
        """Another unit of work on the same database (for a side effect that records its
        result after this one has committed)."""
        return UnitOfWork(self._sessionmaker, publisher=self._publisher)

    async def commit(self) -> None:
        """Commit, then run the scheduled side effects; a failing side effect is logged only."""
        await self.session.commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            try:
                await callback()
            except Exception:
                log.exception("after-commit side effect failed")

    async def release(self) -> None:
        """End the transaction (nothing was written) and give the connection back to the pool,
        before waiting on something slow; the session opens a new one if used again."""
        self._after_commit.clear()
        await self.session.close()

    async def rollback(self) -> None:
        """Drop the transaction and every side effect scheduled in it."""
        self._after_commit.clear()
        await self.session.rollback()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            await self.rollback()
        await self.session.close()
        self._session = None


def run_in_unit_of_work(database_url: str, job: Callable[[UnitOfWork], Awaitable[_T]]) -> _T:
    """For a command-line command: run one job in one unit of work on an engine of its own
    (the job commits), then dispose of the engine."""

    async def main() -> _T:
        engine = build_engine(database_url, pool_size=1)
        try:
            async with UnitOfWork(async_sessionmaker(engine, expire_on_commit=False)) as uow:
                return await job(uow)
        finally:
            await engine.dispose()

    return asyncio.run(main())
