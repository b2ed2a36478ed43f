"""The risk signals of issue 5, item 7: compliance hits, price-truth violations, bot-like
activity and the anchor's overturn alerts; each moves the score of its own subject only, and
gives weight x min(value / saturation, 1)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Role
from livecart.bootstrap import Container, build_container, running
from livecart.cli import app
from livecart.core.clock import FrozenClock
from livecart.events import service as events
from livecart.events.schemas import EventType
from livecart.live import service as live
from livecart.settings import Settings
from livecart.supervision import service as supervision
from livecart.supervision.models import BotFinding, ComplianceHit, OverturnAlert
from livecart.supervision.risk import SIGNALS, WEIGHTS_TOTAL
from tests.integration.test_orders_flow import API, live_session, make_shop
from tests.support import auth, make_user

SIGNAL = {signal.name: signal for signal in SIGNALS}
runner = CliRunner()


async def _score(
    client: httpx.AsyncClient, operator: dict[str, str], kind: str, subject_id: int
) -> dict[str, dict[str, Any]]:
    r = await client.get(f"{API}/supervision/risk/{kind}/{subject_id}", headers=operator)
    assert r.status_code == 200, r.text
    body = r.json()
    parts = {c["signal"]: c for c in body["contributions"]}
    assert sum(c["contribution"] for c in parts.values()) == pytest.approx(body["score"])
    return parts


def _expected(name: str, value: float) -> float:
    signal = SIGNAL[name]
    return signal.weight * min(value / signal.saturation, 1.0)


def _check(part: dict[str, Any], name: str, value: float) -> None:
    assert part["value"] == value, (name, part)
    assert part["contribution"] == pytest.approx(_expected(name, value), abs=1e-4)


def test_weights_add_up_to_100() -> None:
    assert WEIGHTS_TOTAL == 100
    assert {"compliance_hits", "price_truth", "bot_activity"} <= set(SIGNAL)


async def test_compliance_hits_count_for_the_brand_product_and_anchor_concerned(
    client: httpx.AsyncClient, container: Container, any_backend: str
) -> None:
    operator = await auth(client, container, await make_user(container, Role.operator))
    mine, other = await make_shop(client, container, 5), await make_shop(client, container, 5)

    # A refused product create rolls back; the hit is kept in its own unit of work.
    body = {
        "brand_id": mine.brand_id,
        "title": "全网最低价 国家级 best serum",
        "category": "accessories",
        "skus": [{"code": "X1", "price": 1000, "currency": "CNY", "stock": 1}],
    }
    r = await client.post(f"{API}/products", json=body, headers=mine.merchant)
    assert r.status_code == 422 and r.json()["error"]["code"] == "compliance_blocked", r.text
    blocking = [h for h in r.json()["error"]["details"]["hits"] if h["action"] == "block"]
    assert blocking
    async with container.uow() as uow:
        rows = list(await uow.session.scalars(select(ComplianceHit)))
    assert {(row.brand_id, row.source, row.action) for row in rows} == {
        (mine.brand_id, h["kind"], "block") for h in blocking
    }
    brand = await _score(client, operator, "brand", mine.brand_id)
    _check(brand["compliance_hits"], "compliance_hits", len(blocking))
    _check(
        (await _score(client, operator, "brand", other.brand_id))["compliance_hits"],
        "compliance_hits",
        0,
    )

    # A warn-only hit of an accepted title counts for the product (once, however often saved).
    for _ in range(2):
        r = await client.patch(
            f"{API}/products/{mine.product_id}",
            json={"title": "A perfect gift"},
            headers=mine.merchant,
        )
        assert r.status_code == 200, r.text
        assert [w["rule_id"] for w in r.json()["compliance_warnings"]] == ["superlative_claims"]
    _check(
        (await _score(client, operator, "product", mine.product_id))["compliance_hits"],
        "compliance_hits",
        1,
    )
    _check(
        (await _score(client, operator, "product", other.product_id))["compliance_hits"],
        "compliance_hits",
        0,
    )
    brand = await _score(client, operator, "brand", mine.brand_id)
    _check(brand["compliance_hits"], "compliance_hits", len(blocking) + 1)

    # A host's refused chat message counts for that anchor, not for another one.
    session_id, anchor_id, _ = await live_session(client, container)
    _, bystander_id, _ = await live_session(client, container)
    async with container.uow() as uow:
        host = await accounts.load_identity(uow.session, anchor_id)
        assert host is not None
        outcome = await live.post_chat(
            uow,
            clock=container.clock,
            actor=host,
            session_id=session_id,
            text="全网第一的面霜",
            banned_words=[],
            lexicon=container.lexicon,
        )
        await uow.commit()
    assert outcome.error is not None and outcome.error.code == "compliance_blocked"
    async with container.uow() as uow:
        chat_rows = list(
            await uow.session.scalars(select(ComplianceHit).where(ComplianceHit.source == "chat"))
        )
    assert [(row.anchor_id, row.session_id) for row in chat_rows] == [(anchor_id, session_id)]
    assert "面霜" not in "".join(row.excerpt for row in chat_rows)  # the words hit, not the text
    _check(
        (await _score(client, operator, "anchor", anchor_id))["compliance_hits"],
        "compliance_hits",
        len(chat_rows),
    )
    _check(
        (await _score(client, operator, "anchor", bystander_id))["compliance_hits"],
        "compliance_hits",
        0,
    )


async def test_refused_price_claims_count_as_price_truth_violations(
    client: httpx.AsyncClient, container: Container, any_backend: str
) -> None:
    operator = await auth(client, container, await make_user(container, Role.operator))
    mine, other = await make_shop(client, container, 5), await make_shop(client, container, 5)
    sku = mine.sku_ids[0]

    # "Was 120, now 100" when it never sold at 120.
    r = await client.patch(
        f"{API}/skus/{sku}", json={"original_price": mine.prices[0] + 2000}, headers=mine.merchant
    )
    assert r.json()["error"]["code"] == "original_price_not_supported", r.text
    # A flash sale at the regular price: not below the 7/30-day lowest.
    session_id, anchor_id, anchor = await live_session(client, container)
    r = await client.post(
        f"{API}/sessions/{session_id}/showcase",
        json={"product_id": mine.product_id},
        headers=anchor,
    )
    assert r.status_code == 200, r.text
    body = {"session_id": session_id, "sku_id": sku, "price": mine.prices[0], "quantity": 2}
    r = await client.post(f"{API}/flash-sales", json=body, headers=anchor)
    assert r.json()["error"]["code"] == "price_not_lowest", r.text
    # A true discount is not a violation.
    r = await client.post(
        f"{API}/flash-sales", json={**body, "price": mine.prices[0] // 2}, headers=anchor
    )
    assert r.status_code == 201, r.text

    for kind, subject in (("product", mine.product_id), ("brand", mine.brand_id)):
        parts = await _score(client, operator, kind, subject)
        _check(parts["price_truth"], "price_truth", 2)
        _check(parts["compliance_hits"], "compliance_hits", 0)
    _check((await _score(client, operator, "anchor", anchor_id))["price_truth"], "price_truth", 1)
    for kind, subject in (("product", other.product_id), ("brand", other.brand_id)):
        _check((await _score(client, operator, kind, subject))["price_truth"], "price_truth", 0)


async def _log(container: Container, *rows: dict[str, Any]) -> None:
    events.emit(
        container,
        *(events.new_event(row.pop("type"), source="server", **row) for row in rows),
    )
    await container.events.flush()


async def test_bot_like_likes_and_join_bursts_count_for_the_anchor_of_the_session(
    client: httpx.AsyncClient, container: Container, any_backend: str
) -> None:
    operator = await auth(client, container, await make_user(container, Role.operator))
    session_id, anchor_id, anchor = await live_session(client, container)
    other_session, other_anchor, _ = await live_session(client, container)
    r = await client.post(f"{API}/rooms", json={"title": "Second room"}, headers=anchor)
    assert r.status_code == 201, r.text
    room_id, later = r.json()["id"], []
    for title in ("Tuesday", "Friday"):
        r = await client.post(
            f"{API}/rooms/{room_id}/sessions", json={"title": title}, headers=anchor
        )
        assert r.status_code == 201, r.text
        later.append(int(r.json()["id"]))
    now = container.clock.now()
    liker, human = await make_user(container), await make_user(container)
    where = {"session_id": session_id, "anchor_id": anchor_id}
    elsewhere = {"session_id": other_session, "anchor_id": other_anchor}
    # 300 likes in 30 s from one account; 40 from a person; 299 in a minute elsewhere.
    rows: list[dict[str, Any]] = [
        {
            "type": EventType.LIKE,
            "occurred_at": now + timedelta(seconds=i / 10),
            "consumer_id": liker,
            **where,
        }
        for i in range(300)
    ]
    rows += [
        {
            "type": EventType.LIKE,
            "occurred_at": now + timedelta(seconds=i),
            "consumer_id": human,
            **where,
        }
        for i in range(40)
    ]
    rows += [
        {
            "type": EventType.LIKE,
            "occurred_at": now + timedelta(seconds=i / 5),
            "consumer_id": liker,
            **elsewhere,
        }
        for i in range(299)
    ]
    # Six new accounts join within half a second and do nothing else: a join burst.
    burst = [await make_user(container) for _ in range(6)]
    rows += [
        {
            "type": EventType.JOIN,
            "occurred_at": now + timedelta(milliseconds=80 * i),
            "consumer_id": uid,
            **where,
        }
        for i, uid in enumerate(burst)
    ]
    # Elsewhere six join as fast, but each one chats: people, not a burst.
    talkers = [await make_user(container) for _ in range(6)]
    for i, uid in enumerate(talkers):
        at = now + timedelta(milliseconds=80 * i)
        rows.append({"type": EventType.JOIN, "occurred_at": at, "consumer_id": uid, **elsewhere})
        rows.append(
            {
                "type": EventType.CHAT,
                "occurred_at": at + timedelta(seconds=20),
                "consumer_id": uid,
                "text": "hi",
                **elsewhere,
            }
        )
    # One account watches three of the anchor's sessions for 120 s each, to the second: a
    # timer. A person watches the same three for 120, 300 and 45 s.
    steady, person = await make_user(container), await make_user(container)
    for uid, spans in ((steady, (120, 120, 120)), (person, (120, 300, 45))):
        for sid, seconds in zip((session_id, *later), spans, strict=True):
            rows += [
                {
                    "type": EventType.HEARTBEAT,
                    "occurred_at": now + timedelta(seconds=k + 1),
                    "consumer_id": uid,
                    "watch_seconds": part,
                    "session_id": sid,
                    "anchor_id": anchor_id,
                }
                for k, part in enumerate((seconds / 2, seconds / 2))
            ]
    await _log(container, *rows)

    async def detect() -> list[dict[str, Any]]:
        async with container.uow() as uow:
            found = await supervision.detect_bot_activity(
                uow.session,
                event_log=container.settings.event_log_dir,
                clock=container.clock,
                since=now - timedelta(days=1),
            )
            await uow.commit()
        return found

    found = await detect()
    assert sorted((f["session_id"], f["detector"], f["accounts"]) for f in found) == [
        (session_id, "join_burst", 6),
        (session_id, "like_burst", 1),
        (session_id, "steady_watch", 1),
        (later[0], "steady_watch", 1),
        (later[1], "steady_watch", 1),
    ]
    await detect()  # a second run replaces its findings: nothing counts twice
    _check(
        (await _score(client, operator, "anchor", anchor_id))["bot_activity"], "bot_activity", 10
    )
    _check(
        (await _score(client, operator, "anchor", other_anchor))["bot_activity"], "bot_activity", 0
    )

    # The six viewers of the burst speak up later: people after all, so the next run drops the
    # finding instead of keeping it.
    await _log(
        container,
        *[
            {
                "type": EventType.CHAT,
                "occurred_at": now + timedelta(seconds=40),
                "consumer_id": uid,
                "text": "hello",
                **where,
            }
            for uid in burst
        ],
    )
    found = await detect()
    async with container.uow() as uow:
        kept = set(
            (await uow.session.execute(select(BotFinding.session_id, BotFinding.detector))).all()
        )
    assert {(f["session_id"], f["detector"]) for f in found} == kept
    assert (session_id, "join_burst") not in kept and (session_id, "like_burst") in kept
    assert len(kept) == 4


async def test_overturn_alerts_count_in_every_session_of_the_anchor(
    client: httpx.AsyncClient, container: Container, any_backend: str
) -> None:
    operator = await auth(client, container, await make_user(container, Role.operator))
    session_id, anchor_id, _ = await live_session(client, container)
    _, other_anchor, _ = await live_session(client, container)
    # No consumer report names this session: the alert is found through the live domain.
    async with container.uow() as uow:
        uow.session.add(
            OverturnAlert(
                session_id=session_id,
                at=container.clock.now(),
                negative=6,
                window_seconds=30,
                terms=["fake"],
            )
        )
        await uow.commit()
    _check(
        (await _score(client, operator, "anchor", anchor_id))["overturn_alerts"],
        "overturn_alerts",
        1,
    )
    _check(
        (await _score(client, operator, "anchor", other_anchor))["overturn_alerts"],
        "overturn_alerts",
        0,
    )


async def add_hits(container: Container, brand_id: int, count: int) -> None:
    """Compliance hits on a brand's product titles, now."""
    async with container.uow() as uow:
        for n in range(count):
            uow.session.add(
                ComplianceHit(
                    at=container.clock.now(),
                    source="product_title",
                    action="block",
                    rule_id="absolute_terms",
                    excerpt=f"最{n}",
                    brand_id=brand_id,
                    details={},
                )
            )
        await uow.commit()


async def _hits(settings: Settings, brand_id: int, count: int) -> None:
    async with running(build_container(settings)) as container:
        await add_hits(container, brand_id, count)


def test_livecart_risk_scores_prints_contributions_as_json(tmp_path: Path) -> None:
    env = {"LIVECART_DATA_DIR": str(tmp_path / "var"), "LIVECART_DATABASE_URL": None}
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    asyncio.run(_hits(Settings(data_dir=tmp_path / "var", database_url=None), 7, 12))

    result = runner.invoke(app, ["risk", "scores", "--kind", "brand", "--json"], env=env)
    assert result.exit_code == 0, result.output
    (score,) = json.loads(result.stdout)
    assert (score["subject_kind"], score["subject_id"]) == ("brand", 7)
    parts = {c["signal"]: c for c in score["contributions"]}
    # 12 hits against a saturation of 10: the signal gives its whole weight, no more.
    assert parts["compliance_hits"]["value"] == 12
    assert parts["compliance_hits"]["contribution"] == pytest.approx(
        SIGNAL["compliance_hits"].weight
    )
    assert score["score"] == pytest.approx(_expected("compliance_hits", 12))
    assert {c["signal"] for c in score["contributions"]} == set(SIGNAL)

    result = runner.invoke(app, ["risk", "scores", "--kind", "anchor", "--json"], env=env)
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    result = runner.invoke(app, ["risk", "scores", "--apply", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert [(s["subject_id"], s["level"], s["action"]) for s in json.loads(result.stdout)] == [
        (7, "low", None)
    ]
    result = runner.invoke(app, ["risk", "scores"], env=env)
    assert result.exit_code == 0 and "brand 7" in result.stdout
    result = runner.invoke(app, ["risk", "detect-bots", "--json"], env=env)
    assert result.exit_code == 0 and json.loads(result.stdout) == []


async def brand_at_act(container: Container, brand_id: int, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Twelve compliance hits on the brand and the act threshold below their weight (8, the
    most compliance hits alone can give); returns the risk job to run."""
    from livecart.supervision import risk

    await add_hits(container, brand_id, 12)
    monkeypatch.setattr(risk, "ACT_AT", SIGNAL["compliance_hits"].weight - 1)

    def job() -> Any:
        return risk.run_risk_job(
            container.uow, clock=container.clock, event_log=container.settings.event_log_dir
        )

    return job


async def test_the_periodic_risk_job_warns_a_subject_at_act_once_a_week(
    client: httpx.AsyncClient,
    container: Container,
    any_backend: str,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from livecart.supervision.models import Sanction

    shop, bystander = await make_shop(client, container, 5), await make_shop(client, container, 5)
    job = await brand_at_act(container, shop.brand_id, monkeypatch)
    assert await job() == {"bot_findings": 0, "scored": 1, "warned": 1}
    assert await job() == {"bot_findings": 0, "scored": 1, "warned": 0}  # once a week at most
    async with container.uow() as uow:
        warned = list(await uow.session.scalars(select(Sanction)))
    assert [(s.kind, s.subject_kind, s.subject_id, s.created_by) for s in warned] == [
        ("warn", "brand", shop.brand_id, None)
    ]
    assert bystander.brand_id != shop.brand_id
    clock.advance(days=8)
    assert (await job())["warned"] == 1


async def test_two_workers_running_the_risk_job_at_once_warn_a_subject_once(
    client: httpx.AsyncClient,
    container: Container,
    postgres_backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every worker runs the job; two at once (two transactions on PostgreSQL) both find the
    brand at `act`, and only the first may warn it: acting holds a lock until commit."""
    from livecart.supervision.models import Sanction

    shop = await make_shop(client, container, 5)
    job = await brand_at_act(container, shop.brand_id, monkeypatch)
    results = await asyncio.gather(job(), job(), job())
    assert sorted(r["warned"] for r in results) == [0, 0, 1]
    async with container.uow() as uow:
        warned = list(await uow.session.scalars(select(Sanction)))
    assert [(s.kind, s.subject_id) for s in warned] == [("warn", shop.brand_id)]


async def test_scoring_every_subject_takes_as_many_queries_for_four_brands_as_for_one(
    client: httpx.AsyncClient, container: Container, any_backend: str
) -> None:
    """The dashboard and the job score every signalled subject: one grouped query per
    signal, not a round of queries per subject."""
    from sqlalchemy import event

    from livecart.supervision import risk

    shops = [await make_shop(client, container, 5) for _ in range(4)]

    async def scored() -> tuple[list[int], int]:
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        event.listen(container.engine.sync_engine, "before_cursor_execute", count)
        try:
            async with container.uow() as uow:
                scores = await risk.risk_scores(
                    uow.session, subject_kind="brand", now=container.clock.now()
                )
        finally:
            event.remove(container.engine.sync_engine, "before_cursor_execute", count)
        return [s.subject_id for s in scores if s.score > 0], len(statements)

    await add_hits(container, shops[0].brand_id, 1)
    one, queries_for_one = await scored()
    for shop in shops[1:]:
        await add_hits(container, shop.brand_id, 1)
    four, queries_for_four = await scored()
    assert one == [shops[0].brand_id]
    assert sorted(four) == sorted(shop.brand_id for shop in shops)
    assert queries_for_four == queries_for_one
