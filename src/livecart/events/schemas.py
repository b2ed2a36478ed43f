"""The behaviour-event schema: one row per thing a consumer did."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import pyarrow as pa


class EventType(StrEnum):
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


EVENT_ARROW_SCHEMA = pa.schema(
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


@dataclass(frozen=True)
class BehaviourEvent:
    """One behaviour event; `source` is server, client or demo."""

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

    def to_row(self) -> dict[str, Any]:
        """The Parquet row of this event."""
        row = {
            name: getattr(self, name) for name in EVENT_ARROW_SCHEMA.names if name != "properties"
        }
        row["event_type"] = self.event_type.value
        row["properties"] = (
            json.dumps(self.properties, ensure_ascii=False) if self.properties else None
        )
        return row
