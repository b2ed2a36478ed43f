"""Browser origins: our own host and port always, configured ones too, anything else never."""

from __future__ import annotations

import pytest
from starlette.requests import HTTPConnection

from livecart.core.http import origin_allowed


def connection(scheme: str, host: str, origin: str | None) -> HTTPConnection:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    scope = {
        "type": "websocket" if scheme.startswith("ws") else "http",
        "scheme": scheme,
        "path": "/ws/sessions/1",
        "query_string": b"",
        "headers": headers,
        "server": ("127.0.0.1", 8767),
    }
    return HTTPConnection(scope)


@pytest.mark.parametrize(
    ("scheme", "host", "origin", "ok"),
    [
        ("ws", "127.0.0.1:8767", "http://127.0.0.1:8767", True),  # served on another port
        ("wss", "shop.example", "https://shop.example", True),
        ("ws", "127.0.0.1:8767", "http://evil.example", False),
        ("ws", "127.0.0.1:8767", "https://127.0.0.1:8767", False),  # scheme differs
        ("ws", "127.0.0.1:8767", "http://127.0.0.1:8000", True),  # configured
        ("ws", "127.0.0.1:8767", None, True),  # not a browser
        ("http", "127.0.0.1:8767", "http://127.0.0.1:8767/", True),
    ],
)
def test_origin_allowed(scheme: str, host: str, origin: str | None, ok: bool) -> None:
    conn = connection(scheme, host, origin)
    assert origin_allowed(conn, base_url="http://127.0.0.1:8000", allowed=[]) is ok
