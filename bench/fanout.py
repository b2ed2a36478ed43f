"""Fan-out: N viewers in one room, one user chatting `rate` messages a second.

Each viewer count runs two variants against the same load generators:
- `livecart`: the real app (uvicorn + livecart.app:create_app, SQLite in a temporary data dir),
  anchor, room, live session and chatting user set up through the CLI and the REST API;
- `ceiling`: the `websockets` library's `broadcast()` of the same frames (bench/servers.py).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.load import SenderReport, raise_fd_limit, send_chat, viewer_process
from bench.stats import backlog_trend, cpu_seconds, per_second, percentile

READY_TIMEOUT = 60.0
CONNECT_TIMEOUT = 150.0
DRAIN_SECONDS = 3.0
# How long the sender waits for its own messages after the last one. A server that fell behind
# still has them unread on the sender's socket: closing early (or aborting after a close timeout)
# throws them away, which would hide the backlog rather than measure it.
SETTLE_SECONDS = 10.0
PASSWORD = "bench-password-1"
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class VariantResult:
    """The figures of one variant at one viewer count."""

    variant: str
    viewers: int
    processes: int
    seconds: float
    rate: float
    connected: int = 0
    failed: int = 0
    dropped: int = 0
    sent: int = 0
    sender_errors: dict[str, int] = field(default_factory=dict)
    received: int = 0
    expected: int = 0
    deliveries_per_second: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    p50_first_ms: float | None = None  # messages in the first 20% of the run
    p50_last_ms: float | None = None  # and in the last 20%: rising means a growing backlog
    server_cpu_seconds: float = 0.0
    server_cpu_percent: float = 0.0
    client_cpu_seconds: float = 0.0
    connect_seconds: float = 0.0
    compression: str = "deflate"
    extensions: str = ""
    sender_echoed: int = 0
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return asdict(self)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait until the server accepts TCP connections (or fail if it died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"server on port {port} not ready in {timeout}s")


def read_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    return cpu_seconds(Path(f"/proc/{pid}/stat").read_text(), TICKS)


def _livecart_cli() -> str:
    return str(Path(sys.executable).with_name("livecart"))


def _create_user(env: dict[str, str], email: str, role: str) -> None:
    name = email.split("@")[0]
    subprocess.run(
        [
            *(_livecart_cli(), "users", "create", "--email", email, "--password", PASSWORD),
            *("--role", role, "--display-name", name, "--json"),
        ],
        env=env,
        check=True,
        capture_output=True,
    )


@contextlib.contextmanager
def server(kind: str, env: dict[str, str]) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """Run bench/servers.py KIND on a free port until the block ends."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.servers", kind, "--port", str(port)],
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        wait_for_port(port, process, READY_TIMEOUT)
        yield port, process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def livecart_env(data_dir: Path, rate: float) -> dict[str, str]:
    """The server's environment: its own SQLite, and a chat bucket wide enough for the bench."""
    env = dict(os.environ)
    env.update(
        {
            "LIVECART_DATA_DIR": str(data_dir),
            # The default bucket (3 per 2 s) would refuse most of the bench's messages.
            "LIVECART_CHAT_BUCKET_CAPACITY": str(max(10, int(rate * 4))),
            "LIVECART_CHAT_BUCKET_PER_SECONDS": "4",
        }
    )
    env.pop("LIVECART_DATABASE_URL", None)  # SQLite in the data dir, never a shared database
    return env


def setup_livecart(env: dict[str, str]) -> None:
    """Migrate the empty database and create the anchor and the chatting user."""
    subprocess.run([_livecart_cli(), "db", "upgrade"], env=env, check=True, capture_output=True)
    _create_user(env, "anchor@bench.example", "anchor")
    _create_user(env, "chatter@bench.example", "consumer")
    _create_user(env, "operator@bench.example", "operator")  # approves the anchor's identity


def open_live_session(base: str) -> tuple[int, str]:
    """Open a room and start a live session as the anchor; the session id and the chat token."""
    with httpx.Client(base_url=f"{base}/api/v1", timeout=30) as http:

        def token(email: str) -> str:
            answer = http.post("/auth/token", data={"username": email, "password": PASSWORD})
            answer.raise_for_status()
            return str(answer.json()["access_token"])

        anchor = {"Authorization": f"Bearer {token('anchor@bench.example')}"}
        operator = {"Authorization": f"Bearer {token('operator@bench.example')}"}
        # Going live needs the anchor's approved identity verification (supervision gate).
        record = http.post(
            "/supervision/qualifications",
            json={
                "kind": "identity_verification",
                "number": "BENCH-ID",
                "issuer": "bench",
                "valid_from": "2020-01-01",
                "expires_on": "2099-12-31",
                "date_of_birth": "1990-01-01",
            },
            headers=anchor,
        )
        record.raise_for_status()
        http.post(
            f"/supervision/qualifications/{record.json()['id']}/review",
            json={"decision": "approve"},
            headers=operator,
        ).raise_for_status()
        room = http.post("/rooms", json={"title": "bench room"}, headers=anchor)
        room.raise_for_status()
        room_id = room.json()["id"]
        live = http.post(f"/rooms/{room_id}/sessions", json={"title": "bench"}, headers=anchor)
        live.raise_for_status()
        session_id = int(live.json()["id"])
        http.post(f"/sessions/{session_id}/start", headers=anchor).raise_for_status()
        return session_id, token("chatter@bench.example")


def drive(
    result: VariantResult, *, viewer_url: str, sender_url: str, server_pid: int
) -> VariantResult:
    """Connect the viewers from separate processes, chat, and gather what they saw."""
    import asyncio

    compression = None if result.compression == "none" else result.compression
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    share = [result.viewers // result.processes] * result.processes
    for i in range(result.viewers % result.processes):
        share[i] += 1
    pipes = []
    workers = []
    started = time.monotonic()
    for count in share:
        parent, child = ctx.Pipe(duplex=False)
        args = (viewer_url, count, compression, child, stop)
        worker = ctx.Process(target=viewer_process, args=args)
        worker.start()
        pipes.append(parent)
        workers.append(worker)
    try:
        for pipe in pipes:
            if not pipe.poll(CONNECT_TIMEOUT):
                raise TimeoutError("viewers did not connect in time")
            _, connected, failed = pipe.recv()
            result.connected += connected
            result.failed += failed
        result.connect_seconds = round(time.monotonic() - started, 2)
        time.sleep(1.5)  # let joins settle (viewer-count frames, behaviour events)
        cpu_before, wall_before = read_cpu(server_pid), time.monotonic()
        sender: SenderReport = asyncio.run(
            send_chat(
                sender_url,
                rate=result.rate,
                seconds=result.seconds,
                compression=compression,
                settle=SETTLE_SECONDS,
            )
        )
        time.sleep(DRAIN_SECONDS)
        cpu_used = read_cpu(server_pid) - cpu_before
        window = time.monotonic() - wall_before
        stop.set()
        latencies = array("d")
        sequences = array("l")
        for pipe in pipes:
            if not pipe.poll(60):
                raise TimeoutError("a viewer process did not report")
            _, report = pipe.recv()
            result.dropped += report["dropped"]
            result.received += report["received"]
            result.client_cpu_seconds += report["cpu_seconds"]
            result.extensions = report["extensions"] or result.extensions
            latencies.frombytes(report["latencies_ms"])
            sequences.frombytes(report["sequences"])
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)
            if worker.is_alive():
                worker.kill()
    result.sent = sender.sent
    result.sender_errors = sender.error_codes
    result.sender_echoed = sender.echoed
    result.expected = result.connected * (sender.sent - sender.errors)
    result.deliveries_per_second = round(per_second(result.received, result.seconds), 1)
    values = latencies.tolist()
    for name, pct in (("p50_ms", 50.0), ("p99_ms", 99.0), ("max_ms", 100.0)):
        value = percentile(values, pct)
        setattr(result, name, None if value is None else round(value, 1))
    first, last = backlog_trend(sequences.tolist(), values, sender.sent)
    result.p50_first_ms = None if first is None else round(first, 1)
    result.p50_last_ms = None if last is None else round(last, 1)
    result.server_cpu_seconds = round(cpu_used, 2)
    result.server_cpu_percent = round(100 * cpu_used / window, 1)
    result.client_cpu_seconds = round(result.client_cpu_seconds, 2)
    return result


def run_livecart(
    viewers: int, *, seconds: float, rate: float, processes: int, compression: str
) -> VariantResult:
    """The livecart variant at one viewer count."""
    result = VariantResult("livecart", viewers, processes, seconds, rate, compression=compression)
    with tempfile.TemporaryDirectory(prefix="livecart-bench-") as tmp:
        env = livecart_env(Path(tmp), rate)
        setup_livecart(env)
        with server("livecart", env) as (port, process):
            session_id, token = open_live_session(f"http://127.0.0.1:{port}")
            # batch=1: frames come in batches (JSON arrays), as the browser client asks for them.
            url = f"ws://127.0.0.1:{port}/ws/sessions/{session_id}?batch=1"
            return drive(
                result, viewer_url=url, sender_url=f"{url}&token={token}", server_pid=process.pid
            )


def run_ceiling(
    viewers: int, *, seconds: float, rate: float, processes: int, compression: str
) -> VariantResult:
    """The broadcast() ceiling at one viewer count."""
    result = VariantResult("ceiling", viewers, processes, seconds, rate, compression=compression)
    with server("ceiling", dict(os.environ)) as (port, process):
        url = f"ws://127.0.0.1:{port}/"
        return drive(result, viewer_url=url, sender_url=url, server_pid=process.pid)


def processes_for(viewers: int) -> int:
    """Load-generator processes: 2, up to 4 for larger rooms (about 1,250 sockets each)."""
    return max(2, min(4, -(-viewers // 1250)))


def run(
    viewer_counts: list[int],
    *,
    seconds: float,
    rate: float,
    processes: int | None,
    compression: str = "deflate",
) -> list[VariantResult]:
    """Both variants at every viewer count, livecart first."""
    raise_fd_limit()
    results: list[VariantResult] = []
    for viewers in viewer_counts:
        k = processes or processes_for(viewers)
        for runner in (run_livecart, run_ceiling):
            try:
                results.append(
                    runner(
                        viewers, seconds=seconds, rate=rate, processes=k, compression=compression
                    )
                )
            except Exception as exc:
                name = "livecart" if runner is run_livecart else "ceiling"
                note = f"failed: {exc!r}"
                failed = VariantResult(
                    name, viewers, k, seconds, rate, compression=compression, note=note
                )
                results.append(failed)
            print(json.dumps(results[-1].as_dict()), file=sys.stderr)
    return results
