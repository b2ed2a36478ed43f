"""`livecart db upgrade` and `livecart users ...` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from livecart.cli import app

runner = CliRunner()


def test_db_upgrade_then_create_and_list_users(tmp_path: Path) -> None:
    # None unsets a variable, so the default SQLite file under the data dir is used.
    env = {"LIVECART_DATA_DIR": str(tmp_path / "var"), "LIVECART_DATABASE_URL": None}
    result = runner.invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "var" / "livecart.db").exists()

    result = runner.invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "Op@Example.com",
            "--password",
            "operator-pass",
            "--role",
            "operator",
            "--json",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["email"] == "op@example.com"
    assert created["roles"] == ["consumer", "operator"]

    result = runner.invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "m@example.com",
            "--password",
            "merchant-pass",
            "--role",
            "merchant",
        ],
        env=env,
    )
    assert result.exit_code == 1
    assert "brand_id" in result.output

    result = runner.invoke(
        app, ["users", "create", "--email", "x@example.com", "--password", "short"], env=env
    )
    assert result.exit_code == 1

    result = runner.invoke(app, ["users", "list", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert [u["email"] for u in json.loads(result.stdout)] == ["op@example.com"]
