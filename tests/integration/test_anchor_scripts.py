"""Anchor scripts (issue 5, item 3): PUT/GET /sessions/{id}/script, scanned by the compliance
lexicon (kind `anchor_script`) and for scarcity claims against the showcase's stock; a blocked
save is refused with its rules and lines, stores nothing and counts as a compliance hit of its
author; access is the session's hosts (write), its staff and operators (read)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.live import service as live
from livecart.live.scripts import KEEP_VERSIONS
from livecart.supervision.models import ComplianceHit
from tests.e2e.world import World, build_world
from tests.support import auth, make_user

API = "/api/v1"
ZH_BLOCKED = "大家好，欢迎来到直播间！\n这款面霜全网最低价，仅此一次"
EN_BLOCKED = "Welcome everyone.\nToday: the best cream in the world, No.1 in Asia."
CLEAN = "Welcome! Today we taste jasmine pearls.\n今天给大家介绍茉莉花茶，先看看茶叶的形状。"
WARNED = "Jasmine pearls make a perfect gift\nfor Mid-Autumn."


def _url(world: World) -> str:
    return f"{API}/sessions/{world.session_id}/script"


async def _add_cohost(container: Container, world: World) -> int:
    cohost_id = await make_user(container, Role.anchor, name="Leo Cohost")
    async with container.uow() as uow:
        anchor = await accounts.load_identity(uow.session, world.anchor_id)
        assert anchor is not None
        await live.add_cohost(
            uow.session,
            clock=container.clock,
            actor=anchor,
            session_id=world.session_id,
            anchor_id=cohost_id,
        )
        await uow.commit()
    return cohost_id


async def _hits_of(container: Container, anchor_id: int) -> list[ComplianceHit]:
    async with container.uow() as uow:
        rows = await uow.session.scalars(
            select(ComplianceHit)
            .where(ComplianceHit.anchor_id == anchor_id)
            .order_by(ComplianceHit.id)
        )
        return list(rows)


async def _compliance_value(
    client: httpx.AsyncClient, operator: dict[str, str], anchor_id: int
) -> float:
    r = await client.get(f"{API}/supervision/risk/anchor/{anchor_id}", headers=operator)
    assert r.status_code == 200, r.text
    parts = {c["signal"]: c for c in r.json()["contributions"]}
    return float(parts["compliance_hits"]["value"])


def _refusal(r: httpx.Response, code: str) -> dict[str, Any]:
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == code, error
    return dict(error["details"])


async def test_blocked_scripts_are_refused_with_rules_and_lines_and_not_stored(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    world = await build_world(container)
    anchor = await auth(client, container, world.anchor_id)
    operator = await auth(client, container, world.operator_id)
    url = _url(world)
    assert await _compliance_value(client, operator, world.anchor_id) == 0

    details = _refusal(
        await client.put(url, json={"text": ZH_BLOCKED}, headers=anchor), "compliance_blocked"
    )
    assert details["rule_ids"] == ["absolute_terms", "false_urgency"]
    blocking = [h for h in details["hits"] if h["action"] == "block"]
    assert [(h["rule_id"], h["text"], h["line"], h["column"]) for h in blocking] == [
        ("absolute_terms", "全网最低价", 2, 5),
        ("false_urgency", "仅此一次", 2, 11),
    ]
    for hit in details["hits"]:
        assert ZH_BLOCKED[hit["start"] : hit["end"]] == hit["text"]
        assert hit["kind"] == "anchor_script" and hit["field"] == "script" and hit["reason"]

    details = _refusal(
        await client.put(url, json={"text": EN_BLOCKED}, headers=anchor), "compliance_blocked"
    )
    assert details["rule_ids"] == ["absolute_terms"]
    found = [(h["text"], h["line"], h["column"]) for h in details["hits"]]
    assert found == [("the best", 2, 8), ("No.1", 2, 37)]
    assert all("Advertising Law" in h["reason"] for h in details["hits"])

    # Nothing was stored.
    r = await client.get(url, headers=anchor)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 0 and r.json()["text"] == ""

    # Each refusal was kept as the anchor's compliance hits (one row per blocking hit).
    kept = await _hits_of(container, world.anchor_id)
    assert [(k.source, k.action, k.rule_id, k.excerpt) for k in kept] == [
        ("anchor_script", "block", "absolute_terms", "全网最低价"),
        ("anchor_script", "block", "false_urgency", "仅此一次"),
        ("anchor_script", "block", "absolute_terms", "the best"),
        ("anchor_script", "block", "absolute_terms", "No.1"),
    ]
    assert {k.session_id for k in kept} == {world.session_id}
    assert await _compliance_value(client, operator, world.anchor_id) == 4
    # The operator reads the same rows behind the score, newest first; the anchor may not.
    hits_url = f"{API}/supervision/risk/anchor/{world.anchor_id}/hits"
    r = await client.get(hits_url, headers=operator)
    assert r.status_code == 200, r.text
    assert [(h["source"], h["action"], h["rule_id"], h["excerpt"]) for h in r.json()] == [
        (k.source, k.action, k.rule_id, k.excerpt) for k in reversed(kept)
    ]
    assert {h["session_id"] for h in r.json()} == {world.session_id}
    r = await client.get(hits_url, params={"limit": 1}, headers=operator)
    assert [h["excerpt"] for h in r.json()] == [kept[-1].excerpt]
    assert (await client.get(hits_url, headers=anchor)).status_code == 403

    # A co-host's refused script counts for the co-host, not for the session's anchor.
    cohost_id = await _add_cohost(container, world)
    cohost = await auth(client, container, cohost_id)
    r = await client.put(url, json={"text": "国家级好茶"}, headers=cohost)
    assert _refusal(r, "compliance_blocked")["rule_ids"] == ["absolute_terms"]
    assert [k.excerpt for k in await _hits_of(container, cohost_id)] == ["国家级"]
    assert await _compliance_value(client, operator, world.anchor_id) == 4


async def test_clean_and_warned_scripts_are_stored_and_read_by_staff_and_operators(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    world = await build_world(container)
    anchor = await auth(client, container, world.anchor_id)
    url = _url(world)

    r = await client.put(url, json={"text": CLEAN, "base_version": 0}, headers=anchor)
    assert r.status_code == 200, r.text
    saved = r.json()
    assert saved["version"] == 1 and saved["text"] == CLEAN
    assert saved["compliance_warnings"] == []
    assert saved["updated_by"] == {"id": world.anchor_id, "display_name": "Mia Live"}
    assert saved["updated_at"]

    r = await client.put(url, json={"text": WARNED, "base_version": 1}, headers=anchor)
    assert r.status_code == 200, r.text
    warned = r.json()
    assert warned["version"] == 2
    assert [
        (w["rule_id"], w["action"], w["text"], w["line"], w["column"])
        for w in warned["compliance_warnings"]
    ] == [("superlative_claims", "warn", "perfect", 1, 23)]
    # The warning is a risk signal of its author, kept once however often it is saved.
    r = await client.put(url, json={"text": WARNED + "\n", "base_version": 2}, headers=anchor)
    assert r.status_code == 200 and r.json()["version"] == 3, r.text
    kept = await _hits_of(container, world.anchor_id)
    assert [(k.source, k.action, k.rule_id, k.excerpt, k.session_id) for k in kept] == [
        ("anchor_script", "warn", "superlative_claims", "perfect", world.session_id)
    ]

    # An operator reads it, warnings and all; an earlier kept version too.
    operator = await auth(client, container, world.operator_id)
    assert await _compliance_value(client, operator, world.anchor_id) == 1
    r = await client.get(url, headers=operator)
    assert r.status_code == 200, r.text
    assert (
        r.json()["text"] == WARNED + "\n"
        and r.json()["compliance_warnings"] == warned["compliance_warnings"]
    )
    r = await client.get(url, params={"version": 1}, headers=operator)
    assert r.status_code == 200 and r.json()["text"] == CLEAN, r.text
    r = await client.get(url, params={"version": 9}, headers=operator)
    assert r.status_code == 404 and r.json()["error"]["code"] == "script_version_not_found"

    # A co-host's save from an old version is refused; saved from the current one it passes.
    cohost_id = await _add_cohost(container, world)
    cohost = await auth(client, container, cohost_id)
    r = await client.put(url, json={"text": "old edit", "base_version": 1}, headers=cohost)
    assert r.status_code == 409 and r.json()["error"]["code"] == "script_changed", r.text
    r = await client.put(url, json={"text": "  co-host notes\n", "base_version": 3}, headers=cohost)
    assert r.status_code == 200, r.text
    assert r.json()["text"] == "  co-host notes\n"  # kept exactly: hit offsets index it
    assert r.json()["updated_by"]["id"] == cohost_id

    # A room moderator reads it; nobody but the hosts writes it.
    moderator_id = await make_user(container, Role.moderator, room_id=world.room_id)
    moderator = await auth(client, container, moderator_id)
    assert (await client.get(url, headers=moderator)).status_code == 200
    for user_id in (moderator_id, world.operator_id):
        r = await client.put(
            url, json={"text": "hi"}, headers=await auth(client, container, user_id)
        )
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_host", r.text

    # Versions beyond the last KEEP_VERSIONS are dropped.
    for n in range(KEEP_VERSIONS):
        r = await client.put(url, json={"text": f"draft {n}"}, headers=anchor)
        assert r.status_code == 200, r.text
    latest = r.json()["version"]
    assert latest == 4 + KEEP_VERSIONS
    r = await client.get(url, params={"version": latest - KEEP_VERSIONS + 1}, headers=anchor)
    assert r.status_code == 200, r.text
    r = await client.get(url, params={"version": latest - KEEP_VERSIONS}, headers=anchor)
    assert r.status_code == 404, r.text

    # Once the session ended the script stays as it was.
    assert (
        await client.post(f"{API}/sessions/{world.session_id}/end", headers=anchor)
    ).status_code == 200
    r = await client.put(url, json={"text": "after"}, headers=anchor)
    assert r.status_code == 409 and r.json()["error"]["code"] == "session_ended", r.text
    assert (await client.get(url, headers=operator)).json()["text"] == f"draft {KEEP_VERSIONS - 1}"


async def test_viewers_never_see_the_script_and_anonymous_callers_are_asked_to_log_in(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    world = await build_world(container)
    anchor = await auth(client, container, world.anchor_id)
    url = _url(world)
    r = await client.put(url, json={"text": CLEAN}, headers=anchor)
    assert r.status_code == 200, r.text

    assert (await client.get(url)).status_code == 401
    assert (await client.put(url, json={"text": "x"})).status_code == 401
    viewer = await auth(client, container, world.alice_id)
    r = await client.get(url, headers=viewer)
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_room_staff", r.text
    assert CLEAN not in r.text
    r = await client.put(url, json={"text": "x"}, headers=viewer)
    assert r.status_code == 403, r.text
    for user_id in (
        await make_user(container, Role.anchor),  # another room's anchor
        world.merchant_id,  # the brand's merchant
    ):
        r = await client.get(url, headers=await auth(client, container, user_id))
        assert r.status_code == 403, r.text
    # The public session view does not carry it either.
    assert CLEAN not in (await client.get(f"{API}/sessions/{world.session_id}")).text
    r = await client.get(f"{API}/sessions/999999/script", headers=anchor)
    assert r.status_code == 404 and r.json()["error"]["code"] == "session_not_found"


async def test_scarcity_claims_in_a_script_are_checked_against_the_showcase_stock(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    world = await build_world(container)  # the showcased product's SKUs: 50 and 20 in stock
    anchor = await auth(client, container, world.anchor_id)
    url = _url(world)

    text = "Jasmine pearls, 100 g and 250 g.\nHurry up, only 3 left!"
    details = _refusal(
        await client.put(url, json={"text": text}, headers=anchor), "compliance_blocked"
    )
    assert details["rule_ids"] == ["false_urgency"]  # "hurry up" is caught by the lexicon first

    text = "Jasmine pearls, 100 g and 250 g.\nOnly 3 left in the warehouse"
    details = _refusal(
        await client.put(url, json={"text": text}, headers=anchor), "scarcity_claim_false"
    )
    assert (details["claimed"], details["stock"], details["line"]) == (3, 20, 2)
    assert [(h["rule_id"], h["line"], h["column"]) for h in details["hits"]] == [
        ("fake_scarcity", 2, 1)
    ]
    assert text[details["start"] : details["end"]] == details["text"]
    assert (await client.get(url, headers=anchor)).json()["version"] == 0
    kept = await _hits_of(container, world.anchor_id)
    assert [(k.source, k.rule_id) for k in kept] == [
        ("anchor_script", "false_urgency"),
        ("anchor_script", "fake_scarcity"),
    ]

    r = await client.put(url, json={"text": "只剩20件了，大家慢慢挑"}, headers=anchor)
    assert r.status_code == 200, r.text  # 20 of the 250 g are left: a claim that may be true


async def test_a_suspended_anchor_or_room_cannot_save_a_script(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    world = await build_world(container)
    anchor = await auth(client, container, world.anchor_id)
    operator = await auth(client, container, world.operator_id)
    url = _url(world)
    for kind, subject_id, code in (
        ("suspend_anchor", world.anchor_id, "anchor_suspended"),
        ("suspend_room", world.room_id, "room_suspended"),
    ):
        body = {"kind": kind, "subject_id": subject_id, "reason": "fake silk"}
        r = await client.post(f"{API}/supervision/sanctions", json=body, headers=operator)
        assert r.status_code == 201, r.text
        sanction_id = r.json()["id"]
        r = await client.put(url, json={"text": CLEAN}, headers=anchor)
        assert r.status_code == 403 and r.json()["error"]["code"] == code, r.text
        r = await client.post(
            f"{API}/supervision/sanctions/{sanction_id}/lift",
            json={"reason": "checked again"},
            headers=operator,
        )
        assert r.status_code == 200, r.text
    r = await client.put(url, json={"text": CLEAN}, headers=anchor)
    assert r.status_code == 200 and r.json()["version"] == 1, r.text
