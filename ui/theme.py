"""Presentation mode: larger charts and fonts for a projector.

On when the session state's ``present`` is true or the page's URL has
``?present=1``; a toggle bound to the key ``present`` switches it.
"""

from __future__ import annotations

import streamlit as st

KEY = "present"


def presenting() -> bool:
    """Is presentation mode on for this session?"""
    if KEY in st.session_state:
        return bool(st.session_state[KEY])
    return str(st.query_params.get(KEY, "")).strip().lower() in ("1", "true", "on", "yes")
