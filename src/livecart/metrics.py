"""`GET /metrics` in the Prometheus text format, read from the running container at scrape time.

Each worker answers for itself (label `worker`), except for the e-mail outbox's backlog, which
is read from the shared database. Nothing is registered globally, so two apps in one process
(tests) never share a metric.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from livecart.bootstrap import Container
from livecart.marketing import service as marketing
from livecart.marketing.schemas import EmailBacklogOut

router = APIRouter(include_in_schema=False)


class FlashSaleCollector(Collector):
    """Flash-sale stock reconciliation and group-commit figures of this worker."""

    def __init__(self, container: Container) -> None:
        self._container = container

    def collect(self) -> Iterator[Metric]:
        flash = self._container.flash
        worker = str(os.getpid())
        drift = GaugeMetricFamily(
            "livecart_flash_stock_drift_units",
            "Stock store minus database remaining units at the last reconciliation of a sale",
            labels=["sale_id", "store", "worker"],
        )
        remaining = GaugeMetricFamily(
            "livecart_flash_database_remaining_units",
            "Units of a sale left per the database at its last reconciliation",
            labels=["sale_id", "worker"],
        )
        for sale_id, books in sorted(flash.books.items()):
            if books.drift is not None:
                drift.add_metric([str(sale_id), flash.store_kind, worker], books.drift)
            remaining.add_metric([str(sale_id), worker], books.database_remaining)
        yield drift
        yield remaining
        corrected = CounterMetricFamily(
            "livecart_flash_stock_drift_corrected_units",
            "Units of drift found and corrected by reconciliation since start",
            labels=["worker"],
        )
        corrected.add_metric([worker], flash.drift_total)
        yield corrected
        batches = CounterMetricFamily(
            "livecart_flash_commit_batches", "Group-commit batches written", labels=["worker"]
        )
        batches.add_metric([worker], flash.writer.batches)
        yield batches
        orders = CounterMetricFamily(
            "livecart_flash_orders_written", "Flash-sale orders made durable", labels=["worker"]
        )
        orders.add_metric([worker], flash.writer.written)
        yield orders


# One gauge per field of EmailBacklogOut: (field, help).
BACKLOG_GAUGES = (
    ("queued", "Marketing e-mails not sent yet (due now, due after a failed try, or in flight)"),
    ("due", "Queued marketing e-mails a round would take now"),
    (
        "oldest_queued_seconds",
        "Age of the oldest marketing e-mail not sent yet (0: none); grows while the mail "
        "server is away",
    ),
    (
        "oldest_due_seconds",
        "How long the longest-waiting due marketing e-mail has been due (0: none); grows "
        "when no e-mail round runs",
    ),
)


class EmailOutboxCollector(Collector):
    """The e-mail outbox's backlog, read from the database before each scrape (collectors
    cannot await); shared by every worker, so it has no `worker` label."""

    def __init__(self) -> None:
        self.backlog: EmailBacklogOut | None = None

    async def refresh(self, container: Container) -> None:
        async with container.uow() as uow:
            self.backlog = await marketing.email_backlog(uow.session, now=container.clock.now())

    def collect(self) -> Iterator[Metric]:
        if self.backlog is None:
            return
        for field, help_text in BACKLOG_GAUGES:
            gauge = GaugeMetricFamily(f"livecart_marketing_emails_{field}", help_text)
            gauge.add_metric([], getattr(self.backlog, field))
            yield gauge


@dataclass
class Metrics:
    """One worker's registry, and what must be read before each scrape."""

    registry: CollectorRegistry
    outbox: EmailOutboxCollector | None  # None without SMTP: no e-mail is ever queued

    async def render(self, container: Container) -> bytes:
        if self.outbox is not None:
            await self.outbox.refresh(container)
        return generate_latest(self.registry)


def registry_for(container: Container) -> Metrics:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FlashSaleCollector(container))
    outbox = EmailOutboxCollector() if container.outbox is not None else None
    if outbox is not None:
        registry.register(outbox)
    return Metrics(registry, outbox)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    found: Metrics = request.app.state.metrics
    body = await found.render(request.app.state.container)
    return Response(body, media_type="text/plain; version=0.0.4")
