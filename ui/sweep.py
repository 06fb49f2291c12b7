"""The Sweep page: tune every optimizer with the same budget, then compare the winners.

The protocol is :mod:`engine.sweep`'s (Schmidt, Schneider & Hennig, ICML
2021): each chosen optimizer gets the same number of trials drawn from the
same learning-rate range (and optionally one more registered
hyperparameter), its best trial is re-run over new seeds, and each
optimizer also trains at its registry defaults with those seeds, so the
page can set the ranking before tuning beside the ranking after it.

:func:`controls` draws the sweep's settings (every one bound to the URL,
so a copied link reproduces the sweep), :func:`plan` turns them into the
engine's arguments and refuses a sweep over :data:`MAX_RUNS` runs or a run
over the server's limits (:func:`engine.limits.check`), :func:`outcome`
trains (through :func:`ui.cache.sweep`) or recalls the session's last
result for the same settings, and :func:`show` draws the figures.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from engine import limits, optim
from engine.config import RunConfig
from engine.spec import Hyper
from engine.sweep import SCORES, SEARCHES, SweepResult, score_run
from ui import cache, charts, labels, sidebar, state, summaries
from ui.results import chart_with_download, guard, log_toggle, number, x_axis_picker
from ui.widgets import hyper_widget

PAGE = "sweep"
START = {"dataset": "digits", "hidden": (32,), "epochs": 10}
DEFAULT_OPTIMIZERS = ["sgd", "momentum", "adam", "rmsprop"]
LR_RANGE = (1e-4, 1.0)
MAX_RUNS = 200  # runs of one sweep (trials, seed re-runs and the runs at the defaults)
NO_EXTRA = "none"
SCORE_TITLES = {
    "val_loss": "final validation loss",
    "best_val_loss": "best validation loss",
    "val_metric": "final validation accuracy (R²)",
    "best_val_metric": "best validation accuracy (R²)",
    "updates_to_target": "updates to the target",
    "time_to_target": "seconds to the target",
}
_LAST = "_sweep_last"  # {"key": settings key, "result": SweepResult, "defaults": {...}}
_CANCELLED = "_sweep_cancelled"  # set by the Cancel button's callback


@dataclasses.dataclass(frozen=True)
class Settings:
    """The sweep's own controls (the sidebar gives the base run)."""

    optimizers: list[str]
    space: dict[str, tuple[float, float]]
    extra: str | None
    trials: int
    seeds: int
    search: str
    score: str
    target: float

    @property
    def needs_target(self) -> bool:
        return self.score.endswith("_to_target")


@dataclasses.dataclass(frozen=True)
class Plan:
    """A sweep ready to run: the engine's arguments and its size."""

    base: RunConfig
    optimizers: list[str]
    kwargs: dict[str, Any]
    n_runs: int
    key: str


def searchable() -> list[str]:
    """Optimizers with a learning rate to search (Lookahead's lives in its inner optimizer)."""
    return [n for n in optim.REGISTRY if "lr" in optim.REGISTRY[n].defaults()]


def _numeric_hypers(names: list[str]) -> dict[str, Hyper]:
    """Hyperparameter name -> its spec (the first chosen optimizer's), numbers other than lr."""
    out: dict[str, Hyper] = {}
    for n in names:
        for h in optim.REGISTRY[n].hypers:
            if h.kind in ("float", "int") and h.name != "lr":
                out.setdefault(h.name, h)
    return out


def _default_range(h: Hyper) -> tuple[float, float]:
    if h.log:
        return float(h.default) / 10, float(h.default) * 10
    return h.low, h.high


def _range(h: Hyper, low_high: tuple[float, float]) -> tuple[float, float]:
    """Two widgets (``<page>_low.<name>``, ``<page>_high.<name>``) on the hyper's own scale."""
    c1, c2 = st.columns(2)
    out = []
    for col, end, default in zip((c1, c2), ("low", "high"), low_high, strict=True):
        with col:
            shown = dataclasses.replace(h, label=f"{h.title}: {end}",
                                        help=f"The {end} end of the searched range. {h.help}")
            out.append(hyper_widget(shown, f"{PAGE}_{end}.{h.name}", default))
    return out[0], out[1]


def controls() -> Settings:
    """Draw the sweep's controls; every one is in the URL."""
    names = searchable()
    chosen = state.bind(
        st.multiselect, f"{PAGE}_optimizers", [n for n in DEFAULT_OPTIMIZERS if n in names],
        lambda raw: state.parse_list(raw, lambda r: state.parse_choice(r, names)),
        "Optimizers", names, format_func=lambda n: optim.REGISTRY[n].title,
        to_text=lambda v: ",".join(v),
        help="Each chosen optimizer gets the same number of trials from the same range.",
    )
    chosen = list(dict.fromkeys(chosen))
    lr = optim.REGISTRY[(chosen or ["sgd"])[0]].hyper("lr")
    c_lr, c_extra = st.columns(2, vertical_alignment="bottom")
    with c_lr:
        space = {"lr": _range(lr, LR_RANGE)}
    hypers = _numeric_hypers(chosen)
    with c_extra:
        extra = state.bind(
            st.selectbox, f"{PAGE}_extra", NO_EXTRA,
            lambda raw: state.parse_choice(raw, [NO_EXTRA, *hypers]),
            "Also search", [NO_EXTRA, *hypers],
            fix=lambda v: v if v in hypers else NO_EXTRA,
            help="One more registered hyperparameter, on its spec's scale (log or linear). An "
            "optimizer without it searches the learning rate only.",
        )
        if extra != NO_EXTRA:
            h = hypers[extra]
            space[extra] = _range(h, _default_range(h))
    c1, c2, c3, c4, c5 = st.columns([1, 1, 1, 2, 1], vertical_alignment="bottom")
    with c1:
        trials = state.bind(
            st.number_input, f"{PAGE}_trials", 8, lambda r: state.parse_int(r, 1, 100),
            "Trials per optimizer", min_value=1, max_value=100, step=1,
            help="Random search: trials per optimizer. Grid: values per searched hyperparameter.",
        )
    with c2:
        seeds = state.bind(
            st.number_input, f"{PAGE}_seeds", 3, lambda r: state.parse_int(r, 0, 10),
            "Seeds for the winners", min_value=0, max_value=10, step=1,
            help="Each optimizer's best trial is re-run with this many new seeds; the leaderboard "
            "reports their mean and spread.",
        )
    with c3:
        search = state.bind(
            st.selectbox, f"{PAGE}_search", "random", lambda r: state.parse_choice(r, list(SEARCHES)),
            "Search", list(SEARCHES),
            help="random: seeded draws (log-uniform for a log-scale hyperparameter); grid: evenly "
            "spaced values.",
        )
    with c4:
        score = state.bind(
            st.selectbox, f"{PAGE}_score", "val_loss", lambda r: state.parse_choice(r, list(SCORES)),
            "Score", list(SCORES), format_func=SCORE_TITLES.get,
            help="How a trial is judged: " + "; ".join(f"{SCORE_TITLES[k]}: the {v[0]}"
                                                       for k, v in SCORES.items()) + ".",
        )
    with c5:
        target = state.bind(
            st.number_input, f"{PAGE}_target", 0.9, lambda r: state.parse_float(r, -10.0, 1.0),
            "Target", min_value=-10.0, max_value=1.0, step=0.05, format="%g",
            help="The validation accuracy (R² for regression) to reach: the score when it counts "
            "updates or seconds to the target, and the leaderboard's time to target.",
        )
    return Settings(list(chosen), space, None if extra == NO_EXTRA else extra, int(trials), int(seeds),
                    search, score, float(target))


def plan(fields: Mapping[str, Any], s: Settings) -> tuple[Plan | None, list[str]]:
    """The sweep these settings describe, or the problems that refuse it."""
    if not s.optimizers:
        return None, ["Optimizers: choose at least one."]
    try:
        base = sidebar.make_config(fields, optimizer=s.optimizers[0], optimizer_params={})
    except ValueError as e:
        return None, [str(e)]
    problems = []
    for name in s.optimizers:
        try:
            limits.check(base.replace(optimizer=name, optimizer_params={}))
        except ValueError as e:
            problems.append(f"{optim.REGISTRY[name].title}: {e}")
    kwargs = {"space": dict(s.space), "trials": s.trials, "seeds": s.seeds, "search": s.search,
              "score": s.score, "target": s.target if s.needs_target else None,
              "random_state": int(base.seed)}
    try:
        n_sweep, n_default = cache.sweep_runs(s.optimizers, s.space, s.trials, s.seeds, s.search,
                                              int(base.seed))
    except ValueError as e:
        return None, [*problems, str(e)]
    n_runs = n_sweep + n_default
    if n_runs > MAX_RUNS:
        k = len(s.optimizers)
        per = (n_sweep - k * s.seeds) // k
        field = "Trials per optimizer" if per >= s.seeds else "Seeds for the winners"
        problems.append(
            f"{field}: this sweep needs {k} optimizer{'s' if k != 1 else ''} × ({per} trials + "
            f"{s.seeds} seed re-runs + {max(s.seeds, 1)} runs at the defaults) = {n_runs} runs; the "
            f"limit is {MAX_RUNS} runs per sweep. Lower the trials, the seeds or the number of "
            "optimizers."
        )
    key = json.dumps({"base": base.key(), "optimizers": s.optimizers, **kwargs,
                      "space": {k: list(v) for k, v in s.space.items()}}, sort_keys=True)
    return Plan(base, list(s.optimizers), kwargs, n_runs, key), problems


def cancel_button() -> Any:
    """A Cancel button shown while the sweep trains; returns its slot (empty it afterwards).

    Pressing it reruns the page, which abandons the sweep at its next
    progress update; the runs that finished are in the store already.
    """
    slot = st.empty()
    slot.button("Cancel", key=f"{PAGE}_cancel", icon=":material/stop:",
                on_click=lambda: st.session_state.__setitem__(_CANCELLED, True),
                help="Stop the sweep. Finished runs are kept: Run sweep continues from them.")
    return slot


def outcome(p: Plan, run: bool) -> dict[str, Any] | None:
    """The sweep's result: trained (or read back) when ``run``, else the session's last one
    for the same settings."""
    ss = st.session_state
    if run:
        slot = cancel_button()
        result, defaults = cache.sweep(p.base, p.optimizers, **p.kwargs)
        slot.empty()
        keep = {k for b in result.best.values() for k in b["keys"]}
        kept = dataclasses.replace(result, results={k: v for k, v in result.results.items() if k in keep})
        ss[_LAST] = {"key": p.key, "result": kept, "defaults": defaults}
    last = ss.get(_LAST)
    return last if last is not None and last["key"] == p.key else None


def cancelled_notice(p: Plan | None) -> None:
    """After Cancel: how many of the sweep's trials are stored, and how to continue."""
    if not st.session_state.pop(_CANCELLED, False):
        return
    msg = "Sweep cancelled."
    if p is not None:
        from engine.sweep import draw_trials

        names = p.optimizers
        configs = [p.base.replace(optimizer=n, optimizer_params=pt)
                   for n in names
                   for pt in draw_trials(n, p.kwargs["space"], p.kwargs["trials"], p.kwargs["search"],
                                         p.kwargs["random_state"])]
        stored = sum(cache.lookup(c) is not None for c in configs)
        msg += (f" {stored} of its {len(configs)} trials are stored; press **Run sweep** to "
                "continue from them.")
    st.warning(msg, icon=":material/stop_circle:")


# -- the figures ------------------------------------------------------------------------
def _title(name: str) -> str:
    return optim.REGISTRY[name].title


def trial_frame(result: SweepResult) -> pd.DataFrame:
    """The tuning trials, one row each, with ``chosen`` marking each optimizer's pick."""
    t = result.trials
    tune = t[t["phase"] == "tune"].drop(columns=["optimizer_params", "key"])
    picks = {(name, b["trial"]) for name, b in result.best.items()}
    tune["chosen"] = [(o, i) in picks for o, i in zip(tune["optimizer"], tune["trial"], strict=True)]
    tune["optimizer"] = tune["optimizer"].map(_title)
    return tune


def _seed_runs(out: dict[str, Any]) -> dict[str, list]:
    result: SweepResult = out["result"]
    return {name: [result.results[k] for k in b["keys"] if k in result.results]
            for name, b in result.best.items()}


def _searched_text(result: SweepResult, name: str) -> str:
    b = result.best[name]
    return ", ".join(f"{k} {labels.compact(b['optimizer_params'][k])}" for k in b["searched"])


def leaderboard(out: dict[str, Any], target: float) -> pd.DataFrame:
    """The tuned leaderboard: score mean ± std over the seed re-runs, and time to target."""
    result: SweepResult = out["result"]
    board = result.leaderboard()
    runs = _seed_runs(out)
    rows = []
    for i, r in enumerate(board.to_dict("records")):
        name = r["optimizer"]
        times = []
        for run in runs[name]:
            hit = summaries.first_reaching(run.history, summaries.metric_column(run.task), target)
            times.append(math.nan if hit is None else float(hit["time_s"]))
        reached = [t for t in times if math.isfinite(t)]
        rows.append({
            "rank": i + 1, "optimizer": _title(name), "tuned": _searched_text(result, name),
            "score": f"{number(r['score_mean'])} ± {number(r['score_std'])}",
            "score mean": r["score_mean"], "score std": r["score_std"], "seeds": r["runs"],
            "diverged": r["diverged"],
            "time to target (s)": float(np.mean(reached)) if reached else math.nan,
            "reached target": f"{len(reached)}/{len(times)}",
        })
    return pd.DataFrame(rows)


def _ranks(scores: dict[str, float], lower: bool) -> dict[str, int]:
    def key(name: str) -> float:
        v = scores[name]
        if math.isnan(v):
            return math.inf
        return v if lower else -v

    return {name: i + 1 for i, name in enumerate(sorted(scores, key=key))}


def default_vs_tuned(out: dict[str, Any]) -> pd.DataFrame:
    """Each optimizer's mean score at its registry defaults and after tuning, with both ranks."""
    result: SweepResult = out["result"]
    lower = result.lower_is_better
    default = {name: float(np.mean([score_run(r, result.score, result.target) for r in rs]))
               for name, rs in out["defaults"].items()}
    tuned = {name: b["score_mean"] for name, b in result.best.items() if name in default}
    rd, rt = _ranks(default, lower), _ranks(tuned, lower)
    rows = []
    for name in sorted(tuned, key=rt.get):
        lr = optim.REGISTRY[name].defaults()["lr"]
        rows.append({"optimizer": _title(name), "default rank": rd[name],
                     "default": f"lr {labels.compact(lr)}", "default score": default[name],
                     "tuned rank": rt[name], "tuned": _searched_text(result, name),
                     "tuned score": tuned[name]})
    return pd.DataFrame(rows)


def _floats(df: pd.DataFrame) -> dict[str, Any]:
    return {c: st.column_config.NumberColumn(format="%.4g") for c in df.columns if df[c].dtype.kind == "f"}


def show(out: dict[str, Any], s: Settings) -> None:
    """The sensitivity plot, the tuned comparison, default vs tuned, and the downloads."""
    result: SweepResult = out["result"]
    score_title = SCORE_TITLES[result.score]
    if result.cancelled:
        st.warning("The sweep did not finish: press **Run sweep** to continue.", icon=":material/pause:")
        return
    trials = trial_frame(result)
    st.subheader("Sensitivity")
    scores = pd.to_numeric(trials["score"], errors="coerce")
    positive = scores[np.isfinite(scores) & (scores > 0)]
    # a loss that blew up (1e10 beside 0.1) flattens a linear axis: start on a log one
    wide = len(positive) > 1 and positive.max() > 100 * positive.min()
    log_y = log_toggle(f"{PAGE}_log_y", "Log score", default=bool(wide))
    with guard("The sensitivity plot"):
        chart_with_download(
            charts.sensitivity(trials, "lr", y_title=score_title, lower_is_better=result.lower_is_better,
                               log_y=log_y, lines=s.extra is None),
            "sweep-sensitivity",
        )
        worst = "top" if result.lower_is_better else "bottom"
        st.caption(
            f"Each point is one trial, scored by its {score_title}; crosses at the {worst} are "
            "trials that diverged (or never reached the target). Diamonds are each optimizer's "
            "pick, re-run with new seeds below. A flat, wide valley is an optimizer that is easy to "
            "tune; a narrow one needs the sweep."
        )
        if s.extra is not None and s.extra in trials:
            extra = trials[trials[s.extra].notna()]
            h = _numeric_hypers(list(result.best))[s.extra]
            chart_with_download(
                charts.sensitivity(extra, s.extra, y_title=score_title, log_x=h.log,
                                   lower_is_better=result.lower_is_better, log_y=log_y, lines=False),
                f"sweep-sensitivity-{s.extra}",
            )
            st.caption(f"The same trials against {s.extra}, on its spec's {'log' if h.log else 'linear'} "
                       "scale; an optimizer without it searched the learning rate only.")
    tab_tuned, tab_default, tab_trials = st.tabs(["Tuned comparison", "Default vs tuned", "Trials"])
    with tab_tuned, guard("The tuned comparison"):
        frames = []
        for name, runs in _seed_runs(out).items():
            label = f"{_title(name)} · {_searched_text(result, name)}"
            frames += [r.history.assign(label=label, seed=r.config.seed) for r in runs]
        hist = pd.concat(frames, ignore_index=True)
        x = x_axis_picker(f"{PAGE}_x")
        n_seeds = int(hist.groupby("label")["seed"].nunique().max())
        if n_seeds > 1:
            chart_with_download(charts.band(hist, "val_loss", x=x), "sweep-tuned")
            note = f"The mean of the {n_seeds} seed re-runs, the band ± 1 std."
        else:
            chart_with_download(charts.curves(hist, "val_loss", x=x), "sweep-tuned")
            note = "One run per winner (seeds for the winners: 0 or 1)."
        st.caption(f"Validation loss of each optimizer at its tuned setting. {note}")
        board = leaderboard(out, s.target)
        st.dataframe(board, hide_index=True, key=f"{PAGE}_board", column_config=_floats(board))
        better = "lower" if result.lower_is_better else "higher"
        st.caption(
            f"Ranked by the mean {score_title} over the seed re-runs ({better} is better). Time to "
            f"target: validation accuracy (R²) ≥ {s.target:g}, mean over the "
            "seeds that reached it."
        )
    with tab_default, guard("Default vs tuned"):
        table = default_vs_tuned(out)
        if table.empty:
            st.info("The runs at the defaults are missing: press **Run sweep**.")
        else:
            left, right = st.columns([2, 3])
            with left:
                long = pd.concat([
                    table.assign(setting="default", score=table["default score"]),
                    table.assign(setting="tuned", score=table["tuned score"]),
                ])[["optimizer", "setting", "score"]]
                chart_with_download(charts.ranking_slopes(long, y_title=score_title, log_y=log_y),
                                    "sweep-default-vs-tuned")
            with right:
                st.dataframe(table, hide_index=True, key=f"{PAGE}_ranking", column_config=_floats(table))
            changed = (table["default rank"] != table["tuned rank"]).any()
            st.caption(
                "The ranking at each optimizer's registry defaults (torch's), with the same seeds, "
                "beside the ranking after the same tuning budget for each. "
                + ("The ranking changes: a comparison at one learning rate each ranks the learning "
                   "rates as much as the optimizers." if changed else
                   "Here the ranking is the same before and after tuning.")
            )
    with tab_trials:
        table = result.trials.drop(columns=["optimizer_params", "key"])
        st.dataframe(table, hide_index=True, key=f"{PAGE}_trials", column_config=_floats(table))
        c1, c2 = st.columns(2)
        params = [json.dumps(p) for p in result.trials["optimizer_params"]]
        csv = result.trials.assign(optimizer_params=params)
        c1.download_button("Trial table (CSV)", csv.to_csv(index=False), "sweep-trials.csv", "text/csv",
                           key=f"{PAGE}_dl_trials", icon=":material/table:", on_click="ignore")
        c2.download_button("Sweep (JSON)", json.dumps(result.to_dict(), indent=2), "sweep.json",
                           "application/json", key=f"{PAGE}_dl_json", icon=":material/data_object:",
                           on_click="ignore")
        st.caption("The JSON is the same as `python -m engine sweep --out`: every trial and each "
                   "optimizer's best setting, mean, spread and per-seed scores.")
