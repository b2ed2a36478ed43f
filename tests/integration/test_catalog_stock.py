"""The catalog services other domains call: conditional stock, cards and SKU snapshots."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from livecart.bootstrap import Container
from livecart.catalog import service
from livecart.catalog.models import PriceHistory, Sku
from livecart.catalog.schemas import ProductStatus, SkuIn
from livecart.core.errors import InvalidInput


async def seed_product(container: Container, *stocks: int) -> tuple[int, list[int]]:
    """A brand and a product with one SKU per given stock; (product id, sku ids)."""
    async with container.uow() as uow:
        brand = await service.create_brand(
            uow.session, clock=container.clock, actor=None, name="Aurora"
        )
        product = await service.create_product(
            uow.session,
            clock=container.clock,
            lexicon=container.lexicon,
            actor=None,
            brand_id=brand.id,
            title="Silk scarf",
            category="accessories",
            attributes={"material": "silk"},
            skus=[
                SkuIn(
                    code=f"S{n}",
                    price=1000 * (n + 2),
                    currency="CNY",
                    stock=stock,
                    attributes={"colour": f"c{n}", "size": "M"},
                )
                for n, stock in enumerate(stocks)
            ],
        )
        await uow.commit()
    return product.id, [s.id for s in product.skus]


async def stock_of(container: Container, sku_id: int) -> int:
    async with container.uow() as uow:
        stock = await uow.session.scalar(select(Sku.stock).where(Sku.id == sku_id))
        assert stock is not None
        return stock


async def test_take_stock_is_conditional(any_backend: str, container: Container) -> None:
    _, (sku_id,) = await seed_product(container, 3)
    async with container.uow() as uow:
        assert await service.take_stock(uow.session, sku_id=sku_id, quantity=2) is True
        assert await service.take_stock(uow.session, sku_id=sku_id, quantity=2) is False
        await uow.commit()
    assert await stock_of(container, sku_id) == 1
    async with container.uow() as uow:
        assert await service.take_stock(uow.session, sku_id=sku_id, quantity=1) is True
        assert await service.take_stock(uow.session, sku_id=sku_id, quantity=1) is False
        assert await service.take_stock(uow.session, sku_id=sku_id + 99, quantity=1) is False
        with pytest.raises(InvalidInput):
            await service.take_stock(uow.session, sku_id=sku_id, quantity=0)
        await uow.commit()
    assert await stock_of(container, sku_id) == 0


async def test_release_stock_and_rollback(any_backend: str, container: Container) -> None:
    _, (sku_id,) = await seed_product(container, 3)
    async with container.uow() as uow:
        assert await service.take_stock(uow.session, sku_id=sku_id, quantity=3)
        await uow.rollback()
    assert await stock_of(container, sku_id) == 3
    async with container.uow() as uow:
        loaded = await uow.session.get(Sku, sku_id)
        assert loaded is not None and loaded.stock == 3
        assert await service.take_stock(uow.session, sku_id=sku_id, quantity=2)
        assert loaded.stock == 1  # an object already in the session is kept truthful
        await service.release_stock(uow.session, sku_id=sku_id, quantity=5)
        assert loaded.stock == 6
        await uow.commit()
    assert await stock_of(container, sku_id) == 6


async def test_concurrent_takes_never_oversell(any_backend: str, container: Container) -> None:
    _, (sku_id,) = await seed_product(container, 10)

    async def buyer() -> bool:
        async with container.uow() as uow:
            ok = await service.take_stock(uow.session, sku_id=sku_id, quantity=1)
            await uow.commit()
            return ok

    results = await asyncio.gather(*(buyer() for _ in range(25)))
    assert results.count(True) == 10
    assert await stock_of(container, sku_id) == 0


async def test_cards_and_snapshots(any_backend: str, container: Container) -> None:
    product_id, sku_ids = await seed_product(container, 4, 0)
    async with container.uow() as uow:
        cards = await service.product_cards(uow.session, [product_id, product_id, 999])
        assert list(cards) == [product_id]
        card = cards[product_id]
        assert card.brand.name == "Aurora" and card.title == "Silk scarf"
        assert card.price_min == 2000 and card.currency == "CNY" and card.image_url is None
        assert [s.id for s in card.skus] == sku_ids and card.skus[1].stock == 0
        assert card.model_dump(mode="json")["status"] == "active"

        snaps = await service.sku_snapshots(uow.session, [*sku_ids, 12345])
        assert set(snaps) == set(sku_ids)
        first = snaps[sku_ids[0]]
        assert (first.product_id, first.price, first.currency, first.stock) == (
            product_id,
            2000,
            "CNY",
            4,
        )
        assert first.title == "Silk scarf (c0, M)" and first.product_status == ProductStatus.active
        assert await service.product_cards(uow.session, []) == {}

        await service.update_product(
            uow.session,
            clock=container.clock,
            lexicon=container.lexicon,
            actor=None,
            product_id=product_id,
            status=ProductStatus.delisted,
        )
        await service.update_sku(
            uow.session, clock=container.clock, actor=None, sku_id=sku_ids[0], price=2000
        )
        await uow.commit()
    async with container.uow() as uow:
        # Orders still show delisted products; status tells callers not to sell them.
        card = (await service.product_cards(uow.session, [product_id]))[product_id]
        assert card.status == ProductStatus.delisted
        snap = (await service.sku_snapshots(uow.session, [sku_ids[0]]))[sku_ids[0]]
        assert snap.product_status == ProductStatus.delisted
        # Setting the same price is not a change: only the creation row exists.
        rows = (
            await uow.session.scalars(select(PriceHistory).where(PriceHistory.sku_id == sku_ids[0]))
        ).all()
        assert [(r.old_price, r.new_price, r.changed_by) for r in rows] == [(None, 2000, None)]
        listed = await service.list_products(uow.session, actor=None)
        assert listed == []
