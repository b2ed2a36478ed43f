"""The behaviour-event schema: one row per thing a consumer did, and the client-event input."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

from pydantic import Field, field_validator

from livecart.core.schemas import InputModel, OutputModel

if TYPE_CHECKING:
    import pyarrow as pa

    EVENT_ARROW_SCHEMA: pa.Schema


class EventType(StrEnum):
    """What happened; the `event_type` column."""

    JOIN = "join"
    LEAVE = "leave"
    HEARTBEAT = "heartbeat"
    CHAT = "chat"
    LIKE = "like"
    PRODUCT_CLICK = "product_click"
    DETAIL_VIEW = "detail_view"
    ADD_TO_CART = "add_to_cart"
    ORDER = "order"
    PAYMENT = "payment"
    # Only imported outside history has these so far (Taobao favourites, retail returns).
    FAVOURITE = "favourite"
    RETURN = "return"


@cache
def event_arrow_schema() -> pa.Schema:
    """The Parquet log's Arrow schema (`EVENT_ARROW_SCHEMA`), built on first use."""
    # pyarrow takes a quarter of a second to import; the app needs it only to write the log.
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("event_id", pa.string(), nullable=False),
            pa.field("event_type", pa.string(), nullable=False),
            pa.field("occurred_at", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("consumer_id", pa.int64()),
            pa.field("anonymous_id", pa.string()),
            pa.field("session_id", pa.int64()),
            pa.field("room_id", pa.int64()),
            pa.field("anchor_id", pa.int64()),
            pa.field("product_id", pa.int64()),
            pa.field("sku_id", pa.int64()),
            pa.field("order_id", pa.int64()),
            pa.field("quantity", pa.int64()),
            pa.field("amount", pa.int64()),
            pa.field("currency", pa.string()),
            pa.field("watch_seconds", pa.float64()),
            pa.field("text", pa.string()),
            pa.field("source", pa.string(), nullable=False),
            pa.field("properties", pa.string()),
        ]
    )


def __getattr__(name: str) -> Any:
    """`EVENT_ARROW_SCHEMA`, built on first access (a module `__getattr__`, PEP 562)."""
    if name == "EVENT_ARROW_SCHEMA":
        return event_arrow_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class BehaviourEvent:
    """One behaviour event; `source` is server, client, demo or import:<format>."""

    event_id: str
    event_type: EventType
    occurred_at: datetime
    source: str = "server"
    consumer_id: int | None = None
    anonymous_id: str | None = None
    session_id: int | None = None
    room_id: int | None = None
    anchor_id: int | None = None
    product_id: int | None = None
    sku_id: int | None = None
    order_id: int | None = None
    quantity: int | None = None
    amount: int | None = None
    currency: str | None = None
    watch_seconds: float | None = None
    text: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Coerce plain strings so callers may pass "join"; a naive time would land in the
        # wrong date partition, so it is refused where it is made rather than when written.
        object.__setattr__(self, "event_type", EventType(self.event_type))
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware (UTC)")

    @property
    def day(self) -> date:
        """The UTC day of the event: its partition in the log."""
        return self.occurred_at.astimezone(UTC).date()

    def to_row(self) -> dict[str, Any]:
        """The Parquet row of this event."""
        row = {
            name: getattr(self, name) for name in event_arrow_schema().names if name != "properties"
        }
        row["event_type"] = self.event_type.value
        row["properties"] = (
            json.dumps(self.properties, ensure_ascii=False) if self.properties else None
        )
        return row


# Consumers' browsers may only report what the server cannot see itself; presence, chat,
# likes, carts, orders and payments are recorded by the server where they happen.
CLIENT_EVENT_TYPES = frozenset(
    {EventType.PRODUCT_CLICK, EventType.DETAIL_VIEW, EventType.HEARTBEAT}
)
MAX_CLIENT_EVENTS = 50
MAX_PROPERTIES = 20
MAX_PROPERTY_TEXT = 200
_PROPERTY_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,39}$")

_CLIENT_TYPES_SCHEMA: dict[str, Any] = {"enum": sorted(t.value for t in CLIENT_EVENT_TYPES)}

PropertyValue = Annotated[str, Field(max_length=MAX_PROPERTY_TEXT)] | int | float | bool


class ClientEventIn(InputModel):
    """One event reported by a browser; the server adds the time and the consumer."""

    type: str = Field(
        description="What happened; server-only types are refused.",
        json_schema_extra=_CLIENT_TYPES_SCHEMA,
    )
    session_id: int | None = Field(default=None, ge=1)
    product_id: int | None = Field(default=None, ge=1)
    sku_id: int | None = Field(default=None, ge=1)
    anonymous_id: UUID | None = Field(
        default=None, description="The browser's random id; required when not signed in."
    )
    properties: dict[str, PropertyValue] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _client_type(cls, value: str) -> str:
        allowed = sorted(t.value for t in CLIENT_EVENT_TYPES)
        if value not in {t.value for t in EventType}:
            raise ValueError(f"unknown event type; clients may send {', '.join(allowed)}")
        if value not in allowed:
            raise ValueError(f"{value} is recorded by the server only")
        return value

    @field_validator("properties")
    @classmethod
    def _small_flat(cls, value: dict[str, PropertyValue]) -> dict[str, PropertyValue]:
        if len(value) > MAX_PROPERTIES:
            raise ValueError(f"at most {MAX_PROPERTIES} properties")
        for key, item in value.items():
            if not _PROPERTY_KEY.match(key):
                raise ValueError(f"property name {key[:40]!r} must be 1-40 of A-Z a-z 0-9 _ . -")
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"property {key} is not a finite number")
        return value


class ClientEventsIn(InputModel):
    """A batch of client events."""

    events: list[ClientEventIn] = Field(min_length=1, max_length=MAX_CLIENT_EVENTS)


class AcceptedOut(OutputModel):
    accepted: int


class WatchTime(OutputModel):
    """Watch time of one consumer, summed over the live sessions they watched."""

    consumer_id: int
    watch_seconds: float
    sessions: int


class EventCount(OutputModel):
    """How many events of one type were logged on one UTC day."""

    day: date
    event_type: str
    events: int
