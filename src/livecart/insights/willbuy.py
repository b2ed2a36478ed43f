"""The live will-buy model: from what a viewer did so far in a live session, P(orders later in it).

One training row per (viewer, live session, cut-off time t): the viewer is watching at t
(joined, not left), is not the session's anchor (whose console socket joins too) and has not
ordered in the session yet. Features are counted from events
at or before t only (SQL `occurred_at <= t`, and `< session start` for history); the label is
an order by the viewer in the same session after t. The same SQL builds the rows the server
scores live (one cut-off: now), so training and serving read the log the same way.

Model: scikit-learn's HistGradientBoostingClassifier, trained on the earliest sessions,
calibrated (isotonic regression) on the sessions after those, and measured on the latest ones
(a time-based split in three slices: fit, calibration, test). Heavy imports (numpy, DuckDB,
scikit-learn) are made by this module; `willbuy_store` and `willbuy_live` import it only when
needed. The server counts the same features incrementally (`willbuy_state`).
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt

from livecart.core.errors import InvalidInput
from livecart.events.sink import events_view_sql, log_files
from livecart.insights import clv
from livecart.insights.errors import FitFailed, InputFileMissing, InvalidSummary

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# The model's inputs, in this order. Everything is counted up to the cut-off t.
FEATURES: tuple[str, ...] = (
    "watch_seconds",  # seconds watched in this session so far (server heartbeats and leaves)
    "seconds_since_join",  # since the viewer's first join to this session
    "messages",  # chat messages so far
    "likes",
    "questions",  # chat messages that ask something (the portraits' rule)
    "product_clicks",
    "detail_views",
    "carts",  # add_to_cart so far in this session
    "past_orders",  # orders before the session started, any room
    "past_orders_with_anchor",  # ... in sessions of this session's anchor
    "past_sessions_with_anchor",  # sessions of this anchor watched before this one
    "p_alive",  # BG/NBD fitted on orders before the session's UTC day (-1: unknown, see below)
    "expected_purchases_30d",  # BG/NBD expected purchases in the next 30 days (same fit)
)
# Same rule as insights/portraits.py (QUESTION_*); a unit test keeps the two equal.
QUESTION_MARKS = ("?", "？")
QUESTION_ENDINGS = ("吗",)
QUESTION_WORDS = (
    "什么", "怎么", "多少", "为什么", "哪里", "哪个", "哪些", "几号", "有没有", "能不能", "是不是",
)  # fmt: skip
# "Likely to buy now" on the console: a probability at or above this.
LIKELY_THRESHOLD = 0.5
# p_alive and expected purchases of a viewer who never bought, or of a day whose history does
# not identify BG/NBD: a value no score takes (trees split on it; an all-NaN column is refused).
UNKNOWN_SCORE = -1.0
# Cut-offs every this many seconds from the session's first event (training rows).
DEFAULT_STEP_SECONDS = 300
CLV_HORIZON_DAYS = 30
TEST_SHARE = 0.25
# The latest share of the earlier (non-test) sessions that calibrates the probabilities: the
# classifier never sees them, and they are all before the test sessions.
CALIBRATION_SHARE = 0.2
# `isotonic` (monotone steps, no shape assumed) or `sigmoid` (Platt).
CALIBRATION_METHOD = "isotonic"
# Equal-width bins of the expected calibration error.
ECE_BINS = 10
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class NotEnoughData(InvalidInput):
    """Too few sessions, rows or buyers to train or measure a model."""

    code = "not_enough_data"


@dataclass
class Rows:
    """Feature rows with their keys and labels (one per viewer, session and cut-off)."""

    session_id: IntArray
    viewer: IntArray
    cutoff: list[datetime]
    session_start: list[datetime]
    features: FloatArray  # (rows, len(FEATURES))
    label: IntArray

    def __len__(self) -> int:
        return int(self.label.shape[0])

    def with_labels(self, label: IntArray) -> Rows:
        """The same rows with other labels (the shuffled-label check)."""
        return Rows(
            session_id=self.session_id,
            viewer=self.viewer,
            cutoff=self.cutoff,
            session_start=self.session_start,
            features=self.features,
            label=label,
        )

    def select(self, mask: npt.NDArray[np.bool_]) -> Rows:
        index = np.flatnonzero(mask)
        return Rows(
            session_id=self.session_id[index],
            viewer=self.viewer[index],
            cutoff=[self.cutoff[i] for i in index],
            session_start=[self.session_start[i] for i in index],
            features=self.features[index],
            label=self.label[index],
        )


def _from_us(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def _question_sql(column: str) -> str:
    tests = [f"contains({column}, '{m}')" for m in QUESTION_MARKS]
    tests += [f"ends_with({column}, '{m}')" for m in QUESTION_ENDINGS]
    tests += [f"contains({column}, '{w}')" for w in QUESTION_WORDS]
    return "(" + " OR ".join(tests) + ")"


def connect(events_root: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the `events` view over the log, times in UTC."""
    if not events_root.is_dir():
        raise InputFileMissing(f"no event log at {events_root}", details={"root": str(events_root)})
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if log_files(events_root):
        con.execute(events_view_sql(events_root))
    else:  # an empty log: the same columns, no rows
        con.execute(
            "CREATE TEMP VIEW events AS SELECT NULL::VARCHAR AS event_id, NULL::VARCHAR AS "
            "event_type, NULL::TIMESTAMPTZ AS occurred_at, NULL::BIGINT AS consumer_id, "
            "NULL::BIGINT AS session_id, NULL::BIGINT AS anchor_id, NULL::BIGINT AS order_id, "
            "NULL::DOUBLE AS watch_seconds, NULL::VARCHAR AS text, NULL::VARCHAR AS source "
            "WHERE false"
        )
    # Signed-in people only: anonymous viewers cannot order, so they are not asked about.
    con.execute(
        "CREATE TEMP TABLE ev AS SELECT consumer_id AS viewer, session_id, anchor_id, "
        "event_type, occurred_at, watch_seconds, order_id, text FROM events "
        "WHERE consumer_id IS NOT NULL"
    )
    return con


def training_cutoffs(con: duckdb.DuckDBPyConnection, step_seconds: int) -> None:
    """`cutoffs`: every session in the log, a cut-off every `step_seconds` from its first event."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE sessions AS SELECT session_id, "
        "any_value(anchor_id) AS anchor_id, min(occurred_at) AS started, "
        "max(occurred_at) AS ended FROM events WHERE session_id IS NOT NULL GROUP BY session_id"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE cutoffs AS SELECT session_id, anchor_id, started, t "
        "FROM (SELECT session_id, anchor_id, started, ended, unnest(generate_series("
        "started + to_seconds(?), ended, to_seconds(?))) AS t FROM sessions) WHERE t < ended",
        [step_seconds, step_seconds],
    )


def live_cutoff(
    con: duckdb.DuckDBPyConnection,
    *,
    session_id: int,
    anchor_id: int,
    started: datetime,
    now: datetime,
) -> None:
    """`cutoffs`: one row, the live session now."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE cutoffs AS SELECT ?::BIGINT AS session_id, "
        "?::BIGINT AS anchor_id, ?::TIMESTAMPTZ AS started, ?::TIMESTAMPTZ AS t",
        [
            session_id,
            anchor_id,
            started.astimezone(UTC).isoformat(),
            now.astimezone(UTC).isoformat(),
        ],
    )


def _rows_sql(stale_seconds: float | None) -> str:
    # A live server may die without writing a viewer's leave: live, a viewer whose last event
    # is older than `stale_seconds` is not counted as watching.
    stale = "" if stale_seconds is None else f" AND last_seen >= t - to_seconds({stale_seconds:f})"
    # Only constants and a formatted float are put into the text.
    return f"""
        CREATE OR REPLACE TEMP TABLE so_far AS
        SELECT c.session_id, c.anchor_id, c.started, c.t, e.viewer,
          coalesce(sum(e.watch_seconds) FILTER (WHERE e.event_type IN ('heartbeat', 'leave')), 0)
            AS watch_seconds,
          epoch(c.t - min(e.occurred_at) FILTER (WHERE e.event_type = 'join'))
            AS seconds_since_join,
          count(*) FILTER (WHERE e.event_type = 'chat') AS messages,
          count(*) FILTER (WHERE e.event_type = 'like') AS likes,
          count(*) FILTER (WHERE e.event_type = 'chat' AND {_question_sql("e.text")}) AS questions,
          count(*) FILTER (WHERE e.event_type = 'product_click') AS product_clicks,
          count(*) FILTER (WHERE e.event_type = 'detail_view') AS detail_views,
          count(*) FILTER (WHERE e.event_type = 'add_to_cart') AS carts,
          count(*) FILTER (WHERE e.event_type = 'join') AS joins,
          count(*) FILTER (WHERE e.event_type = 'leave') AS leaves,
          count(*) FILTER (WHERE e.event_type = 'order') AS orders,
          max(e.occurred_at) AS last_seen
        FROM cutoffs c JOIN ev e ON e.session_id = c.session_id AND e.occurred_at <= c.t
        GROUP BY c.session_id, c.anchor_id, c.started, c.t, e.viewer;
        CREATE OR REPLACE TEMP TABLE watching AS
        SELECT * FROM so_far
        WHERE joins > leaves AND orders = 0 AND viewer IS DISTINCT FROM anchor_id{stale};
        CREATE OR REPLACE TEMP TABLE past AS
        SELECT p.session_id, p.viewer,
          count(DISTINCT e.order_id) FILTER (WHERE e.event_type = 'order') AS past_orders,
          count(DISTINCT e.order_id) FILTER (
            WHERE e.event_type = 'order' AND e.anchor_id = p.anchor_id) AS past_orders_with_anchor,
          count(DISTINCT e.session_id) FILTER (
            WHERE e.anchor_id = p.anchor_id AND e.event_type IN ('join', 'heartbeat', 'leave'))
            AS past_sessions_with_anchor
        FROM (SELECT DISTINCT session_id, viewer, anchor_id, started FROM watching) p
        LEFT JOIN ev e ON e.viewer = p.viewer AND e.occurred_at < p.started
        GROUP BY p.session_id, p.viewer;
        CREATE OR REPLACE TEMP TABLE first_order AS
        SELECT session_id, viewer, min(occurred_at) AS ordered_at FROM ev
        WHERE event_type = 'order' AND session_id IS NOT NULL GROUP BY ALL;
    """  # noqa: S608


def _customer_base_scores(
    con: duckdb.DuckDBPyConnection, days: Sequence[date]
) -> dict[tuple[date, int], tuple[float, float]]:
    """Per day d and viewer: BG/NBD p_alive and expected purchases, fitted on orders before d."""
    pairs = con.execute(
        "SELECT viewer, CAST(occurred_at AS DATE) AS day FROM ev WHERE event_type = 'order' "
        "GROUP BY ALL ORDER BY viewer, day"
    ).fetchall()
    if not pairs:
        return {}
    viewers = np.array([p[0] for p in pairs], dtype=np.int64)
    ordinals = np.array([p[1].toordinal() for p in pairs], dtype=np.int64)
    out: dict[tuple[date, int], tuple[float, float]] = {}
    for day in sorted(set(days)):
        before = ordinals < day.toordinal()
        if not before.any():
            continue
        v, d = viewers[before], ordinals[before]
        ids, first_index, counts = np.unique(v, return_index=True, return_counts=True)
        last_index = np.r_[first_index[1:], len(v)] - 1
        first, last = d[first_index], d[last_index]
        x = (counts - 1).astype(np.float64)
        tx = (last - first) / 7.0
        t_obs = (day.toordinal() - first) / 7.0
        try:
            model = clv.fit_bgnbd(x, tx, t_obs)
        except (FitFailed, InvalidSummary):
            continue  # the day's history does not identify the model: scores stay unknown
        alive = clv.p_alive(model, x, tx, t_obs)
        expected = clv.expected_purchases(model, CLV_HORIZON_DAYS / 7.0, x, tx, t_obs)
        for i, viewer in enumerate(ids.tolist()):
            out[(day, int(viewer))] = (float(alive[i]), float(expected[i]))
    return out


def build_rows(
    con: duckdb.DuckDBPyConnection,
    *,
    stale_seconds: float | None = None,
    clv_cache: dict[date, dict[int, tuple[float, float]]] | None = None,
) -> Rows:
    """Feature rows for the `cutoffs` table (see `training_cutoffs`, `live_cutoff`)."""
    con.execute(_rows_sql(stale_seconds))
    in_session = FEATURES[:8]
    raw = con.execute(
        "SELECT w.session_id, w.viewer, epoch_us(w.t), epoch_us(w.started), "
        + ", ".join(f"w.{name}" for name in in_session)
        + ", coalesce(p.past_orders, 0), coalesce(p.past_orders_with_anchor, 0), "
        "coalesce(p.past_sessions_with_anchor, 0), "
        "(f.ordered_at IS NOT NULL AND f.ordered_at > w.t) AS label "
        "FROM watching w LEFT JOIN past p USING (session_id, viewer) "
        "LEFT JOIN first_order f USING (session_id, viewer) "
        "ORDER BY w.started, w.session_id, w.t, w.viewer"
    ).fetchall()
    result = [(r[0], r[1], _from_us(r[2]), _from_us(r[3]), *r[4:]) for r in raw]
    days = sorted({row[3].date() for row in result})
    if clv_cache is None:
        scores = _customer_base_scores(con, days)
    else:
        missing = [d for d in days if d not in clv_cache]
        if missing:
            fresh = _customer_base_scores(con, missing)
            for d in missing:
                clv_cache[d] = {v: s for (day, v), s in fresh.items() if day == d}
        scores = {(d, v): s for d in days for v, s in clv_cache[d].items()}
    features = np.full((len(result), len(FEATURES)), UNKNOWN_SCORE, dtype=np.float64)
    for i, row in enumerate(result):
        features[i, :11] = [math.nan if value is None else float(value) for value in row[4:15]]
        score = scores.get((row[3].date(), int(row[1])))
        if score is not None:
            features[i, 11:] = score
    return Rows(
        session_id=np.array([r[0] for r in result], dtype=np.int64),
        viewer=np.array([r[1] for r in result], dtype=np.int64),
        cutoff=[r[2] for r in result],
        session_start=[r[3] for r in result],
        features=features,
        label=np.array([int(r[15]) for r in result], dtype=np.int64),
    )


def training_rows(events_root: Path, *, step_seconds: int = DEFAULT_STEP_SECONDS) -> Rows:
    """Every training row of the log at `events_root`."""
    con = connect(events_root)
    try:
        training_cutoffs(con, step_seconds)
        return build_rows(con)
    finally:
        con.close()


# ------------------------------------------------------------------ training and measuring


@dataclass
class Split:
    train: Rows
    test: Rows
    train_sessions: int
    test_sessions: int


def _sessions_by_start(rows: Rows) -> list[int]:
    starts: dict[int, datetime] = {}
    for sid, start in zip(rows.session_id.tolist(), rows.session_start, strict=True):
        starts[int(sid)] = start
    return sorted(starts, key=lambda s: (starts[s], s))


def time_split(rows: Rows, test_share: float = TEST_SHARE, minimum: int = 4) -> Split:
    """The earlier sessions (by start) train, the later `test_share` of sessions test."""
    ordered = _sessions_by_start(rows)
    if len(ordered) < minimum:
        raise NotEnoughData(
            f"{len(ordered)} session(s) with viewers in the log; at least {minimum} are needed "
            "to train on earlier sessions and measure on later ones"
        )
    cut = max(1, min(len(ordered) - 1, round(len(ordered) * (1 - test_share))))
    test_ids = np.array(ordered[cut:], dtype=np.int64)
    is_test = np.isin(rows.session_id, test_ids)
    return Split(
        train=rows.select(~is_test),
        test=rows.select(is_test),
        train_sessions=cut,
        test_sessions=len(ordered) - cut,
    )


def single_threaded_openmp() -> None:
    """Ask scikit-learn's OpenMP for one thread, before it is first loaded.

    On a shared machine (and inside the server's event loop) OpenMP's worker threads spin while
    they wait: a 2-second fit took 90 s of wall time with other jobs running. One thread is
    plenty for these sizes. Only takes effect if OpenMP was not loaded yet and the variable is
    not set by the user.
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def new_classifier(seed: int = 0) -> Any:
    single_threaded_openmp()
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=200,
        learning_rate=0.05,
        max_leaf_nodes=15,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )


def _both_classes(rows: Rows, part: str) -> None:
    positives = int(rows.label.sum())
    if positives == 0 or positives == len(rows):
        raise NotEnoughData(
            f"the {part} sessions have {positives} buyer row(s) of {len(rows)}: both buyers "
            "and non-buyers are needed",
            details={"part": part, "rows": len(rows), "positives": positives},
        )


def auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    single_threaded_openmp()
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


@dataclass
class Calibration:
    """Calibration bins of the test rows (quantile bins of the predicted probability)."""

    predicted: list[float]
    observed: list[float]
    rows: list[int]


@dataclass
class ProbabilityFigures:
    """How good one set of probabilities on the test rows is (AUC, Brier, ECE, bins)."""

    auc: float
    brier: float
    ece: float
    mean_predicted: float
    calibration: Calibration

    def report(self) -> dict[str, Any]:
        return {
            "auc": round(self.auc, 4),
            "brier": round(self.brier, 4),
            "ece": round(self.ece, 4),
            "mean_predicted": round(self.mean_predicted, 4),
            "calibration": _calibration_report(self.calibration),
        }


def _calibration_report(calibration: Calibration) -> dict[str, Any]:
    return {
        "predicted": [round(v, 4) for v in calibration.predicted],
        "observed": [round(v, 4) for v in calibration.observed],
        "rows": calibration.rows,
    }


@dataclass
class Evaluation:
    """What `evaluate` measured on the later sessions, and the model trained on the earlier."""

    model: Any
    features: tuple[str, ...]
    rows: int
    train_rows: int
    test_rows: int
    train_sessions: int
    test_sessions: int
    auc: float
    train_auc: float
    shuffled_label_auc: float
    base_rate: float
    train_base_rate: float
    mean_predicted: float
    brier: float
    calibration: Calibration
    top_features: list[tuple[str, float]]
    data_from: datetime | None
    data_to: datetime | None
    test_from: datetime | None
    ece: float = math.nan
    fit_sessions: int = 0
    calibration_sessions: int = 0
    calibration_rows: int = 0
    calibration_method: str = CALIBRATION_METHOD
    calibration_from: datetime | None = None
    # The classifier before calibration, and the model made before calibration existed
    # (trained on every earlier session, probabilities as they come): same test rows.
    uncalibrated: ProbabilityFigures | None = None
    previous: ProbabilityFigures | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        """The JSON of `livecart insights willbuy evaluate` (and the model's metadata)."""
        return {
            "features": list(self.features),
            "rows": self.rows,
            "train_rows": self.train_rows,
            "test_rows": self.test_rows,
            "test_positives": round(self.base_rate * self.test_rows),
            "train_sessions": self.train_sessions,
            "test_sessions": self.test_sessions,
            "auc": round(self.auc, 4),
            "train_auc": round(self.train_auc, 4),
            "shuffled_label_auc": round(self.shuffled_label_auc, 4),
            "base_rate": round(self.base_rate, 4),
            "train_base_rate": round(self.train_base_rate, 4),
            "mean_predicted": round(self.mean_predicted, 4),
            "brier": round(self.brier, 4),
            "ece": round(self.ece, 4),
            "calibration": _calibration_report(self.calibration),
            "calibration_method": self.calibration_method,
            "fit_sessions": self.fit_sessions,
            "calibration_sessions": self.calibration_sessions,
            "calibration_rows": self.calibration_rows,
            "calibration_from": (
                self.calibration_from.isoformat() if self.calibration_from else None
            ),
            "uncalibrated": self.uncalibrated.report() if self.uncalibrated else None,
            "previous": self.previous.report() if self.previous else None,
            "top_features": [
                {"feature": name, "auc_drop": round(drop, 4)} for name, drop in self.top_features
            ],
            "data_from": self.data_from.isoformat() if self.data_from else None,
            "data_to": self.data_to.isoformat() if self.data_to else None,
            "test_from": self.test_from.isoformat() if self.test_from else None,
            **self.extra,
        }


def _calibration(labels: IntArray, probabilities: FloatArray, bins: int = 10) -> Calibration:
    """Quantile bins of the predicted probability: mean predicted and observed share in each."""
    edges = np.percentile(probabilities, np.linspace(0, 100, bins + 1))
    # Tied edges (isotonic output has steps) make empty bins; those are left out.
    which = np.searchsorted(edges[1:-1], probabilities, side="right")
    counts = np.bincount(which, minlength=bins)
    kept = np.flatnonzero(counts)
    predicted = np.bincount(which, weights=probabilities, minlength=bins)[kept] / counts[kept]
    observed = np.bincount(which, weights=labels.astype(np.float64), minlength=bins)[kept]
    return Calibration(
        predicted=[float(v) for v in predicted],
        observed=[float(v) for v in observed / counts[kept]],
        rows=[int(c) for c in counts[kept]],
    )


def expected_calibration_error(
    labels: npt.ArrayLike, probabilities: npt.ArrayLike, bins: int = ECE_BINS
) -> float:
    """ECE: the row-weighted mean |mean predicted - observed share| over equal-width bins."""
    y = np.asarray(labels, dtype=np.float64)
    p = np.asarray(probabilities, dtype=np.float64)
    if p.size == 0:
        return math.nan
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    counts = np.bincount(which, minlength=bins)
    gaps = np.abs(
        np.bincount(which, weights=p, minlength=bins)
        - np.bincount(which, weights=y, minlength=bins)
    )
    return float(gaps.sum() / counts.sum())


def _figures(labels: IntArray, probabilities: FloatArray) -> ProbabilityFigures:
    from sklearn.metrics import brier_score_loss

    return ProbabilityFigures(
        auc=auc(labels, probabilities),
        brier=float(brier_score_loss(labels, probabilities)),
        ece=expected_calibration_error(labels, probabilities),
        mean_predicted=float(probabilities.mean()),
        calibration=_calibration(labels, probabilities),
    )


def calibrate(model: Any, rows: Rows, method: str = CALIBRATION_METHOD) -> Any:
    """`model` (already fitted, left as it is) with its probabilities mapped on `rows`."""
    single_threaded_openmp()
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    return CalibratedClassifierCV(FrozenEstimator(model), method=method).fit(
        rows.features, rows.label
    )


def evaluate(
    rows: Rows,
    *,
    names: tuple[str, ...] = FEATURES,
    test_share: float = TEST_SHARE,
    calibration_share: float = CALIBRATION_SHARE,
    method: str = CALIBRATION_METHOD,
    shuffle_labels: bool = False,
    seed: int = 0,
    step: Callable[[str], None] = lambda _: None,
) -> Evaluation:
    """Fit on the earliest sessions, calibrate on the next ones, measure on the latest.

    `shuffle_labels` permutes the fit and calibration labels (a check: the AUC must fall to
    about 0.5). The report always carries `shuffled_label_auc`, the same check made on the side.
    """
    single_threaded_openmp()
    from sklearn.inspection import permutation_importance

    split = time_split(rows, test_share)
    _both_classes(split.test, "test")
    # The latest earlier sessions calibrate: after every fit row, before every test row.
    inner = time_split(split.train, calibration_share, minimum=2)
    fit, held = inner.train, inner.test
    _both_classes(fit, "training")
    _both_classes(held, "calibration")
    rng = np.random.default_rng(seed)
    fit_labels, held_labels = fit.label, held.label
    if shuffle_labels:
        fit_labels, held_labels = rng.permutation(fit_labels), rng.permutation(held_labels)
    step(f"training on {len(fit):,} rows of {inner.train_sessions} sessions")
    base = new_classifier(seed).fit(fit.features, fit_labels)
    step(f"calibrating ({method}) on {len(held):,} rows of {inner.test_sessions} later sessions")
    model = calibrate(base, held.with_labels(held_labels), method)
    probabilities = model.predict_proba(split.test.features)[:, 1]
    uncalibrated = _figures(split.test.label, base.predict_proba(split.test.features)[:, 1])
    step("the model made before calibration (every earlier session, raw probabilities)")
    before = new_classifier(seed).fit(split.train.features, split.train.label)
    previous = _figures(split.test.label, before.predict_proba(split.test.features)[:, 1])
    step("the shuffled-label check")
    shuffled = new_classifier(seed).fit(fit.features, rng.permutation(fit.label))
    shuffled_auc = auc(split.test.label, shuffled.predict_proba(split.test.features)[:, 1])
    step("permutation importance on the test rows")
    importance = permutation_importance(
        model,
        split.test.features,
        split.test.label,
        scoring="roc_auc",
        n_repeats=5,
        random_state=seed,
    )
    ranked = sorted(
        zip(names, (float(v) for v in importance.importances_mean), strict=True),
        key=lambda item: -item[1],
    )
    calibrated = _figures(split.test.label, probabilities)
    return Evaluation(
        model=model,
        features=names,
        rows=len(rows),
        train_rows=len(split.train),
        test_rows=len(split.test),
        train_sessions=split.train_sessions,
        test_sessions=split.test_sessions,
        auc=calibrated.auc,
        train_auc=auc(fit.label, base.predict_proba(fit.features)[:, 1]),
        shuffled_label_auc=shuffled_auc,
        base_rate=float(split.test.label.mean()),
        train_base_rate=float(split.train.label.mean()),
        mean_predicted=calibrated.mean_predicted,
        brier=calibrated.brier,
        calibration=calibrated.calibration,
        top_features=ranked[:6],
        data_from=min(rows.session_start) if len(rows) else None,
        data_to=max(rows.cutoff) if len(rows) else None,
        test_from=min(split.test.session_start) if len(split.test) else None,
        ece=calibrated.ece,
        fit_sessions=inner.train_sessions,
        calibration_sessions=inner.test_sessions,
        calibration_rows=len(held),
        calibration_method=method,
        calibration_from=min(held.session_start) if len(held) else None,
        uncalibrated=uncalibrated,
        previous=previous,
    )


def engine_versions() -> dict[str, str]:
    """Versions of what made a model (stored with it)."""
    single_threaded_openmp()
    import scipy
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "duckdb": duckdb.__version__,
    }


def draw_calibration_chart(evaluation: Evaluation, path: Path, title: str) -> None:
    """The calibration chart (predicted vs observed by bin) as a PNG or SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.5, 5.0), dpi=120)
    axes.plot([0, 1], [0, 1], linestyle="--", color="#999999", label="perfectly calibrated")
    for figures, colour, name in (
        (evaluation.previous, "#9ca3af", "before: no calibration"),
        (evaluation.uncalibrated, "#f59e0b", "classifier before the isotonic step"),
    ):
        if figures is not None:
            axes.plot(
                figures.calibration.predicted,
                figures.calibration.observed,
                marker=".",
                color=colour,
                linewidth=1,
                label=f"{name} (ECE {figures.ece:.3f}, Brier {figures.brier:.3f})",
            )
    axes.plot(
        evaluation.calibration.predicted,
        evaluation.calibration.observed,
        marker="o",
        color="#c2410c",
        label=(
            f"calibrated ({evaluation.calibration_method}; ECE {evaluation.ece:.3f}, "
            f"Brier {evaluation.brier:.3f}, AUC {evaluation.auc:.3f})"
        ),
    )
    axes.axhline(evaluation.base_rate, color="#2563eb", linewidth=0.8, label="base rate")
    axes.set_xlabel("predicted probability of buying later in the session (quantile bins)")
    axes.set_ylabel("observed share that bought")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_title(title, fontsize=10)
    axes.legend(loc="upper left", fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


def score(model: Any, rows: Rows) -> FloatArray:
    """P(buys later in the session) for each row."""
    if len(rows) == 0:
        return np.zeros(0, dtype=np.float64)
    result: FloatArray = model.predict_proba(rows.features)[:, 1].astype(np.float64)
    return result
