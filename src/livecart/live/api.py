"""REST routes of the live domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["live"])
