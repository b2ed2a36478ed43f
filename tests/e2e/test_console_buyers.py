"""The anchor console shows how many viewers are likely to buy now, once a model exists."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from livecart.events import service as events
from livecart.events.schemas import EventType
from livecart.insights import willbuy_store
from livecart.settings import Settings
from tests.conftest import LiveServer
from tests.e2e.conftest import login, on_server_db, screenshot
from tests.e2e.world import build_world
from tests.integration.test_willbuy_live import trained_model
from tests.willbuy_log import write


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={"models_dir": tmp_path / "models", "willbuy_reload_seconds": 0.2}
    )


def in_thread(work: Callable[[], object]) -> object:
    # While Playwright runs, this thread counts as inside an event loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


def test_console_shows_viewers_likely_to_buy(
    live_server: LiveServer, new_context: Callable[..., BrowserContext], tmp_path: Path
) -> None:
    world = on_server_db(live_server, build_world)
    now = datetime.now(UTC)
    common = {
        "session_id": world.session_id,
        "anchor_id": world.anchor_id,
        "room_id": world.room_id,
    }
    watching = [
        events.new_event(EventType.JOIN, occurred_at=now, consumer_id=who, **common)
        for who in (world.alice_id, world.bob_id)
    ]
    watching += [
        events.new_event(
            EventType.PRODUCT_CLICK,
            occurred_at=now,
            consumer_id=world.alice_id,
            product_id=world.product_id,
            **common,
        )
        for _ in range(8)
    ]
    in_thread(lambda: write(live_server.settings.event_log_dir, watching))

    console = new_context(viewport={"width": 1360, "height": 900}).new_page()
    login(console, live_server, world.anchor_id, f"/console/sessions/{world.session_id}")
    panel = console.locator("[data-testid=buyer-estimate]")
    headline = console.locator("[data-testid=buyer-estimate-headline]")
    expect(headline).to_have_text("No will-buy model yet")
    expect(panel).to_contain_text("livecart insights willbuy train")

    model = in_thread(lambda: trained_model(tmp_path))
    willbuy_store.save(live_server.settings.willbuy_models_root, model, {"auc": 0.71})
    expect(headline).to_have_text(re.compile(r"^\d+ viewers? likely to buy now$"), timeout=30_000)
    expect(panel).to_contain_text("model v1 · test AUC 0.71")
    expect(panel).to_contain_text("among 2 watching who have not ordered yet")
    expect(panel).to_contain_text("expected buyers (sum of probabilities)")
    expect(panel).to_contain_text(re.compile(r"\d+ at P ≥ 0\.5"))
    # A model stored without calibration metadata is flagged on the panel.
    expect(panel).to_contain_text("not calibrated: retrain it")
    panel.scroll_into_view_if_needed()
    screenshot(console, "console-buyers.png")
