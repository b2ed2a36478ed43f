"""The servers under test, each run as its own process: `python -m bench.servers KIND --port N`.

- `livecart`: uvicorn with `livecart.app:create_app`, as `livecart serve` runs it (settings from
  the environment, so the caller chooses LIVECART_DATA_DIR and the chat bucket).
- `ceiling`: the smallest relay the `websockets` library allows: every chat frame received is
  wrapped like a livecart chat frame and sent to every connection with `broadcast()`.

With BENCH_PROFILE=<path> the server runs under cProfile and writes its stats to
<path>.<kind> on exit (profiling slows it down: keep profiled runs out of the figures).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import json
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime

CEILING_USER = {"id": 2, "display_name": "bench chatter"}


def serve_livecart(port: int) -> None:
    """Serve livecart like `livecart serve` (access logs off: they are not what is measured)."""
    import uvicorn

    from livecart.cli import server_options
    from livecart.settings import Settings

    uvicorn.run(
        "livecart.app:create_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        **server_options(Settings()),
    )


async def _ceiling(port: int) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve
    from websockets.exceptions import ConnectionClosed

    ids = itertools.count(1)
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    connections: set[ServerConnection] = set()

    async def handler(websocket: ServerConnection) -> None:
        connections.add(websocket)
        try:
            async for raw in websocket:
                frame = json.loads(raw)
                if frame.get("type") != "chat":
                    continue
                out = {
                    "type": "chat",
                    "id": next(ids),
                    "user": CEILING_USER,
                    "text": frame["text"],
                    "at": datetime.now(UTC).isoformat(),
                }
                broadcast(connections, json.dumps(out, ensure_ascii=False, separators=(",", ":")))
        except ConnectionClosed:
            pass  # viewers are cut off at the end of a run
        finally:
            connections.discard(websocket)

    # The same compression as livecart (LIVECART_WS_COMPRESSION), so both do the same work.
    from livecart.settings import Settings

    compression = "deflate" if Settings().ws_compression else None
    async with serve(handler, "127.0.0.1", port, max_size=2**16, compression=compression):
        await stop


def serve_ceiling(port: int) -> None:
    """Serve the broadcast() relay until SIGTERM."""
    asyncio.run(_ceiling(port))


KINDS: dict[str, Callable[[int], None]] = {"livecart": serve_livecart, "ceiling": serve_ceiling}


def main() -> None:
    """Run one server, profiled when BENCH_PROFILE names a file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    run = KINDS[args.kind]
    profile_path = os.environ.get("BENCH_PROFILE")
    if not profile_path:
        run(args.port)
        return
    # uvicorn re-raises the SIGTERM it caught once it has shut down: exit cleanly on it instead,
    # so the stats below get written.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        run(args.port)
    finally:
        profiler.disable()
        profiler.dump_stats(f"{profile_path}.{args.kind}")


if __name__ == "__main__":
    main()
