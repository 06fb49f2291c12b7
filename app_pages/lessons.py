"""Lessons: the lecture decks' figures, each one click away, with what to notice."""

import streamlit as st

from ui import lessons, links, state

PAGE = "lessons"

st.title("Lessons")
st.caption(
    "Each lesson rebuilds a figure from one of four lecture decks on optimization, with the "
    "settings that make it. Read what to notice, check the claim against the charts, then "
    "open the lesson on its own page to change the settings and see what happens."
)
links.begin(PAGE)

lesson, bad_link = lessons.current()
lessons.picker(lesson, force=bad_link)
lessons.show(lesson)

state.finish()
