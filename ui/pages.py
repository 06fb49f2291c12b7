"""The app's pages, shared by the router and the tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (file relative to the project root, title, url_path)
PAGES: list[tuple[str, str, str]] = [
    ("pages/train.py", "Train", "train"),
    ("pages/compare.py", "Compare optimizers", "compare"),
    ("pages/modes.py", "Modes & batch size", "modes"),
    ("pages/playground.py", "Playground", "playground"),
    ("pages/runs.py", "Runs", "runs"),
    ("pages/lessons.py", "Lessons", "lessons"),
]

ICONS = {
    "train": ":material/model_training:",
    "compare": ":material/compare_arrows:",
    "modes": ":material/stacked_line_chart:",
    "playground": ":material/landscape:",
    "runs": ":material/table_rows:",
    "lessons": ":material/school:",
}


def available() -> list[tuple[str, str, str]]:
    """The pages whose file exists (a page still being written is left out)."""
    return [p for p in PAGES if (ROOT / p[0]).is_file()]


def use_router() -> None:
    """Make a page reached by a deep link run under the router.

    Streamlit treats a ``pages/`` folder beside the entrypoint as its legacy
    multipage mechanism until a session has run ``st.navigation``. On a
    freshly started server the first visitor of ``/compare?...`` would get the
    page without the router (no page titles, no wide layout). Switching the
    legacy mode off and rerunning runs the entrypoint, which routes to the
    same URL path. One rerun per session at most, so no click is lost.

    It also starts the lessons' warm-up when ``OPTLAB_WARM_LESSONS`` asks for
    it (:func:`ui.cache.warm_lessons`, once per server process).
    """
    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager

    from ui import cache

    cache.warm_lessons()  # OPTLAB_WARM_LESSONS=1: once per server process, in the background
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        if not st.session_state.get("_routed"):
            st.session_state["_routed"] = True
            st.rerun()
