"""Product media: real multipart uploads stored under media_dir, external URLs, serving."""

from __future__ import annotations

import struct
import zlib

import httpx

from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from tests.integration.test_catalog_api import API, make_brand, merchant_headers, product_body
from tests.support import auth, make_user


def png_bytes(width: int = 4, height: int = 3) -> bytes:
    """A real, valid PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


async def test_upload_stores_and_serves_the_same_bytes(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    brand = await make_brand(client, container)
    merchant = await merchant_headers(client, container, brand)
    product = (
        await client.post(f"{API}/products", json=product_body(brand), headers=merchant)
    ).json()
    image = png_bytes()
    r = await client.post(
        f"{API}/products/{product['id']}/media",
        files={"file": ("../../etc/evil name.png", image, "image/png")},
        headers=merchant,
    )
    assert r.status_code == 201, r.text
    media = r.json()
    assert media["kind"] == "image" and media["content_type"] == "image/png"
    assert media["url"] == f"{API}/media/{media['id']}"

    media_dir = container.settings.media_dir
    stored = list(media_dir.iterdir())
    assert len(stored) == 1 and stored[0].read_bytes() == image
    assert "evil" not in stored[0].name and stored[0].suffix == ".png"

    served = await client.get(media["url"])
    assert served.status_code == 200 and served.content == image
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"

    fetched = (await client.get(f"{API}/products/{product['id']}")).json()
    assert fetched["image_url"] == media["url"] and fetched["media"] == [media]
    card = (await client.get(f"{API}/products")).json()[0]
    assert card["image_url"] == media["url"]


async def test_upload_refuses_wrong_types_and_people(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    brand = await make_brand(client, container)
    other_brand = await make_brand(client, container, "Borealis")
    merchant = await merchant_headers(client, container, brand)
    product = (
        await client.post(f"{API}/products", json=product_body(brand), headers=merchant)
    ).json()
    url = f"{API}/products/{product['id']}/media"
    refused = [
        ("page.html", b"<script>alert(1)</script>", "text/html"),
        ("image.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        ("fake.png", b"<html><script>alert(1)</script></html>", "image/png"),  # lies about type
        ("empty.png", b"", "image/png"),
    ]
    for name, content, content_type in refused:
        r = await client.post(url, files={"file": (name, content, content_type)}, headers=merchant)
        assert r.status_code == 422, (name, r.text)
        assert r.json()["error"]["code"] == "bad_media"
    r = await client.post(
        url, files={"other": ("a.png", png_bytes(), "image/png")}, headers=merchant
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_media"

    container.settings.media_max_bytes = 1000
    big = png_bytes(width=400, height=400)
    assert len(big) > 1000
    r = await client.post(url, files={"file": ("big.png", big, "image/png")}, headers=merchant)
    assert r.status_code == 413 and r.json()["error"]["code"] == "media_too_large"

    files = {"file": ("a.png", png_bytes(), "image/png")}
    other = await merchant_headers(client, container, other_brand)
    operator = await auth(client, container, await make_user(container, Role.operator))
    consumer = await auth(client, container, await make_user(container))
    assert (await client.post(url, files=files)).status_code == 401
    for headers in (other, operator, consumer):
        assert (await client.post(url, files=files, headers=headers)).status_code == 403
    media_dir = container.settings.media_dir
    assert not media_dir.exists() or list(media_dir.iterdir()) == []
    assert (await client.get(f"{API}/products/{product['id']}")).json()["media"] == []
    assert (await client.get(f"{API}/media/12345")).status_code == 404


async def test_media_by_url(
    any_backend: str, client: httpx.AsyncClient, container: Container
) -> None:
    brand = await make_brand(client, container)
    merchant = await merchant_headers(client, container, brand)
    product = (
        await client.post(f"{API}/products", json=product_body(brand), headers=merchant)
    ).json()
    url = f"{API}/products/{product['id']}/media"
    r = await client.post(
        url, json={"kind": "video", "url": "https://cdn.example.com/demo.mp4"}, headers=merchant
    )
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "video" and r.json()["url"] == "https://cdn.example.com/demo.mp4"
    # A video alone gives no card image.
    assert (await client.get(f"{API}/products")).json()[0]["image_url"] is None
    r = await client.post(
        url, json={"kind": "image", "url": "https://cdn.example.com/a.jpg"}, headers=merchant
    )
    assert r.status_code == 201
    image = r.json()
    assert (await client.get(f"{API}/products")).json()[0]["image_url"] == image["url"]
    served = await client.get(f"{API}/media/{image['id']}")
    assert served.status_code == 307
    assert served.headers["location"] == "https://cdn.example.com/a.jpg"

    for body, code in (
        ({"kind": "image", "url": "javascript:alert(1)"}, "invalid_input"),
        ({"kind": "image", "url": "ftp://example.com/a.jpg"}, "invalid_input"),
        ({"kind": "audio", "url": "https://example.com/a.mp3"}, "invalid_input"),
        ({"kind": "image"}, "invalid_input"),
        ({}, "invalid_input"),
        ({"kind": "image", "url": "https://example.com/a.jpg", "id": 3}, "unknown_field"),
    ):
        r = await client.post(url, json=body, headers=merchant)
        assert r.status_code == 422 and r.json()["error"]["code"] == code, (body, r.text)
    r = await client.post(
        url, content=b"not json", headers={**merchant, "content-type": "application/json"}
    )
    assert r.status_code == 422
    product = (await client.get(f"{API}/products/{product['id']}")).json()
    assert [m["kind"] for m in product["media"]] == ["video", "image"]
