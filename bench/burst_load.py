"""The burst's load generator: one process sends its share of the buyers' requests.

Each process keeps `concurrency` keep-alive connections (aiohttp) and that many requests in
flight, takes the next request as soon as one answers, and records for every request when it
was sent and answered (CLOCK_MONOTONIC, the same clock in every process), the status, the
order id of a 2xx answer and the error code of a refusal.
"""

from __future__ import annotations

import asyncio
import json
import time
from array import array
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import Any

WARMUP_PATH = "/api/v1/brands?limit=1"
# A connection the server closed just before we reused it (uvicorn's keep-alive timeout) is
# retried with the same Idempotency-Key, as any client would: it cannot make a second order.
CONNECTION_RETRIES = 2
READ_TIMEOUT = 60.0


@dataclass
class Job:
    """One request: whose token and which Idempotency-Key."""

    token: str
    key: str


@dataclass
class LoadReport:
    """What one process saw, request by request (arrays in the order of its jobs)."""

    sent_ns: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    done_ns: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    status: array = field(default_factory=lambda: array("h"))  # type: ignore[type-arg]
    order_id: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    code: array = field(default_factory=lambda: array("h"))  # type: ignore[type-arg]
    codes: list[str] = field(default_factory=list)
    retries: int = 0
    samples: list[str] = field(default_factory=list)  # a few unexpected answers, for the note
    cpu_seconds: float = 0.0

    def as_message(self) -> dict[str, Any]:
        """Picklable and compact, for the pipe."""
        return {
            "sent_ns": self.sent_ns.tobytes(),
            "done_ns": self.done_ns.tobytes(),
            "status": self.status.tobytes(),
            "order_id": self.order_id.tobytes(),
            "code": self.code.tobytes(),
            "codes": self.codes,
            "retries": self.retries,
            "samples": self.samples,
            "cpu_seconds": self.cpu_seconds,
        }


def _code_of(status: int, body: bytes) -> tuple[int, str]:
    """(order id or -1, error code or '') from an answer's body."""
    try:
        data = json.loads(body)
    except ValueError:
        return -1, "not_json"
    if not isinstance(data, dict):
        return -1, "unexpected_body"
    if 200 <= status < 300:
        value = data.get("id", data.get("order_id", data.get("user_id", -1)))
        return (int(value) if isinstance(value, int) else -1), ""
    error = data.get("error")
    if isinstance(error, dict):
        return -1, str(error.get("code", "no_code"))
    return -1, "no_code"


async def _drive(
    base_url: str,
    path: str,
    body: bytes,
    jobs: list[Job],
    concurrency: int,
    pipe: Connection,
    start: Event,
    seconds: float,
) -> None:
    import aiohttp

    report = LoadReport()
    n = len(jobs)
    report.sent_ns = array("q", bytes(8 * n))
    report.done_ns = array("q", bytes(8 * n))
    report.status = array("h", bytes(2 * n))
    report.order_id = array("q", [-1]) * n
    report.code = array("h", bytes(2 * n))
    code_index: dict[str, int] = {"": 0}
    report.codes.append("")
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=READ_TIMEOUT)
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as http:

        async def warm() -> None:
            async with http.get(WARMUP_PATH) as answer:
                await answer.read()

        # Open every connection before the start, so the burst does not pay for handshakes.
        await asyncio.gather(*(warm() for _ in range(concurrency)), return_exceptions=True)
        pipe.send(("ready", len(jobs)))
        await asyncio.get_running_loop().run_in_executor(None, start.wait)
        deadline = time.monotonic() + seconds
        next_job = iter(range(n))

        async def send(i: int) -> None:
            job = jobs[i]
            headers = {
                "Authorization": f"Bearer {job.token}",
                "Idempotency-Key": job.key,
                "Content-Type": "application/json",
            }
            report.sent_ns[i] = time.monotonic_ns()
            for attempt in range(CONNECTION_RETRIES + 1):
                try:
                    async with http.post(path, data=body, headers=headers) as answer:
                        raw = await answer.read()
                        status = answer.status
                    break
                except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                    if attempt == CONNECTION_RETRIES:
                        status, raw = 599, json.dumps({"error": {"code": type(exc).__name__}})
                        raw = raw.encode()
                    else:
                        report.retries += 1
                except TimeoutError:
                    status, raw = 598, b'{"error": {"code": "client_timeout"}}'
                    break
            report.done_ns[i] = time.monotonic_ns()
            report.status[i] = status
            order_id, code = _code_of(status, raw)
            report.order_id[i] = order_id
            if code not in code_index:
                code_index[code] = len(report.codes)
                report.codes.append(code)
            report.code[i] = code_index[code]
            if status not in (200, 201, 409, 429) and len(report.samples) < 5:
                report.samples.append(f"{status} {raw[:200]!r}")

        async def worker() -> None:
            for i in next_job:
                if time.monotonic() > deadline:
                    return  # unsent requests keep status 0
                await send(i)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    report.cpu_seconds = time.process_time()
    pipe.send(("done", report.as_message()))


def load_process(
    base_url: str,
    path: str,
    body: bytes,
    jobs: list[Job],
    concurrency: int,
    pipe: Connection,
    start: Event,
    seconds: float,
) -> None:
    """Entry point of one load-generator process."""
    main = _drive(base_url, path, body, jobs, concurrency, pipe, start, seconds)
    try:
        import uvloop
    except ImportError:  # uvicorn[standard] brings it; the plain loop works too
        asyncio.run(main)
    else:
        uvloop.run(main)
