"""Where the engine keeps what it writes: one data folder.

``OPTLAB_DATA_DIR`` moves it (the app on a read-only host, tests in a
temporary folder); the default is ``data/`` beside the project.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The data folder, created on first use."""
    path = Path(os.environ.get("OPTLAB_DATA_DIR") or PROJECT_ROOT / "data")
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_path() -> Path:
    """The SQLite run store inside the data folder (``OPTLAB_STORE`` overrides it)."""
    override = os.environ.get("OPTLAB_STORE")
    return Path(override) if override else data_dir() / "runs.sqlite"
