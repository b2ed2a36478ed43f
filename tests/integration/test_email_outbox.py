"""The e-mail outbox over a real SMTP server (aiosmtpd), on SQLite and PostgreSQL: nothing is
lost while the server is down, a permanent refusal fails at once, a temporary one is tried
again until MAX_ATTEMPTS, a consumer who opts out meanwhile gets nothing, and a round that
died mid-send is taken up again after its lease."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from livecart.accounts.schemas import Identity, Role
from livecart.bootstrap import Container
from livecart.core.clock import FrozenClock
from livecart.marketing import delivery
from livecart.marketing import service as marketing
from livecart.marketing.errors import SmtpNotConfigured
from livecart.marketing.models import ConsumerStage, Message
from livecart.marketing.schemas import Arm
from livecart.settings import Settings
from tests.conftest import free_port
from tests.support import PASSWORD, auth, campaign_rounds_done, email_of, make_user


@dataclass
class Server:
    """An SMTP server that keeps what it took and answers chosen recipients with a refusal."""

    refuse: dict[str, str] = field(default_factory=dict)  # address -> reply
    mails: list[tuple[str, str]] = field(default_factory=list)  # (recipient, content)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.mails += [(to, envelope.content.decode()) for to in envelope.rcpt_tos]
        return "250 OK"

    def received(self) -> list[str]:
        with self.lock:
            return [to for to, _ in self.mails]


@pytest.fixture
def port() -> int:
    """The SMTP port of the settings; nothing listens on it until a test starts a server."""
    return free_port()


@pytest.fixture
def settings(settings: Settings, port: int) -> Settings:
    # Plain-HTTP session cookies: the marketing page is read over the test client's http.
    update = {"smtp_host": "127.0.0.1", "smtp_port": port, "cookie_secure": False}
    return settings.model_copy(update=update)


@pytest.fixture
def server(port: int) -> Iterator[tuple[Server, Controller]]:
    """The server, not started."""
    handler = Server()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    yield handler, controller
    if controller._thread is not None:  # started by the test
        controller.stop()


async def _send_campaign(
    client: httpx.AsyncClient, container: Container, op: dict[str, str], people: list[int]
) -> dict[str, Any]:
    """An e-mail campaign to these consumers (a stage audience), sent now; its 1% holdout
    (the least there is) takes none of them, by `arm_of`."""
    r = await client.post(
        "/api/v1/marketing/campaigns",
        json={
            "name": "e-mail",
            "action": "email",
            "track": "lifecycle",
            "stage": "new",
            "subject": "Tonight at eight",
            "body": "New lipsticks live.",
            "holdout_percent": 1,
        },
        headers=op,
    )
    assert r.status_code == 201, r.text
    campaign = r.json()
    assert all(marketing.arm_of(campaign["id"], uid, 1) is Arm.treated for uid in people)
    r = await client.post(f"/api/v1/marketing/campaigns/{campaign['id']}/run", headers=op)
    assert r.status_code == 200, r.text
    assert r.json()["emails"] == len(people)
    await campaign_rounds_done(container)
    return campaign


async def _rows(container: Container) -> dict[int, Message]:
    async with container.uow() as uow:
        rows = await uow.session.scalars(select(Message).where(Message.channel == "email"))
        return {row.user_id: row for row in rows}


async def _people(container: Container, n: int) -> list[int]:
    """n consumers on the lifecycle stage `new`."""
    people = [await make_user(container) for _ in range(n)]
    async with container.uow() as uow:
        for uid in people:
            uow.session.add(
                ConsumerStage(
                    user_id=uid, track="lifecycle", stage="new", entered_at=container.clock.now()
                )
            )
        await uow.commit()
    return people


async def _backlog(client: httpx.AsyncClient) -> dict[str, float]:
    """The outbox's backlog as `GET /metrics` shows it to monitoring."""
    text = (await client.get("/metrics")).text
    prefix = "livecart_marketing_emails_"
    return {
        family.name.removeprefix(prefix): family.samples[0].value
        for family in text_string_to_metric_families(text)
        if family.name.startswith(prefix)
    }


async def _deliver(client: httpx.AsyncClient, op: dict[str, str]) -> dict[str, int]:
    r = await client.post("/api/v1/marketing/emails/deliver", headers=op)
    assert r.status_code == 200, r.text
    out: dict[str, int] = r.json()
    return out


async def test_nothing_is_lost_while_the_mail_server_is_down(
    any_backend: str,
    client: httpx.AsyncClient,
    container: Container,
    clock: FrozenClock,
    server: tuple[Server, Controller],
) -> None:
    handler, controller = server
    operator = await make_user(container, Role.operator)
    op = await auth(client, container, operator)
    people = await _people(container, 5)
    campaign = await _send_campaign(client, container, op, people)

    # The run committed; its e-mails were tried after commit and could not go out.
    rows = await _rows(container)
    assert sorted(rows) == people
    for row in rows.values():
        assert (row.status, row.attempts, row.sent_at) == ("queued", 1, None)
        assert row.last_error is not None and "Connection" in row.last_error
        assert row.next_attempt_at == clock.now() + delivery.retry_after(1)
    r = await client.get(f"/api/v1/marketing/campaigns/{campaign['id']}", headers=op)
    assert r.json()["emails_by_status"] == {"queued": 5}

    assert await _backlog(client) == {
        "queued": 5,
        "due": 0,
        "oldest_queued_seconds": 0,
        "oldest_due_seconds": 0,
    }

    # Not due yet: a round now sends nothing, even with the server back.
    controller.start()
    assert await _deliver(client, op) == {"sent": 0, "failed": 0, "retrying": 0, "cancelled": 0}
    assert handler.received() == []

    # Due (for 30 s, as monitoring sees): each goes out once, to its consumer.
    clock.advance(seconds=delivery.retry_after(1).total_seconds() + 30)
    assert await _backlog(client) == {
        "queued": 5,
        "due": 5,
        "oldest_queued_seconds": delivery.retry_after(1).total_seconds() + 30,
        "oldest_due_seconds": 30,
    }
    assert await _deliver(client, op) == {"sent": 5, "failed": 0, "retrying": 0, "cancelled": 0}
    assert await _backlog(client) == {
        "queued": 0,
        "due": 0,
        "oldest_queued_seconds": 0,
        "oldest_due_seconds": 0,
    }
    assert sorted(handler.received()) == sorted([await email_of(container, u) for u in people])
    assert all("Subject: Tonight at eight" in content for _, content in handler.mails)
    rows = await _rows(container)
    assert {(r.status, r.attempts, r.sent_at, r.last_error) for r in rows.values()} == {
        ("sent", 2, clock.now(), None)
    }
    assert await _deliver(client, op) == {"sent": 0, "failed": 0, "retrying": 0, "cancelled": 0}
    assert len(handler.received()) == 5
    r = await client.get(f"/api/v1/marketing/campaigns/{campaign['id']}", headers=op)
    assert r.json()["emails_by_status"] == {"sent": 5}
    # Each mail carries its consumer's one-click unsubscribe link (RFC 8058), also in the text.
    first = email.message_from_string(handler.mails[0][1], policy=email.policy.default)
    link = first["List-Unsubscribe"].strip("<>")
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link.startswith(f"{container.settings.base_url.rstrip('/')}/unsubscribe?token=")
    assert link in first.get_content()
    addresses = {await email_of(container, u): u for u in people}
    who = addresses[handler.mails[0][0]]
    headers = await auth(client, container, who)
    path = link.split(container.settings.base_url.rstrip("/"), 1)[1]
    # Opening it changes nothing (mail scanners open links); the one-click POST does.
    assert (await client.get(path)).status_code == 200
    assert (await client.get("/api/v1/me/privacy", headers=headers)).json() == {
        "personalisation": True
    }
    r = await client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200 and "You are unsubscribed" in r.text
    assert (await client.get("/api/v1/me/privacy", headers=headers)).json() == {
        "personalisation": False
    }
    # A link that is not ours changes nothing.
    r = await client.post("/unsubscribe?token=" + link.rsplit("=", 1)[1][:-3] + "abc")
    assert r.status_code == 422 and "not valid" in r.text

    # The operator's marketing page says so in the campaign's row.
    form = {"email": await email_of(container, operator), "password": PASSWORD, "next": "/"}
    login = await client.post("/login", data=form)
    assert login.status_code == 303, login.text
    assert login.headers["location"] == "/", login.headers
    page = await client.get("/operator/marketing")
    assert page.status_code == 200, page.headers
    row = page.text.split(f"#{campaign['id']} e-mail")[1].split("</tr>")[0]
    assert '<td data-testid="campaign-emails">5 sent</td>' in row


async def test_refusals_opt_outs_and_the_last_try(
    any_backend: str,
    client: httpx.AsyncClient,
    container: Container,
    clock: FrozenClock,
    server: tuple[Server, Controller],
) -> None:
    handler, controller = server
    op = await auth(client, container, await make_user(container, Role.operator))
    people = await _people(container, 4)
    gone, busy, shy, fine = people
    handler.refuse = {
        await email_of(container, gone): "550 5.1.1 no such mailbox",
        await email_of(container, busy): "451 4.3.0 try again later",
        await email_of(container, shy): "451 4.3.0 try again later",
    }
    controller.start()
    campaign = await _send_campaign(client, container, op, people)

    # A permanent refusal fails at once; a temporary one waits; the rest went out.
    rows = await _rows(container)
    assert (rows[gone].status, rows[gone].attempts) == ("failed", 1)
    assert rows[gone].last_error == "550 5.1.1 no such mailbox"
    assert rows[gone].next_attempt_at is None
    for uid in (busy, shy):
        assert (rows[uid].status, rows[uid].attempts) == ("queued", 1)
        assert rows[uid].last_error == "451 4.3.0 try again later"
    assert (rows[fine].status, rows[fine].sent_at) == ("sent", clock.now())
    assert handler.received() == [await email_of(container, fine)]

    # A consumer who switches targeted messages off before the next try gets no more tries.
    r = await client.put(
        "/api/v1/me/privacy",
        json={"personalisation": False},
        headers=await auth(client, container, shy),
    )
    assert r.status_code == 200, r.text
    clock.advance(seconds=delivery.retry_after(1).total_seconds())
    assert await _deliver(client, op) == {"sent": 0, "failed": 0, "retrying": 1, "cancelled": 1}
    rows = await _rows(container)
    assert (rows[shy].status, rows[shy].attempts, rows[shy].next_attempt_at) == (
        "cancelled",
        1,
        None,
    )
    assert rows[shy].last_error == "the consumer switched targeted messages off"

    # A temporary refusal that lasts: tried MAX_ATTEMPTS times in all, then failed.
    for attempt in range(2, delivery.MAX_ATTEMPTS + 1):
        row = (await _rows(container))[busy]
        assert row.attempts == attempt
        if attempt == delivery.MAX_ATTEMPTS:
            break
        assert row.next_attempt_at == clock.now() + delivery.retry_after(attempt)
        clock.advance(seconds=delivery.retry_after(attempt).total_seconds())
        last = attempt + 1 == delivery.MAX_ATTEMPTS
        assert await _deliver(client, op) == {
            "sent": 0,
            "failed": int(last),
            "retrying": int(not last),
            "cancelled": 0,
        }
    row = (await _rows(container))[busy]
    assert (row.status, row.next_attempt_at) == ("failed", None)
    assert row.last_error == "451 4.3.0 try again later"
    r = await client.get(f"/api/v1/marketing/campaigns/{campaign['id']}", headers=op)
    assert r.json()["emails_by_status"] == {"cancelled": 1, "failed": 2, "sent": 1}
    assert handler.received() == [await email_of(container, fine)]


async def test_a_round_that_died_mid_send_is_taken_up_after_its_lease(
    any_backend: str,
    client: httpx.AsyncClient,
    container: Container,
    clock: FrozenClock,
    server: tuple[Server, Controller],
) -> None:
    handler, controller = server
    op = await auth(client, container, await make_user(container, Role.operator))
    people = await _people(container, 3)
    # The server is down: all due again in a minute.
    await _send_campaign(client, container, op, people)
    clock.advance(seconds=delivery.retry_after(1).total_seconds())
    # A worker claims them, then dies before it sends or records anything.
    async with container.uow() as uow:
        assert container.outbox is not None
        claimed = await delivery._claim(
            uow.session,
            now=clock.now(),
            campaign_id=None,
            limit=10,
            unsubscribe=container.outbox.unsubscribe_url,
        )
        await uow.commit()
    assert len(claimed.outgoing) == 3
    controller.start()
    assert (await _deliver(client, op))["sent"] == 0  # held by the lease
    clock.advance(seconds=delivery.LEASE.total_seconds())
    assert await _deliver(client, op) == {"sent": 3, "failed": 0, "retrying": 0, "cancelled": 0}
    assert sorted(handler.received()) == sorted([await email_of(container, u) for u in people])
    assert {r.attempts for r in (await _rows(container)).values()} == {3}


async def test_delivery_needs_an_operator_and_smtp(
    client: httpx.AsyncClient, container: Container
) -> None:
    consumer = await auth(client, container, await make_user(container))
    r = await client.post("/api/v1/marketing/emails/deliver", headers=consumer)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "permission_denied"
    operator = Identity(
        id=1, email="op@example.test", display_name="op", roles=frozenset({Role.operator})
    )
    with pytest.raises(SmtpNotConfigured):
        await marketing.deliver_emails(actor=operator, outbox=None)
