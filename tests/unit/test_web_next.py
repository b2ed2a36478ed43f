"""The post-login `next` target must stay on this site."""

from __future__ import annotations

import pytest

from livecart.web.dependencies import safe_next


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/orders", "/orders"),
        ("/live/3?x=1", "/live/3?x=1"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
    ],
)
def test_next_is_a_local_path(given: str | None, expected: str) -> None:
    assert safe_next(given) == expected
