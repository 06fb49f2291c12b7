"""The app's pages, shared by the router, the lesson links and the tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (file relative to the project root, title, url_path)
PAGES: list[tuple[str, str, str]] = [
    ("app_pages/train.py", "Train", "train"),
    ("app_pages/compare.py", "Compare optimizers", "compare"),
    ("app_pages/modes.py", "Modes & batch size", "modes"),
    ("app_pages/playground.py", "Playground", "playground"),
    ("app_pages/runs.py", "Runs", "runs"),
    ("app_pages/sweep.py", "Sweep", "sweep"),
    ("app_pages/lessons.py", "Lessons", "lessons"),
]

# the sidebar groups of config fields each training page draws (ui.sidebar.render); the
# Compare and Sweep pages pick their optimizers themselves, the Modes page its batch sizes
SIDEBAR_GROUPS = {
    "train": ("data", "model", "optimizer", "mode", "budget", "advanced"),
    "compare": ("data", "model", "mode", "budget", "advanced"),
    "sweep": ("data", "model", "mode", "budget", "advanced"),
    "modes": ("data", "model", "optimizer", "budget", "advanced"),
}

ICONS = {
    "train": ":material/model_training:",
    "compare": ":material/compare_arrows:",
    "sweep": ":material/tune:",
    "modes": ":material/stacked_line_chart:",
    "playground": ":material/landscape:",
    "runs": ":material/table_rows:",
    "lessons": ":material/school:",
}


def available() -> list[tuple[str, str, str]]:
    """The pages whose file exists (a page still being written is left out)."""
    return [p for p in PAGES if (ROOT / p[0]).is_file()]
