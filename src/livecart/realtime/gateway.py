"""The WebSocket gateway: one socket per viewer per live session."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["realtime"])
