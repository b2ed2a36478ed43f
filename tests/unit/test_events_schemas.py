"""The event row, the client-event input and the DuckDB path expression, without a server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from pydantic import ValidationError

from livecart.events import service
from livecart.events.cli_commands import hms
from livecart.events.schemas import (
    EVENT_ARROW_SCHEMA,
    BehaviourEvent,
    ClientEventIn,
    ClientEventsIn,
    EventType,
)
from livecart.events.sink import ParquetEventSink, read_events_sql

NOW = datetime(2026, 5, 1, 23, 30, tzinfo=UTC)
ANON = "2b0a3c8e-51f1-4d33-8a0e-7b6f1c2d3e4f"


def test_new_event_fills_a_fresh_id_and_coerces_the_type() -> None:
    a = service.new_event("heartbeat", occurred_at=NOW, consumer_id=1, watch_seconds=30.0)
    b = service.new_event(EventType.HEARTBEAT, occurred_at=NOW)
    assert a.event_type is EventType.HEARTBEAT and a.source == "server"
    assert len(a.event_id) == 32 and a.event_id != b.event_id
    assert BehaviourEvent("x", "like", NOW).event_type is EventType.LIKE  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        service.new_event("teleport", occurred_at=NOW)


def test_row_matches_the_arrow_schema() -> None:
    row = service.new_event(EventType.CHAT, occurred_at=NOW, text="hi", properties={}).to_row()
    assert list(row) == [n for n in EVENT_ARROW_SCHEMA.names if n != "properties"] + ["properties"]
    assert row["event_type"] == "chat" and row["properties"] is None


@pytest.mark.parametrize(
    "item",
    [
        {"type": "like", "anonymous_id": ANON},
        {"type": "add_to_cart", "anonymous_id": ANON},
        {"type": "product_click", "anonymous_id": "abc"},
        {"type": "product_click", "properties": {"x": float("nan")}},
        {"type": "product_click", "properties": {"": 1}},
        {"type": "product_click", "properties": {"k" * 41: 1}},
        {"type": "product_click", "properties": {"k": None}},
        {"type": "product_click", "session_id": -1},
        {"type": "product_click", "text": "hello"},
    ],
)
def test_client_event_rejections(item: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ClientEventIn.model_validate(item)


def test_client_event_accepts_flat_properties() -> None:
    item = ClientEventIn.model_validate(
        {
            "type": " detail_view ",
            "anonymous_id": ANON,
            "properties": {"a": "x", "b": 2, "c": 1.5, "d": False, "e.f-g_h": "y" * 200},
        }
    )
    assert item.type == "detail_view" and str(item.anonymous_id) == ANON
    assert item.properties["d"] is False and item.properties["b"] == 2
    with pytest.raises(ValidationError):
        ClientEventsIn.model_validate({"events": [{"type": "heartbeat"}] * 51})


async def test_read_events_sql_quotes_the_path(tmp_path: Path) -> None:
    root = tmp_path / "it's here" / "events"
    sink = ParquetEventSink(root, fsync=False)
    sink.emit(service.new_event(EventType.LIKE, occurred_at=NOW, consumer_id=4))
    await sink.flush()
    with duckdb.connect() as db:
        got = db.execute(f"SELECT consumer_id, date FROM {read_events_sql(root)}").fetchall()
    assert got == [(4, NOW.date())]


def test_hms() -> None:
    assert [hms(0), hms(59.6), hms(3600 + 61)] == ["0:00:00", "0:01:00", "1:01:01"]
