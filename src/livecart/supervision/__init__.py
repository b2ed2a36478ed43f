"""Supervision: compliance scanning of what is said and shown while selling (more to come)."""
