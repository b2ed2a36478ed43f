"""The e-mail outbox: a campaign's e-mails are message rows (`queued`) written with the
campaign; they are sent after its commit and by the periodic e-mail job, and each keeps what
became of it, so a mail server that is down loses nothing.

One delivery round, per batch of due rows:
1. claim (own transaction): count the attempt and hold the rows a lease ahead, so another
   worker skips them and a process that dies while sending leaves them due again after it;
   rows of consumers who switched targeted messages off since, or whose account is closed,
   are `cancelled` here and not sent;
2. send the batch over one SMTP connection (no transaction open);
3. record (own transaction): `sent` with the time; `failed` with the server's reply for a
   permanent refusal, or after MAX_ATTEMPTS; otherwise due again after RETRY_AFTER.
A mail can go out twice only if its round outlives the lease (LEASE, against a 10 s SMTP
timeout per step) or the process dies between the server's reply and step 3.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts import service as accounts
from livecart.core.clock import Clock
from livecart.core.db import UnitOfWork
from livecart.marketing.mail import Mailer, MailResult, OutgoingMail, Verdict
from livecart.marketing.models import Message
from livecart.marketing.schemas import DeliveryOut, EmailBacklogOut

MAX_ATTEMPTS = 6
# Wait after the first, second, ... try that could not be made (the last repeats).
RETRY_AFTER = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
)
LEASE = timedelta(minutes=10)
BATCH = 100
CAMPAIGN_ROUND = "marketing-email-campaign-"  # the background task's name, + the campaign id


def retry_after(attempts: int) -> timedelta:
    """How long a mail waits after its attempts-th try could not be made."""
    return RETRY_AFTER[min(attempts, len(RETRY_AFTER)) - 1]


@dataclass(frozen=True)
class _Batch:
    claimed: int
    cancelled: int
    outgoing: list[tuple[int, OutgoingMail]]  # message id, mail


async def _claim(
    session: AsyncSession,
    *,
    now: datetime,
    campaign_id: int | None,
    limit: int,
    unsubscribe: Callable[[int], str],
) -> _Batch:
    query = select(Message).where(
        Message.channel == "email",
        Message.status == "queued",
        Message.next_attempt_at <= now,
    )
    if campaign_id is not None:
        query = query.where(Message.campaign_id == campaign_id)
    rows = list(
        await session.scalars(
            query.order_by(Message.id).limit(limit).with_for_update(skip_locked=True)
        )
    )
    users = {row.user_id for row in rows}
    # Read in this transaction: a switch made before it holds for every try, not only the first.
    opted_out = await accounts.opted_out_among(session, users)
    addresses = await accounts.email_addresses(session, users)
    outgoing: list[tuple[int, OutgoingMail]] = []
    cancelled = 0
    for row in rows:
        reason = (
            "the consumer switched targeted messages off"
            if row.user_id in opted_out
            else "the account is closed"
            if row.user_id not in addresses
            else None
        )
        if reason is not None:
            row.status, row.last_error, row.next_attempt_at = "cancelled", reason, None
            cancelled += 1
            continue
        row.attempts += 1
        row.next_attempt_at = now + LEASE
        stop = unsubscribe(row.user_id)
        body = (
            row.body
            + (f"\n\n{row.link}" if row.link else "")
            + f"\n\n--\nNo more messages chosen for you: {stop}"
        )
        mail = OutgoingMail(addresses[row.user_id], row.subject, body, unsubscribe=stop)
        outgoing.append((row.id, mail))
    return _Batch(claimed=len(rows), cancelled=cancelled, outgoing=outgoing)


async def _record(
    session: AsyncSession, *, now: datetime, results: dict[int, MailResult]
) -> Counter[str]:
    counts: Counter[str] = Counter()
    rows = await session.scalars(select(Message).where(Message.id.in_(results)))
    for row in rows:  # a row erased with its account meanwhile is simply gone
        result = results[row.id]
        if result.verdict is Verdict.sent:
            row.status, row.sent_at, row.last_error, row.next_attempt_at = "sent", now, None, None
        elif result.verdict is Verdict.refused or row.attempts >= MAX_ATTEMPTS:
            row.status, row.last_error, row.next_attempt_at = "failed", result.error, None
        else:
            row.last_error = result.error
            row.next_attempt_at = now + retry_after(row.attempts)
        counts["retrying" if row.status == "queued" else row.status] += 1
    return counts


async def deliver_emails(
    open_uow: Callable[[], UnitOfWork],
    *,
    clock: Clock,
    mailer: Mailer,
    unsubscribe: Callable[[int], str],
    campaign_id: int | None = None,
    batch: int = BATCH,
) -> DeliveryOut:
    """Send every queued e-mail that is due (of one campaign, or all), batch by batch; each
    carries its consumer's unsubscribe link (`unsubscribe(user_id)`)."""
    totals: Counter[str] = Counter()
    while True:
        async with open_uow() as uow:
            claimed = await _claim(
                uow.session,
                now=clock.now(),
                campaign_id=campaign_id,
                limit=batch,
                unsubscribe=unsubscribe,
            )
            await uow.commit()
        totals["cancelled"] += claimed.cancelled
        if claimed.outgoing:
            results = await mailer.send([mail for _, mail in claimed.outgoing])
            async with open_uow() as uow:
                totals += await _record(
                    uow.session,
                    now=clock.now(),
                    results={mid: r for (mid, _), r in zip(claimed.outgoing, results, strict=True)},
                )
                await uow.commit()
        if claimed.claimed < batch:
            return DeliveryOut(
                sent=totals["sent"],
                failed=totals["failed"],
                retrying=totals["retrying"],
                cancelled=totals["cancelled"],
            )


@dataclass(frozen=True)
class Outbox:
    """Sends queued e-mails: after a campaign's commit, and from the periodic e-mail job."""

    open_uow: Callable[[], UnitOfWork]
    mailer: Mailer
    clock: Clock
    secret: str  # signs the unsubscribe links
    base_url: str
    # Where a campaign's first round runs after its commit: a background task of the server
    # (`Container.once`), so the request that sends the campaign does not wait for the mail
    # server; None (a command): at once.
    background: Callable[[Callable[[], Awaitable[object]], str], None] | None = None

    def unsubscribe_url(self, user_id: int) -> str:
        """The link that switches this consumer's targeted messages off, without a login."""
        token = accounts.unsubscribe_token(user_id, secret=self.secret, now=self.clock.now())
        return f"{self.base_url.rstrip('/')}/unsubscribe?token={token}"

    async def after_campaign(self, campaign_id: int) -> None:
        """The first round of a campaign's e-mails, after its commit."""
        round_ = partial(self.deliver, campaign_id=campaign_id)
        if self.background is None:
            await round_()
        else:
            self.background(round_, f"{CAMPAIGN_ROUND}{campaign_id}")

    async def deliver(self, *, campaign_id: int | None = None) -> DeliveryOut:
        """Send what is due (of one campaign, or all)."""
        return await deliver_emails(
            self.open_uow,
            clock=self.clock,
            mailer=self.mailer,
            unsubscribe=self.unsubscribe_url,
            campaign_id=campaign_id,
        )


async def backlog(session: AsyncSession, *, now: datetime) -> EmailBacklogOut:
    """The outbox's backlog at `now` (reads the outbox index: status, next_attempt_at)."""
    queued = (Message.channel == "email", Message.status == "queued")
    total, created = (
        await session.execute(select(func.count(), func.min(Message.created_at)).where(*queued))
    ).one()
    due, since = (
        await session.execute(
            select(func.count(), func.min(Message.next_attempt_at)).where(
                *queued, Message.next_attempt_at <= now
            )
        )
    ).one()
    return EmailBacklogOut(
        queued=total,
        due=due,
        oldest_queued_seconds=(now - created).total_seconds() if created is not None else 0.0,
        oldest_due_seconds=(now - since).total_seconds() if since is not None else 0.0,
    )


async def email_counts(session: AsyncSession, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """E-mails per status of each campaign (campaigns without e-mail are left out)."""
    if not campaign_ids:
        return {}
    rows = await session.execute(
        select(Message.campaign_id, Message.status, func.count())
        .where(Message.channel == "email", Message.campaign_id.in_(campaign_ids))
        .group_by(Message.campaign_id, Message.status)
    )
    counts: dict[int, dict[str, int]] = {}
    for campaign, status, n in rows:
        if campaign is not None:
            counts.setdefault(campaign, {})[status] = n
    return counts
