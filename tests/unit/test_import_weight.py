"""The web app and the CLI start without the analytics stack.

Importing SciPy, scikit-learn, DuckDB, pyarrow and friends took the app about 9 s to import,
so uvicorn's health check killed replacement workers before they started. They belong inside
the functions (or modules imported only from the functions) that use them. These tests check
which modules are loaded in a fresh interpreter; they do not time anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Slow to import and needed only by analytics, models, imports and reports.
HEAVY = (
    "cloudpickle",
    "duckdb",
    "ibis",
    "joblib",
    "matplotlib",
    "numpy",
    "pandas",
    "polars",
    "pyarrow",
    "pyspark",
    "rjieba",
    "scipy",
    "sklearn",
    "statsmodels",
    "threadpoolctl",
)

FIND_HEAVY = f"sorted(m for m in {HEAVY!r} if m in sys.modules)"

START_APP = f"""
import asyncio, json, sys
from livecart.app import create_app
app = create_app()
loaded = {{"create_app": {FIND_HEAVY}}}

async def start():
    async with app.router.lifespan_context(app):
        # Startup is complete here: this is when a worker reports ready.
        loaded["started"] = {FIND_HEAVY}
        models = app.state.container.willbuy
        for _ in range(1200):  # the will-buy model is loaded by a background job
            if models.current is not None:
                break
            await asyncio.sleep(0.1)
        loaded["model_loaded"] = models.current is not None
        loaded["after_model_load"] = {FIND_HEAVY}

asyncio.run(start())
print(json.dumps(loaded))
"""


def run_python(code: str, data_dir: Path) -> str:
    """Run code in a fresh interpreter with a settings environment of its own; its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECART_")}
    env["LIVECART_DATA_DIR"] = str(data_dir)
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=data_dir,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_importing_the_app_and_the_cli_loads_no_heavy_module(tmp_path: Path) -> None:
    loaded = run_python(f"import sys, livecart.app, livecart.cli; print({FIND_HEAVY})", tmp_path)
    assert loaded == "[]", f"imported at module level on the app's import path: {loaded}"


def test_cli_help_loads_no_heavy_module(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from livecart.cli import app\n"
        "sys.argv = ['livecart', '--help']\n"
        "try:\n"
        "    app()\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print({FIND_HEAVY})\n"
    )
    loaded = run_python(code, tmp_path)
    assert loaded == "[]", f"imported by `livecart --help`: {loaded}"


def test_creating_and_starting_the_app_loads_no_heavy_module(tmp_path: Path) -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from livecart.insights import willbuy_store

    # A will-buy model on disk: the server loads it (joblib, scikit-learn) in a background
    # job once it has started, never before it reports ready.
    model = LogisticRegression().fit(np.array([[0.0], [1.0], [0.1], [0.9]]), [0, 1, 0, 1])
    willbuy_store.save(tmp_path / "models", model, {"auc": 0.5, "base_rate": 0.5})
    loaded = json.loads(run_python(START_APP, tmp_path))
    assert loaded["create_app"] == [] and loaded["started"] == []
    assert loaded["model_loaded"] and {"joblib", "sklearn"} <= set(loaded["after_model_load"])
