"""Uplift intervals on simulated campaigns: they cover the true effect, and 0 when there is none."""

from __future__ import annotations

import numpy as np
import pytest

from livecart.demo.marketing import SimulatedEffect, simulate_outcomes
from livecart.marketing import uplift
from livecart.marketing.schemas import Arm
from livecart.marketing.service import arm_of


def _arms(campaign_id: int, n: int, holdout_percent: int) -> dict[int, Arm]:
    return {uid: arm_of(campaign_id, uid, holdout_percent) for uid in range(1, n + 1)}


def _intervals(
    rng: np.random.Generator, arms: dict[int, Arm], effect: SimulatedEffect
) -> tuple[uplift.Interval, uplift.Interval]:
    outcomes = simulate_outcomes(rng, arms, effect)
    treated = [outcomes[u] for u, a in arms.items() if a is Arm.treated]
    holdout = [outcomes[u] for u, a in arms.items() if a is Arm.holdout]
    conversion = uplift.newcombe_difference(
        sum(o.converted for o in treated),
        len(treated),
        sum(o.converted for o in holdout),
        len(holdout),
    )
    gmv = uplift.welch_difference([o.gmv for o in treated], [o.gmv for o in holdout])
    return conversion, gmv


def test_holdout_is_deterministic_and_near_its_share() -> None:
    arms = _arms(7, 20_000, 10)
    share = sum(a is Arm.holdout for a in arms.values()) / len(arms)
    assert 0.09 < share < 0.11
    assert arms == _arms(7, 20_000, 10)  # the same arm on every run
    assert _arms(8, 2000, 10) != _arms(7, 2000, 10)  # another campaign draws another holdout


def test_wilson_and_newcombe_against_published_values() -> None:
    # Newcombe (1998), table II, example (a): 56/70 vs 48/80 -> 0.2000 (0.0524, 0.3339).
    interval = uplift.newcombe_difference(56, 70, 48, 80)
    assert interval.estimate == pytest.approx(0.2)
    assert interval.low == pytest.approx(0.0524, abs=5e-4)
    assert interval.high == pytest.approx(0.3339, abs=5e-4)
    # Wilson (1927) for 0 of 10: (0, 0.2775).
    low, high = uplift.wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=5e-4)


def test_one_seeded_campaign_covers_the_true_effect() -> None:
    effect = SimulatedEffect()
    conversion, gmv = _intervals(np.random.default_rng(11), _arms(1, 4000, 10), effect)
    assert conversion.low is not None and conversion.high is not None
    assert conversion.low <= effect.conversion_lift <= conversion.high
    assert conversion.low > 0  # 4,000 consumers and a 6-point lift: the effect is seen
    assert gmv.low is not None and gmv.high is not None
    assert gmv.low <= effect.gmv_uplift_per_consumer <= gmv.high


def test_zero_effect_gives_intervals_containing_zero() -> None:
    # A 95% interval misses 0 in one seeded run of twenty by design (seed 12 does); the
    # coverage test below checks that rate over 300 runs.
    effect = SimulatedEffect(conversion_lift=0.0)
    conversion, gmv = _intervals(np.random.default_rng(0), _arms(2, 4000, 10), effect)
    assert conversion.low is not None and conversion.high is not None
    assert conversion.low <= 0 <= conversion.high
    assert gmv.low is not None and gmv.high is not None
    assert gmv.low <= 0 <= gmv.high


@pytest.mark.parametrize("lift", [0.0, 0.06])
def test_coverage_over_many_seeded_campaigns_is_near_95_percent(lift: float) -> None:
    effect = SimulatedEffect(conversion_lift=lift)
    rng = np.random.default_rng(2026)
    arms = _arms(3, 1500, 10)
    runs = 300
    covered_conversion = covered_gmv = 0
    for _ in range(runs):
        conversion, gmv = _intervals(rng, arms, effect)
        assert conversion.low is not None and conversion.high is not None
        assert gmv.low is not None and gmv.high is not None
        covered_conversion += conversion.low <= lift <= conversion.high
        covered_gmv += gmv.low <= effect.gmv_uplift_per_consumer <= gmv.high
    # 95% nominal; with 300 runs the binomial spread is about 1.3 points.
    assert 0.91 <= covered_conversion / runs <= 0.99
    assert 0.90 <= covered_gmv / runs <= 0.99


def test_empty_arms_give_no_interval() -> None:
    assert uplift.newcombe_difference(0, 0, 1, 10).estimate is None
    assert uplift.welch_difference([1.0], [1.0, 2.0]).estimate is None
