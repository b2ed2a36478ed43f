"""The burst's server under test: `python -m bench.burst_server --port N --workers W`.

What `livecart serve --workers W` runs (uvicorn, `livecart.app:create_app`, the same server
options, settings from the environment), with access logs off as in bench/servers.py: one log
line per request is not what is measured.

With BENCH_PROFILE=<path> (one worker only) the server runs under cProfile and writes its stats
to <path> on exit; profiled runs are slower, so keep them out of the figures.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import signal
import sys


def main() -> None:
    """Serve livecart until SIGTERM."""
    import uvicorn

    from livecart.cli import server_options
    from livecart.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    def serve() -> None:
        uvicorn.run(
            "livecart.app:create_app",
            factory=True,
            host="127.0.0.1",
            port=args.port,
            workers=args.workers,
            log_level="warning",
            access_log=False,
            **server_options(Settings()),
        )

    profile_path = os.environ.get("BENCH_PROFILE")
    if not profile_path or args.workers > 1:
        serve()
        return
    # uvicorn re-raises the SIGTERM it caught once it has shut down: exit cleanly instead, so
    # the stats get written.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        serve()
    finally:
        profiler.disable()
        profiler.dump_stats(profile_path)


if __name__ == "__main__":
    main()
