"""Segments, stages, campaigns with holdout, opt-out (every channel, e-mail over real SMTP),
uplift reports, pre-live invitations and privacy of marketing data, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.core.clock import FrozenClock
from livecart.demo.marketing import SimulatedEffect, seed_marketing
from livecart.insights.models import ConsumerAffinity, ConsumerPortrait, FanLevel
from livecart.marketing import service as marketing
from livecart.marketing.schemas import Arm
from livecart.settings import Settings
from tests.conftest import free_port
from tests.support import auth, campaign_rounds_done, email_of, make_user

BEAUTY_RULE = {
    "all": [
        {"affinity": "category", "key": "beauty", "op": ">", "value": 0.6},
        {"field": "expected_purchases_30d", "op": ">", "value": 0.3},
    ]
}


@dataclass
class Inbox:
    """What the local SMTP server received."""

    mails: list[tuple[str, list[str], str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.mails.append(
                (envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode())
            )
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server (aiosmtpd) on a free loopback port."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def settings(settings: Settings, smtp: tuple[Inbox, int]) -> Settings:
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp[1]})


async def store_portrait(
    container: Container,
    user_id: int,
    *,
    beauty: float | None = None,
    expected: float = 0.0,
    orders: int = 0,
    sessions: int = 0,
    recency: int | None = None,
    p_alive: float | None = None,
    tags: list[str] | None = None,
    fan: tuple[int, int] | None = None,
) -> None:
    """Store a portrait as the portrait job would (fields not given are empty)."""
    async with container.uow() as uow:
        uow.session.add(
            ConsumerPortrait(
                user_id=user_id,
                computed_at=container.clock.now(),
                watch_seconds=600.0 * sessions,
                sessions_watched=sessions,
                avg_stay_seconds=None,
                active_hours=[0] * 24,
                messages=0,
                likes=0,
                questions=0,
                interactions_per_hour=None,
                top_keywords=[],
                products_viewed=0,
                categories_viewed=0,
                carts=0,
                orders=orders,
                spend_minor=orders * 10_000,
                currency="CNY",
                return_rate=None,
                recency_days=recency,
                rfm_r=None,
                rfm_f=None,
                rfm_m=None,
                p_alive=p_alive,
                expected_purchases_30d=expected,
                expected_value_minor=None,
                tags=tags or [],
            )
        )
        if beauty is not None:
            uow.session.add(
                ConsumerAffinity(user_id=user_id, kind="category", key="beauty", score=beauty)
            )
        if fan is not None:
            uow.session.add(
                FanLevel(user_id=user_id, anchor_id=fan[0], score=fan[1] * 100, level=fan[1])
            )
        await uow.commit()


async def _opt_out(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    r = await client.put("/api/v1/me/privacy", json={"personalisation": False}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["personalisation"] is False


async def test_segment_rules_count_save_and_export(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    op = await auth(client, container, await make_user(container, Role.operator))
    fans = [await make_user(container) for _ in range(3)]
    others = [await make_user(container) for _ in range(3)]
    await store_portrait(container, fans[0], beauty=0.9, expected=0.8, tags=["night owl"])
    await store_portrait(container, fans[1], beauty=0.7, expected=0.5)
    await store_portrait(container, fans[2], beauty=0.95, expected=0.1)  # unlikely to buy
    await store_portrait(container, others[0], beauty=0.3, expected=0.9, tags=["night owl"])
    await store_portrait(container, others[1], expected=2.0, fan=(42, 3))
    # others[2] has no portrait: in no segment

    async def count(rule: dict[str, Any]) -> int:
        r = await client.post("/api/v1/marketing/segments/count", json={"rule": rule}, headers=op)
        assert r.status_code == 200, r.text
        return int(r.json()["count"])

    assert await count(BEAUTY_RULE) == 2
    assert await count({"all": []}) == 5
    assert await count({"any": [{"tag": "night owl"}]}) == 2
    assert await count({"all": [{"tag": "night owl", "present": False}]}) == 3
    assert await count({"all": [{"anchor_id": 42, "op": ">=", "value": 2}]}) == 1
    assert await count({"all": [{"anchor_id": 42, "op": ">=", "value": 4}]}) == 0
    assert (
        await count({"all": [{"field": "expected_purchases_30d", "op": "in", "value": [0.5, 2.0]}]})
        == 2
    )
    nested = {
        "any": [BEAUTY_RULE, {"all": [{"field": "expected_purchases_30d", "op": ">=", "value": 2}]}]
    }
    assert await count(nested) == 3

    for bad in (
        {"all": [{"field": "password_hash", "op": ">", "value": 1}]},
        {"all": [{"field": "orders", "op": "in", "value": 3}]},
        {"all": [{"field": "orders", "op": "like", "value": 3}]},
        {"all": [], "any": []},
    ):
        r = await client.post("/api/v1/marketing/segments/count", json={"rule": bad}, headers=op)
        assert r.status_code == 422, (bad, r.text)

    r = await client.post(
        "/api/v1/marketing/segments",
        json={"name": "Beauty fans likely to buy", "rule": BEAUTY_RULE},
        headers=op,
    )
    assert r.status_code == 201, r.text
    segment = r.json()
    assert segment["size"] == 2
    listed = (await client.get("/api/v1/marketing/segments", headers=op)).json()
    assert [s["id"] for s in listed] == [segment["id"]]

    r = await client.get(f"/api/v1/marketing/segments/{segment['id']}/export.csv", headers=op)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted(int(row["user_id"]) for row in rows) == sorted(fans[:2])
    assert "email" not in rows[0]

    consumer = await auth(client, container, others[2])
    r = await client.post(
        "/api/v1/marketing/segments/count", json={"rule": BEAUTY_RULE}, headers=consumer
    )
    assert r.status_code == 403


async def test_campaign_holdout_opt_out_and_every_channel(
    any_backend: str,
    client: httpx.AsyncClient,
    container: Container,
    smtp: tuple[Inbox, int],
) -> None:
    inbox, _ = smtp
    op = await auth(client, container, await make_user(container, Role.operator))
    people = [await make_user(container) for _ in range(40)]
    for uid in people:
        await store_portrait(container, uid, beauty=0.8, expected=0.6)
    quitter, stayer = people[0], people[1]
    quitter_headers = await auth(client, container, quitter)
    await _opt_out(client, quitter_headers)

    r = await client.post(
        "/api/v1/marketing/segments", json={"name": "beauty", "rule": BEAUTY_RULE}, headers=op
    )
    segment_id = r.json()["id"]
    sent: dict[str, dict[str, Any]] = {}
    for action in ("in_app", "email", "coupon"):
        body: dict[str, Any] = {
            "name": f"{action} campaign",
            "action": action,
            "segment_id": segment_id,
            "subject": f"Hello by {action}",
            "body": "New lipsticks tonight.",
            "holdout_percent": 20,
        }
        if action == "coupon":
            body |= {"coupon_code": "GLOW10", "coupon_amount": 1000}
        r = await client.post("/api/v1/marketing/campaigns", json=body, headers=op)
        assert r.status_code == 201, r.text
        campaign = r.json()
        r = await client.post(f"/api/v1/marketing/campaigns/{campaign['id']}/run", headers=op)
        assert r.status_code == 200, r.text
        run = r.json()
        assert run["audience"] == 40 and run["opted_out"] == 1
        assert run["treated"] + run["holdout"] == 39
        expected_holdout = sum(
            marketing.arm_of(campaign["id"], uid, 20) is Arm.holdout
            for uid in people
            if uid != quitter
        )
        assert run["holdout"] == expected_holdout > 0
        sent[action] = campaign | {"run": run}
        again = await client.post(f"/api/v1/marketing/campaigns/{campaign['id']}/run", headers=op)
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "campaign_already_sent"

    await campaign_rounds_done(container)  # the e-mail campaign's first round, after its reply
    # The consumer who opted out got nothing, by any channel, from any campaign.
    async with container.uow() as uow:
        theirs = await marketing.messages_for(uow.session, user_ids=[quitter])
        assert theirs == []
        assert quitter not in await marketing.assigned(uow.session, campaign_id=sent["email"]["id"])
    quitter_email = await email_of(container, quitter)
    recipients = [to for _, tos, _ in inbox.mails for to in tos]
    assert quitter_email not in recipients
    assert (await client.get("/api/v1/me/messages", headers=quitter_headers)).json() == []

    # E-mail reached exactly the treated arm of the e-mail campaign, through the real server.
    email_campaign = sent["email"]
    treated_emails = {
        await email_of(container, uid)
        for uid in people
        if uid != quitter and marketing.arm_of(email_campaign["id"], uid, 20) is Arm.treated
    }
    assert len(inbox.mails) == email_campaign["run"]["emails"] == len(treated_emails)
    assert set(recipients) == treated_emails
    assert all("Subject: Hello by email" in content for _, _, content in inbox.mails)

    # A treated consumer sees the in-app message and the coupon, and can mark them read.
    treated = next(
        uid
        for uid in people[1:]
        if marketing.arm_of(sent["in_app"]["id"], uid, 20) is Arm.treated
        and marketing.arm_of(sent["coupon"]["id"], uid, 20) is Arm.treated
    )
    headers = await auth(client, container, treated)
    messages = (await client.get("/api/v1/me/messages", headers=headers)).json()
    assert {m["subject"] for m in messages} == {"Hello by in_app", "Hello by coupon"}
    coupon = next(m for m in messages if m["coupon_code"])
    assert coupon["coupon_code"] == "GLOW10" and "10.00 CNY off" in coupon["body"]
    r = await client.post(f"/api/v1/me/messages/{coupon['id']}/read", headers=headers)
    assert r.status_code == 200 and r.json()["read_at"] is not None
    other = await auth(client, container, stayer if stayer != treated else people[2])
    r = await client.post(f"/api/v1/me/messages/{coupon['id']}/read", headers=other)
    assert r.status_code == 404

    # Switching back on counts from the next campaign on.
    r = await client.put(
        "/api/v1/me/privacy", json={"personalisation": True}, headers=quitter_headers
    )
    assert r.status_code == 200


async def test_demo_campaign_reports_uplift_with_interval(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    operator_id = await make_user(container, Role.operator)
    op = await auth(client, container, operator_id)
    people = [await make_user(container) for _ in range(60)]
    quitter_headers = await auth(client, container, people[0])
    await _opt_out(client, quitter_headers)
    async with container.uow() as uow:
        from livecart.accounts import service as accounts

        operator = await accounts.load_identity(uow.session, operator_id)
    assert operator is not None
    effect = SimulatedEffect()
    campaign_id = await seed_marketing(
        container, operator=operator, consumer_ids=people, now=container.clock.now(), effect=effect
    )
    r = await client.get(f"/api/v1/marketing/campaigns/{campaign_id}/report", headers=op)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["outcome_source"] == "simulated" and "simulated" in report["note"]
    assert report["opted_out"] == 1
    arms = {a["arm"]: a for a in report["arms"]}
    assert arms["treated"]["consumers"] + arms["holdout"]["consumers"] == 59
    conversion = report["conversion_uplift"]
    assert conversion["method"].startswith("Newcombe")
    assert conversion["low"] <= conversion["estimate"] <= conversion["high"]
    rates = arms["treated"]["conversion_rate"] - arms["holdout"]["conversion_rate"]
    assert conversion["estimate"] == pytest.approx(rates)
    gmv = report["gmv_uplift"]
    assert gmv["method"].startswith("Welch")
    assert gmv["low"] <= gmv["estimate"] <= gmv["high"]
    assert (await client.get("/api/v1/me/messages", headers=quitter_headers)).json() == []


async def test_outcomes_measured_from_the_event_log(
    client: httpx.AsyncClient, container: Container
) -> None:
    from livecart.events import service as events
    from livecart.events.schemas import EventType

    clock = container.clock
    assert isinstance(clock, FrozenClock)
    # The campaign went out ten days ago (tokens refuse an issue time in the future, so the
    # clock goes back rather than forward).
    clock.advance(days=-10)
    operator_id = await make_user(container, Role.operator)
    op = await auth(client, container, operator_id)
    people = [await make_user(container) for _ in range(30)]
    for uid in people:
        await store_portrait(container, uid, beauty=0.9, expected=0.9)
    r = await client.post(
        "/api/v1/marketing/segments", json={"name": "b", "rule": BEAUTY_RULE}, headers=op
    )
    r = await client.post(
        "/api/v1/marketing/campaigns",
        json={
            "name": "m",
            "action": "in_app",
            "segment_id": r.json()["id"],
            "subject": "s",
            "window_days": 7,
        },
        headers=op,
    )
    campaign_id = r.json()["id"]
    assert (
        await client.post(f"/api/v1/marketing/campaigns/{campaign_id}/run", headers=op)
    ).status_code == 200
    sent_at = clock.now()
    buyers = {people[1]: 5000, people[2]: 7000}
    late = people[3]  # pays after the window: not counted
    before = people[4]  # paid before the send: not counted
    for uid, amount in buyers.items():
        events.emit(
            container,
            events.new_event(
                EventType.PAYMENT,
                occurred_at=sent_at + timedelta(days=1),
                consumer_id=uid,
                amount=amount,
                currency="CNY",
                source="server",
            ),
        )
    events.emit(
        container,
        events.new_event(
            EventType.PAYMENT,
            occurred_at=sent_at + timedelta(days=9),
            consumer_id=late,
            amount=900,
            currency="CNY",
            source="server",
        ),
    )
    events.emit(
        container,
        events.new_event(
            EventType.PAYMENT,
            occurred_at=sent_at - timedelta(hours=1),
            consumer_id=before,
            amount=900,
            currency="CNY",
            source="server",
        ),
    )
    clock.advance(days=10)
    op = await auth(client, container, operator_id)  # the old token expired meanwhile
    r = await client.post(f"/api/v1/marketing/campaigns/{campaign_id}/measure", headers=op)
    assert r.status_code == 200, r.text
    report = r.json()
    arms = {a["arm"]: a for a in report["arms"]}
    assert report["outcome_source"] == "events"
    assert arms["treated"]["converted"] + arms["holdout"]["converted"] == 2
    assert arms["treated"]["gmv"] + arms["holdout"]["gmv"] == 12_000


async def test_stage_tracks_move_consumers_and_record_flows(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    op = await auth(client, container, await make_user(container, Role.operator))
    new, engaged, loyal, lapsing = [await make_user(container) for _ in range(4)]
    await store_portrait(container, new)
    await store_portrait(container, engaged, sessions=3)
    await store_portrait(container, loyal, orders=4, recency=10, p_alive=0.9)
    await store_portrait(container, lapsing, orders=2, recency=120, p_alive=0.2)
    r = await client.post("/api/v1/marketing/stages/run", headers=op)
    assert r.status_code == 200, r.text
    assert r.json()["moves"] == 4
    counts = (await client.get("/api/v1/marketing/stages?track=lifecycle", headers=op)).json()
    assert {c["stage"]: c["consumers"] for c in counts} == {
        "new": 1,
        "engaged": 1,
        "loyal": 1,
        "lapsing": 1,
    }
    # The new consumer buys: the next run moves them to converted and records the move.
    async with container.uow() as uow:
        portrait = await uow.session.get(ConsumerPortrait, new)
        assert portrait is not None
        portrait.orders, portrait.recency_days = 1, 0
        await uow.commit()
    # The periodic job (its own unit of work) does what the route does.
    assert (await marketing.run_stage_job(container.uow, clock=container.clock)).moves == 1
    flows = (await client.get("/api/v1/marketing/stages/flows", headers=op)).json()
    moves = {(f["from_stage"], f["to_stage"]): f["moves"] for f in flows}
    assert moves[("new", "converted")] == 1
    assert moves[(None, "new")] == 1

    # A campaign on a stage reaches that stage's consumers.
    r = await client.post(
        "/api/v1/marketing/campaigns",
        json={
            "name": "win back",
            "action": "in_app",
            "track": "lifecycle",
            "stage": "lapsing",
            "subject": "We miss you",
            "holdout_percent": 1,
        },
        headers=op,
    )
    assert r.status_code == 201, r.text
    run = (
        await client.post(f"/api/v1/marketing/campaigns/{r.json()['id']}/run", headers=op)
    ).json()
    assert run["audience"] == 1


async def test_prelive_invitations_rank_by_fan_level_and_skip_opt_outs(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    op = await auth(client, container, await make_user(container, Role.operator))
    anchor_id = await make_user(container, Role.anchor)
    anchor = await auth(client, container, anchor_id)
    room = (await client.post("/api/v1/rooms", json={"title": "Glow"}, headers=anchor)).json()
    later = (container.clock.now() + timedelta(days=1)).isoformat()
    session = (
        await client.post(
            f"/api/v1/rooms/{room['id']}/sessions",
            json={"title": "Tonight", "scheduled_at": later},
            headers=anchor,
        )
    ).json()
    superfan, fan, casual, quitter = [await make_user(container) for _ in range(4)]
    await store_portrait(
        container, superfan, sessions=8, fan=(anchor_id, 5), expected=1.0, p_alive=0.9
    )
    await store_portrait(container, fan, sessions=2, fan=(anchor_id, 2), expected=0.2, p_alive=0.8)
    await store_portrait(container, casual, sessions=1)
    await store_portrait(
        container, quitter, sessions=9, fan=(anchor_id, 5), expected=1.0, p_alive=0.9
    )
    await _opt_out(client, await auth(client, container, quitter))
    r = await client.get(f"/api/v1/marketing/sessions/{session['id']}/invitees?top=2", headers=op)
    assert r.status_code == 200, r.text
    assert [i["user_id"] for i in r.json()] == [superfan, fan]
    r = await client.post(
        f"/api/v1/marketing/sessions/{session['id']}/invitations",
        json={"top": 3, "holdout_percent": 1},
        headers=op,
    )
    assert r.status_code == 200, r.text
    assert r.json()["audience"] == 3
    async with container.uow() as uow:
        assert await marketing.messages_for(uow.session, user_ids=[quitter]) == []
        invited = await marketing.messages_for(uow.session, user_ids=[superfan, fan, casual])
    assert invited and all(
        m.link and m.link.endswith(f"/sessions/{session['id']}") for m in invited
    )


async def test_marketing_rows_are_exported_and_erased(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    op = await auth(client, container, await make_user(container, Role.operator))
    uid = await make_user(container)
    await store_portrait(container, uid, beauty=0.9, expected=0.9, sessions=3)
    headers = await auth(client, container, uid)
    await client.post("/api/v1/marketing/stages/run", headers=op)
    r = await client.post(
        "/api/v1/marketing/segments", json={"name": "b", "rule": BEAUTY_RULE}, headers=op
    )
    r = await client.post(
        "/api/v1/marketing/campaigns",
        json={
            "name": "c",
            "action": "in_app",
            "segment_id": r.json()["id"],
            "subject": "s",
            "holdout_percent": 1,
        },
        headers=op,
    )
    await client.post(f"/api/v1/marketing/campaigns/{r.json()['id']}/run", headers=op)
    exported = (await client.get("/api/v1/me/export", headers=headers)).json()["tables"]
    for table in ("consumer_stages", "stage_transitions", "campaign_assignments"):
        assert len(exported[table]) >= 1, table
    r = await client.request(
        "DELETE", "/api/v1/me", json={"password": "correct horse battery"}, headers=headers
    )
    assert r.status_code == 200, r.text
    async with container.uow() as uow:
        rows = await marketing.personal_data(uow.session, uid)
    assert all(v == [] for v in rows.values()), rows


async def test_brand_tracks_follow_brand_affinity(
    client: httpx.AsyncClient, container: Container
) -> None:
    op = await auth(client, container, await make_user(container, Role.operator))
    devoted, keen, aware, stranger = [await make_user(container) for _ in range(4)]
    for uid, score in ((devoted, 0.9), (keen, 0.6), (aware, 0.1)):
        await store_portrait(container, uid)
        async with container.uow() as uow:
            uow.session.add(ConsumerAffinity(user_id=uid, kind="brand", key="lumen", score=score))
            await uow.commit()
    await store_portrait(container, stranger)
    r = await client.post("/api/v1/marketing/stages/run", headers=op)
    assert r.json()["tracks"] == 2
    counts = (await client.get("/api/v1/marketing/stages?track=brand:lumen", headers=op)).json()
    assert {c["stage"]: c["consumers"] for c in counts} == {"devoted": 1, "keen": 1, "aware": 1}
    # The keen consumer's affinity fades away: they leave the brand's track.
    async with container.uow() as uow:
        row = await uow.session.get(ConsumerAffinity, (keen, "brand", "lumen"))
        assert row is not None
        await uow.session.delete(row)
        await uow.commit()
    await client.post("/api/v1/marketing/stages/run", headers=op)
    async with container.uow() as uow:
        assert "brand:lumen" not in await marketing.tracks_of(uow.session, user_id=keen)
        assert (await marketing.tracks_of(uow.session, user_id=devoted))["brand:lumen"] == "devoted"
