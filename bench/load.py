"""Load generators: viewer processes holding many sockets, and the chatting sender."""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import time
from array import array
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.stats import frames_of, marker_text, parse_markers

MARKER = "bench:"
CONNECT_CONCURRENCY = 50
CONNECT_TIMEOUT = 30.0


def raise_fd_limit() -> None:
    """Let this process open as many sockets as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class ViewerReport:
    """What one viewer process saw."""

    connected: int = 0
    failed: int = 0
    dropped: int = 0
    received: int = 0
    latencies_ms: array = field(default_factory=lambda: array("d"))  # type: ignore[type-arg]
    sequences: array = field(default_factory=lambda: array("l"))  # type: ignore[type-arg]
    cpu_seconds: float = 0.0
    extensions: str = ""


async def _watch(
    websocket: ClientConnection, report: ViewerReport, stopping: asyncio.Event
) -> None:
    latencies, sequences = report.latencies_ms, report.sequences
    try:
        async for raw in websocket:
            if not isinstance(raw, str):
                continue
            found = parse_markers(raw, MARKER)
            if not found:
                continue
            now = time.monotonic_ns()
            for sequence, sent_ns in found:
                latencies.append((now - sent_ns) / 1e6)
                sequences.append(sequence)
    except ConnectionClosed:
        pass
    if not stopping.is_set():
        report.dropped += 1


async def _viewers(
    url: str, count: int, compression: str | None, pipe: Connection, stop: Event
) -> None:
    report = ViewerReport()
    stopping = asyncio.Event()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    sockets: list[ClientConnection] = []

    async def open_one() -> None:
        async with gate:
            try:
                websocket = await asyncio.wait_for(
                    connect(
                        url,
                        max_size=2**20,
                        open_timeout=CONNECT_TIMEOUT,
                        compression=compression,
                    ),
                    CONNECT_TIMEOUT,
                )
            except (OSError, TimeoutError, ConnectionClosed, Exception):
                report.failed += 1
                return
            sockets.append(websocket)

    await asyncio.gather(*(open_one() for _ in range(count)))
    report.connected = len(sockets)
    if sockets:
        report.extensions = ",".join(str(e.name) for e in sockets[0].protocol.extensions)
    watchers = [asyncio.create_task(_watch(ws, report, stopping)) for ws in sockets]
    pipe.send(("connected", report.connected, report.failed))
    cpu_start = time.process_time()
    await asyncio.to_thread(stop.wait)
    stopping.set()
    report.cpu_seconds = time.process_time() - cpu_start
    report.received = len(report.latencies_ms)
    for task in watchers:
        task.cancel()
    for websocket in sockets:
        websocket.transport.abort()
    pipe.send(
        (
            "result",
            {
                "connected": report.connected,
                "failed": report.failed,
                "dropped": report.dropped,
                "received": report.received,
                "latencies_ms": report.latencies_ms.tobytes(),
                "sequences": report.sequences.tobytes(),
                "cpu_seconds": report.cpu_seconds,
                "extensions": report.extensions,
            },
        )
    )


def viewer_process(
    url: str, count: int, compression: str | None, pipe: Connection, stop: Event
) -> None:
    """Entry point of a viewer process: connect `count` sockets, record chat frames until stop."""
    raise_fd_limit()
    asyncio.run(_viewers(url, count, compression, pipe, stop))


@dataclass
class SenderReport:
    """What the chatting sender did."""

    sent: int = 0
    errors: int = 0
    seconds: float = 0.0
    echoed: int = 0
    error_codes: dict[str, int] = field(default_factory=dict)


async def send_chat(
    url: str, *, rate: float, seconds: float, compression: str | None, settle: float
) -> SenderReport:
    """Send `rate` chat frames per second for `seconds`, each with its send time in the text.

    The socket stays open until the sender has its own messages back (or `settle` seconds have
    passed): closing early would cut off messages the server has not read yet.
    """
    report = SenderReport()
    total = round(rate * seconds)
    echoed = 0
    done = asyncio.Event()
    # close_timeout: a backlogged server answering the close late must not stretch the window.
    async with connect(url, max_size=2**20, compression=compression, close_timeout=1) as websocket:

        async def drain() -> None:
            nonlocal echoed
            with contextlib.suppress(ConnectionClosed):
                async for raw in websocket:
                    if not isinstance(raw, str):
                        continue
                    for frame in frames_of(json.loads(raw)):
                        if not isinstance(frame, dict):
                            continue
                        if frame.get("type") == "error":
                            report.errors += 1
                            code = frame.get("error", {}).get("code", "?")
                            report.error_codes[code] = report.error_codes.get(code, 0) + 1
                        elif frame.get("type") == "chat" and MARKER in str(frame.get("text")):
                            echoed += 1
                    if echoed + report.errors >= total:
                        done.set()

        reader = asyncio.create_task(drain())
        start = time.monotonic()
        for seq in range(total):
            delay = start + seq / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            text = marker_text(MARKER, seq, time.monotonic_ns())
            await websocket.send(json.dumps({"type": "chat", "text": text}))
            report.sent += 1
        report.seconds = time.monotonic() - start
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), settle)
        report.echoed = echoed
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    return report
