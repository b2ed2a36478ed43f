"""`GET /healthz` (the process answers) and `GET /readyz` (it can do its work), for a load
balancer or an orchestrator in front of the workers.

Readiness checks what a request needs and a worker cannot repair by itself: the database
answers and its schema is at the newest migration, Redis answers when settings use it, and
the event log's folder takes files. Each check has its own time limit, so a hung dependency
gives a 503 within `CHECK_SECONDS`, not a hung probe. Errors name the exception class only:
the probe is anonymous, and connection strings stay out of its answer.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from livecart.bootstrap import Container
from livecart.core.migrations import current_heads

router = APIRouter(include_in_schema=False)
CHECK_SECONDS = 2.0


class Check(BaseModel):
    ok: bool
    ms: float
    detail: str | None = None


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, Check]


class NotReady(Exception):
    """A check's dependency answered, but not as a worker needs (the detail says how)."""


async def _database(container: Container) -> str:
    async with container.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        try:
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        except SQLAlchemyError as exc:
            raise NotReady("no migration applied: run `livecart db upgrade`") from exc
    applied = sorted(row[0] for row in rows)
    heads = sorted(current_heads())
    if applied != heads:
        raise NotReady(
            f"schema at {', '.join(applied) or 'nothing'}, code needs {', '.join(heads)}: "
            "run `livecart db upgrade`"
        )
    return f"schema at {', '.join(heads)}"


async def _redis(url: str) -> str:
    client = Redis.from_url(url, socket_timeout=CHECK_SECONDS, socket_connect_timeout=CHECK_SECONDS)
    try:
        await client.ping()
    finally:
        await client.aclose()
    return "ping answered"


async def _event_log(container: Container) -> str:
    folder = container.settings.event_log_dir
    if not folder.exists():  # the sink makes it on its first write, in the data folder
        folder = container.settings.data_dir
    if not os.access(folder, os.W_OK):
        raise NotReady(f"{folder.name}/ is not writable")
    free = await asyncio.to_thread(lambda: os.statvfs(folder))
    return f"{free.f_bavail * free.f_frsize // 2**20} MiB free"


async def _timed(check: Callable[[], Awaitable[str]]) -> Check:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(), CHECK_SECONDS)
        ok = True
    except TimeoutError:
        ok, detail = False, f"no answer in {CHECK_SECONDS:g} s"
    except NotReady as exc:
        ok, detail = False, str(exc)
    except Exception as exc:  # any failure of a dependency means not ready
        ok, detail = False, type(exc).__name__
    return Check(ok=ok, ms=round((time.perf_counter() - started) * 1000, 1), detail=detail)


async def readiness(container: Container) -> Readiness:
    """Run every check at once; ready when all pass."""
    checks: dict[str, Callable[[], Awaitable[str]]] = {
        "database": lambda: _database(container),
        "event_log": lambda: _event_log(container),
    }
    redis_url = container.settings.redis_url
    if redis_url:
        checks["redis"] = lambda: _redis(redis_url)
    results = await asyncio.gather(*(_timed(check) for check in checks.values()))
    outcome = dict(zip(checks, results, strict=True))
    ready = all(check.ok for check in results)
    return Readiness(status="ready" if ready else "not_ready", checks=outcome)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process serves requests (no dependency is asked)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 when every check passes, else 503; the body lists each check."""
    result = await readiness(request.app.state.container)
    return JSONResponse(result.model_dump(), status_code=200 if result.status == "ready" else 503)
