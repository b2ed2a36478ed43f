"""The will-buy model: signal versus shuffled labels, no leakage from after the cut-off,
Taobao sessionising, and model versions on disk."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from livecart.events import service as events
from livecart.events.schemas import EventType
from livecart.insights import portraits, willbuy, willbuy_store, willbuy_taobao
from tests.willbuy_log import GeneratedLog, write, write_log


@pytest.fixture(scope="module")
def signal_log(tmp_path_factory: pytest.TempPathFactory) -> GeneratedLog:
    return write_log(tmp_path_factory.mktemp("willbuy") / "events")


@pytest.fixture(scope="module")
def signal_rows(signal_log: GeneratedLog) -> willbuy.Rows:
    return willbuy.training_rows(signal_log.root, step_seconds=300)


def test_rows_are_viewers_watching_who_have_not_ordered(
    signal_log: GeneratedLog, signal_rows: willbuy.Rows
) -> None:
    assert len(signal_rows) > 2000
    assert set(signal_rows.session_id.tolist()) <= set(signal_log.sessions)
    # Every row is at a cut-off inside its session, after the session's first event.
    assert all(s < t for s, t in zip(signal_rows.session_start, signal_rows.cutoff, strict=True))
    watch = signal_rows.features[:, willbuy.FEATURES.index("watch_seconds")]
    since_join = signal_rows.features[:, willbuy.FEATURES.index("seconds_since_join")]
    assert np.all(watch <= since_join + 1e-9)  # heartbeats never count ahead of the clock
    base_rate = float(signal_rows.label.mean())
    assert 0.05 < base_rate < 0.5


def test_known_signal_is_found_and_a_shuffled_label_is_not(signal_rows: willbuy.Rows) -> None:
    found = willbuy.evaluate(signal_rows)
    assert found.test_sessions == 6 and found.train_sessions == 18
    assert found.test_from is not None and found.data_from is not None
    assert found.auc > 0.62, found.report()
    assert 0.4 < found.shuffled_label_auc < 0.6, found.report()
    top = [name for name, _ in found.top_features[:4]]
    assert "product_clicks" in top or "past_orders" in top, found.top_features
    shuffled = willbuy.evaluate(signal_rows, shuffle_labels=True)
    assert 0.4 < shuffled.auc < 0.6, shuffled.report()
    assert found.auc - shuffled.auc > 0.08
    report = found.report()
    assert len(report["calibration"]["predicted"]) == len(report["calibration"]["observed"]) > 3
    assert sum(report["calibration"]["rows"]) == found.test_rows


def test_an_event_after_the_cutoff_never_changes_the_row(
    tmp_path: Path, signal_log: GeneratedLog
) -> None:
    import shutil

    root = tmp_path / "events"
    shutil.copytree(signal_log.root, root)
    before = willbuy.training_rows(root, step_seconds=300)
    # A viewer in a row of the fourth session, at a cut-off t: everything they (and a newcomer)
    # do after t, up to a purchase, is added to the log.
    index = int(np.flatnonzero(before.session_id == signal_log.sessions[3])[5])
    session_id, viewer = int(before.session_id[index]), int(before.viewer[index])
    t = before.cutoff[index]
    who = {"session_id": session_id, "anchor_id": 9000 + 3 % 3, "room_id": 1}
    later = [
        events.new_event(kind, occurred_at=t + timedelta(seconds=1 + i), consumer_id=c, **who)
        for i, (kind, c) in enumerate(
            [
                (EventType.CHAT, viewer),
                (EventType.LIKE, viewer),
                (EventType.PRODUCT_CLICK, viewer),
                (EventType.DETAIL_VIEW, viewer),
                (EventType.ADD_TO_CART, viewer),
                (EventType.JOIN, 777),
                (EventType.CHAT, 777),
            ]
        )
    ]
    later[0] = dataclasses.replace(later[0], text="有没有小号?")
    later.append(
        events.new_event(
            EventType.HEARTBEAT,
            occurred_at=t + timedelta(seconds=20),
            consumer_id=viewer,
            watch_seconds=600.0,
            **who,
        )
    )
    later.append(
        events.new_event(
            EventType.ORDER,
            occurred_at=t + timedelta(seconds=30),
            consumer_id=viewer,
            order_id=99_999,
            **who,
        )
    )
    write(root, later)
    after = willbuy.training_rows(root, step_seconds=300)

    def keyed(rows: willbuy.Rows) -> dict[tuple[int, int, object], list[float]]:
        return {
            (int(s), int(v), c): f.tolist()
            for s, v, c, f in zip(
                rows.session_id, rows.viewer, rows.cutoff, rows.features, strict=True
            )
        }

    old, new = keyed(before), keyed(after)
    up_to_t = {k for k in old if k[2] <= t}
    assert len(up_to_t) > 100
    for key in up_to_t:
        assert new[key] == old[key], key  # same features, same rows
    assert {k for k in new if k[2] <= t} == up_to_t  # nobody new before t
    # The events are read: the first cut-off after t sees the newcomer and the viewer's order.
    next_cut = min(k[2] for k in new if k[2] > t and k[0] == session_id)
    assert (session_id, 777, next_cut) in new
    assert (session_id, viewer, next_cut) not in new  # ordered: not asked any more


def test_question_rule_is_the_portraits_rule() -> None:
    assert willbuy.QUESTION_MARKS == portraits.QUESTION_MARKS
    assert willbuy.QUESTION_ENDINGS == portraits.QUESTION_ENDINGS
    assert willbuy.QUESTION_WORDS == portraits.QUESTION_WORDS


def test_taobao_sessions_stop_at_the_first_buy(tmp_path: Path) -> None:
    csv = tmp_path / "ub.csv"
    base = 1_511_000_000
    lines = [
        (1, 10, 100, "pv", base),
        (1, 11, 100, "pv", base + 60),
        (1, 11, 100, "cart", base + 120),
        (1, 11, 100, "buy", base + 180),
        (1, 12, 101, "pv", base + 240),  # after the buy: no row
        (1, 13, 101, "pv", base + 240 + 3600),  # a new session (gap > 30 min), no buy
        (2, 20, 200, "pv", base + 10),
        (2, 21, 200, "fav", base + 20),
    ]
    csv.write_text("".join(",".join(map(str, line)) + "\n" for line in lines))
    built = willbuy_taobao.taobao_rows(willbuy_taobao.read_taobao(csv))
    assert (built.people, built.sessions, built.sessions_with_buy) == (2, 3, 1)
    rows = built.rows
    assert rows.label.tolist() == [1, 1, 1, 0, 0, 0]
    pv, carts, favs = (willbuy_taobao.TAOBAO_FEATURES.index(n) for n in ("pv", "carts", "favs"))
    assert rows.features[:, pv].tolist() == [1, 2, 2, 1, 1, 1]
    assert rows.features[:, carts].tolist() == [0, 0, 1, 0, 0, 0]
    assert rows.features[:, favs].tolist() == [0, 0, 0, 0, 0, 1]
    past_buys = willbuy_taobao.TAOBAO_FEATURES.index("past_buys")
    assert rows.features[3, past_buys] == 1  # the second session knows the first one's buy


def test_versions_grow_and_a_half_written_one_is_not_loaded(tmp_path: Path) -> None:
    assert willbuy_store.newest_version(tmp_path) is None
    first = willbuy_store.save(tmp_path, {"weights": [1]}, {"auc": 0.7})
    second = willbuy_store.save(tmp_path, {"weights": [2]}, {"auc": 0.8})
    assert (first.version, second.version) == (1, 2)
    (willbuy_store.folder(tmp_path) / "v3.joblib").write_bytes(b"half")  # no v3.json yet
    assert willbuy_store.versions(tmp_path) == [1, 2]
    loaded = willbuy_store.load(tmp_path, 2)
    assert loaded.model == {"weights": [2]}
    assert loaded.metadata["version"] == 2 and loaded.metadata["auc"] == 0.8
    assert willbuy_store.save(tmp_path, {}, {}).version == 4  # v3's name stays taken


def test_expected_calibration_error_on_a_known_case() -> None:
    # One row in each of four bins: gaps 0.1, 0.1, 0.2, 0.4.
    ece = willbuy.expected_calibration_error([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.6])
    assert ece == pytest.approx(0.2)
    assert willbuy.expected_calibration_error([0, 1], [0.5, 0.5]) == pytest.approx(0.0)


def test_calibration_lowers_the_error_on_a_later_time_slice(signal_rows: willbuy.Rows) -> None:
    split = willbuy.time_split(signal_rows)
    inner = willbuy.time_split(split.train, willbuy.CALIBRATION_SHARE, minimum=2)
    fit, held, test = inner.train, inner.test, split.test
    # Three slices in time: fit, then calibration, then test.
    assert max(fit.session_start) < min(held.session_start)
    assert max(held.session_start) < min(test.session_start)
    raw = willbuy.new_classifier().fit(fit.features, fit.label)
    calibrated = willbuy.calibrate(raw, held)
    raw_p = raw.predict_proba(test.features)[:, 1]
    cal_p = calibrated.predict_proba(test.features)[:, 1]
    raw_ece = willbuy.expected_calibration_error(test.label, raw_p)
    cal_ece = willbuy.expected_calibration_error(test.label, cal_p)
    assert cal_ece < raw_ece, (cal_ece, raw_ece)
    # `evaluate` reports the same two figures, and stores the calibrated model.
    found = willbuy.evaluate(signal_rows)
    assert found.uncalibrated is not None and found.previous is not None
    assert found.ece == pytest.approx(cal_ece)
    assert found.uncalibrated.ece == pytest.approx(raw_ece)
    assert found.calibration_sessions == 4 and found.fit_sessions == 14
    report = found.report()
    assert report["ece"] < report["uncalibrated"]["ece"]
    assert report["calibration_method"] == "isotonic"
