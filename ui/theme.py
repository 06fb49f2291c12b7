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


# the page's own text a step larger too (Streamlit sizes its text in rem)
_PRESENT_CSS = "<style>html { font-size: 20px; }</style>"


def toggle() -> bool:
    """The sidebar's presentation toggle (URL ``?present=1``); on, it also enlarges the text."""
    from ui import state

    with st.sidebar:
        on = state.bind(
            st.toggle, KEY, False, state.parse_bool, "Presentation mode",
            to_text=lambda v: "1" if v else "0",
            help="Larger charts and text, for a projector. A link with ?present=1 opens with it on.",
        )
    if on:
        st.html(_PRESENT_CSS)
    return bool(on)
