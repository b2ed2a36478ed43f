"""The will-buy model inside the server: the newest version on disk, and estimates for a session.

The container holds one `WillBuyModels`. At start and every `willbuy_reload_seconds` a job
calls `refresh`, which loads a newer version if one appeared in `<models dir>/willbuy/`.

Live features come from the behaviour-event log, read with the very SQL that built the
training rows (one cut-off: now). That is the cheapest honest source: the server already
writes every join, heartbeat, chat, like, click, cart and order of the session there, so
training and serving cannot drift apart. It lags by the sink's flush (2 s) and watch time by
the heartbeat interval (30 s): a viewer's current stretch since their last heartbeat is not
counted yet. A viewer with no event for two heartbeats (a server that died without writing
the leave) no longer counts as watching.

Nothing heavy is imported here at module level: numpy, DuckDB and scikit-learn load with the
first model.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from livecart.insights.willbuy_store import StoredModel, load, newest_version

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scored:
    """The viewers watching a session now and each one's P(orders later in the session)."""

    viewers: list[int]
    probabilities: list[float]


class WillBuyModels:
    """The newest will-buy version on disk, loaded once and replaced when a newer one appears."""

    def __init__(self, models_dir: Path, events_root: Path, *, stale_seconds: float) -> None:
        self.models_dir = models_dir
        self.events_root = events_root
        self.stale_seconds = stale_seconds
        self.current: StoredModel | None = None
        self._lock = threading.Lock()
        # Customer-base scores by day (a BG/NBD fit on the orders before that day): fitted once.
        self._clv_by_day: dict[date, dict[int, tuple[float, float]]] = {}

    def reload(self) -> bool:
        """Load the newest version if it is newer than the one held; whether it changed."""
        newest = newest_version(self.models_dir)
        if newest is None or (self.current is not None and self.current.version >= newest):
            return False
        stored = load(self.models_dir, newest)
        with self._lock:
            self.current = stored
        log.info("will-buy model version %s loaded from %s", newest, self.models_dir)
        return True

    async def refresh(self) -> None:
        """`reload` off the event loop (reading a model file is blocking work)."""
        await asyncio.to_thread(self.reload)

    def _score(
        self, stored: StoredModel, session_id: int, anchor_id: int, started: datetime, now: datetime
    ) -> Scored:
        from livecart.insights import willbuy

        con = willbuy.connect(self.events_root)
        try:
            willbuy.live_cutoff(
                con, session_id=session_id, anchor_id=anchor_id, started=started, now=now
            )
            rows = willbuy.build_rows(
                con, stale_seconds=self.stale_seconds, clv_cache=self._clv_by_day
            )
        finally:
            con.close()
        probabilities = willbuy.score(stored.model, rows)
        return Scored(
            viewers=[int(v) for v in rows.viewer], probabilities=[float(p) for p in probabilities]
        )

    async def score(
        self, *, session_id: int, anchor_id: int, started: datetime, now: datetime
    ) -> tuple[StoredModel, Scored] | None:
        """The viewers watching now, scored by the current model; None without a model."""
        stored = self.current
        if stored is None:
            return None
        scored = await asyncio.to_thread(self._score, stored, session_id, anchor_id, started, now)
        return stored, scored


def model_summary(stored: StoredModel) -> dict[str, Any]:
    """What the API says about the model that made an estimate."""
    meta = stored.metadata
    return {
        "version": stored.version,
        "trained_at": meta.get("trained_at"),
        "auc": meta.get("auc"),
        "base_rate": meta.get("base_rate"),
    }
