"""Stored portraits (`livecart insights portraits --store`): incremental runs over the event
log, the same stored result as a full recompute, and the portrait API with its access rules
and the personalisation switch."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.events import compaction
from livecart.events import service as events
from livecart.events.schemas import BehaviourEvent, EventType
from livecart.events.sink import log_files
from livecart.insights import portrait_store, service
from livecart.insights.models import (
    ConsumerAffinity,
    ConsumerPortrait,
    FanLevel,
    PortraitFact,
    PortraitKeyword,
    PortraitLogFile,
    PortraitRun,
)
from livecart.insights.portraits import Engine
from tests.integration.test_insights_portraits import write_with_sink
from tests.support import PASSWORD, auth, make_user


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def ev(kind: str, when: datetime, **fields: Any) -> BehaviourEvent:
    return events.new_event(EventType(kind), occurred_at=when, **fields)


def day_events(day: int, fan: int, shopper: int, anchor: int) -> list[BehaviourEvent]:
    """One day: a fan watching, chatting and buying in the anchor's session; a shopper
    browsing at night; an anonymous browser; a consumer id with no account."""
    s = 10 + day
    out = [
        ev("join", at(day, 20), consumer_id=fan, session_id=s, anchor_id=anchor),
        ev(
            "heartbeat",
            at(day, 20, 5),
            consumer_id=fan,
            session_id=s,
            anchor_id=anchor,
            watch_seconds=300.0,
        ),
        ev(
            "leave",
            at(day, 20, 30),
            consumer_id=fan,
            session_id=s,
            anchor_id=anchor,
            watch_seconds=1500.5,
        ),
        ev(
            "chat",
            at(day, 20, 6),
            consumer_id=fan,
            session_id=s,
            anchor_id=anchor,
            text="这个口红什么颜色？love the lipstick",
        ),
        ev("like", at(day, 20, 7), consumer_id=fan, session_id=s, anchor_id=anchor),
        ev(
            "order",
            at(day, 20, 9),
            consumer_id=fan,
            session_id=s,
            anchor_id=anchor,
            order_id=100 + day,
            product_id=1,
            quantity=1,
            amount=2500,
            currency="CNY",
        ),
        ev("detail_view", at(day, 23, 30), consumer_id=shopper, product_id=1),
        ev("detail_view", at(day, 23, 40), consumer_id=shopper, product_id=2),
        ev("add_to_cart", at(day, 23, 50), consumer_id=shopper, product_id=2, quantity=1),
        ev("product_click", at(day, 23, 55), consumer_id=shopper, product_id=2),
        ev("product_click", at(day, 12), anonymous_id="anon-1", product_id=1),
        ev("chat", at(day, 21), consumer_id=987654, session_id=s, anchor_id=anchor, text="hi"),
    ]
    return out


async def snapshot(container: Container) -> dict[str, list[dict[str, Any]]]:
    async with container.uow() as uow:
        found = {}
        for model in (ConsumerPortrait, ConsumerAffinity, FanLevel, PortraitKeyword):
            rows = (await uow.session.execute(select(model.__table__))).mappings().all()
            found[model.__tablename__] = sorted(
                (dict(r) for r in rows), key=lambda r: tuple(str(v) for v in r.values())
            )
        return found


def same(a: dict[str, list[dict[str, Any]]], b: dict[str, list[dict[str, Any]]]) -> None:
    """Equal, but for when they were computed and float sums' last bits."""
    assert a.keys() == b.keys()
    for table in a:
        assert len(a[table]) == len(b[table]), table
        for x, y in zip(a[table], b[table], strict=True):
            assert x.keys() == y.keys()
            for name in x:
                if name == "computed_at":
                    continue
                if isinstance(x[name], float) and isinstance(y[name], float):
                    assert math.isclose(x[name], y[name], rel_tol=1e-9), (table, name)
                else:
                    assert x[name] == y[name], (table, name, x[name], y[name])


async def store(container: Container, root: Path) -> Any:
    async with container.uow() as uow:
        report = await portrait_store.store_portraits(
            uow.session, root=root, engine=Engine.duckdb, now=container.clock.now()
        )
        await uow.commit()
        return report


async def test_incremental_runs_equal_a_full_recompute(
    container: Container, any_backend: str, tmp_path: Path
) -> None:
    fan = await make_user(container)
    shopper = await make_user(container)
    anchor = await make_user(container, Role.anchor)
    root = tmp_path / "events"
    await asyncio.to_thread(
        write_with_sink,
        root,
        day_events(1, fan, shopper, anchor) + day_events(2, fan, shopper, anchor),
    )

    first = await store(container, root)
    assert first.new_files >= 2 and first.events == 24 and first.consumers == 2
    assert (str(first.first_day), str(first.last_day)) == ("2026-03-01", "2026-03-02")
    after_first = await snapshot(container)

    again = await store(container, root)
    assert (again.new_files, again.events, again.first_day) == (0, 0, None)
    assert await snapshot(container) == after_first  # nothing changed, computed_at included

    await asyncio.to_thread(write_with_sink, root, day_events(3, fan, shopper, anchor))
    third = await store(container, root)
    assert third.new_files >= 1 and third.events == 12 and str(third.first_day) == "2026-03-03"
    incremental = await snapshot(container)
    assert incremental != after_first

    # A full recompute: forget every stored state and fold all files at once.
    async with container.uow() as uow:
        for model in (PortraitFact, PortraitKeyword, PortraitLogFile, PortraitRun):
            await uow.session.execute(delete(model))
        await uow.commit()
    full = await store(container, root)
    assert full.events == 36
    same(await snapshot(container), incremental)

    async with container.uow() as uow:
        mine = await service.get_portrait(uow.session, user_id=fan)
        theirs = await service.get_portrait(uow.session, user_id=shopper)
        ids = {p.user_id for p in await service.list_portraits(uow.session)}
    assert ids == {fan, shopper}  # no portrait for the unknown id or the anonymous browser
    assert mine.orders == 3 and mine.spend_minor == 7500 and mine.currency == "CNY"
    assert math.isclose(mine.watch_seconds, 3 * 1800.5) and mine.sessions_watched == 3
    assert mine.messages == 3 and mine.questions == 3 and mine.likes == 3
    # "这个口红什么颜色？love the lipstick" three times: stop words out, ties by code point
    assert [(k.word, k.count) for k in mine.top_keywords] == [
        ("lipstick", 3),
        ("love", 3),
        ("口红", 3),
        ("颜色", 3),
    ]
    # fan score: 90 whole minutes + 2 x 3 chats + 3 likes + 20 x 3 orders = 159 -> level 4
    assert [(f.anchor_id, f.score, f.level) for f in mine.fan_levels] == [(anchor, 159, 4)]
    assert "loyal_fan" in mine.tags
    assert theirs.orders == 0 and theirs.products_viewed == 2 and theirs.carts == 3
    assert "night_owl" in theirs.tags
    assert theirs.active_hours[23] == 12


async def test_a_compacted_log_is_not_counted_twice(
    container: Container, any_backend: str, tmp_path: Path
) -> None:
    """Compaction renames a day's events into a new file: a day read before is recorded as
    read, a compacted day holding events read and unread makes the run read the whole log
    again, and either way the stored portraits are those of the events, once."""
    fan = await make_user(container)
    shopper = await make_user(container)
    anchor = await make_user(container, Role.anchor)
    root = tmp_path / "events"
    for day in (1, 2):  # several files a day, as the sink writes them
        await asyncio.to_thread(
            write_with_sink, root, day_events(day, fan, shopper, anchor), batch=4
        )
    await store(container, root)
    before = await snapshot(container)

    compacted = await asyncio.to_thread(compaction.compact_log, root, before=date(2026, 3, 3))
    assert [c.day.day for c in compacted] == [1, 2] and all(c.files == 3 for c in compacted)
    relaid = await store(container, root)
    assert (relaid.new_files, relaid.events) == (0, 0)
    assert await snapshot(container) == before  # nothing recomputed
    async with container.uow() as uow:
        names = set(await uow.session.scalars(select(PortraitLogFile.name)))
    assert {n for n in names if "compact" in n} == {
        f.relative_to(root).as_posix() for f in log_files(root)
    }

    # Late events of day 2, then day 2 compacted again before any run read them.
    late = [ev("like", at(2, 22), consumer_id=fan, session_id=12, anchor_id=anchor)]
    await asyncio.to_thread(write_with_sink, root, late)
    await asyncio.to_thread(compaction.compact_log, root, before=date(2026, 3, 3))
    mixed = await store(container, root)
    assert mixed.events == 25 and mixed.new_files == 2  # every file read again
    rebuilt = await snapshot(container)
    async with container.uow() as uow:
        mine = await service.get_portrait(uow.session, user_id=fan)
    assert mine.likes == 3 and mine.orders == 2  # 2 + the late like; each order once

    # The same as a full recompute from the files.
    async with container.uow() as uow:
        for model in (PortraitFact, PortraitKeyword, PortraitLogFile, PortraitRun):
            await uow.session.execute(delete(model))
        await uow.commit()
    await store(container, root)
    same(await snapshot(container), rebuilt)


async def test_portrait_api_access_and_the_personalisation_switch(
    container: Container, client: httpx.AsyncClient, any_backend: str, tmp_path: Path
) -> None:
    fan = await make_user(container)
    shopper = await make_user(container)
    operator = await make_user(container, Role.operator)
    anchor = await make_user(container, Role.anchor)
    root = tmp_path / "events"
    await asyncio.to_thread(
        write_with_sink, root, [e for d in (1, 2, 3) for e in day_events(d, fan, shopper, anchor)]
    )
    await store(container, root)

    fan_headers = await auth(client, container, fan)
    own = await client.get("/api/v1/me/portrait", headers=fan_headers)
    assert own.status_code == 200 and own.json()["user_id"] == fan
    assert (
        await client.get(f"/api/v1/insights/portraits/{fan}", headers=fan_headers)
    ).status_code == 403
    op = await auth(client, container, operator)
    one = await client.get(f"/api/v1/insights/portraits/{shopper}", headers=op)
    assert one.status_code == 200 and one.json()["products_viewed"] == 2
    missing = await client.get(f"/api/v1/insights/portraits/{operator}", headers=op)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "portrait_not_found"
    tagged = await client.get("/api/v1/insights/portraits?tag=night_owl", headers=op)
    assert [p["user_id"] for p in tagged.json()] == [shopper]

    async with container.uow() as uow:
        assert (await service.portrait_for_personalisation(uow.session, user_id=fan)) is not None
    r = await client.put("/api/v1/me/privacy", json={"personalisation": False}, headers=fan_headers)
    assert r.status_code == 200, r.text
    async with container.uow() as uow:
        assert await service.portrait_for_personalisation(uow.session, user_id=fan) is None
        assert not await accounts.personalisation_allowed(uow.session, fan)
    # The consumer still sees their own portrait.
    assert (await client.get("/api/v1/me/portrait", headers=fan_headers)).status_code == 200
    shutil.rmtree(root)


async def test_export_has_the_portrait_and_deletion_erases_it(
    container: Container, client: httpx.AsyncClient, any_backend: str, tmp_path: Path
) -> None:
    fan = await make_user(container)
    shopper = await make_user(container)
    anchor = await make_user(container, Role.anchor)
    root = tmp_path / "events"
    await asyncio.to_thread(write_with_sink, root, day_events(1, fan, shopper, anchor))
    await store(container, root)
    headers = await auth(client, container, fan)

    export = await client.get("/api/v1/me/export", headers=headers)
    assert export.status_code == 200, export.text
    tables = export.json()["tables"]
    assert [r["user_id"] for r in tables["consumer_portraits"]] == [fan]
    assert tables["consumer_portraits"][0]["top_keywords"]
    assert [(r["anchor_id"], r["level"]) for r in tables["fan_levels"]] == [(anchor, 3)]
    assert {r["kind"] for r in tables["consumer_affinities"]} == set()  # no catalogue products
    assert tables["portrait_facts"] and tables["portrait_keywords"]

    gone = await client.request(
        "DELETE", "/api/v1/me", json={"password": PASSWORD}, headers=headers
    )
    assert gone.status_code < 300, gone.text
    async with container.uow() as uow:
        for model in (ConsumerPortrait, ConsumerAffinity, FanLevel, PortraitFact, PortraitKeyword):
            rows = await uow.session.scalars(select(model).where(model.user_id == fan))
            assert list(rows) == [], model.__tablename__
        assert await service.get_portrait(uow.session, user_id=shopper)
    # A later run over new files does not bring the deleted consumer back.
    await asyncio.to_thread(write_with_sink, root, day_events(2, fan, shopper, anchor))
    await store(container, root)
    async with container.uow() as uow:
        assert await uow.session.get(ConsumerPortrait, fan) is None


def test_cli_store_is_incremental(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from livecart.cli import app

    monkeypatch.setenv("LIVECART_DATABASE_URL", database_url)
    root = tmp_path / "events"
    # Ids without accounts: the run reads the files but stores no portrait.
    write_with_sink(root, day_events(1, 5001, 5002, 5003))
    args = ["insights", "portraits", "--events", str(root), "--store", "--json"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout.strip().splitlines()[-1])
    assert report["stored"]["new_files"] >= 1 and report["stored"]["events"] == 12
    assert report["stored"]["consumers"] == 0
    again = CliRunner().invoke(app, args)
    assert json.loads(again.stdout.strip().splitlines()[-1])["stored"]["new_files"] == 0
    both = CliRunner().invoke(app, ["insights", "portraits", "--json"])
    assert both.exit_code == 2  # neither --out nor --store
