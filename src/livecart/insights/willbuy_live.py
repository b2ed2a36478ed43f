"""The will-buy model inside the server: the newest version on disk, and estimates for a session.

The container holds one `WillBuyModels`. At start and every `willbuy_reload_seconds` a job
calls `refresh`, which loads a newer version if one appeared in `<models dir>/willbuy/`.

Live features come from the behaviour-event log, counted the way the training SQL counts
them (one cut-off: now): the server already writes every join, heartbeat, chat, like, click,
cart and order of the session there, so training and serving cannot drift apart. A poll does
not read the whole log: each session keeps a `willbuy_state.SessionTally` updated from the
part files it has not read yet, and an estimate is kept for `cache_seconds` (several staff
consoles polling one session cost one computation). `score_full` is the old whole-log
recompute, kept as the reference (tests compare the two) and as the bench's "before".
It lags by the sink's flush (2 s) and watch time by the heartbeat interval (30 s): a viewer's
current stretch since their last heartbeat is not counted yet. A viewer with no event for two
heartbeats (a server that died without writing the leave) no longer counts as watching.

Nothing heavy is imported here at module level: numpy, DuckDB and scikit-learn load with the
first model.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from livecart.insights.willbuy_store import StoredModel, load, newest_version

if TYPE_CHECKING:
    from livecart.insights.willbuy_state import SessionTally

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scored:
    """The viewers watching a session now and each one's P(orders later in the session)."""

    viewers: list[int]
    probabilities: list[float]
    as_of: datetime | None = None  # the `now` the features were counted to


# An estimate is reused for this many seconds (the console polls every 5 s).
CACHE_SECONDS = 2.0
# A session's tally not asked about for this long is dropped (the session ended).
IDLE_TALLY_SECONDS = 600.0


@dataclass
class _Held:
    tally: SessionTally
    lock: threading.Lock
    used: float  # time.monotonic() of the last poll
    estimate: tuple[int, datetime, Scored] | None = None  # model version, now, result
    computed: float = 0.0  # time.monotonic() when `estimate` was made


class WillBuyModels:
    """The newest will-buy version on disk, loaded once and replaced when a newer one appears."""

    def __init__(
        self,
        models_dir: Path,
        events_root: Path,
        *,
        stale_seconds: float,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.models_dir = models_dir
        self.events_root = events_root
        self.stale_seconds = stale_seconds
        self.cache_seconds = cache_seconds
        self.current: StoredModel | None = None
        self._lock = threading.Lock()
        self._sessions: dict[tuple[int, int, datetime], _Held] = {}
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

    def _full(
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
            viewers=[int(v) for v in rows.viewer],
            probabilities=[float(p) for p in probabilities],
            as_of=now,
        )

    def _held(self, session_id: int, anchor_id: int, started: datetime) -> _Held:
        from livecart.insights.willbuy_state import SessionTally

        key = (session_id, anchor_id, started.astimezone(UTC))
        clock = time.monotonic()
        with self._lock:
            for other in [
                k for k, h in self._sessions.items() if clock - h.used > IDLE_TALLY_SECONDS
            ]:
                self._sessions.pop(other).tally.close()
            held = self._sessions.get(key)
            if held is None:
                tally = SessionTally(
                    self.events_root, session_id=session_id, anchor_id=anchor_id, started=started
                )
                held = self._sessions[key] = _Held(tally=tally, lock=threading.Lock(), used=clock)
            held.used = clock
            return held

    def tally(self, session_id: int, anchor_id: int, started: datetime) -> SessionTally:
        """The session's incremental tally (the bench and tests look at how much it read)."""
        return self._held(session_id, anchor_id, started).tally

    def _incremental(
        self, stored: StoredModel, session_id: int, anchor_id: int, started: datetime, now: datetime
    ) -> Scored:
        from livecart.insights import willbuy
        from livecart.insights.willbuy_state import clv_scores_for

        held = self._held(session_id, anchor_id, started)
        with held.lock:  # one computation per session at a time; the others take its result
            cached = held.estimate
            if (
                cached is not None
                and cached[0] == stored.version
                and now >= cached[1]
                and time.monotonic() - held.computed < self.cache_seconds
            ):
                return cached[2]
            held.tally.update(now)
            day = started.astimezone(UTC).date()
            rows = held.tally.rows(
                now,
                stale_seconds=self.stale_seconds,
                clv_scores=clv_scores_for(self.events_root, day, self._clv_by_day),
            )
            probabilities = willbuy.score(stored.model, rows)
            result = Scored(
                viewers=[int(v) for v in rows.viewer],
                probabilities=[float(p) for p in probabilities],
                as_of=now,
            )
            held.estimate = (stored.version, now, result)
            held.computed = time.monotonic()
            return result

    async def score(
        self, *, session_id: int, anchor_id: int, started: datetime, now: datetime
    ) -> tuple[StoredModel, Scored] | None:
        """The viewers watching now, scored by the current model; None without a model.

        Features come from the session's incremental tally; an estimate younger than
        `cache_seconds` (and from the same model version) is returned as it is.
        """
        stored = self.current
        if stored is None:
            return None
        scored = await asyncio.to_thread(
            self._incremental, stored, session_id, anchor_id, started, now
        )
        return stored, scored

    async def score_full(
        self, *, session_id: int, anchor_id: int, started: datetime, now: datetime
    ) -> tuple[StoredModel, Scored] | None:
        """`score` recomputed from the whole log (the reference; its cost grows with the log)."""
        stored = self.current
        if stored is None:
            return None
        scored = await asyncio.to_thread(self._full, stored, session_id, anchor_id, started, now)
        return stored, scored


def model_summary(stored: StoredModel) -> dict[str, Any]:
    """What the API says about the model that made an estimate."""
    meta = stored.metadata
    return {
        "version": stored.version,
        "trained_at": meta.get("trained_at"),
        "auc": meta.get("auc"),
        "base_rate": meta.get("base_rate"),
        "calibration": meta.get("calibration_method"),
        "ece": meta.get("ece"),
    }
