"""Versions of the will-buy model on disk: `<models dir>/willbuy/v{N}.joblib` and `v{N}.json`.

A version is complete when its `.json` exists: the model file is written first (under a hidden
name, then renamed), the metadata last, so a server polling the folder never loads half a
model. Numbers only grow; nothing is overwritten. No scikit-learn import here (joblib loads
the model, and with it scikit-learn, only when a version is read).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VERSION_FILE = re.compile(r"^v(\d+)\.json$")


@dataclass(frozen=True)
class StoredModel:
    version: int
    model: Any
    metadata: dict[str, Any]


def folder(models_dir: Path) -> Path:
    """Where the will-buy versions live."""
    return models_dir / "willbuy"


def versions(models_dir: Path) -> list[int]:
    """Complete versions, oldest first."""
    root = folder(models_dir)
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        match = VERSION_FILE.match(path.name)
        if match and (root / f"v{match.group(1)}.joblib").is_file():
            found.append(int(match.group(1)))
    return sorted(found)


def newest_version(models_dir: Path) -> int | None:
    found = versions(models_dir)
    return found[-1] if found else None


def _write_atomically(path: Path, write: Any) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    write(temporary)
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    temporary.replace(path)


def save(models_dir: Path, model: Any, metadata: dict[str, Any]) -> StoredModel:
    """Write the next version; returns it with `version` set in its metadata."""
    import joblib  # type: ignore[import-untyped]

    root = folder(models_dir)
    root.mkdir(parents=True, exist_ok=True)
    version = (newest_version(models_dir) or 0) + 1
    while (root / f"v{version}.joblib").exists() or (root / f"v{version}.json").exists():
        version += 1  # a half-written version of a crashed run keeps its number
    stored = {**metadata, "version": version}
    _write_atomically(root / f"v{version}.joblib", lambda p: joblib.dump(model, p))
    _write_atomically(
        root / f"v{version}.json",
        lambda p: p.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n"),
    )
    return StoredModel(version=version, model=model, metadata=stored)


def load(models_dir: Path, version: int) -> StoredModel:
    """Read one version (its model file was written by `save`, by us: joblib is pickle)."""
    import joblib

    from livecart.insights.willbuy import single_threaded_openmp

    root = folder(models_dir)
    metadata = json.loads((root / f"v{version}.json").read_text())
    single_threaded_openmp()
    model = joblib.load(root / f"v{version}.joblib")
    return StoredModel(version=version, model=model, metadata=metadata)
