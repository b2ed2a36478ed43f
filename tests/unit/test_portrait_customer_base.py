"""Customer-base scores of stored portraits (portrait_store._customer_base): a short log in
which nobody leaves still gets scores, from the NBD, instead of none."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from livecart.insights import clv
from livecart.insights.portrait_store import CLV_HORIZON_WEEKS, _customer_base


def _orders(rng: np.random.Generator, buyers: int, days: int) -> pa.Table:
    """Order facts of buyers who order on Poisson days at Gamma rates, none leaving."""
    start = date(2026, 10, 1)
    rows: dict[str, list[object]] = {"consumer_id": [], "event_type": [], "day": [], "amount": []}
    for user in range(1, buyers + 1):
        rate = rng.gamma(0.9, 1 / 6.0)  # order days per day
        first = int(rng.integers(0, days // 2))
        ordered = {first} | {d for d in range(first + 1, days) if rng.random() < rate}
        for day in sorted(ordered):
            rows["consumer_id"].append(user)
            rows["event_type"].append("order")
            rows["day"].append(start + timedelta(days=day))
            rows["amount"].append(int(rng.integers(2_000, 20_000)))
    return pa.table(rows)


def test_a_log_where_nobody_leaves_is_scored_with_the_nbd() -> None:
    facts = _orders(np.random.default_rng(7), buyers=300, days=60)
    as_of = max(facts.column("day").to_pylist())
    scores = _customer_base(facts, as_of)
    assert len(scores) >= 290  # every buyer whose first order day is before the as-of day
    alive = np.array([s[0] for s in scores.values()])
    expected = np.array([s[1] for s in scores.values()])
    assert np.all(alive == 1.0)
    assert np.all(expected > 0)
    # The expectation is the NBD's: more past order days, more expected ones.
    by_user: dict[int, set[date]] = {}
    for user, day in zip(
        facts.column("consumer_id").to_pylist(), facts.column("day").to_pylist(), strict=True
    ):
        by_user.setdefault(user, set()).add(day)
    users = sorted(scores)
    x = np.array([len(by_user[u]) - 1 for u in users], dtype=np.float64)
    t_obs = np.array([(as_of - min(by_user[u])).days / 7 for u in users])
    model = clv.fit_nbd(x, t_obs)
    assert np.allclose(
        [scores[u][1] for u in users],
        clv.nbd_expected_purchases(model, CLV_HORIZON_WEEKS, x, t_obs),
    )
