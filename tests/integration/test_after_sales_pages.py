"""After-sales pages over HTTP: who may open them, and the orders page's return form."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from livecart.bootstrap import Container
from livecart.commerce.models import AfterSalesRequest
from tests.e2e.world import build_world, place_order
from tests.integration.test_web_pages import LOGIN, ROLES, _login, _users

PAGES: dict[str, dict[str, int | str]] = {
    "/merchant/after-sales": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 403,
        "merchant": 200,
        "operator": 403,
    },
    "/merchant/scorecard": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 403,
        "merchant": 200,
        "operator": 403,
    },
    "/operator/brands/{brand_id}/scorecard": {
        "anonymous": LOGIN,
        "consumer": 403,
        "anchor": 403,
        "merchant": 403,
        "operator": 200,
    },
}


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.mark.parametrize("role", ROLES)
async def test_after_sales_pages_answer_each_role_as_declared(
    role: str, app: FastAPI, container: Container
) -> None:
    world = await build_world(container)
    async with _client(app) as client:
        if role != "anonymous":
            await _login(client, container, _users(world)[role])
        for path, outcomes in PAGES.items():
            url = path.format(brand_id=world.brand_id)
            r = await client.get(url)
            expected = outcomes[role]
            if expected == LOGIN:
                assert r.status_code == 303, (role, url, r.status_code)
                assert r.headers["location"].startswith("/login?next=%2F"), r.headers
            else:
                assert r.status_code == expected, (role, url, r.status_code, r.text[:300])
                assert r.headers["content-type"].startswith("text/html")
        # The form's target: anonymous visitors are sent to log in, nothing is written.
        if role == "anonymous":
            r = await client.post(
                "/orders/after-sales", data={"line": "1:1", "quantity": "1", "reason": "other"}
            )
            assert r.status_code == 303 and r.headers["location"].startswith("/login")
        if role == "operator":
            r = await client.get(f"/operator/brands/{world.brand_id + 999}/scorecard")
            assert r.status_code == 404


async def test_the_orders_page_form_files_a_request_with_its_csrf_token(
    any_backend: str, app: FastAPI, container: Container
) -> None:
    world = await build_world(container)
    order_id = await place_order(
        container, world, buyer_id=world.alice_id, sku_id=world.sku_ids[0], until="delivered"
    )
    async with _client(app) as client:
        await _login(client, container, world.alice_id)
        page = await client.get("/orders")
        assert page.status_code == 200
        assert f'value="{order_id}:{world.sku_ids[0]}"' in page.text
        token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
        assert token is not None
        form = {
            "line": f"{order_id}:{world.sku_ids[0]}",
            "quantity": "1",
            "reason": "damaged",
            "text": "<b>box crushed</b>",
            "evidence": "https://photos.example/1.jpg\n\n https://photos.example/2.jpg ",
        }
        r = await client.post("/orders/after-sales", data=form)
        assert r.status_code == 403  # no CSRF token
        r = await client.post("/orders/after-sales", data={**form, "csrf_token": token[1]})
        assert r.status_code == 303 and r.headers["location"] == "/orders#returns", r.text
        bad = {**form, "reason": "because", "csrf_token": token[1]}
        r = await client.post("/orders/after-sales", data=bad)
        assert r.status_code == 422 and "known reason" in r.text
        page = await client.get("/orders")
        assert "damaged" in page.text and "&lt;b&gt;box crushed&lt;/b&gt;" in page.text
    async with container.uow() as uow:
        (stored,) = (await uow.session.scalars(select(AfterSalesRequest))).all()
    assert stored.order_id == order_id and stored.reason == "damaged"
    assert stored.evidence == ["https://photos.example/1.jpg", "https://photos.example/2.jpg"]
    async with _client(app) as client:
        await _login(client, container, world.merchant_id)
        queue = await client.get("/merchant/after-sales")
        assert "box crushed" in queue.text and 'data-sla-seconds="172800"' in queue.text
        assert "photos.example/2.jpg" in queue.text
