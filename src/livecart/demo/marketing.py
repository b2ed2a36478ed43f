"""The demo's marketing: a segment, the stage job, and a coupon campaign whose outcomes come
from simulated consumers, so the uplift report has something true to recover.

The simulated effect of the message is an explicit parameter (`SimulatedEffect`): a consumer
converts with `base_conversion`, plus `conversion_lift` when treated; a converter spends a
log-normal basket with mean `basket_mean_minor` (the same in both arms), so the true uplift of
GMV per consumer is `conversion_lift * basket_mean_minor`. Nothing else differs between arms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Identity
from livecart.core.clock import FrozenClock
from livecart.insights.portrait_query import parse_rule
from livecart.marketing import service as marketing
from livecart.marketing.schemas import Action, Arm, CampaignIn, SegmentIn

if TYPE_CHECKING:
    from livecart.bootstrap import Container

DEMO_SEED = 20261206


@dataclass(frozen=True)
class SimulatedEffect:
    """How simulated consumers answer a campaign (documented in docs/marketing.md)."""

    base_conversion: float = 0.10  # chance to buy in the window without the message
    conversion_lift: float = 0.06  # what the message adds to that chance (absolute)
    basket_mean_minor: int = 16_000  # mean spend of a converter, minor units
    basket_sigma: float = 0.6  # log-normal spread of the spend

    @property
    def gmv_uplift_per_consumer(self) -> float:
        """The true difference of GMV per consumer, treated minus holdout (minor units)."""
        return self.conversion_lift * self.basket_mean_minor


def simulate_outcomes(
    rng: np.random.Generator, arms: Mapping[int, Arm], effect: SimulatedEffect
) -> dict[int, marketing.Outcome]:
    """Draw each consumer's conversion and spend from the effect parameters."""
    mu = math.log(effect.basket_mean_minor) - effect.basket_sigma**2 / 2
    outcomes: dict[int, marketing.Outcome] = {}
    for uid in sorted(arms):
        p = effect.base_conversion + (effect.conversion_lift if arms[uid] is Arm.treated else 0)
        converted = bool(rng.random() < p)
        gmv = round(float(rng.lognormal(mu, effect.basket_sigma))) if converted else 0
        outcomes[uid] = marketing.Outcome(converted=converted, gmv=gmv)
    return outcomes


def describe(effect: SimulatedEffect) -> str:
    """The campaign note saying the outcomes are simulated, and how."""
    return (
        "simulated outcomes (demo): base conversion "
        f"{effect.base_conversion:.0%}, message lift +{effect.conversion_lift:.0%} points, "
        f"basket mean {effect.basket_mean_minor / 100:.2f}; true GMV uplift per consumer "
        f"{effect.gmv_uplift_per_consumer / 100:.2f}"
    )


# The demo catalogue's beauty category is "skincare" (demo/world.py).
BEAUTY_RULE = {
    "all": [
        {"affinity": "category", "key": "skincare", "op": ">", "value": 0.6},
        {"field": "expected_purchases_30d", "op": ">", "value": 0.3},
    ]
}


async def seed_marketing(
    container: Container,
    *,
    operator: Identity,
    consumer_ids: Sequence[int],
    now: datetime,
    effect: SimulatedEffect = SimulatedEffect(),
) -> int:
    """A saved segment, the stage job, and a sent and measured campaign; returns its id."""
    clock = FrozenClock(now)
    async with container.uow() as uow:
        # The seeder's staff identity was taken before its role was granted: read it again.
        operator = await accounts.load_identity(uow.session, operator.id) or operator
        await marketing.create_segment(
            uow.session,
            clock=clock,
            actor=operator,
            data=SegmentIn(
                name="Skincare fans likely to buy",
                description="skincare affinity above 0.6 and more than 0.3 purchases expected "
                "in 30 days",
                rule=parse_rule(BEAUTY_RULE),
            ),
        )
        await marketing.run_stages(uow.session, clock=clock)
        stage = await marketing.create_campaign(
            uow.session,
            clock=clock,
            actor=operator,
            data=CampaignIn(
                name="Weekend coupon (simulated outcomes)",
                action=Action.coupon,
                track=marketing.LIFECYCLE,
                stage="engaged",
                subject="A weekend coupon for you",
                body="Use it in any live room this weekend.",
                coupon_code="WEEKEND20",
                coupon_amount=2000,
                coupon_min_spend=10000,
            ),
        )
        run = await marketing.run_campaign(
            uow,
            clock=clock,
            actor=operator,
            campaign_id=stage.id,
            outbox=None,
            base_url=container.settings.base_url,
            audience=consumer_ids,
        )
        arms = {
            uid: marketing.arm_of(run.campaign_id, uid, stage.holdout_percent)
            for uid in await marketing.assigned(uow.session, campaign_id=run.campaign_id)
        }
        await marketing.record_outcomes(
            uow.session,
            clock=clock,
            campaign_id=run.campaign_id,
            outcomes=simulate_outcomes(np.random.default_rng(DEMO_SEED), arms, effect),
            source="simulated",
            note=describe(effect),
        )
        await uow.commit()
    return run.campaign_id
