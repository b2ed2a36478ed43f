"""The demo: a believable seeded world and simulated viewers that keep a live room busy."""
