"""What the orders page shows of after-sales: the buyer's requests and the lines they may
return (kept apart from the page routes so that web/pages.py can use it too)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts.schemas import Identity
from livecart.commerce import service as commerce
from livecart.commerce.schemas import OrderOut, OrderStatus, ReturnReason
from livecart.settings import Settings

RETURNABLE = (OrderStatus.paid, OrderStatus.delivered, OrderStatus.completed)


async def orders_page_after_sales(
    session: AsyncSession, *, actor: Identity, orders: Sequence[OrderOut], settings: Settings
) -> dict[str, Any]:
    """The orders page's after-sales context: requests, line titles, returnable lines."""
    requests = await commerce.list_my_after_sales(session, actor=actor)
    by_id = {o.id: o for o in orders}
    titles: dict[tuple[int, int], str] = {}
    for request in requests:
        order = by_id.get(request.order_id)
        line = (
            next((i for i in order.items if i.product_id == request.product_id), None)
            if order
            else None
        )
        titles[(request.order_id, request.order_item_id)] = line.title if line else ""
    returnable = [
        (
            f"{o.id}:{item.sku_id}",
            f"#{o.id} · {item.quantity} × {item.title} ({o.status.replace('_', ' ')})",
        )
        for o in orders
        if o.status in RETURNABLE
        for item in o.items
    ]
    return {
        "after_sales": requests,
        "line_titles": titles,
        "returnable": returnable,
        "return_reasons": [r.value for r in ReturnReason],
        "policy": commerce.after_sales_policy(settings),
    }
