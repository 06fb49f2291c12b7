"""Playground: optimizers' paths on a test surface, and learning-rate schedules."""

import json

import numpy as np
import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from engine import schedules, surfaces
from engine.minimize import CLIPPING
from ui import animation, cache, charts, entries, links, sidebar, state, theme
from ui import paths as ui_paths
from ui.results import chart_with_download, guard, log_toggle
from ui.widgets import choose, clamp, hyper_widget, spec_params

PAGE = "playground"
DEFAULT_SURFACE = "ravine" if "ravine" in surfaces.REGISTRY else next(iter(surfaces.REGISTRY))
DEFAULT_ENTRIES = ["gd", "momentum", "nesterov", "adam"]
PLAY_HEIGHT = {False: 440, True: 640}  # px of the playable figure (an iframe has no auto height)
DEFAULT_SCHEDULES = ["constant", "step", "cosine", "warmup_cosine"]


st.title("Playground")
st.caption(
    "Watch optimizers walk downhill on a surface you can see. Each path starts at the "
    "same point; drag the step slider to replay them. Below, preview how a "
    "learning-rate schedule changes the step size over a run."
)
links.begin(PAGE)

with st.sidebar:
    with sidebar.section("Surface"):
        surface = choose(surfaces.REGISTRY, "playground_surface", "Surface", DEFAULT_SURFACE)
        spec = surfaces.REGISTRY[surface]
        dim, bounds = spec.extra["dim"], spec.extra["bounds"]
        start = []
        cols = st.columns(dim)
        for i in range(dim):
            lo, hi = bounds[i]
            with cols[i]:
                start.append(
                    state.bind(
                        st.number_input,
                        f"playground_start.{surface}.{i}",
                        float(spec.extra["start"][i]),
                        lambda r, lo=lo, hi=hi: state.parse_float(r, lo, hi),
                        f"start x{'₁₂'[i] if dim > 1 else ''}",
                        min_value=float(lo),
                        max_value=float(hi),
                        step=0.1,
                        format="%g",
                        fix=clamp(lo, hi),
                        help="Where every path begins.",
                    )
                )
        steps = state.bind(
            st.number_input,
            "playground_steps",
            60,
            lambda r: state.parse_int(r, 1, 2000),
            "Steps",
            min_value=1,
            max_value=2000,
            step=10,
            fix=clamp(1, 2000),
            help="Updates per optimizer.",
        )
    with sidebar.section("Learning-rate schedule of the paths", expander=True):
        path_schedule = choose(
            schedules.REGISTRY, "playground_path_schedule", "Schedule", "constant"
        )
        path_sched_params = spec_params(
            schedules.REGISTRY[path_schedule], f"playground_psched.{path_schedule}"
        )

chosen = entries.pick(PAGE, DEFAULT_ENTRIES)
# each surface's own learning rates, at which its classic optimizers converge in the window
overrides = {name: {"lr": lr} for name, lr in spec.extra.get("lrs", {}).items()}
params = entries.settings(PAGE, chosen, overrides, columns=4, extra=CLIPPING)

trajectories = {}
with guard("The trajectories"):
    for entry in chosen:
        try:
            trajectories[entries.legend_label(entry, params[entry])] = cache.trajectory(
                surface, entries.base(entry), tuple(start), int(steps), path_schedule,
                json.dumps(path_sched_params, sort_keys=True), json.dumps(params[entry], sort_keys=True),
            )
        except ValueError as e:
            st.error(f"{entries.title(entry)}: {state.plain(e, 300)}", icon=":material/error:")

if not chosen:
    st.info("Choose at least one optimizer.")
if trajectories:
    paths = ui_paths.frame(surface, trajectories)
    step = state.bind(
        st.slider,
        "playground_step",
        int(steps),
        lambda r: state.parse_int(r, 0),
        "Step",
        min_value=0,
        max_value=int(steps),
        step=1,
        fix=clamp(0, int(steps)),
        help="Move it to replay the paths step by step.",
    )
    left, right = st.columns([3, 2])
    with left, guard("The surface chart"):
        g = cache.surface_grid(surface)
        minima = spec.extra.get("minima", ()) if dim == 2 else ()
        play = st.toggle(
            "Play",
            key="playground_play",
            help="Replay the paths in the browser: Play/Pause and a speed slider under the figure.",
        )
        if play:
            present = theme.presenting()
            figure = charts.surface_chart(g, paths, step=step, minima=minima, play=True)
            components.html(
                animation.player_html(figure, int(steps), PLAY_HEIGHT[present], present=present),
                height=PLAY_HEIGHT[present] + 110,
            )
        else:
            chart_with_download(
                charts.surface_chart(g, paths, step=step, minima=minima), "playground-paths"
            )
        st.caption(
            "Grey lines are contours of f (closer lines: steeper); crosses mark the minima; "
            "diamonds are each optimizer's position at the chosen step."
            if dim == 2
            else "The grey curve is f; each optimizer's iterates are dots on it; diamonds mark "
            "the position at the chosen step."
        )
    with right, guard("The loss chart"):
        f_min = spec.extra.get("f_min")
        log_y = (
            log_toggle("playground_log_y", "Log of f − f*", default=False)
            if f_min is not None
            else False
        )
        chart_with_download(
            charts.loss_by_step(paths, step=step, log_y=log_y, f_min=f_min, bounds=bounds),
            "playground-loss",
        )
        st.caption(
            "f at each step, for the points inside the window. A flat stretch is a plateau or "
            "a saddle; a rising one is a step size that is too large."
        )
    ui_paths.notice(paths, bounds, int(steps))

st.divider()
st.header("Learning-rate schedules")
st.caption(
    "A schedule is a function of the update index. Preview a few side by side before "
    "using one on the Train page."
)
names = list(schedules.REGISTRY)
c1, c2, c3 = st.columns([4, 1, 1], vertical_alignment="bottom")
with c1:
    picked = state.bind(
        st.multiselect,
        "playground_schedules",
        [n for n in DEFAULT_SCHEDULES if n in names],
        lambda raw: state.parse_list(raw, lambda p: state.parse_choice(p, names)),
        "Schedules",
        names,
        format_func=lambda n: schedules.REGISTRY[n].title,
        to_text=lambda v: ",".join(v),
    )
with c2:
    from engine.spec import Hyper

    base_lr = hyper_widget(
        Hyper(
            "lr",
            0.1,
            0.0,
            10.0,
            log=True,
            low_open=True,
            label="Base lr",
            help="The learning rate the schedule starts from.",
        ),
        "playground_sched_lr",
    )
with c3:
    total = state.bind(
        st.number_input,
        "playground_sched_total",
        1000,
        lambda r: state.parse_int(r, 1, 100_000),
        "Updates",
        min_value=1,
        max_value=100_000,
        step=100,
        help="Length of the run.",
    )
frames = []
if picked:
    cols = st.columns(min(len(picked), 4))
    for i, n in enumerate(picked):
        sspec = schedules.REGISTRY[n]
        with cols[i % len(cols)], st.expander(f"{sspec.title} settings", icon=":material/tune:"):
            st.caption(sspec.help)
            sp = spec_params(sspec, f"playground_sched.{n}")
        try:
            lrs = schedules.preview(n, float(base_lr), int(total), **sp)
            frames.append(
                pd.DataFrame(
                    {"label": sspec.title, "update": np.arange(1, len(lrs) + 1), "lr": lrs}
                )
            )
        except ValueError as e:
            st.error(f"**{sspec.title}**: {state.plain(e, 300)}", icon=":material/error:")
if frames:
    with guard("The schedule chart"):
        log_lr = log_toggle("playground_sched_log", "Log y")
        chart_with_download(
            charts.schedule_chart(pd.concat(frames, ignore_index=True), log_lr), "schedules"
        )
        if any(schedules.REGISTRY[n].extra.get("plateau") for n in picked):
            st.caption(
                "A plateau schedule reacts to the validation loss, so its preview stays "
                "flat: it lowers the rate only when progress stalls during training."
            )

state.finish()
