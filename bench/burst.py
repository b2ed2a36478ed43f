"""Flash-sale burst: N distinct buyers, per-user limit 1, against a quantity Q, over real HTTP.

Variants (each its own server, from an empty database):
- `baseline-pg`: the usual way, `POST /api/v1/bench/baseline/skus/{id}/orders`: one PostgreSQL
  transaction per order with `SELECT ... FOR UPDATE` on the stock row, then UPDATE + INSERT;
- `memory-sqlite`, `memory-pg`: livecart's flash sale with the in-process stock store, 1 worker;
- `redis-pg2`: livecart's flash sale with the Redis stock store, 2 workers, PostgreSQL.

On every server the ceiling is measured first: the same buyers each send one authenticated
no-op (`POST /api/v1/bench/noop`), so each variant is compared with its own server stack. The
load generator is separate processes on the same machine (aiohttp, keep-alive connections, a
bounded number of requests in flight, a bounded time), so every variant pays the same for it.

`run()` measures (one burst per variant); `check()` repeats small bursts and verifies each:
exactly Q orders, no oversell, no duplicate, every 201 in the database.
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
import uuid
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.burst_load import Job, load_process
from bench.burst_world import (
    People,
    Shop,
    Stack,
    add_people,
    db_state,
    drop_redis_keys,
    open_shop,
    prepare_database,
    sale_state,
    server_env_base,
)
from bench.stats import busy_percent, cpu_seconds, machine_ticks, per_second, percentile

READY_TIMEOUT = 90.0
REPORT_TIMEOUT = 120.0
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# Every request comes from 127.0.0.1: the per-IP buying limit is raised so that its check
# still runs on every purchase but never refuses one (the per-user limit stays as it is).
IP_BURST = 10_000_000
BODY = b'{"quantity":1}'


@dataclass(frozen=True)
class Variant:
    """One server configuration and the purchase route it is measured with."""

    name: str
    database: str  # sqlite | postgresql
    workers: int
    store: str  # memory | redis (the flash-sale stock store)
    purchase: str  # baseline | livecart

    @property
    def stack(self) -> str:
        """How the server is set up, for the table."""
        db = "SQLite" if self.database == "sqlite" else "PostgreSQL"
        if self.purchase == "baseline":
            return f"FOR UPDATE, {db}, {self.workers} worker"
        plural = "s" if self.workers > 1 else ""
        return f"{self.store} store, {db}, {self.workers} worker{plural}"


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("baseline-pg", "postgresql", 1, "memory", "baseline"),
        Variant("baseline-pg2", "postgresql", 2, "memory", "baseline"),
        Variant("baseline-sqlite", "sqlite", 1, "memory", "baseline"),
        Variant("memory-sqlite", "sqlite", 1, "memory", "livecart"),
        Variant("memory-pg", "postgresql", 1, "memory", "livecart"),
        Variant("redis-pg2", "postgresql", 2, "redis", "livecart"),
    )
}
DEFAULT_VARIANTS = ("baseline-pg", "memory-sqlite", "memory-pg", "redis-pg2")
CHECK_VARIANTS = ("memory-sqlite", "memory-pg", "redis-pg2")
BASELINE = "baseline-pg"
# In the checks, every fourth buyer also retries (same key) and tries again (new key).
RETRY_EVERY = 4


@dataclass
class Options:
    """What every variant of one run shares."""

    buyers: int = 20_000
    quantity: int = 10_000
    per_user_limit: int = 1
    concurrency: int = 200  # requests in flight, over all load processes
    processes: int = 2
    seconds: float = 120.0  # time bound of each phase
    database_url: str = "postgresql://postgres@127.0.0.1:5432/livecart_bench"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "bench-burst:"
    ports: tuple[int, int] | None = None  # a range to take the server's port from


@dataclass
class Phase:
    """One phase (no-op or purchases) as the load generator saw it."""

    requests: int = 0
    answered: int = 0
    ok: int = 0  # 2xx
    outcomes: dict[str, int] = field(default_factory=dict)  # "201", "409 sold_out", ...
    seconds: float = 0.0  # first request sent -> last 2xx answered
    per_second: float = 0.0  # 2xx per second over that window
    p50_ms: float | None = None
    p99_ms: float | None = None
    p99_ok_ms: float | None = None
    server_cpu_percent: float = 0.0
    machine_cpu_percent: float = 0.0  # all cores, every process (100 = the machine is full)
    services_cpu_percent: dict[str, float] = field(default_factory=dict)  # postgres, redis
    client_cpu_seconds: float = 0.0
    retries: int = 0
    unsent: int = 0
    samples: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """Per request, in job order: status, order id of a 2xx, error code."""

    status: list[int]
    order_id: list[int]
    code: list[str]


@dataclass
class BurstResult:
    """The figures of one variant."""

    variant: str
    stack: str
    buyers: int
    quantity: int
    per_user_limit: int
    concurrency: int
    processes: int
    accepted: int = 0  # distinct orders answered 201
    accepted_per_second: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    p99_accepted_ms: float | None = None
    outcomes: dict[str, int] = field(default_factory=dict)
    noop_per_second: float | None = None
    noop_p50_ms: float | None = None
    noop_p99_ms: float | None = None
    orders_in_db: int = 0
    units_in_db: int = 0
    stock_left: int | None = None  # SKU stock (baseline) or the sale's remaining units
    sale: dict[str, Any] = field(default_factory=dict)
    oversell: int = 0
    duplicates: int = 0
    lost: int = 0  # 201s whose order is not in the database
    server_cpu_percent: float = 0.0
    noop_server_cpu_percent: float | None = None
    machine_cpu_percent: float = 0.0
    noop_machine_cpu_percent: float | None = None
    client_cpu_seconds: float = 0.0
    retries: int = 0
    burst: dict[str, Any] = field(default_factory=dict)
    noop: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return asdict(self)


# ---------------------------------------------------------------- processes


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def pick_port(ports: tuple[int, int] | None) -> int:
    """A free port: from the given range, or any the system hands out."""
    if ports is None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])
    for port in range(ports[0], ports[1] + 1):
        if _port_free(port):
            return port
    raise RuntimeError(f"no free port in {ports[0]}-{ports[1]}")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            tree.setdefault(parent, []).append(int(entry.name))
    return tree


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants (uvicorn's workers)."""
    tree = _children()
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError):
            total += cpu_seconds(Path(f"/proc/{current}/stat").read_text(), TICKS)
        todo.extend(tree.get(current, []))
    return total


SERVICES = {"postgres": ("postgres",), "redis": ("redis-server",)}


def services_cpu() -> dict[str, float]:
    """CPU seconds used so far by every PostgreSQL and Redis process on the machine."""
    totals = dict.fromkeys(SERVICES, 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            for service, names in SERVICES.items():
                if name in names:
                    totals[service] += cpu_seconds(stat, TICKS)
    return totals


def server_env(variant: Variant, stack: Stack) -> dict[str, str]:
    """The server's environment: its data, the store, the bench routes, the per-IP limit."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LIVECART_DATABASE_URL", "LIVECART_REDIS_URL")
    }
    env.update(server_env_base(stack))
    env.update(
        {
            "LIVECART_BENCH_ROUTES": "1",
            "LIVECART_FLASH_STOCK_STORE": variant.store,
            "LIVECART_FLASH_IP_BURST": str(IP_BURST),
        }
    )
    return env


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/api/v1/brands?limit=1", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"server at {base_url} not ready in {timeout}s")


@contextlib.contextmanager
def server(
    variant: Variant, stack: Stack, ports: tuple[int, int] | None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The server under test on a free port until the block ends."""
    port = pick_port(ports)
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "bench.burst_server"),
            *("--port", str(port), "--workers", str(variant.workers)),
        ],
        env=server_env(variant, stack),
        cwd=Path(__file__).resolve().parent.parent,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, process, READY_TIMEOUT)
        if variant.workers > 1:
            time.sleep(2.0)  # the first worker answered; give the others their start-up too
        yield base_url, process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---------------------------------------------------------------- load


def drive(
    base_url: str,
    path: str,
    body: bytes,
    jobs: list[Job],
    options: Options,
    server_pid: int,
) -> tuple[Phase, Outcome]:
    """Send the jobs from `options.processes` processes at once; gather what they saw."""
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    k = max(1, min(options.processes, len(jobs)))
    size = -(-len(jobs) // k)
    # Contiguous shares: a buyer's repeated attempts stay together, so they overlap in time.
    shares = [jobs[i * size : (i + 1) * size] for i in range(k)]
    per_process = max(1, options.concurrency // k)
    pipes, workers = [], []
    for share in shares:
        parent, child = ctx.Pipe(duplex=False)
        worker = ctx.Process(
            target=load_process,
            args=(base_url, path, body, share, per_process, child, start, options.seconds),
        )
        worker.start()
        pipes.append(parent)
        workers.append(worker)
    phase = Phase(requests=len(jobs))
    sent, done, status, order_id = array("q"), array("q"), array("h"), array("q")
    codes: list[str] = []
    try:
        for pipe in pipes:
            if not pipe.poll(READY_TIMEOUT):
                raise TimeoutError("a load process did not get ready")
            pipe.recv()
        cpu_before, wall_before = tree_cpu(server_pid), time.monotonic()
        machine_before = machine_ticks(Path("/proc/stat").read_text())
        services_before = services_cpu()
        start.set()
        for pipe in pipes:
            if not pipe.poll(options.seconds + REPORT_TIMEOUT):
                raise TimeoutError("a load process did not report")
            _, report = pipe.recv()
            sent.frombytes(report["sent_ns"])
            done.frombytes(report["done_ns"])
            status.frombytes(report["status"])
            order_id.frombytes(report["order_id"])
            names = report["codes"]
            part = array("h")
            part.frombytes(report["code"])
            codes.extend(names[c] for c in part)
            phase.retries += report["retries"]
            phase.samples.extend(report["samples"])
            phase.client_cpu_seconds += report["cpu_seconds"]
        cpu_used = tree_cpu(server_pid) - cpu_before
        window = time.monotonic() - wall_before
        phase.machine_cpu_percent = round(
            busy_percent(machine_before, machine_ticks(Path("/proc/stat").read_text())), 1
        )
        phase.services_cpu_percent = {
            name: round(100 * (used - services_before[name]) / window, 1)
            for name, used in services_cpu().items()
        }
    finally:
        start.set()
        for worker in workers:
            worker.join(30)
            if worker.is_alive():
                worker.kill()
    outcome = Outcome(list(status), list(order_id), codes)
    answered = [i for i, s in enumerate(outcome.status) if s != 0]
    phase.answered = len(answered)
    phase.unsent = len(jobs) - len(answered)
    counts: Counter[str] = Counter()
    for i in answered:
        s = outcome.status[i]
        counts[f"{s} {outcome.code[i]}".strip()] += 1
    phase.outcomes = dict(counts.most_common())
    ok = [i for i in answered if 200 <= outcome.status[i] < 300]
    phase.ok = len(ok)
    if answered:
        first = min(sent[i] for i in answered)
        last_ok = max((done[i] for i in ok), default=first)
        phase.seconds = round((last_ok - first) / 1e9, 3)
        phase.per_second = round(per_second(len(ok), phase.seconds), 1)
        latencies = [(done[i] - sent[i]) / 1e6 for i in answered]
        ok_latencies = [(done[i] - sent[i]) / 1e6 for i in ok]
        for name, values, pct in (
            ("p50_ms", latencies, 50.0),
            ("p99_ms", latencies, 99.0),
            ("p99_ok_ms", ok_latencies, 99.0),
        ):
            value = percentile(values, pct)
            setattr(phase, name, None if value is None else round(value, 1))
    phase.server_cpu_percent = round(100 * cpu_used / window, 1) if window > 0 else 0.0
    phase.client_cpu_seconds = round(phase.client_cpu_seconds, 2)
    return phase, outcome


def purchase_path(variant: Variant, shop: Shop, per_user_limit: int) -> str:
    """Where a buyer posts a purchase in this variant."""
    if variant.purchase == "baseline":
        return f"/api/v1/bench/baseline/skus/{shop.sku_id}/orders?limit={per_user_limit}"
    return f"/api/v1/flash-sales/{shop.sale_id}/orders"


def purchase_jobs(people: People, *, retry_every: int) -> tuple[list[Job], list[int]]:
    """One attempt per buyer; every `retry_every`-th buyer (0: none) also retries it at once
    with the same Idempotency-Key and tries again with a new key (over the per-user limit).

    Returns the jobs and, for each, the index of its buyer.
    """
    jobs: list[Job] = []
    owners: list[int] = []
    for n, token in enumerate(people.buyer_tokens):
        key = uuid.uuid4().hex
        retries = retry_every > 0 and n % retry_every == 0
        attempts = [key, key, uuid.uuid4().hex] if retries else [key]
        for attempt in attempts:
            jobs.append(Job(token, attempt))
            owners.append(n)
    return jobs, owners


# ---------------------------------------------------------------- one variant


@dataclass
class Verdict:
    """What one burst left behind, checked."""

    accepted_ids: set[int]
    buyers_over_limit_seen: int  # buyers answered 201 with more distinct orders than allowed


def _verdict(outcome: Outcome, owners: list[int], per_user_limit: int) -> Verdict:
    accepted: dict[int, set[int]] = {}
    for i, s in enumerate(outcome.status):
        if s in (200, 201) and outcome.order_id[i] > 0:
            accepted.setdefault(owners[i], set()).add(outcome.order_id[i])
    ids = {oid for group in accepted.values() for oid in group}
    over = sum(1 for group in accepted.values() if len(group) > per_user_limit)
    return Verdict(ids, over)


def burst_once(
    variant: Variant,
    stack: Stack,
    template_dir: Path,
    options: Options,
    *,
    noop: bool,
    retry_every: int,
) -> BurstResult:
    """Fresh database, buyers, server, shop (and sale); the no-op phase; the burst; the state."""
    result = BurstResult(
        variant.name,
        variant.stack,
        options.buyers,
        options.quantity,
        options.per_user_limit,
        options.concurrency,
        options.processes,
    )
    prepare_database(stack, template_dir)
    people = add_people(stack, options.buyers)
    with server(variant, stack, options.ports) as (base_url, process):
        shop = open_shop(
            base_url,
            people,
            quantity=options.quantity,
            per_user_limit=options.per_user_limit,
            flash_sale=variant.purchase == "livecart",
        )
        if noop:
            noop_jobs = [Job(token, "noop") for token in people.buyer_tokens]
            noop_phase, _ = drive(
                base_url, "/api/v1/bench/noop", b"", noop_jobs, options, process.pid
            )
            result.noop = asdict(noop_phase)
            result.noop_per_second = noop_phase.per_second
            result.noop_p50_ms = noop_phase.p50_ms
            result.noop_p99_ms = noop_phase.p99_ms
            result.noop_server_cpu_percent = noop_phase.server_cpu_percent
            result.noop_machine_cpu_percent = noop_phase.machine_cpu_percent
            time.sleep(1.0)
        jobs, owners = purchase_jobs(people, retry_every=retry_every)
        path = purchase_path(variant, shop, options.per_user_limit)
        phase, outcome = drive(base_url, path, BODY, jobs, options, process.pid)
        if shop.sale_id is not None:
            result.sale = sale_state(base_url, shop.sale_id)
    verdict = _verdict(outcome, owners, options.per_user_limit)
    state = db_state(stack, shop.sku_id, options.per_user_limit)
    result.burst = asdict(phase)
    result.accepted = len(verdict.accepted_ids)
    result.accepted_per_second = round(per_second(result.accepted, phase.seconds), 1)
    result.p50_ms, result.p99_ms, result.p99_accepted_ms = (
        phase.p50_ms,
        phase.p99_ms,
        phase.p99_ok_ms,
    )
    result.outcomes = phase.outcomes
    result.orders_in_db = state.orders
    result.units_in_db = state.units
    result.stock_left = (
        state.sku_stock if shop.sale_id is None else result.sale.get("remaining", None)
    )
    result.oversell = max(0, state.units - options.quantity)
    result.duplicates = state.duplicate_keys + state.over_limit + verdict.buyers_over_limit_seen
    result.lost = len(verdict.accepted_ids - state.order_ids)
    result.server_cpu_percent = phase.server_cpu_percent
    result.machine_cpu_percent = phase.machine_cpu_percent
    result.client_cpu_seconds = phase.client_cpu_seconds
    result.retries = phase.retries
    notes = []
    if phase.unsent:
        notes.append(f"time bound: {phase.unsent} not sent")
    if phase.samples:
        notes.append(phase.samples[0])
    result.note = "; ".join(notes)
    return result


def _stack_for(variant: Variant, data_dir: Path, options: Options, redis_prefix: str) -> Stack:
    return Stack(
        data_dir=data_dir,
        database_url=options.database_url if variant.database == "postgresql" else None,
        redis_url=options.redis_url if variant.store == "redis" else None,
        redis_prefix=redis_prefix,
    )


def _failed(variant: Variant, options: Options, exc: BaseException) -> BurstResult:
    return BurstResult(
        variant.name,
        variant.stack,
        options.buyers,
        options.quantity,
        options.per_user_limit,
        options.concurrency,
        options.processes,
        note=f"failed: {exc!r}"[:300],
    )


def run(variant_names: list[str], options: Options) -> list[BurstResult]:
    """The measured burst of every variant (the no-op ceiling on each server first)."""
    results: list[BurstResult] = []
    for name in variant_names:
        variant = VARIANTS[name]
        prefix = f"{options.redis_prefix}{uuid.uuid4().hex[:8]}:"
        try:
            with tempfile.TemporaryDirectory(prefix="livecart-burst-") as tmp:
                stack = _stack_for(variant, Path(tmp) / "data", options, prefix)
                results.append(
                    burst_once(
                        variant, stack, Path(tmp) / "template", options, noop=True, retry_every=0
                    )
                )
        except Exception as exc:
            results.append(_failed(variant, options, exc))
        finally:
            if variant.store == "redis":
                with contextlib.suppress(Exception):
                    drop_redis_keys(options.redis_url, prefix)
        print(json.dumps(results[-1].as_dict()), file=sys.stderr)
    return results


def check(
    variant_names: list[str], options: Options, runs: int, retry_every: int = RETRY_EVERY
) -> dict[str, list[BurstResult]]:
    """`runs` bursts per variant, each from an empty database and a fresh server, verified.

    Every `retry_every`-th buyer sends its attempt twice at once with one Idempotency-Key (a
    retry) and once more with a new key (over the limit), so duplicates have a chance to appear.
    """
    out: dict[str, list[BurstResult]] = {}
    for name in variant_names:
        variant = VARIANTS[name]
        out[name] = []
        with tempfile.TemporaryDirectory(prefix="livecart-burst-check-") as tmp:
            stack: Stack | None = None
            for n in range(runs):
                prefix = f"{options.redis_prefix}{uuid.uuid4().hex[:8]}:"
                try:
                    if stack is None:
                        stack = _stack_for(variant, Path(tmp) / "data", options, prefix)
                    stack.redis_prefix = prefix
                    result = burst_once(
                        variant,
                        stack,
                        Path(tmp) / "template",
                        options,
                        noop=False,
                        retry_every=retry_every,
                    )
                except Exception as exc:
                    result = _failed(variant, options, exc)
                finally:
                    if variant.store == "redis":
                        with contextlib.suppress(Exception):
                            drop_redis_keys(options.redis_url, prefix)
                out[name].append(result)
                print(
                    f"{name} run {n + 1}/{runs}: accepted={result.accepted} "
                    f"orders={result.orders_in_db} oversell={result.oversell} "
                    f"duplicates={result.duplicates} lost={result.lost} {result.note}",
                    file=sys.stderr,
                )
    return out
