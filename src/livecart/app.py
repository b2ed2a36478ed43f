"""The ASGI application factory; nothing is built at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from livecart.accounts import privacy
from livecart.accounts.api import router as accounts_router
from livecart.benchmark.api import router as benchmark_router
from livecart.bootstrap import Container, build_container, running
from livecart.catalog.api import router as catalog_router
from livecart.commerce import service as commerce_service
from livecart.commerce.api import router as commerce_router
from livecart.core.clock import Clock
from livecart.core.http import install_error_handlers
from livecart.core.logs import install_token_redaction
from livecart.events import service as events_service
from livecart.events.api import router as events_router
from livecart.flashsale import service as flash_service
from livecart.flashsale.api import router as flashsale_router
from livecart.health import router as health_router
from livecart.insights.api import router as insights_router
from livecart.insights.willbuy_api import router as willbuy_router
from livecart.live.api import router as live_router
from livecart.marketing import service as marketing_service
from livecart.marketing.api import router as marketing_router
from livecart.metrics import registry_for
from livecart.metrics import router as metrics_router
from livecart.realtime.gateway import router as realtime_router
from livecart.service.api import router as service_router
from livecart.settings import Settings
from livecart.supervision import risk
from livecart.supervision.api import router as supervision_router
from livecart.supervision.risk_api import router as supervision_risk_router
from livecart.web.account_pages import router as account_pages_router
from livecart.web.after_sales_pages import router as after_sales_pages_router
from livecart.web.dashboard_pages import router as dashboard_pages_router
from livecart.web.insights_pages import router as insights_pages_router
from livecart.web.marketing_pages import router as marketing_pages_router
from livecart.web.pages import router as pages_router
from livecart.web.risk_pages import router as risk_pages_router
from livecart.web.scorecard_pages import router as scorecard_pages_router
from livecart.web.service_pages import router as service_pages_router
from livecart.web.supervision_pages import router as supervision_pages_router

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "web" / "static"

API_DESCRIPTION = """
livecart's REST API. Money is always an integer of minor units plus an ISO 4217 currency.
Errors have one shape: `{"error": {"code", "message", "details"}}`.
Authenticate with `POST /api/v1/auth/token` (OAuth2 password flow) and send
`Authorization: Bearer <token>`. Live sessions stream events over `WS /ws/sessions/{id}`.
"""


def start_jobs(container: Container) -> None:
    """Periodic background jobs of every domain; each run is its own unit of work."""
    settings = container.settings
    container.every(
        settings.order_sweep_seconds,
        partial(commerce_service.run_expiry_sweep, container.uow, clock=container.clock),
        "order-expiry-sweep",
    )
    container.every(
        settings.after_sales_sweep_seconds,
        partial(
            commerce_service.run_after_sales_sweep,
            container.uow,
            clock=container.clock,
            provider=container.payments,
            answer_hours=settings.after_sales_answer_hours,
        ),
        "after-sales-sla-sweep",
    )
    flash = container.flash
    container.every(
        settings.flash_sweep_seconds, partial(flash_service.run_sweep, flash), "flash-sale-sweep"
    )
    container.every(
        settings.flash_reconcile_seconds,
        partial(flash_service.run_reconcile, flash),
        "flash-sale-reconcile",
    )
    container.every(5.0, flash.store.heartbeat, "flash-worker-heartbeat")
    container.every(
        settings.marketing_stages_seconds,
        partial(marketing_service.run_stage_job, container.uow, clock=container.clock),
        "marketing-stages",
    )
    if container.outbox is not None:
        container.every(
            settings.marketing_email_seconds, container.outbox.deliver, "marketing-email"
        )
    container.every(
        settings.risk_job_seconds,
        partial(
            risk.run_risk_job,
            container.uow,
            clock=container.clock,
            event_log=settings.event_log_dir,
        ),
        "risk-job",
    )
    container.every(
        settings.events_compaction_seconds,
        partial(
            events_service.run_compaction_job,
            settings.event_log_dir,
            clock=container.clock,
            after_days=settings.events_compact_after_days,
        ),
        "event-log-compaction",
    )
    container.every(
        settings.privacy_sweep_seconds,
        partial(privacy.run_erasure_sweep, container),
        "privacy-erasure-sweep",
    )
    # The newest will-buy model: loaded at start, replaced when a newer version is written.
    container.once(container.willbuy.refresh, "willbuy-model-load")
    container.every(settings.willbuy_reload_seconds, container.willbuy.refresh, "willbuy-reload")
    # Reconcile once at start: a store that lost its sales (Redis restarted) is rebuilt now.
    container.once(partial(flash_service.run_reconcile, flash), "flash-start-check")


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """Build the application for the given settings (environment by default)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_token_redaction()
        container = build_container(settings, clock=clock)
        app.state.container = container
        app.state.metrics = registry_for(container)
        async with running(container):
            start_jobs(container)
            yield

    app = FastAPI(
        title="livecart",
        version="0.1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    install_error_handlers(app)
    for router in (
        accounts_router,
        catalog_router,
        live_router,
        commerce_router,
        flashsale_router,
        events_router,
        marketing_router,
        insights_router,
        service_router,
    ):
        app.include_router(router, prefix="/api/v1")
    app.include_router(supervision_risk_router, prefix="/api/v1")
    app.include_router(willbuy_router, prefix="/api/v1")
    app.include_router(supervision_router, prefix="/api/v1")
    if settings.bench_routes:
        app.include_router(benchmark_router, prefix="/api/v1")
    app.include_router(realtime_router)
    app.include_router(metrics_router)
    app.include_router(health_router)
    app.include_router(pages_router)
    app.include_router(account_pages_router)
    app.include_router(after_sales_pages_router)
    app.include_router(scorecard_pages_router)
    app.include_router(dashboard_pages_router)
    app.include_router(insights_pages_router)
    app.include_router(marketing_pages_router)
    app.include_router(service_pages_router)
    app.include_router(supervision_pages_router)
    app.include_router(risk_pages_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    return app
