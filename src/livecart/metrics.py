"""`GET /metrics` in the Prometheus text format, read from the running container at scrape time.

Each worker answers for itself (label `worker`); nothing is registered globally, so two apps in
one process (tests) never share a metric.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from livecart.bootstrap import Container

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


def registry_for(container: Container) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FlashSaleCollector(container))
    return registry


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")
