"""Compliance scanning where text enters: product create/update over REST, hosts' chat over a
real WebSocket (viewers' chat is not scanned)."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import select

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.live import service as live
from livecart.live.models import ChatMessage
from livecart.supervision.models import ComplianceHit
from tests.conftest import LiveServer
from tests.integration.test_catalog_api import make_brand, merchant_headers, product_body
from tests.integration.test_realtime_gateway import chats, frames_until, next_frame, world_on
from tests.support import make_user

API = "/api/v1"
BLOCKED_TITLE = "全网最低价 国家级 best serum"
URGENCY = "最后一天，错过再等一年"


def rule_ids(hits: list[dict[str, object]], action: str | None = None) -> set[object]:
    return {h["rule_id"] for h in hits if action is None or h["action"] == action}


async def test_products_with_blocking_terms_are_refused_and_warnings_returned(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    brand_id = await make_brand(client, container)
    merchant = await merchant_headers(client, container, brand_id)

    r = await client.post(
        f"{API}/products", json=product_body(brand_id, title=BLOCKED_TITLE), headers=merchant
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "compliance_blocked"
    assert error["details"]["rule_ids"] == ["absolute_terms"]
    hits = error["details"]["hits"]
    assert rule_ids(hits, "block") == {"absolute_terms"}
    assert {"国家级", "best"} <= {h["text"] for h in hits}
    assert all(h["field"] == "title" and h["reason"] for h in hits)
    r = await client.get(f"{API}/products", params={"brand_id": brand_id})
    assert r.json() == []  # nothing was stored

    r = await client.post(f"{API}/products", json=product_body(brand_id), headers=merchant)
    assert r.status_code == 201, r.text
    product = r.json()
    assert product["compliance_warnings"] == []

    r = await client.post(
        f"{API}/products",
        json=product_body(
            brand_id,
            title="Silk scarf gift box",
            description="A perfect gift for Mid-Autumn.",
            skus=[{"code": "BOX-1", "price": 19900, "currency": "CNY", "stock": 2}],
        ),
        headers=merchant,
    )
    assert r.status_code == 201, r.text
    warnings = r.json()["compliance_warnings"]
    assert [(w["rule_id"], w["action"], w["field"], w["text"]) for w in warnings] == [
        ("superlative_claims", "warn", "description", "perfect")
    ]
    r = await client.get(f"{API}/products/{r.json()['id']}")
    assert [w["text"] for w in r.json()["compliance_warnings"]] == ["perfect"]

    url = f"{API}/products/{product['id']}"
    r = await client.patch(url, json={"description": "治疗失眠，最后一天"}, headers=merchant)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "compliance_blocked"
    assert set(error["details"]["rule_ids"]) == {"false_urgency", "medical_claims"}
    assert (await client.get(url)).json()["description"] == "Hand-rolled edges."

    r = await client.patch(url, json={"title": "Silk scarf, flawless finish"}, headers=merchant)
    assert r.status_code == 200, r.text
    assert [w["text"] for w in r.json()["compliance_warnings"]] == ["flawless"]
    r = await client.patch(url, json={"title": "Silk scarf, hand-rolled"}, headers=merchant)
    assert r.status_code == 200 and r.json()["compliance_warnings"] == []


async def test_hosts_urgency_is_refused_on_the_socket_viewers_are_not_scanned(
    any_backend: str, live_server: LiveServer
) -> None:
    async with world_on(live_server) as world:
        cohost_id = await make_user(world.container, Role.anchor, name="Leo")
        async with world.container.uow() as uow:
            anchor = await accounts.load_identity(uow.session, world.anchor_id)
            assert anchor is not None
            await live.add_cohost(
                uow.session,
                clock=world.container.clock,
                actor=anchor,
                session_id=world.session_id,
                anchor_id=cohost_id,
            )
            await uow.commit()
        host = await world.socket(world.anchor_id)
        cohost = await world.socket(cohost_id)
        alice = await world.socket(world.alice_id)
        bob = await world.socket(world.bob_id)

        await host.send(json.dumps({"type": "chat", "text": URGENCY}))
        refusal = await next_frame(host, "error")
        assert refusal["error"]["code"] == "compliance_blocked"
        assert rule_ids(refusal["error"]["details"]["hits"]) == {"false_urgency"}
        assert set(refusal["error"]["details"].keys()) >= {"rule_ids", "hits"}
        await cohost.send(json.dumps({"type": "chat", "text": "全网第一的面霜"}))
        refusal = await next_frame(cohost, "error")
        assert refusal["error"]["code"] == "compliance_blocked"
        assert refusal["error"]["details"]["rule_ids"] == ["absolute_terms"]

        await alice.send(json.dumps({"type": "chat", "text": URGENCY}))
        await host.send(json.dumps({"type": "chat", "text": "welcome, ask me anything"}))
        seen = await frames_until(bob, "welcome, ask me anything")
        assert chats(seen) == [URGENCY, "welcome, ask me anything"]
        assert [f["user"]["id"] for f in seen if f["type"] == "chat"] == [
            world.alice_id,
            world.anchor_id,
        ]

        async with world.container.uow() as uow:
            rows = await uow.session.execute(
                select(ChatMessage.user_id, ChatMessage.status)
                .where(ChatMessage.session_id == world.session_id)
                .order_by(ChatMessage.id)
            )
            stored = [tuple(row) for row in rows]
        # The hosts' refused messages were not stored; alice's was, and shown.
        assert stored == [(world.alice_id, "shown"), (world.anchor_id, "shown")]
        for ws in (host, cohost, alice, bob):
            await ws.close()


async def test_a_hosts_warned_words_are_shown_with_a_warning_to_the_host_only(
    any_backend: str, live_server: LiveServer
) -> None:
    warned = "this serum is perfect for dry skin"
    async with world_on(live_server) as world:
        host = await world.socket(world.anchor_id)
        bob = await world.socket(world.bob_id)
        await host.send(json.dumps({"type": "chat", "text": warned}))
        warning = await next_frame(host, "compliance_warning")
        assert [(h["rule_id"], h["text"], h["start"], h["end"]) for h in warning["hits"]] == [
            ("superlative_claims", "perfect", warned.index("perfect"), warned.index(" for"))
        ]
        assert warning["hits"][0]["reason"]
        # Shown to the room all the same, without the warning.
        seen = await frames_until(bob, warned)
        assert chats(seen) == [warned]
        assert not [f for f in seen if f["type"] == "compliance_warning"]
        assert warning["message_id"] == next(f["id"] for f in seen if f["type"] == "chat")

        # Saying the same words again warns again but is kept once as a risk signal.
        await host.send(json.dumps({"type": "chat", "text": warned + "!"}))
        await next_frame(host, "compliance_warning")
        await frames_until(bob, warned + "!")
        async with world.container.uow() as uow:
            kept = (
                await uow.session.execute(
                    select(ComplianceHit.source, ComplianceHit.action, ComplianceHit.rule_id)
                    .where(ComplianceHit.anchor_id == world.anchor_id)
                    .where(ComplianceHit.session_id == world.session_id)
                )
            ).all()
        assert [tuple(row) for row in kept] == [("chat", "warn", "superlative_claims")]
        for ws in (host, bob):
            await ws.close()
