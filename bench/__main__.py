"""`python -m bench [fanout] [--viewers 1000,5000] [--seconds 10] [--rate 20] [--json PATH]`."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import fanout, report

# Benchmarks by name. The flash-sale burst benchmark (orders against one SKU's stock) goes here
# as "burst", with its own module and table in bench/report.py.
BENCHMARKS = ("fanout",)


def _counts(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> None:
    """Run the chosen benchmarks, print their tables and write the JSON results."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("benchmarks", nargs="*", choices=[*BENCHMARKS, []], default=[])
    parser.add_argument("--viewers", type=_counts, default=[1000, 5000], help="e.g. 1000,5000")
    parser.add_argument("--seconds", type=float, default=10.0, help="chatting time per variant")
    parser.add_argument("--rate", type=float, default=20.0, help="chat messages per second")
    parser.add_argument(
        "--processes", type=int, default=None, help="load-generator processes (default 2-4)"
    )
    parser.add_argument(
        "--compression",
        choices=["deflate", "none"],
        default="deflate",
        help="what the viewers offer (browsers offer permessage-deflate)",
    )
    parser.add_argument("--json", type=Path, default=None, help="results file")
    args = parser.parse_args(argv)
    chosen = args.benchmarks or list(BENCHMARKS)
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # the table is wide; logs and CI are not terminals
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
    path = report.write_json(payload, args.json)
    console.print(f"results: {path}")


if __name__ == "__main__":
    main()
