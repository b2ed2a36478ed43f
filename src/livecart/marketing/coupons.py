"""Coupons: issued by coupon campaigns, one per treated consumer, redeemed once at checkout.

The rules (docs/marketing.md, "Coupons at checkout"):

- Only the coupon's owner may use it, before `expires_at` (read from the clock), once.
- Eligible lines: those in the coupon's currency, of its brand and of its product when the
  coupon has that scope. Their sum must reach `min_spend`.
- Fixed: `amount` off, at most the eligible sum. Percent: `floor(eligible x percent / 100)`
  (rounded down to the minor unit, in the merchant's favour).
- An order always charges at least one minor unit, so the discount is at most total - 1.
- The discount is spread over the eligible lines in proportion to their amounts (largest
  remainder, ties to the earlier line), so a refund of some units gives back what was paid.
- Redeeming is one conditional UPDATE (`status = 'available'`, not expired, this owner): two
  concurrent checkouts with the same coupon cannot both win; the loser's order rolls back.
- An order cancelled unpaid (by the buyer or the payment deadline) gives the coupon back.

Commerce calls this module through `coupon_for_checkout`, `price`, `redeem` and `release`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts.schemas import Identity
from livecart.marketing.errors import (
    CouponAlreadyUsed,
    CouponExpired,
    CouponNotApplicable,
    CouponNotFound,
    CouponNotYours,
)
from livecart.marketing.models import Coupon
from livecart.marketing.schemas import (
    CouponCountsOut,
    CouponKind,
    CouponLine,
    CouponOut,
    CouponState,
    CouponTerms,
)

AVAILABLE = "available"
REDEEMED = "redeemed"


def _state(coupon: Coupon, now: datetime) -> CouponState:
    if coupon.status == REDEEMED:
        return CouponState.redeemed
    return CouponState.expired if coupon.expires_at <= now else CouponState.available


def coupon_out(coupon: Coupon, now: datetime) -> CouponOut:
    """The owner's view of a coupon, its state read against the clock."""
    return CouponOut(
        id=coupon.id,
        campaign_id=coupon.campaign_id,
        code=coupon.code,
        kind=CouponKind(coupon.kind),
        amount=coupon.amount,
        percent=coupon.percent,
        min_spend=coupon.min_spend,
        currency=coupon.currency,
        brand_id=coupon.brand_id,
        product_id=coupon.product_id,
        issued_at=coupon.issued_at,
        expires_at=coupon.expires_at,
        state=_state(coupon, now),
        order_id=coupon.order_id,
        discount=coupon.discount,
        redeemed_at=coupon.redeemed_at,
    )


async def my_coupons(
    session: AsyncSession, *, actor: Identity, now: datetime, usable_only: bool = False
) -> list[CouponOut]:
    """The caller's coupons: usable ones first (soonest expiry first), then the rest."""
    rows = (
        await session.scalars(
            select(Coupon).where(Coupon.user_id == actor.id).order_by(Coupon.expires_at, Coupon.id)
        )
    ).all()
    out = [coupon_out(c, now) for c in rows]
    if usable_only:
        return [c for c in out if c.state is CouponState.available]
    return sorted(out, key=lambda c: c.state is not CouponState.available)


async def issue(
    session: AsyncSession,
    *,
    campaign_id: int,
    user_ids: Collection[int],
    code: str,
    kind: CouponKind,
    amount: int | None,
    percent: int | None,
    min_spend: int,
    currency: str,
    brand_id: int | None,
    product_id: int | None,
    issued_at: datetime,
    expires_at: datetime,
) -> int:
    """One coupon per consumer of a campaign (the treated arm); returns how many."""
    for uid in sorted(set(user_ids)):
        session.add(
            Coupon(
                campaign_id=campaign_id,
                user_id=uid,
                code=code,
                kind=kind.value,
                amount=amount if kind is CouponKind.fixed else None,
                percent=percent if kind is CouponKind.percent else None,
                min_spend=min_spend,
                currency=currency,
                brand_id=brand_id,
                product_id=product_id,
                issued_at=issued_at,
                expires_at=expires_at,
                status=AVAILABLE,
            )
        )
    await session.flush()
    return len(set(user_ids))


def _check(coupon: Coupon | None, *, coupon_id: int, user_id: int, now: datetime) -> Coupon:
    if coupon is None:
        raise CouponNotFound("coupon not found", details={"coupon_id": coupon_id})
    if coupon.user_id != user_id:
        raise CouponNotYours(
            "this coupon belongs to someone else", details={"coupon_id": coupon_id}
        )
    if coupon.status == REDEEMED:
        raise CouponAlreadyUsed(
            "this coupon has been used",
            details={"coupon_id": coupon_id, "order_id": coupon.order_id},
        )
    if coupon.expires_at <= now:
        raise CouponExpired(
            "this coupon has expired",
            details={"coupon_id": coupon_id, "expires_at": coupon.expires_at.isoformat()},
        )
    return coupon


async def coupon_for_checkout(
    session: AsyncSession, *, user_id: int, coupon_id: int, now: datetime
) -> CouponTerms:
    """The terms of a coupon its owner may use now, or the reason they may not."""
    coupon = _check(
        await session.get(Coupon, coupon_id), coupon_id=coupon_id, user_id=user_id, now=now
    )
    return CouponTerms.model_validate(coupon)


def _eligible(terms: CouponTerms, line: CouponLine) -> bool:
    return (
        line.currency == terms.currency
        and (terms.brand_id is None or line.brand_id == terms.brand_id)
        and (terms.product_id is None or line.product_id == terms.product_id)
    )


def price(terms: CouponTerms, lines: Sequence[CouponLine]) -> list[int]:
    """Each line's share of the coupon's discount on an order of these lines (sum = discount).

    Raises coupon_not_applicable (with `reason`: scope or min_spend) when it gives nothing.
    """
    eligible = [i for i, line in enumerate(lines) if _eligible(terms, line)]
    base = sum(lines[i].amount for i in eligible)
    if not eligible or base <= 0:
        raise CouponNotApplicable(
            "no line of this order is in the coupon's scope",
            details={
                "reason": "scope",
                "currency": terms.currency,
                "brand_id": terms.brand_id,
                "product_id": terms.product_id,
            },
        )
    if base < terms.min_spend:
        raise CouponNotApplicable(
            "the order does not reach the coupon's minimum spend",
            details={"reason": "min_spend", "min_spend": terms.min_spend, "eligible": base},
        )
    if terms.kind is CouponKind.percent:
        discount = base * (terms.percent or 0) // 100
    else:
        discount = min(terms.amount or 0, base)
    total = sum(line.amount for line in lines)
    discount = max(0, min(discount, total - 1))
    if discount == 0:
        raise CouponNotApplicable(
            "the coupon takes nothing off this order",
            details={"reason": "zero_discount", "eligible": base},
        )
    # Largest remainder: floor shares, then one unit each to the largest remainders.
    shares = [0] * len(lines)
    remainders: list[tuple[int, int]] = []
    for i in eligible:
        whole, rest = divmod(discount * lines[i].amount, base)
        shares[i] = whole
        remainders.append((-rest, i))
    for _, i in sorted(remainders)[: discount - sum(shares)]:
        shares[i] += 1
    return shares


async def redeem(
    session: AsyncSession,
    *,
    coupon_id: int,
    user_id: int,
    order_id: int,
    discount: int,
    now: datetime,
) -> None:
    """Mark the coupon used by this order, atomically: only one order can ever win it."""
    won = await session.scalar(
        update(Coupon)
        .where(
            Coupon.id == coupon_id,
            Coupon.user_id == user_id,
            Coupon.status == AVAILABLE,
            Coupon.expires_at > now,
        )
        .values(status=REDEEMED, order_id=order_id, discount=discount, redeemed_at=now)
        .returning(Coupon.id)
        .execution_options(synchronize_session=False)
    )
    if won is None:
        # Someone else's, expired, or (the race) used by an order that committed meanwhile.
        coupon = await session.scalar(
            select(Coupon).where(Coupon.id == coupon_id).execution_options(populate_existing=True)
        )
        _check(coupon, coupon_id=coupon_id, user_id=user_id, now=now)
        raise CouponAlreadyUsed("this coupon has been used", details={"coupon_id": coupon_id})


async def release(session: AsyncSession, *, coupon_ids: Collection[int]) -> int:
    """Give coupons back (their orders were cancelled unpaid); returns how many."""
    ids = sorted({c for c in coupon_ids if c is not None})
    if not ids:
        return 0
    freed = await session.scalars(
        update(Coupon)
        .where(Coupon.id.in_(ids), Coupon.status == REDEEMED)
        .values(status=AVAILABLE, order_id=None, discount=None, redeemed_at=None)
        .returning(Coupon.id)
        .execution_options(synchronize_session=False)
    )
    return len(list(freed))


async def campaign_counts(session: AsyncSession, *, campaign_id: int) -> CouponCountsOut:
    """Coupons a campaign issued, how many are redeemed now, and the discount they gave."""
    issued, redeemed, discount = (
        await session.execute(
            select(
                func.count(Coupon.id),
                func.count(Coupon.id).filter(Coupon.status == REDEEMED),
                func.coalesce(func.sum(Coupon.discount).filter(Coupon.status == REDEEMED), 0),
            ).where(Coupon.campaign_id == campaign_id)
        )
    ).one()
    return CouponCountsOut(
        issued=int(issued),
        redeemed=int(redeemed),
        redemption_rate=int(redeemed) / int(issued) if issued else None,
        discount=int(discount or 0),
    )
