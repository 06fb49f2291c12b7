"""The one training wrapper: a config is trained once, then read back.

``run(config)`` looks the run up by ``config.key()``: first in Streamlit's
data cache (shared by every session of the server), then in the SQLite
:class:`engine.store.RunStore`, which survives restarts; only a config that
was never run calls ``engine.train``, with a progress bar updated every
epoch. Sessions asking for the same new config at the same time wait for one
training instead of each running it.

Changing a widget while a run is in progress makes Streamlit stop the script
at the next progress update; the run is abandoned and nothing is stored.

With ``OPTLAB_WARM_LESSONS=1`` the first page run of a server process starts
:func:`engine.lessons.warm` in a background thread, so every lesson's runs are
in the store before students open them (:func:`warm_lessons`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import numpy as np
import streamlit as st

import engine
from engine import paths, surfaces
from engine.config import RunConfig

# engine.train calls made by this process (tests read it)
TRAIN_CALLS = 0

_fresh: dict[str, Any] = {}  # results just trained, handed to the data cache
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class _NotStored(Exception):
    """The run is not in the store (never cached: Streamlit does not cache exceptions)."""


@st.cache_resource(show_spinner=False)
def get_store(path: str):
    """One RunStore per store file, shared by all sessions."""
    from engine.store import RunStore

    return RunStore(path)


def store():
    return get_store(str(paths.store_path()))


# Bounded so a server on Community Cloud's ~1 GB stays small even when the
# cached runs are large (a 100-256-256-10 run with Adam state is ~3 MB); older
# runs are still one SQLite read away.
@st.cache_data(max_entries=96, show_spinner=False)
def _load(key: str, config_json: str, store_path: str):
    """The stored result of ``key``; raises _NotStored for a run never made."""
    result = _fresh.pop(key, None)
    if result is None:
        result = get_store(store_path).get(key)
    if result is None:
        raise _NotStored(key)
    return result


def lookup(config: RunConfig):
    """The result of ``config`` if it was ever run, else None (never trains)."""
    try:
        return _load(config.key(), config.to_json(), str(paths.store_path()))
    except _NotStored:
        return None


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def run(config: RunConfig, label: str = "", label_store: str | None = None):
    """The RunResult of ``config``: from the caches, or trained now with a progress bar."""
    found = lookup(config)
    if found is not None:
        return found
    key = config.key()
    lock = _lock(key)
    if not lock.acquire(blocking=False):
        with st.spinner("Another session is training this exact configuration; waiting for it…"):
            lock.acquire()
    try:
        found = lookup(config)
        if found is not None:
            return found
        result = _train(config, label)
        if result.status == "interrupted":
            return result
        try:
            store().put(result, label=label_store)
        except Exception as e:  # noqa: BLE001 - a read-only disk must not lose the result
            st.toast(f"This run could not be saved to the run store: {e}")
        _fresh[key] = result
        return _load(key, config.to_json(), str(paths.store_path()))
    finally:
        lock.release()


def run_many(items: list[tuple[RunConfig, str, str | None]]) -> list:
    """``run`` for many ``(config, label, label_store)`` at once, results in order.

    The configs never run before train together with :func:`engine.train_many`,
    which stacks those that share a batch stream (every optimizer of one seed,
    on a Compare page) into one computation, under one progress bar. A config
    another session is training right now is waited for, as ``run`` does.
    """
    results = [lookup(cfg) for cfg, _, _ in items]
    missing: dict[str, int] = {}
    for i, (cfg, _, _) in enumerate(items):
        if results[i] is None:
            missing.setdefault(cfg.key(), i)
    held = []
    if len(missing) > 1:
        held = [(key, i) for key, i in missing.items() if _lock(key).acquire(blocking=False)]
    try:
        todo = [i for _, i in held if lookup(items[i][0]) is None]
        for i, result in zip(todo, _train_many([items[i][0] for i in todo]), strict=True):
            cfg, _, label_store = items[i]
            if result.status == "interrupted":  # shown, never cached
                results[i] = result
                continue
            try:
                store().put(result, label=label_store)
            except Exception as e:  # noqa: BLE001 - a read-only disk must not lose the result
                st.toast(f"This run could not be saved to the run store: {e}")
            _fresh[cfg.key()] = result
    finally:
        for key, _ in held:
            _lock(key).release()
    # the rest: trained above (read back through the caches), duplicates, or busy elsewhere
    return [r if r is not None else run(cfg, label, label_store)
            for r, (cfg, label, label_store) in zip(results, items, strict=True)]


def _train_many(configs: list[RunConfig]) -> list:
    global TRAIN_CALLS
    if not configs:
        return []
    bar = st.progress(0.0, text=f"Training {len(configs)} runs together…")
    fractions = [0.0] * len(configs)
    last = [0.0]

    def callback(i: int, p: dict[str, Any]) -> None:
        fractions[i] = float(p["fraction"])
        now = time.perf_counter()
        if now - last[0] < 0.15:
            return
        last[0] = now
        done = sum(fractions) / len(fractions)
        bar.progress(min(max(done, 0.0), 1.0),
                     text=f"Training {len(configs)} runs together · epoch {p['epoch']}/{p['epochs']} "
                          f"· {p['time_s']:.1f} s")

    TRAIN_CALLS += len(configs)
    try:
        return engine.train_many(configs, callback)  # looked up at call time: tests count calls
    finally:
        bar.empty()


def _train(config: RunConfig, label: str):
    global TRAIN_CALLS
    bar = st.progress(0.0, text=f"{label}starting…")
    last = [0.0]

    def callback(p: dict[str, Any]) -> None:
        now = time.perf_counter()
        if now - last[0] < 0.15 and p["fraction"] < 1:
            return
        last[0] = now
        metric = p.get("val_acc", p.get("val_r2"))
        extra = (
            ""
            if metric is None
            else (f" · val acc {metric:.3f}" if "val_acc" in p else f" · val R² {metric:.3f}")
        )
        bar.progress(
            min(max(float(p["fraction"]), 0.0), 1.0),
            text=(
                f"{label}epoch {p['epoch']}/{p['epochs']} · train loss {p['train_loss']:.4g} · "
                f"val loss {p['val_loss']:.4g}{extra} · {p['time_s']:.1f} s"
            ),
        )

    TRAIN_CALLS += 1
    try:
        return engine.train(config, callback)  # looked up at call time: tests count calls
    finally:
        bar.empty()


def clear() -> None:
    """Forget cached results (the store keeps them)."""
    _load.clear()


# -- the lessons' warm-up ---------------------------------------------------------------
WARM_ENV = "OPTLAB_WARM_LESSONS"
_log = logging.getLogger("optlab.warm")


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
    from engine import lessons

    target = get_store(store_path)

    def work() -> None:
        t0 = time.perf_counter()
        try:
            n = lessons.warm(target)
        except Exception:  # noqa: BLE001 - a failed warm-up leaves the app as it was
            _log.exception("warming the lessons failed")
            return
        _log.info("lessons warmed: %d runs trained in %.1f s", n, time.perf_counter() - t0)

    thread = threading.Thread(target=work, name="optlab-warm-lessons", daemon=True)
    thread.start()
    return thread


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
