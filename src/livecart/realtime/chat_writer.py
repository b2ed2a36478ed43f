"""Chat messages written in batches: one transaction per batch (group commit).

A socket's reader hands an accepted message (size and rate already checked) to the process's
writer and goes back to reading at once; the writer takes every message queued while the
previous batch was being committed and stores them with `live.post_chats` in one transaction,
in the order they came. Shown messages are published after the commit (so nobody sees a
message that was rolled back) and each author learns the outcome through a future.

The rules that depend on the database (session live, mute, ban, slow mode) are read once per
batch, so moderation from any worker holds from the next batch on.

After the commit, the batch's shown messages go to customer service, which queues the
questions among them for the anchor's Q&A panel in a task with a unit of work of its own
(`service.service.take_questions`; the writer does not wait for it and it never raises).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from livecart.accounts.schemas import Identity
from livecart.core.clock import Clock
from livecart.core.db import UnitOfWork
from livecart.core.errors import DomainError
from livecart.live import service as live
from livecart.live.schemas import SaleUnits
from livecart.service import service as customer_service
from livecart.supervision import service as supervision

log = logging.getLogger(__name__)


class ChatBusy(DomainError):
    """More messages are waiting to be written than the writer takes."""

    status = 503
    code = "chat_busy"


class ChatUnavailable(DomainError):
    """The batch holding the message could not be stored."""

    status = 503
    code = "chat_unavailable"


@dataclass(eq=False)
class _Pending:
    post: live.ChatPost
    outcome: asyncio.Future[live.ChatOutcome]


class ChatWriter:
    """The process's chat writer: messages in, one transaction per batch, outcomes out."""

    def __init__(
        self,
        *,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        banned_words: Sequence[str],
        lexicon: supervision.Lexicon,
        sale_units: SaleUnits | None = None,
        max_batch: int = 500,
        max_pending: int = 10_000,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._sale_units = sale_units
        self._clock = clock
        self._banned_words = tuple(banned_words)
        self._lexicon = lexicon
        self._max_batch = max(1, max_batch)
        self._max_pending = max(1, max_pending)
        self._pending: deque[_Pending] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.batches = 0
        self.written = 0

    def submit(
        self, *, actor: Identity, session_id: int, text: str
    ) -> asyncio.Future[live.ChatOutcome]:
        """Queue a message; the future resolves once its batch is committed (or failed)."""
        if len(self._pending) >= self._max_pending:
            raise ChatBusy("chat is busy, try again in a moment")
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[live.ChatOutcome] = loop.create_future()
        post = live.ChatPost(actor=actor, session_id=session_id, text=text)
        self._pending.append(_Pending(post, outcome))
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="chat-writer")
        return outcome

    async def _run(self) -> None:
        while True:
            while self._pending:
                count = min(len(self._pending), self._max_batch)
                batch = [self._pending.popleft() for _ in range(count)]
                await self._write(batch)
            if self._closing:
                return
            await self._wake.wait()
            self._wake.clear()

    async def _write(self, batch: list[_Pending]) -> None:
        try:
            async with self._unit_of_work() as uow:
                outcomes = await live.post_chats(
                    uow,
                    clock=self._clock,
                    posts=[p.post for p in batch],
                    banned_words=self._banned_words,
                    lexicon=self._lexicon,
                    sale_units=self._sale_units,
                )
                await uow.commit()  # publishes the shown messages, in order
        except Exception:
            log.exception("a batch of %d chat messages could not be stored", len(batch))
            self._fail(batch)
            return
        except asyncio.CancelledError:
            self._fail(batch)
            raise
        self.batches += 1
        self.written += len(batch)
        for pending, outcome in zip(batch, outcomes, strict=True):
            if not pending.outcome.done():
                pending.outcome.set_result(outcome)
        customer_service.take_questions(
            self._unit_of_work,
            clock=self._clock,
            lexicon=self._lexicon,
            posts=[p.post for p in batch],
            outcomes=outcomes,
        )
        # Supervision's overturn alert counts the negative messages (never raises).
        await supervision.watch_chat(
            self._unit_of_work, clock=self._clock, posts=[p.post for p in batch], outcomes=outcomes
        )

    @staticmethod
    def _fail(batch: list[_Pending]) -> None:
        for pending in batch:
            if not pending.outcome.done():
                pending.outcome.set_exception(
                    ChatUnavailable("the message could not be stored, send it again")
                )

    async def aclose(self) -> None:
        """Write what is queued (for up to 5 s), then stop."""
        self._closing = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), 5)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
