"""`python -m bench [burst] [fanout] [options]`: each benchmark prints its table; JSON is written.

burst: `--buyers 20000 --quantity 10000 --concurrency 200 --variants baseline-pg,...`; with
`--runs N` it checks instead of measuring: N verified bursts per variant (default variants
memory-sqlite,memory-pg,redis-pg2). fanout: `--viewers 1000,5000 --seconds 10 --rate 20`.
portraits (only when named): `--events 10000000 --phases scan,duckdb,spark` over a
generated log in a temporary folder. willbuy (only when named): `--willbuy-events
10000,1000000 --polls 10`, the buyer-estimate poll before and after the incremental tally.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from bench import burst, fanout, portraits, report
from bench import willbuy as willbuy_bench

# Benchmarks by name, in the order `python -m bench` (and `make bench`) runs them.
BENCHMARKS = ("burst", "fanout")
# Run only when named: `python -m bench portraits --events 10000000`.
ON_REQUEST = ("portraits", "willbuy")


def _counts(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in burst.VARIANTS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown variant {', '.join(unknown)}; known: {', '.join(burst.VARIANTS)}"
        )
    return names


def _port_range(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    return int(first), int(last or first)


def _burst_options(args: argparse.Namespace) -> burst.Options:
    return burst.Options(
        buyers=args.buyers,
        quantity=args.quantity,
        per_user_limit=args.limit,
        concurrency=args.concurrency,
        processes=args.processes or 2,
        seconds=args.time_bound,
        database_url=args.database_url,
        redis_url=args.redis_url,
        redis_prefix=args.redis_prefix,
        ports=args.ports,
    )


def run_burst(args: argparse.Namespace, console: Console, payload: dict[str, Any]) -> None:
    """The burst benchmark, or its correctness runs with --runs."""
    options = _burst_options(args)
    payload["burst_arguments"] = {
        **{k: v for k, v in vars(options).items() if k != "ports"},
        "ip_burst": burst.IP_BURST,
        "runs": args.runs,
        "retry_every": args.retry_every if args.runs else 0,
    }
    if args.runs:
        names = args.variants or list(burst.CHECK_VARIANTS)
        runs = burst.check(names, options, args.runs, args.retry_every)
        as_dicts = {name: [r.as_dict() for r in results] for name, results in runs.items()}
        rows = report.check_rows(as_dicts, options.quantity, args.retry_every)
        report.print_check(rows, console)
        payload["burst_check"] = {"summary": rows, "runs": as_dicts}
        return
    names = args.variants or list(burst.DEFAULT_VARIANTS)
    results = burst.run(names, options)
    rows = report.burst_rows([r.as_dict() for r in results])
    report.print_burst(rows, console)
    payload["burst"] = rows


def run_portraits(args: argparse.Namespace, console: Console, payload: dict[str, Any]) -> None:
    """Generate the log, then measure each phase on it (the scan first: it is the ceiling)."""
    import tempfile

    shape = portraits.LogShape.for_events(args.events, days=args.days, layout=args.layout)
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = [p for p in phases if p not in portraits.PHASES]
    if unknown:
        raise SystemExit(f"unknown phase {', '.join(unknown)}; known: {portraits.PHASES}")
    payload["portraits_arguments"] = {
        **vars(shape),
        "files_per_day": args.files_per_day,
        "phases": phases,
    }
    payload["portraits_commit"] = portraits.git_commit()
    with tempfile.TemporaryDirectory(prefix="livecart-bench-events-", dir=args.events_dir) as tmp:
        root = Path(tmp) / "events"
        started = time.perf_counter()
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"generating {shape.events:,} events", total=shape.days)
            written = portraits.generate(
                root,
                shape,
                files_per_day=args.files_per_day,
                progress=lambda done, _: progress.update(task, completed=done),
            )
        parts = list(root.rglob("*.parquet"))
        files, size = len(parts), sum(f.stat().st_size for f in parts)
        payload["portraits_log"] = {
            "events": written,
            "files": files,
            "bytes": size,
            "generate_seconds": round(time.perf_counter() - started, 1),
        }
        seconds = payload["portraits_log"]["generate_seconds"]
        console.print(
            f"generated {written:,} events, {files:,} files, {size / 2**20:,.1f} MiB "
            f"in {seconds} s (commit {payload['portraits_commit']})"
        )
        results = []
        for phase in phases:
            console.print(f"measuring {phase} ...")
            results.append(portraits.measure(phase, root, spark_memory=args.spark_memory))
    rows = portraits.rows(results)
    report.print_portraits(rows, console)
    payload["portraits"] = rows


def main(argv: list[str] | None = None) -> None:
    """Run the chosen benchmarks, print their tables and write the JSON results."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("benchmarks", nargs="*", choices=[*BENCHMARKS, *ON_REQUEST, []], default=[])
    parser.add_argument(
        "--processes", type=int, default=None, help="load-generator processes (default 2-4)"
    )
    parser.add_argument("--json", type=Path, default=None, help="results file")
    fan = parser.add_argument_group("fanout")
    fan.add_argument("--viewers", type=_counts, default=[1000, 5000], help="e.g. 1000,5000")
    fan.add_argument("--seconds", type=float, default=10.0, help="chatting time per variant")
    fan.add_argument("--rate", type=float, default=20.0, help="chat messages per second")
    fan.add_argument(
        "--compression",
        choices=["deflate", "none"],
        default="deflate",
        help="what the viewers offer (browsers offer permessage-deflate)",
    )
    bur = parser.add_argument_group("burst")
    bur.add_argument("--buyers", type=int, default=20_000, help="distinct buyers, one try each")
    bur.add_argument("--quantity", type=int, default=10_000, help="units on sale")
    bur.add_argument("--limit", type=int, default=1, help="per-user limit")
    bur.add_argument("--concurrency", type=int, default=200, help="requests in flight in all")
    bur.add_argument(
        "--time-bound", type=float, default=120.0, help="seconds at most per phase (no-op, burst)"
    )
    bur.add_argument(
        "--variants",
        type=_names,
        default=None,
        help=f"comma-separated, of {','.join(burst.VARIANTS)}",
    )
    bur.add_argument(
        "--runs", type=int, default=0, help="check instead: N verified bursts per variant"
    )
    bur.add_argument(
        "--retry-every",
        type=int,
        default=burst.RETRY_EVERY,
        help="with --runs: every Nth buyer also retries its key and tries a second key (0: none)",
    )
    bur.add_argument(
        "--database-url",
        default=os.environ.get("LIVECART_BENCH_DATABASE_URL", burst.Options.database_url),
        help="PostgreSQL database the bench owns: its schema is dropped and rebuilt",
    )
    bur.add_argument(
        "--redis-url", default=os.environ.get("LIVECART_BENCH_REDIS_URL", burst.Options.redis_url)
    )
    bur.add_argument(
        "--redis-prefix", default=burst.Options.redis_prefix, help="only keys under it are used"
    )
    bur.add_argument("--ports", type=_port_range, default=None, help="e.g. 18200-18299")
    por = parser.add_argument_group("portraits")
    por.add_argument("--events", type=int, default=1_000_000, help="generated events")
    por.add_argument("--days", type=int, default=30, help="days of events")
    por.add_argument(
        "--files-per-day",
        type=int,
        default=0,
        help="0: one file a day as compaction writes it; N: N part files a day in time "
        "order, as the sink writes a day before compaction",
    )
    por.add_argument(
        "--layout",
        choices=portraits.LAYOUTS,
        default="visits",
        help="visits: join, heartbeats, actions, leave per viewer visit (as the server "
        "writes); scattered: every event drawn on its own (the first generator)",
    )
    por.add_argument(
        "--phases", default="scan,duckdb,spark", help="comma-separated, of scan,floor,duckdb,spark"
    )
    por.add_argument("--spark-memory", default="6g", help="Spark driver memory")
    por.add_argument(
        "--events-dir", default=None, help="where the temporary log goes (default: the system's)"
    )
    wb = parser.add_argument_group("willbuy")
    wb.add_argument("--willbuy-events", type=_counts, default=[10_000, 1_000_000])
    wb.add_argument("--polls", type=int, default=10, help="timed polls per figure")
    args = parser.parse_args(argv)
    chosen = args.benchmarks or list(BENCHMARKS)
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # the tables are wide; logs and CI are not terminals
    payload: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "machine": report.machine(),
        "arguments": {
            "viewers": args.viewers,
            "seconds": args.seconds,
            "rate": args.rate,
            "processes": args.processes,
            "compression": args.compression,
        },
    }
    if "burst" in chosen:
        run_burst(args, console, payload)
    if "fanout" in chosen:
        results = fanout.run(
            args.viewers,
            seconds=args.seconds,
            rate=args.rate,
            processes=args.processes,
            compression=args.compression,
        )
        rows = report.fanout_rows([r.as_dict() for r in results])
        report.print_fanout(rows, console)
        payload["fanout"] = rows
    if "portraits" in chosen:
        run_portraits(args, console, payload)
    if "willbuy" in chosen:
        wb_rows = willbuy_bench.run(willbuy_bench.Options(args.willbuy_events, polls=args.polls))
        willbuy_bench.print_table(wb_rows, console)
        payload["willbuy"] = wb_rows
    path = report.write_json(payload, args.json)
    console.print(f"results: {path}")


if __name__ == "__main__":
    main()
