"""The server's will-buy model: none yet, then v1 loaded, then v2 written while the app runs and
picked up by the reload job; the estimate for a live session says which version made it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.core.clock import FrozenClock
from livecart.events import service as events
from livecart.events.schemas import EventType
from livecart.insights import willbuy, willbuy_store
from livecart.settings import Settings
from tests.e2e.world import build_world
from tests.support import auth, make_user
from tests.willbuy_log import write_log

API = "/api/v1"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The usual test settings, with a models folder and a reload job every 0.2 s."""
    return settings.model_copy(
        update={"models_dir": tmp_path / "models", "willbuy_reload_seconds": 0.2}
    )


def trained_model(tmp_path: Path) -> Any:
    """A classifier fitted on a generated log (the server only needs a real model to score)."""
    log = write_log(tmp_path / "generated" / "events", sessions=8, viewers=30)
    rows = willbuy.training_rows(log.root)
    return willbuy.new_classifier().fit(rows.features, rows.label)


async def estimate_until(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], version: int
) -> dict[str, Any]:
    """Ask until the estimate comes from `version` (the reload job runs every 0.2 s)."""
    for _ in range(300):
        body: dict[str, Any] = (await client.get(url, headers=headers)).json()
        if body["model"] is not None and body["model"]["version"] == version:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"version {version} never reached the server: {body}")


@pytest.mark.usefixtures("any_backend")
async def test_estimate_uses_the_newest_version_written_while_running(
    container: Container,
    client: httpx.AsyncClient,
    clock: FrozenClock,
    settings: Settings,
    tmp_path: Path,
) -> None:
    world = await build_world(container)
    url = f"{API}/sessions/{world.session_id}/buyer-estimate"
    anchor = await auth(client, container, world.anchor_id)

    first = await client.get(url, headers=anchor)
    assert first.status_code == 200, first.text
    assert first.json()["model"] is None
    assert first.json()["likely_buyers"] is None
    assert "No will-buy model yet" in first.json()["message"]

    # Alice and Bob are watching (as the gateway records them); Alice already clicked a lot.
    now = clock.now()
    common = {"session_id": world.session_id, "anchor_id": world.anchor_id, "room_id": 1}
    batch = [
        events.new_event(EventType.JOIN, occurred_at=now, consumer_id=who, **common)
        for who in (world.alice_id, world.bob_id)
    ]
    batch += [
        events.new_event(
            EventType.PRODUCT_CLICK,
            occurred_at=now,
            consumer_id=world.alice_id,
            product_id=world.product_id,
            **common,
        )
        for _ in range(6)
    ]
    events.emit(container, *batch)
    await container.events.flush()

    model = await asyncio.to_thread(trained_model, tmp_path)
    willbuy_store.save(settings.willbuy_models_root, model, {"auc": 0.71, "base_rate": 0.2})
    one = await estimate_until(client, url, anchor, 1)
    assert one["model"]["auc"] == 0.71
    assert one["viewers_scored"] == 2
    assert 0 <= one["likely_buyers"] <= 2
    assert 0.0 <= one["expected_buyers"] <= 2.0
    assert one["threshold"] == willbuy.LIKELY_THRESHOLD
    scored = await container.willbuy.score(
        session_id=world.session_id,
        anchor_id=world.anchor_id,
        started=now,
        now=now,
    )
    assert scored is not None
    _stored, result = scored
    assert sorted(result.viewers) == sorted([world.alice_id, world.bob_id])
    assert one["expected_buyers"] == round(sum(result.probabilities), 2)
    assert one["likely_buyers"] == sum(p >= 0.5 for p in result.probabilities)
    assert f"{round(one['expected_buyers'])} of 2 viewers likely to buy now" in one["message"]
    # The incremental estimate is what a whole-log recompute gives.
    full = await container.willbuy.score_full(
        session_id=world.session_id, anchor_id=world.anchor_id, started=now, now=now
    )
    assert full is not None
    assert full[1].viewers == result.viewers
    assert full[1].probabilities == pytest.approx(result.probabilities)

    # A new version appears while the app runs: the next estimates come from it.
    willbuy_store.save(settings.willbuy_models_root, model, {"auc": 0.74, "base_rate": 0.2})
    two = await estimate_until(client, url, anchor, 2)
    assert two["model"]["auc"] == 0.74
    assert two["viewers_scored"] == 2


@pytest.mark.usefixtures("any_backend")
async def test_only_room_staff_see_the_estimate(
    container: Container, client: httpx.AsyncClient
) -> None:
    world = await build_world(container)
    url = f"{API}/sessions/{world.session_id}/buyer-estimate"
    assert (await client.get(url)).status_code == 401
    for user_id in (world.alice_id, await make_user(container, Role.anchor)):
        refused = await client.get(url, headers=await auth(client, container, user_id))
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "not_room_staff"
    operator = await make_user(container, Role.operator)
    allowed = await client.get(url, headers=await auth(client, container, operator))
    assert allowed.status_code == 200
    missing = await client.get(
        f"{API}/sessions/999999/buyer-estimate",
        headers=await auth(client, container, world.anchor_id),
    )
    assert missing.status_code == 404
