"""Optimizer Lab: the router. Every page lives in app_pages/."""

import streamlit as st

from ui.pages import ICONS, available

st.set_page_config(page_title="Optimizer Lab", page_icon="📉", layout="wide")
st.navigation(
    [
        st.Page(file, title=title, url_path=url, icon=ICONS.get(url), default=(url == "train"))
        for file, title, url in available()
    ]
).run()
