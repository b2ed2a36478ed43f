"""A consumer's privacy requests: export everything held about them, delete their account.

Each domain keeps its own data and answers through its service (`personal_data`,
`erase_personal_data`); `personal_data.py` says which columns are personal and how a deletion
treats each. A deletion runs in two passes: at once (the request's unit of work, then the
behaviour-event log), and again once every worker has forgotten the identity and flushed its
events (`identity_cache_seconds + events_flush_seconds + 1` s later), so that anything written
by a request already under way when the account was deleted is erased too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts import service as accounts
from livecart.accounts.personal_data import (
    COLUMNS,
    DELETE,
    NOT_EXPORTED,
    OWNERS,
    erased_event_fields,
    exported_columns,
)
from livecart.accounts.schemas import AccountDeletedOut, PersonalDataOut, PersonalRows
from livecart.commerce import service as commerce
from livecart.core.db import UnitOfWork
from livecart.events import service as events
from livecart.flashsale import service as flashsale
from livecart.insights import service as insights
from livecart.live import service as live
from livecart.marketing import service as marketing
from livecart.service import service as customer_service
from livecart.supervision import service as supervision

if TYPE_CHECKING:
    from livecart.bootstrap import Container

log = logging.getLogger(__name__)

# How far back the periodic sweep looks for a deletion whose second pass was lost.
SWEEP_LOOKBACK = timedelta(days=1)

PersonalSource = Callable[[AsyncSession, int], Awaitable[PersonalRows]]
Eraser = Callable[[AsyncSession, int], Awaitable[None]]

# Every domain holding rows about a person; together they cover `OWNERS`.
SOURCES: tuple[PersonalSource, ...] = (
    accounts.personal_data,
    live.personal_data,
    commerce.personal_data,
    flashsale.personal_data,
    marketing.personal_data,
    insights.personal_data,
    customer_service.personal_data,
    supervision.qualification_personal_data,
    supervision.sanction_personal_data,
)
# What a deletion runs in each domain besides pseudonymising the account (flashsale: nothing,
# its holdings and reservations stay with the orders).
ERASERS: tuple[Eraser, ...] = (
    live.erase_personal_data,
    commerce.erase_personal_data,
    insights.erase_personal_data,
    marketing.erase_personal_data,
    customer_service.erase_personal_data,
    supervision.erase_qualification_personal_data,
    supervision.erase_sanction_personal_data,
)


async def gather(session: AsyncSession, user_id: int) -> PersonalRows:
    """Every row about the user, every column, from each domain's service."""
    found: PersonalRows = {}
    for source in SOURCES:
        found.update(await source(session, user_id))
    missing = set(OWNERS) - set(found)
    if missing:
        raise RuntimeError(f"no service exports the personal tables {sorted(missing)}")
    return found


async def export(session: AsyncSession, *, container: Container, user_id: int) -> PersonalDataOut:
    """Everything held about the user: their rows (personal columns) and logged events."""
    rows = await gather(session, user_id)
    await container.events.flush()  # this worker's buffered events belong in the export
    logged = await asyncio.to_thread(
        events.consumer_events, container.settings.event_log_dir, user_id
    )
    return PersonalDataOut(
        user_id=user_id,
        exported_at=container.clock.now(),
        tables={
            table: [{c: row[c] for c in exported_columns(table)} for row in rows[table]]
            for table in OWNERS
        },
        behaviour_events=logged,
        not_exported={f"{table}.{column}": why for (table, column), why in NOT_EXPORTED.items()},
    )


def second_pass_delay(container: Container) -> float:
    """Seconds after a deletion by which no worker can still write as the deleted user."""
    settings = container.settings
    return settings.identity_cache_seconds + settings.events_flush_seconds + 1.0


async def delete_account(
    uow: UnitOfWork, *, container: Container, user_id: int
) -> AccountDeletedOut:
    """Delete the account: personal values erased or pseudonymised, orders kept; commits."""
    session = uow.session
    before = await gather(session, user_id)
    pseudonym, deleted_at = await erase_in_database(session, user_id=user_id, container=container)
    await uow.commit()
    container.identities.forget(user_id)
    erased_events = await erase_events(uow, container=container, user_id=user_id)
    container.once(
        partial(_second_pass, container, user_id, second_pass_delay(container)),
        f"privacy-erasure-{user_id}",
    )
    deleting = {table for table in OWNERS if _deletes_rows(table)}
    return AccountDeletedOut(
        user_id=user_id,
        pseudonym=pseudonym,
        deleted_at=deleted_at,
        deleted={t: len(before[t]) for t in sorted(deleting) if before[t]},
        kept={t: len(before[t]) for t in sorted(set(OWNERS) - deleting) if before[t]},
        behaviour_events_erased=erased_events,
    )


def _deletes_rows(table: str) -> bool:
    return DELETE in COLUMNS[table].values()


async def erase_in_database(
    session: AsyncSession, *, user_id: int, container: Container
) -> tuple[str, datetime]:
    """Pseudonymise the account and erase the user's data in every domain (no commit)."""
    pseudonym, deleted_at = await accounts.pseudonymise(
        session, user_id=user_id, now=container.clock.now()
    )
    for erase in ERASERS:
        await erase(session, user_id)
    return pseudonym, deleted_at


async def erase_events(uow: UnitOfWork, *, container: Container, user_id: int) -> int:
    """Remove the user's texts, anonymous ids and properties from the event log; record it.

    A failure is logged and left to the second pass (the account is deleted either way).
    """
    try:
        await container.events.flush()
        changed = await asyncio.to_thread(
            events.erase_consumer_events,
            container.settings.event_log_dir,
            [user_id],
            erased_event_fields(),
        )
    except Exception:
        log.exception("erasing the behaviour events of deleted user %s failed", user_id)
        return 0
    await accounts.mark_erased(uow.session, user_id=user_id, now=container.clock.now())
    await uow.commit()
    return changed


async def _second_pass(container: Container, user_id: int, delay: float) -> None:
    await asyncio.sleep(delay)
    await finish_deletion(container, user_id)


async def run_erasure_sweep(container: Container) -> int:
    """Finish the deletions whose second pass did not run (its worker stopped within those
    seconds) or whose erasure failed; a periodic job. Returns how many were finished."""
    async with container.uow() as uow:
        due = await accounts.deletions_to_finish(
            uow.session,
            now=container.clock.now(),
            delay=timedelta(seconds=second_pass_delay(container)),
            lookback=SWEEP_LOOKBACK,
        )
    for user_id in due:
        await finish_deletion(container, user_id)
    return len(due)


async def finish_deletion(container: Container, user_id: int) -> int:
    """Run the erasure again (idempotent): rows and events written since the deletion by a
    request already under way are erased too. Returns the events changed."""
    async with container.uow() as uow:
        await erase_in_database(uow.session, user_id=user_id, container=container)
        await uow.commit()
        container.identities.forget(user_id)
        return await erase_events(uow, container=container, user_id=user_id)
