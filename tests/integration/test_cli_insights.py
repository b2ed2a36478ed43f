"""`livecart insights clv fit|score|holdout` on the real CDNOW files and on broken ones."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from livecart.cli import app
from tests.support import shared_file

runner = CliRunner()
SCORE = ["insights", "clv", "score", "--transactions"]
RETAIL = ["--format", "online-retail", "--calibration-end", "2011-06-30", "--horizon-days", "162"]
HOLDOUT = ["insights", "clv", "holdout", "--transactions"]
CDNOW = ["--format", "cdnow", "--calibration-end", "1997-09-30", "--horizon-days", "273"]


def test_fit_json_reproduces_the_paper() -> None:
    summary = shared_file("cdnow_customers_summary.csv")
    result = runner.invoke(app, ["insights", "clv", "fit", "--summary", str(summary), "--json"])
    assert result.exit_code == 0, result.output
    params = json.loads(result.stdout)
    assert set(params) == {"r", "alpha", "a", "b", "log_likelihood"}
    assert params["log_likelihood"] == pytest.approx(-9582.4, rel=0.01)
    assert params["r"] == pytest.approx(0.243, rel=0.01)


def test_score_writes_one_row_per_customer(tmp_path: Path) -> None:
    master = shared_file("cdnow_CDNOW_master.txt")
    out = tmp_path / "scores.csv"
    result = runner.invoke(
        app,
        [*SCORE, str(master), *CDNOW, "--out", str(out), "--json"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["customers"] == 23_570
    assert report["gamma_gamma"]["q"] > 1
    with out.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["customer_id", "p_alive", "expected_purchases", "expected_value"]
    assert len(rows) == 23_571
    assert len({row[0] for row in rows[1:]}) == 23_570
    values = [(float(a), float(e), float(v)) for _, a, e, v in rows[1:]]
    assert all(0 <= a <= 1 and e >= 0 and v >= 0 for a, e, v in values)
    assert sum(e > 0 for _, e, _ in values) > 23_000
    assert sum(e for _, e, _ in values) == pytest.approx(
        report["expected_purchases_total"], rel=1e-4
    )


def test_holdout_reports_auc_totals_weeks_and_draws_the_chart(tmp_path: Path) -> None:
    master = shared_file("cdnow_CDNOW_master.txt")
    chart = tmp_path / "tracking.svg"
    result = runner.invoke(
        app,
        [*HOLDOUT, str(master), *CDNOW, "--chart", str(chart), "--json"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert 0.5 < report["auc_buys_again"] < 0.95
    weeks = report["tracking"]
    assert [w["week"] for w in weeks] == list(range(1, 79))
    assert weeks[38]["ends"] == "1997-09-30" and weeks[-1]["ends"] == "1998-06-30"
    assert weeks[38]["actual_cumulative"] == report["calibration_repeat_purchases"]
    assert (
        weeks[-1]["actual_cumulative"] - weeks[38]["actual_cumulative"]
        == report["actual_repeat_purchases"]
    )
    assert weeks[-1]["holdout_forecast_cumulative"] == pytest.approx(
        weeks[38]["actual_cumulative"] + report["forecast_repeat_purchases"]
    )
    actual = [w["actual_cumulative"] for w in weeks]
    assert actual == sorted(actual)
    # The model was fitted on these 39 weeks: its cumulative curve ends them close to actual.
    assert weeks[38]["model_cumulative"] == pytest.approx(actual[38], rel=0.05)
    assert chart.read_text().lstrip().startswith("<?xml")


def test_broken_lines_are_named_by_number(tmp_path: Path) -> None:
    broken = tmp_path / "broken.txt"
    lines = shared_file("cdnow_CDNOW_master.txt").read_text().splitlines()[:200]
    lines[10] = " 00005 1997XX01  1   11.77"
    lines[57] = " 00019 19970101  1"
    broken.write_text("\n".join(lines) + "\n")
    args = [*SCORE, str(broken), *CDNOW]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "s.csv"), "--json"])
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "invalid_input_file"
    assert [line["line"] for line in error["details"]["lines"]] == [11, 58]
    assert "line 11: date '1997XX01' is not YYYYMMDD" in error["message"]
    assert "Traceback" not in result.output
    assert not (tmp_path / "s.csv").exists()

    result = runner.invoke(app, [*args, "--out", str(tmp_path / "s.csv"), "--skip-bad-lines"])
    assert result.exit_code == 0, result.output
    assert "2 unreadable line(s) left out" in result.output


def test_missing_file_and_wrong_columns_are_clear_errors(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["insights", "clv", "fit", "--summary", str(tmp_path / "none.csv"), "--json"]
    )
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "input_file_missing"

    wrong = tmp_path / "wrong.csv"
    wrong.write_text("customer,freq,rec,age\n1,0,0,38\n")
    result = runner.invoke(app, ["insights", "clv", "fit", "--summary", str(wrong)])
    assert result.exit_code == 2
    assert "missing ID, frequency, recency, T" in result.output
    assert "Traceback" not in result.output

    summary = tmp_path / "summary.csv"
    summary.write_text("ID,frequency,recency,T\n1,2,30.4,38.9\n2,1.5,1,38\n3,1,40,38\n")
    result = runner.invoke(app, ["insights", "clv", "fit", "--summary", str(summary), "--json"])
    assert result.exit_code == 2
    assert [e["line"] for e in json.loads(result.stdout)["error"]["details"]["lines"]] == [3, 4]


def test_online_retail_scores_or_explains(tmp_path: Path) -> None:
    sample = shared_file("online_retail_uci_sample30k.csv")
    out = tmp_path / "retail.csv"
    result = runner.invoke(
        app,
        [*SCORE, str(sample), *RETAIL, "--out", str(out), "--json"],
    )
    # A 30,000-line random sample of the shop thins every customer's history: the BG/NBD
    # maximum lies where nobody drops out, and the command says so instead of inventing scores.
    assert result.exit_code == 1, result.output
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "fit_failed"
    assert "edge of the parameter space" in error["message"]
