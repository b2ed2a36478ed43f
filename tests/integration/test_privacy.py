"""Privacy over HTTP: consent to personalisation, export of every personal column, deletion.

The export and deletion test fills every personal table the registry
(`accounts/personal_data.py`) names for one consumer, then checks against the database that the
export holds every personal value and that the deletion erased what the registry says.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import TypeAdapter
from sqlalchemy import select, text

from livecart.accounts import privacy
from livecart.accounts import service as accounts
from livecart.accounts.personal_data import (
    COLUMNS,
    DELETE,
    ERASE,
    OWNERS,
    erased_event_fields,
    exported_columns,
)
from livecart.accounts.schemas import Identity, Role
from livecart.bootstrap import Container
from livecart.core.clock import FrozenClock
from livecart.events import service as events
from livecart.events.schemas import EventType
from livecart.events.sink import log_files
from livecart.insights import portrait_store
from livecart.insights.portraits import Engine
from livecart.live import service as live
from livecart.service import detector
from livecart.service import service as customer_service
from livecart.tables import metadata
from tests.integration.test_flash_sales import buy, flash_world
from tests.integration.test_orders_flow import API, live_session, make_shop, order
from tests.support import PASSWORD, auth, email_of, make_user

SECRET = "my address is 12 Silk Road"
_json = TypeAdapter(Any)


def as_json(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the API writes it (times as ISO strings)."""
    result: dict[str, Any] = _json.dump_python(row, mode="json")
    return result


async def owned_rows(container: Container, user_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every row of every personal table that belongs to the user, read straight from SQL."""
    tables = metadata().tables
    found: dict[str, list[dict[str, Any]]] = {}
    async with container.uow() as uow:
        for name, condition in OWNERS.items():
            query = select(tables[name]).where(text(condition).bindparams(user_id=user_id))
            found[name] = [dict(r) for r in (await uow.session.execute(query)).mappings()]
    return found


def primary_key(name: str, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c.name] for c in metadata().tables[name].primary_key.columns)


def logged_events(container: Container) -> list[dict[str, Any]]:
    files = log_files(container.settings.event_log_dir)
    if not files:
        return []
    rows: list[dict[str, Any]] = pa.concat_tables(
        [pq.read_table(f, partitioning=None) for f in files]
    ).to_pylist()
    return rows


async def test_personalisation_switch(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    uid = await make_user(container)
    headers = await auth(client, container, uid)
    r = await client.get(f"{API}/me/privacy", headers=headers)
    assert r.status_code == 200 and r.json() == {"personalisation": True}
    r = await client.put(f"{API}/me/privacy", json={"personalisation": False}, headers=headers)
    assert r.status_code == 200 and r.json() == {"personalisation": False}
    assert (await client.get(f"{API}/me/privacy", headers=headers)).json()["personalisation"] is (
        False
    )
    other = await make_user(container)
    async with container.uow() as uow:
        assert await accounts.personalisation_allowed(uow.session, uid) is False
        assert await accounts.personalisation_allowed(uow.session, other) is True
        assert await accounts.opted_out_among(uow.session, {uid, other, 999_999}) == {
            uid,
            999_999,
        }
        identity = await accounts.load_identity(uow.session, uid)
        assert identity is not None and identity.personalisation is False
    r = await client.put(
        f"{API}/me/privacy", json={"personalisation": True, "user_id": other}, headers=headers
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_field"
    r = await client.put(f"{API}/me/privacy", json={"personalisation": True}, headers=headers)
    assert r.json() == {"personalisation": True}
    assert (await client.put(f"{API}/me/privacy", json={"personalisation": True})).status_code == (
        401
    )


async def fill_every_personal_table(
    client: httpx.AsyncClient, container: Container, buyer: int, headers: dict[str, str]
) -> dict[str, Any]:
    """Data about the buyer in every table of `OWNERS`, and in the event log."""
    world = await flash_world(client, container, quantity=5)
    room_id = (await client.get(f"{API}/sessions/{world.session_id}")).json()["room_id"]
    operator = await auth(client, container, await make_user(container, Role.operator))
    r = await client.post(f"{API}/users/{buyer}/roles", json={"role": "anchor"}, headers=operator)
    assert r.status_code == 200, r.text
    # An identity verification (supervision), reviewed with a note about the person.
    r = await client.post(
        f"{API}/supervision/qualifications",
        json={
            "kind": "identity_verification",
            "number": "110101200001011234",
            "issuer": "Beijing public security bureau",
            "valid_from": "2020-01-01",
            "expires_on": "2040-01-01",
            "date_of_birth": "2000-01-01",
            "document_ref": "identity/scan-of-the-card.png",
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"{API}/supervision/qualifications/{r.json()['id']}/review",
        json={"decision": "approve", "note": "photo matches the card"},
        headers=operator,
    )
    assert r.status_code == 200, r.text
    # Chat, then a mute with a reason (a sanction about the buyer).
    async with container.uow() as uow:
        identity = await accounts.load_identity(uow.session, buyer)
        assert identity is not None
        outcome = await live.post_chat(
            uow,
            clock=container.clock,
            actor=identity,
            session_id=world.session_id,
            text=SECRET,
            banned_words=[],
            lexicon=container.lexicon,
        )
        assert outcome.error is None
        await uow.commit()
    r = await client.post(
        f"{API}/sessions/{world.session_id}/moderation",
        json={"action": "mute", "user_id": buyer, "minutes": 5, "reason": "posts an address"},
        headers=world.anchor,
    )
    assert r.status_code == 200, r.text
    # A reservation for the room's next session.
    r = await client.post(
        f"{API}/rooms/{room_id}/sessions", json={"title": "Next week"}, headers=world.anchor
    )
    upcoming = r.json()["id"]
    r = await client.post(f"{API}/sessions/{upcoming}/reservation", headers=headers)
    assert r.status_code == 200, r.text
    # A consumer report from the room with the buyer's words and evidence, and a warning the
    # buyer (an anchor) appeals in their own words (supervision sanctions).
    r = await client.post(
        f"{API}/supervision/reports",
        json={
            "kind": "misrepresentation",
            "text": SECRET,
            "evidence": ["https://photos.example/report.jpg"],
            "session_id": world.session_id,
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"{API}/supervision/sanctions",
        json={"kind": "warn", "subject_kind": "anchor", "subject_id": buyer, "reason": "loud"},
        headers=operator,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"{API}/supervision/sanctions/{r.json()['id']}/appeal",
        json={"text": SECRET},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    # A paid order, a cart line and a flash purchase.
    shop = await make_shop(client, container, 10)
    r = await order(client, headers, [{"sku_id": shop.sku_ids[0], "quantity": 2}])
    assert r.status_code == 201, r.text
    order_id = r.json()["id"]
    r = await client.post(f"{API}/orders/{order_id}/pay", headers=headers)
    assert r.status_code == 200, r.text
    # A refund request with the buyer's words and a photo link, approved: a refund is made.
    r = await client.post(
        f"{API}/orders/{order_id}/after-sales",
        json={
            "sku_id": shop.sku_ids[0],
            "quantity": 1,
            "reason": "other",
            "text": SECRET,
            "evidence": ["https://photos.example/me.jpg"],
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"{API}/after-sales/{r.json()['id']}/answer", json={"approve": True}, headers=shop.merchant
    )
    assert r.status_code == 200, r.text
    # A question in the live chat, answered privately, and a service ticket about the order
    # with the brand's reply (customer service).
    async with container.uow() as uow:
        asked = customer_service.AskedInChat(
            actor=identity,
            session_id=world.session_id,
            message_id=outcome.message_id or 0,
            asker="buyer",
            text=f"{SECRET}, can you ship there?",
            detected=detector.Detected("en", "question mark"),
        )
        queued = await customer_service.queue_questions(
            uow, clock=container.clock, lexicon=container.lexicon, asked=[asked]
        )
        await uow.commit()
    r = await client.post(
        f"{API}/questions/{queued[0].id}/answer",
        json={"text": "Yes, to 12 Silk Road", "mode": "private"},
        headers=world.anchor,
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"{API}/tickets",
        json={"order_id": order_id, "subject": SECRET, "text": SECRET},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"{API}/tickets/{r.json()['id']}/messages", json={"text": "noted"}, headers=shop.merchant
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"{API}/cart/items", json={"sku_id": shop.sku_ids[0], "quantity": 1}, headers=headers
    )
    assert r.status_code in (200, 201), r.text
    r = await buy(client, world.sale_id, headers)
    assert r.status_code == 201, r.text
    # Behaviour events: the buyer's chat (with a browser id), a click with properties, and
    # someone else's chat that the deletion must leave alone.
    now = container.clock.now()
    events.emit(
        container,
        events.new_event(
            EventType.CHAT,
            occurred_at=now,
            consumer_id=buyer,
            anonymous_id=str(uuid.uuid4()),
            session_id=world.session_id,
            text=SECRET,
        ),
        events.new_event(
            EventType.CHAT,
            occurred_at=now,
            consumer_id=buyer + 1000,
            session_id=world.session_id,
            text="someone else's words",
        ),
    )
    r = await client.post(
        f"{API}/events",
        json={
            "events": [
                {"type": "product_click", "product_id": shop.product_id, "properties": {"f": "x"}}
            ]
        },
        headers=headers,
    )
    assert r.status_code == 202, r.text
    # Marketing: a lifecycle stage and its move, a campaign arm with its outcome, a message.
    from livecart.marketing import models as mk

    async with container.uow() as uow:
        when = container.clock.now()
        campaign = mk.Campaign(
            name="privacy", action="in_app", subject="hi", created_by=buyer, created_at=when
        )
        uow.session.add(campaign)
        await uow.session.flush()
        uow.session.add_all(
            [
                mk.ConsumerStage(user_id=buyer, track="lifecycle", stage="new", entered_at=when),
                mk.StageTransition(
                    user_id=buyer, track="lifecycle", from_stage=None, to_stage="new", moved_at=when
                ),
                mk.CampaignAssignment(
                    campaign_id=campaign.id,
                    user_id=buyer,
                    arm="treated",
                    assigned_at=when,
                    converted=True,
                    gmv=1200,
                ),
                mk.Message(
                    campaign_id=campaign.id,
                    user_id=buyer,
                    channel="in_app",
                    subject="hi",
                    body="a coupon for you",
                    link="/sessions/1",
                    coupon_code="HELLO",
                    created_at=when,
                    read_at=when,
                ),
                mk.Coupon(
                    campaign_id=campaign.id,
                    user_id=buyer,
                    code="HELLO",
                    kind="fixed",
                    amount=500,
                    min_spend=0,
                    currency="CNY",
                    issued_at=when,
                    expires_at=when,
                    status="available",
                ),
            ]
        )
        await uow.commit()
    # Portraits: the logged behaviour (the chat, the click, the order) folded into the store.
    await container.events.flush()
    async with container.uow() as uow:
        await portrait_store.store_portraits(
            uow.session,
            root=container.settings.event_log_dir,
            engine=Engine.duckdb,
            now=container.clock.now(),
        )
        await uow.commit()
    return {"order_id": order_id, "session_id": world.session_id}


async def test_export_and_deletion_cover_every_personal_column(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    buyer = await make_user(container)
    email = await email_of(container, buyer)
    headers = await auth(client, container, buyer)
    made = await fill_every_personal_table(client, container, buyer, headers)

    before = await owned_rows(container, buyer)
    empty = [name for name, rows in before.items() if not rows]
    assert empty == [], f"the test put no row about the buyer in {empty}"

    # Export: every personal column with a value is in it, row by row.
    r = await client.get(f"{API}/me/export", headers=headers)
    assert r.status_code == 200, r.text
    exported = r.json()
    assert exported["user_id"] == buyer
    assert set(exported["tables"]) == set(OWNERS)
    assert "users.password_hash" in exported["not_exported"]
    assert "password_hash" not in exported["tables"]["users"][0]
    for name, rows in before.items():
        columns = exported_columns(name)
        for row in rows:
            wanted = as_json({c: row[c] for c in columns})
            assert wanted in exported["tables"][name], (name, wanted)
    texts = {e["text"] for e in exported["behaviour_events"]}
    assert SECRET in texts and "someone else's words" not in texts
    assert any(e["properties"] == '{"f": "x"}' for e in exported["behaviour_events"])
    assert {e["consumer_id"] for e in exported["behaviour_events"]} == {buyer}
    assert any(e["event_type"] == "order" for e in exported["behaviour_events"])

    # Deletion needs the password again.
    r = await client.request("DELETE", f"{API}/me", json={"password": "wrong one"}, headers=headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_password"
    r = await client.request("DELETE", f"{API}/me", json={}, headers=headers)
    assert r.status_code == 422
    r = await client.request("DELETE", f"{API}/me", json={"password": PASSWORD}, headers=headers)
    assert r.status_code == 200, r.text
    deleted = r.json()
    pseudonym = deleted["pseudonym"]
    assert pseudonym.startswith("deleted-") and deleted["user_id"] == buyer
    assert deleted["deleted"]["cart_items"] == 1 and deleted["kept"]["orders"] == 2
    assert deleted["behaviour_events_erased"] == 2  # the chat and the click

    # In the database: erased columns lost their values, deleted rows are gone, orders stay.
    after = await owned_rows(container, buyer)
    for name, rows in before.items():
        handled = COLUMNS[name]
        if DELETE in handled.values():
            assert after[name] == [], name
            continue
        assert len(after[name]) == len(rows), name
        now_by_key = {primary_key(name, row): row for row in after[name]}
        for row in rows:
            current = now_by_key[primary_key(name, row)]
            for column, how in handled.items():
                if how == ERASE and row[column] not in (None, ""):
                    assert current[column] != row[column], (name, column)
    (user,) = after["users"]
    assert user["display_name"] == pseudonym and user["email"].startswith(pseudonym)
    assert user["is_active"] is False and user["deleted_at"] is not None
    assert user["erased_at"] is not None
    assert made["order_id"] in {o["id"] for o in after["orders"]}
    assert all(m["text"] == "" for m in after["chat_messages"])

    # The account is gone for every purpose: no login, the old token refused, chat hidden.
    r = await client.post(f"{API}/auth/token", data={"username": email, "password": PASSWORD})
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_credentials"
    r = await client.get(f"{API}/me", headers=headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    r = await client.get(f"{API}/me/export", headers=headers)
    assert r.status_code == 401
    messages = (await client.get(f"{API}/sessions/{made['session_id']}/messages")).json()
    assert SECRET not in {m["text"] for m in messages}

    # The event log: the buyer's texts, browser ids and properties are gone, the rest stays.
    logged = logged_events(container)
    theirs = [e for e in logged if e["consumer_id"] == buyer]
    assert theirs and any(e["event_type"] == "order" for e in theirs)
    for field in erased_event_fields():
        assert all(e[field] is None for e in theirs), field
    assert "someone else's words" in {e["text"] for e in logged}

    # The second pass (run later in the background) finds nothing more to do.
    assert await privacy.finish_deletion(container, buyer) == 0
    assert await owned_rows(container, buyer) == after


async def late_chat(container: Container, actor: Identity, session_id: int) -> None:
    """A chat message written with an identity read before the account was deleted."""
    async with container.uow() as uow:
        await live.post_chat(
            uow,
            clock=container.clock,
            actor=actor,
            session_id=session_id,
            text=SECRET,
            banned_words=[],
            lexicon=container.lexicon,
        )
        await uow.commit()


async def test_the_second_pass_erases_what_a_late_request_wrote(
    client: httpx.AsyncClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another worker may still hold the identity for a moment: what it writes then goes too."""
    monkeypatch.setattr(privacy, "second_pass_delay", lambda _container: 0.3)
    session_id, _, _ = await live_session(client, container)
    buyer = await make_user(container)
    headers = await auth(client, container, buyer)
    async with container.uow() as uow:
        stale = await accounts.load_identity(uow.session, buyer)
    assert stale is not None
    r = await client.request("DELETE", f"{API}/me", json={"password": PASSWORD}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["behaviour_events_erased"] == 0

    # A chat message and its event, written as the user after the deletion (stale identity).
    await late_chat(container, stale, session_id)
    events.emit(
        container,
        events.new_event(
            EventType.CHAT,
            occurred_at=container.clock.now(),
            consumer_id=buyer,
            session_id=session_id,
            text=SECRET,
        ),
    )
    for _ in range(50):
        await asyncio.sleep(0.1)
        rows = await owned_rows(container, buyer)
        logged = [e for e in logged_events(container) if e["consumer_id"] == buyer]
        if logged and all(m["text"] == "" for m in rows["chat_messages"]):
            break
    assert [m["text"] for m in rows["chat_messages"]] == [""]
    assert [e["text"] for e in logged] == [None]


async def test_the_sweep_finishes_a_deletion_whose_second_pass_was_lost(
    client: httpx.AsyncClient,
    container: Container,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker that deleted the account stopped before its second pass: the sweep runs it."""

    async def lost(_container: Container, _user_id: int, _delay: float) -> None:
        return None

    monkeypatch.setattr(privacy, "_second_pass", lost)
    session_id, _, _ = await live_session(client, container)
    buyer = await make_user(container)
    headers = await auth(client, container, buyer)
    async with container.uow() as uow:
        stale = await accounts.load_identity(uow.session, buyer)
    assert stale is not None
    r = await client.request("DELETE", f"{API}/me", json={"password": PASSWORD}, headers=headers)
    assert r.status_code == 200, r.text
    await late_chat(container, stale, session_id)  # a request already under way

    assert await privacy.run_erasure_sweep(container) == 0  # too early: a worker may still write
    clock.advance(seconds=privacy.second_pass_delay(container) + 1)
    assert await privacy.run_erasure_sweep(container) == 1
    rows = await owned_rows(container, buyer)
    assert [m["text"] for m in rows["chat_messages"]] == [""]
    assert await privacy.run_erasure_sweep(container) == 0  # done: not picked up again
