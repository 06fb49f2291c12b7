"""Sweep: tune every optimizer with the same budget, then compare the winners over seeds."""

import streamlit as st

from ui import links, sidebar, state
from ui import sweep as page
from ui.pages import SIDEBAR_GROUPS
from ui.results import guard

st.title("Sweep")
st.caption(
    "A comparison at one hand-picked learning rate each ranks the learning rates as much as the "
    "optimizers. Here every optimizer gets the same number of trials from the same range, its "
    "best is re-run over new seeds, and the ranking after tuning stands beside the ranking at "
    "the defaults (the protocol of Schmidt, Schneider & Hennig, ICML 2021)."
)
links.begin(page.PAGE)

fields = sidebar.render(page.PAGE, SIDEBAR_GROUPS[page.PAGE], page.START)
settings = page.controls()
plan, problems = page.plan(fields, settings)
for p in problems:
    st.error(p, icon=":material/error:")
if plan is not None and not problems:
    st.caption(f"{plan.n_runs} runs: each optimizer's trials, its winner's seed re-runs and its runs "
               "at the defaults. Runs already stored are read back.")

run = links.run_button(
    page.PAGE, "Run sweep", disabled=plan is None or bool(problems),
    help="Train every trial, the winners' seed re-runs and the runs at the defaults.",
)
page.cancelled_notice(plan)

out = None
if plan is not None and not problems:
    with guard("The sweep"):
        out = page.outcome(plan, run)
if out is not None:
    page.show(out, settings)
elif plan is not None and not problems:
    st.info("Press **Run sweep** to tune every chosen optimizer.", icon=":material/play_arrow:")

state.finish()
