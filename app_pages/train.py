"""Train: one network, one optimizer, every diagnostic."""

import functools
import json

import streamlit as st

from engine import data, optim
from engine.config import RunConfig
from ui import cache, charts, checkpoints, links, sidebar, state
from ui.defaults import TRAIN_START
from ui.pages import SIDEBAR_GROUPS
from ui.results import (
    boundary_chart,
    chart_with_download,
    downloads,
    guard,
    log_toggle,
    status_note,
    summary_metrics,
    x_axis_picker,
)

PAGE = "train"
START = TRAIN_START

st.title("Train")
st.caption(
    "Train one network with one optimizer and look inside: the loss curves, the learning "
    "rate, each layer's gradient, what the optimizer remembers and, for 2-D data, the "
    "decision boundary. Change a setting in the sidebar, then press **Train**."
)
links.begin(PAGE)

fields = sidebar.render(PAGE, SIDEBAR_GROUPS[PAGE], START)

config = None
try:
    config = sidebar.make_config(fields)
except ValueError as e:
    st.error(f"**This configuration cannot run.** {state.plain(e, 300)}", icon=":material/error:")

b1, b2, _ = st.columns([1, 1, 4])
with b1:
    clicked = links.run_button(
        PAGE, "Train", disabled=config is None,
        help="Train this configuration (a configuration that was already trained is shown at once).",
    )
with b2:
    stopped = st.button(
        "Stop", key="train_stop", icon=":material/stop:",
        help="Abandon a run in progress (nothing of it is stored).",
    )
if stopped:
    st.session_state.setdefault("train_last", "")  # no automatic run after a stop
    st.warning(
        "**Stopped.** The run was abandoned before it finished; nothing of it was stored. "
        "Press **Train** to run it again.",
        icon=":material/stop_circle:",
    )

# the first view of the page in a session shows its result without a click
first = "train_last" not in st.session_state
result, stale = None, False
with guard("Training"):
    if config is not None and (clicked or (first and not stopped)):
        result = cache.run(config)
        st.session_state["train_last"] = config.to_json()
    elif config is not None:
        result = cache.lookup(config)
    if result is None and st.session_state.get("train_last"):
        result = cache.lookup(RunConfig.from_dict(json.loads(st.session_state["train_last"])))
        stale = result is not None

if result is None:
    st.info("Press **Train** to run this configuration.", icon=":material/play_arrow:")
else:
    if stale:
        st.info(
            "The settings changed since this run: press **Train** to run them. "
            "The charts below show your previous run.",
            icon=":material/history:",
        )
    status_note(result)
    summary_metrics(result)
    c1, c2, _ = st.columns([3, 1, 2])
    with c1:
        x = x_axis_picker("train_x")
    with c2:
        log_y = log_toggle("train_log_y")
    h = result.history
    view = ("train", result.key, x, log_y)  # names everything the charts below draw
    metric_col = "val_r2" if result.task == "regression" else "val_acc"
    two_d = bool(data.REGISTRY[result.config.dataset].extra.get("two_d"))
    names = (
        [
            "Loss & " + ("R²" if result.task == "regression" else "accuracy"),
            "Learning rate",
            "Gradients",
            "Optimizer state",
        ]
        + (["Decision boundary"] if two_d else [])
        + ["Data"]
    )
    tabs = dict(zip(names, st.tabs(names), strict=True))
    with tabs[names[0]], guard("The loss chart"):
        left, right = st.columns(2)
        with left:
            chart_with_download(
                lambda: charts.curves(
                    h, ["train_loss", "val_loss"], x=x, color=None, log_y=log_y, y_title="loss"
                ),
                "loss", view=(*view, "loss"),
            )
        with right:
            ys = [c for c in ("train_acc", metric_col) if c in h]
            chart_with_download(
                lambda: charts.curves(
                    h, ys, x=x, color=None, y_title="R²" if metric_col == "val_r2" else "accuracy"
                ),
                "metric", view=(*view, "metric"),
            )
        st.caption(
            "Dashed: training split, solid: validation split. A widening gap is "
            "overfitting. Switch the x-axis to wall time to compare what runs cost, "
            "not only how many epochs they took."
        )
    with tabs["Learning rate"], guard("The learning-rate chart"):
        chart_with_download(lambda: charts.lr_curve(h, x=x, log_y=log_y), "learning-rate",
                            view=(*view, "learning-rate"))
        st.caption(
            "The learning rate each evaluation used: flat unless a schedule is chosen "
            "(sidebar → Schedule, stopping and clipping)."
        )
    with tabs["Gradients"], guard("The gradient chart"):
        left, right = st.columns(2)
        with left:
            chart_with_download(lambda: charts.grad_norms(h, x=x), "gradient-norms",
                                view=(*view, "gradient-norms"))
        with right:
            chart_with_download(
                lambda: charts.curves(h, "update_ratio", x=x, color=None, log_y=True), "update-ratio",
                view=(*view, "update-ratio"),
            )
        st.caption(
            "Left: the gradient norm of each layer (log scale). When the first layer's "
            "norm is orders of magnitude below the output layer's, gradients vanish "
            "(try ReLU, batch norm or another initializer). Right: how much one update "
            "changes the weights relative to their size; about 10⁻³ is healthy."
        )
    with tabs["Optimizer state"], guard("The optimizer-state chart"):
        if any(c.startswith("state_norm_") for c in h.columns):
            chart_with_download(lambda: charts.state_norms(h, x=x), "optimizer-state",
                                view=(*view, "optimizer-state"))
            st.caption(
                "What the optimizer remembers between updates: momentum buffers, Adam's "
                "first and second moments, AdaGrad's accumulator (it only grows, so "
                "AdaGrad's steps only shrink)."
            )
        else:
            st.info(
                f"{optim.REGISTRY[result.config.optimizer].title} keeps no state between "
                "updates: each step uses only the current gradient."
            )
    if two_d:
        with tabs["Decision boundary"], guard("The decision boundary"):
            chart_with_download(functools.partial(boundary_chart, result), "decision-boundary",
                                view=("train-boundary", result.key))
            st.caption(
                "The background is what the trained network predicts at each point of "
                "the plane; dots are the training samples. Compare a linear model "
                "(empty hidden layers) with a deeper one."
            )
    with tabs["Data"]:
        st.dataframe(h, hide_index=True, height=260)
        downloads(result, f"run-{result.key[:8]}", PAGE)
        checkpoints.download(result, f"{PAGE}_dl_checkpoint")

with guard("Training on from a checkpoint"):
    checkpoints.resume_section(PAGE)

state.finish()
