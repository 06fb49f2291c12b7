"""Every ``st.cache_*`` wrapper of the app, and its one way to get runs.

Runs come from one :class:`engine.runs.Orchestrator` per run store, shared by
every session of the server (``st.cache_resource``): it reads a bounded
in-memory cache of decoded runs, then the SQLite store, and trains only a
config that was never run, once however many sessions ask for it at the
same time. :func:`run_many` draws one progress bar for the runs it trains.

Changing a widget, switching pages or closing the tab while a run is in
progress asks Streamlit to rerun or stop the script; the orchestrator's stop
check (:meth:`Progress.should_stop`, asked a few times a second, also in the
middle of an epoch) notices and raises Streamlit's own exception, so the run
stops within a second, its worker is freed, and nothing is stored. While
every worker of the pool is busy the bar shows the run's place in the queue.

The first page view of a server process starts a background thread that
trains the runs the Train and Compare pages show on first open
(:func:`warm_pages`; ``OPTLAB_WARM_PAGES=0`` turns it off), and, with
``OPTLAB_WARM_LESSONS=1``, one that runs :func:`engine.lessons.warm`
(:func:`warm_lessons`), so every lesson's runs are in the store before
students open them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pickle
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from engine import lessons as engine_lessons
from engine import paths, surfaces
from engine.config import RunConfig
from engine.runs import Orchestrator
from ui import charts
from ui import paths as ui_paths

_log = logging.getLogger("optlab")


@st.cache_resource(show_spinner=False)
def _orchestrator(store_path: str) -> Orchestrator:
    import sqlite3

    from engine import executors
    from engine.store import RunStore

    try:
        store = RunStore(store_path)
    except (sqlite3.Error, OSError, ValueError) as e:  # no store at all: runs live in memory
        _log.warning("no run store at %s (%s); runs are kept in memory only", store_path, e)
        store = None
    return Orchestrator(store, executors.from_environment())


def store_notice() -> str | None:
    """Why new runs are not saved on this server, if they are not."""
    store = orchestrator().store
    if store is None:
        return "This server has no run store: runs are kept in memory only, until it restarts."
    if store.read_only:
        return ("This server's run store is read-only: every stored run is shown, but new runs "
                "are not saved.")
    return None


def orchestrator() -> Orchestrator:
    """The server's orchestrator for the current run store."""
    return _orchestrator(str(paths.store_path()))


def store():
    """The current run store."""
    return orchestrator().store


def lookup(config: RunConfig):
    """The result of ``config`` if it was ever run, else None (never trains)."""
    return orchestrator().lookup(config)


def run(config: RunConfig, label: str = "", label_store: str | None = None):
    """The RunResult of ``config``: read back, or trained now with a progress bar."""
    return run_many([(config, label, label_store)])[0]


def run_many(items: Sequence[tuple[RunConfig, str, str | None]]) -> list:
    """``run`` for many ``(config, progress label, store label)`` at once, results in order.

    The missing runs train in one orchestrator call, stacked where they share
    a batch stream, under one progress bar.
    """
    orch = orchestrator()
    configs = [cfg for cfg, _, _ in items]
    if all(orch.lookup(c) is not None for c in configs):
        return [orch.lookup(c) for c in configs]
    titles = {cfg.key(): title for cfg, title, _ in items}
    with progress_bar(titles) as progress:
        results = orch.run(configs, labels=[label for _, _, label in items], progress=progress,
                           should_stop=progress.should_stop, on_wait=progress.waiting)
    _store_notice(orch)
    return results


def script_should_stop() -> bool:
    """Raise Streamlit's RerunException or StopException if this page's script was asked to
    rerun or stop; False otherwise (also outside a script run).

    Streamlit serves a rerun or stop request (a widget changed, another page
    was opened, the tab was closed: a disconnected session's script runner is
    asked to stop) only when the script next sends something to the browser.
    A script that waits on a training sends nothing for a whole epoch, so the
    orchestrator's stop check asks here, exactly as Streamlit's runner does
    at each of its yield points. Call it from the page's script thread only
    (the orchestrator asks from the thread that called it).
    """
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    from streamlit.runtime.scriptrunner_utils.exceptions import RerunException, StopException
    from streamlit.runtime.scriptrunner_utils.script_requests import ScriptRequestType

    ctx = get_script_run_ctx(suppress_warning=True)
    requests = None if ctx is None else ctx.script_requests
    if requests is None:
        return False
    request = requests.on_scriptrunner_yield()
    if request is None:
        return False
    if request.type == ScriptRequestType.RERUN:
        raise RerunException(request.rerun_data)
    raise StopException()


class Progress:
    """A progress bar's callbacks for :meth:`engine.runs.Orchestrator.run`.

    Called as ``progress(key, p)`` each epoch of each run; :meth:`should_stop`
    is the run's stop check and :meth:`waiting` hears its place in the
    worker pool's queue.
    """

    def __init__(self, bar, titles: dict[str, str]) -> None:
        self.bar, self.titles = bar, titles
        self.fractions = dict.fromkeys(titles, 0.0)
        self.last = 0.0

    def __call__(self, key: str, p: dict[str, Any]) -> None:
        self.fractions[key] = float(p["fraction"])
        now = time.perf_counter()
        if now - self.last < 0.15 and p["fraction"] < 1:
            return
        self.last = now
        metric = p.get("val_acc", p.get("val_r2"))
        extra = "" if metric is None else (
            f" · val acc {metric:.3f}" if "val_acc" in p else f" · val R² {metric:.3f}")
        self.bar.progress(
            self.done(),
            text=f"{self.titles.get(key, '')}epoch {p['epoch']}/{p['epochs']} · train loss "
                 f"{p['train_loss']:.4g} · val loss {p['val_loss']:.4g}{extra} · {p['time_s']:.1f} s",
        )

    def done(self) -> float:
        return min(max(sum(self.fractions.values()) / max(len(self.fractions), 1), 0.0), 1.0)

    def should_stop(self) -> bool:
        """The orchestrator's stop check: raises if the page's script must stop or rerun."""
        return script_should_stop()

    def waiting(self, ahead: int | None) -> None:
        """Show the runs' place in the worker pool's queue (None: they are training)."""
        if ahead is None:
            n = len(self.titles)
            text = f"Training {n} run{'s' if n != 1 else ''}…"
        elif ahead == 0:
            text = "Waiting for a free worker: next in line…"
        else:
            text = f"Waiting for a free worker: {ahead} run{'s' if ahead != 1 else ''} ahead…"
        self.bar.progress(self.done(), text=text)


@contextlib.contextmanager
def progress_bar(titles: dict[str, str]) -> Iterator[Progress]:
    """A progress bar for runs keyed by their config keys; yields the orchestrator's callbacks
    (``progress``, ``progress.should_stop``, ``progress.waiting``)."""
    n = len(titles)
    bar = st.progress(0.0, text=f"Training {n} run{'s' if n != 1 else ''}…")
    try:
        yield Progress(bar, titles)
    finally:
        bar.empty()


def _store_notice(orch: Orchestrator) -> None:
    if orch.store_error:
        st.toast(orch.store_error)


def lesson_outcome(lesson):
    """A lesson's runs through the orchestrator (trained once per server), with a progress bar."""
    titles = {
        cfg.key(): f"{label} ({i + 1}) · "
        for i, (label, _, cfg) in enumerate(engine_lessons.jobs(lesson))
    } if lesson.page != "playground" else {}
    orch = orchestrator()
    missing = [k for k in titles if orch.lookup_key(k) is None]
    if not missing:
        return engine_lessons.run(lesson, orch)
    jobs = [(cfg, engine_lessons.store_label(lesson, label))
            for label, _, cfg in engine_lessons.jobs(lesson) if cfg.key() in missing]
    with progress_bar({k: titles[k] for k in missing}) as progress:
        # the missing runs train here (stoppable, with the queue shown); the lesson reads them back
        orch.run([cfg for cfg, _ in jobs], labels=[label for _, label in jobs], progress=progress,
                 should_stop=progress.should_stop, on_wait=progress.waiting)
    _store_notice(orch)
    return engine_lessons.run(lesson, orch)


def forget(keys: Sequence[str]) -> None:
    """Forget deleted runs in the memory cache (the store no longer has them)."""
    orchestrator().forget(keys)


# -- the warm-up of the pages' defaults and of the lessons ----------------------------
WARM_ENV = "OPTLAB_WARM_LESSONS"
WARM_PAGES_ENV = "OPTLAB_WARM_PAGES"


def warm() -> None:
    """Start the warm-ups (each once per server process and store)."""
    warm_pages()
    warm_lessons()


def warm_pages() -> threading.Thread | None:
    """Train the runs the pages show on first open in the background, unless
    ``OPTLAB_WARM_PAGES=0``. Once per server process and store; returns the thread."""
    if os.environ.get(WARM_PAGES_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return None
    return _warm_pages_thread(str(paths.store_path()))


@st.cache_resource(show_spinner=False)
def _warm_pages_thread(store_path: str) -> threading.Thread:
    from ui.defaults import page_configs

    orch = _orchestrator(store_path)
    configs = page_configs()

    def work() -> None:
        t0 = time.perf_counter()
        try:
            missing = [c for c in configs if orch.lookup(c) is None]
            if missing:
                orch.run(missing)
        except Exception:  # noqa: BLE001 - a failed warm-up leaves the app as it was
            _log.exception("warming the pages' defaults failed")
            return
        _log.info("page defaults warmed: %d runs trained in %.1f s", len(missing), time.perf_counter() - t0)

    thread = threading.Thread(target=work, name="optlab-warm-pages", daemon=True)
    thread.start()
    return thread


def warm_enabled() -> bool:
    return os.environ.get(WARM_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def warm_lessons() -> threading.Thread | None:
    """With ``OPTLAB_WARM_LESSONS=1``: train the lessons' missing runs in the background.

    Once per server process and store (``st.cache_resource``); returns the thread.
    """
    if not warm_enabled():
        return None
    return _warm_thread(str(paths.store_path()))


@st.cache_resource(show_spinner=False)
def _warm_thread(store_path: str) -> threading.Thread:
    orch = _orchestrator(store_path)

    def work() -> None:
        t0 = time.perf_counter()
        try:
            n = engine_lessons.warm(orch)
        except Exception:  # noqa: BLE001 - a failed warm-up leaves the app as it was
            _log.exception("warming the lessons failed")
            return
        _log.info("lessons warmed: %d runs trained in %.1f s", n, time.perf_counter() - t0)

    thread = threading.Thread(target=work, name="optlab-warm-lessons", daemon=True)
    thread.start()
    return thread


# -- surfaces and paths -----------------------------------------------------------------
SURFACE_GRID = 120  # points per axis of a surface's contour grid


@st.cache_data(max_entries=64, show_spinner=False)
def surface_grid(surface: str) -> dict:
    """f on a grid over a registered surface's plotting bounds (shared by all sessions)."""
    spec = surfaces.REGISTRY[surface]
    f_grid, bounds = spec.extra["f_grid"], spec.extra["bounds"]
    xs = np.linspace(*bounds[0], SURFACE_GRID)
    with np.errstate(all="ignore"):  # far corners of Rosenbrock or Beale overflow harmlessly
        if spec.extra["dim"] == 1:
            return {"xs": xs, "z": np.asarray(f_grid(xs), float)}
        ys = np.linspace(*bounds[1], SURFACE_GRID)
        xx, yy = np.meshgrid(xs, ys)
        return {"xs": xs, "ys": ys, "z": np.asarray(f_grid(xx, yy), float),
                "f_min": spec.extra.get("f_min")}


@st.cache_data(max_entries=1024, show_spinner=False)
def trajectory(surface: str, optimizer: str, x0: tuple, steps: int, schedule: str,
               schedule_json: str, params_json: str) -> np.ndarray:
    """One optimizer's path on a surface (:func:`engine.minimize`), shared by all sessions."""
    from engine.minimize import minimize

    params = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(params_json).items()}
    return minimize(surface, optimizer, list(x0), steps, schedule=schedule,
                    schedule_params=json.loads(schedule_json), **params)


@st.cache_data(max_entries=64, show_spinner=False)
def lesson_paths(lesson_id: str) -> pd.DataFrame:
    """A playground lesson's paths (shared by all sessions)."""
    lesson = engine_lessons.get(lesson_id)
    return ui_paths.frame(lesson.setup["surface"], engine_lessons.trajectories(lesson))


# -- sweeps -----------------------------------------------------------------------------
def sweep(base: RunConfig, optimizers: Sequence[str], *, space: dict, trials: int, seeds: int,
          search: str, score: str, target: float | None, random_state: int):
    """An equal-budget sweep (:func:`engine.sweep.sweep`) and each optimizer at its defaults.

    Returns ``(result, defaults)``: ``defaults`` maps each optimizer to its
    runs at the registry's default hyperparameters with the seeds of its
    tuned re-runs (empty when the sweep did not finish). Every run goes
    through the server's orchestrator, stored as it finishes, so a sweep
    abandoned half-way (the page was rerun) continues where it stopped and
    a stored one comes back without training. One progress bar covers both
    parts (:func:`sweep_runs` counts them).
    """
    from engine.sweep import sweep as run_sweep

    orch = orchestrator()
    n_sweep, n_default = sweep_runs(optimizers, space, trials, seeds, search, random_state)
    n_runs = n_sweep + n_default
    bar = st.progress(0.0, text=f"Sweep: {n_runs} runs…")
    last = {"t": 0.0, "note": ""}

    def show(fraction: float, text: str, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - last["t"] < 0.15:
            return
        last["t"] = now
        bar.progress(min(max(fraction, 0.0), 1.0), text=text + last["note"])

    def on_sweep(p: dict[str, Any]) -> None:
        row = p.get("trial")
        if row is not None:
            params = ", ".join(f"{k} {v:.3g}" for k, v in row["optimizer_params"].items())
            last["note"] = f" · last: {row['optimizer']} {params} → {row['status']}, score {row['score']:.4g}"
        show(p["fraction"] * n_sweep / max(n_runs, 1), f"Sweep {p['text']}", force=row is not None)

    try:
        result = run_sweep(base, list(optimizers), space=space, trials=trials, seeds=seeds,
                           search=search, score=score, target=target, random_state=random_state,
                           orchestrator=orch, progress=on_sweep)
        defaults: dict[str, list] = {}
        if not result.cancelled:
            items = [(name, base.replace(optimizer=name, optimizer_params={}, seed=s))
                     for name in optimizers for s in result.best[name]["seeds"]]
            fractions: dict[str, float] = {}

            def on_epoch(key: str, p: dict[str, Any]) -> None:
                fractions[key] = float(p["fraction"])
                done = n_sweep + sum(fractions.values())
                show(done / max(n_runs, 1), f"Defaults: {len(items)} runs at the registry's settings")

            found = orch.run([c for _, c in items],
                             labels=[f"sweep default: {name}" for name, _ in items], progress=on_epoch)
            for (name, _), r in zip(items, found, strict=True):
                if r is not None:
                    defaults.setdefault(name, []).append(r)
    finally:
        bar.empty()
    _store_notice(orch)
    return result, defaults


def sweep_runs(optimizers: Sequence[str], space: dict, trials: int, seeds: int, search: str,
               random_state: int) -> tuple[int, int]:
    """``(sweep runs, default runs)`` of :func:`sweep`: every optimizer's trials (a grid
    has ``trials`` values per searched hyperparameter) plus its ``seeds`` re-runs, and
    its runs at the defaults (one per re-run seed, or the tuning seed when there are none).
    Raises the sweep's ValueError for a space an optimizer cannot search."""
    from engine.sweep import draw_trials

    sizes = [len(draw_trials(name, space, trials, search, random_state)) for name in optimizers]
    if len(set(sizes)) > 1:
        raise ValueError("space: a grid over a hyperparameter that only some of the optimizers have "
                         "gives them unequal budgets; allowed: random search, or a grid over "
                         "hyperparameters every chosen optimizer has")
    return sum(sizes) + len(optimizers) * seeds, len(optimizers) * max(seeds, 1)


# -- charts and tables of a view, built once per run set -------------------------------
# A cached page view used to spend about a second of server CPU building Altair charts,
# validating them (to_dict) and serialising their data, identically for every student.
# A chart's final Vega-Lite spec (its data already in Arrow bytes) is kept instead, keyed
# by what it shows, and drawn with st.vega_lite_chart.


# Building a view that is not cached yet (an Altair chart, a decision surface) is the one
# heavy thing a page does on the server. One build at a time: cached views (a class on one
# lesson link) then share the GIL with one build, not with fifty students' fresh results,
# and the builds themselves finish first-come first-served instead of all together.
_BUILD = threading.RLock()  # reentrant: a build may ask for another view
_BUILT: dict[Hashable, None] = {}  # views built here (oldest first): most likely still cached
_BUILT_MAX = 4096
_FREE = threading.local()  # set while a thread computes without the gate


def _gated(key: Hashable, call: Callable[[], Any]) -> Any:
    """``call()`` (a cached function), under the build gate unless ``key`` was built before.

    A view built before is most likely a cache hit, which must not wait behind a build. The
    gate is always taken before the cache's own per-key lock, and a thread that skipped it
    never waits for it (its nested views skip it too), so the two locks cannot deadlock.
    """
    if key in _BUILT or getattr(_FREE, "on", False):
        before, _FREE.on = getattr(_FREE, "on", False), True
        try:
            return call()
        finally:
            _FREE.on = before
    with _BUILD:
        out = call()
    _BUILT[key] = None
    while len(_BUILT) > _BUILT_MAX:
        _BUILT.pop(next(iter(_BUILT)), None)
    return out


@st.cache_data(max_entries=256, show_spinner=False)
def _chart_spec(view: Hashable, present: bool | None, _build: Callable[[], Any]) -> dict:
    chart = _build()
    return vega_spec(chart if present is None else charts.themed(chart, present))


def vega_spec(chart: Any) -> dict:
    """The Vega-Lite spec ``st.altair_chart`` would send for ``chart``, its data as Arrow bytes,
    without validating it against the Vega-Lite schema.

    Altair's validation is about a third of a fresh chart's server time; the chart builders
    are validated by their tests (``tests/ui/test_charts.py`` calls ``to_dict()``), not per view.
    This is Streamlit's own conversion (``_convert_altair_to_vega_lite_spec``) with
    ``validate=False``.
    """
    import altair as alt
    from streamlit.elements import vega_charts

    datasets: dict[str, Any] = {}
    alt.data_transformers.register("to_arrow_dataset", vega_charts._to_arrow_dataset)
    # the theme and the data transformer are process-wide: Streamlit's lock keeps them per call
    with vega_charts._altair_globals_lock:
        theme = alt.theme.enable("none") if alt.theme.active == "default" else contextlib.nullcontext()
        with theme, alt.data_transformers.enable("to_arrow_dataset", datasets=datasets):
            spec = chart.to_dict(validate=False)
    spec["datasets"] = {**(spec.get("datasets") or {}), **datasets}
    return spec


def chart_view(chart: Any) -> tuple | None:
    """A key naming what an Altair chart draws (a digest of the chart object), or None."""
    try:
        return ("chart", hashlib.blake2b(pickle.dumps(chart, protocol=5), digest_size=20).hexdigest())
    except Exception:  # noqa: BLE001 - an unpicklable chart is simply drawn uncached
        return None


def draw_chart(chart: Any, present: bool | None = None, view: Hashable | None = None) -> None:
    """Draw a chart from its cached spec (shared by every session of the server).

    ``chart`` is an Altair chart, or, with ``view``, a function that builds it
    (called only the first time ``view`` is drawn): ``view`` must name
    everything the chart depends on (a lesson id, its run keys, the chart's
    title and the view's parameters). Without ``view`` the chart's own digest
    names it, which saves its validation and serialisation but not its
    building. ``present`` is the projector theme's presentation mode (None:
    drawn unthemed).
    """
    if view is None:
        view = chart_view(chart)
        if view is None:
            st.altair_chart(chart if present is None else charts.themed(chart, present), width="stretch")
            return
    build = builder(chart)
    spec = _gated(("chart", view, present), lambda: _chart_spec(view, present, build))
    st.vega_lite_chart(spec, width="stretch")


def builder(chart: Any) -> Callable[[], Any]:
    """A function that builds ``chart``: ``chart`` itself when it is one, else one returning it."""
    if callable(chart) and not isinstance(chart, charts.alt.TopLevelMixin):
        return chart
    return lambda: chart


@st.cache_data(max_entries=512, show_spinner=False)
def _view_data(view: Hashable, _build: Callable[[], Any]) -> Any:
    return _build()


def view_data(view: Hashable, build: Callable[[], Any]) -> Any:
    """``build()`` once per ``view`` (a table, a frame a chart needs), shared by every session;
    ``view`` must name everything the value depends on. Each caller gets its own copy."""
    return _gated(("data", view), lambda: _view_data(view, build))


def run_keys(results: Any) -> tuple[str, ...]:
    """The keys of a set of runs, in order: the part of a view's key that names its data."""
    return tuple(r.key for r in results)
