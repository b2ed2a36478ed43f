"""A host's "lowest price ever" in chat and in the anchor script, checked against the price
history of the goods on show (docs/supervision.md, "Lowest-price claims"); not while a flash
sale of the session is open, whose price may be what the claim is about."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from livecart.accounts import service as accounts
from livecart.bootstrap import Container
from livecart.supervision.models import ComplianceHit
from tests.integration.test_orders_flow import API, live_session, make_shop


async def test_a_hosts_lowest_price_claim_is_checked_against_the_price_history(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    shop = await make_shop(client, container, 40, price=12990)
    session_id, anchor_id, anchor = await live_session(client, container)
    r = await client.post(
        f"{API}/sessions/{session_id}/showcase",
        json={"product_id": shop.product_id},
        headers=anchor,
    )
    assert r.status_code == 200, r.text
    sku_url = f"{API}/skus/{shop.sku_ids[0]}"
    for price in (9990, 12990):  # it was cheaper once
        r = await client.patch(sku_url, json={"price": price}, headers=shop.merchant)
        assert r.status_code == 200, r.text
    async with container.uow() as uow:
        host = await accounts.load_identity(uow.session, anchor_id)
    assert host is not None

    async def say(text: str) -> Any:
        """Through the process's chat writer, as the socket posts."""
        return await container.hub.chat.submit(actor=host, session_id=session_id, text=text)

    # (史上最低价 never gets here: the lexicon's absolute_terms blocks 最 superlatives.)
    refused = (await say("历史新低，快来抢")).error
    assert refused is not None and refused.code == "price_claim_false"
    details = refused.details
    assert (details["text"], details["price"], details["lowest"]) == ("历史新低", 12990, 9990)
    assert (await say("welcome, the lowest price today is in the cart")).error is None

    # The script: the line and column of the false claim; nothing saved.
    script = f"{API}/sessions/{session_id}/script"
    text = "Welcome!\nThis tea: lowest price ever"
    r = await client.put(script, json={"text": text}, headers=anchor)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "price_claim_false"
    assert (error["details"]["line"], error["details"]["column"]) == (2, 11)
    assert error["details"]["text"] == "lowest price ever"

    # Both refusals are kept as the host's risk signals.
    async with container.uow() as uow:
        kept = (
            await uow.session.execute(
                select(ComplianceHit.source, ComplianceHit.rule_id, ComplianceHit.excerpt)
                .where(ComplianceHit.anchor_id == anchor_id, ComplianceHit.action == "block")
                .order_by(ComplianceHit.id)
            )
        ).all()
    assert [tuple(row) for row in kept] == [
        ("chat", "fake_discount", "历史新低"),
        ("anchor_script", "fake_discount", "lowest price ever"),
    ]

    # While a flash sale of the session is open, its price may be what the claim is about.
    r = await client.post(
        f"{API}/flash-sales",
        json={"session_id": session_id, "sku_id": shop.sku_ids[0], "price": 4990, "quantity": 5},
        headers=anchor,
    )
    assert r.status_code == 201, r.text
    sale_id = r.json()["id"]
    refused = (await say("史低!")).error  # scheduled, not open yet: checked
    assert refused is not None and refused.code == "price_claim_false"
    r = await client.post(f"{API}/flash-sales/{sale_id}/start", headers=anchor)
    assert r.status_code == 200, r.text
    assert (await say("历史新低，快来抢")).error is None
    r = await client.put(script, json={"text": text}, headers=anchor)
    assert r.status_code == 200, r.text
    r = await client.post(f"{API}/flash-sales/{sale_id}/end", headers=anchor)
    assert r.status_code == 200, r.text
    refused = (await say("Lowest price ever")).error
    assert refused is not None and refused.code == "price_claim_false"

    # Back at its lowest price, the claim is true.
    r = await client.patch(sku_url, json={"price": 9990}, headers=shop.merchant)
    assert r.status_code == 200, r.text
    assert (await say("Lowest price ever")).error is None
