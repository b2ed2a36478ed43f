"""Marketing: segments, stage tracks, campaigns with holdouts and uplift, messages."""
