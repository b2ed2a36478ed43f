"""Sanctions enforced over REST and on open sockets, appeals, the audit trail, overturn alerts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from tests.conftest import LiveServer
from tests.integration.test_live_api import anchor_with_session
from tests.integration.test_realtime_gateway import World, next_frame, recv_frame, world_on
from tests.support import auth, make_user

API = "/api/v1"


@pytest.fixture
async def world(live_server: LiveServer) -> AsyncIterator[World]:
    async with world_on(live_server) as built:
        yield built


async def _audit_actions(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    r = await client.get(f"{API}/supervision/audit", headers=headers)
    assert r.status_code == 200, r.text
    return [row["action"] for row in reversed(r.json())]


async def test_a_suspended_anchor_cannot_start_a_session_until_lifted_and_all_is_audited(
    client: httpx.AsyncClient, container: Container, any_backend: str
) -> None:
    anchor, _room_id, session_id = await anchor_with_session(client, container)
    me = (await client.get(f"{API}/me", headers=anchor)).json()
    operator = await auth(client, container, await make_user(container, Role.operator))
    body = {"kind": "suspend_anchor", "subject_id": me["id"], "reason": "sold fake silk"}
    r = await client.post(f"{API}/supervision/sanctions", json=body, headers=operator)
    assert r.status_code == 201, r.text
    sanction = r.json()
    assert sanction["active"] and sanction["subject_kind"] == "anchor"

    r = await client.post(f"{API}/sessions/{session_id}/start", headers=anchor)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "anchor_suspended"
    assert r.json()["error"]["details"]["sanction_id"] == sanction["id"]

    # The anchor appeals; the text stays on the sanction, never in the audit log.
    url = f"{API}/supervision/sanctions/{sanction['id']}"
    r = await client.post(f"{url}/appeal", json={"text": "My supplier's invoice"}, headers=anchor)
    assert r.status_code == 200, r.text
    assert r.json()["appeal_status"] == "pending"
    again = await client.post(f"{url}/appeal", json={"text": "again"}, headers=anchor)
    assert again.json()["error"]["code"] == "appeal_not_allowed"
    stranger = await auth(client, container, await make_user(container, Role.anchor))
    r = await client.post(f"{url}/appeal", json={"text": "not mine"}, headers=stranger)
    assert r.status_code == 404
    r = await client.post(
        f"{url}/appeal/decision",
        json={"decision": "uphold", "reason": "invoice forged"},
        headers=operator,
    )
    assert r.json()["appeal_status"] == "upheld" and r.json()["active"]
    r = await client.post(f"{API}/sessions/{session_id}/start", headers=anchor)
    assert r.json()["error"]["code"] == "anchor_suspended"

    r = await client.post(f"{url}/lift", json={"reason": "served its time"}, headers=operator)
    assert r.status_code == 200 and not r.json()["active"]
    r = await client.post(f"{API}/sessions/{session_id}/start", headers=anchor)
    assert r.status_code == 200, r.text

    actions = await _audit_actions(client, operator)
    assert actions == [
        "sanction.suspend_anchor",
        "appeal.file",
        "appeal.uphold",
        "sanction.lift",
    ]
    r = await client.get(f"{API}/supervision/audit", headers=operator)
    assert "supplier" not in r.text
    assert {row["actor_role"] for row in r.json()} == {"operator", "anchor"}


async def test_warnings_block_nothing_and_other_sanctions_are_audited(
    client: httpx.AsyncClient, container: Container
) -> None:
    anchor, room_id, session_id = await anchor_with_session(client, container)
    operator = await auth(client, container, await make_user(container, Role.operator))
    sanctions = [
        {"kind": "warn", "subject_kind": "room", "subject_id": room_id, "reason": "loud"},
        {"kind": "suspend_room", "subject_id": room_id, "reason": "repeat offender"},
    ]
    for body in sanctions:
        r = await client.post(f"{API}/supervision/sanctions", json=body, headers=operator)
        assert r.status_code == 201, r.text
    r = await client.post(f"{API}/sessions/{session_id}/start", headers=anchor)
    assert r.json()["error"]["code"] == "room_suspended"
    mine = await client.get(f"{API}/supervision/sanctions", headers=anchor)
    assert [s["kind"] for s in mine.json()] == ["suspend_room", "warn"]
    assert await _audit_actions(client, operator) == ["sanction.warn", "sanction.suspend_room"]
    r = await client.post(f"{API}/supervision/sanctions", json=sanctions[0], headers=anchor)
    assert r.status_code == 403


async def test_an_anchor_suspended_while_the_socket_is_open_cannot_post(
    world: World, any_backend: str
) -> None:
    operator_id = await make_user(world.container, Role.operator)
    operator = await world.headers(operator_id)
    anchor_ws = await world.socket(world.anchor_id)
    viewer_ws = await world.socket(world.alice_id)
    await anchor_ws.send('{"type": "chat", "text": "welcome all"}')
    assert (await next_frame(viewer_ws, "chat"))["text"] == "welcome all"

    body = {"kind": "suspend_anchor", "subject_id": world.anchor_id, "reason": "fake goods"}
    r = await world.http.post(f"{API}/supervision/sanctions", json=body, headers=operator)
    assert r.status_code == 201, r.text
    await anchor_ws.send('{"type": "chat", "text": "still selling"}')
    error = await next_frame(anchor_ws, "error")
    assert error["error"]["code"] == "anchor_suspended"
    # Viewers go on chatting; they never see the refused message.
    await viewer_ws.send('{"type": "chat", "text": "the anchor has gone"}')
    frame = await next_frame(viewer_ws, "chat")
    assert frame["text"] == "the anchor has gone"

    # Suspending the room closes its chat to everyone.
    body = {"kind": "suspend_room", "subject_id": world.room_id, "reason": "closed"}
    r = await world.http.post(f"{API}/supervision/sanctions", json=body, headers=operator)
    assert r.status_code == 201
    await viewer_ws.send('{"type": "chat", "text": "hello again"}')
    assert (await next_frame(viewer_ws, "error"))["error"]["code"] == "room_suspended"
    for ws in (anchor_ws, viewer_ws):
        await ws.close()


async def test_a_burst_of_negative_chat_raises_one_overturn_alert_for_staff_only(
    world: World,
) -> None:
    anchor_ws = await world.socket(world.anchor_id)
    viewers = [await world.socket(uid) for uid in (world.alice_id, world.bob_id, world.carol_id)]
    texts = ["this is fake", "总之是假货", "scam!!", "I want a refund", "质量差", "rip-off", "垃圾"]
    for index, text in enumerate(texts):
        await viewers[index % 3].send(f'{{"type": "chat", "text": "{text}"}}')
        await asyncio.sleep(0.05)
    alert = await next_frame(anchor_ws, "alert")
    assert alert["kind"] == "overturn" and alert["audience"] == "staff"
    assert alert["negative"] >= 5
    # Viewers see the chat but never the alert; the cooldown holds back a second alert.
    await asyncio.sleep(1)  # the chat rate limit refills
    await viewers[2].send('{"type": "chat", "text": "another fake"}')
    for ws in viewers:
        async with asyncio.timeout(10):
            while True:
                frame = await recv_frame(ws)
                assert frame["type"] != "alert"
                if frame["type"] == "chat" and frame["text"] == "another fake":
                    break
    await anchor_ws.send('{"type": "chat", "text": "staff marker"}')
    async with asyncio.timeout(10):
        while True:
            frame = await recv_frame(anchor_ws)
            assert frame["type"] != "alert"
            if frame["type"] == "chat" and frame["text"] == "staff marker":
                break
    operator = await world.headers(await make_user(world.container, Role.operator))
    r = await world.http.get(f"{API}/supervision/alerts", headers=operator)
    assert [(a["session_id"], a["kind"]) for a in r.json()] == [(world.session_id, "overturn")]
    for ws in (anchor_ws, *viewers):
        await ws.close()


async def test_reports_from_a_room_are_triaged_and_audited_without_the_reporters_words(
    client: httpx.AsyncClient, container: Container, any_backend: str
) -> None:
    anchor, _room_id, session_id = await anchor_with_session(client, container)
    anchor_id = (await client.get(f"{API}/me", headers=anchor)).json()["id"]
    consumer = await auth(client, container, await make_user(container))
    operator = await auth(client, container, await make_user(container, Role.operator))
    body = {
        "kind": "anchor_misconduct",
        "text": "She said the jade was certified; my name is Ann Lee",
        "evidence": ["https://img.example/receipt.jpg"],
        "session_id": session_id,
    }
    r = await client.post(f"{API}/supervision/reports", json=body, headers=consumer)
    assert r.status_code == 201, r.text
    report = r.json()
    assert (report["status"], report["anchor_id"]) == ("new", anchor_id)
    r = await client.post(
        f"{API}/supervision/reports", json={"kind": "fake_goods", "text": "x"}, headers=consumer
    )
    assert r.json()["error"]["code"] == "report_target_missing"

    queue = await client.get(f"{API}/supervision/reports?status=new", headers=operator)
    assert [q["id"] for q in queue.json()] == [report["id"]]
    other = await auth(client, container, await make_user(container))
    assert (await client.get(f"{API}/supervision/reports", headers=other)).json() == []

    url = f"{API}/supervision/reports/{report['id']}/triage"
    for status in ("in_review", "actioned"):
        r = await client.post(url, json={"status": status, "reason": "checked"}, headers=operator)
        assert r.status_code == 200 and r.json()["status"] == status, r.text
    r = await client.post(url, json={"status": "dismissed", "reason": "late"}, headers=operator)
    assert r.json()["error"]["code"] == "report_transition_invalid"
    r = await client.post(url, json={"status": "dismissed", "reason": "x"}, headers=consumer)
    assert r.status_code == 403

    assert await _audit_actions(client, operator) == [
        "report.file",
        "report.in_review",
        "report.actioned",
    ]
    log = (await client.get(f"{API}/supervision/audit", headers=operator)).text
    assert "Ann Lee" not in log and "jade" not in log


async def test_risk_contributions_add_up_to_the_score(
    client: httpx.AsyncClient, container: Container, any_backend: str
) -> None:
    anchor, _room_id, session_id = await anchor_with_session(client, container)
    anchor_id = (await client.get(f"{API}/me", headers=anchor)).json()["id"]
    operator = await auth(client, container, await make_user(container, Role.operator))
    url = f"{API}/supervision/risk/anchor/{anchor_id}"
    clean = (await client.get(url, headers=operator)).json()
    assert clean["score"] == 0 and clean["level"] == "low"
    for n in range(3):
        consumer = await auth(client, container, await make_user(container))
        body = {"kind": "anchor_misconduct", "text": f"report {n}", "session_id": session_id}
        r = await client.post(f"{API}/supervision/reports", json=body, headers=consumer)
        assert r.status_code == 201, r.text
    body = {"kind": "warn", "subject_kind": "anchor", "subject_id": anchor_id, "reason": "x"}
    await client.post(f"{API}/supervision/sanctions", json=body, headers=operator)
    scored = (await client.get(url, headers=operator)).json()
    parts = {c["signal"]: c for c in scored["contributions"]}
    assert sum(c["contribution"] for c in parts.values()) == pytest.approx(scored["score"])
    assert parts["reports"]["value"] == 3
    assert parts["reports"]["contribution"] == pytest.approx(20 * 3 / 5)
    assert parts["warnings"]["contribution"] == pytest.approx(15 * 1 / 3)
    # Three reports in a few seconds (weight 3 each) also raised an overturn alert.
    assert parts["overturn_alerts"]["value"] == 1
    assert scored["score"] > clean["score"]
    r = await client.get(url, headers=anchor)
    assert r.status_code == 403
