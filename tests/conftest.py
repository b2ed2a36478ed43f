"""Shared fixtures: real databases (SQLite always, PostgreSQL when configured), the app, servers.

`LIVECART_TEST_DATABASE_URL` (PostgreSQL) and `LIVECART_TEST_REDIS_URL` switch on the real
services; with `LIVECART_TEST_STRICT=1` a test that would be skipped fails instead.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text

from livecart.app import create_app
from livecart.bootstrap import Container
from livecart.cli import server_options
from livecart.core.clock import Clock, FrozenClock, SystemClock
from livecart.core.db import build_engine
from livecart.settings import Settings, normalise_database_url
from livecart.tables import metadata

STRICT = os.environ.get("LIVECART_TEST_STRICT") == "1"
PG_URL = os.environ.get("LIVECART_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("LIVECART_TEST_REDIS_URL")


def need(condition: object, reason: str) -> None:
    """Skip when a real service is not configured; fail instead under LIVECART_TEST_STRICT=1."""
    if condition:
        return
    if STRICT:
        pytest.fail(f"strict mode: {reason}")
    pytest.skip(reason)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"strict mode forbids skips: {report.longrepr}"


@pytest.fixture(autouse=True, scope="session")
def _cheap_argon2() -> Iterator[None]:
    """Argon2id with small cost parameters: the same algorithm, a fraction of the test time."""
    from argon2 import PasswordHasher

    from livecart.core import security

    production = security._hasher
    security._hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    security._dummy_hash.cache_clear()
    yield
    security._hasher = production


_pg_prepared = False


async def _prepare_postgres(url: str) -> None:
    """Create the schema once per run, then empty every table before each test."""
    global _pg_prepared
    engine = build_engine(url, pool_size=1)
    async with engine.begin() as conn:
        if not _pg_prepared:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
            await conn.run_sync(metadata().create_all)
            _pg_prepared = True
        else:
            names = ", ".join(f'"{t.name}"' for t in metadata().sorted_tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await engine.dispose()


async def _prepare_sqlite(url: str) -> None:
    engine = build_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata().create_all)
    await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_backend(request: pytest.FixtureRequest) -> str:
    """Parametrises a test over SQLite and PostgreSQL."""
    return str(request.param)


@pytest.fixture
def postgres_backend() -> str:
    """For tests that only make sense on PostgreSQL (real concurrency)."""
    need(PG_URL, "LIVECART_TEST_DATABASE_URL is not set")
    return "postgresql"


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    """SQLite unless the test asked for `any_backend` or `postgres_backend`."""
    for name in ("postgres_backend", "any_backend"):
        if name in request.fixturenames:
            return str(request.getfixturevalue(name))
    return "sqlite"


@pytest.fixture
async def database_url(db_backend: str, tmp_path: Path) -> str:
    """A fresh, empty database with every table; the async URL."""
    if db_backend == "postgresql":
        need(PG_URL, "LIVECART_TEST_DATABASE_URL is not set")
        url = normalise_database_url(str(PG_URL))
        await _prepare_postgres(url)
        return url
    url = normalise_database_url(f"sqlite:///{tmp_path / 'test.db'}")
    await _prepare_sqlite(url)
    return url


@pytest.fixture
def clock() -> FrozenClock:
    """A clock that only moves when the test says so."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings pointing at the test database and a temporary data dir."""
    return Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        secret_key="test-secret-key-which-is-long-enough-for-hs256",
        cookie_secure=False,
        events_flush_seconds=0.2,
        allowed_origins=["http://testserver", "http://127.0.0.1", "http://localhost"],
    )


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock) -> AsyncIterator[FastAPI]:
    """The application with its lifespan running."""
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def container(app: FastAPI) -> Container:
    """The running app's container (database, broker, event sink, clock)."""
    result: Container = app.state.container
    return result


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in process."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """A real uvicorn server in a thread, for WebSockets, browsers and concurrency."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings.model_copy(
            update={
                "allowed_origins": [self.url, f"http://localhost:{self.port}"],
                "base_url": self.url,
            }
        )
        self.app = create_app(self.settings, clock=clock or SystemClock())
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            **server_options(self.settings),  # as `livecart serve` runs
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.02)

    @property
    def container(self) -> Container:
        result: Container = self.app.state.container
        return result

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """A running server on a free loopback port with the real system clock."""
    server = LiveServer(settings)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url() -> str:
    """The Redis to test against."""
    need(REDIS_URL, "LIVECART_TEST_REDIS_URL is not set")
    return str(REDIS_URL)


def run(coro: object) -> object:
    """Run a coroutine from sync test code."""
    return asyncio.run(coro)  # type: ignore[arg-type]
