"""When the database cannot be reached, requests get 503 try_again (retry-safe), not a bare 500."""

from __future__ import annotations

from pathlib import Path

import httpx

from livecart.app import create_app
from livecart.settings import Settings


async def test_an_unreachable_database_answers_503_with_retry_after(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "var",
        # A SQLite file in a directory that does not exist cannot be opened.
        database_url=f"sqlite:///{tmp_path / 'missing-dir' / 'livecart.db'}",
        secret_key="test-secret-key-which-is-long-enough-for-hs256",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            r = await client.get("/api/v1/flash-sales/1")
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "try_again"
    assert r.headers["Retry-After"] == "1"
