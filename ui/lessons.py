"""The Lessons page: every lesson's slide, what to notice, the claim and the figure.

``/lessons?lesson=<id>`` opens a lesson: what to notice, the claim, the slide,
and the figure. Its runs go through the server's run orchestrator
(:func:`ui.cache.lesson_outcome`), so a lesson is trained once per server
however many students open it. ``hide=picker`` hides the list of lessons
and the previous/next buttons. Links that open a lesson on another page
live in :mod:`ui.links`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from engine import data, surfaces
from engine import lessons as engine_lessons
from engine.lessons import Lesson, LessonOutcome
from ui import cache, charts, links, state, summaries
from ui import paths as ui_paths
from ui.pages import ICONS
from ui.results import boundary_chart, chart_with_download, guard

PAGE = "lessons"
KEY = "lessons_lesson"  # the open lesson (query parameter ``lesson``)
STEP_KEY = "lessons_step"  # the replay slider of a playground lesson
BAD_LINK = "lessons_bad_link"  # this visit came with an unknown lesson id
PICKER = "picker"  # ``hide=picker``: no list of lessons, no previous / next

# what a lesson's claim is about, when not its validation loss or accuracy: the chart
# beside the validation loss (lr, state, update_ratio), or the per-layer gradient norms
# of each run, right under them (grad)
FOCUS = {
    "decay-schedules": "lr",
    "adagrad-vs-rmsprop": "state",
    "exploding-gradients-clipping": "grad",
    "vanishing-gradients": "grad",
    "batch-normalization": "grad",
    "beyond-adam": "update_ratio",
}



# =============================================================================
# the Lessons page


def ordered() -> list[Lesson]:
    """Every lesson, topic by topic (the list's order)."""
    return [lesson for items in engine_lessons.by_topic().values() for lesson in items]


def open_lesson(lesson_id: str) -> None:
    """The "Open" buttons' callback."""
    ss = st.session_state
    ss[KEY] = lesson_id
    state.drop(STEP_KEY)


def current() -> tuple[Lesson, bool]:
    """The open lesson (the first when none is chosen) and whether the link named an unknown one."""
    ss = st.session_state
    first = ordered()[0]
    if ss.get(KEY) not in engine_lessons.LESSONS:
        raw = st.query_params.get("lesson")
        ss[BAD_LINK] = raw is not None and raw not in engine_lessons.LESSONS
        if ss[BAD_LINK]:
            state.warn(f"Unknown lesson {links.quoted(raw)}; showing the list of lessons.")
        ss[KEY] = raw if raw in engine_lessons.LESSONS else first.id
    lesson = engine_lessons.LESSONS[ss[KEY]]
    state.remember(KEY, lesson.id, None)
    return lesson, bool(ss.get(BAD_LINK))


def picker(chosen: Lesson, force: bool = False) -> None:
    """The lessons in the sidebar, one expander per topic, each with its slide and Open button."""
    if state.hidden(PICKER) and not force:
        return
    with st.sidebar:
        st.subheader("All lessons")
        for topic, items in engine_lessons.by_topic().items():
            with st.expander(f"{topic} ({len(items)})", expanded=topic == chosen.topic):
                for lesson in items:
                    is_open = lesson.id == chosen.id
                    st.button(
                        lesson.title,
                        key=f"lessons_open.{lesson.id}",
                        on_click=open_lesson,
                        args=(lesson.id,),
                        type="primary" if is_open else "tertiary",
                        icon=ICONS[lesson.page],
                        help=lesson.claim,
                    )
                    st.caption(f"Deck {lesson.deck_code} · {lesson.slide}")


HIDE_EXAMPLES = {
    "train": "optimizer,model",
    "compare": "optimizers,data",
    "modes": "sizes,model",
    "playground": "surface,optimizers",
}


def _share(lesson: Lesson) -> None:
    """The lesson's links, ready to copy: for a student, for a class, on its own page."""
    here = (st.context.url or "").rstrip("/")
    root = here.removesuffix("/lessons") if here.endswith("/lessons") else here
    on_page = f"{root}/{'' if lesson.page == 'train' else lesson.page}?lesson={lesson.id}"
    if links.run_labels(lesson):
        on_page += "&run=1"
    with st.popover("Share", icon=":material/share:"):
        st.caption("This lesson:")
        st.code(f"{root}/lessons?lesson={lesson.id}", language=None)
        st.caption("For a class, without the list of lessons:")
        st.code(f"{root}/lessons?lesson={lesson.id}&hide={PICKER}", language=None)
        st.caption(f"On the {links.TITLES[lesson.page]} page, to explore:")
        st.code(on_page, language=None)
        st.caption(
            "Add `&hide=` and control names to lock what students may change, e.g. "
            f"`&hide={HIDE_EXAMPLES[lesson.page]}`."
        )


def _neighbours(lesson: Lesson) -> None:
    seq = ordered()
    i = [x.id for x in seq].index(lesson.id)
    prev, nxt = (seq[i - 1] if i > 0 else None), (seq[i + 1] if i + 1 < len(seq) else None)
    c1, c2 = st.columns(2)
    if prev is not None:
        c1.button(
            f"Previous: {prev.title}", key="lessons_prev", on_click=open_lesson, args=(prev.id,),
            icon=":material/arrow_back:", type="tertiary",
        )
    if nxt is not None:
        with c2, st.container(horizontal_alignment="right"):
            st.button(
                f"Next: {nxt.title}", key="lessons_next", on_click=open_lesson, args=(nxt.id,),
                icon=":material/arrow_forward:", icon_position="right", type="tertiary",
            )


def show(lesson: Lesson) -> None:
    """The lesson: its slide, what to notice and the claim, then the figure."""
    st.header(lesson.title, anchor=False)
    st.caption(
        f":material/slideshow: Deck {lesson.deck} — slide “{lesson.slide}” · "
        f"topic: {lesson.topic}"
    )
    left, right = st.columns(2, gap="medium")
    with left, st.container(border=True, height="stretch"):
        st.markdown("**What to notice**")
        st.markdown(lesson.explanation)
    with right, st.container(border=True, height="stretch"):
        st.markdown("**The claim**")
        st.markdown(lesson.claim)
        st.caption("The figure below shows it happen; change the settings on the page it "
                   "opens in to see when it stops being true.")
    c1, c2 = st.columns([5, 1], vertical_alignment="center")
    with c1:
        links.open_links(lesson)
    with c2, st.container(horizontal_alignment="right"):
        _share(lesson)
    with guard("The lesson"):
        if lesson.page == "playground":
            _playground(lesson)
        else:
            out = outcome(lesson)
            {"train": _train, "compare": _compare, "modes": _modes}[lesson.page](lesson, out)
    if lesson.id in EXTRA:
        with guard("The lesson's second figure"):
            EXTRA[lesson.id](lesson)
    if not state.hidden(PICKER):
        st.divider()
        _neighbours(lesson)


def outcome(lesson: Lesson) -> LessonOutcome:
    """The lesson's runs: read back when anyone trained them before, else trained now
    (all the missing ones in one call, stacked where they share batches)."""
    return cache.lesson_outcome(lesson)


# =============================================================================
# the figures




# -- figures a lesson shows besides its runs (lesson id -> figure, see EXTRA) -----------
BIAS_STEPS = 10_000  # the bias-correction figure's last step: β₂ = 0.999 has settled by then


def _adam_betas(lesson: Lesson) -> tuple[float, float]:
    """(β₁, β₂) of the lesson's Adam path."""
    run = next(r for r in lesson.setup["runs"] if r["optimizer"] == "adam")
    b1, b2 = run["params"]["betas"]
    return float(b1), float(b2)


def bias_frame(beta1: float, beta2: float, last: int = BIAS_STEPS) -> pd.DataFrame:
    """The factors 1/(1 − β₁ᵗ), 1/(1 − β₂ᵗ) and √(1 − β₂ᵗ)/(1 − β₁ᵗ) at log-spaced steps t."""
    t = np.unique(np.geomspace(1, last, 300).round().astype(np.int64))
    c1 = engine_lessons.bias_correction(beta1, t)
    c2 = engine_lessons.bias_correction(beta2, t)
    curves = {
        f"1/(1 − β₁ᵗ), β₁ = {beta1:g}": c1,
        f"1/(1 − β₂ᵗ), β₂ = {beta2:g}": c2,
        "step factor √(1 − β₂ᵗ)/(1 − β₁ᵗ)": c1 / np.sqrt(c2),
    }
    return pd.concat([pd.DataFrame({"step t": t, "factor": v, "curve": k}) for k, v in curves.items()],
                     ignore_index=True)


def _bias_figure(lesson: Lesson) -> None:
    beta1, beta2 = _adam_betas(lesson)
    st.markdown("**Adam's bias-correction factors**")
    chart_with_download(lambda: charts.bias_correction(bias_frame(beta1, beta2)),
                        f"lesson-{lesson.id}-bias-correction", view=("bias", beta1, beta2))
    st.caption(
        "Adam divides its moving averages by 1 − βᵗ: the factor is 1/(1 − β) at the first step and "
        "tends to 1. The step factor √(1 − β₂ᵗ)/(1 − β₁ᵗ) is what the correction does to "
        "α (deck 004: η_t = η √(1 − β₂ᵗ)/(1 − β₁ᵗ)). Log scales on both axes."
    )


def curvature_frame(surface: str, points: dict[str, Any]) -> pd.DataFrame:
    """The Hessian's eigenvalues (ascending, λ₁ ≤ λ₂) at each named point of ``surface``."""
    rows = []
    for name, x in points.items():
        eig, _ = surfaces.curvature(surface, x)
        rows += [{"point": name, "eigenvalue": f"λ{'₁₂₃'[i]}", "value": float(v)}
                 for i, v in enumerate(eig)]
    return pd.DataFrame(rows)


def _curvature_figure(lesson: Lesson) -> None:
    st.markdown("**Curvature: the Hessian's eigenvalues**")
    chart_with_download(lambda: _curvature_chart(lesson), f"lesson-{lesson.id}-hessian-eigenvalues",
                        view=("curvature", lesson.id))
    st.caption(
        "At the saddle one eigenvalue is negative (the surface curves down along its eigenvector) "
        "and one positive; at the minimum both are positive. Computed from the surface's gradient "
        "by central differences (engine.surfaces.curvature)."
    )


def _curvature_chart(lesson: Lesson):
    name = lesson.setup["surface"]
    ex = surfaces.get(name).extra
    saddle = np.asarray(ex["saddles"][0])
    # the minimum the lesson's paths settle in
    paths = cache.lesson_paths(lesson.id)
    end = paths.groupby("label").tail(1)[["x", "y"]].to_numpy()[0]
    minimum = np.asarray(min(ex["minima"], key=lambda m: float(np.linalg.norm(np.asarray(m) - end))))
    fmt = ", ".join
    points = {f"saddle ({fmt(f'{v:.2f}' for v in saddle)})": saddle,
              f"minimum ({fmt(f'{v:.2f}' for v in minimum)})": minimum}
    return charts.eigenvalue_bars(curvature_frame(name, points))


EXTRA: dict[str, Callable[[Lesson], None]] = {
    "adam-bias-correction": _bias_figure,
    "adam-beta1-zero-is-rmsprop": _bias_figure,
    "hessian-saddle-vs-minimum": _curvature_figure,
}


def _playground(lesson: Lesson) -> None:
    s = lesson.setup
    spec = surfaces.REGISTRY[s["surface"]]
    steps = int(s["steps"])
    paths = cache.lesson_paths(lesson.id)
    step = state.bind(
        st.slider,
        STEP_KEY,
        steps,
        lambda r: state.parse_int(r, 0, steps),
        "Step",
        min_value=0,
        max_value=steps,
        step=1,
        fix=lambda v: min(max(int(v), 0), steps),
        help="Move it to replay the paths step by step.",
    )
    ui_paths.notice(paths, spec.extra["bounds"], steps)
    # side by side, unless long path names would squeeze the loss chart beside its legend
    if max(len(r["label"]) for r in s["runs"]) <= 32:
        left, right = st.columns([3, 2])
    else:
        left = right = st.container()
    with left, guard("The surface chart"):
        minima = spec.extra.get("minima", ()) if spec.extra["dim"] == 2 else ()
        chart_with_download(
            lambda: charts.surface_chart(cache.surface_grid(s["surface"]), paths, step=step, minima=minima),
            f"lesson-{lesson.id}-paths", view=("lesson-paths", lesson.id, step),
        )
        st.caption(
            f"{spec.title}. "
            + (
                "Grey lines are contours of f; crosses mark the minima; diamonds are each "
                "path's position at the chosen step."
                if spec.extra["dim"] == 2
                else "The grey curve is f; each path's iterates are dots on it; diamonds mark "
                "the position at the chosen step."
            )
        )
    with right, guard("The loss chart"):
        chart_with_download(
            lambda: charts.curves(paths.assign(path=paths["label"]), "f", x="step", color="path",
                                  y_title="f(x)", mark_x=step),
            f"lesson-{lesson.id}-loss", view=("lesson-path-loss", lesson.id, step),
        )
        st.caption("f at each step: a flat stretch is a plateau or a saddle.")


def _runs(out: LessonOutcome) -> tuple[str, ...]:
    """The keys of every run of the lesson: with the lesson id, what names its views."""
    return cache.run_keys(r for rs in out.replicates.values() for r in rs)


def _history(out: LessonOutcome, name: str) -> pd.DataFrame:
    """Every run's history, with the run's label in column ``name`` and its seed index."""
    return pd.concat(
        [r.history.assign(**{name: label, "seed": k})
         for label, rs in out.replicates.items() for k, r in enumerate(rs)],
        ignore_index=True,
    )


def _metric(out: LessonOutcome) -> str:
    task = next(iter(out.results.values())).task
    return summaries.metric_column(task)


def _stopped(out: LessonOutcome) -> set[str]:
    """Runs that ended before the others: diverged, stopped early, or a shorter budget."""
    last = {label: float(r.history["epoch"].iloc[-1]) if len(r.history) else 0.0
            for label, r in out.results.items()}
    longest = max(last.values(), default=0.0)
    return {label for label, r in out.results.items()
            if r.status in ("diverged", "early_stopped") or last[label] < longest}


def _with_ends(chart, hist: pd.DataFrame, y: str, name: str, stopped: set[str], log_y: bool):
    """Mark the last point of each run in ``stopped`` with a cross (a run that stops early
    is otherwise hidden under the runs that go on from the same start)."""
    if not stopped or not hasattr(chart, "layer"):
        return chart
    rows = hist[hist[name].isin(stopped)].replace([np.inf, -np.inf], np.nan).dropna(subset=[y])
    if log_y:
        rows = rows[rows[y] > 0]
    ends = rows.groupby(name, sort=False).tail(1)
    if ends.empty:
        return chart
    marks = (
        alt.Chart(ends)
        .mark_point(shape="cross", size=160, filled=True, strokeWidth=1)
        .encode(
            x="epoch:Q",
            y=f"{y}:Q",
            color=alt.Color(f"{name}:N"),
            tooltip=[alt.Tooltip(f"{name}:N"), alt.Tooltip("epoch:Q", title="last epoch"),
                     alt.Tooltip(f"{y}:Q", title=charts.title_of(y), format=".4~g")],
        )
    )
    out = chart.copy()
    out.layer = [*chart.layer, marks]
    return out


GRADIENTS = "Gradient norm per layer"


def _charts(hist: pd.DataFrame, name: str, metric: str, seeds: int,
            stopped: set[str]) -> dict[str, Callable]:
    """Chart builders by title, over every run of the lesson (first seed where several);
    the gradient norms are drawn by :func:`_gradients` instead (one chart per run)."""
    first = hist[hist["seed"] == 0]

    def line(y: str, log_y: bool = False) -> Callable:
        if seeds > 1 and y in ("val_loss", "train_loss", "val_acc", "val_r2", "train_acc"):
            return lambda: charts.band(hist, y, group=name, log_y=log_y)
        return lambda: _with_ends(
            charts.curves(first, y, color=name, log_y=log_y), first, y, name, stopped, log_y
        )

    out: dict[str, Callable] = {
        "Validation loss": line("val_loss"),
        "Training loss": line("train_loss"),
        ("Validation R²" if metric == "val_r2" else "Validation accuracy"): line(metric),
        "Learning rate": lambda: charts.lr_curve(first, color=name, log_y=True),
        "Update size": line("update_ratio", log_y=True),
    }
    states = first.filter(like="state_norm_")
    if states.notna().any().any():
        out["Optimizer state"] = lambda: charts.state_norms(first, label=name)
    return out


def _gradients(lesson: Lesson, out: LessonOutcome, hist: Callable[[], pd.DataFrame], name: str) -> None:
    """Each layer's gradient norm, one chart per run (first seed), two per row; ``hist()``
    is :func:`_history`, built only if a chart is not cached yet."""
    runs = list(out.replicates)

    def build(run: str):
        first = hist()[lambda h: h["seed"] == 0]
        return charts.grad_norms(first[first[name] == run])

    cols = st.columns(min(len(runs), 2))
    for i, run in enumerate(runs):
        with cols[i % len(cols)], guard("The gradient chart"):
            st.caption(f"**{run}**")
            chart_with_download(
                functools.partial(build, run), f"lesson-{lesson.id}-gradients-{i + 1}",
                view=("lesson-gradients", lesson.id, _runs(out), name, run),
            )
    st.caption(
        "The norm of each layer's gradient (log scale). When the first layer's is orders of "
        "magnitude below the output layer's, the gradient vanishes on its way back."
    )


def _figure(lesson: Lesson, out: LessonOutcome, name: str = "run", seeds: int = 1) -> None:
    """The validation loss beside the chart the claim is about, then the others in tabs.

    Each chart is drawn from a spec cached per lesson and run set: the history
    and the Altair charts are built only by the first view.
    """
    base = (lesson.id, _runs(out), name, seeds)
    hist = functools.cache(lambda: _history(out, name))
    built = functools.cache(lambda: _charts(hist(), name, _metric(out), seeds, _stopped(out)))
    stopped = cache.view_data(("lesson-stopped", *base), lambda: _stopped(out))
    names = cache.view_data(("lesson-chart-titles", *base), lambda: list(built()))

    def chart(title: str) -> None:
        chart_with_download(lambda: built()[title](), f"lesson-{lesson.id}-{_slug(title)}",
                            view=("lesson-chart", *base, title))

    focus = FOCUS.get(lesson.id)
    beside = {"lr": "Learning rate", "state": "Optimizer state",
              "update_ratio": "Update size"}.get(focus or "", names[2])
    beside = beside if beside in names else names[2]
    left, right = st.columns(2)
    for col, title in ((left, "Validation loss"), (right, beside)):
        with col, guard(f"The {title.lower()} chart"):
            st.markdown(f"**{title}**")
            chart(title)
    notes = []
    if seeds > 1:
        notes.append(f"Lines are the mean over {seeds} seeds, the band is ± 1 std.")
    if stopped:
        notes.append("A cross marks where a run ended before the others.")
    notes.append("Click a legend entry to pick one run out; hover to read the values.")
    if beside == "Optimizer state":
        notes.append("Optimizer-state lines are named “run · state”.")
    st.caption(" ".join(notes))
    if focus == "grad":
        st.markdown(f"**{GRADIENTS}**")
        _gradients(lesson, out, hist, name)
    rest = [n for n in names if n not in ("Validation loss", beside)]
    if focus != "grad":
        rest.append(GRADIENTS)
    tabs = st.tabs(rest)
    for tab, title in zip(tabs, rest, strict=True):
        with tab:
            if title == GRADIENTS:
                _gradients(lesson, out, hist, name)
                continue
            with guard(f"The {title.lower()} chart"):
                chart(title)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _table(df: pd.DataFrame, helps: dict[str, str] | None = None) -> None:
    """A results table: numbers to four significant digits, headers with their meaning."""
    helps = helps or {}
    config: dict[str, Any] = {}
    for c in df.columns:
        if df[c].dtype.kind == "f":
            config[c] = st.column_config.NumberColumn(c, format="%.4g", help=helps.get(c))
        elif c in helps:
            config[c] = st.column_config.Column(c, help=helps[c])
    st.dataframe(df, hide_index=True, key="lessons_table", column_config=config)


HELPS = {
    "‖θ‖": "Weight norm: the length of the network's whole parameter vector at the end.",
    "best epoch": "The epoch with the lowest validation loss.",
    "epochs": "Epochs actually run (fewer than the budget when the run stopped early).",
    "time (s)": "Training and evaluation time of the run.",
}


def _endings(out: LessonOutcome) -> None:
    """How each run ended, where that is part of the story (diverged, stopped early)."""
    for label, r in out.results.items():
        if r.status in ("diverged", "early_stopped", "interrupted"):
            st.caption(f"**{label}**: {r.stop_reason}")


def _weight_norm(r) -> float:
    return float(np.linalg.norm(r.params)) if r.params is not None else math.nan


def _train(lesson: Lesson, out: LessonOutcome) -> None:
    _table(cache.view_data(("lesson-table", lesson.id, _runs(out)), lambda: _train_table(out)), HELPS)
    _endings(out)
    _figure(lesson, out)
    two_d = bool(data.REGISTRY[next(iter(out.results.values())).config.dataset].extra.get("two_d"))
    if two_d:
        st.markdown("**Decision boundaries**")
        cols = st.columns(min(len(out.results), 3))
        for i, (label, r) in enumerate(out.results.items()):
            with cols[i % len(cols)], guard("The decision boundary"):
                st.caption(label)
                cache.draw_chart(functools.partial(_boundary, r), view=("decision-boundary", r.key))
        st.caption("What each trained network predicts over the plane; dots are the training samples.")


def _boundary(r):
    return boundary_chart(r, height=260)


def _train_table(out: LessonOutcome) -> pd.DataFrame:
    metric = _metric(out)
    m = "R²" if metric == "val_r2" else "acc"
    rows = []
    for label, r in out.results.items():
        h = r.history
        rows.append({
            "run": label,
            "status": r.status.replace("_", " "),
            "epochs": int(h["epoch"].iloc[-1]) if len(h) else 0,
            "best val loss": r.best_val_loss,
            "best epoch": r.best_epoch,
            "final val loss": float(h["val_loss"].iloc[-1]) if len(h) else math.nan,
            f"final val {m}": float(h[metric].iloc[-1]) if metric in h and len(h) else math.nan,
            "test loss": r.test_metrics.get("test_loss", math.nan),
            f"test {m}": r.test_metrics.get("test_r2" if metric == "val_r2" else "test_acc",
                                           math.nan),
            "‖θ‖": _weight_norm(r),
        })
    return pd.DataFrame(rows)


def _compare(lesson: Lesson, out: LessonOutcome) -> None:
    seeds = int(lesson.setup.get("seeds", 1))
    _table(cache.view_data(("lesson-board", lesson.id, _runs(out), seeds), lambda: _board(out, seeds)),
           HELPS)
    st.caption(
        "Ranked by best validation loss"
        + (f", averaged over {seeds} seeds." if seeds > 1 else ".")
        + " Every run trains the same network from the same initial weights on the same batches."
    )
    _endings(out)
    _figure(lesson, out, seeds=seeds)


def _board(out: LessonOutcome, seeds: int) -> pd.DataFrame:
    rows = []
    for label, rs in out.replicates.items():
        for k, r in enumerate(rs):
            row = summaries.run_row(label, r, "val_loss", -math.inf, k)
            row["‖θ‖"] = _weight_norm(r)
            rows.append(row)
    board = summaries.leaderboard(rows).drop(
        columns=["epochs to target", "time to target (s)", "reached target", "diverged"],
        errors="ignore",
    ).rename(columns={"optimizer": "run"})
    if seeds == 1:
        board = board.drop(columns=["seeds"], errors="ignore")
    return board


def _modes(lesson: Lesson, out: LessonOutcome) -> None:
    runs = _runs(out)
    timing = cache.view_data(("lesson-timing", lesson.id, runs), lambda: _timing_table(out))
    _table(timing, {"time / epoch (ms)": "The median epoch of the run (training only)."})
    st.caption(
        "Small batches pay Python and NumPy overhead on every update, so an epoch of many "
        "small updates takes longer than an epoch of a few large ones."
    )
    left, right = st.columns([2, 3])
    with left, guard("The timing chart"):
        st.markdown("**Time per epoch**")
        chart_with_download(lambda: charts.time_per_epoch(timing, label="run"),
                            f"lesson-{lesson.id}-time-per-epoch",
                            view=("lesson-time-per-epoch", lesson.id, runs))
    hist = functools.cache(lambda: _history(out, "batch size"))
    notes = {
        "epoch": "Per epoch, small batches are ahead: they made many more updates.",
        "updates": "Per update (log scale), large batches are ahead: each of their steps "
        "follows a more exact gradient.",
        "time_s": "Per second, the winner is usually in between.",
    }
    with right:
        st.markdown("**Validation loss**")
        tabs = st.tabs(["vs epochs", "vs updates", "vs wall time"])
        for tab, x in zip(tabs, notes, strict=True):
            with tab, guard("The curves"):
                chart_with_download(
                    functools.partial(_modes_curve, hist, x), f"lesson-{lesson.id}-{x}",
                    view=("lesson-modes-curve", lesson.id, runs, x),
                )
                st.caption(notes[x])


def _modes_curve(hist: Callable[[], pd.DataFrame], x: str):
    return charts.curves(hist(), "val_loss", x=x, color="batch size", log_x=(x == "updates"), height=260)


def _timing_table(out: LessonOutcome) -> pd.DataFrame:
    timing = out.timing.copy()
    timing.insert(0, "run", list(out.results))
    timing = timing.rename(columns={
        "batch_size": "batch size", "updates_per_epoch": "updates / epoch",
        "time_per_epoch_s": "time / epoch (s)", "updates_per_s": "updates / s",
        "samples_per_s": "samples / s", "final_val_loss": "final val loss",
    })
    return summaries.lecture_table(timing.to_dict("records"))  # milliseconds, empty cells
