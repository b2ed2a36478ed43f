"""Customer-base models: BG/NBD (purchases and dropout) and Gamma-Gamma (spend), by ML.

BG/NBD follows Fader, Hardie & Lee (2005), "Counting your customers the easy way",
Marketing Science 24(2); Gamma-Gamma follows Fader, Hardie & Lee (2005), "RFM and CLV:
using iso-value curves", JMR 42(4), and Fader & Hardie's note "The Gamma-Gamma model of
monetary value" (2013). Time is in whatever unit the caller uses for recency and T (weeks
here); `x` counts repeat purchases. Pure numpy/scipy: no I/O, nothing kept between calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import optimize, special, stats

from livecart.insights.errors import FitFailed, InvalidSummary

Array = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

# Log-parameters are kept in a box so that the optimiser never asks for exp(700).
_LOG_BOUND = 12.0
# A mean dropout probability per purchase below this is the no-dropout edge, not an estimate.
_NO_DROPOUT = 1e-6


@dataclass(frozen=True)
class BgNbd:
    """Fitted BG/NBD parameters (r, alpha: purchase rates; a, b: dropout) and the fit's LL."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float

    def to_dict(self) -> dict[str, float]:
        """The JSON shape of `livecart insights clv fit`."""
        return {
            "r": self.r,
            "alpha": self.alpha,
            "a": self.a,
            "b": self.b,
            "log_likelihood": self.log_likelihood,
        }


@dataclass(frozen=True)
class GammaGamma:
    """Fitted Gamma-Gamma spend parameters (p, q, v) and the fit's LL over `customers`."""

    p: float
    q: float
    v: float
    log_likelihood: float
    customers: int

    def to_dict(self) -> dict[str, float | int]:
        """Parameters as JSON."""
        return {
            "p": self.p,
            "q": self.q,
            "v": self.v,
            "log_likelihood": self.log_likelihood,
            "customers": self.customers,
        }


def _arrays(*values: ArrayLike) -> list[Array]:
    arrays = [np.asarray(v, dtype=np.float64) for v in values]
    return list(np.broadcast_arrays(*arrays))


def _check_rft(x: Array, tx: Array, t_obs: Array) -> None:
    if x.size == 0:
        raise InvalidSummary("no customers to fit")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(tx)) and np.all(np.isfinite(t_obs))):
        raise InvalidSummary("frequency, recency and T must be finite numbers")
    if np.any(x < 0) or np.any(x != np.floor(x)):
        raise InvalidSummary("frequency must be a whole number >= 0")
    if np.any(tx < 0) or np.any(tx > t_obs + 1e-9):
        raise InvalidSummary("recency must lie between 0 and T")


def bgnbd_log_likelihood(
    r: float, alpha: float, a: float, b: float, x: ArrayLike, tx: ArrayLike, t_obs: ArrayLike
) -> Array:
    """Per-customer BG/NBD log-likelihood of (x repeat purchases, recency tx, age T)."""
    x_, tx_, t_ = _arrays(x, tx, t_obs)
    common = (
        special.gammaln(r + x_)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.betaln(a, b + x_)
        - special.betaln(a, b)
    )
    alive_to_t = -(r + x_) * np.log(alpha + t_)
    repeat = x_ > 0
    # B(a+1, b+x-1) / B(a, b+x) = a / (b+x-1): the "dropped out just after tx" branch.
    died_after_tx = np.full_like(x_, -np.inf)
    xr = x_[repeat]
    died_after_tx[repeat] = (
        np.log(a) - np.log(b + xr - 1.0) - (r + xr) * np.log(alpha + tx_[repeat])
    )
    result: Array = common + np.logaddexp(alive_to_t, died_after_tx)
    return result


def _log_odds_dead(
    r: float, alpha: float, a: float, b: float, x: Array, tx: Array, t_obs: Array
) -> Array:
    """log of a/(b+x-1) * ((alpha+T)/(alpha+tx))^(r+x) for x > 0; -inf for x = 0."""
    out = np.full_like(x, -np.inf)
    repeat = x > 0
    xr = x[repeat]
    out[repeat] = (
        np.log(a)
        - np.log(b + xr - 1.0)
        + (r + xr) * (np.log(alpha + t_obs[repeat]) - np.log(alpha + tx[repeat]))
    )
    return out


def fit_bgnbd(x: ArrayLike, tx: ArrayLike, t_obs: ArrayLike) -> BgNbd:
    """Maximum-likelihood BG/NBD over customers' (frequency, recency, T)."""
    x_, tx_, t_ = _arrays(x, tx, t_obs)
    _check_rft(x_, tx_, t_)
    # Many customers share a (x, tx, T) triple (every x = 0 of one cohort day): weigh, not repeat.
    rows = np.column_stack([x_, tx_, t_])
    unique, counts = np.unique(rows, axis=0, return_counts=True)
    ux, utx, ut = unique[:, 0], unique[:, 1], unique[:, 2]
    weights = counts.astype(np.float64)

    def negative_ll(log_params: Array) -> float:
        r, alpha, a, b = np.exp(log_params)
        with np.errstate(all="ignore"):  # a non-finite value is answered below
            value = -float(np.dot(weights, bgnbd_log_likelihood(r, alpha, a, b, ux, utx, ut)))
        return value if np.isfinite(value) else 1e300

    start = np.log(np.array([1.0, max(float(np.mean(t_)), 1.0), 1.0, 1.0]))
    best = _minimise(negative_ll, start, "BG/NBD", ("r", "alpha", "a", "b"))
    r, alpha, a, b = (float(v) for v in np.exp(best.x))
    if a / (a + b) < _NO_DROPOUT:
        # The likelihood keeps rising towards a -> 0, b -> infinity (the NBD, nobody leaves):
        # where the optimiser stops on that ridge is arbitrary, so there is no estimate.
        raise FitFailed(
            "the BG/NBD maximum likelihood lies on the edge of the parameter space "
            f"(mean dropout probability a/(a+b) = {a / (a + b):.1e} -> 0): these data show no "
            "sign of customers leaving, so the model is not identified",
            details={"parameters": {"r": r, "alpha": alpha, "a": a, "b": b}},
        )
    return BgNbd(r=r, alpha=alpha, a=a, b=b, log_likelihood=-float(best.fun))


def _minimise(function: Any, start: Array, model: str, names: tuple[str, ...]) -> Any:
    """Nelder-Mead to get near the optimum, then L-BFGS-B in log space to polish it."""
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(start)
    rough = optimize.minimize(
        function,
        start,
        method="Nelder-Mead",
        bounds=bounds,
        options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 4000, "maxfev": 8000},
    )
    polished = optimize.minimize(
        function, np.clip(rough.x, -_LOG_BOUND, _LOG_BOUND), method="L-BFGS-B", bounds=bounds
    )
    best = polished if polished.fun <= rough.fun else rough
    if not np.isfinite(best.fun) or best.fun >= 1e300:
        raise FitFailed(f"the {model} likelihood could not be maximised on these data")
    at_bound = [
        f"{name} {'-> 0' if value < 0 else '-> infinity'}"
        for name, value in zip(names, best.x, strict=True)
        if abs(value) >= _LOG_BOUND - 0.05
    ]
    if at_bound:
        raise FitFailed(
            f"the {model} maximum likelihood lies on the edge of the parameter space "
            f"({', '.join(at_bound)}): these data do not identify the model "
            "(too few repeat purchases, or no sign of customers leaving in the calibration period)",
            details={
                "parameters": dict(zip(names, (float(v) for v in np.exp(best.x)), strict=True))
            },
        )
    return best


def p_alive(model: BgNbd, x: ArrayLike, tx: ArrayLike, t_obs: ArrayLike) -> Array:
    """Probability that each customer is still active at T (1 for customers with x = 0)."""
    x_, tx_, t_ = _arrays(x, tx, t_obs)
    log_odds = _log_odds_dead(model.r, model.alpha, model.a, model.b, x_, tx_, t_)
    result: Array = special.expit(-log_odds)
    return result


def _one_minus_discounted_2f1(model: BgNbd, x: Array, age: Array, t: Array) -> Array:
    """1 - ((alpha+age)/(alpha+age+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(alpha+age+t)).

    Euler's transformation turns it into 1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z),
    whose upper parameters do not grow with x, so heavy buyers do not overflow the series.
    """
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    z = t / (alpha + age + t)
    hyp = special.hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z)
    result: Array = 1.0 - np.exp((a - 1.0) * np.log1p(-z)) * hyp
    return result


def expected_purchases(
    model: BgNbd, t: ArrayLike, x: ArrayLike, tx: ArrayLike, t_obs: ArrayLike
) -> Array:
    """Expected purchases in (T, T+t] given each customer's (x, tx, T): FHL (2005) eq. 10."""
    t_, x_, tx_, obs_ = _arrays(t, x, tx, t_obs)
    a, b = model.a, model.b
    head = (a + b + x_ - 1.0) / (a - 1.0)
    tail = _one_minus_discounted_2f1(model, x_, obs_, t_)
    log_odds = _log_odds_dead(model.r, model.alpha, a, b, x_, tx_, obs_)
    result: Array = head * tail * special.expit(-log_odds)
    return result


def expected_repeat_purchases(model: BgNbd, t: ArrayLike) -> Array:
    """Expected repeat purchases of a new customer in the first t after the first purchase."""
    t_ = np.asarray(t, dtype=np.float64)
    zeros = np.zeros_like(t_)
    head = (model.a + model.b - 1.0) / (model.a - 1.0)
    result: Array = head * _one_minus_discounted_2f1(model, zeros, zeros, t_)
    return result


def gamma_gamma_log_likelihood(
    p: float, q: float, v: float, x: ArrayLike, mean_spend: ArrayLike
) -> Array:
    """Per-customer Gamma-Gamma log-likelihood of the mean spend over x >= 1 transactions."""
    x_, m_ = _arrays(x, mean_spend)
    px = p * x_
    result: Array = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(m_)
        + px * np.log(x_)
        - (px + q) * np.log(v + m_ * x_)
    )
    return result


def fit_gamma_gamma(x: ArrayLike, mean_spend: ArrayLike) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma over customers with x >= 1 and a positive mean spend."""
    x_, m_ = _arrays(x, mean_spend)
    keep = (x_ >= 1) & (m_ > 0) & np.isfinite(m_)
    x_, m_ = x_[keep], m_[keep]
    if x_.size < 2:
        raise InvalidSummary("the spend model needs repeat buyers with a positive spend")

    def negative_ll(log_params: Array) -> float:
        p, q, v = np.exp(log_params)
        with np.errstate(all="ignore"):
            value = -float(np.sum(gamma_gamma_log_likelihood(p, q, v, x_, m_)))
        return value if np.isfinite(value) else 1e300

    # Method of moments on the mean spend: a start near the optimum, in the spend's own scale.
    start = np.log(np.array([1.0, 2.0, float(np.mean(m_))]))
    best = _minimise(negative_ll, start, "Gamma-Gamma", ("p", "q", "v"))
    p, q, v = (float(value) for value in np.exp(best.x))
    return GammaGamma(p=p, q=q, v=v, log_likelihood=-float(best.fun), customers=int(x_.size))


def expected_average_spend(model: GammaGamma, x: ArrayLike, mean_spend: ArrayLike) -> Array:
    """E[spend per transaction | x, mean spend]: the population mean for x = 0 (needs q > 1)."""
    x_, m_ = _arrays(x, mean_spend)
    if model.q <= 1.0:
        raise FitFailed("the spend model has q <= 1: its mean spend is infinite")
    population = model.p * model.v / (model.q - 1.0)
    px = model.p * x_
    weight = px / (px + model.q - 1.0)
    result: Array = np.where(x_ > 0, (1.0 - weight) * population + weight * m_, population)
    return result


@dataclass(frozen=True)
class Nbd:
    """Fitted NBD: Poisson purchases with Gamma(r, alpha) rates and nobody leaving, the limit
    of the BG/NBD as the dropout probability a/(a+b) goes to 0 (Ehrenberg 1959)."""

    r: float
    alpha: float
    log_likelihood: float


def nbd_log_likelihood(r: float, alpha: float, x: ArrayLike, t_obs: ArrayLike) -> Array:
    """Per-customer log P(X(T) = x): Gamma(r+x)/(Gamma(r) x!) (alpha/(alpha+T))^r
    (T/(alpha+T))^x. Under Poisson purchases the timing of the last one tells nothing more."""
    x_, t_ = _arrays(x, t_obs)
    result: Array = (
        special.gammaln(r + x_)
        - special.gammaln(r)
        - special.gammaln(x_ + 1.0)
        + r * (np.log(alpha) - np.log(alpha + t_))
        + special.xlogy(x_, t_ / (alpha + t_))
    )
    return result


def fit_nbd(x: ArrayLike, t_obs: ArrayLike) -> Nbd:
    """Maximum-likelihood NBD over customers' repeat purchases x in their time T."""
    x_, t_ = _arrays(x, t_obs)
    _check_rft(x_, np.zeros_like(x_), t_)
    rows = np.column_stack([x_, t_])
    unique, counts = np.unique(rows, axis=0, return_counts=True)
    ux, ut = unique[:, 0], unique[:, 1]
    weights = counts.astype(np.float64)

    def negative_ll(log_params: Array) -> float:
        r, alpha = np.exp(log_params)
        with np.errstate(all="ignore"):
            value = -float(np.dot(weights, nbd_log_likelihood(r, alpha, ux, ut)))
        return value if np.isfinite(value) else 1e300

    start = np.log(np.array([1.0, max(float(np.mean(t_)), 1.0)]))
    best = _minimise(negative_ll, start, "NBD", ("r", "alpha"))
    r, alpha = (float(v) for v in np.exp(best.x))
    return Nbd(r=r, alpha=alpha, log_likelihood=-float(best.fun))


def nbd_expected_purchases(model: Nbd, t: ArrayLike, x: ArrayLike, t_obs: ArrayLike) -> Array:
    """Expected purchases in (T, T+t] given x purchases in T: (r + x) / (alpha + T) * t."""
    t_, x_, obs_ = _arrays(t, x, t_obs)
    result: Array = (model.r + x_) / (model.alpha + obs_) * t_
    return result


def rank_auc(scores: ArrayLike, labels: ArrayLike) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count one half)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    positives = int(y.sum())
    negatives = int(y.size - positives)
    if positives == 0 or negatives == 0:
        raise InvalidSummary("AUC needs both buyers and non-buyers")
    ranks = stats.rankdata(s)
    return float((ranks[y].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))
