"""A generated behaviour-event log with a known will-buy signal, for the will-buy model's tests.

Each consumer has a fixed propensity u (Beta(1, 3)). In every session they watch, they click
products at a rate that grows with u and order with probability u (or a constant rate when
`signal` is off, so nothing in the log predicts the order). Orders come after a click and a
cart, in the second half of the viewer's stay, as on the platform.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from livecart.events import service as events
from livecart.events.schemas import BehaviourEvent, EventType
from livecart.events.sink import ParquetEventSink

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
HEARTBEAT = 60


@dataclass(frozen=True)
class GeneratedLog:
    root: Path
    sessions: list[int]
    orders: int
    end: datetime


def _poisson(rng: random.Random, mean: float) -> int:
    count, total = 0, rng.expovariate(1.0)
    while total < mean:
        count += 1
        total += rng.expovariate(1.0)
    return count


def generate(
    sessions: int = 24, viewers: int = 40, consumers: int = 120, seed: int = 7, signal: bool = True
) -> tuple[list[BehaviourEvent], list[int], datetime]:
    """The events of `sessions` sessions of 90 minutes, two a day, three anchors."""
    rng = random.Random(seed)
    propensity = {c: rng.betavariate(1.0, 3.0) for c in range(1, consumers + 1)}
    out: list[BehaviourEvent] = []
    order_id = 0
    session_ids: list[int] = []
    end = START
    for s in range(sessions):
        session_id, anchor_id = 1000 + s, 9000 + s % 3
        session_ids.append(session_id)
        start = START + timedelta(hours=12 * s)
        end = start + timedelta(minutes=90)
        common: dict[str, Any] = {"session_id": session_id, "anchor_id": anchor_id, "room_id": 1}
        for consumer in rng.sample(sorted(propensity), viewers):
            u = propensity[consumer]
            who: dict[str, Any] = {"consumer_id": consumer, **common}
            join = start + timedelta(seconds=rng.randint(0, 60 * 60))
            watch = min(rng.randint(10 * 60, 30 * 60), int((end - join).total_seconds()))
            leave = join + timedelta(seconds=watch)
            out.append(events.new_event(EventType.JOIN, occurred_at=join, **who))
            done = 0
            while watch - done > HEARTBEAT:
                done += HEARTBEAT
                out.append(
                    events.new_event(
                        EventType.HEARTBEAT,
                        occurred_at=join + timedelta(seconds=done),
                        watch_seconds=float(HEARTBEAT),
                        **who,
                    )
                )
            out.append(
                events.new_event(
                    EventType.LEAVE, occurred_at=leave, watch_seconds=float(watch - done), **who
                )
            )

            def during(
                first: float = 0.0, last: float = 1.0, join: datetime = join, watch: int = watch
            ) -> datetime:
                return join + timedelta(seconds=int(watch * rng.uniform(first, last)))

            for _ in range(_poisson(rng, 3.0)):
                out.append(events.new_event(EventType.LIKE, occurred_at=during(), **who))
            for _ in range(_poisson(rng, 1.0)):
                out.append(
                    events.new_event(EventType.CHAT, occurred_at=during(), text="hello", **who)
                )
            clicks = _poisson(rng, 0.5 + 8.0 * u if signal else 2.0)
            for _ in range(clicks):
                out.append(
                    events.new_event(
                        EventType.PRODUCT_CLICK,
                        occurred_at=during(0.0, 0.6),
                        product_id=5,
                        **who,
                    )
                )
            if rng.random() < (u if signal else 0.25):
                at = during(0.5, 1.0)
                order_id += 1
                out.append(
                    events.new_event(
                        EventType.ADD_TO_CART,
                        occurred_at=at - timedelta(seconds=30),
                        product_id=5,
                        sku_id=5,
                        quantity=1,
                        amount=1000,
                        currency="CNY",
                        **who,
                    )
                )
                out.append(
                    events.new_event(
                        EventType.ORDER,
                        occurred_at=at,
                        order_id=order_id,
                        product_id=5,
                        sku_id=5,
                        quantity=1,
                        amount=1000,
                        currency="CNY",
                        **who,
                    )
                )
    return out, session_ids, end


async def write_async(root: Path, batch: list[BehaviourEvent]) -> None:
    """Write events into the log at `root` (one file per UTC day), now."""
    sink = ParquetEventSink(root, batch_size=len(batch) + 1, flush_seconds=60)
    events.emit(sink, *batch)
    await sink.flush()


def write(root: Path, batch: list[BehaviourEvent]) -> None:
    """`write_async` from synchronous code."""
    asyncio.run(write_async(root, batch))


def write_log(root: Path, **options: Any) -> GeneratedLog:
    """Generate a log (see `generate`) and write it at `root`."""
    batch, session_ids, end = generate(**options)
    write(root, batch)
    orders = sum(1 for e in batch if e.event_type == EventType.ORDER)
    return GeneratedLog(root=root, sessions=session_ids, orders=orders, end=end)
