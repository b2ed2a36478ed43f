"""`livecart insights willbuy train|evaluate`: versions written, figures printed as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from livecart.cli import app
from livecart.insights import willbuy_store
from tests.willbuy_log import write_log

runner = CliRunner()


def test_train_writes_versions_and_evaluate_writes_nothing(tmp_path: Path) -> None:
    log = write_log(tmp_path / "events", sessions=12, viewers=30)
    models = tmp_path / "models"
    args = ["insights", "willbuy", "train", "--events", str(log.root), "--models-dir", str(models)]
    first = runner.invoke(app, [*args, "--json"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["version"] == 1
    assert report["test_sessions"] == 3 and report["train_sessions"] == 9
    assert 0.0 < report["base_rate"] < 1.0
    meta = json.loads((models / "willbuy" / "v1.json").read_text())
    assert meta["auc"] == report["auc"] and meta["features"] == report["features"]
    assert set(meta["engines"]) >= {"scikit-learn", "numpy", "duckdb"}
    assert meta["trained_at"] and meta["data_from"] < meta["data_to"]
    chart = tmp_path / "calibration.png"
    second = runner.invoke(app, [*args, "--chart", str(chart), "--json"])
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["version"] == 2
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert willbuy_store.versions(models) == [1, 2]

    evaluated = runner.invoke(
        app, ["insights", "willbuy", "evaluate", "--events", str(log.root), "--json"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["auc"] == report["auc"]  # same rows, same seed
    assert willbuy_store.versions(models) == [1, 2]


def test_evaluate_needs_one_source_and_says_so_in_json(tmp_path: Path) -> None:
    result = runner.invoke(app, ["insights", "willbuy", "evaluate", "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "invalid_input"
    empty = tmp_path / "events"
    empty.mkdir()
    result = runner.invoke(
        app, ["insights", "willbuy", "evaluate", "--events", str(empty), "--json"]
    )
    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["error"]["code"] == "not_enough_data"
