"""BG/NBD and Gamma-Gamma: published CDNOW results, the formulas against independent forms,
recovery of known parameters from simulated customers, and the transaction readers."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from scipy import special

from livecart.insights import clv, service
from livecart.insights.errors import FitFailed, InputFileMissing, InvalidInputFile
from livecart.insights.transactions import calibration_summary, read_summary, read_transactions
from tests.support import shared_data_dir, shared_file

CALIBRATION_END = date(1997, 9, 30)


@pytest.fixture(scope="module")
def cdnow_summary() -> Path:
    return shared_file("cdnow_customers_summary.csv")


@pytest.fixture(scope="module")
def cdnow_calibration() -> clv.Array:
    log = read_transactions(shared_file("cdnow_CDNOW_master.txt"), layout="cdnow")
    summary = calibration_summary(log, CALIBRATION_END)
    return np.column_stack([summary.frequency, summary.recency, summary.age, summary.mean_spend])


@pytest.fixture(scope="module")
def fitted(cdnow_summary: Path) -> clv.BgNbd:
    model, _ = service.fit_summary_file(cdnow_summary)
    return model


def test_shared_data_dir_is_beside_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIVECART_SHARED_DATA", raising=False)
    beside = Path(__file__).resolve().parents[3] / "shared" / "data"
    assert shared_data_dir() == (beside if beside.is_dir() else Path("/work/shared/data"))
    monkeypatch.setenv("LIVECART_SHARED_DATA", "/elsewhere/data")
    assert shared_data_dir() == Path("/elsewhere/data")


def test_bgnbd_reproduces_fader_hardie_lee_2005(fitted: clv.BgNbd) -> None:
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4}
    for name, value in published.items():
        assert getattr(fitted, name) == pytest.approx(value, rel=0.01), name


def test_bgnbd_fit_is_a_maximum_of_the_stated_likelihood(
    fitted: clv.BgNbd, cdnow_summary: Path
) -> None:
    rows = read_summary(cdnow_summary)
    params = np.array([fitted.r, fitted.alpha, fitted.a, fitted.b])

    def total(p: np.ndarray) -> float:
        return float(clv.bgnbd_log_likelihood(*p, rows.frequency, rows.recency, rows.age).sum())

    assert total(params) == pytest.approx(fitted.log_likelihood, abs=1e-6)
    for i in range(4):
        for step in (0.97, 1.03):
            moved = params.copy()
            moved[i] *= step
            assert total(moved) < fitted.log_likelihood


def test_bgnbd_likelihood_matches_the_paper_formula_term_by_term() -> None:
    r, alpha, a, b = 0.25, 4.4, 0.8, 2.4
    x, tx, t = 3.0, 20.0, 38.0
    beta = special.beta
    gamma = special.gamma
    # FHL (2005) eq. 6, written with plain Beta and Gamma functions.
    expected = beta(a, b + x) / beta(a, b) * gamma(r + x) * alpha**r / (
        gamma(r) * (alpha + t) ** (r + x)
    ) + beta(a + 1, b + x - 1) / beta(a, b) * gamma(r + x) * alpha**r / (
        gamma(r) * (alpha + tx) ** (r + x)
    )
    got = clv.bgnbd_log_likelihood(r, alpha, a, b, x, tx, t)
    assert float(got[()]) == pytest.approx(np.log(expected), rel=1e-10)
    never_again = beta(a, b) / beta(a, b) * alpha**r / (alpha + t) ** r
    assert float(clv.bgnbd_log_likelihood(r, alpha, a, b, 0, 0, t)[()]) == pytest.approx(
        np.log(never_again), rel=1e-10
    )


def test_conditional_expectation_matches_the_published_example(fitted: clv.BgNbd) -> None:
    # FHL (2005), section 5: x = 2, tx = 30.43, T = 38.86 expects 1.226 purchases in 39 weeks.
    got = float(clv.expected_purchases(fitted, 39, 2, 30.43, 38.86)[()])
    assert got == pytest.approx(1.226, rel=0.005)


def test_euler_transformed_expectation_equals_the_direct_formula(fitted: clv.BgNbd) -> None:
    r, alpha, a, b = fitted.r, fitted.alpha, fitted.a, fitted.b
    x = np.array([0.0, 1, 2, 5, 10, 20])
    tx = np.array([0.0, 3, 30.43, 12, 35, 38])
    t_obs = np.full(6, 38.86)
    for t in (1.0, 13.0, 39.0, 100.0):
        z = t / (alpha + t_obs + t)
        direct_tail = 1 - ((alpha + t_obs) / (alpha + t_obs + t)) ** (r + x) * special.hyp2f1(
            r + x, b + x, a + b + x - 1, z
        )
        dead_odds = np.where(
            x > 0, a / (b + x - 1) * ((alpha + t_obs) / (alpha + tx)) ** (r + x), 0
        )
        direct = (a + b + x - 1) / (a - 1) * direct_tail / (1 + dead_odds)
        np.testing.assert_allclose(
            clv.expected_purchases(fitted, t, x, tx, t_obs), direct, rtol=1e-8
        )


def test_heavy_buyers_do_not_overflow(fitted: clv.BgNbd) -> None:
    got = clv.expected_purchases(fitted, 39, [150, 300], [38.0, 38.5], [38.86, 38.86])
    assert np.all(np.isfinite(got)) and np.all(got > 50)
    assert np.all(np.isfinite(clv.p_alive(fitted, [300, 300], [1.0, 38.0], [38.86, 38.86])))


def test_p_alive_and_expectations_behave(fitted: clv.BgNbd) -> None:
    x = np.array([0.0, 1, 2, 5, 5])
    tx = np.array([0.0, 5, 30, 10, 38])
    t_obs = np.full(5, 38.86)
    alive = clv.p_alive(fitted, x, tx, t_obs)
    assert np.all((alive >= 0) & (alive <= 1))
    assert alive[0] == 1.0  # no repeat purchase: the BG/NBD cannot have seen a dropout
    assert alive[3] < alive[4]  # the same buyer, seen recently, is more likely alive
    horizons = [clv.expected_purchases(fitted, t, x, tx, t_obs) for t in (1, 10, 39, 100)]
    for shorter, longer in itertools.pairwise(horizons):
        assert np.all(longer > shorter)
    # A customer who never came back expects less the longer they have been silent.
    silent = clv.expected_purchases(fitted, 39, [0, 0, 0], [0, 0, 0], [5.0, 20.0, 38.86])
    assert silent[0] > silent[1] > silent[2] > 0
    new = clv.expected_repeat_purchases(fitted, [0.0, 1, 39, 78])
    assert new[0] == 0 and np.all(np.diff(new) > 0)
    # A newcomer (x = 0, T = 0) is the unconditional expectation.
    assert float(clv.expected_purchases(fitted, 39, 0, 0, 0)[()]) == pytest.approx(new[2])


def simulate_bgnbd(
    rng: np.random.Generator,
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    t_obs: np.ndarray,
    horizon: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customers of a known BG/NBD: calibration (x, tx) up to T, and purchases in (T, T+horizon]."""
    rate = rng.gamma(r, 1 / alpha, n)
    dropout = rng.beta(a, b, n)
    now = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    x = np.zeros(n)
    tx = np.zeros(n)
    later = np.zeros(n)
    while alive.any():
        idx = np.flatnonzero(alive)
        now[idx] += rng.exponential(1 / rate[idx])
        past_end = now[idx] > t_obs[idx] + horizon
        alive[idx[past_end]] = False
        buying = idx[~past_end]
        in_calibration = now[buying] <= t_obs[buying]
        x[buying[in_calibration]] += 1
        tx[buying[in_calibration]] = now[buying[in_calibration]]
        later[buying[~in_calibration]] += 1
        # After each purchase the customer becomes inactive with probability p.
        alive[buying[rng.random(buying.size) < dropout[buying]]] = False
    return x, tx, later


def test_fit_recovers_simulated_parameters_and_forecasts_their_holdout() -> None:
    rng = np.random.default_rng(20050301)
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 3.0}
    n = 30_000
    t_obs = rng.uniform(27, 39, n)
    x, tx, later = simulate_bgnbd(rng, n, *truth.values(), t_obs=t_obs, horizon=39.0)
    model = clv.fit_bgnbd(x, tx, t_obs)
    for name, value in truth.items():
        assert getattr(model, name) == pytest.approx(value, rel=0.2), name
    forecast = clv.expected_purchases(model, 39.0, x, tx, t_obs)
    assert forecast.sum() == pytest.approx(later.sum(), rel=0.05)
    assert clv.rank_auc(forecast, later > 0) > 0.7


def test_nbd_recovers_simulated_parameters_where_the_bgnbd_is_not_identified() -> None:
    # Poisson buyers with Gamma rates and nobody leaving: the BG/NBD runs to its edge
    # (a/(a+b) -> 0) and refuses; the NBD, its limit, recovers the truth and the holdout.
    rng = np.random.default_rng(19590101)
    r, alpha, n, horizon = 0.8, 3.0, 20_000, 4.3
    t_obs = rng.uniform(2, 9, n)
    rates = rng.gamma(r, 1.0 / alpha, n)
    x = rng.poisson(rates * t_obs).astype(np.float64)
    tx = np.array([rng.uniform(0, t) if k else 0.0 for k, t in zip(x, t_obs, strict=True)])
    later = rng.poisson(rates * horizon)
    with pytest.raises(FitFailed):
        clv.fit_bgnbd(x, tx, t_obs)
    model = clv.fit_nbd(x, t_obs)
    assert (model.r, model.alpha) == pytest.approx((r, alpha), rel=0.1)
    forecast = clv.nbd_expected_purchases(model, horizon, x, t_obs)
    assert forecast.sum() == pytest.approx(later.sum(), rel=0.05)
    # The stated likelihood is what was maximised: a nudge either way lowers it.
    best = np.sum(clv.nbd_log_likelihood(model.r, model.alpha, x, t_obs))
    assert best == pytest.approx(model.log_likelihood, rel=1e-9)
    for dr, da in ((1.02, 1.0), (0.98, 1.0), (1.0, 1.02), (1.0, 0.98)):
        assert np.sum(clv.nbd_log_likelihood(model.r * dr, model.alpha * da, x, t_obs)) < best


def test_gamma_gamma_on_cdnow_calibration(cdnow_calibration: np.ndarray) -> None:
    x, mean_spend = cdnow_calibration[:, 0], cdnow_calibration[:, 3]
    model = clv.fit_gamma_gamma(x, mean_spend)
    # Published on the 1/10 sample (2,357 customers): p = 6.25, q = 3.74, v = 15.44. This is
    # the full cohort with the same per-day aggregation, so the values are close, not equal.
    assert model.p == pytest.approx(6.25, rel=0.1)
    assert model.q == pytest.approx(3.74, rel=0.1)
    assert model.v == pytest.approx(15.44, rel=0.1)
    assert model.customers == int(((x > 0) & (mean_spend > 0)).sum())
    population = model.p * model.v / (model.q - 1)
    buyers = (x > 0) & (mean_spend > 0)
    assert population == pytest.approx(mean_spend[buyers].mean(), rel=0.15)
    expected = clv.expected_average_spend(model, x, mean_spend)
    # Shrinkage: each estimate lies between the population mean and the customer's own mean.
    low = np.minimum(population, mean_spend)
    high = np.maximum(population, mean_spend)
    assert np.all(
        (expected[buyers] >= low[buyers] - 1e-9) & (expected[buyers] <= high[buyers] + 1e-9)
    )
    assert np.all(expected[x == 0] == pytest.approx(population))


def test_gamma_gamma_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(7)
    p, q, v = 6.0, 4.0, 15.0
    n = 20_000
    x = rng.integers(1, 8, n).astype(float)
    nu = rng.gamma(q, 1 / v, n)
    spend = rng.gamma(p * x, 1 / (nu * x))  # the mean of x Gamma(p, nu) spends
    model = clv.fit_gamma_gamma(x, spend)
    assert model.p == pytest.approx(p, rel=0.1)
    assert model.q == pytest.approx(q, rel=0.1)
    assert model.v == pytest.approx(v, rel=0.15)


def test_rank_auc_counts_pairs_with_ties_as_half() -> None:
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 5, 200).astype(float)
    labels = rng.random(200) < 0.3
    pos, neg = scores[labels], scores[~labels]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert clv.rank_auc(scores, labels) == pytest.approx(pairs / (pos.size * neg.size))


def test_a_fit_without_repeat_buyers_fails_clearly() -> None:
    with pytest.raises(FitFailed, match="edge of the parameter space"):
        clv.fit_bgnbd([0, 0, 0, 0], [0, 0, 0, 0], [10, 20, 30, 38])


def test_cdnow_reader_aggregates_a_day_and_matches_the_summary_convention(
    cdnow_calibration: np.ndarray,
) -> None:
    log = read_transactions(shared_file("cdnow_CDNOW_master.txt"), layout="cdnow")
    assert log.data_lines == 69_659
    assert len(log.purchases) == 23_570
    assert log.purchases["00002"] == {date(1997, 1, 12): 8_900}  # two lines, one transaction
    summary = calibration_summary(log, CALIBRATION_END)
    row = summary.customer_ids.index("00004")
    # Bought 1997-01-01, -01-18, -08-02 (and later): like the published summary's first row.
    assert summary.frequency[row] == 2
    assert round(summary.recency[row], 2) == 30.43
    assert round(summary.age[row], 2) == 38.86
    assert summary.mean_spend[row] == pytest.approx((29.73 + 14.96) / 2)
    assert cdnow_calibration.shape == (23_570, 4)


def test_readers_name_bad_lines(tmp_path: Path) -> None:
    bad = tmp_path / "cdnow.txt"
    bad.write_text(
        " customer_id  date number_of_cds  dollar_value\n"
        " 00001 19970101  1   11.77\n"
        " 00001 1997-01-02  1   11.77\n"
        "\n"
        " 00002 19970112  x   12.00\n"
        " 00002 19970112  1\n"
        " 00003 19970112  1   -3\n"
    )
    log = read_transactions(bad, layout="cdnow")
    assert [(p.line, p.message.split(" ")[0]) for p in log.problems] == [
        (3, "date"),
        (5, "number_of_cds"),
        (6, "expected"),
        (7, "dollar_value"),
    ]
    with pytest.raises(InvalidInputFile, match=r"line 3: date '1997-01-02' is not YYYYMMDD"):
        service.read_log(bad, layout="cdnow")
    wrong_header = tmp_path / "header.txt"
    wrong_header.write_text("id,date,amount\n1,19970101,3\n")
    with pytest.raises(InvalidInputFile, match="line 1 must be the CDNOW header"):
        read_transactions(wrong_header, layout="cdnow")
    with pytest.raises(InputFileMissing):
        read_transactions(tmp_path / "absent.txt", layout="cdnow")


def test_online_retail_reader_leaves_out_cancellations(tmp_path: Path) -> None:
    path = tmp_path / "retail.csv"
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        '536365,85123A,"WHITE HANGING, HEART",6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n'
        "536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,17850.0,United Kingdom\n"
        "C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527.0,United Kingdom\n"
        "536414,22139,,56,2010-12-01 11:52:00,0.00,,United Kingdom\n"
        "536415,22139,BAD,two,2010-12-01 11:52:00,1.00,12345.0,United Kingdom\n"
        "536416,22139,OK,1,12/2/2010 10:00,1.00,12345.0,United Kingdom\n"
    )
    log = read_transactions(path, layout="online-retail")
    assert log.purchases == {
        "17850": {date(2010, 12, 1): 6 * 255 + 6 * 185},
        "12345": {date(2010, 12, 2): 100},
    }
    assert log.excluded == {"cancellations": 1, "no_customer": 1}
    assert [(p.line, p.message) for p in log.problems] == [(6, "Quantity 'two' is not a number")]


def test_online_retail_sample_reads(tmp_path: Path) -> None:
    log = read_transactions(shared_file("online_retail_uci_sample30k.csv"), layout="online-retail")
    assert log.data_lines == 30_000
    assert log.problems == []
    assert log.excluded["cancellations"] > 0
    assert log.excluded["no_customer"] > 0
