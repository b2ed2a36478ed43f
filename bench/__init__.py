"""livecart benchmarks: `python -m bench [fanout] ...` (see docs/benchmarks.md).

Every variant runs against a server in its own process, driven by load-generator processes on
the same machine, so the figures of livecart and of its ceiling pay the same client costs.
"""
