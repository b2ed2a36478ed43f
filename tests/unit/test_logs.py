"""Tokens in logged URLs are redacted."""

from __future__ import annotations

import logging

import pytest

from livecart.core.logs import RedactTokens, redact


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("/ws/sessions/3?token=eyJhbGciOi.abc.def", "/ws/sessions/3?token=***"),
        ("/x?a=1&access_token=secret&b=2", "/x?a=1&access_token=***&b=2"),
        ("/ws/sessions/3", "/ws/sessions/3"),
        ("/products?tokenizer=keep", "/products?tokenizer=keep"),
    ],
)
def test_redact(raw: str, clean: str) -> None:
    assert redact(raw) == clean


def test_filter_rewrites_uvicorn_style_records() -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/ws/sessions/1?token=secret-token"),
        None,
    )
    assert RedactTokens().filter(record)
    assert "secret-token" not in record.getMessage()
    assert "token=***" in record.getMessage()
