"""The server's incremental will-buy features equal a full recompute of the log, after new
events, events ahead of the clock, a rewritten log file and compacted days; a poll reads only
new files."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from livecart.events import compaction
from livecart.events import service as events
from livecart.events.schemas import BehaviourEvent, EventType
from livecart.events.sink import log_files
from livecart.insights import willbuy
from livecart.insights.willbuy_live import WillBuyModels
from livecart.insights.willbuy_state import clv_scores_for
from livecart.insights.willbuy_store import StoredModel
from tests.willbuy_log import HEARTBEAT, generate, write

STALE = 2 * HEARTBEAT + 10.0
READ: list[int] = []  # files each `both` call's update read


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("willbuy_model") / "events"
    batch, _sessions, _end = generate(sessions=6, viewers=30, seed=3)
    write(root, batch)
    rows = willbuy.training_rows(root)
    return willbuy.new_classifier().fit(rows.features, rows.label)


def both(
    models: WillBuyModels, session_id: int, anchor_id: int, started: datetime, now: datetime
) -> tuple[willbuy.Rows, willbuy.Rows, list[float], list[float]]:
    """Rows and probabilities from the tally and from the whole log, at the same `now`."""
    tally = models.tally(session_id, anchor_id, started)
    tally.update(now)
    READ.append(tally.files_read)
    clv = clv_scores_for(models.events_root, started.date(), models._clv_by_day)
    fast = tally.rows(now, stale_seconds=STALE, clv_scores=clv)
    con = willbuy.connect(models.events_root)
    try:
        willbuy.live_cutoff(
            con, session_id=session_id, anchor_id=anchor_id, started=started, now=now
        )
        full = willbuy.build_rows(con, stale_seconds=STALE, clv_cache=models._clv_by_day)
    finally:
        con.close()
    args = {"session_id": session_id, "anchor_id": anchor_id, "started": started, "now": now}
    incremental = asyncio.run(models.score(**args))
    recomputed = asyncio.run(models.score_full(**args))
    assert incremental is not None and recomputed is not None
    assert incremental[1].viewers == recomputed[1].viewers
    return fast, full, incremental[1].probabilities, recomputed[1].probabilities


def assert_same(fast: willbuy.Rows, full: willbuy.Rows) -> None:
    assert fast.viewer.tolist() == full.viewer.tolist()
    assert fast.session_id.tolist() == full.session_id.tolist()
    np.testing.assert_allclose(fast.features, full.features, rtol=1e-12, atol=1e-6)


def test_incremental_state_equals_a_full_recompute_after_new_events(
    tmp_path: Path, model: Any
) -> None:
    root = tmp_path / "events"
    batch, sessions, _end = generate(sessions=5, viewers=30, seed=11)
    session_id = sessions[-1]
    anchor_id = 9000 + (len(sessions) - 1) % 3
    mine = [e for e in batch if e.session_id == session_id]
    started = min(e.occurred_at for e in mine)
    now = started + timedelta(minutes=40)
    # The log up to `now`; the rest of the session comes later, as the server would write it.
    write(root, [e for e in batch if e.session_id != session_id or e.occurred_at <= now])
    rest = sorted(
        (e for e in mine if e.occurred_at > now), key=lambda e: (e.occurred_at, e.event_id)
    )
    models = WillBuyModels(tmp_path / "models", root, stale_seconds=STALE, cache_seconds=0.0)
    models.current = StoredModel(version=1, model=model, metadata={})

    fast, full, p_fast, p_full = both(models, session_id, anchor_id, started, now)
    assert len(full) >= 3  # viewers are watching
    assert_same(fast, full)
    assert p_fast == pytest.approx(p_full, abs=1e-9)
    tally = models.tally(session_id, anchor_id, started)
    files = len(log_files(root))
    assert len(tally.files) == files

    # Ten minutes of the session, plus what a viewer does now: a question, clicks, a cart;
    # a newcomer joins; one event is ahead of the clock (another worker's) and must wait.
    later = now + timedelta(minutes=10)
    step = [e for e in rest if e.occurred_at <= later]
    watching = int(full.viewer[0])
    who = {"session_id": session_id, "anchor_id": anchor_id, "room_id": 1}
    extra = [
        events.new_event(EventType.CHAT, occurred_at=later, consumer_id=watching, **who),
        events.new_event(EventType.PRODUCT_CLICK, occurred_at=later, consumer_id=watching, **who),
        events.new_event(EventType.ADD_TO_CART, occurred_at=later, consumer_id=watching, **who),
        events.new_event(EventType.JOIN, occurred_at=later, consumer_id=4242, **who),
        events.new_event(
            EventType.PRODUCT_CLICK,
            occurred_at=later + timedelta(minutes=3),
            consumer_id=4242,
            **who,
        ),
    ]
    extra[0] = dataclasses.replace(extra[0], text="有没有小号?")
    write(root, step + extra)
    fast, full, p_fast, p_full = both(models, session_id, anchor_id, started, later)
    assert READ[-1] == len(log_files(root)) - files == 1  # only the new file
    assert_same(fast, full)
    assert p_fast == pytest.approx(p_full, abs=1e-9)
    row = fast.features[fast.viewer.tolist().index(watching)]
    assert row[willbuy.FEATURES.index("questions")] >= 1
    assert 4242 in fast.viewer.tolist()
    newcomer = fast.features[fast.viewer.tolist().index(4242)]
    assert newcomer[willbuy.FEATURES.index("product_clicks")] == 0  # the click is ahead of now

    # Later: the pending click counts now, and the rest of the session arrives.
    end = later + timedelta(minutes=5)
    write(root, [e for e in rest if later < e.occurred_at <= end])
    fast, full, p_fast, p_full = both(models, session_id, anchor_id, started, end)
    assert_same(fast, full)
    assert p_fast == pytest.approx(p_full, abs=1e-9)
    newcomer = fast.features[fast.viewer.tolist().index(4242)]
    assert newcomer[willbuy.FEATURES.index("product_clicks")] == 1

    # A file read before is rewritten (as privacy erasure does): the tally starts again.
    rebuilds = tally.rebuilds
    victim = log_files(root)[-1]
    table = pq.read_table(victim)
    keep = [i for i, c in enumerate(table.column("consumer_id").to_pylist()) if c != watching]
    pq.write_table(table.take(keep), victim)
    fast, full, p_fast, p_full = both(models, session_id, anchor_id, started, end)
    assert tally.rebuilds == rebuilds + 1
    assert_same(fast, full)
    assert p_fast == pytest.approx(p_full, abs=1e-9)

    # The closed days are compacted: their new files take the place of the files read, so
    # the tally reads nothing and does not start again.
    rebuilds = tally.rebuilds
    last_day = max(p.parent.name for p in log_files(root)).removeprefix("date=")
    compacted = compaction.compact_log(root, before=date.fromisoformat(last_day))
    assert compacted  # new files with new names
    fast, full, p_fast, p_full = both(models, session_id, anchor_id, started, end)
    assert tally.rebuilds == rebuilds and READ[-1] == 0
    assert_same(fast, full)
    assert p_fast == pytest.approx(p_full, abs=1e-9)


def test_an_estimate_is_kept_for_a_few_seconds(tmp_path: Path, model: Any) -> None:
    root = tmp_path / "events"
    who = {"session_id": 7, "anchor_id": 70, "room_id": 1}
    started = datetime.fromisoformat("2026-12-01T12:00:00+00:00")
    join: list[BehaviourEvent] = [
        events.new_event(EventType.JOIN, occurred_at=started, consumer_id=1, **who)
    ]
    write(root, join)
    models = WillBuyModels(tmp_path / "models", root, stale_seconds=STALE, cache_seconds=60.0)
    models.current = StoredModel(version=1, model=model, metadata={})
    args = {"session_id": 7, "anchor_id": 70, "started": started}
    first = asyncio.run(models.score(**args, now=started + timedelta(seconds=5)))
    write(root, [events.new_event(EventType.JOIN, occurred_at=started, consumer_id=2, **who)])
    cached = asyncio.run(models.score(**args, now=started + timedelta(seconds=6)))
    assert first is not None and cached is not None
    assert first[1].viewers == cached[1].viewers == [1]
    models.cache_seconds = 0.0
    fresh = asyncio.run(models.score(**args, now=started + timedelta(seconds=7)))
    assert fresh is not None and fresh[1].viewers == [1, 2]
