"""Real `livecart serve --workers N` subprocesses for the flash-sale concurrency and crash tests.

`served(...)` migrates nothing: the caller's database must be migrated (`migrated_postgres`
runs `livecart db upgrade` on the test's PostgreSQL database once per test run, then empties
it before each test). The server gets a fixed secret (so tests mint tokens with
`create_access_token`), a temporary data dir, its own Redis key prefix, and is always killed,
with its whole process group, when the context exits (even on failure).

Worker processes are found as children of the uvicorn supervisor through /proc (psutil is not
a dependency); uvicorn's supervisor restarts a worker that died.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from redis.asyncio import Redis
from sqlalchemy import text

from livecart.core.db import build_engine
from livecart.settings import normalise_database_url
from livecart.tables import metadata
from tests import conftest

SECRET = "test-secret-key-which-is-long-enough-for-hs256"
PORTS = range(18300, 18400)
READY = "Application startup complete"
BIN = Path(sys.executable).parent


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def pick_port() -> int:
    """A free port of the range the flash tests may use (start at a random place in it)."""
    start = uuid.uuid4().int % len(PORTS)
    for i in range(len(PORTS)):
        port = PORTS[(start + i) % len(PORTS)]
        if _port_free(port):
            return port
    raise RuntimeError("no free port in 18300-18399")


_migrated: set[str] = set()


async def migrated_postgres(url: str) -> str:
    """The test PostgreSQL database migrated by `livecart db upgrade` (once), emptied; async URL.

    The first call drops the schema and migrates it the way an operator would; later calls
    only empty the tables (conftest's TRUNCATE), so every test starts from nothing.
    """
    async_url = normalise_database_url(url)
    if async_url not in _migrated:
        engine = build_engine(async_url, pool_size=1)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
        env = {**_base_env(), "LIVECART_DATABASE_URL": url}
        done = await asyncio.to_thread(
            subprocess.run,
            [str(BIN / "livecart"), "db", "upgrade"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        # Tables a branch declared but has not migrated yet, so that conftest's TRUNCATE of
        # every table keeps working for the tests after these (a no-op when in step).
        engine = build_engine(async_url, pool_size=1)
        async with engine.begin() as conn:
            await conn.run_sync(metadata().create_all)
        await engine.dispose()
        _migrated.add(async_url)
        conftest._pg_prepared = True  # the tables exist: conftest only empties them from now on
    await conftest._prepare_postgres(async_url)
    return async_url


def _base_env() -> dict[str, str]:
    """This process's environment without any LIVECART_ setting (each server gets its own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("LIVECART_")}


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass
class Server:
    """One `livecart serve` supervisor and its workers."""

    port: int
    workers: int
    log_path: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str] = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        """The live worker processes (children of the supervisor started by multiprocessing)."""
        return [
            pid
            for pid in _children(self.process.pid)
            if "spawn_main" in _cmdline(pid) and _alive(pid)
        ]

    def started(self) -> int:
        """How many workers have finished their start-up (from the server's log)."""
        return self.log().count(READY)

    async def wait_ready(self, started: int, timeout: float = 60.0) -> None:
        """Until `started` workers have started in total and the port answers."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.url, timeout=5) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited {self.process.returncode}:\n{self.log()}")
                if self.started() >= started and len(self.worker_pids()) == self.workers:
                    with contextlib.suppress(httpx.HTTPError):
                        r = await client.get("/api/v1/flash-sales/2147483647")
                        if r.status_code == 404:
                            return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server not ready in {timeout:.0f} s:\n{self.log()}")
                await asyncio.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left of it."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] not in "ZX"


@contextlib.asynccontextmanager
async def served(
    *,
    database_url: str,
    data_dir: Path,
    workers: int = 2,
    redis_url: str | None = None,
    redis_prefix: str | None = None,
    extra: dict[str, str] | None = None,
) -> AsyncIterator[Server]:
    """`livecart serve --workers N` on a free port of 18300-18399; killed on exit."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = pick_port()
    env = {
        **_base_env(),
        "LIVECART_DATABASE_URL": database_url,
        "LIVECART_DATA_DIR": str(data_dir),
        "LIVECART_SECRET_KEY": SECRET,
        "LIVECART_COOKIE_SECURE": "false",
        # Every buyer of these tests comes from 127.0.0.1.
        "LIVECART_FLASH_IP_BURST": "1000000",
        "LIVECART_FLASH_IP_PER_SECONDS": "1000000",
        **(extra or {}),
    }
    if redis_url:
        env["LIVECART_REDIS_URL"] = redis_url
        env["LIVECART_REDIS_PREFIX"] = redis_prefix or f"t{uuid.uuid4().hex[:10]}:"
        env.setdefault("LIVECART_FLASH_STOCK_STORE", "redis")
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(BIN / "livecart"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stop() kills the workers too
        )
    server = Server(port=port, workers=workers, log_path=log_path, process=process, env=env)
    try:
        await server.wait_ready(workers)
        yield server
    finally:
        server.stop()


async def delete_prefix(redis_url: str, prefix: str) -> int:
    """Delete every key under `prefix` (SCAN, never FLUSHDB): Redis "restarted empty"."""
    redis: Redis = Redis.from_url(redis_url)
    deleted = 0
    try:
        batch: list[bytes] = []
        async for name in redis.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(name)
            if len(batch) >= 500:
                deleted += await redis.delete(*batch)
                batch = []
        if batch:
            deleted += await redis.delete(*batch)
    finally:
        await redis.aclose()
    return deleted


class Phases:
    """Wall time of a test's phases, printed with its figures (pytest -s shows them)."""

    def __init__(self) -> None:
        self._last = time.monotonic()
        self.spent: dict[str, float] = {}

    def __call__(self, name: str) -> None:
        now = time.monotonic()
        self.spent[name] = round(now - self._last, 2)
        self._last = now

    def __str__(self) -> str:
        return ", ".join(f"{k} {v:.1f} s" for k, v in self.spent.items())
