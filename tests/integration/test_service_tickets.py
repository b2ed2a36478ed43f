"""Service tickets over the API, the service score on a known set, and the privacy of
questions and tickets (export and erasure)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.catalog import service as catalog
from livecart.core.clock import FrozenClock
from livecart.live.models import LiveSession, Room
from livecart.service import service
from livecart.service.models import Question, Ticket, TicketMessage
from tests.support import PASSWORD, auth, make_user

API = "/api/v1"


async def _brand(container: Container, name: str) -> int:
    async with container.uow() as uow:
        brand = await catalog.create_brand(
            uow.session, clock=container.clock, actor=None, name=name, description=""
        )
        await uow.commit()
    return brand.id


async def _live_session(container: Container, anchor_id: int) -> int:
    now = container.clock.now()
    async with container.uow() as uow:
        room = Room(anchor_id=anchor_id, title="R", created_at=now)
        uow.session.add(room)
        await uow.session.flush()
        live = LiveSession(
            room_id=room.id, anchor_id=anchor_id, title="S", status="ended", created_at=now
        )
        uow.session.add(live)
        await uow.commit()
        return live.id


async def test_a_ticket_from_question_to_rating(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    brand_id = await _brand(container, "Lumen")
    consumer = await auth(client, container, await make_user(container, name="Dana"))
    merchant = await auth(
        client, container, await make_user(container, Role.merchant, brand_id=brand_id)
    )
    stranger = await auth(client, container, await make_user(container))
    opened = await client.post(
        f"{API}/tickets",
        json={"brand_id": brand_id, "subject": "Late parcel", "text": "Where is my tea?"},
        headers=consumer,
    )
    assert opened.status_code == 201, opened.text
    ticket = opened.json()
    assert ticket["status"] == "open" and ticket["first_response_at"] is None
    assert (await client.get(f"{API}/tickets/{ticket['id']}", headers=stranger)).status_code == 404
    early = await client.post(
        f"{API}/tickets/{ticket['id']}/rating", json={"satisfaction": 5}, headers=consumer
    )
    assert early.json()["error"]["code"] == "ticket_not_resolved"

    clock.advance(hours=3)
    replied = await client.post(
        f"{API}/tickets/{ticket['id']}/messages", json={"text": "It ships today."}, headers=merchant
    )
    assert replied.json()["status"] == "answered"
    assert [m["from_staff"] for m in replied.json()["messages"]] == [False, True]
    clock.advance(hours=2)
    resolved = await client.post(f"{API}/tickets/{ticket['id']}/resolve", headers=consumer)
    assert resolved.json()["status"] == "resolved"
    rated = await client.post(
        f"{API}/tickets/{ticket['id']}/rating", json={"satisfaction": 4}, headers=consumer
    )
    assert rated.json()["satisfaction"] == 4
    bad = await client.post(
        f"{API}/tickets/{ticket['id']}/rating", json={"satisfaction": 6}, headers=consumer
    )
    assert bad.status_code == 422
    inbox = await client.get(f"{API}/brands/{brand_id}/tickets", headers=merchant)
    assert [t["id"] for t in inbox.json()] == [ticket["id"]]
    score = await client.get(
        f"{API}/service-scores", params={"brand_id": brand_id}, headers=merchant
    )
    body = score.json()
    assert (body["tickets"], body["tickets_resolved"], body["ratings"]) == (1, 1, 1)
    assert body["median_ticket_response_seconds"] == 3 * 3600
    assert body["median_resolution_seconds"] == 5 * 3600
    platform = await client.get(f"{API}/service-scores", headers=merchant)
    assert platform.status_code == 403


async def test_the_service_score_formula_on_a_known_set(
    any_backend: str, container: Container
) -> None:
    now = container.clock.now()
    brand_b = await _brand(container, "B")
    brand_c = await _brand(container, "C")
    anchor_id = await make_user(container, Role.anchor)
    session_id = await _live_session(container, anchor_id)

    def question(
        brand: int, asked_ago: float, answered_after: float | None, status: str
    ) -> Question:
        asked = now - timedelta(seconds=asked_ago)
        return Question(
            session_id=session_id,
            brand_id=brand,
            text="q?",
            language="en",
            asked_at=asked,
            status=status,
            first_response_at=None
            if answered_after is None
            else asked + timedelta(seconds=answered_after),
        )

    def ticket(
        created_ago_h: float, first_h: float | None, resolved_h: float | None, rating: int | None
    ) -> Ticket:
        created = now - timedelta(hours=created_ago_h)
        return Ticket(
            brand_id=brand_b,
            subject="s",
            status="resolved" if resolved_h else "open",
            created_at=created,
            first_response_at=None if first_h is None else created + timedelta(hours=first_h),
            resolved_at=None if resolved_h is None else created + timedelta(hours=resolved_h),
            satisfaction=rating,
        )

    async with container.uow() as uow:
        uow.session.add_all(
            [
                question(brand_b, 3600, 60, "answered"),  # in time
                question(brand_b, 3600, 600, "answered"),  # late
                question(brand_b, 3600, None, "open"),  # unanswered for an hour: late
                question(brand_b, 3600, 5, "dismissed"),  # not counted
                question(brand_b, 10, None, "open"),  # asked 10 s ago: not late yet
                question(brand_c, 3600, 30, "answered"),  # another brand, in time
                ticket(100, 2, 5, 5),  # answered in time, resolved, 5 stars
                ticket(100, 30, 40, 2),  # answered late, resolved, 2 stars
                ticket(48, None, None, None),  # two days without an answer
                ticket(1, None, None, None),  # an hour old: not late yet
            ]
        )
        await uow.commit()
    async with container.uow() as uow:
        b = await service.service_score(uow.session, brand_id=brand_b, now=now)
        platform = await service.service_score(uow.session, brand_id=None, now=now)
        empty = await service.service_score(uow.session, brand_id=999_999, now=now)
    assert (b.questions, b.questions_answered, b.questions_answered_in_time) == (3, 2, 1)
    assert (b.tickets, b.tickets_responded_in_time, b.tickets_resolved) == (3, 1, 2)
    assert b.components == {
        "question_response": round(1 / 3, 4),
        "ticket_response": round(1 / 3, 4),
        "resolution": round(2 / 3, 4),
        "satisfaction": 0.625,
    }
    # 100 x (0.30/3 + 0.25/3 + 0.25 x 2/3 + 0.20 x 0.625) = 47.5
    assert b.score == 47.5
    assert b.median_question_response_seconds == 330
    assert platform.components["question_response"] == 0.5  # 2 of 4 counted questions in time
    assert empty.score is None and all(v is None for v in empty.components.values())


async def test_questions_and_tickets_are_exported_and_erased(
    client: httpx.AsyncClient, container: Container
) -> None:
    brand_id = await _brand(container, "Lumen")
    user_id = await make_user(container, name="Erin")
    headers = await auth(client, container, user_id)
    anchor_id = await make_user(container, Role.anchor)
    session_id = await _live_session(container, anchor_id)
    async with container.uow() as uow:
        uow.session.add(
            Question(
                session_id=session_id,
                brand_id=brand_id,
                asker_id=user_id,
                text="is it vegan?",
                language="en",
                asked_at=container.clock.now(),
                status="answered",
                answer="yes",
                suggestion={"answer": "yes"},
            )
        )
        await uow.commit()
    opened = await client.post(
        f"{API}/tickets",
        json={"brand_id": brand_id, "subject": "My address", "text": "12 Elm St"},
        headers=headers,
    )
    assert opened.status_code == 201
    export = (await client.get(f"{API}/me/export", headers=headers)).json()["tables"]
    assert [q["text"] for q in export["service_questions"]] == ["is it vegan?"]
    assert [t["subject"] for t in export["service_tickets"]] == ["My address"]
    assert [m["text"] for m in export["service_ticket_messages"]] == ["12 Elm St"]
    deleted = await client.request(
        "DELETE", f"{API}/me", json={"password": PASSWORD}, headers=headers
    )
    assert deleted.status_code == 200, deleted.text
    async with container.uow() as uow:
        q = (await uow.session.scalars(select(Question))).one()
        t = (await uow.session.scalars(select(Ticket))).one()
        m = (await uow.session.scalars(select(TicketMessage))).one()
    assert (q.text, q.answer, q.suggestion, q.status) == ("", None, None, "answered")
    assert (t.subject, m.text) == ("", "")
