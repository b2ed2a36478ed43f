"""Command-line jobs of marketing (each its own unit of work)."""
