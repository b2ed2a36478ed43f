"""Runtime configuration: one Settings object, read from LIVECART_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def normalise_database_url(url: str) -> str:
    """Turn a plain database URL into the async-driver URL SQLAlchemy needs."""
    if url.startswith("sqlite:///") or url == "sqlite://":
        return "sqlite+aiosqlite" + url[len("sqlite") :]
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("postgresql+psycopg://") or url.startswith("postgresql+psycopg2://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


class Settings(BaseSettings):
    """Everything the process can be told from outside; defaults run with nothing installed."""

    model_config = SettingsConfigDict(env_prefix="LIVECART_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="SQLite file, event log, media.")
    database_url: str | None = Field(default=None, description="sqlite:///... or postgresql://...")
    redis_url: str | None = Field(
        default=None, description="Redis for pub/sub and viewer counts shared by workers."
    )
    # Every Redis key and channel starts with this (tests use one per test).
    redis_prefix: str = "livecart:"
    secret_key: str | None = Field(
        default=None, description="Signs tokens and cookies; generated into data_dir if unset."
    )
    environment: str = "development"
    base_url: str = "http://127.0.0.1:8000"
    allowed_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000", "http://localhost:8000"]
    )
    access_token_minutes: int = 60 * 12
    session_cookie_name: str = "livecart_session"
    cookie_secure: bool = True
    # How long a worker keeps an identity it loaded (roles, brands): a burst of requests by the
    # same people loads each one once. Role changes made elsewhere show within this time.
    identity_cache_seconds: float = 2.0
    login_max_failures: int = 5
    login_window_seconds: int = 300
    # Chat rules.
    chat_max_length: int = 300
    chat_bucket_capacity: int = 3
    chat_bucket_per_seconds: float = 2.0
    banned_words: list[str] = Field(default_factory=lambda: ["scamlink", "fakebrand"])
    socket_queue_size: int = 256
    # Real time: frames over this size get an error; likes, viewers and watch time are
    # written and published once per tick; heartbeats count watch time.
    ws_max_frame_bytes: int = 8192
    realtime_tick_seconds: float = 1.0
    heartbeat_seconds: float = 30.0
    chat_recent_messages: int = 30
    # Fan-out batches: a session's frames are gathered this long (or up to this many) and sent
    # to each socket as one message; 0 sends each frame at once.
    ws_batch_seconds: float = 0.05
    ws_batch_max_frames: int = 100
    # permessage-deflate on sockets. Off by default, as Socket.IO does since 3.0: compressing
    # every batch for every socket was a quarter of fan-out CPU, for small chat frames.
    ws_compression: bool = False
    # Orders and payments.
    order_payment_minutes: int = 15
    order_sweep_seconds: float = 30.0
    # Deleted accounts whose second erasure pass was lost with its worker are finished by this.
    privacy_sweep_seconds: float = 60.0
    payment_webhook_secret: str | None = None
    # After-sales: no-reason returns within this many days of delivery (categories allowing),
    # fault returns within the longer window, the merchant's answer SLA (hours; overdue
    # requests are approved by the after-sales sweep, every this many seconds).
    no_reason_return_days: int = 7
    fault_return_days: int = 15
    after_sales_answer_hours: float = 48.0
    after_sales_sweep_seconds: float = 60.0
    # Flash sales: where stock is counted (memory: one process; redis: shared by workers),
    # how long an unpaid flash order holds its units, the group-commit batch, the jobs, the
    # buying rate limits (a burst per user and per IP, refilled over the window) and how often
    # remaining stock is pushed to the room.
    flash_stock_store: Literal["memory", "redis"] = "memory"
    flash_reservation_minutes: float = 10.0
    flash_batch_max: int = 500
    flash_sweep_seconds: float = 15.0
    flash_reconcile_seconds: float = 30.0
    flash_user_burst: int = 5
    flash_user_per_seconds: float = 10.0
    flash_ip_burst: int = 300
    flash_ip_per_seconds: float = 10.0
    flash_stock_push_seconds: float = 0.2
    # Benchmark-only routes (/api/v1/bench/...): never on in production.
    bench_routes: bool = False
    # Behaviour events.
    events_batch_size: int = 500
    events_flush_seconds: float = 2.0
    # Compaction of closed days of the event log (events.compaction): how often the job looks,
    # and how many whole days after its end a day is rewritten as one file.
    events_compaction_seconds: float = 3600.0
    events_compact_after_days: int = 1
    # Client-event endpoint: a burst of this many requests per client, refilled over the window.
    events_client_burst: int = 20
    events_client_per_seconds: float = 10.0
    # Demo simulator.
    demo_viewers: int = 40
    # Catalogue media uploads.
    media_max_bytes: int = 20 * 1024 * 1024
    # Compliance scanning: a JSON lexicon replacing (or, with "extends": "default", amending)
    # the packaged rules; unset uses the packaged ones (docs/supervision.md).
    compliance_lexicon: Path | None = None
    # Product categories a brand sells live only with an approved category permit (a JSON
    # list); unset uses supervision's DEFAULT_PERMIT_CATEGORIES (docs/supervision.md, Gates).
    permit_categories: list[str] | None = None
    # Marketing e-mail through SMTP; unset host: e-mail campaigns are refused (docs/marketing.md).
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "livecart@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    # How often the e-mail job sends queued e-mails that are due (tries again what a mail
    # server did not take; docs/marketing.md).
    marketing_email_seconds: float = 60.0
    # How often the marketing stage job moves consumers between stages (docs/marketing.md).
    marketing_stages_seconds: float = 3600.0
    # How often the risk job looks for bot-like activity, scores every signalled brand,
    # product and anchor and acts on the thresholds (docs/supervision.md, "Risk scores").
    risk_job_seconds: float = 3600.0

    # Trained models (the will-buy model: <models_dir>/willbuy/vN.joblib); unset: data_dir/models.
    # The server checks for a newer will-buy version every willbuy_reload_seconds.
    models_dir: Path | None = None
    willbuy_reload_seconds: float = 30.0

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def async_database_url(self) -> str:
        """The SQLAlchemy URL with the async driver chosen for the user's plain URL."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'livecart.db'}"
        return normalise_database_url(url)

    @property
    def event_log_dir(self) -> Path:
        """Where the Parquet behaviour-event log is written."""
        return self.data_dir / "events"

    @property
    def willbuy_models_root(self) -> Path:
        """The models folder (LIVECART_MODELS_DIR, default `<data_dir>/models`)."""
        return self.models_dir if self.models_dir is not None else self.data_dir / "models"

    @property
    def media_dir(self) -> Path:
        """Where uploaded product images and videos are stored."""
        return self.data_dir / "media"
